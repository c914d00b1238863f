// Bencoding: exact writer bytes, strict decoder (leading zeros, key order, depth, truncation).
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "helpers.h"
#include "protocol/bencode.h"

using namespace tracker::protocol;

namespace {

std::string write(void (*fill)(BencodeWriter&)) {
    std::string out;
    BencodeWriter w(out);
    fill(w);
    return out;
}

BValue decodeOk(std::string_view input, int maxDepth = 64) {
    auto result = bdecode(input, maxDepth);
    if (const auto* err = std::get_if<BDecodeError>(&result)) {
        FAIL("decode failed at " << err->offset << ": " << err->message);
    }
    return std::get<BValue>(result);
}

bool refused(std::string_view input, int maxDepth = 64) {
    auto result = bdecode(input, maxDepth);
    if (const auto* err = std::get_if<BDecodeError>(&result)) {
        CHECK(err->offset <= input.size());
        return true;
    }
    return false;
}

}  // namespace

TEST_CASE("BencodeWriter integers", "[bencode]") {
    std::string out;
    BencodeWriter w(out);
    w.integer(0);
    CHECK(out == "i0e");
    out.clear();
    w.integer(42);
    CHECK(out == "i42e");
    out.clear();
    w.integer(-42);
    CHECK(out == "i-42e");
    out.clear();
    w.integer(-1);
    CHECK(out == "i-1e");
    out.clear();
    w.integer(std::numeric_limits<std::int64_t>::max());
    CHECK(out == "i9223372036854775807e");
    out.clear();
    w.integer(std::numeric_limits<std::int64_t>::min());
    CHECK(out == "i-9223372036854775808e");
}

TEST_CASE("BencodeWriter strings are binary safe", "[bencode]") {
    std::string out;
    BencodeWriter w(out);
    w.string("spam");
    CHECK(out == "4:spam");
    out.clear();
    w.string("");
    CHECK(out == "0:");
    out.clear();
    w.string(test::bytes({'a', 0, 'b'}));
    CHECK(out.size() == 5);
    CHECK(out == test::bytes({'3', ':', 'a', 0, 'b'}));
    out.clear();
    w.string(std::string(12, '\xFF'));
    CHECK(out == "12:" + std::string(12, '\xFF'));
}

TEST_CASE("BencodeWriter containers and entries", "[bencode]") {
    auto out = write([](BencodeWriter& w) {
        w.beginDict();
        w.entry("a", std::int64_t(1));
        w.entry("b", std::string_view("xy"));
        w.key("c");
        w.beginList();
        w.integer(-3);
        w.string("z");
        w.beginDict();
        w.end();
        w.end();
        w.end();
    });
    CHECK(out == "d1:ai1e1:b2:xy1:cli-3e1:zdeee");
    // The writer appends: it never clears what was there.
    std::string prefix = "XYZ";
    BencodeWriter w(prefix);
    w.integer(7);
    CHECK(prefix == "XYZi7e");
}

TEST_CASE("bdecode valid values", "[bencode]") {
    CHECK(*decodeOk("i0e").asInt() == 0);
    CHECK(*decodeOk("i42e").asInt() == 42);
    CHECK(*decodeOk("i-42e").asInt() == -42);
    CHECK(*decodeOk("i9223372036854775807e").asInt() == std::numeric_limits<std::int64_t>::max());
    CHECK(*decodeOk("i-9223372036854775808e").asInt() == std::numeric_limits<std::int64_t>::min());
    CHECK(*decodeOk("4:spam").asString() == "spam");
    CHECK(*decodeOk("0:").asString() == "");
    CHECK(*decodeOk(test::bytes({'3', ':', 0, 'x', 0})).asString() == test::bytes({0, 'x', 0}));
    CHECK(decodeOk("le").asList()->empty());
    CHECK(decodeOk("de").asDict()->empty());

    auto list = decodeOk("l4:spami7ee");
    REQUIRE(list.asList() != nullptr);
    REQUIRE(list.asList()->size() == 2);
    CHECK(*(*list.asList())[0].asString() == "spam");
    CHECK(*(*list.asList())[1].asInt() == 7);
    CHECK(list.asInt() == nullptr);
    CHECK(list.asString() == nullptr);
    CHECK(list.asDict() == nullptr);
}

TEST_CASE("bdecode nested dicts and find", "[bencode]") {
    auto v = decodeOk("d3:bar4:spam3:fooi42e4:listl1:ai1eee");
    REQUIRE(v.asDict() != nullptr);
    CHECK(v.asDict()->size() == 3);
    REQUIRE(v.find("bar") != nullptr);
    CHECK(*v.find("bar")->asString() == "spam");
    REQUIRE(v.find("foo") != nullptr);
    CHECK(*v.find("foo")->asInt() == 42);
    REQUIRE(v.find("list") != nullptr);
    REQUIRE(v.find("list")->asList() != nullptr);
    CHECK(v.find("list")->asList()->size() == 2);
    CHECK(v.find("missing") == nullptr);
    CHECK(v.find("ba") == nullptr);
    // find on something that is not a dict.
    CHECK(decodeOk("i1e").find("x") == nullptr);
    CHECK(decodeOk("l1:xe").find("x") == nullptr);

    // Keys sort as raw (unsigned) bytes: 'A' < 'a' < 0xFF.
    auto raw = decodeOk(test::bytes({'d', '1', ':', 'A', 'i', '1',  'e', '1', ':', 'a',
                                     'i', '2', 'e', '1', ':', 0xFF, 'i', '3', 'e', 'e'}));
    REQUIRE(raw.asDict() != nullptr);
    CHECK(raw.asDict()->size() == 3);
    REQUIRE(raw.find(test::bytes({0xFF})) != nullptr);
    CHECK(*raw.find(test::bytes({0xFF}))->asInt() == 3);
}

TEST_CASE("bdecode spans", "[bencode]") {
    const std::string input = "d8:announce3:url4:infod6:lengthi5e4:name1:xe5:otherli1eee";
    auto v = decodeOk(input);
    CHECK(v.begin == 0);
    CHECK(v.end == input.size());
    const BValue* info = v.find("info");
    REQUIRE(info != nullptr);
    const std::string expectedInfo = "d6:lengthi5e4:name1:xe";
    CHECK(info->begin == input.find(expectedInfo));
    CHECK(info->end == info->begin + expectedInfo.size());
    CHECK(input.substr(info->begin, info->end - info->begin) == expectedInfo);

    const BValue* length = info->find("length");
    REQUIRE(length != nullptr);
    CHECK(input.substr(length->begin, length->end - length->begin) == "i5e");

    const BValue* other = v.find("other");
    REQUIRE(other != nullptr);
    CHECK(input.substr(other->begin, other->end - other->begin) == "li1ee");
    const BValue* announce = v.find("announce");
    REQUIRE(announce != nullptr);
    CHECK(input.substr(announce->begin, announce->end - announce->begin) == "3:url");
}

TEST_CASE("bdecode refuses bad integers", "[bencode]") {
    const char* bad[] = {
        "i03e",
        "i00e",
        "i-0e",
        "i-03e",
        "-0",
        "ie",
        "i-e",
        "i1.5e",
        "i 1e",
        "i1 e",
        "i+1e",
        "i1",
        "i",
        "ixe",
        "i1x",
        "i9223372036854775808e",
        "i-9223372036854775809e",
        "i99999999999999999999999999e",
    };
    for (const char* input : bad) {
        INFO("input: " << input);
        CHECK(refused(input));
    }
}

TEST_CASE("bdecode refuses bad strings", "[bencode]") {
    const char* bad[] = {
        "5:abc",  // length beyond the input
        "1:",
        "4",
        "4spam",
        ":",
        "-1:a",
        "03:abc",
        "99999999999999999999:a",  // length overflowing 64 bits
        "18446744073709551615:a",  // length that wraps when 1 is added
    };
    for (const char* input : bad) {
        INFO("input: " << input);
        CHECK(refused(input));
    }
}

TEST_CASE("bdecode refuses bad dicts", "[bencode]") {
    CHECK(refused("d1:bi1e1:ai2ee"));   // keys out of order
    CHECK(refused("d1:ai1e1:ai2ee"));   // duplicate key
    CHECK(refused("d2:aai1e1:ai2ee"));  // "aa" before "a"
    CHECK(refused("di1ei2ee"));         // key not a string
    CHECK(refused("d1:ae"));            // key without value
    CHECK(refused(test::bytes({'d', '1', ':', 0xFF, 'i', '1', 'e', '1', ':', 'a', 'i', '2', 'e',
                               'e'})));       // 0xFF sorts after 'a'
    CHECK_FALSE(refused("d1:ai1e2:aai2ee"));  // "a" before "aa" is fine
}

TEST_CASE("bdecode refuses empty input, bad tokens and trailing garbage", "[bencode]") {
    const char* bad[] = {"", "x", "e", "i1ex", "i1ei2e", "4:spamx", "lee", "dee", "l", "d"};
    for (const char* input : bad) {
        INFO("input: " << input);
        CHECK(refused(input));
    }
    CHECK(refused(test::bytes({'i', '1', 'e', 0})));  // a trailing NUL is garbage too
}

TEST_CASE("bdecode refuses every truncation of a valid document", "[bencode]") {
    const std::string doc =
        "d8:announce17:http://x/announce4:infod6:lengthi123456e4:name4:spam12:piece "
        "lengthi16384e6:pieces20:" +
        std::string(20, '\xAB') + "e5:otherli-7e0:ldeeee";
    decodeOk(doc);  // the whole document is valid
    for (std::size_t len = 0; len < doc.size(); ++len) {
        INFO("prefix length: " << len);
        CHECK(refused(std::string_view(doc.data(), len)));
    }
}

TEST_CASE("bdecode depth limit", "[bencode]") {
    SECTION("unterminated bomb") {
        const std::string bomb(100000, 'l');
        CHECK(refused(bomb, 64));
        CHECK(refused(bomb));
    }
    SECTION("terminated bomb beyond the limit") {
        const std::string bomb = std::string(100000, 'l') + std::string(100000, 'e');
        CHECK(refused(bomb, 64));
    }
    SECTION("dict bomb") {
        std::string bomb;
        for (int i = 0; i < 50000; ++i)
            bomb += "d1:a";
        CHECK(refused(bomb, 64));
    }
    SECTION("at the limit is fine, one deeper is not") {
        CHECK_FALSE(refused("llleee", 3));
        CHECK(refused("lllleeee", 3));
        CHECK_FALSE(refused(std::string(64, 'l') + std::string(64, 'e'), 64));
        CHECK(refused(std::string(65, 'l') + std::string(65, 'e'), 64));
    }
}
