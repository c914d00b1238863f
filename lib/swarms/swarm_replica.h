// Every registered torrent and every peer, in this process's memory, as the peer feed last
// brought them from the database (see ReplicaFeed): an announce is answered from here without a
// round trip, whatever the number of swarms. The database stays the truth: this is rebuilt from
// it at start and every few minutes, and follows its changes in between. No SQL here.
#pragma once

#include <cstdint>
#include <random>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/announce_request.h"
#include "protocol/responses.h"
#include "swarms/peer.h"

namespace tracker::swarms {

class SwarmReplica {
  public:
    // A row of `torrents`.
    struct Torrent {
        std::uint32_t tid = 0;
        bool banned = false;
        std::int64_t downloaded = 0;
    };
    using Registry = std::vector<std::pair<protocol::InfoHash, Torrent>>;

    // A peer of swarm `tid` as written (present) or removed (not present; only tid and
    // peer.uid matter).
    struct PeerChange {
        bool present = true;
        std::uint32_t tid = 0;
        StoredPeer peer;
    };

    enum class Found : std::uint8_t { Unknown, Banned, Registered };
    struct Answer {
        Found found = Found::Unknown;
        std::uint32_t tid = 0;
        protocol::SwarmCounts counts;
        PeerList peers;
    };

    struct Stats {
        std::size_t torrents = 0;
        std::size_t peers = 0;
    };

    SwarmReplica();

    // Everything at once (a reload): built aside, swapped in.
    void replaceAll(const Registry& registry, const std::vector<PeerChange>& peers);
    // The torrents only: bans, registrations, removals, completion counts. A removed torrent's
    // peers stay until the next replaceAll (nobody can reach them: lookups go by info hash).
    void replaceRegistry(const Registry& registry);
    // Changes in the order they were made, a slice at a time: readers are never held up long.
    // Only one thread changes the replica (replaceAll, replaceRegistry, apply).
    void apply(const std::vector<PeerChange>& changes);

    // The torrent's state and up to `candidates` peers (leechers only, for a seeder) taken in
    // the swarm's order from `randomPoint` on, wrapping round. The swarm's order is random:
    // each peer joins at a random place.
    Answer find(const protocol::InfoHash& infoHash, bool leechersOnly, std::uint32_t candidates,
                std::uint32_t randomPoint) const;

    Stats stats() const;

  private:
    struct HashOfInfoHash {
        std::size_t operator()(const protocol::InfoHash& hash) const;
    };
    struct PeerKey {
        std::uint32_t tid;
        FixedBytes<10> uid;
        friend bool operator==(const PeerKey& a, const PeerKey& b) {
            return a.tid == b.tid && a.uid == b.uid.view();
        }
    };
    struct HashOfPeerKey {
        std::size_t operator()(const PeerKey& key) const;
    };
    struct Slot {
        std::uint32_t index = 0;
        bool seeder = false;
    };
    struct Swarm {
        std::vector<StoredPeer> seeders;
        std::vector<StoredPeer> leechers;
        std::vector<StoredPeer>& list(bool seeder) { return seeder ? seeders : leechers; }
    };
    struct State {
        std::unordered_map<protocol::InfoHash, Torrent, HashOfInfoHash> registry;
        std::unordered_map<std::uint32_t, Swarm> swarms;
        std::unordered_map<PeerKey, Slot, HashOfPeerKey> slots;
        std::size_t peers = 0;
    };

    static void fillRegistry(State& state, const Registry& registry);
    static void applyTo(State& state, const PeerChange& change, std::mt19937& placement);
    static void remove(State& state, std::uint32_t tid, Swarm& swarm, Slot slot);

    mutable std::shared_mutex mutex_;
    State state_;
    std::mt19937 placement_;  // apply()'s, under the exclusive lock
};

}  // namespace tracker::swarms
