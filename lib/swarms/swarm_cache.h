// What this process last read of each swarm (registered? banned? counts, candidates), kept for a
// short TTL so that the announces to a busy swarm in that moment cost no database round trip.
// The TTL is the delay after which a ban, a registration or a new peer is seen here.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "protocol/announce_request.h"
#include "protocol/responses.h"
#include "swarms/peer.h"
#include "swarms/seeded_hash.h"

namespace tracker::swarms {

// One read of a swarm: the registry row and, for a registered unbanned torrent, its counts and
// candidates (all peers, or leechers only: what a seeder is handed).
struct SwarmView {
    enum class Registry : std::uint8_t { Registered, NotRegistered, Banned };
    Registry registry = Registry::NotRegistered;
    std::uint32_t tid = 0;
    protocol::SwarmCounts counts;
    PeerList peers;
};

class SwarmCache {
  public:
    using Clock = std::chrono::steady_clock;

    // Expired entries are swept every few TTLs, so memory follows the swarms announced to in the
    // last moments. At most about `maxPeers` cached candidates in all (each shard holds its
    // share); past that, the shard is emptied.
    SwarmCache(std::chrono::milliseconds ttl, std::size_t maxPeers = 1 << 20);

    // The view read less than ttl ago, or null: then the caller reads the swarm and put()s it.
    // In a view's last quarter of life, one caller is sent to read it again (null) while the
    // others are still served it: a busy swarm is re-read once, not by every worker thread at
    // the moment it expires.
    std::shared_ptr<const SwarmView> find(const protocol::InfoHash& infoHash, bool leechersOnly,
                                          Clock::time_point now);
    void put(const protocol::InfoHash& infoHash, bool leechersOnly,
             std::shared_ptr<const SwarmView> view, Clock::time_point now);

    std::size_t entries() const;

  private:
    struct Key {
        protocol::InfoHash infoHash;
        bool leechersOnly;
        friend bool operator==(const Key& a, const Key& b) {
            return a.leechersOnly == b.leechersOnly && a.infoHash == b.infoHash;
        }
    };
    struct KeyHash {
        const SeededHash* seeded;
        std::size_t operator()(const Key& key) const;
    };
    struct Entry {
        std::shared_ptr<const SwarmView> view;
        Clock::time_point readAt;
        Clock::time_point refreshSince{};  // when a caller was sent to read it again
    };
    struct Shard {
        mutable std::mutex mutex;
        std::unordered_map<Key, Entry, KeyHash> entries;
        std::size_t peers = 0;
        Clock::time_point lastSweep;
        explicit Shard(KeyHash hash) : entries(16, hash) {}
        void evictExpired(Clock::time_point oldest);
    };
    static constexpr std::size_t kShards = 32;

    Shard& shardFor(const Key& key);

    std::chrono::milliseconds ttl_;
    std::size_t maxPeersPerShard_;
    std::shared_ptr<const SeededHash> seeded_;
    KeyHash hash_;
    std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace tracker::swarms
