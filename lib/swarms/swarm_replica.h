// Every registered torrent and every peer, in this process's memory, as the database's change
// feed last brought them (see feed::ReplicaFeed): an announce is answered from here without a
// round trip, whatever the number of swarms. Compact: a peer is a 56-byte record in its
// swarm's array, a torrent a 72-byte entry in blocks, found by info hash through an
// open-addressing index and by tid directly; no node per peer or torrent. The database stays the
// truth: this is built from it and follows its changes. Readers share the lock; one thread (the
// feed's) writes, a slice at a time, so that readers are never held up long. No SQL here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <shared_mutex>
#include <vector>

#include "protocol/announce_request.h"
#include "protocol/responses.h"
#include "swarms/peer.h"
#include "swarms/seeded_hash.h"
#include "swarms/slot_index.h"
#include "swarms/swarm.h"
#include "swarms/tid_map.h"

namespace tracker::swarms {

class SwarmReplica {
  public:
    // A row of `torrents` as written (present) or removed (not present; only tid matters).
    struct TorrentChange {
        bool present = true;
        std::uint32_t tid = 0;
        protocol::InfoHash infoHash{};
        bool banned = false;
        std::int64_t downloaded = 0;
    };

    // A peer of torrent `tid` as written (present) or removed (not present; only tid and
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
        std::optional<StoredPeer> self;  // the asking peer, when the swarm holds it
    };

    struct Stats {
        std::size_t torrents = 0;
        std::size_t peers = 0;
        std::size_t bytes = 0;  // what the records, entries and indexes take
    };

    // What a resync removed: what the database no longer had and no change reported.
    struct Swept {
        std::size_t torrents = 0;
        std::size_t peers = 0;
    };

    SwarmReplica();
    ~SwarmReplica();
    SwarmReplica(const SwarmReplica&) = delete;
    SwarmReplica& operator=(const SwarmReplica&) = delete;

    // Torrent changes in the order they were made. A removed torrent's peers go with it; a
    // torrent whose info hash another tid now holds is replaced by it.
    void applyTorrents(const std::vector<TorrentChange>& changes);
    // Peer changes in the order they were made. A peer of a torrent not held is ignored.
    void apply(const std::vector<PeerChange>& changes);
    // One more download of torrent `tid` (this process's own completion, ahead of the feed,
    // which then brings the table's count).
    void countDownload(std::uint32_t tid);

    // Stamps a WrittenTick on the peer `uid` of torrent `tid`, when it is held: this process
    // has just written its row. Takes the shared lock only (announce threads call it).
    void markWritten(std::uint32_t tid, std::string_view uid, std::uint8_t tick);

    // A resync: after beginResync(), every torrent and peer written is marked as seen;
    // endResync() then removes the ones that were not. The replica serves all along.
    void beginResync();
    Swept endResync();
    // Everything removed (a load starts again).
    void clear();

    // The torrent's state and up to `candidates` peers (leechers only, for a seeder) taken in
    // the swarm's order from `randomPoint` on, wrapping round; and the peer `self` (the one
    // asking, by its uid), when it is in the swarm.
    Answer find(const protocol::InfoHash& infoHash, bool leechersOnly, std::uint32_t candidates,
                std::uint32_t randomPoint, std::string_view self = {}) const;

    Stats stats() const;

  private:
    struct Entry;
    static constexpr std::uint32_t kBlockBits = 12;  // 4,096 torrents a block
    static constexpr std::size_t kSlice = 1024;      // changes (or slots) a write lock covers

    Entry& entry(std::uint32_t slot) const;
    std::uint32_t slotOfTid(std::uint32_t tid) const;
    std::uint32_t slotOfHash(const protocol::InfoHash& infoHash) const;
    std::uint64_t hashOfInfoHash(const protocol::InfoHash& infoHash) const;
    std::uint32_t allocateSlot();
    void applyTorrent(const TorrentChange& change);
    void applyPeer(const PeerChange& change);
    void removeTorrent(std::uint32_t slot);

    mutable std::shared_mutex mutex_;
    SeededHash hash_;
    std::vector<std::unique_ptr<Entry[]>> blocks_;
    std::vector<std::uint32_t> freeSlots_;
    std::uint32_t slotsUsed_ = 0;  // slots ever handed out: the blocks' high-water mark
    TaggedSlotIndex byInfoHash_;
    TidMap byTid_;
    std::size_t torrents_ = 0;
    std::size_t peers_ = 0;
    std::size_t swarmBytes_ = 0;  // the swarms' arrays and indexes
    std::uint8_t seenMark_ = 0;   // 0 or PeerRecord::kSeen: what "seen" is in this resync
    std::mt19937 placement_;      // where a new peer joins, under the write lock
};

}  // namespace tracker::swarms
