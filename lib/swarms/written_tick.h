// When this process last wrote a peer's row, in one byte of the peer's record: 8-second steps
// of the steady clock, 1..255 round and round, 0 for "not known". It is a lower bound on the
// row's `updated` (which only moves forward while the row lives), so a peer written a moment
// ago can let a re-announce that changes nothing wait instead of rewriting the row.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace tracker::swarms {

struct WrittenTick {
    static constexpr std::uint8_t kUnknown = 0;
    static constexpr std::chrono::seconds kStep{8};
    static constexpr unsigned kSteps = 255;
    // An age is told apart only below one turn of the counter; the caller's bound must stay
    // well under it.
    static constexpr std::chrono::seconds kTurn{kStep * kSteps};
    // The longest hold there is (quietWriteSeconds' bound): an older write need not be known.
    static constexpr std::chrono::seconds kLongestKnownAge{1000};
    static_assert(kLongestKnownAge < kTurn);

    static std::uint8_t at(std::chrono::steady_clock::time_point now) {
        auto steps = now.time_since_epoch() / kStep;
        return static_cast<std::uint8_t>(1 + static_cast<unsigned long long>(steps) % kSteps);
    }

    // How long ago, at most, a tick taken at `written` was, seen from `now`; none when it is
    // not known. Past one turn the counter comes round again and an older tick reads young:
    // callers only shorten a wait with it, and the wait is bounded on its own.
    static std::optional<std::chrono::seconds> ageAtMost(std::uint8_t written, std::uint8_t now) {
        if (written == kUnknown || now == kUnknown)
            return std::nullopt;
        unsigned steps = (static_cast<unsigned>(now) + kSteps - written) % kSteps;
        return kStep * (steps + 1);
    }
};

}  // namespace tracker::swarms
