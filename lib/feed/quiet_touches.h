// Re-announces held back: each changed nothing a replica holds, only the time and `left`, and
// its row was written a moment ago. A row gets one write per wait, however often its peer
// re-announces meanwhile: when the first held announce's due time comes, the latest of them is
// written, with its own time and `left`. Not thread-safe: PeerWriter's lock guards it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "swarms/peer.h"

namespace tracker::feed {

class QuietTouches {
  public:
    using Clock = std::chrono::steady_clock;

    // One held re-announce of the row `pid` (which must still be peer `uid` of torrent `tid`).
    struct Touch {
        std::uint32_t pid = 0;
        std::uint32_t tid = 0;
        swarms::FixedBytes<10> uid;
        std::uint64_t left = 0;  // `residual`
        Clock::time_point heard;
    };

    // Holds `touch` until `due`; when the row has one held already, that one's due time stays
    // and it takes this one's `left` and time, if this one is the later.
    void hold(const Touch& touch, Clock::time_point due);
    // Forgets what is held for the row: a write of it was queued, which writes it sooner.
    void cancel(std::uint32_t pid);
    // Takes what is due by `now` (everything for Clock::time_point::max()), soonest due first.
    std::vector<Touch> takeDue(Clock::time_point now);
    std::size_t size() const { return byPid_.size(); }

  private:
    struct Held {
        Touch touch;
        Clock::time_point due;
    };
    using DueEntry = std::pair<Clock::time_point, std::uint32_t>;  // (due, pid)

    std::unordered_map<std::uint32_t, Held> byPid_;
    // Entries of cancelled or taken rows stay until their time and are then skipped: a row's
    // own entry is the one whose due time it holds.
    std::priority_queue<DueEntry, std::vector<DueEntry>, std::greater<DueEntry>> dueOrder_;
};

}  // namespace tracker::feed
