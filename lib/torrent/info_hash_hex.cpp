#include "torrent/info_hash_hex.h"

#include "protocol/hex.h"

namespace tracker::torrent {
std::string toHex(const protocol::InfoHash& hash) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(40);
    for (char c : hash) {
        auto byte = static_cast<unsigned char>(c);
        out.push_back(digits[byte >> 4]);
        out.push_back(digits[byte & 15]);
    }
    return out;
}

std::optional<protocol::InfoHash> parseHexInfoHash(std::string_view text) {
    if (text.size() != 40)
        return std::nullopt;
    protocol::InfoHash hash{};
    for (std::size_t i = 0; i < 20; ++i) {
        int high = protocol::hexDigitValue(text[2 * i]);
        int low = protocol::hexDigitValue(text[2 * i + 1]);
        if (high < 0 || low < 0)
            return std::nullopt;
        hash[i] = static_cast<char>(high * 16 + low);
    }
    return hash;
}

}  // namespace tracker::torrent
