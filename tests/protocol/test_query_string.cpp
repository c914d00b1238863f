// Query-string decoding: binary safe, `+` kept, repeated keys kept, malformed escapes flagged.
#include <catch2/catch.hpp>

#include <string>

#include "helpers.h"
#include "protocol/query_string.h"

using test::bytes;
using tracker::protocol::percentDecode;
using tracker::protocol::QueryString;

TEST_CASE("percentDecode decodes byte by byte", "[query_string]") {
    CHECK(percentDecode("abc") == std::optional<std::string>("abc"));
    CHECK(percentDecode("") == std::optional<std::string>(""));
    CHECK(percentDecode("%41%42%43") == std::optional<std::string>("ABC"));
    CHECK(percentDecode("a%20b") == std::optional<std::string>("a b"));
    // `+` is a plus sign in a tracker query, never a space.
    CHECK(percentDecode("a+b") == std::optional<std::string>("a+b"));
    CHECK(percentDecode("%2B") == std::optional<std::string>("+"));
}

TEST_CASE("percentDecode accepts uppercase and lowercase hex", "[query_string]") {
    CHECK(percentDecode("%4A") == std::optional<std::string>("J"));
    CHECK(percentDecode("%4a") == std::optional<std::string>("J"));
    CHECK(percentDecode("%ff") == std::optional<std::string>(bytes({0xFF})));
    CHECK(percentDecode("%FF") == std::optional<std::string>(bytes({0xFF})));
    CHECK(percentDecode("%aB%Cd") == std::optional<std::string>(bytes({0xAB, 0xCD})));
}

TEST_CASE("percentDecode keeps NUL bytes", "[query_string]") {
    auto decoded = percentDecode("a%00b%00");
    REQUIRE(decoded.has_value());
    CHECK(decoded->size() == 4);
    CHECK(*decoded == bytes({'a', 0, 'b', 0}));
}

TEST_CASE("percentDecode refuses malformed escapes", "[query_string]") {
    CHECK_FALSE(percentDecode("%4").has_value());
    CHECK_FALSE(percentDecode("%zz").has_value());
    CHECK_FALSE(percentDecode("%g0").has_value());
    CHECK_FALSE(percentDecode("%0g").has_value());
    CHECK_FALSE(percentDecode("%").has_value());
    CHECK_FALSE(percentDecode("abc%").has_value());
    CHECK_FALSE(percentDecode("abc%A").has_value());
    CHECK_FALSE(percentDecode("%%41").has_value());
    CHECK_FALSE(percentDecode("%-1").has_value());
    CHECK_FALSE(percentDecode("% 1").has_value());
}

TEST_CASE("percentDecode does not read past the view it is given", "[query_string]") {
    // The view ends right after `%` / `%A`; the bytes after it in memory are valid hex digits
    // that an over-reading decoder would use.
    const std::string backing = "ab%41FF";
    CHECK_FALSE(percentDecode(std::string_view(backing.data(), 3)).has_value());  // "ab%"
    CHECK_FALSE(percentDecode(std::string_view(backing.data(), 4)).has_value());  // "ab%4"
    CHECK(percentDecode(std::string_view(backing.data(), 5)) == std::optional<std::string>("abA"));
}

TEST_CASE("QueryString keeps every pair in order", "[query_string]") {
    auto qs = QueryString::parse("a=1&b=2&a=3&c=");
    const auto& params = qs.params();
    REQUIRE(params.size() == 4);
    CHECK(params[0].key == "a");
    CHECK(params[0].value == "1");
    CHECK(params[1].key == "b");
    CHECK(params[1].value == "2");
    CHECK(params[2].key == "a");
    CHECK(params[2].value == "3");
    CHECK(params[3].key == "c");
    CHECK(params[3].value == "");
    for (const auto& p : params)
        CHECK_FALSE(p.malformed);
}

TEST_CASE("QueryString first and all for repeated keys", "[query_string]") {
    auto qs = QueryString::parse("info_hash=x&port=1&info_hash=y&info_hash=z");
    const auto* first = qs.first("info_hash");
    REQUIRE(first != nullptr);
    CHECK(first->value == "x");
    auto all = qs.all("info_hash");
    REQUIRE(all.size() == 3);
    CHECK(all[0]->value == "x");
    CHECK(all[1]->value == "y");
    CHECK(all[2]->value == "z");
    CHECK(qs.first("missing") == nullptr);
    CHECK(qs.all("missing").empty());
    // Keys match exactly, not by prefix.
    CHECK(qs.first("info") == nullptr);
    CHECK(qs.first("info_hash2") == nullptr);
}

TEST_CASE("QueryString skips empty segments", "[query_string]") {
    auto qs = QueryString::parse("&a=1&&b=2&");
    const auto& params = qs.params();
    REQUIRE(params.size() == 2);
    CHECK(params[0].key == "a");
    CHECK(params[0].value == "1");
    CHECK(params[1].key == "b");
    CHECK(params[1].value == "2");

    CHECK(QueryString::parse("").params().empty());
    CHECK(QueryString::parse("&&&").params().empty());
}

TEST_CASE("QueryString key without = has an empty value", "[query_string]") {
    auto qs = QueryString::parse("a=1&flag&b=2");
    const auto& params = qs.params();
    REQUIRE(params.size() == 3);
    CHECK(params[1].key == "flag");
    CHECK(params[1].value == "");
    CHECK_FALSE(params[1].malformed);
    const auto* flag = qs.first("flag");
    REQUIRE(flag != nullptr);
    CHECK(flag->value.empty());
}

TEST_CASE("QueryString splits on the first = only", "[query_string]") {
    auto qs = QueryString::parse("a=b=c");
    REQUIRE(qs.params().size() == 1);
    CHECK(qs.params()[0].key == "a");
    CHECK(qs.params()[0].value == "b=c");
}

TEST_CASE("QueryString decodes keys and values binary-safely", "[query_string]") {
    auto qs = QueryString::parse("info%5Fhash=%00%26%3D%2B%25%FF&x=a+b");
    const auto* ih = qs.first("info_hash");
    REQUIRE(ih != nullptr);
    CHECK(ih->value.size() == 6);
    CHECK(ih->value == bytes({0x00, '&', '=', '+', '%', 0xFF}));
    CHECK_FALSE(ih->malformed);
    const auto* x = qs.first("x");
    REQUIRE(x != nullptr);
    CHECK(x->value == "a+b");
}

TEST_CASE("QueryString keeps NUL bytes inside values", "[query_string]") {
    auto qs = QueryString::parse("v=%00%00%00&w=1");
    const auto* v = qs.first("v");
    REQUIRE(v != nullptr);
    CHECK(v->value.size() == 3);
    CHECK(v->value == std::string(3, '\0'));
    const auto* w = qs.first("w");
    REQUIRE(w != nullptr);
    CHECK(w->value == "1");
}

TEST_CASE("QueryString marks malformed escapes and goes on", "[query_string]") {
    auto qs = QueryString::parse("a=%4&b=%zz&c=ok&d=x%");
    const auto& params = qs.params();
    REQUIRE(params.size() == 4);
    CHECK(params[0].key == "a");
    CHECK(params[0].malformed);
    CHECK(params[1].key == "b");
    CHECK(params[1].malformed);
    CHECK(params[2].key == "c");
    CHECK(params[2].value == "ok");
    CHECK_FALSE(params[2].malformed);
    CHECK(params[3].key == "d");
    CHECK(params[3].malformed);
}

TEST_CASE("QueryString with a string ending in % or %A", "[query_string]") {
    {
        const std::string backing = "a=1&b=%41";
        // The view stops after "b=%": the "41" behind it must not be read.
        auto qs = QueryString::parse(std::string_view(backing.data(), 7));
        REQUIRE(qs.params().size() == 2);
        CHECK(qs.params()[0].value == "1");
        CHECK_FALSE(qs.params()[0].malformed);
        CHECK(qs.params()[1].key == "b");
        CHECK(qs.params()[1].malformed);
    }
    {
        const std::string backing = "a=1&b=%41";
        // The view stops after "b=%4".
        auto qs = QueryString::parse(std::string_view(backing.data(), 8));
        REQUIRE(qs.params().size() == 2);
        CHECK(qs.params()[1].key == "b");
        CHECK(qs.params()[1].malformed);
    }
    {
        auto qs = QueryString::parse("b=%A");
        REQUIRE(qs.params().size() == 1);
        CHECK(qs.params()[0].malformed);
    }
    {
        auto qs = QueryString::parse("%");
        // A lone `%` key is malformed; it must not crash. Either it is kept as malformed or it
        // is dropped, but it is never a valid pair.
        for (const auto& p : qs.params())
            CHECK(p.malformed);
    }
}

TEST_CASE("QueryString handles a raw query with a NUL byte in it", "[query_string]") {
    const std::string raw = bytes({'a', '=', 'x', 0x00, 'y', '&', 'b', '=', '2'});
    auto qs = QueryString::parse(raw);
    const auto* a = qs.first("a");
    REQUIRE(a != nullptr);
    CHECK(a->value == bytes({'x', 0x00, 'y'}));
    const auto* b = qs.first("b");
    REQUIRE(b != nullptr);
    CHECK(b->value == "2");
}
