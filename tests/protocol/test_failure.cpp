// Failure reasons: the PHP's numbers kept, the detail in words, values quoted safely.
#include <catch2/catch.hpp>

#include <string>

#include "helpers.h"
#include "protocol/failure.h"

using namespace tracker::protocol;

TEST_CASE("makeFailure keeps code and detail", "[failure]") {
    auto f = makeFailure(FailureCode::PeerIdLength, "peer_id is 19 bytes, not 20");
    CHECK(f.code == FailureCode::PeerIdLength);
    CHECK(f.detail == "peer_id is 19 bytes, not 20");
}

TEST_CASE("reason() of numbered failures", "[failure]") {
    CHECK(makeFailure(FailureCode::InvalidPort, "invalid port \"70000\"").reason() ==
          "Tracker error #4: invalid port \"70000\"");
    CHECK(makeFailure(FailureCode::MissingField, "missing info_hash").reason() ==
          "Tracker error #1: missing info_hash");
    CHECK(makeFailure(FailureCode::InfoHashLength, "x").reason() == "Tracker error #2: x");
    CHECK(makeFailure(FailureCode::PeerIdLength, "x").reason() == "Tracker error #3: x");
    CHECK(makeFailure(FailureCode::NotRegistered, "torrent not registered").reason() ==
          "Tracker error #5: torrent not registered");
    CHECK(makeFailure(FailureCode::Banned, "torrent banned").reason() ==
          "Tracker error #6: torrent banned");
}

TEST_CASE("reason() of unnumbered failures", "[failure]") {
    CHECK(makeFailure(FailureCode::Unnumbered, "invalid left \"-5\"").reason() ==
          "Tracker error: invalid left \"-5\"");
}

TEST_CASE("quoteValue quotes printable values", "[failure]") {
    CHECK(quoteValue("70000") == "\"70000\"");
    CHECK(quoteValue("abc") == "\"abc\"");
    CHECK(quoteValue("") == "\"\"");
}

TEST_CASE("quoteValue escapes non-printable bytes as \\xNN", "[failure]") {
    CHECK(quoteValue(test::bytes({'a', 0x01, 'b'})) == "\"a\\x01b\"");
    CHECK(quoteValue(test::bytes({0x00})) == "\"\\x00\"");
    CHECK(quoteValue(test::bytes({'1', 0x09})) == "\"1\\x09\"");
    auto high = quoteValue(test::bytes({0xFF}));
    CHECK((high == "\"\\xff\"" || high == "\"\\xFF\""));
    // No raw non-printable byte survives.
    auto mixed = quoteValue(test::bytes({0x00, 0x7F, 0x80, 0x1B, 'x'}));
    for (char c : mixed) {
        auto b = static_cast<unsigned char>(c);
        CHECK((b >= 0x20 && b < 0x7F));
    }
}

TEST_CASE("quoteValue cuts long values", "[failure]") {
    // Bounded whatever the input size.
    const std::string huge(64 * 1024, 'A');
    auto quoted = quoteValue(huge);
    CHECK(quoted.size() < 200);
    CHECK(quoted.size() > 2);
    CHECK(quoted.front() == '"');
    CHECK(quoteValue(std::string(1024 * 1024, 'A')).size() < 200);

    // All bytes escaped (4 characters each): still bounded.
    const std::string hugeBinary(64 * 1024, '\x01');
    auto quotedBinary = quoteValue(hugeBinary);
    CHECK(quotedBinary.size() < 256);
    CHECK(quotedBinary.front() == '"');
    CHECK(quoteValue(std::string(1024 * 1024, '\x01')).size() < 256);
}
