// The peers of one torrent, as the replica holds them: one array of PeerRecords, seeders first
// and then leechers, each group in random order (a peer joins at a random place of its group),
// so that any run of it is a random sample. A peer is found by its uid by a scan while the
// swarm is small, through a SlotIndex once it is not. Not thread-safe: the replica's lock
// guards it.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "swarms/peer.h"
#include "swarms/peer_record.h"
#include "swarms/seeded_hash.h"
#include "swarms/slot_index.h"

namespace tracker::swarms {

class Swarm {
  public:
    Swarm() = default;
    ~Swarm();
    Swarm(Swarm&& other) noexcept;
    Swarm& operator=(Swarm&& other) noexcept;
    Swarm(const Swarm&) = delete;
    Swarm& operator=(const Swarm&) = delete;

    std::uint32_t size() const { return size_; }
    std::uint32_t seeders() const { return seeders_; }
    std::uint32_t leechers() const { return size_ - seeders_; }

    // Writes the peer (found by its uid): a new one joins its group at a random place; a known
    // one is rewritten where it is, or moves to the other group if it turned seeder or leecher.
    // A peer that comes without its row (pid 0: this process's own announce, not written yet)
    // keeps the row it had.
    // `seenMark` is stamped on it (see SwarmReplica's resync). True when the peer is new.
    bool put(const StoredPeer& peer, std::uint8_t seenMark, const SeededHash& hash,
             std::mt19937& placement);
    // Removes the peer with this uid; false when there is none.
    bool remove(std::string_view uid, const SeededHash& hash);
    // Removes the peers whose mark is not `seenMark`; returns how many.
    std::uint32_t sweep(std::uint8_t seenMark, const SeededHash& hash);

    // Appends up to `count` peers (leechers only, when asked) taken in the array's order from
    // `randomPoint` on, wrapping round; all of them, from the start, when there are no more.
    void copyWindow(bool leechersOnly, std::uint32_t count, std::uint32_t randomPoint,
                    std::vector<StoredPeer>& out) const;

    // Stamps the WrittenTick of the peer with this uid; false when there is none. Safe beside
    // readers (the record's tick is atomic): the replica calls it under its shared lock.
    bool stampWritten(std::string_view uid, std::uint8_t tick, const SeededHash& hash);

    // The peer with this uid, when it is here.
    std::optional<StoredPeer> peerOf(std::string_view uid, const SeededHash& hash) const;

    // What it holds on the heap.
    std::size_t bytes() const;

  private:
    // Below this many peers a scan finds a uid faster than an index; an index is kept from
    // kIndexFrom on and dropped below kIndexFrom / 2.
    static constexpr std::uint32_t kIndexFrom = 16;

    std::uint32_t find(std::string_view uid, const SeededHash& hash) const;
    void removeAt(std::uint32_t at, const SeededHash& hash);
    void moveRecord(std::uint32_t from, std::uint32_t to, const SeededHash& hash);
    void swapRecords(std::uint32_t a, std::uint32_t b, const SeededHash& hash);
    void reserveFor(std::uint32_t size);
    void shrinkIfSparse();
    void indexIfBig(const SeededHash& hash);
    std::uint64_t hashAt(std::uint32_t at, const SeededHash& hash) const {
        return hash(peers_[at].uidView());
    }

    PeerRecord* peers_ = nullptr;  // malloc'd: records are trivially copyable
    SlotIndex index_;              // empty below kIndexFrom peers
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = 0;
    std::uint32_t seeders_ = 0;
};

}  // namespace tracker::swarms
