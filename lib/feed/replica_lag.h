// How far a database replica is behind its primary, told from the change feed's counter alone
// (tracker_sequence row 1, the same numbers on both servers): the primary's counter is sampled
// at known instants, and a replica whose counter has reached a sample holds everything the
// primary had committed at that instant. No privileges, no clock shared between the servers,
// the resolution of the sampling (a pull interval). Pure; one thread (the feed's).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>

namespace tracker::feed {

class ReplicaLag {
  public:
    using Clock = std::chrono::steady_clock;

    // Samples older than `keep` (and beyond `maxSamples`) are forgotten: lag beyond `keep`
    // is reported as at least `keep`, which is all a bound needs.
    ReplicaLag(Clock::duration keep, std::size_t maxSamples = 4096)
        : keep_(keep), maxSamples_(maxSamples) {}

    // The primary's counter read `committed` at `at` (times and counters never go back;
    // a counter that does, another database, starts the history again).
    void samplePrimary(Clock::time_point at, std::uint64_t committed);
    // How old what the replica holds is at `now`, its counter reading `replicaCommitted`:
    // `now` less the newest sample it has reached; when it has reached none, at least
    // `now` less the oldest sample kept. Zero before any sample.
    Clock::duration lagAt(Clock::time_point now, std::uint64_t replicaCommitted) const;
    // Whether the replica has reached a sample: when not, lagAt is only a lower bound.
    bool reached(std::uint64_t replicaCommitted) const {
        return !samples_.empty() && samples_.front().committed <= replicaCommitted;
    }
    void clear() { samples_.clear(); }

  private:
    // The primary read `committed` from `first` to `last`: a replica that has it holds what
    // the primary had at `last`; one that has not lacks something it had at `first`.
    struct Sample {
        Clock::time_point first;
        Clock::time_point last;
        std::uint64_t committed;
    };
    Clock::duration keep_;
    std::size_t maxSamples_;
    std::deque<Sample> samples_;  // oldest first, counters not decreasing
};

}  // namespace tracker::feed
