// Choosing which peers an announce hands out: a pure function over candidates the store read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "peer_address.h"

namespace tracker::protocol {

// A peer of the swarm as the store read it. Views point into the store's result buffers.
struct PeerCandidate {
    std::string_view uid;
    std::string_view peerId;
    PeerAddress address;
    std::uint16_t port = 0;
    bool seeder = false;
    bool requiresCrypto = false;
};

struct SelectionRules {
    std::string_view selfUid;      // the asking peer: never handed itself
    bool selfIsSeeder = false;     // a seeder gets leechers only
    bool selfCanDoCrypto = false;  // else peers that require crypto are left out
    std::size_t numwant = 50;
};

// Indexes into `candidates` of the peers to hand out: at most numwant, none that break the
// rules, and when more qualify, a uniformly random subset of them (in random order).
std::vector<std::size_t> selectPeers(const std::vector<PeerCandidate>& candidates,
                                     const SelectionRules& rules, std::mt19937_64& rng);

}  // namespace tracker::protocol
