#include "feed/numbered_transaction.h"

#include "feed/write_statements.h"

namespace tracker::feed {

void inNumberedTransaction(db::DbSession& session, const std::function<void()>& work) {
    sql::Connection& connection = session.connection();
    connection.setAutoCommit(false);
    try {
        // No row, no lock and no number: LAST_INSERT_ID() would be some earlier insert's id.
        if (session.statement(statements::kNextSequence).executeUpdate() != 1)
            throw sql::SQLException("tracker_sequence has no row 1: run `trackerctl migrate`");
        session.statement(statements::kUseSequence).execute();
        work();
        // Before the commit: only the triggers of this transaction's statements use the
        // number, and a connection must never go back to a pool still carrying it.
        session.statement(statements::kDropSequence).execute();
        connection.commit();
    } catch (...) {
        try {
            connection.rollback();
            connection.setAutoCommit(true);
            session.statement(statements::kDropSequence).execute();
        } catch (const sql::SQLException&) {
            // The connection is gone; the caller's error handling drops it.
        }
        throw;
    }
    connection.setAutoCommit(true);
}

}  // namespace tracker::feed
