#include "admin/cleanup.h"

#include <memory>

#include "db/db_session.h"

namespace tracker::admin {

using db::DbSession;
using db::ensureDriverThreadInit;
namespace {

using Clock = std::chrono::steady_clock;

// --- The statements. Placeholders only. ---

// Under READ COMMITTED a DELETE keeps its locks only on the rows it removes; under REPEATABLE
// READ it would hold a next-key lock on every live peer its range passes until it commits,
// making those peers' announces wait (measured with 8 clients announcing into 1M peers while
// 50k expired ones were deleted: 150 row-lock waits, 18.7 s waited in all, against 61 and 5.5 s
// under READ COMMITTED, those left being announces of the expiring peers themselves).
// Statement-based binary logging refuses READ COMMITTED writes on InnoDB (error 1665), so such
// a server keeps its default level.
constexpr const char* kCanReadCommitted = "SELECT @@log_bin = 0 OR @@binlog_format <> 'STATEMENT'";
constexpr const char* kReadCommitted = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

constexpr const char* kTakeLock = "SELECT GET_LOCK(?, ?)";
constexpr const char* kLockHolder = "SELECT IS_USED_LOCK(?)";
constexpr const char* kReleaseLock = "SELECT RELEASE_LOCK(?)";

// Taken once, so that every batch (and a dry run's count) judges rows against the same instant.
constexpr const char* kCutoffs =
    "SELECT NOW() - INTERVAL ? SECOND, NOW() - INTERVAL ? DAY, NOW() - INTERVAL 1 HOUR";

// Expired peers. Every announce (ours and the PHP's) sets `updated`: it is when the peer was
// last heard from. Deliberately no index on it: every announce moves `updated`, so the index
// would cost every announce a secondary-index delete and insert on the hot path, to spare this
// binary one primary-key-order pass over the table every 15 minutes. Measured here (MariaDB
// 10.11, 1M peers, 10k torrents, 2 shared and busy cores): 100k announce upserts took 9.8-12.2 s
// without the index and 12.5-23.6 s with it (8 clients: 15.6-17.2 s against 17.2-21.7 s); the
// pass with nothing to delete took 0.17-0.58 s without it, 0.01-0.03 s with it; deleting 50k
// expired peers took 2.0-5.9 s against 2.4-6.8 s (the deletes and their triggers dominate).
// Half a second of one core per run is the cheaper side.
//
// A batch is the next `batchSize` expired rows in primary-key order after the previous batch:
// a non-locking read finds its first and last pid, then the DELETE removes the expired rows
// between them (checked again, so a peer that announced in between is kept). The walk never
// rescans what it has passed: one pass over the table in all, each DELETE short and
// deterministic (no DELETE ... LIMIT, which statement-based replication cannot replay).
constexpr const char* kNextExpiredPeers =
    "SELECT MIN(pid), MAX(pid) FROM "
    "(SELECT pid FROM peers WHERE pid > ? AND updated < ? ORDER BY pid LIMIT ?) AS batch";
// The peer feed's record of removed peers (migration 005), kept an hour: a worker further
// behind than that reloads the whole table anyway (replicaReloadSeconds is at most 30 minutes).
// Batched like the peers, by sequence number.
constexpr const char* kNextOldDepartures =
    "SELECT MIN(seq), MAX(seq) FROM (SELECT seq FROM tracker_departures WHERE seq > ? AND "
    "at < ? ORDER BY seq LIMIT ?) AS batch";
constexpr const char* kDeleteOldDepartures =
    "DELETE FROM tracker_departures WHERE seq BETWEEN ? AND ? AND at < ?";

constexpr const char* kDeleteExpiredPeers =
    "DELETE FROM peers WHERE pid BETWEEN ? AND ? AND updated < ?";
constexpr const char* kCountExpiredPeers = "SELECT COUNT(*) FROM peers WHERE updated < ?";

// Dead torrents: no peer row at all, and nothing happened to them since the cutoff.
// `added` is the registration; `torrents.updated` moves on every change of the row: a
// completion (downloaded + 1), a ban or a rename; `tracker_swarms.last_change` moves on every
// change of the seeder/leecher counters the peers triggers make: a peer joining, leaving,
// finishing, or being expired by this binary. So a torrent's idle time starts when its last
// peer left (or was expired), and a torrent with any peer row is never dead whatever its
// dates. Banned torrents are kept: the row is the ban.
#define TRACKER_DEAD_TORRENT                                                                    \
    "banned = 0 AND GREATEST(added, updated, COALESCE((SELECT last_change FROM tracker_swarms " \
    "WHERE tracker_swarms.tid = torrents.tid), added)) < ? AND NOT EXISTS "                     \
    "(SELECT 1 FROM peers WHERE peers.tid = torrents.tid)"
constexpr const char* kNextDeadTorrents =
    "SELECT MIN(tid), MAX(tid) FROM (SELECT tid FROM torrents WHERE tid > ? "
    "AND " TRACKER_DEAD_TORRENT " ORDER BY tid LIMIT ?) AS batch";
constexpr const char* kDeleteDeadTorrents =
    "DELETE FROM torrents WHERE tid BETWEEN ? AND ? AND " TRACKER_DEAD_TORRENT;
constexpr const char* kCountDeadTorrents =
    "SELECT COUNT(*) FROM torrents WHERE " TRACKER_DEAD_TORRENT;
#undef TRACKER_DEAD_TORRENT

// One kind of row deleted batch by batch: `next` takes (after id, cutoff, batch size) and
// returns the batch's first and last id; `remove` takes (first, last, cutoff).
struct BatchedDelete {
    const char* next;
    const char* remove;
};

// Adds to `removed` and `batches` as it goes, so that a failure part way still reports what
// was deleted before it.
void deleteInBatches(DbSession& session, const BatchedDelete& statements, const std::string& cutoff,
                     std::uint32_t batchSize, std::uint64_t& removed, std::uint32_t& batches) {
    std::uint64_t after = 0;
    for (;;) {
        sql::PreparedStatement& next = session.statement(statements.next);
        next.setUInt64(1, after);
        next.setString(2, cutoff);
        next.setUInt(3, batchSize);
        std::unique_ptr<sql::ResultSet> bounds(next.executeQuery());
        if (!bounds->next() || bounds->isNull(1))
            return;
        std::uint64_t first = bounds->getUInt64(1);
        std::uint64_t last = bounds->getUInt64(2);
        bounds.reset();

        // Autocommit: each batch is its own transaction, its locks gone when it returns.
        sql::PreparedStatement& remove = session.statement(statements.remove);
        remove.setUInt64(1, first);
        remove.setUInt64(2, last);
        remove.setString(3, cutoff);
        removed += static_cast<std::uint64_t>(remove.executeUpdate());
        ++batches;
        after = last;
    }
}

std::uint64_t countRows(DbSession& session, const char* statement, const std::string& cutoff) {
    sql::PreparedStatement& count = session.statement(statement);
    count.setString(1, cutoff);
    std::unique_ptr<sql::ResultSet> rows(count.executeQuery());
    return rows->next() ? rows->getUInt64(1) : 0;
}

enum class LockOutcome { Taken, Held, Error };

// GET_LOCK blocks the connection while it waits, and the session's read timeout
// (queryTimeoutSeconds) would cut a long wait off as a lost connection: so it waits in
// one-second slices, then tries once more without waiting.
LockOutcome takeLock(DbSession& session, const std::string& name, std::uint32_t waitSeconds) {
    for (std::uint32_t slice = 0; slice <= waitSeconds; ++slice) {
        sql::PreparedStatement& take = session.statement(kTakeLock);
        take.setString(1, name);
        take.setInt(2, slice < waitSeconds ? 1 : 0);
        std::unique_ptr<sql::ResultSet> rows(take.executeQuery());
        if (!rows->next() || rows->isNull(1))
            return LockOutcome::Error;
        if (rows->getInt(1) == 1)
            return LockOutcome::Taken;
    }
    return LockOutcome::Held;
}

std::string lockHolder(DbSession& session, const std::string& name) {
    sql::PreparedStatement& holder = session.statement(kLockHolder);
    holder.setString(1, name);
    std::unique_ptr<sql::ResultSet> rows(holder.executeQuery());
    if (!rows->next() || rows->isNull(1))
        return "";
    return " (database connection " + std::to_string(rows->getUInt64(1)) + ")";
}

void preferReadCommitted(DbSession& session) {
    std::unique_ptr<sql::ResultSet> rows(session.statement(kCanReadCommitted).executeQuery());
    if (rows->next() && rows->getInt(1) == 1)
        session.statement(kReadCommitted).execute();
}

std::string describeServer(const DatabaseConfig& database) {
    std::string where = database.socket.empty()
                            ? "at " + database.host + ":" + std::to_string(database.port)
                            : "through unix socket " + database.socket;
    return where + " (database \"" + database.name + "\", user \"" + database.user + "\")";
}

// The run proper, on a connected session. Throws sql::SQLException.
void clean(DbSession& session, const DatabaseConfig& database, const CleanupPolicy& policy,
           CleanupResult& result) {
    const std::string lockName = cleanupLockName(database);
    switch (takeLock(session, lockName, policy.lockWaitSeconds)) {
        case LockOutcome::Taken:
            break;
        case LockOutcome::Held:
            result.status = CleanupStatus::AnotherRunning;
            result.message = "another tracker-cron is running on this database" +
                             lockHolder(session, lockName) + "; nothing done";
            return;
        case LockOutcome::Error:
            result.status = CleanupStatus::Failed;
            result.message = "GET_LOCK('" + lockName + "') failed";
            return;
    }
    preferReadCommitted(session);

    std::string peerCutoff;
    std::string torrentCutoff;
    std::string departureCutoff;
    {
        sql::PreparedStatement& cutoffs = session.statement(kCutoffs);
        cutoffs.setUInt(1, policy.peerTimeoutSeconds);
        cutoffs.setUInt(2, policy.torrentTtlDays);
        std::unique_ptr<sql::ResultSet> rows(cutoffs.executeQuery());
        rows->next();
        peerCutoff = rows->getString(1).asStdString();
        torrentCutoff = rows->getString(2).asStdString();
        departureCutoff = rows->getString(3).asStdString();
    }
    const bool torrentsExpire = policy.torrentTtlDays > 0;

    if (policy.dryRun) {
        result.peersRemoved = countRows(session, kCountExpiredPeers, peerCutoff);
        // The torrents whose last peers are among the expired ones are not counted, and rightly:
        // removing those peers moves its `tracker_swarms.last_change` (the counter triggers), so
        // the real run keeps them too.
        if (torrentsExpire)
            result.torrentsRemoved = countRows(session, kCountDeadTorrents, torrentCutoff);
    } else {
        // Peers first: a torrent emptied now starts its idle time now.
        deleteInBatches(session, {kNextExpiredPeers, kDeleteExpiredPeers}, peerCutoff,
                        policy.batchSize, result.peersRemoved, result.batches);
        if (torrentsExpire) {
            deleteInBatches(session, {kNextDeadTorrents, kDeleteDeadTorrents}, torrentCutoff,
                            policy.batchSize, result.torrentsRemoved, result.batches);
        }
        std::uint64_t departures = 0;  // bookkeeping, not reported as peers
        deleteInBatches(session, {kNextOldDepartures, kDeleteOldDepartures}, departureCutoff,
                        policy.batchSize, departures, result.batches);
    }

    sql::PreparedStatement& release = session.statement(kReleaseLock);
    release.setString(1, lockName);
    std::unique_ptr<sql::ResultSet>(release.executeQuery());
}

}  // namespace

CleanupPolicy cleanupPolicyFor(const Config& config) {
    CleanupPolicy policy;
    policy.peerTimeoutSeconds = config.minInterval + config.maxInterval;
    policy.torrentTtlDays = config.torrentTtlDays;
    policy.batchSize = config.cleanupBatchSize;
    return policy;
}

std::string cleanupLockName(const DatabaseConfig& database) {
    // MySQL refuses lock names over 64 characters.
    return ("tracker-cron:" + database.name).substr(0, 64);
}

CleanupResult runCleanup(const DatabaseConfig& database, const CleanupPolicy& policy) {
    const auto started = Clock::now();
    CleanupResult result;
    sql::Driver& driver = *get_driver_instance();
    ensureDriverThreadInit(driver);

    std::unique_ptr<DbSession> session;
    try {
        // The config's query timeout is sized for announces; a batch of the cleanup walks the
        // peers table and may legitimately take longer on a big tracker.
        DatabaseConfig cleanupDatabase = database;
        cleanupDatabase.queryTimeoutSeconds = std::max(database.queryTimeoutSeconds, 600u);
        session = std::make_unique<DbSession>(driver, cleanupDatabase);
    } catch (const sql::SQLException& error) {
        result.status = CleanupStatus::Unreachable;
        result.message =
            "cannot connect to the database " + describeServer(database) + ": " + error.what();
    }
    if (session) {
        try {
            clean(*session, database, policy, result);
        } catch (const sql::SQLException& error) {
            // The lock goes with the session, which closes on return.
            result.status = CleanupStatus::Failed;
            result.message = "database error " + std::to_string(error.getErrorCode()) + " " +
                             describeServer(database) + ": " + error.what();
        }
    }
    result.elapsed = Clock::now() - started;
    return result;
}

}  // namespace tracker::admin
