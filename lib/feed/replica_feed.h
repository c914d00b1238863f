// Keeps a swarms::SwarmReplica in step with the database: a full reload at start and every
// `reloadInterval` (it also catches what writers other than our flushes did: the cleanup, a PHP
// front end, hand-written SQL), the registry every `registryInterval` (bans, registrations,
// completion counts), and in between every `pullInterval` the peers changed since the last pull,
// by sequence number (migration 005). One thread; the replica is read by all the others.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>

#include "db/connection_pool.h"
#include "feed/feed_stats.h"
#include "swarms/swarm_replica.h"

namespace tracker::feed {

class ReplicaFeed {
  public:
    using Clock = std::chrono::steady_clock;

    struct Options {
        std::chrono::milliseconds pullInterval{250};
        std::chrono::milliseconds registryInterval{750};
        std::chrono::seconds reloadInterval{120};
        // Past this without a successful pull the replica is not used (announces go to the
        // database, and fail cleanly while it is down). At least a few pull intervals.
        std::chrono::milliseconds staleAfter{1000};
        // After a failed reload: pull meanwhile, try again this much later.
        std::chrono::milliseconds reloadRetry{5000};
        std::uint32_t reloadChunk = 20000;  // peers read per statement during a reload
        bool startThread = true;            // false: the caller drives pull() (tests)
    };

    using Stats = ReplicaStats;

    ReplicaFeed(db::ConnectionPool& pool, Options options);
    ~ReplicaFeed();
    ReplicaFeed(const ReplicaFeed&) = delete;
    ReplicaFeed& operator=(const ReplicaFeed&) = delete;

    // The replica, when it is loaded and was brought up to date within staleAfter; else null.
    const swarms::SwarmReplica* freshReplica(Clock::time_point now) const;

    // One step on the caller's thread: a reload when one is due (or none was done yet), else
    // the registry when due and the peers changed since the last pull. False if the database
    // failed (logged; the next step tries again).
    bool step();
    // A full reload now.
    bool reload();
    // The replica, whether fresh or not (tests).
    const swarms::SwarmReplica& replica() const { return replica_; }

    // Pull now rather than at the next interval (a flush of this process just committed).
    void wake();
    void stop();
    Stats stats() const;

  private:
    void run();
    bool reloadLocked();
    bool pullChanges(Clock::time_point now);
    bool reloadRegistry(Clock::time_point now);
    void noteFailure(const std::string& message);

    db::ConnectionPool& pool_;
    Options options_;
    swarms::SwarmReplica replica_;

    std::atomic<bool> loaded_{false};
    std::atomic<Clock::rep> lastPull_{0};  // time_since_epoch of the last successful pull
    std::uint64_t sequence_ = 0;           // feed thread only
    Clock::time_point nextReload_{};       // jittered, so processes started together spread out
    Clock::time_point lastRegistry_{};
    std::mt19937 jitter_{std::random_device{}()};

    mutable std::mutex statsMutex_;
    Stats stats_;

    std::mutex stepping_;  // one step at a time
    std::mutex wakeMutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;
};

}  // namespace tracker::feed
