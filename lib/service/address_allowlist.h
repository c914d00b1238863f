// Which client addresses may read the live stats: exact addresses or CIDR blocks
// (`127.0.0.1`, `::1`, `10.0.0.0/8`), from the config's statsAllow.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/peer_address.h"

namespace tracker::service {

class AddressAllowlist {
  public:
    // Nothing, with the offending entry in `badEntry`, when an entry is not an address or CIDR.
    static std::optional<AddressAllowlist> parse(const std::vector<std::string>& entries,
                                                 std::string* badEntry = nullptr);
    bool allows(std::string_view remoteAddr) const;

  private:
    struct Block {
        protocol::PeerAddress network;
        unsigned prefixBits;
    };
    std::vector<Block> blocks_;
};

}  // namespace tracker::service
