// Peer addresses: IPv4, IPv6, IPv4-mapped IPv6 as IPv4, and which ones are public.
#include <catch2/catch.hpp>

#include <string>

#include "helpers.h"
#include "protocol/peer_address.h"

using tracker::protocol::PeerAddress;

TEST_CASE("PeerAddress parses IPv4", "[peer_address]") {
    auto a = PeerAddress::parse("1.2.3.4");
    REQUIRE(a.has_value());
    CHECK(a->isV4());
    CHECK(a->family == PeerAddress::Family::V4);
    CHECK(a->size() == 4);
    CHECK(a->bytes[0] == 1);
    CHECK(a->bytes[1] == 2);
    CHECK(a->bytes[2] == 3);
    CHECK(a->bytes[3] == 4);
    CHECK(a->raw() == test::bytes({1, 2, 3, 4}));

    auto b = PeerAddress::parse("255.0.128.9");
    REQUIRE(b.has_value());
    CHECK(b->raw() == test::bytes({255, 0, 128, 9}));
}

TEST_CASE("PeerAddress parses IPv6", "[peer_address]") {
    auto a = PeerAddress::parse("2001:db8::1");
    REQUIRE(a.has_value());
    CHECK_FALSE(a->isV4());
    CHECK(a->family == PeerAddress::Family::V6);
    CHECK(a->size() == 16);
    CHECK(a->raw() == test::bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}));

    auto loopback = PeerAddress::parse("::1");
    REQUIRE(loopback.has_value());
    CHECK(loopback->raw() == test::bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
}

TEST_CASE("PeerAddress stores IPv4-mapped IPv6 as IPv4", "[peer_address]") {
    auto a = PeerAddress::parse("::ffff:1.2.3.4");
    REQUIRE(a.has_value());
    CHECK(a->isV4());
    CHECK(a->size() == 4);
    CHECK(a->raw() == test::bytes({1, 2, 3, 4}));
    CHECK(*a == *PeerAddress::parse("1.2.3.4"));
    CHECK(a->toString() == "1.2.3.4");

    auto hexForm = PeerAddress::parse("::ffff:0102:0304");
    REQUIRE(hexForm.has_value());
    CHECK(hexForm->isV4());
    CHECK(hexForm->raw() == test::bytes({1, 2, 3, 4}));
}

TEST_CASE("PeerAddress refuses garbage", "[peer_address]") {
    const char* refused[] = {
        "",         "abc",       "1.2.3",      "1.2.3.4.5", "1.2.3.256",
        "1.2.3.4 ", " 1.2.3.4",  "1.2.3.4:80", "::g",       "1:2:3:4:5:6:7:8:9",
        "-1.2.3.4", "localhost", "1..2.3",
    };
    for (const char* text : refused) {
        INFO("input: \"" << text << "\"");
        CHECK_FALSE(PeerAddress::parse(text).has_value());
    }
    // A NUL inside the view is not the end of the address.
    const std::string withNul("1.2.3.4\0junk", 12);
    CHECK_FALSE(PeerAddress::parse(withNul).has_value());
    // A very long input does not crash.
    CHECK_FALSE(PeerAddress::parse(std::string(10000, '1')).has_value());
}

TEST_CASE("PeerAddress parses only the view it is given", "[peer_address]") {
    const std::string backing = "10.0.0.12345";
    auto a = PeerAddress::parse(std::string_view(backing.data(), 8));  // "10.0.0.1"
    REQUIRE(a.has_value());
    CHECK(a->raw() == test::bytes({10, 0, 0, 1}));
}

TEST_CASE("PeerAddress toString round-trips", "[peer_address]") {
    const char* canonical[] = {"1.2.3.4",     "0.0.0.0", "255.255.255.255", "81.2.69.142",
                               "2001:db8::1", "::1",     "fe80::1",         "2001:4860:4860::8888"};
    for (const char* text : canonical) {
        INFO("input: " << text);
        auto a = PeerAddress::parse(text);
        REQUIRE(a.has_value());
        CHECK(a->toString() == text);
        auto again = PeerAddress::parse(a->toString());
        REQUIRE(again.has_value());
        CHECK(*again == *a);
    }
    // Non-canonical input gives the canonical text.
    auto upper = PeerAddress::parse("2001:DB8:0:0:0:0:0:1");
    REQUIRE(upper.has_value());
    CHECK(upper->toString() == "2001:db8::1");
}

TEST_CASE("PeerAddress equality", "[peer_address]") {
    CHECK(*PeerAddress::parse("1.2.3.4") == *PeerAddress::parse("1.2.3.4"));
    CHECK_FALSE(*PeerAddress::parse("1.2.3.4") == *PeerAddress::parse("1.2.3.5"));
    // Same first bytes, other family.
    CHECK_FALSE(*PeerAddress::parse("1.2.3.4") == *PeerAddress::parse("102:304::"));
}

TEST_CASE("PeerAddress isPublic", "[peer_address]") {
    const char* notPublic[] = {
        "10.0.0.1",    "10.255.255.255",  "172.16.0.1",      "172.31.255.255",
        "192.168.1.1", "127.0.0.1",       "127.1.2.3",       "169.254.1.1",
        "100.64.0.1",  "100.127.255.255", "0.0.0.0",         "0.1.2.3",
        "224.0.0.1",   "239.255.255.255", "240.0.0.1",       "255.255.255.255",
        "192.0.2.1",   "198.51.100.1",    "203.0.113.1",     "::1",
        "::",          "fe80::1",         "fc00::1",         "fd12:3456::1",
        "ff02::1",     "2001:db8::1",     "::ffff:10.0.0.1", "::ffff:127.0.0.1",
    };
    for (const char* text : notPublic) {
        INFO("address: " << text);
        auto a = PeerAddress::parse(text);
        REQUIRE(a.has_value());
        CHECK_FALSE(a->isPublic());
    }
    const char* isPublic[] = {
        "8.8.8.8",           "1.1.1.1",         "81.2.69.142",     "172.15.255.255",
        "172.32.0.1",        "100.63.255.255",  "100.128.0.1",     "11.0.0.1",
        "192.169.0.1",       "223.255.255.254", "2001:4860::8888", "2001:4860:4860::8888",
        "2a00:1450:4001::1", "::ffff:8.8.8.8",
    };
    for (const char* text : isPublic) {
        INFO("address: " << text);
        auto a = PeerAddress::parse(text);
        REQUIRE(a.has_value());
        CHECK(a->isPublic());
    }
}
