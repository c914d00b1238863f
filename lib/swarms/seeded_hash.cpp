#include "swarms/seeded_hash.h"

#include <random>

namespace tracker::swarms {
namespace {

std::uint64_t rotl(std::uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

struct State {
    std::uint64_t v0, v1, v2, v3;
    void round() {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    }
    void absorb(std::uint64_t word) {
        v3 ^= word;
        round();
        round();
        v0 ^= word;
    }
};

// Little-endian, as the algorithm reads its message.
std::uint64_t loadLittle(const unsigned char* bytes, std::size_t n) {
    std::uint64_t word = 0;
    for (std::size_t i = 0; i < n; ++i)
        word |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
    return word;
}

std::uint64_t randomWord() {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

}  // namespace

SeededHash::SeededHash() : key0_(randomWord()), key1_(randomWord()) {}

std::uint64_t SeededHash::operator()(std::string_view message) const {
    State s{key0_ ^ 0x736f6d6570736575ULL, key1_ ^ 0x646f72616e646f6dULL,
            key0_ ^ 0x6c7967656e657261ULL, key1_ ^ 0x7465646279746573ULL};
    const auto* bytes = reinterpret_cast<const unsigned char*>(message.data());
    std::size_t whole = message.size() / 8 * 8;
    for (std::size_t at = 0; at < whole; at += 8)
        s.absorb(loadLittle(bytes + at, 8));
    std::uint64_t last = static_cast<std::uint64_t>(message.size() & 0xff) << 56;
    last |= loadLittle(bytes + whole, message.size() - whole);
    s.absorb(last);
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; ++i)
        s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace tracker::swarms
