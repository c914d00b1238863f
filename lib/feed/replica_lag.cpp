#include "feed/replica_lag.h"

#include <algorithm>

namespace tracker::feed {

void ReplicaLag::samplePrimary(Clock::time_point at, std::uint64_t committed) {
    if (!samples_.empty() && committed < samples_.back().committed)
        samples_.clear();
    // Only the first instant a value was seen tells anything: a replica that reaches the
    // value holds what the primary had then.
    if (samples_.empty() || committed > samples_.back().committed)
        samples_.push_back({at, at, committed});
    else  // the same value: idle meanwhile, so a replica that has it holds `at` too
        samples_.back().last = std::max(samples_.back().last, at);
    // Forget what is too old, keeping one sample at least: it bounds the lag from below.
    while (samples_.size() > 1 &&
           (at - samples_[1].first >= keep_ || samples_.size() > maxSamples_))
        samples_.pop_front();
}

ReplicaLag::Clock::duration ReplicaLag::lagAt(Clock::time_point now,
                                              std::uint64_t replicaCommitted) const {
    if (samples_.empty())
        return Clock::duration::zero();
    // The newest sample the replica has reached.
    auto reached = std::upper_bound(
        samples_.begin(), samples_.end(), replicaCommitted,
        [](std::uint64_t value, const Sample& sample) { return value < sample.committed; });
    if (reached == samples_.begin())
        return std::max(now - samples_.front().first, Clock::duration::zero());
    return std::max(now - std::prev(reached)->last, Clock::duration::zero());
}

}  // namespace tracker::feed
