// Scrape requests: every info_hash in order, duplicates removed, none = full scrape.
#include <catch2/catch.hpp>

#include <string>

#include "helpers.h"
#include "protocol/scrape_request.h"

using namespace tracker::protocol;
using test::encodeAll;
using test::encodeLibtorrent;
using test::failureOf;
using test::okValue;

namespace {

std::string hashOf(char fill) {
    return std::string(20, fill);
}

}  // namespace

TEST_CASE("scrape: no info_hash is a full scrape", "[scrape]") {
    CHECK(okValue(parseScrape("", 10)).full());
    CHECK(okValue(parseScrape("foo=bar&x", 10)).full());
    CHECK(okValue(parseScrape("", 10)).infoHashes.empty());
}

TEST_CASE("scrape: one info_hash", "[scrape]") {
    auto r = okValue(parseScrape("info_hash=" + encodeAll(test::awkwardHash()), 10));
    CHECK_FALSE(r.full());
    REQUIRE(r.infoHashes.size() == 1);
    CHECK(test::hex(view(r.infoHashes[0])) == test::hex(test::awkwardHash()));
}

TEST_CASE("scrape: several info_hash in order, duplicates removed", "[scrape]") {
    const std::string a = test::awkwardHash();
    const std::string b = hashOf('b');
    const std::string c = hashOf('\0');
    const std::string query = "info_hash=" + encodeAll(b) + "&info_hash=" + encodeLibtorrent(a) +
                              "&info_hash=" + encodeAll(b, true) + "&info_hash=" + encodeAll(c) +
                              "&info_hash=" + encodeAll(a);
    auto r = okValue(parseScrape(query, 10));
    REQUIRE(r.infoHashes.size() == 3);
    CHECK(view(r.infoHashes[0]) == b);
    CHECK(view(r.infoHashes[1]) == a);
    CHECK(view(r.infoHashes[2]) == c);
}

TEST_CASE("scrape: awkward bytes through every encoding", "[scrape]") {
    const std::string hash = test::awkwardHash();
    for (const auto& encoded : {encodeAll(hash), encodeAll(hash, true), encodeLibtorrent(hash)}) {
        INFO("info_hash=" << encoded);
        auto r = okValue(parseScrape("info_hash=" + encoded, 10));
        REQUIRE(r.infoHashes.size() == 1);
        CHECK(test::hex(view(r.infoHashes[0])) == test::hex(hash));
    }
}

TEST_CASE("scrape: info_hash not 20 bytes is #2", "[scrape]") {
    for (std::size_t len : {std::size_t(0), std::size_t(19), std::size_t(21)}) {
        INFO("length: " << len);
        auto f = failureOf(parseScrape("info_hash=" + encodeAll(std::string(len, 'x')), 10));
        CHECK(f.code == FailureCode::InfoHashLength);
        CHECK_THAT(f.reason(), Catch::Matchers::StartsWith("Tracker error #2: "));
    }
    // A bad one among good ones still fails the request.
    auto f = failureOf(parseScrape(
        "info_hash=" + encodeAll(hashOf('a')) + "&info_hash=" + encodeAll(std::string(19, 'x')),
        10));
    CHECK(f.code == FailureCode::InfoHashLength);
}

TEST_CASE("scrape: a malformed escape is refused", "[scrape]") {
    const std::string encoded = encodeAll(hashOf('a'));
    const std::string bad[] = {encoded.substr(0, encoded.size() - 1),
                               encoded.substr(0, encoded.size() - 2), "%zz" + encoded.substr(3)};
    for (const auto& value : bad) {
        INFO("info_hash=" << value);
        auto result = parseScrape("info_hash=" + value, 10);
        CHECK(std::holds_alternative<Failure>(result));
    }
}

TEST_CASE("scrape: more than maxHashes is refused", "[scrape]") {
    std::string query;
    for (char c = 'a'; c < 'a' + 5; ++c) {
        if (!query.empty())
            query += '&';
        query += "info_hash=" + encodeAll(hashOf(c));
    }
    CHECK(okValue(parseScrape(query, 5)).infoHashes.size() == 5);
    CHECK(okValue(parseScrape(query, 6)).infoHashes.size() == 5);
    auto result = parseScrape(query, 4);
    CHECK(std::holds_alternative<Failure>(result));
}
