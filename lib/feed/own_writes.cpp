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

void OwnWrites::noteCompletion(std::uint32_t tid, std::uint64_t floor) {
    std::uint64_t& noted = completions_[tid];
    noted = std::max(noted, floor);
}

namespace {

// Keeps the changes `older` does not say are older than something noted, in order.
template <typename Change, typename Older>
std::size_t dropOlder(std::vector<Change>& changes, std::vector<std::uint64_t>& numbers,
                      Older older) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < changes.size(); ++i) {
        if (older(changes[i], numbers[i]))
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

}  // namespace

std::size_t OwnWrites::filter(std::vector<PeerChange>& changes,
                              std::vector<std::uint64_t>& numbers) const {
    if (floors_.empty())
        return 0;
    return dropOlder(changes, numbers, [this](const PeerChange& change, std::uint64_t number) {
        auto noted = floors_.find(key(change.tid, change.peer.uid.view()));
        return noted != floors_.end() && number <= noted->second;
    });
}

std::size_t OwnWrites::filter(std::vector<TorrentChange>& changes,
                              std::vector<std::uint64_t>& numbers) const {
    if (completions_.empty())
        return 0;
    return dropOlder(changes, numbers, [this](const TorrentChange& change, std::uint64_t number) {
        // A removal always lands: a completion in a torrent already gone writes nothing, so
        // nothing newer would come to take it out.
        if (!change.present)
            return false;
        auto noted = completions_.find(change.tid);
        return noted != completions_.end() && number <= noted->second;
    });
}

void OwnWrites::passed(std::uint64_t applied) {
    auto sweep = [applied](auto& noted) {
        for (auto it = noted.begin(); it != noted.end();) {
            if (it->second <= applied)
                it = noted.erase(it);
            else
                ++it;
        }
    };
    sweep(floors_);
    sweep(completions_);
}

}  // namespace tracker::feed
