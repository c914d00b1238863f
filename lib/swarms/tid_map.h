// Torrent id to slot, looked up directly: tids are the database's auto-increment keys, which
// nobody outside chooses and which come dense, so pages of 4,096 entries, allocated only where
// tids are, find one in three memory reads, with no hashing and no probing. Not thread-safe:
// its owner's lock guards it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tracker::swarms {

class TidMap {
  public:
    static constexpr std::uint32_t kNone = 0xffffffffu;

    std::uint32_t find(std::uint32_t tid) const {
        const Page* page = pageOf(tid);
        return page ? page->slots[tid & kPageMask] - 1 : kNone;  // 0 (empty) becomes kNone
    }

    void set(std::uint32_t tid, std::uint32_t slot) {
        auto& directory = directories_[tid >> kDirectoryShift];
        if (!directory)
            directory = std::make_unique<Directory>();
        auto& page = (*directory)[(tid >> kPageBits) & kDirectoryMask];
        if (!page)
            page = std::make_unique<Page>();
        std::uint32_t& entry = page->slots[tid & kPageMask];
        if (entry == 0)
            ++page->used;
        entry = slot + 1;
    }

    void erase(std::uint32_t tid) {
        auto& directory = directories_[tid >> kDirectoryShift];
        if (!directory)
            return;
        auto& page = (*directory)[(tid >> kPageBits) & kDirectoryMask];
        if (!page || page->slots[tid & kPageMask] == 0)
            return;
        page->slots[tid & kPageMask] = 0;
        if (--page->used == 0)
            page.reset();  // a range of removed torrents gives its page back
    }

    void clear() {
        for (auto& directory : directories_)
            directory.reset();
    }

    std::size_t bytes() const {
        std::size_t total = sizeof(directories_);
        for (const auto& directory : directories_) {
            if (!directory)
                continue;
            total += sizeof(Directory);
            for (const auto& page : *directory)
                total += page ? sizeof(Page) : 0;
        }
        return total;
    }

  private:
    // A tid's top 10 bits pick a directory, the next 10 a page, the low 12 its entry.
    static constexpr std::uint32_t kPageBits = 12;
    static constexpr std::uint32_t kPageMask = (1u << kPageBits) - 1;
    static constexpr std::uint32_t kDirectoryShift = 22;
    static constexpr std::uint32_t kDirectoryMask = (1u << (kDirectoryShift - kPageBits)) - 1;
    struct Page {
        std::array<std::uint32_t, 1u << kPageBits> slots{};  // slot + 1; 0 is empty
        std::uint32_t used = 0;
    };
    using Directory = std::array<std::unique_ptr<Page>, kDirectoryMask + 1>;

    const Page* pageOf(std::uint32_t tid) const {
        const auto& directory = directories_[tid >> kDirectoryShift];
        return directory ? (*directory)[(tid >> kPageBits) & kDirectoryMask].get() : nullptr;
    }

    std::array<std::unique_ptr<Directory>, 1u << (32 - kDirectoryShift)> directories_;
};

}  // namespace tracker::swarms
