// One transaction that takes one number of the change feed (tracker_sequence, migrations 005,
// 006) for everything it writes: the triggers on `peers` and `torrents` stamp it on each row
// instead of taking a number, and a lock, per row. The sequence row is locked first and held
// to the commit, so every writer that works this way locks in one order: the sequence, then
// the rows.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "db/db_session.h"

namespace tracker::feed {

// What a committed numbered transaction tells of the database's numbering.
struct NumberedCommit {
    std::uint64_t number = 0;  // the number it took
    // A moment when the numbers committed were those below `number` and no more (a sample of
    // the primary's counter, for free), when `sampled`: the commit's send time, the numbering
    // held since the begin; for a transaction of one statement, that statement's send time,
    // which is earlier than its wait for the numbering by up to kOneStatementSampleSlack. Not
    // sampled when it waited longer: a sample that old would make the replica look that much
    // further behind.
    std::chrono::steady_clock::time_point committing;
    bool sampled = false;
};

// How long a transaction of one statement may take for its send time to stand as its sample.
constexpr std::chrono::milliseconds kOneStatementSampleSlack{50};

// Runs `work` on `session` in such a transaction and commits; rolls back and rethrows when
// anything throws (sql::SQLException). A connection whose rollback fails too is marked
// unusable (it may still hold the transaction, its locks and its number).
NumberedCommit inNumberedTransaction(db::DbSession& session, const std::function<void()>& work);

// One statement of such a transaction, for inNumberedStatements: its SQL (living as long as
// the process, as DbSession::statement asks) and what binds its placeholders, from `column`.
struct NumberedStatement {
    const char* sql;
    std::function<void(sql::PreparedStatement& statement, unsigned column)> bind;
};

// The same transaction for a known list of statements, with its begin sent in the first
// statement's round trip and its commit in the last's: a batch of one statement takes one
// round trip instead of three (each a fixed amount of the primary's work, paid by every
// worker host several times a second). Nothing at all for no statements. Each statement is
// prepared once per connection in that wrapped form only.
NumberedCommit inNumberedStatements(db::DbSession& session,
                                    const std::vector<NumberedStatement>& statements);

}  // namespace tracker::feed
