// Small helpers shared by the protocol unit tests: building raw bytes, encoding them the ways
// clients do, and unwrapping the variant results of the parsers.
#pragma once

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/announce_request.h"
#include "protocol/failure.h"

namespace test {

// A string of the given byte values (so that "\x01" "E" style literal pitfalls cannot bite).
inline std::string bytes(std::initializer_list<int> values) {
    std::string out;
    for (int v : values)
        out.push_back(static_cast<char>(static_cast<unsigned char>(v)));
    return out;
}

inline std::array<char, 20> array20(std::string_view s) {
    REQUIRE(s.size() == 20);
    std::array<char, 20> a{};
    for (std::size_t i = 0; i < 20; ++i)
        a[i] = s[i];
    return a;
}

// 20 bytes holding everything a naive decoder gets wrong: NUL, `&`, `=`, `+`, `%`, 0xFF, space,
// `#`, `?`, high bytes, and unreserved characters that libtorrent leaves raw.
inline std::string awkwardHash() {
    return bytes({0x00, '&', '=', '+', '%', 0xFF, 'A',  'z',  '0', '-',
                  '_',  '.', '~', ' ', '?', '#',  0x80, 0x7F, '/', 0x01});
}

// Another 20 awkward bytes, for the peer_id.
inline std::string awkwardPeerId() {
    return bytes({'-', 'L', 'T', '2', '0',  '8',  '0', '-', 0x00, 0xFF,
                  '%', '+', '&', '=', 0xFE, 0x20, 'w', '4', ')',  0x00});
}

// Every byte as %XX (uppercase, or lowercase when asked).
inline std::string encodeAll(std::string_view in, bool lower = false) {
    const char* digits = lower ? "0123456789abcdef" : "0123456789ABCDEF";
    std::string out;
    for (char c : in) {
        auto b = static_cast<unsigned char>(c);
        out.push_back('%');
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xF]);
    }
    return out;
}

// The way libtorrent does it: unreserved characters (A-Za-z0-9-_.~) raw, everything else %XX.
inline std::string encodeLibtorrent(std::string_view in) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (char c : in) {
        auto b = static_cast<unsigned char>(c);
        bool unreserved = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
                          (b >= '0' && b <= '9') || b == '-' || b == '_' || b == '.' || b == '~';
        if (unreserved) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(digits[b >> 4]);
            out.push_back(digits[b & 0xF]);
        }
    }
    return out;
}

// A query string built from already-encoded pairs.
struct Query {
    std::vector<std::pair<std::string, std::string>> items;

    // Replaces the first pair with this key, or appends one.
    Query& set(const std::string& key, const std::string& rawValue) {
        for (auto& item : items) {
            if (item.first == key) {
                item.second = rawValue;
                return *this;
            }
        }
        items.emplace_back(key, rawValue);
        return *this;
    }
    Query& add(const std::string& key, const std::string& rawValue) {
        items.emplace_back(key, rawValue);
        return *this;
    }
    Query& remove(const std::string& key) {
        std::vector<std::pair<std::string, std::string>> kept;
        for (auto& item : items) {
            if (item.first != key)
                kept.push_back(item);
        }
        items = kept;
        return *this;
    }
    std::string str() const {
        std::string out;
        for (const auto& item : items) {
            if (!out.empty())
                out.push_back('&');
            out += item.first;
            out.push_back('=');
            out += item.second;
        }
        return out;
    }
};

// A valid announce of a seeder, info_hash and peer_id fully percent-encoded, no key.
inline Query baseAnnounce() {
    Query q;
    q.set("info_hash", encodeAll(awkwardHash()))
        .set("peer_id", encodeAll(awkwardPeerId()))
        .set("port", "6881")
        .set("uploaded", "0")
        .set("downloaded", "0")
        .set("left", "0");
    return q;
}

// A public IPv4 address used as REMOTE_ADDR.
inline constexpr std::string_view kRemote = "81.2.69.142";

// The value of a successful parse; fails the test (showing the reason) on a Failure.
template <class T>
T okValue(const std::variant<T, tracker::protocol::Failure>& result) {
    if (const auto* failure = std::get_if<tracker::protocol::Failure>(&result)) {
        FAIL("unexpected failure: " << failure->reason());
    }
    return std::get<T>(result);
}

// The failure of a refused parse; fails the test when the parse succeeded.
template <class T>
tracker::protocol::Failure failureOf(const std::variant<T, tracker::protocol::Failure>& result) {
    if (!std::holds_alternative<tracker::protocol::Failure>(result)) {
        FAIL("expected a failure, the request was accepted");
    }
    return std::get<tracker::protocol::Failure>(result);
}

// Printable form of raw bytes, for failure messages.
inline std::string hex(std::string_view in) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (char c : in) {
        auto b = static_cast<unsigned char>(c);
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xF]);
    }
    return out;
}

}  // namespace test
