// An IPv4 or IPv6 peer address in network byte order, parsed from text.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tracker::protocol {

// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, as a dual-stack listener reports them) are
// stored as IPv4: BEP 7 counts them as IPv4 peers.
struct PeerAddress {
    enum class Family : std::uint8_t { V4, V6 };
    Family family = Family::V4;
    std::array<std::uint8_t, 16> bytes{};  // V4 uses the first 4

    static std::optional<PeerAddress> parse(std::string_view text);

    bool isV4() const { return family == Family::V4; }
    std::size_t size() const { return isV4() ? 4 : 16; }
    std::string_view raw() const { return {reinterpret_cast<const char*>(bytes.data()), size()}; }
    // Canonical text (inet_ntop form), as stored in `peers.ip`.
    std::string toString() const;
    // A globally routable unicast address: not private, loopback, link-local, CGNAT,
    // multicast, documentation or reserved. The PHP honoured `ip` only for these.
    bool isPublic() const;

    friend bool operator==(const PeerAddress& a, const PeerAddress& b) {
        return a.family == b.family && a.bytes == b.bytes;
    }
};

}  // namespace tracker::protocol
