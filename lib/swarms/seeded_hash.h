// SipHash-2-4 under a key drawn at start-up: the hash for tables whose keys clients choose
// (info hashes, peer keys), so that nobody outside can line up keys in one bucket.
// Immutable after construction: safe to share between threads.
#pragma once

#include <cstdint>
#include <string_view>

namespace tracker::swarms {

class SeededHash {
  public:
    // A key from std::random_device.
    SeededHash();
    // A given key (tests, known-answer vectors).
    SeededHash(std::uint64_t key0, std::uint64_t key1) : key0_(key0), key1_(key1) {}

    std::uint64_t operator()(std::string_view bytes) const;

  private:
    std::uint64_t key0_;
    std::uint64_t key1_;
};

// splitmix64's finaliser: spreads the bits of a word whose values nobody outside chooses
// (torrent ids), cheaply.
inline std::uint64_t mixBits(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace tracker::swarms
