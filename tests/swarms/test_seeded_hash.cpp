// The keyed hash of client-chosen bytes: SipHash-2-4's published answers, and different keys
// giving different hashes.
#include <catch2/catch.hpp>

#include <string>

#include "swarms/seeded_hash.h"

using tracker::swarms::SeededHash;

TEST_CASE("SipHash-2-4 gives the reference answers") {
    // The key 00 01 ... 0f and the messages 00 01 ... (n - 1), from the SipHash paper.
    SeededHash hash(0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL);
    std::string message;
    for (int i = 0; i < 15; ++i)
        message.push_back(static_cast<char>(i));
    CHECK(hash(std::string_view()) == 0x726fdb47dd0e0e31ULL);
    CHECK(hash(message) == 0xa129ca6149be45e5ULL);
    CHECK(hash(std::string_view(message.data(), 8)) == 0x93f5f5799a932462ULL);
}

TEST_CASE("the key changes every hash") {
    SeededHash one, other;
    int same = 0;
    for (int i = 0; i < 100; ++i) {
        std::string key = "peer-" + std::to_string(i);
        same += one(key) == other(key);
    }
    CHECK(same == 0);
}
