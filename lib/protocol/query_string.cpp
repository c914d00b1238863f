#include "query_string.h"

#include "hex.h"

namespace tracker::protocol {
std::optional<std::string> percentDecode(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (in.size() - i < 3)
            return std::nullopt;  // `%` needs two hex digits after it
        int high = hexDigitValue(in[i + 1]);
        int low = hexDigitValue(in[i + 2]);
        if (high < 0 || low < 0)
            return std::nullopt;
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

QueryString QueryString::parse(std::string_view raw) {
    QueryString result;
    while (!raw.empty()) {
        std::size_t amp = raw.find('&');
        std::string_view segment = raw.substr(0, amp);
        raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
        if (segment.empty())
            continue;

        std::size_t eq = segment.find('=');
        std::string_view rawKey = segment.substr(0, eq);
        std::string_view rawValue =
            eq == std::string_view::npos ? std::string_view{} : segment.substr(eq + 1);
        QueryParam param;
        auto key = percentDecode(rawKey);
        auto value = percentDecode(rawValue);
        if (key) {
            param.key = std::move(*key);
        } else {
            param.key = std::string(rawKey);
            param.malformed = true;
        }
        if (value) {
            param.value = std::move(*value);
        } else {
            param.malformed = true;
        }
        result.params_.push_back(std::move(param));
    }
    return result;
}

const QueryParam* QueryString::first(std::string_view key) const {
    for (const auto& param : params_) {
        if (param.key == key)
            return &param;
    }
    return nullptr;
}

std::vector<const QueryParam*> QueryString::all(std::string_view key) const {
    std::vector<const QueryParam*> found;
    for (const auto& param : params_) {
        if (param.key == key)
            found.push_back(&param);
    }
    return found;
}

}  // namespace tracker::protocol
