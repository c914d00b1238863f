// Announce validation: the PHP's numbered reasons, strict numbers, events, flags, addresses.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "helpers.h"
#include "protocol/announce_request.h"

using namespace tracker::protocol;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using test::baseAnnounce;
using test::encodeAll;
using test::encodeLibtorrent;
using test::failureOf;
using test::kRemote;
using test::okValue;
using test::Query;

namespace {

AnnounceRequest accept(const Query& q, const AnnouncePolicy& policy = {},
                       std::string_view remote = kRemote) {
    INFO("query: " << q.str());
    return okValue(parseAnnounce(q.str(), remote, policy));
}

Failure refuse(const Query& q, const AnnouncePolicy& policy = {},
               std::string_view remote = kRemote) {
    INFO("query: " << q.str());
    return failureOf(parseAnnounce(q.str(), remote, policy));
}

}  // namespace

TEST_CASE("announce: a minimal valid request", "[announce]") {
    auto r = accept(baseAnnounce());
    CHECK(view(r.infoHash) == test::awkwardHash());
    CHECK(view(r.peerId) == test::awkwardPeerId());
    CHECK(r.port == 6881);
    CHECK(r.uploaded == 0);
    CHECK(r.downloaded == 0);
    CHECK(r.left == 0);
    CHECK(r.isSeeder());
    CHECK(r.event == AnnounceEvent::Regular);
    CHECK(r.compact);
    CHECK_FALSE(r.noPeerId);
    CHECK(r.numwant == 50);
    CHECK_FALSE(r.supportCrypto);
    CHECK_FALSE(r.requireCrypto);
    CHECK_FALSE(r.sentCryptoParams);
    CHECK(r.address == *PeerAddress::parse(kRemote));
    CHECK(r.connectionAddress == *PeerAddress::parse(kRemote));
    CHECK(r.uid.size() == 10);
    CHECK(r.uid[0] == '~');
}

TEST_CASE("announce: numbers are read in full", "[announce]") {
    auto r = accept(baseAnnounce()
                        .set("uploaded", "18446744073709551615")
                        .set("downloaded", "4294967296")
                        .set("left", "5000000000")
                        .set("port", "65535"));
    CHECK(r.uploaded == 18446744073709551615ULL);
    CHECK(r.downloaded == 4294967296ULL);
    CHECK(r.left == 5000000000ULL);
    CHECK_FALSE(r.isSeeder());
    CHECK(r.port == 65535);

    auto zeros = accept(baseAnnounce().set("left", "0000").set("port", "1"));
    CHECK(zeros.left == 0);
    CHECK(zeros.port == 1);

    // Values are percent-decoded before they are read.
    auto encoded = accept(baseAnnounce().set("port", "%36%38%38%32"));
    CHECK(encoded.port == 6882);
}

TEST_CASE("announce: #1 for each missing required field", "[announce]") {
    const char* required[] = {"info_hash", "peer_id", "port", "uploaded", "downloaded", "left"};
    for (const char* field : required) {
        INFO("missing: " << field);
        auto f = refuse(baseAnnounce().remove(field));
        CHECK(f.code == FailureCode::MissingField);
        CHECK_THAT(f.detail, Contains(field));
        CHECK_THAT(f.reason(), StartsWith("Tracker error #1: "));
        CHECK_THAT(f.reason(), Contains(field));
    }
}

TEST_CASE("announce: an empty query is #1", "[announce]") {
    auto f = failureOf(parseAnnounce("", kRemote, AnnouncePolicy{}));
    CHECK(f.code == FailureCode::MissingField);
    CHECK_THAT(f.reason(), StartsWith("Tracker error #1: "));
}

TEST_CASE("announce: key is optional by default, required with requireKey", "[announce]") {
    // Default: accepted without a key.
    auto r = accept(baseAnnounce());
    CHECK(r.uid.size() == 10);

    AnnouncePolicy strict;
    strict.requireKey = true;
    auto f = refuse(baseAnnounce(), strict);
    CHECK(f.code == FailureCode::MissingField);
    CHECK_THAT(f.detail, Contains("key"));
    CHECK_THAT(f.reason(), StartsWith("Tracker error #1: "));

    auto withKey = accept(baseAnnounce().set("key", "abcd1234"), strict);
    CHECK(withKey.uid == "abcd1234");
}

TEST_CASE("announce: key gives the uid", "[announce]") {
    auto plain = accept(baseAnnounce().set("key", "abcd1234"));
    CHECK(plain.uid == "abcd1234");

    auto longKey = accept(baseAnnounce().set("key", "abcdefghijk"));  // 11 characters
    CHECK(longKey.uid.size() == 10);
    CHECK(longKey.uid[0] == '!');

    auto noKey = accept(baseAnnounce());
    CHECK(noKey.uid == deriveUid(std::nullopt, view(noKey.peerId), noKey.address));
}

TEST_CASE("announce: #2 info_hash not 20 bytes", "[announce]") {
    const std::string hash = test::awkwardHash();
    for (std::size_t len : {std::size_t(0), std::size_t(19), std::size_t(21), std::size_t(40)}) {
        std::string value = hash;
        value.resize(len, 'x');
        INFO("length: " << len);
        auto f = refuse(baseAnnounce().set("info_hash", encodeAll(value)));
        CHECK(f.code == FailureCode::InfoHashLength);
        CHECK_THAT(f.reason(), StartsWith("Tracker error #2: "));
        CHECK_THAT(f.reason(), Contains("info_hash"));
    }
}

TEST_CASE("announce: #3 peer_id not 20 bytes", "[announce]") {
    const std::string peer = test::awkwardPeerId();
    for (std::size_t len : {std::size_t(0), std::size_t(19), std::size_t(21)}) {
        std::string value = peer;
        value.resize(len, 'x');
        INFO("length: " << len);
        auto f = refuse(baseAnnounce().set("peer_id", encodeAll(value)));
        CHECK(f.code == FailureCode::PeerIdLength);
        CHECK_THAT(f.reason(), StartsWith("Tracker error #3: "));
        CHECK_THAT(f.reason(), Contains("peer_id"));
    }
}

TEST_CASE("announce: #4 invalid port", "[announce]") {
    auto f70000 = refuse(baseAnnounce().set("port", "70000"));
    CHECK(f70000.code == FailureCode::InvalidPort);
    CHECK(f70000.reason() == "Tracker error #4: invalid port \"70000\"");

    const char* bad[] = {"0", "65536", "abc", "-1", "6881x", "99999999999999999999999"};
    for (const char* port : bad) {
        INFO("port: " << port);
        auto f = refuse(baseAnnounce().set("port", port));
        CHECK(f.code == FailureCode::InvalidPort);
        CHECK_THAT(f.reason(), StartsWith("Tracker error #4: "));
        CHECK_THAT(f.reason(), Contains(std::string("\"") + port + "\""));
    }
}

TEST_CASE("announce: cryptoport replaces port", "[announce]") {
    auto r = accept(baseAnnounce().set("port", "6881").set("cryptoport", "6999"));
    CHECK(r.port == 6999);

    auto f = refuse(baseAnnounce().set("port", "6881").set("cryptoport", "70000"));
    CHECK(f.code == FailureCode::InvalidPort);
    CHECK_THAT(f.reason(), Contains("70000"));

    auto zero = refuse(baseAnnounce().set("port", "6881").set("cryptoport", "0"));
    CHECK(zero.code == FailureCode::InvalidPort);
}

TEST_CASE("announce: checks come in the PHP's order", "[announce]") {
    const std::string shortHash = test::awkwardHash().substr(0, 19);
    const std::string shortPeer = test::awkwardPeerId().substr(0, 19);
    // Missing field wins over a bad info_hash.
    CHECK(refuse(baseAnnounce().set("info_hash", encodeAll(shortHash)).remove("left")).code ==
          FailureCode::MissingField);
    // info_hash before peer_id.
    CHECK(refuse(baseAnnounce()
                     .set("info_hash", encodeAll(shortHash))
                     .set("peer_id", encodeAll(shortPeer)))
              .code == FailureCode::InfoHashLength);
    // peer_id before port.
    CHECK(refuse(baseAnnounce().set("peer_id", encodeAll(shortPeer)).set("port", "0")).code ==
          FailureCode::PeerIdLength);
    // port before the numbers.
    CHECK(refuse(baseAnnounce().set("port", "0").set("left", "-5")).code ==
          FailureCode::InvalidPort);
}

TEST_CASE("announce: numbers that are not plain decimals are refused", "[announce]") {
    struct Case {
        const char* field;
        const char* value;
    };
    const Case cases[] = {
        {"left", "-5"},
        {"uploaded", "1e9"},
        {"downloaded", "123456789012345678901234567890"},
        {"left", "18446744073709551616"},
        {"uploaded", "+1"},
        {"downloaded", " 1"},
        {"left", "1.5"},
        {"uploaded", "0x10"},
    };
    for (const auto& c : cases) {
        INFO(c.field << "=" << c.value);
        auto f = refuse(baseAnnounce().set(c.field, c.value));
        CHECK(f.code == FailureCode::Unnumbered);
        CHECK_THAT(f.detail, Contains(c.field));
        CHECK_THAT(f.reason(), StartsWith("Tracker error: "));
        CHECK_THAT(f.reason(), Contains(c.field));
    }
}

TEST_CASE("announce: events", "[announce]") {
    CHECK(accept(baseAnnounce()).event == AnnounceEvent::Regular);
    CHECK(accept(baseAnnounce().set("event", "")).event == AnnounceEvent::Regular);
    CHECK(accept(baseAnnounce().set("event", "started")).event == AnnounceEvent::Started);
    CHECK(accept(baseAnnounce().set("event", "completed")).event == AnnounceEvent::Completed);
    CHECK(accept(baseAnnounce().set("event", "stopped")).event == AnnounceEvent::Stopped);
    CHECK(accept(baseAnnounce().set("event", "paused")).event == AnnounceEvent::Paused);

    for (const char* bad : {"bogus", "Started", "start", "started%00", "stopped+"}) {
        INFO("event: " << bad);
        auto f = refuse(baseAnnounce().set("event", bad));
        CHECK(f.code == FailureCode::Unnumbered);
        CHECK_THAT(f.reason(), Contains("event"));
    }
}

TEST_CASE("announce: compact and no_peer_id", "[announce]") {
    CHECK(accept(baseAnnounce()).compact);
    CHECK(accept(baseAnnounce().set("compact", "1")).compact);
    CHECK_FALSE(accept(baseAnnounce().set("compact", "0")).compact);

    CHECK_FALSE(accept(baseAnnounce()).noPeerId);
    CHECK(accept(baseAnnounce().set("no_peer_id", "1")).noPeerId);
}

TEST_CASE("announce: numwant default, cap and refusal", "[announce]") {
    AnnouncePolicy policy;
    policy.numwantDefault = 30;
    policy.numwantMax = 100;
    CHECK(accept(baseAnnounce(), policy).numwant == 30);
    CHECK(accept(baseAnnounce().set("numwant", "10"), policy).numwant == 10);
    CHECK(accept(baseAnnounce().set("numwant", "0"), policy).numwant == 0);
    CHECK(accept(baseAnnounce().set("numwant", "100"), policy).numwant == 100);
    CHECK(accept(baseAnnounce().set("numwant", "101"), policy).numwant == 100);
    CHECK(accept(baseAnnounce().set("numwant", "5000"), policy).numwant == 100);
    CHECK(accept(baseAnnounce().set("numwant", "18446744073709551615"), policy).numwant == 100);

    CHECK(accept(baseAnnounce()).numwant == 50);  // the default policy

    for (const char* bad : {"abc", "-1", "1e3"}) {
        INFO("numwant: " << bad);
        auto f = refuse(baseAnnounce().set("numwant", bad), policy);
        CHECK(f.code == FailureCode::Unnumbered);
        CHECK_THAT(f.reason(), Contains("numwant"));
    }
}

TEST_CASE("announce: crypto flags", "[announce]") {
    auto none = accept(baseAnnounce());
    CHECK_FALSE(none.sentCryptoParams);
    CHECK_FALSE(none.canDoCrypto());

    auto support = accept(baseAnnounce().set("supportcrypto", "1"));
    CHECK(support.supportCrypto);
    CHECK_FALSE(support.requireCrypto);
    CHECK(support.sentCryptoParams);
    CHECK(support.canDoCrypto());

    auto require = accept(baseAnnounce().set("requirecrypto", "1"));
    CHECK(require.requireCrypto);
    CHECK(require.sentCryptoParams);
    CHECK(require.canDoCrypto());

    auto both = accept(baseAnnounce().set("supportcrypto", "1").set("requirecrypto", "1"));
    CHECK(both.supportCrypto);
    CHECK(both.requireCrypto);
    CHECK(both.sentCryptoParams);

    // Present, even as 0, means the client speaks the extension: it gets crypto_flags.
    auto zero = accept(baseAnnounce().set("supportcrypto", "0"));
    CHECK(zero.sentCryptoParams);
    CHECK_FALSE(zero.supportCrypto);
}

TEST_CASE("announce: a malformed escape is a failure, not a crash", "[announce]") {
    std::string encoded = encodeAll(test::awkwardHash());
    const std::string variants[] = {
        encoded.substr(0, encoded.size() - 1),  // ends in `%X`
        encoded.substr(0, encoded.size() - 2),  // ends in `%`
        "%zz" + encoded.substr(3),              // bad hex digits
        encoded.substr(0, 57) + "%4",           // 19 bytes then `%4`
    };
    for (const auto& value : variants) {
        INFO("info_hash=" << value);
        auto f = refuse(baseAnnounce().set("info_hash", value));
        CHECK_THAT(f.reason(), Contains("info_hash"));
    }
    auto peer =
        refuse(baseAnnounce().set("peer_id", "%g0" + encodeAll(test::awkwardPeerId()).substr(3)));
    CHECK_THAT(peer.reason(), Contains("peer_id"));

    // A malformed escape at the very end of the query string.
    auto f = failureOf(parseAnnounce(baseAnnounce().str() + "&key=ab%", kRemote, AnnouncePolicy{}));
    CHECK_THAT(f.reason(), Contains("key"));
}

TEST_CASE("announce: the first of a repeated key is used", "[announce]") {
    std::string other(20, 'B');
    auto r = accept(baseAnnounce().add("info_hash", encodeAll(other)).add("port", "7000"));
    CHECK(view(r.infoHash) == test::awkwardHash());
    CHECK(r.port == 6881);

    Query q;
    q.add("info_hash", encodeAll(other));
    for (const auto& item : baseAnnounce().items)
        q.add(item.first, item.second);
    auto s = accept(q);
    CHECK(view(s.infoHash) == other);
}

TEST_CASE("announce: info_hash and peer_id with awkward bytes, every encoding", "[announce]") {
    const std::string hash = test::awkwardHash();
    const std::string peer = test::awkwardPeerId();
    REQUIRE(hash.size() == 20);
    REQUIRE(peer.size() == 20);
    SECTION("every byte %XX") {
        auto r = accept(
            baseAnnounce().set("info_hash", encodeAll(hash)).set("peer_id", encodeAll(peer)));
        CHECK(test::hex(view(r.infoHash)) == test::hex(hash));
        CHECK(test::hex(view(r.peerId)) == test::hex(peer));
    }
    SECTION("every byte %xx, lowercase") {
        auto r = accept(baseAnnounce()
                            .set("info_hash", encodeAll(hash, true))
                            .set("peer_id", encodeAll(peer, true)));
        CHECK(test::hex(view(r.infoHash)) == test::hex(hash));
        CHECK(test::hex(view(r.peerId)) == test::hex(peer));
    }
    SECTION("libtorrent style, unreserved bytes raw") {
        const std::string encHash = encodeLibtorrent(hash);
        CHECK(encHash.size() < 60);  // some bytes really went raw
        auto r =
            accept(baseAnnounce().set("info_hash", encHash).set("peer_id", encodeLibtorrent(peer)));
        CHECK(test::hex(view(r.infoHash)) == test::hex(hash));
        CHECK(test::hex(view(r.peerId)) == test::hex(peer));
    }
    SECTION("a raw + is a plus sign") {
        std::string plusHash(20, '+');
        auto r = accept(baseAnnounce().set("info_hash", plusHash));
        CHECK(view(r.infoHash) == plusHash);
    }
    SECTION("all 20 bytes NUL") {
        std::string zeros(20, '\0');
        auto r = accept(baseAnnounce().set("info_hash", encodeAll(zeros)));
        CHECK(view(r.infoHash) == zeros);
    }
    SECTION("all 20 bytes 0xFF") {
        std::string ff(20, '\xFF');
        auto r = accept(baseAnnounce().set("info_hash", encodeLibtorrent(ff)));
        CHECK(view(r.infoHash) == ff);
    }
}

TEST_CASE("announce: the ip parameter", "[announce]") {
    const auto remote = *PeerAddress::parse(kRemote);
    SECTION("ignored by default") {
        auto r = accept(baseAnnounce().set("ip", "8.8.8.8"));
        CHECK(r.address == remote);
        CHECK(r.connectionAddress == remote);
    }
    SECTION("honoured when allowed and public") {
        AnnouncePolicy policy;
        policy.allowIpParam = true;
        auto r = accept(baseAnnounce().set("ip", "8.8.8.8"), policy);
        CHECK(r.address == *PeerAddress::parse("8.8.8.8"));
        CHECK(r.connectionAddress == remote);

        auto v6 = accept(baseAnnounce().set("ip", "2001%3A4860%3A%3A8888"), policy);
        CHECK(v6.address == *PeerAddress::parse("2001:4860::8888"));
        CHECK(v6.connectionAddress == remote);
    }
    SECTION("a private ip is not honoured even when allowed") {
        AnnouncePolicy policy;
        policy.allowIpParam = true;
        for (const char* ip : {"192.168.1.10", "10.0.0.1", "127.0.0.1", "::1", "fe80::1"}) {
            INFO("ip=" << ip);
            auto r = accept(baseAnnounce().set("ip", ip), policy);
            CHECK(r.address == remote);
            CHECK(r.connectionAddress == remote);
        }
    }
    SECTION("a garbage ip is not honoured and does not fail the announce") {
        AnnouncePolicy policy;
        policy.allowIpParam = true;
        auto r = accept(baseAnnounce().set("ip", "not-an-address"), policy);
        CHECK(r.address == remote);
    }
}

TEST_CASE("announce: REMOTE_ADDR", "[announce]") {
    auto mapped = accept(baseAnnounce(), AnnouncePolicy{}, "::ffff:1.2.3.4");
    CHECK(mapped.address.isV4());
    CHECK(mapped.address.raw() == test::bytes({1, 2, 3, 4}));
    CHECK(mapped.connectionAddress.isV4());
    CHECK(mapped.connectionAddress.raw() == test::bytes({1, 2, 3, 4}));

    auto v6 = accept(baseAnnounce(), AnnouncePolicy{}, "2001:4860::8888");
    CHECK_FALSE(v6.address.isV4());
    CHECK(v6.address == *PeerAddress::parse("2001:4860::8888"));

    // A private REMOTE_ADDR is still the address (a LAN tracker is legitimate).
    auto lan = accept(baseAnnounce(), AnnouncePolicy{}, "192.168.1.5");
    CHECK(lan.address == *PeerAddress::parse("192.168.1.5"));

    for (const char* bad : {"", "garbage", "1.2.3.4.5", "999.1.1.1"}) {
        INFO("REMOTE_ADDR: \"" << bad << "\"");
        auto result = parseAnnounce(baseAnnounce().str(), bad, AnnouncePolicy{});
        CHECK(std::holds_alternative<Failure>(result));
    }
}

TEST_CASE("deriveUid: a plain key is the uid", "[announce][uid]") {
    const auto addr = *PeerAddress::parse("81.2.69.142");
    const std::string peer(20, 'P');
    CHECK(deriveUid(std::string_view("abcd1234"), peer, addr) == "abcd1234");
    CHECK(deriveUid(std::string_view("A"), peer, addr) == "A");
    CHECK(deriveUid(std::string_view("abcdefghij"), peer, addr) == "abcdefghij");  // 10 chars
    CHECK(deriveUid(std::string_view("a.b_c-D9"), peer, addr) == "a.b_c-D9");
}

TEST_CASE("deriveUid: other keys become ! and 9 characters", "[announce][uid]") {
    const auto addr = *PeerAddress::parse("81.2.69.142");
    const std::string peer(20, 'P');
    const std::string others[] = {
        "abcdefghijk",                  // 11 characters
        "ab cd",                        // space
        "ab/cd",                        // slash
        "~abc",                         // `~` would clash with the no-key form
        "!abc",                         // `!` would clash with the derived form
        test::bytes({'a', 0x00, 'b'}),  // NUL
        test::bytes({0xFF, 0xFE}),      // high bytes
        std::string(1000, 'k'),         // long
    };
    std::set<std::string> seen;
    for (const auto& key : others) {
        INFO("key hex: " << test::hex(key));
        auto uid = deriveUid(std::string_view(key), peer, addr);
        CHECK(uid.size() == 10);
        REQUIRE_FALSE(uid.empty());
        CHECK(uid[0] == '!');
        // Stable: the same key gives the same uid, whoever sends it.
        CHECK(deriveUid(std::string_view(key), peer, addr) == uid);
        CHECK(deriveUid(std::string_view(key), std::string(20, 'Q'),
                        *PeerAddress::parse("8.8.8.8")) == uid);
        seen.insert(uid);
    }
    CHECK(seen.size() == std::size(others));  // different keys, different uids
}

TEST_CASE("deriveUid: no key derives from peer_id and address", "[announce][uid]") {
    const auto addr = *PeerAddress::parse("81.2.69.142");
    const auto otherAddr = *PeerAddress::parse("81.2.69.143");
    const auto v6 = *PeerAddress::parse("2001:4860::8888");
    const std::string peer = test::awkwardPeerId();
    std::string otherPeer = peer;
    otherPeer[19] = 'z';

    auto uid = deriveUid(std::nullopt, peer, addr);
    CHECK(uid.size() == 10);
    REQUIRE_FALSE(uid.empty());
    CHECK(uid[0] == '~');
    CHECK(deriveUid(std::nullopt, peer, addr) == uid);
    CHECK(deriveUid(std::nullopt, peer, otherAddr) != uid);
    CHECK(deriveUid(std::nullopt, otherPeer, addr) != uid);
    CHECK(deriveUid(std::nullopt, peer, v6) != uid);
    CHECK(deriveUid(std::nullopt, peer, v6).size() == 10);
    CHECK(deriveUid(std::nullopt, peer, v6)[0] == '~');
}

TEST_CASE("deriveUid: never more than 10 bytes", "[announce][uid]") {
    const auto addr = *PeerAddress::parse("2001:4860::8888");
    const std::string peer(20, '\xFF');
    const std::string keys[] = {"", "a", "abcdefghij", "abcdefghijk", std::string(5000, '\0')};
    for (const auto& key : keys) {
        INFO("key size: " << key.size());
        CHECK(deriveUid(std::string_view(key), peer, addr).size() <= 10);
        CHECK_FALSE(deriveUid(std::string_view(key), peer, addr).empty());
    }
    CHECK(deriveUid(std::nullopt, peer, addr).size() <= 10);
}

TEST_CASE("announce: without a key, a claimed ip cannot take over another peer's uid",
          "[announce][uid]") {
    // The no-key uid exists so that someone who learns a peer_id (peer lists hand out peer ids
    // and addresses) cannot stop or rewrite that peer's row. With allowIpParam, the attacker
    // can claim the victim's public address in `ip`: the uid must still come from the
    // connection, which the attacker cannot forge.
    AnnouncePolicy policy;
    policy.allowIpParam = true;
    auto victim = accept(baseAnnounce(), policy, "8.8.8.8");
    auto attacker = accept(baseAnnounce().set("ip", "8.8.8.8"), policy, "81.2.69.142");
    CHECK(attacker.address == *PeerAddress::parse("8.8.8.8"));  // the ip is honoured ...
    CHECK(victim.uid[0] == '~');
    CHECK(attacker.uid[0] == '~');
    CHECK(attacker.uid != victim.uid);  // ... but it does not give the victim's identity
}
