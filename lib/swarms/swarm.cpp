#include "swarms/swarm.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <utility>

#include "swarms/written_tick.h"

namespace tracker::swarms {

Swarm::~Swarm() {
    std::free(peers_);
}

Swarm::Swarm(Swarm&& other) noexcept
    : peers_(std::exchange(other.peers_, nullptr)),
      index_(std::move(other.index_)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      seeders_(std::exchange(other.seeders_, 0)) {}

Swarm& Swarm::operator=(Swarm&& other) noexcept {
    if (this != &other) {
        std::free(peers_);
        peers_ = std::exchange(other.peers_, nullptr);
        index_ = std::move(other.index_);
        size_ = std::exchange(other.size_, 0);
        capacity_ = std::exchange(other.capacity_, 0);
        seeders_ = std::exchange(other.seeders_, 0);
    }
    return *this;
}

std::uint32_t Swarm::find(std::string_view uid, const SeededHash& hash) const {
    if (index_.size() > 0)
        return index_.find(hash(uid),
                           [&](std::uint32_t at) { return peers_[at].uidView() == uid; });
    for (std::uint32_t at = 0; at < size_; ++at)
        if (peers_[at].uidView() == uid)
            return at;
    return SlotIndex::kNone;
}

// Grows by a quarter (by two while small): at most a quarter of the array is spare room.
void Swarm::reserveFor(std::uint32_t size) {
    if (size <= capacity_)
        return;
    std::uint32_t grown = capacity_ < 8 ? capacity_ + 2 : capacity_ + capacity_ / 4;
    std::uint32_t capacity = std::max(size, grown);
    void* moved = std::realloc(peers_, static_cast<std::size_t>(capacity) * sizeof(PeerRecord));
    if (moved == nullptr)
        throw std::bad_alloc();
    peers_ = static_cast<PeerRecord*>(moved);
    capacity_ = capacity;
}

void Swarm::shrinkIfSparse() {
    if (size_ == 0) {
        std::free(peers_);
        peers_ = nullptr;
        capacity_ = 0;
        return;
    }
    if (capacity_ <= 8 || size_ * 2 > capacity_)
        return;
    std::uint32_t capacity = size_ + size_ / 4 + 1;
    void* moved = std::realloc(peers_, static_cast<std::size_t>(capacity) * sizeof(PeerRecord));
    if (moved != nullptr) {  // failing to shrink is harmless
        peers_ = static_cast<PeerRecord*>(moved);
        capacity_ = capacity;
    }
}

void Swarm::indexIfBig(const SeededHash& hash) {
    if (index_.size() > 0 || size_ < kIndexFrom)
        return;
    auto hashOf = [&](std::uint32_t at) { return hashAt(at, hash); };
    index_.reserve(size_, hashOf);
    for (std::uint32_t at = 0; at < size_; ++at)
        index_.insert(hashAt(at, hash), at, hashOf);
}

void Swarm::moveRecord(std::uint32_t from, std::uint32_t to, const SeededHash& hash) {
    peers_[to] = peers_[from];
    if (index_.size() > 0)
        index_.move(hashAt(to, hash), from, to);
}

void Swarm::swapRecords(std::uint32_t a, std::uint32_t b, const SeededHash& hash) {
    if (a == b)
        return;
    std::swap(peers_[a], peers_[b]);
    if (index_.size() > 0)
        index_.swap(hashAt(b, hash), a, hashAt(a, hash), b);
}

bool Swarm::put(const StoredPeer& peer, std::uint8_t seenMark, const SeededHash& hash,
                std::mt19937& placement) {
    PeerRecord record = PeerRecord::from(peer, seenMark);
    std::uint32_t known = find(peer.uid.view(), hash);
    if (known != SlotIndex::kNone) {
        if (record.pid == 0)
            record.pid = peers_[known].pid;
        // Still a lower bound of the row's `updated`: a peer's row only moves forward.
        if (record.writtenTick == WrittenTick::kUnknown)
            record.writtenTick = peers_[known].writtenTick;
        if ((known < seeders_) == peer.seeder) {
            peers_[known] = record;
            return false;
        }
        removeAt(known, hash);
    }
    reserveFor(size_ + 1);
    std::uint32_t at;
    std::uint32_t groupStart;
    if (peer.seeder) {
        // The first leecher makes room at the end of the seeders.
        if (size_ > seeders_)
            moveRecord(seeders_, size_, hash);
        at = seeders_++;
        groupStart = 0;
    } else {
        at = size_;
        groupStart = seeders_;
    }
    peers_[at] = record;
    ++size_;
    if (index_.size() > 0)
        index_.insert(hashAt(at, hash), at, [&](std::uint32_t slot) { return hashAt(slot, hash); });
    else
        indexIfBig(hash);
    std::uint32_t groupEnd = peer.seeder ? seeders_ : size_;
    std::uint32_t place =
        std::uniform_int_distribution<std::uint32_t>(groupStart, groupEnd - 1)(placement);
    swapRecords(place, at, hash);
    return known == SlotIndex::kNone;
}

void Swarm::removeAt(std::uint32_t at, const SeededHash& hash) {
    if (index_.size() > 0)
        index_.erase(hashAt(at, hash), at, [&](std::uint32_t slot) { return hashAt(slot, hash); });
    std::uint32_t last = size_ - 1;
    if (at < seeders_) {
        // The last seeder fills the hole, the last leecher the last seeder's place.
        std::uint32_t lastSeeder = seeders_ - 1;
        if (at != lastSeeder)
            moveRecord(lastSeeder, at, hash);
        if (lastSeeder != last)
            moveRecord(last, lastSeeder, hash);
        --seeders_;
    } else if (at != last) {
        moveRecord(last, at, hash);
    }
    --size_;
    if (size_ < kIndexFrom / 2)
        index_.clear();
    shrinkIfSparse();
}

bool Swarm::remove(std::string_view uid, const SeededHash& hash) {
    std::uint32_t at = find(uid, hash);
    if (at == SlotIndex::kNone)
        return false;
    removeAt(at, hash);
    return true;
}

std::uint32_t Swarm::sweep(std::uint8_t seenMark, const SeededHash& hash) {
    std::uint32_t removed = 0;
    // From the end: what removeAt moves into a hole comes from further on, already checked.
    for (std::uint32_t at = size_; at-- > 0;) {
        if ((peers_[at].flags & PeerRecord::kSeen) != seenMark) {
            removeAt(at, hash);
            ++removed;
        }
    }
    return removed;
}

void Swarm::copyWindow(bool leechersOnly, std::uint32_t count, std::uint32_t randomPoint,
                       std::vector<StoredPeer>& out) const {
    std::uint32_t first = leechersOnly ? seeders_ : 0;
    std::uint32_t total = size_ - first;
    count = std::min(count, total);
    if (count == 0)
        return;
    // A window of the whole group starts anywhere; a smaller one is a run from a random place.
    std::uint32_t start = count == total ? 0 : randomPoint % total;
    for (std::uint32_t i = 0; i < count; ++i) {
        std::uint32_t at = first + (start + i) % total;
        out.push_back(peers_[at].toStored(at < seeders_));
    }
}

bool Swarm::stampWritten(std::string_view uid, std::uint8_t tick, const SeededHash& hash) {
    std::uint32_t at = find(uid, hash);
    if (at == SlotIndex::kNone)
        return false;
    peers_[at].stampWritten(tick);
    return true;
}

std::optional<StoredPeer> Swarm::peerOf(std::string_view uid, const SeededHash& hash) const {
    std::uint32_t at = find(uid, hash);
    if (at == SlotIndex::kNone)
        return std::nullopt;
    return peers_[at].toStored(at < seeders_);
}

std::size_t Swarm::bytes() const {
    return static_cast<std::size_t>(capacity_) * sizeof(PeerRecord) + index_.bytes();
}

}  // namespace tracker::swarms
