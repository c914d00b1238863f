#include "swarms/swarm_cache.h"

namespace tracker::swarms {

// Keyed: info hashes of unregistered torrents come from clients.
std::size_t SwarmCache::KeyHash::operator()(const Key& key) const {
    std::uint64_t h = (*seeded)(protocol::view(key.infoHash));
    return static_cast<std::size_t>(key.leechersOnly ? mixBits(h) : h);
}

SwarmCache::SwarmCache(std::chrono::milliseconds ttl, std::size_t maxPeers)
    : ttl_(ttl),
      maxPeersPerShard_(maxPeers / kShards + 1),
      seeded_(std::make_shared<const SeededHash>()),
      hash_{seeded_.get()} {
    shards_.reserve(kShards);
    for (std::size_t i = 0; i < kShards; ++i)
        shards_.push_back(std::make_unique<Shard>(hash_));
}

SwarmCache::Shard& SwarmCache::shardFor(const Key& key) {
    // The top bits pick the shard; the map's buckets use the low ones.
    return *shards_[(hash_(key) >> 59) % kShards];
}

std::shared_ptr<const SwarmView> SwarmCache::find(const protocol::InfoHash& infoHash,
                                                  bool leechersOnly, Clock::time_point now) {
    Key key{infoHash, leechersOnly};
    Shard& shard = shardFor(key);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end())
        return nullptr;
    Entry& entry = it->second;
    auto age = now - entry.readAt;
    if (age >= ttl_)
        return nullptr;
    if (age < ttl_ - ttl_ / 4)
        return entry.view;
    bool refreshing = entry.refreshSince > entry.readAt && now - entry.refreshSince < ttl_ / 4;
    if (refreshing)
        return entry.view;
    entry.refreshSince = now;  // this caller reads it again; the others keep this one meanwhile
    return nullptr;
}

void SwarmCache::put(const protocol::InfoHash& infoHash, bool leechersOnly,
                     std::shared_ptr<const SwarmView> view, Clock::time_point now) {
    Key key{infoHash, leechersOnly};
    Shard& shard = shardFor(key);
    std::size_t peers = view->peers.size() + 1;  // +1: an empty view still takes room
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.entries.find(key);
    if (it != shard.entries.end()) {
        shard.peers -= it->second.view->peers.size() + 1;
        shard.entries.erase(it);
    }
    if (shard.peers + peers > maxPeersPerShard_ || now - shard.lastSweep > 4 * ttl_) {
        shard.evictExpired(now - ttl_);
        shard.lastSweep = now;
        if (shard.peers + peers > maxPeersPerShard_) {
            shard.entries.clear();
            shard.peers = 0;
        }
    }
    shard.entries.emplace(key, Entry{std::move(view), now});
    shard.peers += peers;
}

void SwarmCache::Shard::evictExpired(Clock::time_point oldest) {
    for (auto it = entries.begin(); it != entries.end();) {
        if (it->second.readAt <= oldest) {
            peers -= it->second.view->peers.size() + 1;
            it = entries.erase(it);
        } else {
            ++it;
        }
    }
}

std::size_t SwarmCache::entries() const {
    std::size_t total = 0;
    for (const auto& shard : shards_) {
        std::lock_guard<std::mutex> lock(shard->mutex);
        total += shard->entries.size();
    }
    return total;
}

}  // namespace tracker::swarms
