// Running a piece of database work on a leased session, with the retries that are safe: a
// reused connection found lost, a deadlock victim. Shared by the announce path, the feed and
// the write-behind.
#pragma once

#include <string>

#include "db/connection_pool.h"

namespace tracker::db {

// How database work that returns nothing else went.
enum class DbStatus { Ok, Busy, Unavailable };
struct WorkOutcome {
    DbStatus status = DbStatus::Ok;
    std::string message;
};

// InnoDB picked this statement as a deadlock victim and rolled it back whole, so trying again
// is safe and quick. (A lock-wait timeout is not retried: it has already cost the request
// innodb_lock_wait_timeout seconds.)
inline bool isTransientConflict(const sql::SQLException& error) {
    return error.getErrorCode() == 1213;
}

// Runs `work` on a leased session. A reused session whose connection turns out to be lost
// (the server restarted since it was last used) is dropped and the work is tried once more on
// a fresh connection; a deadlock victim is tried again; any other database error becomes
// Unavailable for this request. `Outcome` has a `status` whose enum has Busy and Unavailable,
// and a `message`.
template <typename Outcome, typename Work>
Outcome withSession(ConnectionPool& pool, Work work) {
    using Status = decltype(Outcome{}.status);
    constexpr int kAttempts = 3;
    std::string lastError;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        auto leased = pool.acquire();
        if (!leased.lease) {
            Outcome outcome;
            outcome.status = leased.error == ConnectionPool::LeaseError::Busy ? Status::Busy
                                                                              : Status::Unavailable;
            outcome.message = leased.message;
            return outcome;
        }
        ConnectionPool::Lease& lease = *leased.lease;
        try {
            return work(lease.session());
        } catch (const sql::SQLException& error) {
            lastError = std::string("database error ") + std::to_string(error.getErrorCode()) +
                        ": " + error.what();
            bool lost = isConnectionLost(error);
            if (lost)
                lease.markBroken();
            bool retry = (lost && !lease.fresh()) || isTransientConflict(error);
            if (!retry)
                break;
        }
    }
    Outcome outcome;
    outcome.status = Status::Unavailable;
    outcome.message = lastError;
    return outcome;
}

}  // namespace tracker::db
