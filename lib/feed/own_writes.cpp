#include "feed/own_writes.h"

#include <algorithm>
#include <cstring>

namespace tracker::feed {

std::string OwnWrites::key(std::uint32_t tid, std::string_view uid) {
    std::string k(sizeof tid + uid.size(), '\0');
    std::memcpy(k.data(), &tid, sizeof tid);
    std::memcpy(k.data() + sizeof tid, uid.data(), uid.size());
    return k;
}

void OwnWrites::note(const PeerChange& change, std::uint64_t floor) {
    std::uint64_t& noted = floors_[key(change.tid, change.peer.uid.view())];
    noted = std::max(noted, floor);
}

std::size_t OwnWrites::filter(std::vector<PeerChange>& changes,
                              std::vector<std::uint64_t>& numbers) const {
    if (floors_.empty())
        return 0;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < changes.size(); ++i) {
        auto noted = floors_.find(key(changes[i].tid, changes[i].peer.uid.view()));
        if (noted != floors_.end() && numbers[i] <= noted->second)
            continue;
        if (kept != i) {
            changes[kept] = changes[i];
            numbers[kept] = numbers[i];
        }
        ++kept;
    }
    std::size_t dropped = changes.size() - kept;
    changes.resize(kept);
    numbers.resize(kept);
    return dropped;
}

void OwnWrites::passed(std::uint64_t applied) {
    for (auto it = floors_.begin(); it != floors_.end();) {
        if (it->second <= applied)
            it = floors_.erase(it);
        else
            ++it;
    }
}

}  // namespace tracker::feed
