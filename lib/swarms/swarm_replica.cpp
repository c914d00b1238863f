#include "swarms/swarm_replica.h"

#include <algorithm>
#include <mutex>

namespace tracker::swarms {

struct SwarmReplica::Entry {
    protocol::InfoHash infoHash{};
    std::uint32_t tid = 0;  // 0: a free slot (tids start at 1)
    std::uint32_t downloaded = 0;
    bool banned = false;
    std::uint8_t seen = 0;  // the resync's mark, as on a PeerRecord
    Swarm swarm;
};

SwarmReplica::SwarmReplica() : placement_(std::random_device{}()) {}

SwarmReplica::~SwarmReplica() = default;

SwarmReplica::Entry& SwarmReplica::entry(std::uint32_t slot) const {
    return blocks_[slot >> kBlockBits][slot & ((1u << kBlockBits) - 1)];
}

std::uint64_t SwarmReplica::hashOfInfoHash(const protocol::InfoHash& infoHash) const {
    return hash_(protocol::view(infoHash));
}

std::uint32_t SwarmReplica::slotOfTid(std::uint32_t tid) const {
    return byTid_.find(tid);
}

std::uint32_t SwarmReplica::slotOfHash(const protocol::InfoHash& infoHash) const {
    return byInfoHash_.find(hashOfInfoHash(infoHash),
                            [&](std::uint32_t slot) { return entry(slot).infoHash == infoHash; });
}

std::uint32_t SwarmReplica::allocateSlot() {
    if (!freeSlots_.empty()) {
        std::uint32_t slot = freeSlots_.back();
        freeSlots_.pop_back();
        return slot;
    }
    if ((slotsUsed_ >> kBlockBits) == blocks_.size())
        blocks_.push_back(std::make_unique<Entry[]>(std::size_t{1} << kBlockBits));
    return slotsUsed_++;
}

void SwarmReplica::removeTorrent(std::uint32_t slot) {
    Entry& gone = entry(slot);
    auto hashOfSlot = [&](std::uint32_t s) { return hashOfInfoHash(entry(s).infoHash); };
    byInfoHash_.erase(hashOfInfoHash(gone.infoHash), slot, hashOfSlot);
    byTid_.erase(gone.tid);
    peers_ -= gone.swarm.size();
    swarmBytes_ -= gone.swarm.bytes();
    gone = Entry{};
    freeSlots_.push_back(slot);
    --torrents_;
}

void SwarmReplica::applyTorrent(const TorrentChange& change) {
    std::uint32_t slot = slotOfTid(change.tid);
    if (!change.present) {
        if (slot != TidMap::kNone)
            removeTorrent(slot);
        return;
    }
    auto hashOfSlot = [&](std::uint32_t s) { return hashOfInfoHash(entry(s).infoHash); };
    std::uint32_t holder = slotOfHash(change.infoHash);
    if (holder != TaggedSlotIndex::kNone && holder != slot) {
        // Another tid had this hash: that row is gone (the hash is unique in the table).
        removeTorrent(holder);
    }
    if (slot == TidMap::kNone) {
        slot = allocateSlot();
        Entry& fresh = entry(slot);
        fresh.tid = change.tid;
        fresh.infoHash = change.infoHash;
        byTid_.set(change.tid, slot);
        byInfoHash_.insert(hashOfInfoHash(change.infoHash), slot, hashOfSlot);
        ++torrents_;
    } else if (entry(slot).infoHash != change.infoHash) {
        byInfoHash_.erase(hashOfInfoHash(entry(slot).infoHash), slot, hashOfSlot);
        entry(slot).infoHash = change.infoHash;
        byInfoHash_.insert(hashOfInfoHash(change.infoHash), slot, hashOfSlot);
    }
    Entry& torrent = entry(slot);
    torrent.banned = change.banned;
    torrent.downloaded =
        static_cast<std::uint32_t>(std::clamp<std::int64_t>(change.downloaded, 0, 0xffffffff));
    torrent.seen = seenMark_;
}

void SwarmReplica::applyPeer(const PeerChange& change) {
    std::uint32_t slot = slotOfTid(change.tid);
    if (slot == TidMap::kNone)
        return;
    Swarm& swarm = entry(slot).swarm;
    std::size_t bytesBefore = swarm.bytes();
    if (change.present) {
        if (swarm.put(change.peer, seenMark_, hash_, placement_))
            ++peers_;
    } else if (swarm.remove(change.peer.uid.view(), hash_)) {
        --peers_;
    }
    swarmBytes_ += swarm.bytes();
    swarmBytes_ -= bytesBefore;
}

void SwarmReplica::applyTorrents(const std::vector<TorrentChange>& changes) {
    for (std::size_t first = 0; first < changes.size(); first += kSlice) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        std::size_t end = std::min(changes.size(), first + kSlice);
        for (std::size_t i = first; i < end; ++i)
            applyTorrent(changes[i]);
    }
}

void SwarmReplica::apply(const std::vector<PeerChange>& changes) {
    for (std::size_t first = 0; first < changes.size(); first += kSlice) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        std::size_t end = std::min(changes.size(), first + kSlice);
        for (std::size_t i = first; i < end; ++i)
            applyPeer(changes[i]);
    }
}

void SwarmReplica::countDownload(std::uint32_t tid) {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    std::uint32_t slot = slotOfTid(tid);
    if (slot != TidMap::kNone && entry(slot).downloaded < 0xffffffffu)
        ++entry(slot).downloaded;
}

void SwarmReplica::beginResync() {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    seenMark_ ^= PeerRecord::kSeen;  // every mark stamped so far now reads "not seen"
}

SwarmReplica::Swept SwarmReplica::endResync() {
    Swept swept;
    for (std::uint32_t first = 0;; first += kSlice) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        if (first >= slotsUsed_)
            break;
        std::uint32_t end = std::min<std::uint32_t>(slotsUsed_, first + kSlice);
        for (std::uint32_t slot = first; slot < end; ++slot) {
            Entry& torrent = entry(slot);
            if (torrent.tid == 0)
                continue;
            if (torrent.seen != seenMark_) {
                swept.peers += torrent.swarm.size();
                ++swept.torrents;
                removeTorrent(slot);
                continue;
            }
            std::size_t bytesBefore = torrent.swarm.bytes();
            std::uint32_t removed = torrent.swarm.sweep(seenMark_, hash_);
            swarmBytes_ += torrent.swarm.bytes();
            swarmBytes_ -= bytesBefore;
            peers_ -= removed;
            swept.peers += removed;
        }
    }
    return swept;
}

void SwarmReplica::clear() {
    std::vector<std::unique_ptr<Entry[]>> blocks;
    {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        blocks.swap(blocks_);
        freeSlots_.clear();
        freeSlots_.shrink_to_fit();
        slotsUsed_ = 0;
        byInfoHash_.clear();
        byTid_.clear();
        torrents_ = 0;
        peers_ = 0;
        swarmBytes_ = 0;
    }
    // `blocks` (every swarm) is freed here, outside the lock.
}

void SwarmReplica::markWritten(std::uint32_t tid, std::string_view uid, std::uint8_t tick) {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    std::uint32_t slot = slotOfTid(tid);
    if (slot != TidMap::kNone)
        entry(slot).swarm.stampWritten(uid, tick, hash_);
}

SwarmReplica::Answer SwarmReplica::find(const protocol::InfoHash& infoHash, bool leechersOnly,
                                        std::uint32_t candidates, std::uint32_t randomPoint,
                                        std::string_view self) const {
    Answer answer;
    std::uint64_t hash = hashOfInfoHash(infoHash);  // outside the lock
    std::shared_lock<std::shared_mutex> lock(mutex_);
    std::uint32_t slot =
        byInfoHash_.find(hash, [&](std::uint32_t s) { return entry(s).infoHash == infoHash; });
    if (slot == TaggedSlotIndex::kNone)
        return answer;
    const Entry& torrent = entry(slot);
    answer.tid = torrent.tid;
    if (torrent.banned) {
        answer.found = Found::Banned;
        return answer;
    }
    answer.found = Found::Registered;
    answer.counts.downloaded = torrent.downloaded;
    answer.counts.complete = torrent.swarm.seeders();
    answer.counts.incomplete = torrent.swarm.leechers();
    if (!self.empty())
        answer.self = torrent.swarm.peerOf(self, hash_);
    std::uint32_t available = leechersOnly ? torrent.swarm.leechers() : torrent.swarm.size();
    if (candidates == 0 || available == 0)
        return answer;
    auto peers = std::make_shared<std::vector<StoredPeer>>();
    peers->reserve(std::min(candidates, available));
    torrent.swarm.copyWindow(leechersOnly, candidates, randomPoint, *peers);
    answer.peers = PeerList(std::move(peers));
    return answer;
}

SwarmReplica::Stats SwarmReplica::stats() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    Stats stats;
    stats.torrents = torrents_;
    stats.peers = peers_;
    stats.bytes = blocks_.size() * (sizeof(Entry) << kBlockBits) + byInfoHash_.bytes() +
                  byTid_.bytes() + freeSlots_.capacity() * sizeof(std::uint32_t) + swarmBytes_;
    return stats;
}

}  // namespace tracker::swarms
