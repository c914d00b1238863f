// Write-behind for `peers`: announces queue their change and return at once; one thread writes
// what gathered every flush interval, one peer once, in multi-row statements. A peer is in the
// table within about one interval; a crash of the process loses at most the queue (clients
// re-announce within `interval`, so the swarm heals by itself). Completions are not queued:
// writeNow() puts them in the table before they are answered.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "db/connection_pool.h"
#include "db/session_retry.h"
#include "feed/feed_stats.h"
#include "feed/numbered_transaction.h"
#include "feed/quiet_touches.h"
#include "protocol/peer_address.h"
#include "swarms/peer.h"

namespace tracker::feed {

// One announce's change to its peer row.
struct PeerWrite {
    enum class Kind : std::uint8_t { Upsert, Delete };
    Kind kind = Kind::Upsert;
    // Count a download unless the table already holds this peer as a seeder (the first
    // completion of a batch, judged against the rows as they were before it).
    bool completed = false;
    // Downloads to count whatever the table says: completions later in a batch, after an
    // earlier write of the same batch made the peer a leecher or removed it.
    std::uint16_t moreCompletions = 0;
    std::uint32_t tid = 0;
    swarms::FixedBytes<10> uid;
    swarms::FixedBytes<20> peerId;
    protocol::PeerAddress address;
    std::uint16_t port = 0;
    bool requiresCrypto = false;
    std::uint64_t left = 0;  // `residual`
    std::uint32_t pid = 0;   // the peer's row, when known (0: looked up, or a new row)
    // No pid, and a fresh replica held no such peer: a new row, written without a lookup (a row
    // there after all, written by another process since the replica's last pull, is found by
    // the insert's unique key and costs one auto-increment value).
    bool knownAbsent = false;
};

// Folds writes (in arrival order) to one per peer, sorted by (tid, uid) so that concurrent
// writers lock rows in one order. The last write wins; completions count as they would have
// one by one: not while the peer is a seeder (a repeat), again after it leeched or left.
std::vector<PeerWrite> coalescePeerWrites(std::vector<PeerWrite> writes);

// Applies coalesced writes on one session, in one transaction (a batch counts its completions
// once even when it fails and is tried again): completions first (they look at the rows as
// they were), then deletes, then upserts in multi-row statements. The batch takes one number
// of the peer feed (migrations 005, 006): batches on the database take turns on its lock, which
// a flush every few hundred milliseconds can afford and a write per announce pays for. The
// transaction is begun and committed in the round trips of its first and last statements
// (inNumberedStatements): a batch of n statements takes n round trips, not n + 2. Returns
// that number and what it tells of the primary's counter. Throws sql::SQLException.
NumberedCommit applyPeerWrites(db::DbSession& session, const std::vector<PeerWrite>& writes);

class PeerWriter {
  public:
    using Stats = WriterStats;

    using Clock = std::chrono::steady_clock;
    using TouchesWritten = std::function<void(const std::vector<QuietTouches::Touch>&)>;
    // What the writer tells the process's replica feed, each on the thread that did it.
    struct Hooks {
        // A batch committed (a flush's transaction, or writeNow's): the number of the feed it
        // took and what that says of the primary's counter.
        std::function<void(const NumberedCommit& done)> committed;
        // A timed flush ended, whether it wrote anything or not: the feed pulls after it, so
        // that this process's writes come back in the pull that follows them.
        std::function<void()> ticked;
        // Held announces written (the replica's record of when each row was written).
        TouchesWritten touchesWritten;
    };

    struct Options {
        // Bounds the queue while the database is unreachable: past it, the oldest writes are
        // dropped (and counted) rather than the process growing without end.
        std::size_t maxPending = 500000;
        // A flush writes at most this many peers in each of its transactions.
        std::size_t rowsPerTransaction = 2048;
        // Where the timed flushes write (null: the pool writeNow uses): a connection of their
        // own keeps their multi-row statements prepared on one connection of the server's.
        db::ConnectionPool* flushPool = nullptr;
        Hooks hooks;
    };

    PeerWriter(db::ConnectionPool& pool, std::chrono::milliseconds interval);
    PeerWriter(db::ConnectionPool& pool, std::chrono::milliseconds interval, Options options);
    ~PeerWriter();
    PeerWriter(const PeerWriter&) = delete;
    PeerWriter& operator=(const PeerWriter&) = delete;

    void enqueue(const PeerWrite& write);
    // A re-announce that changes nothing a replica holds, of a row this process wrote a
    // moment ago: written within `wait`, together with the row's later such announces (see
    // QuietTouches), unless a write of the row is queued first. Anything else is queued.
    void hold(const PeerWrite& write, std::chrono::steady_clock::duration wait);
    // Writes `write` at once, on the caller's thread, in a transaction of its own: a completion
    // is in the database before it is answered, so no crash of the process loses it, and a
    // client's retry of it finds the peer a seeder already and is not counted again. It is
    // queued as well, without its completion, so that the row ends as this announce left it
    // even when an older write of the same peer is being flushed meanwhile.
    db::WorkOutcome writeNow(const PeerWrite& write);
    // Writes everything queued so far, and the held announces due by `touchesDue` (all of
    // them unless told), on the caller's thread. False if the database failed (the writes stay
    // queued, or held and due).
    bool flush(QuietTouches::Clock::time_point touchesDue = QuietTouches::Clock::time_point::max());
    // Stops the thread after a last flush. Called by the destructor too.
    void stop();
    Stats stats() const;

  private:
    void run();
    bool writeQueued(std::vector<PeerWrite>& batch);
    bool writeTouches(QuietTouches::Clock::time_point due);
    // After a failed chunk: `folded` from `from` on goes back in front of the queue.
    void requeue(std::vector<PeerWrite>& folded, std::size_t from, const std::string& why);

    db::ConnectionPool& pool_;
    db::ConnectionPool& flushPool_;
    std::chrono::milliseconds interval_;
    std::size_t maxPending_;
    std::size_t rowsPerTransaction_;
    Hooks hooks_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<PeerWrite> pending_;
    QuietTouches touches_;
    std::size_t inFlight_ = 0;  // writes taken by the flush under way (pending too)
    bool stopping_ = false;
    Stats stats_;
    std::mutex flushing_;  // one flush at a time, so a failed batch goes back in order
    std::mutex stopping_mutex_;
    std::thread thread_;
};

}  // namespace tracker::feed
