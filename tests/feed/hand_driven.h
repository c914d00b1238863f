// A replica feed the test drives itself: no thread, a pull at every step, never stale.
#pragma once

#include <chrono>

#include "feed/replica_feed.h"

namespace itest {

inline tracker::feed::ReplicaFeed::Options handDriven() {
    using namespace std::chrono_literals;
    tracker::feed::ReplicaFeed::Options options;
    options.startThread = false;
    options.pullInterval = 0ms;
    options.staleAfter = 1h;
    return options;
}

}  // namespace itest
