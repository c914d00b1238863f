#include "swarms/swarm_replica.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "swarms/hash_mix.h"

namespace tracker::swarms {
namespace {

// Copies `count` peers of `first` ++ `second` starting at `start`, wrapping round.
std::vector<StoredPeer> window(const std::vector<StoredPeer>& first,
                               const std::vector<StoredPeer>& second, std::size_t start,
                               std::size_t count) {
    std::size_t total = first.size() + second.size();
    std::vector<StoredPeer> taken;
    taken.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t at = (start + i) % total;
        taken.push_back(at < first.size() ? first[at] : second[at - first.size()]);
    }
    return taken;
}

}  // namespace

// The keys are the database's info hashes (SHA-1 digests), not chosen by clients.
std::size_t SwarmReplica::HashOfInfoHash::operator()(const protocol::InfoHash& hash) const {
    std::uint64_t word;
    std::memcpy(&word, hash.data(), sizeof word);
    return static_cast<std::size_t>(mixBits(word));
}

std::size_t SwarmReplica::HashOfPeerKey::operator()(const PeerKey& key) const {
    std::uint64_t words[2] = {};
    std::memcpy(words, key.uid.view().data(), key.uid.size());
    return static_cast<std::size_t>(mixBits(mixBits(key.tid ^ words[0]) ^ words[1]));
}

SwarmReplica::SwarmReplica() : placement_(std::random_device{}()) {}

void SwarmReplica::fillRegistry(State& state, const Registry& registry) {
    state.registry.clear();
    state.registry.reserve(registry.size());
    for (const auto& [hash, torrent] : registry)
        state.registry[hash] = torrent;
}

void SwarmReplica::replaceAll(const Registry& registry, const std::vector<PeerChange>& peers) {
    State fresh;
    fillRegistry(fresh, registry);
    fresh.slots.reserve(peers.size());
    std::mt19937 placement(std::random_device{}());
    for (const PeerChange& change : peers)
        applyTo(fresh, change, placement);
    std::unique_lock<std::shared_mutex> lock(mutex_);
    std::swap(state_, fresh);
    lock.unlock();
    // `fresh` (the old state) is freed here, outside the lock.
}

void SwarmReplica::replaceRegistry(const Registry& registry) {
    State aside;
    fillRegistry(aside, registry);
    std::unique_lock<std::shared_mutex> lock(mutex_);
    std::swap(state_.registry, aside.registry);
}

void SwarmReplica::apply(const std::vector<PeerChange>& changes) {
    constexpr std::size_t kSlice = 1024;
    for (std::size_t first = 0; first < changes.size(); first += kSlice) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        std::size_t end = std::min(changes.size(), first + kSlice);
        for (std::size_t i = first; i < end; ++i)
            applyTo(state_, changes[i], placement_);
    }
}

void SwarmReplica::remove(State& state, std::uint32_t tid, Swarm& swarm, Slot slot) {
    std::vector<StoredPeer>& list = swarm.list(slot.seeder);
    if (slot.index + 1 != list.size()) {
        list[slot.index] = list.back();
        state.slots[PeerKey{tid, list[slot.index].uid}] = slot;
    }
    list.pop_back();
    --state.peers;
}

void SwarmReplica::applyTo(State& state, const PeerChange& change, std::mt19937& placement) {
    PeerKey key{change.tid, change.peer.uid};
    auto slotAt = state.slots.find(key);
    if (slotAt != state.slots.end()) {
        Swarm& swarm = state.swarms[change.tid];
        Slot slot = slotAt->second;
        if (change.present && slot.seeder == change.peer.seeder) {
            swarm.list(slot.seeder)[slot.index] = change.peer;
            return;
        }
        state.slots.erase(slotAt);
        remove(state, change.tid, swarm, slot);
        if (!change.present) {
            if (swarm.seeders.empty() && swarm.leechers.empty())
                state.swarms.erase(change.tid);
            return;
        }
    } else if (!change.present) {
        return;
    }
    // A new peer takes a random place, so that any run of the list is a random sample.
    Swarm& swarm = state.swarms[change.tid];
    std::vector<StoredPeer>& list = swarm.list(change.peer.seeder);
    list.push_back(change.peer);
    auto at = static_cast<std::uint32_t>(
        std::uniform_int_distribution<std::size_t>(0, list.size() - 1)(placement));
    auto last = static_cast<std::uint32_t>(list.size() - 1);
    if (at != last) {
        std::swap(list[at], list[last]);
        state.slots[PeerKey{change.tid, list[last].uid}] = Slot{last, change.peer.seeder};
    }
    state.slots[key] = Slot{at, change.peer.seeder};
    ++state.peers;
}

SwarmReplica::Answer SwarmReplica::find(const protocol::InfoHash& infoHash, bool leechersOnly,
                                        std::uint32_t candidates, std::uint32_t randomPoint) const {
    Answer answer;
    std::shared_lock<std::shared_mutex> lock(mutex_);
    auto torrent = state_.registry.find(infoHash);
    if (torrent == state_.registry.end())
        return answer;
    answer.tid = torrent->second.tid;
    if (torrent->second.banned) {
        answer.found = Found::Banned;
        return answer;
    }
    answer.found = Found::Registered;
    answer.counts.downloaded = torrent->second.downloaded;
    auto swarm = state_.swarms.find(answer.tid);
    if (swarm == state_.swarms.end())
        return answer;
    const std::vector<StoredPeer>& seeders = swarm->second.seeders;
    const std::vector<StoredPeer>& leechers = swarm->second.leechers;
    answer.counts.complete = static_cast<std::int64_t>(seeders.size());
    answer.counts.incomplete = static_cast<std::int64_t>(leechers.size());
    static const std::vector<StoredPeer> none;
    const std::vector<StoredPeer>& first = leechersOnly ? leechers : seeders;
    const std::vector<StoredPeer>& second = leechersOnly ? none : leechers;
    std::size_t total = first.size() + second.size();
    std::size_t count = std::min<std::size_t>(candidates, total);
    if (count == 0)
        return answer;
    // A window of the whole list starts anywhere; a smaller one is a run from a random place.
    std::size_t start = count == total ? 0 : randomPoint % total;
    answer.peers = PeerList(
        std::make_shared<const std::vector<StoredPeer>>(window(first, second, start, count)));
    return answer;
}

SwarmReplica::Stats SwarmReplica::stats() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return Stats{state_.registry.size(), state_.peers};
}

}  // namespace tracker::swarms
