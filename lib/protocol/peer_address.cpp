#include "peer_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace tracker::protocol {
namespace {

constexpr std::uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool inV4Range(const std::uint8_t* a, std::uint32_t base, int prefixBits) {
    std::uint32_t value = (std::uint32_t{a[0]} << 24) | (std::uint32_t{a[1]} << 16) |
                          (std::uint32_t{a[2]} << 8) | std::uint32_t{a[3]};
    std::uint32_t mask = prefixBits == 0 ? 0 : ~std::uint32_t{0} << (32 - prefixBits);
    return (value & mask) == (base & mask);
}

bool isPublicV4(const std::uint8_t* a) {
    struct Range {
        std::uint32_t base;
        int bits;
    };
    static constexpr Range kNotPublic[] = {
        {0x00000000, 8},   // "this" network
        {0x0a000000, 8},   // private
        {0x64400000, 10},  // carrier-grade NAT
        {0x7f000000, 8},   // loopback
        {0xa9fe0000, 16},  // link-local
        {0xac100000, 12},  // private
        {0xc0000000, 24},  // IETF protocol assignments
        {0xc0000200, 24},  // documentation
        {0xc0a80000, 16},  // private
        {0xc6120000, 15},  // benchmarking
        {0xc6336400, 24},  // documentation
        {0xcb007100, 24},  // documentation
        {0xe0000000, 4},   // multicast
        {0xf0000000, 4},   // reserved and broadcast
    };
    for (const auto& range : kNotPublic) {
        if (inV4Range(a, range.base, range.bits))
            return false;
    }
    return true;
}

bool isPublicV6(const std::uint8_t* a) {
    // Global unicast is 2000::/3; within it, documentation 2001:db8::/32 is not routable.
    if ((a[0] & 0xe0) != 0x20)
        return false;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return false;
    return true;
}

}  // namespace

std::optional<PeerAddress> PeerAddress::parse(std::string_view text) {
    // inet_pton needs a NUL-terminated string; addresses are short, anything long is garbage.
    char buffer[64];
    if (text.empty() || text.size() >= sizeof buffer)
        return std::nullopt;
    if (text.find('\0') != std::string_view::npos)
        return std::nullopt;
    std::memcpy(buffer, text.data(), text.size());
    buffer[text.size()] = '\0';

    PeerAddress address;
    if (inet_pton(AF_INET, buffer, address.bytes.data()) == 1) {
        address.family = Family::V4;
        return address;
    }
    std::array<std::uint8_t, 16> v6{};
    if (inet_pton(AF_INET6, buffer, v6.data()) == 1) {
        if (std::memcmp(v6.data(), kV4MappedPrefix, sizeof kV4MappedPrefix) == 0) {
            address.family = Family::V4;
            std::memcpy(address.bytes.data(), v6.data() + 12, 4);
        } else {
            address.family = Family::V6;
            address.bytes = v6;
        }
        return address;
    }
    return std::nullopt;
}

std::string PeerAddress::toString() const {
    char buffer[INET6_ADDRSTRLEN];
    const char* text = inet_ntop(isV4() ? AF_INET : AF_INET6, bytes.data(), buffer, sizeof buffer);
    return text ? std::string(text) : std::string();
}

bool PeerAddress::isPublic() const {
    return isV4() ? isPublicV4(bytes.data()) : isPublicV6(bytes.data());
}

}  // namespace tracker::protocol
