#include "feed/quiet_touches.h"

namespace tracker::feed {

void QuietTouches::hold(const Touch& touch, Clock::time_point due) {
    auto [at, added] = byPid_.try_emplace(touch.pid, Held{touch, due});
    if (added) {
        dueOrder_.emplace(due, touch.pid);
        return;
    }
    Held& held = at->second;
    if (touch.heard >= held.touch.heard) {
        Clock::time_point keptDue = held.due;
        held.touch = touch;
        held.due = keptDue;
    }
}

void QuietTouches::cancel(std::uint32_t pid) {
    byPid_.erase(pid);
    if (byPid_.empty())
        dueOrder_ = {};  // nothing left to skip over
}

std::vector<QuietTouches::Touch> QuietTouches::takeDue(Clock::time_point now) {
    std::vector<Touch> due;
    while (!dueOrder_.empty() && dueOrder_.top().first <= now) {
        auto [when, pid] = dueOrder_.top();
        dueOrder_.pop();
        auto held = byPid_.find(pid);
        if (held == byPid_.end() || held->second.due != when)
            continue;
        due.push_back(held->second.touch);
        byPid_.erase(held);
    }
    return due;
}

}  // namespace tracker::feed
