// One transaction that takes one number of the change feed (tracker_sequence, migrations 005,
// 006) for everything it writes: the triggers on `peers` and `torrents` stamp it on each row
// instead of taking a number, and a lock, per row. The sequence row is locked first and held
// to the commit, so every writer that works this way locks in one order: the sequence, then
// the rows.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "db/db_session.h"

namespace tracker::feed {

// What a committed numbered transaction tells of the database's numbering.
struct NumberedCommit {
    std::uint64_t number = 0;  // the number it took
    // When its commit was sent: until then it held the numbering, so the numbers committed
    // were exactly those below `number` (a sample of the primary's counter, for free).
    std::chrono::steady_clock::time_point committing;
};

// Runs `work` on `session` in such a transaction and commits; rolls back and rethrows when
// anything throws (sql::SQLException). A connection whose rollback fails too is marked
// unusable (it may still hold the transaction, its locks and its number).
NumberedCommit inNumberedTransaction(db::DbSession& session, const std::function<void()>& work);

}  // namespace tracker::feed
