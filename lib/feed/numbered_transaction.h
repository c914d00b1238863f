// One transaction that takes one number of the change feed (tracker_sequence, migrations 005,
// 006) for everything it writes: the triggers on `peers` and `torrents` stamp it on each row
// instead of taking a number, and a lock, per row. The sequence row is locked first and held
// to the commit, so every writer that works this way locks in one order: the sequence, then
// the rows.
#pragma once

#include <cstdint>
#include <functional>

#include "db/db_session.h"

namespace tracker::feed {

// Runs `work` on `session` in such a transaction and commits; rolls back and rethrows when
// anything throws (sql::SQLException). Returns the number the transaction took: every number
// below it had committed when it was taken, so it samples the primary's counter for free.
std::uint64_t inNumberedTransaction(db::DbSession& session, const std::function<void()>& work);

}  // namespace tracker::feed
