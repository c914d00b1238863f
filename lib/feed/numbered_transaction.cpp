#include "feed/numbered_transaction.h"

#include <memory>

#include "feed/write_statements.h"

namespace tracker::feed {

namespace {

// The number kBeginNumbered returns; a compound statement's result comes with a status of
// its own after it, read here so that the connection is ready for the next statement.
std::uint64_t beginNumbered(db::DbSession& session) {
    sql::PreparedStatement& begin = session.statement(statements::kBeginNumbered);
    std::uint64_t number = 0;
    bool numbered = false;
    {
        std::unique_ptr<sql::ResultSet> row(begin.executeQuery());
        if (row->next() && !row->isNull(1)) {
            number = row->getUInt64(1);
            numbered = true;
        }
    }
    while (begin.getMoreResults()) {
    }
    if (!numbered)
        throw sql::SQLException("tracker_sequence has no row 1: run `trackerctl migrate`");
    return number;
}

}  // namespace

NumberedCommit inNumberedTransaction(db::DbSession& session, const std::function<void()>& work) {
    NumberedCommit done;
    try {
        done.number = beginNumbered(session);
        work();
        done.committing = std::chrono::steady_clock::now();
        session.statement(statements::kCommitNumbered).execute();
    } catch (...) {
        try {
            session.statement(statements::kRollbackNumbered).execute();
        } catch (const sql::SQLException&) {
            // Gone, or in a state nobody knows: never back to the pool.
            session.unusable = true;
        }
        throw;
    }
    return done;
}

}  // namespace tracker::feed
