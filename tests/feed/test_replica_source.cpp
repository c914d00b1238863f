// The feed reading a database replica against a real MariaDB: here the "replica" is a second
// pool on the same server (no lag), a socket nothing listens on (down), or a schema beside the
// test database that the test copies the feed's tables into when it wants the replica to catch
// up (a replica lagging exactly as far as the test says). It follows the changes on the replica
// while it can, the primary while the replica is unreachable or too far behind, with no
// reload, and a replica behind this process's own announce does not undo it.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

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

// The tables the feed reads, in a schema of their own, without the triggers: copied from the
// test database by replicate(), as a replica applies what the primary committed.
class HandReplica {
  public:
    explicit HandReplica(itest::Sql& db)
        : db_(db), primary_(itest::testDatabase().name), name_(primary_ + "_hand_replica") {
        db_.exec("DROP DATABASE IF EXISTS " + name_);
        db_.exec("CREATE DATABASE " + name_);
        for (const char* table : kTables)
            db_.exec("CREATE TABLE " + name_ + "." + table + " LIKE " + primary_ + "." + table);
        replicate();
    }
    ~HandReplica() { db_.exec("DROP DATABASE IF EXISTS " + name_); }
    HandReplica(const HandReplica&) = delete;
    HandReplica& operator=(const HandReplica&) = delete;

    void replicate() {
        for (const char* table : kTables) {
            std::string columns = db_.text(
                "SELECT GROUP_CONCAT(COLUMN_NAME) FROM information_schema.COLUMNS WHERE "
                "TABLE_SCHEMA = '" +
                primary_ + "' AND TABLE_NAME = '" + table + "' AND IS_GENERATED = 'NEVER'");
            db_.exec("DELETE FROM " + name_ + "." + table);
            db_.exec("INSERT INTO " + name_ + "." + table + " (" + columns + ") SELECT " + columns +
                     " FROM " + primary_ + "." + table);
        }
    }
    tracker::DatabaseConfig config() const {
        tracker::DatabaseConfig database = itest::testDatabase();
        database.name = name_;
        return database;
    }

  private:
    static constexpr const char* kTables[] = {"tracker_sequence", "torrents", "peers",
                                              "tracker_torrent_feed", "tracker_departures"};
    itest::Sql& db_;
    std::string primary_;
    std::string name_;
};

struct Process {
    explicit Process(const tracker::DatabaseConfig& replicaAt,
                     std::chrono::milliseconds maxLag = 3000ms)
        : replica(replicaAt, 2, 1000ms) {
        ReplicaFeed::Options options;
        options.startThread = false;
        options.pullInterval = 0ms;
        options.staleAfter = 1h;
        options.loadChunk = 7;
        options.replicaPool = &replica;
        options.replicaRetry = 0ms;  // tried again at every pull
        options.replicaMaxLag = maxLag;
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
    std::optional<tracker::swarms::StoredPeer> peer(const itest::Torrent& torrent,
                                                    const std::string& uid) {
        const SwarmReplica* held = feed->freshReplica(ReplicaFeed::Clock::now());
        REQUIRE(held != nullptr);
        return held->find(torrent.hash, false, 1000, 0, uid).self;
    }
    void announce(const itest::Torrent& torrent, const std::string& uid, std::uint64_t left) {
        REQUIRE(store->announce(itest::announceFor(torrent, uid, "10.31.1.1", left), 51).status ==
                StoreStatus::Ok);
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

TEST_CASE("a replica further behind than maxLagMs is left for the primary, and taken back") {
    itest::Sql db;
    HandReplica hand(db);
    Process process(hand.config(), 300ms);
    REQUIRE(process.feed->catchUp());
    REQUIRE(process.feed->stats().readingReplica);

    // Registered on the primary only: within the bound, the feed waits for the replica.
    auto torrent = itest::registerTorrent(db, "behind the replica");
    REQUIRE(process.feed->catchUp());
    CHECK(process.feed->stats().readingReplica);
    CHECK(process.find(torrent).found == SwarmReplica::Found::Unknown);

    // Past the bound: the primary, from where the feed stands.
    std::this_thread::sleep_for(400ms);
    REQUIRE(process.feed->catchUp());
    auto stats = process.feed->stats();
    CHECK_FALSE(stats.readingReplica);
    CHECK(stats.replicaLagMs >= 300);
    CHECK(stats.replicaFallbacks == 1);
    CHECK(process.find(torrent).found == SwarmReplica::Found::Registered);

    // Caught up: the replica again, and nothing was read twice.
    hand.replicate();
    REQUIRE(process.feed->catchUp());
    stats = process.feed->stats();
    CHECK(stats.readingReplica);
    CHECK(stats.replicaLagMs < 300);
    CHECK(stats.reloads == 1);
    CHECK(stats.resyncs == 0);
    process.announce(torrent, "back", 5);
    REQUIRE(process.writer.flush());
    hand.replicate();
    REQUIRE(process.feed->catchUp());
    CHECK(process.find(torrent).peers.size() == 1);
}

TEST_CASE("a pull from a replica behind this process's own announce does not undo it") {
    itest::Sql db;
    HandReplica hand(db);
    Process process(hand.config(), 1h);  // stays on the replica however far behind
    auto torrent = itest::registerTorrent(db, "own announce");
    hand.replicate();
    REQUIRE(process.feed->catchUp());

    process.announce(torrent, "x", 5);  // a leecher, written
    REQUIRE(process.writer.flush());
    REQUIRE(process.feed->catchUp());   // the replica has not got it yet
    process.announce(torrent, "x", 0);  // then a seeder, seen at once, not written yet
    REQUIRE(process.peer(torrent, "x"));
    CHECK(process.peer(torrent, "x")->seeder);

    // The replica gets the leecher's row: older than what this process answered since.
    hand.replicate();
    REQUIRE(process.feed->catchUp());
    REQUIRE(process.peer(torrent, "x"));
    CHECK(process.peer(torrent, "x")->seeder);
    CHECK(process.feed->stats().ownKept == 1);

    // Its own write comes through.
    REQUIRE(process.writer.flush());
    hand.replicate();
    REQUIRE(process.feed->catchUp());
    CHECK(process.peer(torrent, "x")->seeder);

    // A stop is not undone either: a leecher again, written, then stopped before the replica
    // has the leecher's row.
    process.announce(torrent, "x", 5);
    REQUIRE(process.writer.flush());
    REQUIRE(process.feed->catchUp());
    auto stopped = itest::announceFor(torrent, "x", "10.31.1.1", 5);
    stopped.event = tracker::protocol::AnnounceEvent::Stopped;
    REQUIRE(process.store->announce(stopped, 51).status == StoreStatus::Ok);
    CHECK_FALSE(process.peer(torrent, "x"));
    hand.replicate();  // x's row as the leecher
    REQUIRE(process.feed->catchUp());
    CHECK_FALSE(process.peer(torrent, "x"));
    CHECK(process.feed->stats().ownKept == 2);
    REQUIRE(process.writer.flush());
    hand.replicate();
    REQUIRE(process.feed->catchUp());
    CHECK_FALSE(process.peer(torrent, "x"));
    CHECK(process.feed->stats().reloads == 1);
}

TEST_CASE("a pull from a replica behind this process's completion does not take its count back") {
    itest::Sql db;
    HandReplica hand(db);
    Process process(hand.config(), 1h);
    auto torrent = itest::registerTorrent(db, "own completion");
    hand.replicate();
    REQUIRE(process.feed->catchUp());
    std::string tid = std::to_string(torrent.tid);
    // Two changes of the torrent's row that this process has not pulled yet (the replica
    // lags), then its own completion, counted at once.
    db.exec("UPDATE torrents SET banned = 1 WHERE tid = " + tid);
    db.exec("UPDATE torrents SET banned = 0 WHERE tid = " + tid);
    REQUIRE(process.feed->catchUp());
    hand.replicate();  // the replica gets the row as it was before the completion
    auto completed = itest::announceFor(torrent, "done", "10.31.1.2", 0);
    completed.event = tracker::protocol::AnnounceEvent::Completed;
    REQUIRE(process.store->announce(completed, 51).status == StoreStatus::Ok);
    CHECK(process.find(torrent).counts.downloaded == 1);
    REQUIRE(process.feed->catchUp());
    CHECK(process.find(torrent).counts.downloaded == 1);
    CHECK(process.feed->stats().ownKept == 1);  // the torrent's feed row, passed over
    REQUIRE(process.writer.flush());
    hand.replicate();
    REQUIRE(process.feed->catchUp());
    CHECK(process.find(torrent).counts.downloaded == 1);
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + tid) == 1);
}
