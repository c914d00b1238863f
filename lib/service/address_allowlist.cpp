#include "service/address_allowlist.h"

#include "protocol/numbers.h"

namespace tracker::service {
namespace {

bool samePrefix(const protocol::PeerAddress& a, const protocol::PeerAddress& b, unsigned bits) {
    for (unsigned i = 0; i < bits / 8; ++i) {
        if (a.bytes[i] != b.bytes[i])
            return false;
    }
    unsigned rest = bits % 8;
    if (rest == 0)
        return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a.bytes[bits / 8] & mask) == (b.bytes[bits / 8] & mask);
}

}  // namespace

std::optional<AddressAllowlist> AddressAllowlist::parse(const std::vector<std::string>& entries,
                                                        std::string* badEntry) {
    AddressAllowlist list;
    for (const std::string& entry : entries) {
        std::string_view text = entry;
        std::size_t slash = text.find('/');
        auto address = protocol::PeerAddress::parse(text.substr(0, slash));
        unsigned maxBits = address && address->isV4() ? 32 : 128;
        unsigned bits = maxBits;
        if (address && slash != std::string_view::npos) {
            auto parsed = protocol::parseUnsigned(text.substr(slash + 1));
            bits = parsed && *parsed <= maxBits ? static_cast<unsigned>(*parsed) : maxBits + 1;
        }
        if (!address || bits > maxBits) {
            if (badEntry != nullptr)
                *badEntry = entry;
            return std::nullopt;
        }
        list.blocks_.push_back({*address, bits});
    }
    return list;
}

bool AddressAllowlist::allows(std::string_view remoteAddr) const {
    auto address = protocol::PeerAddress::parse(remoteAddr);
    if (!address)
        return false;
    for (const Block& block : blocks_) {
        if (block.network.family == address->family &&
            samePrefix(block.network, *address, block.prefixBits)) {
            return true;
        }
    }
    return false;
}

}  // namespace tracker::service
