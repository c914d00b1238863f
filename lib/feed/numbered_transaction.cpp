#include "feed/numbered_transaction.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "feed/write_statements.h"

namespace tracker::feed {

namespace {

// The number a begin returns; a compound statement's result comes with a status of its own
// after it, read here so that the connection is ready for the next statement.
std::uint64_t readNumber(sql::PreparedStatement& begin) {
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

// After anything thrown part way: the transaction, its locks and its number go.
void rollBack(db::DbSession& session) {
    try {
        session.statement(statements::kRollbackNumbered).execute();
    } catch (const sql::SQLException&) {
        // Gone, or in a state nobody knows: never back to the pool.
        session.unusable = true;
    }
}

// `sql` wrapped as a step that may begin and end the transaction. The texts live as long as
// the process: a session caches its statements by their address.
const char* asStep(const char* sql) {
    static std::mutex mutex;
    static std::map<const char*, std::string> wrapped;
    std::lock_guard<std::mutex> lock(mutex);
    std::string& text = wrapped[sql];
    if (text.empty())
        text = std::string(statements::kNumberedStepHead) + sql + statements::kNumberedStepTail;
    return text.c_str();
}

}  // namespace

NumberedCommit inNumberedTransaction(db::DbSession& session, const std::function<void()>& work) {
    NumberedCommit done;
    try {
        done.number = readNumber(session.statement(statements::kBeginNumbered));
        work();
        done.committing = std::chrono::steady_clock::now();
        done.sampled = true;
        session.statement(statements::kCommitNumbered).execute();
    } catch (...) {
        rollBack(session);
        throw;
    }
    return done;
}

NumberedCommit inNumberedStatements(db::DbSession& session,
                                    const std::vector<NumberedStatement>& statements) {
    NumberedCommit done;
    if (statements.empty())
        return done;
    try {
        for (std::size_t i = 0; i < statements.size(); ++i) {
            bool beginning = i == 0;
            bool ending = i + 1 == statements.size();
            sql::PreparedStatement& step = session.statement(asStep(statements[i].sql));
            step.setBoolean(1, beginning);
            step.setBoolean(2, ending);
            statements[i].bind(step, 3);
            if (ending)
                done.committing = std::chrono::steady_clock::now();
            if (beginning) {
                done.number = readNumber(step);
            } else {
                step.execute();
                while (step.getMoreResults()) {
                }
            }
        }
    } catch (...) {
        rollBack(session);
        throw;
    }
    // Sent after the begin, the commit's time is exact; sent with it, it is early by the wait
    // for the numbering, which only the statement's whole time bounds.
    done.sampled = statements.size() > 1 ||
                   std::chrono::steady_clock::now() - done.committing <= kOneStatementSampleSlack;
    return done;
}

}  // namespace tracker::feed
