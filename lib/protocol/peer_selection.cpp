#include "peer_selection.h"

namespace tracker::protocol {

std::vector<std::size_t> selectPeers(const std::vector<PeerCandidate>& candidates,
                                     const SelectionRules& rules, std::mt19937_64& rng) {
    std::vector<std::size_t> eligible;
    if (rules.numwant == 0)
        return eligible;
    eligible.reserve(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const PeerCandidate& peer = candidates[i];
        if (peer.uid == rules.selfUid)
            continue;
        if (rules.selfIsSeeder && peer.seeder)
            continue;
        if (peer.requiresCrypto && !rules.selfCanDoCrypto)
            continue;
        eligible.push_back(i);
    }
    // A partial Fisher-Yates shuffle: the first numwant places become a uniform random subset.
    std::size_t wanted = std::min(rules.numwant, eligible.size());
    for (std::size_t i = 0; i < wanted; ++i) {
        std::uniform_int_distribution<std::size_t> pick(i, eligible.size() - 1);
        std::swap(eligible[i], eligible[pick(rng)]);
    }
    eligible.resize(wanted);
    return eligible;
}

}  // namespace tracker::protocol
