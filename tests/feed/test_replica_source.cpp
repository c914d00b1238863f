// The feed reading a database replica against a real MariaDB: here the "replica" is a second
// pool on the same server (no lag), or a socket nothing listens on (down). It follows the
// changes on the replica while it can, and the primary while the replica is unreachable, with
// no reload; the replica's own lag handling is in test_replica_lag.cpp and e2e_replication.
#include <catch2/catch.hpp>

#include <chrono>

#include "db/connection_pool.h"
#include "db_fixture.h"
#include "feed/peer_writer.h"
#include "feed/replica_feed.h"
#include "store/mysql_swarm_store.h"

using namespace std::chrono_literals;
using tracker::db::ConnectionPool;
using tracker::feed::PeerWriter;
using tracker::feed::ReplicaFeed;
using tracker::store::MysqlSwarmStore;
using tracker::store::StoreStatus;
using tracker::swarms::SwarmReplica;

namespace {

tracker::DatabaseConfig unreachable() {
    tracker::DatabaseConfig database = itest::testDatabase();
    database.socket = "/nonexistent/tracker-test-replica.sock";
    database.connectTimeoutSeconds = 1;
    return database;
}

struct Process {
    explicit Process(const tracker::DatabaseConfig& replicaAt) : replica(replicaAt, 2, 1000ms) {
        ReplicaFeed::Options options;
        options.startThread = false;
        options.pullInterval = 0ms;
        options.staleAfter = 1h;
        options.loadChunk = 7;
        options.replicaPool = &replica;
        options.replicaRetry = 0ms;  // tried again at every pull
        feed = std::make_unique<ReplicaFeed>(pool, options);
        tracker::store::SwarmStoreOptions storeOptions;
        storeOptions.writer = &writer;
        storeOptions.replica = feed.get();
        store = std::make_unique<MysqlSwarmStore>(pool, storeOptions);
    }
    SwarmReplica::Answer find(const itest::Torrent& torrent) {
        const SwarmReplica* held = feed->freshReplica(ReplicaFeed::Clock::now());
        REQUIRE(held != nullptr);
        return held->find(torrent.hash, false, 1000, 0);
    }

    ConnectionPool pool{itest::testDatabase(), 2, 1000ms};
    ConnectionPool replica;
    PeerWriter writer{pool, 1h};
    std::unique_ptr<ReplicaFeed> feed;
    std::unique_ptr<MysqlSwarmStore> store;
};

}  // namespace

TEST_CASE("a feed with a database replica loads and follows the changes there") {
    itest::Sql db;
    auto before = itest::registerTorrent(db, "on the replica before");
    Process process(itest::testDatabase());
    REQUIRE(process.feed->catchUp());
    auto stats = process.feed->stats();
    CHECK(stats.replicaConfigured);
    CHECK(stats.readingReplica);
    CHECK(stats.replicaLagMs >= 0);
    CHECK(stats.replicaLagMs < 1000);
    CHECK(process.find(before).found == SwarmReplica::Found::Registered);

    auto torrent = itest::registerTorrent(db, "on the replica after");
    REQUIRE(process.feed->catchUp());
    REQUIRE(process.store->announce(itest::announceFor(torrent, "r1", "10.31.0.1", 5), 51).status ==
            StoreStatus::Ok);
    REQUIRE(process.writer.flush());
    REQUIRE(process.feed->catchUp());
    CHECK(process.find(torrent).peers.size() == 1);
    stats = process.feed->stats();
    CHECK(stats.replicaPulls > 0);
    CHECK(stats.replicaPulls == stats.pulls);
    CHECK(stats.replicaFallbacks == 0);
    CHECK(stats.reloads == 1);
}

TEST_CASE("a feed whose database replica is unreachable reads the primary, with no reload") {
    itest::Sql db;
    Process process(unreachable());
    REQUIRE(process.feed->catchUp());  // loaded from the primary
    auto stats = process.feed->stats();
    CHECK(stats.replicaConfigured);
    CHECK_FALSE(stats.readingReplica);
    CHECK(stats.replicaLagMs == -1);
    CHECK(stats.replicaPulls == 0);

    auto torrent = itest::registerTorrent(db, "replica down");
    REQUIRE(process.feed->catchUp());
    REQUIRE(process.store->announce(itest::announceFor(torrent, "d1", "10.31.0.2", 5), 51).status ==
            StoreStatus::Ok);
    REQUIRE(process.writer.flush());
    REQUIRE(process.feed->catchUp());
    CHECK(process.find(torrent).found == SwarmReplica::Found::Registered);
    CHECK(process.find(torrent).peers.size() == 1);
    stats = process.feed->stats();
    CHECK(stats.reloads == 1);
    CHECK(stats.failures == 0);  // the primary answered every pull: no outage
    CHECK_FALSE(stats.outage);
}
