// splitmix64's finaliser: spreads the bits of a 64-bit word, for the store's hash tables.
#pragma once

#include <cstdint>

namespace tracker::swarms {

inline std::uint64_t mixBits(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

}  // namespace tracker::swarms
