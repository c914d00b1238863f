// tracker-fcgi: the FastCGI worker pool. One process, `workers` threads accepting on one
// socket, sharing one pool of database connections. SIGTERM or SIGINT: finish the requests in
// flight, write what the write-behind holds, then exit 0. SIGHUP: read the config again and
// take what can change while serving. Under systemd (Type=notify) it says when it is ready,
// reloading and stopping, and feeds the watchdog while it can answer.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "config/config.h"
#include "fcgi/fcgi_server.h"
#include "schema/schema_version.h"
#include "service/address_allowlist.h"
#include "tracker_fcgi/options.h"
#include "tracker_fcgi/stop_signals.h"
#include "tracker_fcgi/systemd_notify.h"
#include "tracker_fcgi/worker_process.h"
#include "util/log.h"

namespace {

using tracker::app::FcgiOptions;

// The config, with its stats allow-list read; none (after saying why) when either is bad.
bool loadConfig(const FcgiOptions& options, tracker::Config& config,
                std::optional<tracker::service::AddressAllowlist>& statsReaders) {
    auto loaded = tracker::loadConfig(options.configPath);
    if (auto* error = std::get_if<tracker::ConfigError>(&loaded)) {
        std::fprintf(stderr, "tracker-fcgi: %s\n", error->message.c_str());
        return false;
    }
    config = std::get<tracker::Config>(loaded);
    std::string badEntry;
    statsReaders = tracker::service::AddressAllowlist::parse(config.statsAllow, &badEntry);
    if (!statsReaders) {
        std::fprintf(stderr,
                     "tracker-fcgi: %s: statsAllow entry \"%s\" is not an address or CIDR block\n",
                     options.configPath.c_str(), badEntry.c_str());
        return false;
    }
    return true;
}

// False (after saying which command to run) for a database without our migrations.
// Unreachable now is not a reason to refuse: the database may come up after us.
bool databaseIsMigrated(tracker::db::ConnectionPool& pool, const tracker::Config& config,
                        const FcgiOptions& options) {
    auto version = tracker::schema::appliedSchemaVersion(pool);
    if (!version || *version >= tracker::schema::kRequiredSchemaVersion)
        return true;
    std::fprintf(stderr,
                 "tracker-fcgi: the database \"%s\" has our migrations up to %u, this build "
                 "needs %u: run `trackerctl --config %s migrate` first\n",
                 config.database.name.c_str(), *version, tracker::schema::kRequiredSchemaVersion,
                 options.configPath.c_str());
    return false;
}

// SIGHUP: the config file again. What the service can take now, it takes; what needs a
// restart is named in the log; a bad file changes nothing.
void reload(const FcgiOptions& options, const tracker::Config& running,
            tracker::app::WorkerProcess& process) {
    tracker::Config config;
    std::optional<tracker::service::AddressAllowlist> statsReaders;
    if (!loadConfig(options, config, statsReaders)) {
        tracker::util::logError("the config was not reloaded (see above): serving on as before");
        return;
    }
    process.service().reload(config, std::move(*statsReaders));
    std::string restartOnly;
    auto note = [&](bool changed, const char* key) {
        if (changed)
            restartOnly += std::string(restartOnly.empty() ? "" : ", ") + key;
    };
    const tracker::DatabaseConfig& db = config.database;
    const tracker::DatabaseConfig& was = running.database;
    note(db.host != was.host || db.port != was.port || db.socket != was.socket ||
             db.user != was.user || db.password != was.password || db.name != was.name ||
             db.connectTimeoutSeconds != was.connectTimeoutSeconds ||
             db.queryTimeoutSeconds != was.queryTimeoutSeconds,
         "database");
    const tracker::ReadReplicaConfig& rr = config.readReplica;
    const tracker::ReadReplicaConfig& rrWas = running.readReplica;
    note(rr.enabled != rrWas.enabled || rr.maxLagMs != rrWas.maxLagMs ||
             rr.database.host != rrWas.database.host || rr.database.port != rrWas.database.port ||
             rr.database.socket != rrWas.database.socket ||
             rr.database.user != rrWas.database.user ||
             rr.database.password != rrWas.database.password ||
             rr.database.name != rrWas.database.name ||
             rr.database.connectTimeoutSeconds != rrWas.database.connectTimeoutSeconds ||
             rr.database.queryTimeoutSeconds != rrWas.database.queryTimeoutSeconds,
         "database.replica");
    note(config.workers != running.workers, "workers");
    note(config.poolSize != running.poolSize, "poolSize");
    note(config.poolWaitMs != running.poolWaitMs, "poolWaitMs");
    note(config.listen != running.listen, "listen");
    note(config.listenBacklog != running.listenBacklog, "listenBacklog");
    note(config.swarmCacheMs != running.swarmCacheMs, "swarmCacheMs");
    note(config.peerFlushMs != running.peerFlushMs, "peerFlushMs");
    note(config.replicaPullMs != running.replicaPullMs, "replicaPullMs");
    note(config.replicaReloadSeconds != running.replicaReloadSeconds, "replicaReloadSeconds");
    note(config.meetWaitMs != running.meetWaitMs, "meetWaitMs");
    note(config.outageServeSeconds != running.outageServeSeconds, "outageServeSeconds");
    note(config.quietWriteSeconds != running.quietWriteSeconds, "quietWriteSeconds");
    note(config.fullScrape != running.fullScrape, "fullScrape");
    note(config.fullScrapeCacheSeconds != running.fullScrapeCacheSeconds, "fullScrapeCacheSeconds");
    tracker::util::logInfo(
        "config reloaded: intervals, numwant, requireKey, allowIpParam, scrape and statsAllow "
        "as the file says now" +
        (restartOnly.empty() ? std::string()
                             : "; changed but kept until a restart: " + restartOnly));
}

int check(tracker::db::ConnectionPool& pool) {
    auto lease = pool.acquire();
    if (!lease.lease) {
        std::fprintf(stderr, "tracker-fcgi: %s\n", lease.message.c_str());
        return 1;
    }
    std::puts("config and database OK");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    auto commandLine = tracker::app::parseFcgiOptions(argc, argv);
    if (auto* exitStatus = std::get_if<int>(&commandLine))
        return *exitStatus;
    const FcgiOptions& options = std::get<FcgiOptions>(commandLine);
    tracker::Config config;
    std::optional<tracker::service::AddressAllowlist> statsReaders;
    if (!loadConfig(options, config, statsReaders))
        return 2;

    {
        // A connection of its own for the checks, closed before the workers start.
        tracker::db::ConnectionPool checking(config.database, 1,
                                             std::chrono::milliseconds(config.poolWaitMs));
        if (!databaseIsMigrated(checking, config, options))
            return 1;
        if (options.check)
            return check(checking);
    }

    tracker::app::StopSignals stopSignals;  // before any thread starts
    tracker::app::SystemdNotify notify;
    tracker::app::WorkerProcess process(config, std::move(*statsReaders));

    tracker::fcgi::ServerOptions serverOptions;
    serverOptions.listen = options.listen.value_or(config.listen);
    serverOptions.backlog = static_cast<int>(config.listenBacklog);
    serverOptions.threads = config.workers;
    auto opened = tracker::fcgi::Server::open(serverOptions);
    if (auto* error = std::get_if<std::string>(&opened)) {
        std::fprintf(stderr, "tracker-fcgi: %s\n", error->c_str());
        return 1;
    }
    auto& server = *std::get<std::unique_ptr<tracker::fcgi::Server>>(opened);
    const std::string serving =
        "serving on " +
        (serverOptions.listen.empty() ? std::string("fd 0") : serverOptions.listen) + " with " +
        std::to_string(config.workers) + " workers and " + std::to_string(config.poolSize) +
        " database connections";
    stopSignals.onSignal(
        [&server, &notify] {
            notify.stopping();
            server.stop();
        },
        [&options, &config, &process, &notify, &serving] {
            notify.reloading();
            reload(options, config, process);
            notify.ready(serving);
        });
    // A request in flight longer than the whole watchdog timeout on every thread at once is a
    // process that no longer answers (every request is bounded by poolWaitMs and the query
    // timeouts, seconds).
    notify.startWatchdog(
        [&server, &notify] { return server.responsive(notify.watchdogTimeout()); });

    tracker::util::logInfo(serving);
    server.run(
        [&process](const tracker::service::HttpRequest& request) {
            return process.service().handle(request);
        },
        [&notify, &serving] { notify.ready(serving); });
    stopSignals.join();
    process.stop();
    if (std::size_t left = process.unwritten(); left > 0)
        tracker::util::logError("exiting with " + std::to_string(left) +
                                " peer writes unwritten (database unreachable)");
    tracker::util::logInfo("stopped after " + std::to_string(server.served()) + " requests");
    return 0;
}
