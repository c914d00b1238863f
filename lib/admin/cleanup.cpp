#include "admin/cleanup.h"

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "admin/cleanup_statements.h"
#include "db/db_session.h"
#include "db/session_retry.h"
#include "feed/numbered_transaction.h"
#include "schema/schema_version.h"

namespace tracker::admin {

using db::DbSession;
using db::ensureDriverThreadInit;
namespace {

using Clock = std::chrono::steady_clock;

using namespace statements;

constexpr int kDeadlockAttempts = 5;

// `attempt` run again when InnoDB chose it as a deadlock's victim (and rolled it back whole).
// Our writers (this cleanup, the workers' flushes) take the feed's numbering lock before any
// row; but a PHP page or hand-written SQL writing `peers` in autocommit locks its row first and
// the numbering lock after (the triggers), so one of our batches can meet it the other way
// round. Either side may be the victim; ours tries again after a pause.
void retryingDeadlocks(const std::function<void()>& attempt) {
    for (int tries = 1;; ++tries) {
        try {
            attempt();
            return;
        } catch (const sql::SQLException& error) {
            if (!db::isTransientConflict(error) || tries >= kDeadlockAttempts)
                throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(20 * tries));
        }
    }
}

// Deletes the oldest expired peers a batch at a time until a batch comes up short. Adds to
// `removed` and `batches` (DELETEs that removed rows) as it goes, so that a failure part way
// still reports what was deleted before it.
void deleteExpiredPeers(DbSession& session, const std::string& cutoff, std::uint32_t batchSize,
                        std::uint64_t& removed, std::uint32_t& batches) {
    for (;;) {
        // Each batch is its own transaction, its locks gone when it commits, and takes one
        // number of the change feed for all its rows (the workers' flushes do the same: one
        // lock order, the sequence then the rows).
        std::uint64_t count = 0;
        retryingDeadlocks([&] {
            feed::inNumberedTransaction(session, [&] {
                sql::PreparedStatement& remove = session.statement(kDeleteExpiredPeers);
                remove.setString(1, cutoff);
                remove.setUInt(2, batchSize);
                remove.setString(3, cutoff);
                count = static_cast<std::uint64_t>(remove.executeUpdate());
            });
        });
        if (count == 0)
            return;
        ++batches;
        removed += count;
        // Short: nothing more had expired (or a peer of the batch announced meanwhile; what
        // is left goes at the next run).
        if (count < batchSize)
            return;
    }
}

void deleteDeadTorrents(DbSession& session, const std::string& cutoff, std::uint32_t batchSize,
                        std::uint64_t& removed, std::uint32_t& batches) {
    std::uint64_t after = 0;
    for (;;) {
        sql::PreparedStatement& next = session.statement(kNextIdleSwarms);
        next.setString(1, cutoff);
        next.setUInt64(2, after);
        next.setUInt(3, batchSize);
        std::unique_ptr<sql::ResultSet> end(next.executeQuery());
        if (!end->next() || end->isNull(1))
            return;
        std::uint64_t last = end->getUInt64(1);
        end.reset();
        std::uint64_t count = 0;
        retryingDeadlocks([&] {
            feed::inNumberedTransaction(session, [&] {
                sql::PreparedStatement& remove = session.statement(kDeleteDeadTorrents);
                remove.setString(1, cutoff);
                remove.setUInt64(2, after);
                remove.setUInt64(3, last);
                remove.setString(4, cutoff);
                count = static_cast<std::uint64_t>(remove.executeUpdate());
            });
        });
        removed += count;
        ++batches;
        after = last;
    }
}

// One transaction: the mark raised to `through`, then `remove` run.
void pruneThrough(DbSession& session, std::uint64_t through, const std::function<void()>& remove) {
    sql::Connection& connection = session.connection();
    connection.setAutoCommit(false);
    try {
        sql::PreparedStatement& mark = session.statement(kMarkPruned);
        mark.setUInt64(1, through);
        mark.executeUpdate();
        remove();
        connection.commit();
    } catch (...) {
        try {
            connection.rollback();
            connection.setAutoCommit(true);
        } catch (const sql::SQLException&) {
            // The connection is gone: the run fails on the rethrow.
        }
        throw;
    }
    connection.setAutoCommit(true);
}

void pruneFeeds(DbSession& session, const std::string& cutoff, std::uint32_t batchSize,
                std::uint32_t& batches) {
    sql::PreparedStatement& lastOld = session.statement(kLastOldDeparture);
    lastOld.setString(1, cutoff);
    std::unique_ptr<sql::ResultSet> oldest(lastOld.executeQuery());
    if (oldest->next() && !oldest->isNull(1)) {
        std::uint64_t upTo = oldest->getUInt64(1);
        oldest.reset();
        for (;;) {
            sql::PreparedStatement& next = session.statement(kNextDepartures);
            next.setUInt64(1, upTo);
            next.setUInt(2, batchSize);
            std::unique_ptr<sql::ResultSet> end(next.executeQuery());
            if (!end->next() || end->isNull(1))
                break;
            std::uint64_t last = end->getUInt64(1);
            end.reset();
            retryingDeadlocks([&] {
                pruneThrough(session, last, [&] {
                    sql::PreparedStatement& remove = session.statement(kDeleteDepartures);
                    remove.setUInt64(1, last);
                    remove.executeUpdate();
                });
            });
            ++batches;
        }
    }
    std::uint64_t after = 0;
    for (;;) {
        sql::PreparedStatement& next = session.statement(kNextTombstones);
        next.setUInt64(1, after);
        next.setString(2, cutoff);
        next.setUInt(3, batchSize);
        std::unique_ptr<sql::ResultSet> end(next.executeQuery());
        if (!end->next() || end->isNull(1))
            return;
        std::uint64_t last = end->getUInt64(1);
        std::uint64_t sequence = end->getUInt64(2);
        end.reset();
        retryingDeadlocks([&] {
            pruneThrough(session, sequence, [&] {
                sql::PreparedStatement& remove = session.statement(kDeleteTombstones);
                remove.setUInt64(1, after);
                remove.setUInt64(2, last);
                remove.setString(3, cutoff);
                remove.executeUpdate();
            });
        });
        ++batches;
        after = last;
    }
}

std::uint64_t countRows(DbSession& session, const char* statement, const std::string& cutoff,
                        int cutoffs) {
    sql::PreparedStatement& count = session.statement(statement);
    for (int i = 1; i <= cutoffs; ++i)
        count.setString(i, cutoff);
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
    if (unsigned version = schema::appliedSchemaVersion(session);
        version < schema::kRequiredSchemaVersion) {
        result.status = CleanupStatus::Failed;
        result.message = "the database has our migrations up to " + std::to_string(version) +
                         ", the cleanup needs " + std::to_string(schema::kRequiredSchemaVersion) +
                         ": run `trackerctl migrate` first; nothing done";
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
        result.peersRemoved = countRows(session, kCountExpiredPeers, peerCutoff, 1);
        // The torrents whose last peers are among the expired ones are not counted, and rightly:
        // removing those peers sets its `tracker_swarms.empty_since` (the counter triggers), so
        // the real run keeps them too.
        if (torrentsExpire)
            result.torrentsRemoved = countRows(session, kCountDeadTorrents, torrentCutoff, 2);
    } else {
        // Peers first: a torrent emptied now starts its idle time now.
        deleteExpiredPeers(session, peerCutoff, policy.batchSize, result.peersRemoved,
                           result.batches);
        if (torrentsExpire) {
            deleteDeadTorrents(session, torrentCutoff, policy.batchSize, result.torrentsRemoved,
                               result.batches);
        }
        pruneFeeds(session, departureCutoff, policy.batchSize, result.batches);
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
