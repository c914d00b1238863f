#include "service/metrics.h"

#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace tracker::service {
namespace {

constexpr const char* kKindNames[kRequestKinds] = {
    "announce", "scrape", "full_scrape", "stats", "not_found", "bad_method", "forbidden"};
constexpr const char* kFailureNames[8] = {"unnumbered", "1_missing_field", "2_info_hash",
                                          "3_peer_id",  "4_port",          "5_not_registered",
                                          "6_banned",   "unavailable"};

}  // namespace

Metrics::Metrics(std::function<db::PoolStats()> pool)
    : started_(std::chrono::steady_clock::now()), pool_(std::move(pool)) {}

std::size_t Metrics::failureIndex(protocol::FailureCode code) {
    int number = static_cast<int>(code);
    if (number >= 1 && number <= 6)
        return static_cast<std::size_t>(number);
    return code == protocol::FailureCode::Unavailable ? 7 : 0;
}

std::string Metrics::json() const {
    nlohmann::json out;
    out["pid"] = static_cast<long>(getpid());  // which process answered, behind a balancer
    out["uptimeSeconds"] = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now() - started_)
                               .count();
    for (std::size_t i = 0; i < kRequestKinds; ++i) {
        out["requests"][kKindNames[i]] = requests_[i].load(relaxed);
    }
    for (std::size_t i = 0; i < failures_.size(); ++i) {
        out["failures"][kFailureNames[i]] = failures_[i].load(relaxed);
    }
    if (pool_) {
        db::PoolStats pool = pool_();
        out["pool"] = {{"size", pool.size},
                       {"inUse", pool.inUse},
                       {"open", pool.open},
                       {"leases", pool.leases},
                       {"waits", pool.waits},
                       {"timeouts", pool.timeouts},
                       {"connectFailures", pool.connectFailures},
                       {"dropped", pool.dropped}};
    }
    if (writer_) {
        feed::WriterStats writer = writer_();
        out["peerWrites"] = {
            {"pending", writer.pending},     {"written", writer.written},
            {"flushes", writer.flushes},     {"failedFlushes", writer.failedFlushes},
            {"dropped", writer.dropped},     {"flushMs", writer.flushTime.count() / 1000},
            {"immediate", writer.immediate}, {"held", writer.held},
            {"heldNow", writer.heldNow},     {"touched", writer.touched}};
    }
    if (replica_) {
        feed::ReplicaStats replica = replica_();
        out["replica"] = {{"torrents", replica.torrents},
                          {"peers", replica.peers},
                          {"sequence", replica.sequence},
                          {"lastPullAgeMs", replica.lastPullAgeMs},
                          {"outage", replica.outage},
                          {"pulls", replica.pulls},
                          {"changes", replica.changes},
                          {"reloads", replica.reloads},
                          {"lastReloadMs", replica.lastReloadTook.count()},
                          {"resyncs", replica.resyncs},
                          {"resyncDropped", replica.resyncDropped},
                          {"bytes", replica.bytes},
                          {"failures", replica.failures}};
        if (replica.replicaConfigured)
            out["replica"]["database"] = {
                {"reading", replica.readingReplica ? "replica" : "primary"},
                {"lagMs", replica.replicaLagMs},
                {"fallbacks", replica.replicaFallbacks},
                {"pulls", replica.replicaPulls},
                {"ownKept", replica.ownKept}};
    }
    if (sources_) {
        store::AnswerSources sources = sources_();
        out["answeredFrom"] = {{"replica", sources.replica},
                               {"cache", sources.cache},
                               {"database", sources.database},
                               {"awaitedOthers", sources.awaitedOthers}};
    }
    if (fullScrape_) {
        FullScrapeStats scrape = fullScrape_();
        out["fullScrape"] = {{"builds", scrape.builds},
                             {"failedBuilds", scrape.failedBuilds},
                             {"gzipBytes", scrape.gzipBytes},
                             {"plainBytes", scrape.plainBytes},
                             {"lastBuildMs", scrape.lastBuildMs}};
    }
    return out.dump(2) + "\n";
}

std::string Metrics::prometheus() const {
    std::string out;
    auto line = [&out](const std::string& name, const std::string& labels, std::uint64_t value) {
        out += name;
        if (!labels.empty())
            out += "{" + labels + "}";
        out += " " + std::to_string(value) + "\n";
    };
    auto header = [&out](const char* name, const char* type, const char* help) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    header("tracker_uptime_seconds", "gauge", "Seconds since this worker process started.");
    line("tracker_uptime_seconds", "",
         static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::steady_clock::now() - started_)
                                        .count()));
    header("tracker_requests_total", "counter", "Requests served, by kind.");
    for (std::size_t i = 0; i < kRequestKinds; ++i) {
        line("tracker_requests_total", std::string("kind=\"") + kKindNames[i] + "\"",
             requests_[i].load(relaxed));
    }
    header("tracker_failures_total", "counter", "Failure reasons sent, by reason.");
    for (std::size_t i = 0; i < failures_.size(); ++i) {
        line("tracker_failures_total", std::string("reason=\"") + kFailureNames[i] + "\"",
             failures_[i].load(relaxed));
    }
    if (pool_) {
        db::PoolStats pool = pool_();
        header("tracker_db_pool_size", "gauge", "Database connections the pool may open.");
        line("tracker_db_pool_size", "", pool.size);
        header("tracker_db_pool_in_use", "gauge", "Database connections leased right now.");
        line("tracker_db_pool_in_use", "", pool.inUse);
        header("tracker_db_pool_open", "gauge", "Database connections open, leased or idle.");
        line("tracker_db_pool_open", "", pool.open);
        header("tracker_db_pool_waits_total", "counter", "Leases that waited for a connection.");
        line("tracker_db_pool_waits_total", "", pool.waits);
        header("tracker_db_pool_timeouts_total", "counter",
               "Leases refused after waiting poolWaitMs.");
        line("tracker_db_pool_timeouts_total", "", pool.timeouts);
        header("tracker_db_connect_failures_total", "counter", "Failed connection attempts.");
        line("tracker_db_connect_failures_total", "", pool.connectFailures);
        header("tracker_db_connections_dropped_total", "counter",
               "Connections dropped after being lost.");
        line("tracker_db_connections_dropped_total", "", pool.dropped);
    }
    if (writer_) {
        feed::WriterStats writer = writer_();
        header("tracker_peer_writes_pending", "gauge",
               "Announces queued for the database (write-behind).");
        line("tracker_peer_writes_pending", "", writer.pending);
        header("tracker_peer_writes_total", "counter", "Peer rows written by the write-behind.");
        line("tracker_peer_writes_total", "", writer.written);
        header("tracker_peer_writes_immediate_total", "counter",
               "Completions written before they were answered, not queued.");
        line("tracker_peer_writes_immediate_total", "", writer.immediate);
        header("tracker_peer_write_failed_flushes_total", "counter",
               "Write-behind batches that failed and were kept for the next try.");
        line("tracker_peer_write_failed_flushes_total", "", writer.failedFlushes);
        header("tracker_peer_write_flush_seconds_total", "counter",
               "Time the write-behind's flushes spent in the database (holding the feed's lock).");
        out += "tracker_peer_write_flush_seconds_total " +
               std::to_string(static_cast<double>(writer.flushTime.count()) / 1e6) + "\n";
        header("tracker_peer_writes_dropped_total", "counter",
               "Announces dropped because the write-behind queue was full.");
        line("tracker_peer_writes_dropped_total", "", writer.dropped);
        header("tracker_peer_writes_held_total", "counter",
               "Re-announces that changed nothing but the time, held back to be written together.");
        line("tracker_peer_writes_held_total", "", writer.held);
        header("tracker_peer_writes_held", "gauge",
               "Peer rows with held re-announces not written yet.");
        line("tracker_peer_writes_held", "", writer.heldNow);
        header("tracker_peer_writes_touched_total", "counter",
               "Peer rows written for held re-announces (their time and left only).");
        line("tracker_peer_writes_touched_total", "", writer.touched);
    }
    if (replica_) {
        feed::ReplicaStats replica = replica_();
        header("tracker_replica_peers", "gauge", "Peers in this process's replica of the swarms.");
        line("tracker_replica_peers", "", replica.peers);
        header("tracker_replica_torrents", "gauge", "Torrents in this process's replica.");
        line("tracker_replica_torrents", "", replica.torrents);
        header("tracker_replica_pull_age_ms", "gauge",
               "Milliseconds since the replica last caught up with the database.");
        line("tracker_replica_pull_age_ms", "",
             static_cast<std::uint64_t>(std::max<std::int64_t>(replica.lastPullAgeMs, 0)));
        header("tracker_replica_changes_total", "counter", "Peer changes the replica followed.");
        line("tracker_replica_changes_total", "", replica.changes);
        header("tracker_replica_bytes", "gauge",
               "Bytes the replica's peer records, torrent entries and indexes take.");
        line("tracker_replica_bytes", "", replica.bytes);
        header("tracker_replica_reloads_total", "counter",
               "Times the replica read everything: the start-up load and resyncs.");
        line("tracker_replica_reloads_total", "", replica.reloads);
        header("tracker_replica_resyncs_total", "counter",
               "Resyncs: everything read again beside the replica after a gap in the feed.");
        line("tracker_replica_resyncs_total", "", replica.resyncs);
        header("tracker_replica_failures_total", "counter",
               "Replica pulls or reloads that failed (database unreachable).");
        line("tracker_replica_failures_total", "", replica.failures);
        if (replica.replicaConfigured) {
            header("tracker_replica_reading_database_replica", "gauge",
                   "1 while the feed reads the database replica, 0 while it reads the primary.");
            line("tracker_replica_reading_database_replica", "",
                 static_cast<std::uint64_t>(replica.readingReplica ? 1 : 0));
            header("tracker_replica_database_reachable", "gauge",
                   "1 when the database replica answered the last look, 0 when it failed.");
            line("tracker_replica_database_reachable", "",
                 static_cast<std::uint64_t>(replica.replicaLagMs >= 0 ? 1 : 0));
            header("tracker_replica_database_lag_ms", "gauge",
                   "How far the database replica was behind the primary at the last look "
                   "(0 while it is unreachable: see tracker_replica_database_reachable).");
            line("tracker_replica_database_lag_ms", "",
                 static_cast<std::uint64_t>(std::max<std::int64_t>(replica.replicaLagMs, 0)));
            header("tracker_replica_database_fallbacks_total", "counter",
                   "Times the feed left the database replica for the primary (lag or failure).");
            line("tracker_replica_database_fallbacks_total", "", replica.replicaFallbacks);
            header("tracker_replica_database_pulls_total", "counter",
                   "Pulls read on the database replica.");
            line("tracker_replica_database_pulls_total", "", replica.replicaPulls);
        }
    }
    if (sources_) {
        store::AnswerSources sources = sources_();
        header("tracker_announces_answered_total", "counter",
               "Announces by where their swarm was found: replica, cache or database.");
        line("tracker_announces_answered_total", "from=\"replica\"", sources.replica);
        line("tracker_announces_answered_total", "from=\"cache\"", sources.cache);
        line("tracker_announces_answered_total", "from=\"database\"", sources.database);
        header("tracker_announces_awaited_others_total", "counter",
               "Started announces that found nobody else in their swarm and waited for other "
               "processes'.");
        line("tracker_announces_awaited_others_total", "", sources.awaitedOthers);
    }
    if (fullScrape_) {
        FullScrapeStats scrape = fullScrape_();
        header("tracker_full_scrape_builds_total", "counter", "Full scrapes built.");
        line("tracker_full_scrape_builds_total", "", scrape.builds);
        header("tracker_full_scrape_failed_builds_total", "counter",
               "Full scrape builds that failed (database unreachable).");
        line("tracker_full_scrape_failed_builds_total", "", scrape.failedBuilds);
        header("tracker_full_scrape_bytes", "gauge",
               "Bytes of the current full scrape, as sent to a client that accepts gzip.");
        line("tracker_full_scrape_bytes", "", scrape.gzipBytes);
    }
    return out;
}

}  // namespace tracker::service
