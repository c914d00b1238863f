// Where keys are, by hash: an open-addressing table of slot numbers (linear probing,
// backward-shift deletion, at most 3/4 full). The caller keeps the keys in its own slots and
// says how to compare them, so an entry costs 4 bytes and no node. The tagged kind keeps 32
// bits of each key's hash beside its slot (8 bytes an entry): a probe touches the caller's slot
// only when those match, a miss costs no look at the keys, and growing needs no hashing.
// Not thread-safe: its owner's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace tracker::swarms {

template <bool kTagged>
class BasicSlotIndex {
  public:
    static constexpr std::uint32_t kNone = 0xffffffffu;

    BasicSlotIndex() = default;
    BasicSlotIndex(BasicSlotIndex&&) noexcept = default;
    BasicSlotIndex& operator=(BasicSlotIndex&&) noexcept = default;

    std::uint32_t size() const { return count_; }
    std::size_t bytes() const { return static_cast<std::size_t>(capacity()) * sizeof(Entry); }

    // The slot for which `isKey(slot)` holds, probing from `hash`; kNone when there is none.
    template <typename IsKey>
    std::uint32_t find(std::uint64_t hash, IsKey isKey) const {
        if (!table_)
            return kNone;
        std::uint32_t tag = tagOf(hash);
        for (std::uint32_t at = home(hash);; at = (at + 1) & mask_) {
            Entry entry = table_[at];
            if (entry == 0)
                return kNone;
            if (tagMatches(entry, tag) && isKey(slotOf(entry)))
                return slotOf(entry);
        }
    }

    // Adds `slot`, whose key is not in the table. `hashOf(slot)` hashes any slot's key (the
    // untagged kind places every entry again when it grows).
    template <typename HashOf>
    void insert(std::uint64_t hash, std::uint32_t slot, HashOf hashOf) {
        if (static_cast<std::uint64_t>(count_ + 1) * 4 > static_cast<std::uint64_t>(capacity()) * 3)
            rebuild(capacity() == 0 ? kMinCapacity : capacity() * 2, hashOf);
        place(hash, slot);
        ++count_;
    }

    // Removes `slot`, which is in the table under `hash`; shrinks when mostly empty.
    template <typename HashOf>
    void erase(std::uint64_t hash, std::uint32_t slot, HashOf hashOf) {
        std::uint32_t at = position(hash, slot);
        if (at == kNone)
            return;
        // Backward shift: pull later entries of the cluster into the hole when their home
        // is not between the hole and where they sit.
        for (std::uint32_t next = (at + 1) & mask_; table_[next] != 0; next = (next + 1) & mask_) {
            std::uint32_t want = homeOf(table_[next], hashOf);
            bool staysPut = at <= next ? (at < want && want <= next) : (at < want || want <= next);
            if (!staysPut) {
                table_[at] = table_[next];
                at = next;
            }
        }
        table_[at] = 0;
        --count_;
        if (count_ == 0) {
            table_.reset();
            mask_ = 0;
        } else if (capacity() > kMinCapacity && count_ * 8 < capacity()) {
            rebuild(capacity() / 2, hashOf);
        }
    }

    // The key under `hash` moved from slot `from` to slot `to`.
    void move(std::uint64_t hash, std::uint32_t from, std::uint32_t to) {
        std::uint32_t at = position(hash, from);
        if (at != kNone)
            table_[at] = entryFor(hash, to);
    }

    // The keys in slots `a` (under `hashA`) and `b` (under `hashB`) traded places.
    void swap(std::uint64_t hashA, std::uint32_t a, std::uint64_t hashB, std::uint32_t b) {
        // Both found before either is rewritten: for a moment two entries would say the same.
        std::uint32_t atA = position(hashA, a);
        std::uint32_t atB = position(hashB, b);
        if (atA != kNone)
            table_[atA] = entryFor(hashA, b);
        if (atB != kNone)
            table_[atB] = entryFor(hashB, a);
    }

    // Room for `count` entries without growing.
    template <typename HashOf>
    void reserve(std::uint32_t count, HashOf hashOf) {
        std::uint32_t wanted = kMinCapacity;
        while (static_cast<std::uint64_t>(count) * 4 > static_cast<std::uint64_t>(wanted) * 3)
            wanted *= 2;
        if (wanted > capacity())
            rebuild(wanted, hashOf);
    }

    void clear() {
        table_.reset();
        mask_ = 0;
        count_ = 0;
    }

  private:
    // slot + 1 (0 is empty); tagged: and the hash's low 32 bits above it.
    using Entry = std::conditional_t<kTagged, std::uint64_t, std::uint32_t>;
    static constexpr std::uint32_t kMinCapacity = 8;

    static std::uint32_t tagOf(std::uint64_t hash) {
        return static_cast<std::uint32_t>(hash >> 32 ^ hash);
    }
    static std::uint32_t slotOf(Entry entry) { return static_cast<std::uint32_t>(entry) - 1; }
    static Entry entryFor(std::uint64_t hash, std::uint32_t slot) {
        if constexpr (kTagged)
            return static_cast<Entry>(tagOf(hash)) << 32 | (slot + 1);
        else
            return slot + 1;
    }
    static bool tagMatches(Entry entry, std::uint32_t tag) {
        if constexpr (kTagged)
            return static_cast<std::uint32_t>(entry >> 32) == tag;
        else
            return true;
    }
    std::uint32_t capacity() const { return table_ ? mask_ + 1 : 0; }
    std::uint32_t home(std::uint64_t hash) const { return tagOf(hash) & mask_; }
    template <typename HashOf>
    std::uint32_t homeOf(Entry entry, HashOf& hashOf) const {
        if constexpr (kTagged)
            return static_cast<std::uint32_t>(entry >> 32) & mask_;
        else
            return home(hashOf(slotOf(entry)));
    }
    std::uint32_t position(std::uint64_t hash, std::uint32_t slot) const {
        if (!table_)
            return kNone;
        for (std::uint32_t at = home(hash); table_[at] != 0; at = (at + 1) & mask_)
            if (slotOf(table_[at]) == slot)
                return at;
        return kNone;
    }
    void place(std::uint64_t hash, std::uint32_t slot) {
        std::uint32_t at = home(hash);
        while (table_[at] != 0)
            at = (at + 1) & mask_;
        table_[at] = entryFor(hash, slot);
    }
    template <typename HashOf>
    void rebuild(std::uint32_t newCapacity, HashOf& hashOf) {
        std::unique_ptr<Entry[]> old = std::move(table_);
        std::uint32_t oldCapacity = old ? mask_ + 1 : 0;
        table_ = std::make_unique<Entry[]>(newCapacity);  // zeroed: all empty
        mask_ = newCapacity - 1;
        for (std::uint32_t i = 0; i < oldCapacity; ++i) {
            if (old[i] == 0)
                continue;
            std::uint32_t at;
            if constexpr (kTagged)
                at = static_cast<std::uint32_t>(old[i] >> 32) & mask_;
            else
                at = home(hashOf(slotOf(old[i])));
            while (table_[at] != 0)
                at = (at + 1) & mask_;
            table_[at] = old[i];
        }
    }

    std::unique_ptr<Entry[]> table_;
    std::uint32_t mask_ = 0;
    std::uint32_t count_ = 0;
};

using SlotIndex = BasicSlotIndex<false>;
using TaggedSlotIndex = BasicSlotIndex<true>;

}  // namespace tracker::swarms
