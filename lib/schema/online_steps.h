// The steps of a migration that must not stop a live site's writers (the PHP front end, our
// workers): statements over a big table in short batches, and the copy-and-swap rebuild of a
// table whose change the server can only make by blocking its writes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <cppconn/connection.h>

#include "schema/migration_directive.h"

namespace tracker::schema {

// What a step did, for the report: how long it ran and the longest any one of its
// transactions (a batch, the swap) held its locks.
struct StepTiming {
    // "peers rebuilt online (1000000 rows copied in 500 batch(es), 2 given way to a lock)"
    std::string what;
    std::chrono::milliseconds total{0};
    std::chrono::milliseconds longestHold{0};
};

// Runs `statements` once per batch of at most `step.size` values of `step.table`.`step.column`
// between its MIN and MAX as they are when it starts, each batch one READ COMMITTED transaction
// that waits for no row lock: one that meets a lock is rolled back and retried, smaller (a batch
// is idempotent by construction).
// Rows added after it starts are the business of the triggers the migration created before.
StepTiming runInBatches(sql::Connection& connection, const BatchedStep& step,
                        const std::vector<std::string>& statements);

// Applies `alter` (an ALTER TABLE's clauses) to a copy of its table while the table's writers
// go on: a shadow table in the new shape, triggers on the table mirroring every write into it,
// the rows copied in short batches of locking reads (that wait for no lock, as above), then one
// atomic RENAME TABLE. The table
// must have no triggers of its own (they would not follow it to the copy): refused otherwise.
// Throws std::runtime_error with what went wrong; an interrupted rebuild is cleaned up by the
// next one.
StepTiming rebuildOnline(sql::Connection& connection, const AlterParts& alter);

// Below this many rows a table is altered as the statement says, under the server's own short
// write lock (a copy of 10,000 peers takes well under a second), and keeps its constraints'
// names; from it on it is rebuilt online.
constexpr long long kRebuildFromRows = 10000;
bool hasFewerRowsThan(sql::Connection& connection, const std::string& table, long long rows);

// Runs `text` (a fixed statement of ours), retrying a lock wait timeout or a deadlock a while:
// the migration's session waits at most a second for a lock (lock_wait_timeout), so that a
// pending DDL never queues the site's statements behind it for longer.
void executeRetryingLocks(sql::Connection& connection, const std::string& text);

// The session settings the runner migrates under (the short metadata-lock wait above).
void prepareMigrationSession(sql::Connection& connection);

}  // namespace tracker::schema
