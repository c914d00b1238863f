// tracker-fcgi: the FastCGI worker pool. One process, `workers` threads accepting on one
// socket, sharing one pool of database connections. SIGTERM or SIGINT: finish the requests in
// flight, then exit 0.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "config/config.h"
#include "db/connection_pool.h"
#include "fcgi/fcgi_server.h"
#include "schema/schema_version.h"
#include "service/tracker_service.h"
#include "store/mysql_swarm_store.h"
#include "util/log.h"

namespace {

const char* kUsage =
    "usage: tracker-fcgi --config FILE [--listen ADDRESS]\n"
    "\n"
    "The BitTorrent tracker's FastCGI worker pool: serves /announce and /scrape.\n"
    "\n"
    "  --config FILE     the tracker's JSON config (see deploy/tracker.example.json)\n"
    "  --listen ADDRESS  a unix socket path, host:port or :port; overrides the config's\n"
    "                    \"listen\". Without either, the socket on fd 0 is used (spawn-fcgi,\n"
    "                    Apache mod_fcgid).\n"
    "  --check           read the config, connect to the database once, check that it\n"
    "                    has our migrations (trackerctl migrate), and exit\n"
    "  --help            this text\n";

struct Options {
    std::string configPath;
    std::string listen;
    bool listenGiven = false;
    bool check = false;
};

int usageError(const std::string& message) {
    std::fprintf(stderr, "tracker-fcgi: %s\n\n%s", message.c_str(), kUsage);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (arg == "--config" && i + 1 < argc) {
            options.configPath = argv[++i];
        } else if (arg == "--listen" && i + 1 < argc) {
            options.listen = argv[++i];
            options.listenGiven = true;
        } else if (arg == "--check") {
            options.check = true;
        } else {
            return usageError("unknown or incomplete argument \"" + arg + "\"");
        }
    }
    if (options.configPath.empty())
        return usageError("--config FILE is required");

    auto loaded = tracker::loadConfig(options.configPath);
    if (auto* error = std::get_if<tracker::ConfigError>(&loaded)) {
        std::fprintf(stderr, "tracker-fcgi: %s\n", error->message.c_str());
        return 2;
    }
    const tracker::Config config = std::get<tracker::Config>(loaded);
    std::string badEntry;
    auto statsReaders = tracker::service::AddressAllowlist::parse(config.statsAllow, &badEntry);
    if (!statsReaders) {
        std::fprintf(stderr,
                     "tracker-fcgi: %s: statsAllow entry \"%s\" is not an address or CIDR block\n",
                     options.configPath.c_str(), badEntry.c_str());
        return 2;
    }

    // The replica follows the table on a connection of its own, one of poolSize: when
    // announces keep every other connection busy, it must not fall behind and send them all
    // to the database too. With a pool of one, it shares that one.
    const bool replicaOn = config.peerFlushMs > 0 && config.replicaPullMs > 0;
    const bool feedConnection = replicaOn && config.poolSize >= 2;
    tracker::db::ConnectionPool pool(config.database, config.poolSize - (feedConnection ? 1 : 0),
                                     std::chrono::milliseconds(config.poolWaitMs));
    // Unreachable now is not a reason to refuse: the database may come up after us.
    if (auto version = tracker::schema::appliedSchemaVersion(pool);
        version && *version < tracker::schema::kRequiredSchemaVersion) {
        std::fprintf(stderr,
                     "tracker-fcgi: the database \"%s\" has our migrations up to %u, this build "
                     "needs %u: run `trackerctl --config %s migrate` first\n",
                     config.database.name.c_str(), *version,
                     tracker::schema::kRequiredSchemaVersion, options.configPath.c_str());
        return 1;
    }
    if (options.check) {
        auto lease = pool.acquire();
        if (!lease.lease) {
            std::fprintf(stderr, "tracker-fcgi: %s\n", lease.message.c_str());
            return 1;
        }
        std::puts("config and database OK");
        return 0;
    }

    // Block the stop signals in every thread; the main thread waits for them below.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a web server that hangs up must not kill the process

    tracker::fcgi::ServerOptions serverOptions;
    serverOptions.listen = options.listenGiven ? options.listen : config.listen;
    serverOptions.backlog = static_cast<int>(config.listenBacklog);
    serverOptions.threads = config.workers;
    auto opened = tracker::fcgi::Server::open(serverOptions);
    if (auto* error = std::get_if<std::string>(&opened)) {
        std::fprintf(stderr, "tracker-fcgi: %s\n", error->c_str());
        return 1;
    }
    auto& server = *std::get<std::unique_ptr<tracker::fcgi::Server>>(opened);

    std::unique_ptr<tracker::db::ConnectionPool> feedPool;
    std::unique_ptr<tracker::feed::ReplicaFeed> replica;
    if (replicaOn) {
        tracker::feed::ReplicaFeed::Options feedOptions;
        feedOptions.pullInterval = std::chrono::milliseconds(config.replicaPullMs);
        feedOptions.staleAfter = std::max(feedOptions.staleAfter, 4 * feedOptions.pullInterval);
        feedOptions.resyncInterval = std::chrono::seconds(config.replicaReloadSeconds);
        if (feedConnection)
            feedPool = std::make_unique<tracker::db::ConnectionPool>(
                config.database, 1, std::chrono::milliseconds(config.poolWaitMs));
        replica =
            std::make_unique<tracker::feed::ReplicaFeed>(feedPool ? *feedPool : pool, feedOptions);
    }
    std::unique_ptr<tracker::feed::PeerWriter> writer;
    if (config.peerFlushMs > 0) {
        // Declared after the replica, so destroyed before it: its last flush still wakes it.
        std::function<void()> afterFlush;
        if (replica)
            afterFlush = [&replica] { replica->wake(); };
        writer = std::make_unique<tracker::feed::PeerWriter>(
            pool, std::chrono::milliseconds(config.peerFlushMs), 500000, std::move(afterFlush));
    }
    tracker::store::SwarmStoreOptions storeOptions;
    storeOptions.swarmCacheTtl = std::chrono::milliseconds(config.swarmCacheMs);
    storeOptions.cachedCandidates = config.numwantMax + 1;
    storeOptions.writer = writer.get();
    storeOptions.replica = replica.get();
    tracker::store::MysqlSwarmStore store(pool, storeOptions);
    tracker::service::TrackerService service(
        config, store, std::move(*statsReaders), [&pool, &feedPool] {
            auto stats = pool.stats();
            return feedPool ? stats + feedPool->stats() : stats;
        });
    if (writer)
        service.metrics().setPeerWriterStats([&writer] { return writer->stats(); });
    if (replica)
        service.metrics().setReplicaStats([&replica] { return replica->stats(); });

    std::thread signalWaiter([&server, stopSignals] {
        int received = 0;
        sigwait(&stopSignals, &received);
        tracker::util::logInfo(std::string("received ") + strsignal(received) +
                               ": finishing requests in flight");
        server.stop();
    });

    tracker::util::logInfo(
        "serving on " +
        (serverOptions.listen.empty() ? std::string("fd 0") : serverOptions.listen) + " with " +
        std::to_string(config.workers) + " workers and " + std::to_string(config.poolSize) +
        " database connections");
    server.run([&service](const tracker::service::HttpRequest& request) {
        return service.handle(request);
    });
    signalWaiter.join();
    if (replica)
        replica->stop();
    if (writer) {
        writer->stop();  // the announces answered last are written before we exit
        auto left = writer->stats();
        if (left.pending > 0)
            tracker::util::logError("exiting with " + std::to_string(left.pending) +
                                    " peer writes unwritten (database unreachable)");
    }
    tracker::util::logInfo("stopped after " + std::to_string(server.served()) + " requests");
    return 0;
}
