#include "db/connection_pool.h"

#include <cppconn/driver.h>

namespace tracker::db {
namespace {

using Clock = std::chrono::steady_clock;

// A connection idle longer than this is pinged before use: servers close idle connections
// (wait_timeout) and restarts kill them, and a ping is cheaper than a failed announce.
constexpr auto kPingAfterIdle = std::chrono::seconds(30);
// After a failed connect, callers fail fast for this long instead of each waiting out
// connectTimeoutSeconds against a server that is down.
constexpr auto kConnectBackoff = std::chrono::milliseconds(500);

sql::Driver& driver() {
    static sql::Driver* instance = get_driver_instance();
    return *instance;
}

}  // namespace

ConnectionPool::ConnectionPool(const DatabaseConfig& database, std::uint32_t size,
                               std::chrono::milliseconds maxWait)
    : database_(database), size_(size), maxWait_(maxWait) {
    driver();
    counters_.size = size;
}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::Lease(ConnectionPool* pool, std::unique_ptr<DbSession> session, bool fresh)
    : pool_(pool), session_(std::move(session)), fresh_(fresh) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      session_(std::move(other.session_)),
      fresh_(other.fresh_),
      broken_(other.broken_) {
    other.pool_ = nullptr;
}

ConnectionPool::Lease::~Lease() {
    if (pool_ != nullptr)
        pool_->giveBack(std::move(session_), broken_ || (session_ && session_->unusable));
}

ConnectionPool::LeaseResult ConnectionPool::acquire() {
    ensureDriverThreadInit(driver());
    std::unique_ptr<DbSession> session;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        if (inUse_ >= size_) {
            ++counters_.waits;
            bool freed = freed_.wait_for(lock, maxWait_, [this] { return inUse_ < size_; });
            if (!freed) {
                ++counters_.timeouts;
                return {std::nullopt, LeaseError::Busy,
                        "all " + std::to_string(size_) + " database connections busy"};
            }
        }
        if (idle_.empty() && Clock::now() - lastConnectFailure_ < kConnectBackoff) {
            return {std::nullopt, LeaseError::Unavailable, lastConnectError_};
        }
        ++inUse_;
        ++counters_.leases;
        if (!idle_.empty()) {
            session = std::move(idle_.back());
            idle_.pop_back();
        }
    }

    if (session && Clock::now() - session->lastUsed > kPingAfterIdle) {
        bool alive = false;
        try {
            alive = session->connection().isValid();
        } catch (const sql::SQLException&) {
        }
        if (!alive) {
            session.reset();
            std::lock_guard<std::mutex> lock(mutex_);
            --open_;
            ++counters_.dropped;
        }
    }
    if (session)
        return {Lease(this, std::move(session), false), LeaseError::Unavailable, ""};

    try {
        session = std::make_unique<DbSession>(driver(), database_);
    } catch (const sql::SQLException& error) {
        std::lock_guard<std::mutex> lock(mutex_);
        --inUse_;
        ++counters_.connectFailures;
        lastConnectFailure_ = Clock::now();
        lastConnectError_ = std::string("cannot connect to the database: ") + error.what();
        freed_.notify_one();
        return {std::nullopt, LeaseError::Unavailable, lastConnectError_};
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++open_;
    }
    return {Lease(this, std::move(session), true), LeaseError::Unavailable, ""};
}

void ConnectionPool::giveBack(std::unique_ptr<DbSession> session, bool broken) {
    if (broken)
        session.reset();  // closes outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    --inUse_;
    if (session) {
        session->lastUsed = Clock::now();
        idle_.push_back(std::move(session));
    } else {
        --open_;
        ++counters_.dropped;
    }
    freed_.notify_one();
}

PoolStats ConnectionPool::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    PoolStats stats = counters_;
    stats.inUse = inUse_;
    stats.open = open_;
    return stats;
}

}  // namespace tracker::db
