#include "feed/replica_feed.h"

#include <algorithm>
#include <string>
#include <vector>

#include "db/peer_rows.h"
#include "db/session_retry.h"
#include "feed/feed_statements.h"
#include "util/log.h"

namespace tracker::feed {

using db::withSession;

using db::DbSession;
using db::DbStatus;
using db::PeerColumns;
using swarms::SwarmReplica;

namespace {

using namespace statements;

constexpr PeerColumns kFeedColumns{4, 5, 6, 7, 8, 9};    // kPeerFeed's peer
constexpr PeerColumns kReloadColumns{3, 4, 5, 6, 7, 8};  // kReplicaPeers' peer

SwarmReplica::Registry readRegistry(DbSession& session) {
    SwarmReplica::Registry registry;
    std::unique_ptr<sql::ResultSet> rows(session.statement(kReplicaTorrents).executeQuery());
    registry.reserve(rows->rowsCount());
    while (rows->next()) {
        std::string hash = rows->getString(2).asStdString();
        if (hash.size() != 20)
            continue;
        protocol::InfoHash infoHash;
        std::copy(hash.begin(), hash.end(), infoHash.begin());
        SwarmReplica::Torrent torrent;
        torrent.tid = rows->getUInt(1);
        torrent.banned = rows->getInt(3) != 0;
        torrent.downloaded = rows->getInt64(4);
        registry.emplace_back(infoHash, torrent);
    }
    return registry;
}

// The counter's committed value (migration 005): every number up to it is committed.
std::uint64_t readCommittedSequence(DbSession& session) {
    std::unique_ptr<sql::ResultSet> row(session.statement(kReplicaSequence).executeQuery());
    if (!row->next())
        throw sql::SQLException("tracker_sequence is empty (is migration 005 applied?)");
    return row->getUInt64(1);
}

struct Reloaded {
    DbStatus status = DbStatus::Ok;
    std::string message;
    std::uint64_t sequence = 0;
    SwarmReplica::Registry registry;
    std::vector<SwarmReplica::PeerChange> peers;
};

// In one transaction, so that under REPEATABLE READ all of it is one snapshot. Under READ
// COMMITTED the rows may be newer than the sequence number: the pulls that follow replay the
// changes after it in order, which lands on the same state.
void readEverything(DbSession& session, std::uint32_t chunk, Reloaded& into) {
    sql::Connection& connection = session.connection();
    connection.setAutoCommit(false);
    try {
        into.sequence = readCommittedSequence(session);
        into.registry = readRegistry(session);
        std::uint64_t afterPid = 0;
        for (;;) {
            sql::PreparedStatement& read = session.statement(kReplicaPeers);
            read.setUInt64(1, afterPid);
            read.setUInt(2, chunk);
            std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
            std::size_t seen = 0;
            while (rows->next()) {
                ++seen;
                afterPid = rows->getUInt64(1);
                if (auto peer = readPeer(*rows, kReloadColumns))
                    into.peers.push_back({true, rows->getUInt(2), *peer});
            }
            if (seen < chunk)
                break;
        }
        connection.commit();
    } catch (...) {
        try {
            connection.rollback();
            connection.setAutoCommit(true);
        } catch (const sql::SQLException&) {
            // The connection is gone; the caller's error handling drops it.
        }
        throw;
    }
    connection.setAutoCommit(true);
}

struct Pulled {
    DbStatus status = DbStatus::Ok;
    std::string message;
    std::uint64_t sequence = 0;
    std::vector<SwarmReplica::PeerChange> changes;
};

// Every change after `after`, and how far that reaches. The counter is read first: a number
// committed there means every lower number was committed (or rolled back) before it, so the
// feed read after it sees them all, and numbers taken by writes that stamped no row (a batch
// of quiet re-announces, a stop of a peer already gone) are passed over too.
void readChanges(DbSession& session, std::uint64_t after, Pulled& into) {
    into.sequence = std::max(after, readCommittedSequence(session));
    sql::PreparedStatement& feed = session.statement(kPeerFeed);
    feed.setUInt64(1, after);
    feed.setUInt64(2, after);
    std::unique_ptr<sql::ResultSet> rows(feed.executeQuery());
    into.changes.reserve(rows->rowsCount());
    while (rows->next()) {
        into.sequence = std::max<std::uint64_t>(into.sequence, rows->getUInt64(1));
        SwarmReplica::PeerChange change;
        change.tid = rows->getUInt(3);
        if (rows->getInt(2) != 0) {
            auto peer = readPeer(*rows, kFeedColumns);
            if (!peer)
                continue;
            change.peer = *peer;
        } else {
            change.present = false;
            if (!change.peer.uid.assign(rows->getString(9).asStdString()))
                continue;
        }
        into.changes.push_back(change);
    }
}

}  // namespace

ReplicaFeed::ReplicaFeed(db::ConnectionPool& pool, Options options)
    : pool_(pool), options_(options) {
    if (options_.startThread)
        thread_ = std::thread([this] { run(); });
}

ReplicaFeed::~ReplicaFeed() {
    stop();
}

const SwarmReplica* ReplicaFeed::freshReplica(Clock::time_point now) const {
    if (!loaded_.load(std::memory_order_acquire))
        return nullptr;
    Clock::time_point lastPull{Clock::duration(lastPull_.load(std::memory_order_acquire))};
    if (now - lastPull > options_.staleAfter)
        return nullptr;
    return &replica_;
}

void ReplicaFeed::noteFailure(const std::string& message) {
    {
        std::lock_guard<std::mutex> lock(statsMutex_);
        ++stats_.failures;
    }
    util::logErrorThrottled("replica-feed", "following the peers table failed: " + message);
}

bool ReplicaFeed::reload() {
    std::lock_guard<std::mutex> stepping(stepping_);
    return reloadLocked();
}

bool ReplicaFeed::reloadLocked() {
    auto started = Clock::now();
    Reloaded read = withSession<Reloaded>(pool_, [&](DbSession& session) {
        Reloaded result;
        readEverything(session, options_.reloadChunk, result);
        return result;
    });
    if (read.status != DbStatus::Ok) {
        noteFailure(read.message);
        nextReload_ = Clock::now() + options_.reloadRetry;
        return false;
    }
    replica_.replaceAll(read.registry, read.peers);
    sequence_ = read.sequence;
    auto now = Clock::now();
    lastRegistry_ = now;
    auto interval = std::chrono::duration_cast<Clock::duration>(options_.reloadInterval);
    nextReload_ = now + interval - interval / 10 +
                  Clock::duration(std::uniform_int_distribution<Clock::rep>(
                      0, (interval / 5).count())(jitter_));
    lastPull_.store(started.time_since_epoch().count(), std::memory_order_release);
    loaded_.store(true, std::memory_order_release);
    std::lock_guard<std::mutex> lock(statsMutex_);
    ++stats_.reloads;
    stats_.sequence = sequence_;
    stats_.lastReloadTook = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
    return true;
}

bool ReplicaFeed::reloadRegistry(Clock::time_point now) {
    struct Read {
        DbStatus status = DbStatus::Ok;
        std::string message;
        SwarmReplica::Registry registry;
    };
    Read read = withSession<Read>(pool_, [&](DbSession& session) {
        Read result;
        result.registry = readRegistry(session);
        return result;
    });
    if (read.status != DbStatus::Ok) {
        noteFailure(read.message);
        return false;
    }
    replica_.replaceRegistry(read.registry);
    lastRegistry_ = now;
    return true;
}

bool ReplicaFeed::pullChanges(Clock::time_point now) {
    Pulled pulled = withSession<Pulled>(pool_, [&](DbSession& session) {
        Pulled result;
        readChanges(session, sequence_, result);
        return result;
    });
    if (pulled.status != DbStatus::Ok) {
        noteFailure(pulled.message);
        return false;
    }
    try {
        replica_.apply(pulled.changes);
    } catch (...) {  // out of memory part way: the replica is not to be trusted until reloaded
        loaded_.store(false, std::memory_order_release);
        throw;
    }
    sequence_ = pulled.sequence;
    // Stamped with when the pull started: the replica holds what was committed by then.
    lastPull_.store(now.time_since_epoch().count(), std::memory_order_release);
    std::lock_guard<std::mutex> lock(statsMutex_);
    ++stats_.pulls;
    stats_.changes += pulled.changes.size();
    stats_.sequence = sequence_;
    return true;
}

bool ReplicaFeed::step() {
    std::lock_guard<std::mutex> stepping(stepping_);
    auto now = Clock::now();
    bool loaded = loaded_.load(std::memory_order_acquire);
    if (!loaded || now >= nextReload_) {
        // A reload that fails leaves a loaded replica to its pulls until the retry.
        if (reloadLocked() || !loaded)
            return loaded_.load(std::memory_order_acquire);
    }
    if (now - lastRegistry_ >= options_.registryInterval && !reloadRegistry(now))
        return false;
    return pullChanges(now);
}

void ReplicaFeed::run() {
    std::unique_lock<std::mutex> lock(wakeMutex_);
    while (!stopping_) {
        lock.unlock();
        try {
            step();
        } catch (const std::exception& error) {  // not a database error: out of memory
            noteFailure(error.what());
        }
        lock.lock();
        wake_.wait_for(lock, options_.pullInterval, [this] { return stopping_ || woken_; });
        woken_ = false;
    }
}

void ReplicaFeed::wake() {
    {
        std::lock_guard<std::mutex> lock(wakeMutex_);
        woken_ = true;
    }
    wake_.notify_all();
}

void ReplicaFeed::stop() {
    {
        std::lock_guard<std::mutex> lock(wakeMutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

ReplicaFeed::Stats ReplicaFeed::stats() const {
    Stats stats;
    {
        std::lock_guard<std::mutex> lock(statsMutex_);
        stats = stats_;
    }
    Clock::rep last = lastPull_.load(std::memory_order_acquire);
    if (loaded_.load(std::memory_order_acquire))
        stats.lastPullAgeMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  Clock::now() - Clock::time_point(Clock::duration(last)))
                                  .count();
    auto held = replica_.stats();
    stats.torrents = held.torrents;
    stats.peers = held.peers;
    return stats;
}

}  // namespace tracker::feed
