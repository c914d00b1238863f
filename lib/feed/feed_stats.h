// The figures of the write-behind and of the replica's feed, for /stats and /metrics: plain
// numbers, no database types.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace tracker::feed {

struct WriterStats {
    std::uint64_t written = 0;        // peer writes applied
    std::uint64_t flushes = 0;        // batches applied
    std::uint64_t immediate = 0;      // completions written before their answer
    std::uint64_t failedFlushes = 0;  // batches kept for the next try (database down)
    std::uint64_t dropped = 0;        // writes given up when the queue was full
    std::uint64_t held = 0;           // re-announces held back (see PeerWriter::hold)
    std::uint64_t touched = 0;        // rows written for held re-announces
    // The flushes' time in the database, all told: each holds the feed's numbering lock that
    // long, and every process's flushes take turns on it.
    std::chrono::microseconds flushTime{0};
    std::size_t pending = 0;  // queued or being written: not in the database yet
    std::size_t heldNow = 0;  // rows with held re-announces, not written yet
};

struct ReplicaStats {
    std::uint64_t pulls = 0;
    std::uint64_t changes = 0;        // torrent and peer changes applied from pulls
    std::uint64_t reloads = 0;        // everything read: the start-up load and resyncs
    std::uint64_t resyncs = 0;        // of which resyncs (a gap in the feed, or on a timer)
    std::uint64_t resyncDropped = 0;  // peers resyncs found gone without a change saying so
    std::uint64_t failures = 0;
    std::uint64_t sequence = 0;       // every change up to this number is applied
    std::int64_t lastPullAgeMs = -1;  // since it last caught up; -1: not loaded
    bool outage = false;              // answering from memory while the database fails
    std::chrono::milliseconds lastReloadTook{0};
    // With a database replica configured (database.replica):
    bool replicaConfigured = false;
    bool readingReplica = false;         // the feed reads the replica now (else the primary)
    std::int64_t replicaLagMs = -1;      // its lag at the last look; -1: not known (down)
    std::uint64_t replicaFallbacks = 0;  // times the feed left it for the primary
    std::uint64_t replicaPulls = 0;      // pulls read on it
    std::uint64_t ownKept = 0;           // older versions of own announces passed over
    std::size_t torrents = 0;
    std::size_t peers = 0;
    std::size_t bytes = 0;  // what the replica's records and indexes take
};

}  // namespace tracker::feed
