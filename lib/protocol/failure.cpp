#include "failure.h"

#include <cstdio>

namespace tracker::protocol {

std::string Failure::reason() const {
    std::string text = "Tracker error";
    int number = static_cast<int>(code);
    if (number >= 1 && number <= 6) {
        text += " #" + std::to_string(number);
    }
    text += ": ";
    text += detail;
    return text;
}

Failure makeFailure(FailureCode code, std::string detail) {
    return Failure{code, std::move(detail)};
}

std::string quoteValue(std::string_view value) {
    constexpr std::size_t kShown = 48;
    std::string out = "\"";
    for (std::size_t i = 0; i < value.size() && i < kShown; ++i) {
        auto byte = static_cast<unsigned char>(value[i]);
        if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
            out.push_back(static_cast<char>(byte));
        } else {
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
            out += escaped;
        }
    }
    out += "\"";
    if (value.size() > kShown) {
        out += " (" + std::to_string(value.size()) + " bytes, cut)";
    }
    return out;
}

}  // namespace tracker::protocol
