#include "feed/numbered_transaction.h"

#include "feed/write_statements.h"

namespace tracker::feed {

void inNumberedTransaction(db::DbSession& session, const std::function<void()>& work) {
    // Begun and ended by statements, the connection left in autocommit: two round trips
    // where switching autocommit off and back on takes three.
    session.statement(statements::kBeginTransaction).execute();
    try {
        // No row, no lock and no number (the variable is left as it was: NULL).
        if (session.statement(statements::kNextSequence).executeUpdate() != 1)
            throw sql::SQLException("tracker_sequence has no row 1: run `trackerctl migrate`");
        work();
        // Before the commit: only the triggers of this transaction's statements use the
        // number, and a connection must never go back to a pool still carrying it.
        session.statement(statements::kDropSequence).execute();
        session.statement(statements::kCommitTransaction).execute();
    } catch (...) {
        try {
            session.statement(statements::kRollbackTransaction).execute();
            session.statement(statements::kDropSequence).execute();
        } catch (const sql::SQLException&) {
            // The connection is gone; the caller's error handling drops it.
        }
        throw;
    }
}

}  // namespace tracker::feed
