// Keeps a SwarmReplica in step with the database. At start it loads everything, a chunk at a
// time; then every `pullInterval` (and when this process's flush wakes it) it reads what the
// change feeds say changed since its last look: the registry's rows and the peers', each change
// numbered by tracker_sequence (migrations 005-008). A pull that finds nothing new costs one
// primary-key read. Everything is read again only when the feed shows a gap (departures pruned
// past where it stands, a sequence that went back) or, if asked, on a timer: a resync, done
// beside the replica while it keeps serving, then the rows no read saw are dropped. One thread;
// the replica is read by all the others.
//
// With a database replica (Options::replicaPool), the loads and the feeds are read there and
// only the primary's counter is read on the primary, once a pull, to tell the replica's lag
// (ReplicaLag); a replica further behind than replicaMaxLag, or unreachable, is left for the
// primary until it is back (ReadChoice). The numbers are the same on both servers, so the
// feed goes on from where it stands, whichever it reads. That the counter read first bounds
// what the feeds hold holds on the replica too, as long as it commits the primary's
// transactions in the primary's order (serial or in-order parallel replication).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "db/connection_pool.h"
#include "feed/chunk_reader.h"
#include "feed/feed_stats.h"
#include "feed/numbered_transaction.h"
#include "feed/own_writes.h"
#include "feed/read_choice.h"
#include "feed/replica_lag.h"
#include "swarms/swarm_replica.h"

namespace tracker::feed {

class ReplicaFeed {
  public:
    using Clock = std::chrono::steady_clock;

    struct Options {
        std::chrono::milliseconds pullInterval{250};
        // Past this without catching up the replica is not used (announces go to the
        // database, and fail cleanly while it is down). At least a few pull intervals.
        std::chrono::milliseconds staleAfter{1000};
        // While the database fails (every pull since the last good one failed), the replica
        // still answers this long after that pull: a restart of the database is not seen by
        // clients. 0 = not at all.
        std::chrono::milliseconds outageGrace{0};
        // A resync this often as well as on a gap; 0 = only on a gap.
        std::chrono::seconds resyncInterval{0};
        std::uint32_t loadChunk = 50000;  // rows a statement reads during a load
        // Where a load's chunks are read (ahead, on a thread of its own); null: the feed's
        // own pool.
        db::ConnectionPool* loadPool = nullptr;
        // Sequence numbers one pull reads at most: a long backlog is read in several pulls,
        // back to back, none holding a huge result.
        std::uint64_t pullNumbers = 10000;
        // A database replica the feed reads instead of the primary (null: none), and where
        // its loads read (two connections: a pull and a load's chunks at once).
        db::ConnectionPool* replicaPool = nullptr;
        db::ConnectionPool* replicaLoadPool = nullptr;
        std::chrono::milliseconds replicaMaxLag{3000};
        // How often an unreachable replica is tried again.
        std::chrono::milliseconds replicaRetry{2000};
        // How often this process's write-behind flushes and calls ticked() (0: it does not):
        // a pull is then made after a flush rather than just before it, one per flush when
        // both intervals are the same.
        std::chrono::milliseconds writerTick{0};
        bool startThread = true;  // false: the caller drives step() (tests)
    };

    using Stats = ReplicaStats;

    ReplicaFeed(db::ConnectionPool& pool, Options options);
    ~ReplicaFeed();
    ReplicaFeed(const ReplicaFeed&) = delete;
    ReplicaFeed& operator=(const ReplicaFeed&) = delete;

    // The replica, when it is loaded and caught up with the database within staleAfter (or
    // within outageGrace while the database fails); else null.
    const swarms::SwarmReplica* freshReplica(Clock::time_point now) const;
    // Whether a replica last caught up at `caughtUp`, whose feed last failed at `failedAt`,
    // may answer at `now`.
    static bool servesAt(Clock::time_point now, Clock::time_point caughtUp,
                         Clock::time_point failedAt, const Options& options);
    // Answering from memory because the database fails (tests, /stats).
    bool outage(Clock::time_point now) const;

    // One step on the caller's thread: a chunk of a load or resync (and a pull when one is
    // due), else a pull. False if the database failed (logged; the next step tries again).
    bool step();
    // Steps until loaded and caught up (tests). False if the database failed.
    bool catchUp();
    // A resync from the next step on (tests; a gap does the same).
    void requestResync();
    // The replica, whether fresh or not (tests).
    const swarms::SwarmReplica& replica() const { return replica_; }

    // This process's own announce, applied at once: every announce this process answers after
    // it sees it, before its write has reached the database and come back through the feed
    // (which then brings the row's pid, or puts right a write that failed).
    // `completed`: the announce counted a download. `floor`: ownFloor() before the announce
    // was written; a pull that brings the peer numbered at or below it brings an older version
    // (a database replica behind the write), which is passed over.
    void applyOwn(const swarms::SwarmReplica::PeerChange& change, bool completed = false,
                  std::uint64_t floor = 0);
    // The primary's counter as last read: every number up to it is committed, so a write
    // begun after this reads gets a higher one.
    std::uint64_t ownFloor() const { return knownCommitted_.load(std::memory_order_acquire); }
    // This process has just queued a write of the peer's row, which changed nothing the
    // replica holds (see swarms::WrittenTick).
    void markOwnWrite(std::uint32_t tid, std::string_view uid, std::uint8_t tick);
    // Waits until a pull that began at `from` or later has caught up, so that the replica
    // holds every change committed by then, and has that pull made at `from` rather than at
    // the next interval. False if none has by `deadline`, or a pull failed meanwhile (the
    // database is unreachable: waiting longer would not help), or the feed is stopped.
    bool awaitPullFrom(Clock::time_point from, Clock::time_point deadline);
    // Pull now rather than at the next interval.
    void wake();
    // This process's write-behind committed a batch (any thread). The next pull of the primary
    // reads the feeds without reading the counter first (something is new: this batch), and
    // with a database replica the batch's sample of the primary's counter (NumberedCommit)
    // tells the replica's lag, so that a process that writes needs no read of the primary
    // for it.
    void committed(const NumberedCommit& done);
    // The write-behind's timed flush ended (its thread): the pull that was nearly due is made
    // now, after it.
    void ticked();
    void stop();
    Stats stats() const;

  private:
    void run();
    void raiseKnownCommitted(std::uint64_t committed);
    // Until the next pull is due, an interval after `from` (run's thread, under wakeMutex_).
    void waitForPull(std::unique_lock<std::mutex>& lock, Clock::time_point from);
    bool stepLocked();
    bool loading() const { return reader_ != nullptr; }
    void startLoad(bool resync);
    // Applies the load's next chunk if it comes within `wait`; false when the read failed.
    bool takeChunk(std::chrono::milliseconds wait);
    bool pull(Clock::time_point now);
    void finishLoad();
    void noteFailure(const std::string& message);
    // With a database replica: samples the primary's counter, reads the replica's and chooses
    // where the next reads go. False when the primary failed (noted).
    bool probe(Clock::time_point now);
    void replicaFailed(Clock::time_point now, const std::string& message);
    void noteSwitch(const ReadChoice::Switch& change);
    bool onReplica() const;  // where this pull reads
    // While the replica is unreachable, a thread of its own tries it every replicaRetry, so
    // that a connect that hangs (a host gone, nothing refusing) never holds up the pulls.
    void watchReplica();
    db::ConnectionPool& loadPool(bool fromReplica) const;

    db::ConnectionPool& pool_;
    Options options_;
    swarms::SwarmReplica replica_;

    std::atomic<bool> loaded_{false};
    std::atomic<Clock::rep> caughtUp_{0};  // time_since_epoch of the last pull that caught up
    // The feed thread's (under stepping_).
    std::uint64_t sequence_ = 0;           // every change up to this number is applied
    std::unique_ptr<ChunkReader> reader_;  // while a load runs
    bool resyncing_ = false;               // the load in progress is a resync (the replica serves)
    bool resyncWanted_ = false;            // a gap was seen: resync at the next step
    bool behind_ = false;                  // the last pull stopped short of the committed number
    bool probedThisStep_ = false;          // the step under way has probed the primary already
    Clock::time_point loadStarted_{};
    Clock::time_point lastPull_{};
    Clock::time_point nextResync_ = Clock::time_point::max();
    ReplicaLag lag_;
    ReadChoice choice_;
    Clock::duration lastLag_{};                     // the replica's, at the last probe
    bool loadFromReplica_ = false;                  // where the load in progress reads
    std::uint64_t replicaCommitted_ = 0;            // the replica's counter at the last probe
    bool lagKnown_ = false;                         // it had reached a primary sample then
    std::atomic<std::uint64_t> knownCommitted_{0};  // the primary's counter, last read
    std::atomic<std::uint64_t> applied_{0};         // sequence_, for the announce threads
    std::atomic<bool> readingReplica_{false};       // onReplica(), for stats()
    std::atomic<Clock::rep> asOf_{0};  // what the replica holds is as of then (awaitPullFrom)
    // The write-behind's last batch: its number less one, the primary's counter as of when its
    // commit was sent (merged: the highest of both is as true, and only later).
    std::mutex flushedMutex_;
    bool flushSampled_ = false;
    Clock::time_point flushSampleAt_{};
    std::uint64_t flushSampleCommitted_ = 0;
    std::uint64_t lastSampled_ = 0;          // the feed thread's newest sample of the primary
    std::atomic<bool> ownCommitted_{false};  // a batch of ours since the last pull began
    std::mutex ownMutex_;                    // a pull's filter and apply, against applyOwn's notes
    OwnWrites own_;
    std::mt19937 jitter_{std::random_device{}()};

    mutable std::mutex statsMutex_;
    Stats stats_;

    std::mutex stepping_;  // one step at a time
    std::mutex wakeMutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool woken_ = false;
    bool ticked_ = false;  // the write-behind flushed since the last wait began
    Clock::time_point lastTick_{}, previousTick_{};
    Clock::time_point pullWanted_ = Clock::time_point::max();  // a pull asked for then
    std::mutex pulledMutex_;
    std::condition_variable pulled_;       // a pull caught up, or failed
    std::atomic<Clock::rep> failedAt_{0};  // time_since_epoch of the last failure
    std::thread thread_;
    std::condition_variable retry_;             // the watcher's wait (under wakeMutex_)
    bool watching_ = false;                     // watcher_ runs (set before any thread)
    std::atomic<bool> replicaDown_{false};      // left as unreachable
    std::atomic<bool> replicaAnswered_{false};  // the watcher reached it since
    std::thread watcher_;
};

}  // namespace tracker::feed
