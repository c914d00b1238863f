// A bounded pool of MySQL/MariaDB sessions shared by all worker threads: a lease waits a bounded
// time for a free session, a lost connection is dropped and replaced, an idle one is checked
// before use. Thread-safe. Only the store uses it; nothing above the store sees SQL.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "db/db_session.h"
#include "db/pool_stats.h"

namespace tracker::db {

class ConnectionPool {
  public:
    // Calls get_driver_instance(), which is not safe to call first from several threads:
    // construct the pool once at start-up, before the workers start.
    ConnectionPool(const DatabaseConfig& database, std::uint32_t size,
                   std::chrono::milliseconds maxWait);
    ~ConnectionPool();
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    // A session held by one thread until the lease ends. markBroken() drops the session
    // instead of returning it (after a lost connection).
    class Lease {
      public:
        Lease(Lease&& other) noexcept;
        Lease& operator=(Lease&&) = delete;
        ~Lease();
        DbSession& session() { return *session_; }
        bool fresh() const { return fresh_; }  // connected by this lease
        void markBroken() { broken_ = true; }

      private:
        friend class ConnectionPool;
        Lease(ConnectionPool* pool, std::unique_ptr<DbSession> session, bool fresh);
        ConnectionPool* pool_;
        std::unique_ptr<DbSession> session_;
        bool fresh_;
        bool broken_ = false;
    };

    enum class LeaseError { Busy, Unavailable };
    struct LeaseResult {
        std::optional<Lease> lease;
        LeaseError error = LeaseError::Unavailable;
        std::string message;
    };

    // Waits up to maxWait for a free slot, then connects if the slot has no session.
    LeaseResult acquire();
    PoolStats stats() const;

  private:
    void giveBack(std::unique_ptr<DbSession> session, bool broken);

    DatabaseConfig database_;
    std::uint32_t size_;
    std::chrono::milliseconds maxWait_;

    mutable std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<std::unique_ptr<DbSession>> idle_;
    std::uint32_t inUse_ = 0;
    std::uint32_t open_ = 0;
    std::chrono::steady_clock::time_point lastConnectFailure_{};
    std::string lastConnectError_;
    PoolStats counters_;
};

}  // namespace tracker::db
