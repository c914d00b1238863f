// When a process's replica may answer: caught up within staleAfter; behind because its pulls
// fail (the database is gone), for outageGrace more; behind because it is slow, not at all.
// No database.
#include <catch2/catch.hpp>

#include <chrono>

#include "feed/replica_feed.h"

using namespace std::chrono_literals;
using tracker::feed::ReplicaFeed;

TEST_CASE("a replica answers while fresh, and through a database outage up to its grace") {
    ReplicaFeed::Options options;
    options.staleAfter = 1s;
    options.outageGrace = 30s;
    const auto caughtUp = ReplicaFeed::Clock::time_point{} + 1h;
    const ReplicaFeed::Clock::time_point neverFailed{};
    const auto failing = caughtUp + 200ms;  // the pulls after the last good one fail

    CHECK(ReplicaFeed::servesAt(caughtUp + 900ms, caughtUp, neverFailed, options));
    // Behind without failing: slow, not gone. The database answers instead.
    CHECK_FALSE(ReplicaFeed::servesAt(caughtUp + 2s, caughtUp, neverFailed, options));
    CHECK(ReplicaFeed::servesAt(caughtUp + 2s, caughtUp, failing, options));
    CHECK(ReplicaFeed::servesAt(caughtUp + 30s, caughtUp, failing, options));
    CHECK_FALSE(ReplicaFeed::servesAt(caughtUp + 31s, caughtUp, failing, options));
    // A failure before the last good pull is over.
    CHECK_FALSE(ReplicaFeed::servesAt(caughtUp + 2s, caughtUp, caughtUp - 1s, options));
    options.outageGrace = 0s;
    CHECK_FALSE(ReplicaFeed::servesAt(caughtUp + 2s, caughtUp, failing, options));
}
