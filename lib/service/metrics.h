// Live counters of one worker process (requests by kind, failures by reason, the database
// pool), rendered as JSON for /stats and as Prometheus text for /metrics. Thread-safe: the
// counters are atomics that every worker thread bumps without a lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "db/pool_stats.h"
#include "feed/feed_stats.h"
#include "protocol/failure.h"
#include "store/swarm_store.h"

namespace tracker::service {

enum class RequestKind { Announce, Scrape, FullScrape, Stats, NotFound, BadMethod, Forbidden };
constexpr std::size_t kRequestKinds = 7;

class Metrics {
  public:
    // `pool` reads the database pool's figures when stats are rendered (may be empty).
    explicit Metrics(std::function<db::PoolStats()> pool = {});

    void countRequest(RequestKind kind) { requests_[index(kind)].fetch_add(1, relaxed); }
    void countFailure(protocol::FailureCode code) {
        failures_[failureIndex(code)].fetch_add(1, relaxed);
    }

    // The write-behind queue's figures, when it is on.
    void setPeerWriterStats(std::function<feed::WriterStats()> writer) {
        writer_ = std::move(writer);
    }

    // The in-memory replica's figures, when it is on.
    void setReplicaStats(std::function<feed::ReplicaStats()> replica) {
        replica_ = std::move(replica);
    }

    // The full scrape's figures, when it is on.
    struct FullScrapeStats {
        std::uint64_t builds = 0;
        std::uint64_t failedBuilds = 0;
        std::uint64_t gzipBytes = 0;
        std::uint64_t plainBytes = 0;
        std::int64_t lastBuildMs = 0;
    };
    void setFullScrapeStats(std::function<FullScrapeStats()> fullScrape) {
        fullScrape_ = std::move(fullScrape);
    }

    // Where the store answered announces from.
    void setAnswerSources(std::function<store::AnswerSources()> sources) {
        sources_ = std::move(sources);
    }

    std::string json() const;
    std::string prometheus() const;

  private:
    static constexpr auto relaxed = std::memory_order_relaxed;
    static std::size_t index(RequestKind kind) { return static_cast<std::size_t>(kind); }
    // Slots: 0 unnumbered, 1-6 the PHP's reasons, 7 unavailable.
    static std::size_t failureIndex(protocol::FailureCode code);

    std::chrono::steady_clock::time_point started_;
    std::function<db::PoolStats()> pool_;
    std::function<feed::WriterStats()> writer_;
    std::function<feed::ReplicaStats()> replica_;
    std::function<FullScrapeStats()> fullScrape_;
    std::function<store::AnswerSources()> sources_;
    std::array<std::atomic<std::uint64_t>, kRequestKinds> requests_{};
    std::array<std::atomic<std::uint64_t>, 8> failures_{};
};

}  // namespace tracker::service
