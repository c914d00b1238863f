// The config file's checks, for the keys whose limits depend on each other or on how the
// tracker measures time. No database.
#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "config/config.h"

namespace {

std::string errorOf(const std::string& json) {
    auto parsed = tracker::parseConfig(json, "test.json");
    const auto* error = std::get_if<tracker::ConfigError>(&parsed);
    return error ? error->message : "";
}

}  // namespace

TEST_CASE("quietWriteSeconds: 0 or 16 to 1000, 240 when not given") {
    auto parsed = tracker::parseConfig("{}", "test.json");
    REQUIRE(std::holds_alternative<tracker::Config>(parsed));
    CHECK(std::get<tracker::Config>(parsed).quietWriteSeconds == 240);
    for (const char* fine : {"0", "16", "300", "1000"}) {
        INFO(fine);
        CHECK(errorOf(std::string("{\"quietWriteSeconds\": ") + fine + "}").empty());
    }
    CHECK(errorOf("{\"quietWriteSeconds\": 8}").find("at least 16") != std::string::npos);
    CHECK(errorOf("{\"quietWriteSeconds\": 1001}").find("quietWriteSeconds") != std::string::npos);
    CHECK(errorOf("{\"quietWriteSeconds\": -1}").find("quietWriteSeconds") != std::string::npos);
}
