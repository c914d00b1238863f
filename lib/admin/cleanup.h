// The cleanup tracker-cron runs: deletes expired peers, then dead torrents, in bounded batches
// while the workers keep serving. One run at a time per database, kept by a MySQL named lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "config/config.h"

namespace tracker::admin {

// What a run deletes, and how.
struct CleanupPolicy {
    std::uint32_t peerTimeoutSeconds = 1200;  // a peer not updated this long is gone
    std::uint32_t torrentTtlDays = 7;   // a peerless torrent idle this long is dead; 0 = never
    std::uint32_t batchSize = 1000;     // rows per DELETE, each its own transaction
    std::uint32_t lockWaitSeconds = 0;  // wait this long for another run to finish
    bool dryRun = false;                // count what would go, delete nothing
};

// The config's rule: a peer expires when it has missed its announce by more than one
// minInterval, i.e. after minInterval + maxInterval (the PHP README's rule; the PHP code
// subtracted and expired peers after maxInterval - minInterval, while they were still due).
CleanupPolicy cleanupPolicyFor(const Config& config);

enum class CleanupStatus {
    Done,
    AnotherRunning,  // another run holds the lock (past lockWaitSeconds); nothing was touched
    Unreachable,     // cannot connect to the database
    Failed,          // a statement failed; the counts say what was deleted before it
};

struct CleanupResult {
    CleanupStatus status = CleanupStatus::Done;
    std::string message;                // why, for every status but Done
    std::uint64_t peersRemoved = 0;     // (dry run: would be removed)
    std::uint64_t torrentsRemoved = 0;  // (dry run: would be removed)
    std::uint32_t batches = 0;          // DELETE statements run
    std::chrono::duration<double> elapsed{0};
};

// The MySQL named lock that keeps two runs on one database apart: "tracker-cron:" and the
// database name (named locks are server-wide; two trackers on one server must not collide).
std::string cleanupLockName(const DatabaseConfig& database);

// Connects, takes the lock, cleans, releases. Never throws for database errors: they come
// back as the result's status and message.
CleanupResult runCleanup(const DatabaseConfig& database, const CleanupPolicy& policy);

}  // namespace tracker::admin
