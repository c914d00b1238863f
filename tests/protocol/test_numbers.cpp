// Strict decimal parsing: digits only, 64 bits, leading zeros allowed.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "protocol/numbers.h"

using tracker::protocol::parseUnsigned;

TEST_CASE("parseUnsigned accepts plain non-negative decimals", "[numbers]") {
    CHECK(parseUnsigned("0") == std::optional<std::uint64_t>(0));
    CHECK(parseUnsigned("0000") == std::optional<std::uint64_t>(0));
    CHECK(parseUnsigned("7") == std::optional<std::uint64_t>(7));
    CHECK(parseUnsigned("0042") == std::optional<std::uint64_t>(42));
    CHECK(parseUnsigned("6881") == std::optional<std::uint64_t>(6881));
    CHECK(parseUnsigned("4294967296") == std::optional<std::uint64_t>(4294967296ULL));
    CHECK(parseUnsigned("18446744073709551615") ==
          std::optional<std::uint64_t>(18446744073709551615ULL));
    CHECK(parseUnsigned("00018446744073709551615") ==
          std::optional<std::uint64_t>(18446744073709551615ULL));
}

TEST_CASE("parseUnsigned refuses anything else", "[numbers]") {
    const char* refused[] = {
        "",
        "-5",
        "+5",
        "-0",
        "1e9",
        " 1",
        "1 ",
        "12a",
        "a12",
        "0x10",
        "1.0",
        "1,000",
        "18446744073709551616",
        "18446744073709551620",
        "99999999999999999999",
        "123456789012345678901234567890",
    };
    for (const char* text : refused) {
        INFO("input: \"" << text << "\"");
        CHECK_FALSE(parseUnsigned(text).has_value());
    }
}

TEST_CASE("parseUnsigned is binary safe", "[numbers]") {
    // A NUL inside the view must not end the number early.
    const std::string withNul(
        "12\0"
        "3",
        4);
    CHECK_FALSE(parseUnsigned(withNul).has_value());
    // Only the view is read, not the bytes after it.
    const std::string backing = "12345";
    CHECK(parseUnsigned(std::string_view(backing.data(), 2)) == std::optional<std::uint64_t>(12));
}
