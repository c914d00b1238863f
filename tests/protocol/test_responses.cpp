// Response bodies: exact bytes for known answers, sorted keys, peers/peers6, crypto_flags,
// external ip, failure and scrape.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "helpers.h"
#include "protocol/bencode.h"
#include "protocol/responses.h"

using namespace tracker::protocol;
using test::bytes;

namespace {

// A compact announce from 81.2.69.142 (0x51 0x02 0x45 0x8e) by a leecher.
AnnounceRequest makeRequest() {
    AnnounceRequest r;
    r.infoHash = test::array20(std::string(20, 'h'));
    r.peerId = test::array20(std::string(20, 'p'));
    r.port = 6881;
    r.left = 100;
    r.compact = true;
    r.numwant = 50;
    r.uid = "selfuid";
    r.address = *PeerAddress::parse("81.2.69.142");
    r.connectionAddress = r.address;
    return r;
}

// Candidates whose views point at static strings.
PeerCandidate peer(const char* address, std::uint16_t port, std::string_view peerId,
                   bool requiresCrypto = false) {
    PeerCandidate c;
    c.uid = "someuid";
    c.peerId = peerId;
    c.address = *PeerAddress::parse(address);
    c.port = port;
    c.requiresCrypto = requiresCrypto;
    return c;
}

constexpr std::string_view kPeerIdA = "-qB4500-AAAAAAAAAAAA";
constexpr std::string_view kPeerIdB = "-TR3000-BBBBBBBBBBBB";
constexpr std::string_view kPeerIdC = "-LT2080-CCCCCCCCCCCC";

BValue decodeOk(const std::string& input) {
    auto result = bdecode(input);
    if (const auto* err = std::get_if<BDecodeError>(&result)) {
        FAIL("response does not decode strictly (unsorted keys?) at " << err->offset << ": "
                                                                      << err->message);
    }
    return std::get<BValue>(result);
}

// Keys of a decoded dict in their (sorted) order.
std::vector<std::string> keysOf(const BValue& v) {
    std::vector<std::string> keys;
    REQUIRE(v.asDict() != nullptr);
    for (const auto& entry : *v.asDict())
        keys.push_back(entry.first);
    return keys;
}

std::string str(const BValue* v) {
    REQUIRE(v != nullptr);
    REQUIRE(v->asString() != nullptr);
    return *v->asString();
}

std::int64_t num(const BValue* v) {
    REQUIRE(v != nullptr);
    REQUIRE(v->asInt() != nullptr);
    return *v->asInt();
}

}  // namespace

TEST_CASE("encodeAnnounce: exact bytes of a known compact response", "[responses]") {
    auto request = makeRequest();
    SwarmCounts counts{3, 2, 7};
    Intervals intervals{900, 300};
    std::vector<PeerCandidate> candidates{peer("1.2.3.4", 6881, kPeerIdA)};
    auto body = encodeAnnounce(request, counts, intervals, candidates, {0});

    // 6881 = 0x1AE1; 81.2.69.142 = 51 02 45 8E.
    const std::string expected = std::string("d") + "8:complete" + "i3e" + "10:downloaded" + "i7e" +
                                 "11:external ip" + "4:" + bytes({0x51, 0x02, 0x45, 0x8E}) +
                                 "10:incomplete" + "i2e" + "8:interval" + "i900e" +
                                 "12:min interval" + "i300e" + "5:peers" +
                                 "6:" + bytes({0x01, 0x02, 0x03, 0x04, 0x1A, 0xE1}) + "e";
    CHECK(test::hex(body) == test::hex(expected));
    CHECK(body == expected);
}

TEST_CASE("encodeAnnounce: keys sorted and values right", "[responses]") {
    auto request = makeRequest();
    request.sentCryptoParams = true;
    request.supportCrypto = true;
    request.warning = "ip parameter ignored";
    std::vector<PeerCandidate> candidates{peer("1.2.3.4", 6881, kPeerIdA),
                                          peer("2001:4860::8888", 51413, kPeerIdB)};
    auto body =
        encodeAnnounce(request, SwarmCounts{10, 20, 30}, Intervals{1800, 60}, candidates, {0, 1});
    auto v = decodeOk(body);  // strict: refuses unsorted keys
    CHECK(keysOf(v) == std::vector<std::string>{
                           "complete", "crypto_flags", "downloaded", "external ip", "incomplete",
                           "interval", "min interval", "peers", "peers6", "warning message"});
    CHECK(num(v.find("complete")) == 10);
    CHECK(num(v.find("incomplete")) == 20);
    CHECK(num(v.find("downloaded")) == 30);
    CHECK(num(v.find("interval")) == 1800);
    CHECK(num(v.find("min interval")) == 60);
    CHECK(str(v.find("warning message")) == "ip parameter ignored");
    // No failure reason on success.
    CHECK(v.find("failure reason") == nullptr);
}

TEST_CASE("encodeAnnounce: no peers", "[responses]") {
    auto request = makeRequest();
    auto v = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, {}, {}));
    CHECK(str(v.find("peers")).empty());
    CHECK(v.find("crypto_flags") == nullptr);
    CHECK(v.find("warning message") == nullptr);
    CHECK(num(v.find("interval")) == 900);
    CHECK(num(v.find("min interval")) == 300);
    CHECK((v.find("peers6") == nullptr || str(v.find("peers6")).empty()));

    request.compact = false;
    auto d = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, {}, {}));
    REQUIRE(d.find("peers") != nullptr);
    REQUIRE(d.find("peers")->asList() != nullptr);
    CHECK(d.find("peers")->asList()->empty());
}

TEST_CASE("encodeAnnounce: compact peers in the chosen order", "[responses]") {
    auto request = makeRequest();
    std::vector<PeerCandidate> candidates{peer("1.2.3.4", 6881, kPeerIdA),
                                          peer("10.20.30.40", 80, kPeerIdB),
                                          peer("255.254.253.252", 65535, kPeerIdC)};
    auto v = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {2, 0}));
    CHECK(test::hex(str(v.find("peers"))) ==
          test::hex(bytes({255, 254, 253, 252, 0xFF, 0xFF, 1, 2, 3, 4, 0x1A, 0xE1})));
    // Candidates not chosen are not sent.
    CHECK(str(v.find("peers")).size() == 12);
}

TEST_CASE("encodeAnnounce: IPv6 peers go in peers6 only", "[responses]") {
    auto request = makeRequest();
    std::vector<PeerCandidate> candidates{peer("2001:db8::1", 6881, kPeerIdA),
                                          peer("1.2.3.4", 80, kPeerIdB),
                                          peer("::ffff:5.6.7.8", 81, kPeerIdC)};
    auto v = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {0, 1, 2}));
    // The mapped address is an IPv4 peer.
    CHECK(test::hex(str(v.find("peers"))) ==
          test::hex(bytes({1, 2, 3, 4, 0, 80, 5, 6, 7, 8, 0, 81})));
    const std::string peers6 = str(v.find("peers6"));
    CHECK(peers6.size() == 18);
    CHECK(test::hex(peers6) == test::hex(bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                0, 0, 0x01, 0x1A, 0xE1})));

    // Only IPv6 peers: `peers` stays empty.
    auto only6 = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {0}));
    CHECK(str(only6.find("peers")).empty());
    CHECK(str(only6.find("peers6")).size() == 18);
}

TEST_CASE("encodeAnnounce: dict peers", "[responses]") {
    auto request = makeRequest();
    request.compact = false;
    std::vector<PeerCandidate> candidates{peer("1.2.3.4", 6881, kPeerIdA),
                                          peer("5.6.7.8", 80, kPeerIdB)};
    SECTION("with peer id") {
        const auto body = encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {0, 1});
        auto v = decodeOk(body);
        const BValue* peers = v.find("peers");
        REQUIRE(peers != nullptr);
        REQUIRE(peers->asList() != nullptr);
        REQUIRE(peers->asList()->size() == 2);
        const BValue& first = (*peers->asList())[0];
        CHECK(keysOf(first) == std::vector<std::string>{"ip", "peer id", "port"});
        CHECK(str(first.find("ip")) == "1.2.3.4");
        CHECK(str(first.find("peer id")) == kPeerIdA);
        CHECK(num(first.find("port")) == 6881);
        const BValue& second = (*peers->asList())[1];
        CHECK(str(second.find("ip")) == "5.6.7.8");
        CHECK(str(second.find("peer id")) == kPeerIdB);
        CHECK(num(second.find("port")) == 80);
        // The exact bytes of one dict peer.
        CHECK(body.find("d2:ip7:1.2.3.47:peer id20:-qB4500-AAAAAAAAAAAA4:porti6881ee") !=
              std::string::npos);
    }
    SECTION("no_peer_id") {
        request.noPeerId = true;
        auto v = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {0, 1}));
        const BValue* peers = v.find("peers");
        REQUIRE(peers != nullptr);
        REQUIRE(peers->asList() != nullptr);
        REQUIRE(peers->asList()->size() == 2);
        for (const auto& p : *peers->asList()) {
            CHECK(keysOf(p) == std::vector<std::string>{"ip", "port"});
            CHECK(p.find("peer id") == nullptr);
        }
    }
    SECTION("an IPv6 peer is never in peers") {
        std::vector<PeerCandidate> mixed{peer("1.2.3.4", 6881, kPeerIdA),
                                         peer("2001:db8::1", 80, kPeerIdB)};
        auto v = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, mixed, {0, 1}));
        const BValue* peers = v.find("peers");
        REQUIRE(peers != nullptr);
        REQUIRE(peers->asList() != nullptr);
        REQUIRE(peers->asList()->size() == 1);
        CHECK(str((*peers->asList())[0].find("ip")) == "1.2.3.4");
        CHECK(str(v.find("peers6")).size() == 18);
    }
}

TEST_CASE("encodeAnnounce: crypto_flags", "[responses]") {
    std::vector<PeerCandidate> candidates{peer("1.2.3.4", 6881, kPeerIdA, false),
                                          peer("5.6.7.8", 6882, kPeerIdB, true),
                                          peer("2001:db8::1", 6883, kPeerIdC, true)};
    SECTION("absent when the client sent no crypto params") {
        auto request = makeRequest();
        auto body = encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {0, 1, 2});
        CHECK(body.find("crypto_flags") == std::string::npos);
    }
    SECTION("one byte per compact IPv4 peer when sent") {
        auto request = makeRequest();
        request.sentCryptoParams = true;
        request.supportCrypto = true;
        auto v =
            decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {0, 1, 2}));
        CHECK(test::hex(str(v.find("crypto_flags"))) == test::hex(bytes({0x00, 0x01})));
        CHECK(str(v.find("peers")).size() == 12);

        auto reversed =
            decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {1, 0}));
        CHECK(test::hex(str(reversed.find("crypto_flags"))) == test::hex(bytes({0x01, 0x00})));
    }
    SECTION("present and empty with no peers") {
        auto request = makeRequest();
        request.sentCryptoParams = true;
        auto v = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {}));
        REQUIRE(v.find("crypto_flags") != nullptr);
        CHECK(str(v.find("crypto_flags")).empty());
    }
    SECTION("absent with dictionary peers, which have no byte to match it") {
        auto request = makeRequest();
        request.sentCryptoParams = true;
        request.compact = false;
        auto v = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, candidates, {0, 1}));
        CHECK(v.find("crypto_flags") == nullptr);
        CHECK(v.find("peers")->asList()->size() == 2);
    }
}

TEST_CASE("encodeAnnounce: external ip", "[responses]") {
    auto request = makeRequest();
    request.connectionAddress = *PeerAddress::parse("9.8.7.6");
    auto v4 = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, {}, {}));
    CHECK(test::hex(str(v4.find("external ip"))) == test::hex(bytes({9, 8, 7, 6})));

    request.connectionAddress = *PeerAddress::parse("2001:4860::8888");
    request.address = request.connectionAddress;
    auto v6 = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, {}, {}));
    const std::string ext = str(v6.find("external ip"));
    CHECK(ext.size() == 16);
    CHECK(test::hex(ext) ==
          test::hex(bytes({0x20, 0x01, 0x48, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x88, 0x88})));

    // The connection's address, not the announced one.
    request.connectionAddress = *PeerAddress::parse("9.8.7.6");
    request.address = *PeerAddress::parse("8.8.8.8");
    auto both = decodeOk(encodeAnnounce(request, SwarmCounts{}, Intervals{}, {}, {}));
    CHECK(test::hex(str(both.find("external ip"))) == test::hex(bytes({9, 8, 7, 6})));
}

TEST_CASE("encodeFailure: failure reason alone", "[responses]") {
    auto failure = makeFailure(FailureCode::InvalidPort, "invalid port \"70000\"");
    const std::string text = "Tracker error #4: invalid port \"70000\"";
    REQUIRE(failure.reason() == text);
    CHECK(encodeFailure(failure) ==
          "d14:failure reason" + std::to_string(text.size()) + ":" + text + "e");
    CHECK(encodeFailure(failure) ==
          "d14:failure reason38:Tracker error #4: invalid port \"70000\"e");

    auto unnumbered = makeFailure(FailureCode::Unnumbered, "bad");
    CHECK(encodeFailure(unnumbered) == "d14:failure reason18:Tracker error: bade");
}

TEST_CASE("encodeScrape: exact bytes for one entry", "[responses]") {
    ScrapeEntry entry;
    const std::string hash = test::awkwardHash();
    entry.infoHash = test::array20(hash);
    entry.counts = SwarmCounts{5, 3, 12};
    entry.name = "Foo";
    auto body = encodeScrape({entry}, 3600);
    const std::string expected = "d5:filesd20:" + hash +
                                 "d8:completei5e10:downloadedi12e10:incompletei3e4:name3:Fooe"
                                 "e5:flagsd20:min_request_intervali3600eee";
    CHECK(test::hex(body) == test::hex(expected));
    CHECK(body == expected);
}

TEST_CASE("encodeScrape: entries sorted by raw hash", "[responses]") {
    ScrapeEntry high, low, mid;
    high.infoHash = test::array20(std::string(20, '\xFF'));
    high.name = "high";
    high.counts = SwarmCounts{1, 0, 0};
    low.infoHash = test::array20(std::string(20, '\0'));
    low.name = "low";
    low.counts = SwarmCounts{2, 0, 0};
    mid.infoHash = test::array20(std::string(20, 'a'));
    mid.name = "mid";
    mid.counts = SwarmCounts{3, 0, 0};
    auto body = encodeScrape({high, low, mid}, 1800);
    auto v = decodeOk(body);  // strict: refuses unsorted keys
    const BValue* files = v.find("files");
    REQUIRE(files != nullptr);
    CHECK(keysOf(*files) == std::vector<std::string>{std::string(20, '\0'), std::string(20, 'a'),
                                                     std::string(20, '\xFF')});
    CHECK(str(files->find(std::string(20, '\xFF'))->find("name")) == "high");
    CHECK(num(files->find(std::string(20, '\0'))->find("complete")) == 2);
    CHECK(num(files->find(std::string(20, 'a'))->find("complete")) == 3);
    CHECK(num(v.find("flags")->find("min_request_interval")) == 1800);
    CHECK(keysOf(v) == std::vector<std::string>{"files", "flags"});
    // Raw order in the bytes too.
    CHECK(body.find(std::string(20, '\0')) < body.find(std::string(20, 'a')));
    CHECK(body.find(std::string(20, 'a')) < body.find(std::string(20, '\xFF')));
}

TEST_CASE("encodeScrape: a name with awkward bytes is length-prefixed", "[responses]") {
    ScrapeEntry entry;
    entry.infoHash = test::array20(std::string(20, 'x'));
    entry.name = bytes({'a', 0, 'e', ':', 'd'});
    auto v = decodeOk(encodeScrape({entry}, 60));
    CHECK(str(v.find("files")->find(std::string(20, 'x'))->find("name")) == entry.name);
}

TEST_CASE("encodeScrape: nothing found", "[responses]") {
    CHECK(encodeScrape({}, 3600) == "d14:failure reason22:No results were found.e");
}

TEST_CASE("scrape: a hash listed twice is answered once, so the dict stays valid") {
    tracker::protocol::ScrapeEntry entry;
    entry.infoHash.fill('h');
    entry.name = "twice";
    std::string body = tracker::protocol::encodeScrape({entry, entry}, 60);
    CHECK(std::holds_alternative<tracker::protocol::BValue>(tracker::protocol::bdecode(body)));
    CHECK(body.find("5:twice") == body.rfind("5:twice"));
}
