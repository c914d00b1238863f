// libFuzzer target: the strict bencode decoder (bdecode).
//
// The whole input is the bencoded text. The decoder accepts only canonical bencode (no leading
// zeros, no -0, sorted unique dict keys), so whatever it accepts, BencodeWriter must write back
// byte for byte; and every value's [begin, end) span (what a .torrent's info hash covers) must
// hold exactly that value's encoding. A lower depth limit may only refuse more, never differ.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "protocol/bencode.h"

using namespace tracker::protocol;

namespace {

void encode(const BValue& value, BencodeWriter& writer) {
    if (const auto* i = value.asInt()) {
        writer.integer(*i);
    } else if (const auto* s = value.asString()) {
        writer.string(*s);
    } else if (const auto* list = value.asList()) {
        writer.beginList();
        for (const BValue& item : *list)
            encode(item, writer);
        writer.end();
    } else {
        writer.beginDict();
        for (const auto& [key, item] : *value.asDict()) {
            writer.key(key);
            encode(item, writer);
        }
        writer.end();
    }
}

std::string encoded(const BValue& value) {
    std::string out;
    BencodeWriter writer(out);
    encode(value, writer);
    return out;
}

// Each value's span lies inside its parent's and holds exactly its own encoding; the items of
// a list follow each other without gaps, and a dict's values each follow their key.
void checkSpans(const BValue& value, std::string_view input, std::size_t lo, std::size_t hi) {
    FUZZ_CHECK(lo <= value.begin && value.begin < value.end && value.end <= hi);
    FUZZ_CHECK(input.substr(value.begin, value.end - value.begin) == encoded(value));
    std::size_t next = value.begin + 1;  // after the `l` or `d`
    if (const auto* list = value.asList()) {
        for (const BValue& item : *list) {
            FUZZ_CHECK(item.begin == next);
            checkSpans(item, input, value.begin + 1, value.end - 1);
            next = item.end;
        }
        FUZZ_CHECK(next == value.end - 1);
    } else if (const auto* dict = value.asDict()) {
        for (const auto& [key, item] : *dict) {
            FUZZ_CHECK(item.begin == next + std::to_string(key.size()).size() + 1 + key.size());
            checkSpans(item, input, value.begin + 1, value.end - 1);
            next = item.end;
        }
        FUZZ_CHECK(next == value.end - 1);
    }
}

int depthOf(const BValue& value) {
    int deepest = 0;
    if (const auto* list = value.asList()) {
        for (const BValue& item : *list)
            deepest = std::max(deepest, depthOf(item));
    } else if (const auto* dict = value.asDict()) {
        for (const auto& entry : *dict)
            deepest = std::max(deepest, depthOf(entry.second));
    }
    return deepest + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto result = bdecode(input);
    auto shallow = bdecode(input, 4);
    if (const auto* error = std::get_if<BDecodeError>(&result)) {
        FUZZ_CHECK(error->offset <= input.size());
        FUZZ_CHECK(!error->message.empty());
        FUZZ_CHECK(std::holds_alternative<BDecodeError>(shallow));
        return 0;
    }
    const BValue& value = std::get<BValue>(result);
    // Canonical round trip: the decoder is strict, so the bytes come back exactly.
    std::string out = encoded(value);
    if (out != input) {
        std::fprintf(stderr, "round trip differs: %zu bytes in, %zu bytes out\n", input.size(),
                     out.size());
        std::abort();
    }
    FUZZ_CHECK(value.begin == 0 && value.end == input.size());
    checkSpans(value, input, 0, input.size());
    int depth = depthOf(value);
    FUZZ_CHECK(depth <= 64);
    if (depth <= 4) {
        FUZZ_CHECK(std::holds_alternative<BValue>(shallow));
        FUZZ_CHECK(encoded(std::get<BValue>(shallow)) == out);
    } else {
        FUZZ_CHECK(std::holds_alternative<BDecodeError>(shallow));
    }
    return 0;
}
