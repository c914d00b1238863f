// tracker-cron's cleanup against a real MariaDB (started by tests/run): which peers and torrents
// go and which stay, exact counters, bounded batches, and one run at a time.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "admin/cleanup.h"
#include "db/connection_pool.h"
#include "db_fixture.h"
#include "feed/peer_writer.h"
#include "protocol/peer_address.h"

using tracker::admin::CleanupPolicy;
using tracker::admin::CleanupResult;
using tracker::admin::CleanupStatus;
using tracker::admin::runCleanup;

namespace {

// The policy the default config gives: minInterval 300 + maxInterval 900, 7 days, 1000 rows.
CleanupPolicy defaultPolicy() {
    return tracker::admin::cleanupPolicyFor(tracker::Config{});
}

CleanupResult clean(const CleanupPolicy& policy) {
    return runCleanup(itest::testDatabase(), policy);
}

// Other tests share the database: clear what is already due, so that each test's counts are
// its own rows only.
void settle() {
    auto result = clean(defaultPolicy());
    REQUIRE(result.status == CleanupStatus::Done);
}

// A peer last heard from `ageSeconds` ago; returns its pid.
long long addPeer(itest::Sql& db, const itest::Torrent& torrent, const std::string& uid,
                  long long residual, long long ageSeconds) {
    std::string age = "NOW() - INTERVAL " + std::to_string(ageSeconds) + " SECOND";
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual, added, updated) VALUES (" +
            std::to_string(torrent.tid) + ", '" + uid + "', '" + itest::hex(uid).substr(0, 20) +
            "', '10.9.0.1', 6881, " + std::to_string(residual) + ", " + age + ", " + age + ")");
    return db.scalar("SELECT pid FROM peers WHERE tid = " + std::to_string(torrent.tid) +
                     " AND uid = '" + uid + "'");
}

// Registration and last change `addedDays` / `updatedDays` ago, and an empty swarm empty that
// long. Set after the peers are added: the counter triggers move `tracker_swarms.empty_since`.
void ageTorrent(itest::Sql& db, const itest::Torrent& torrent, long long addedDays,
                long long updatedDays) {
    db.exec("UPDATE torrents SET added = NOW() - INTERVAL " + std::to_string(addedDays) +
            " DAY, updated = NOW() - INTERVAL " + std::to_string(updatedDays) +
            " DAY WHERE tid = " + std::to_string(torrent.tid));
    db.exec("UPDATE tracker_swarms SET empty_since = IF(seeders + leechers = 0, NOW() - INTERVAL " +
            std::to_string(updatedDays) + " DAY, NULL) WHERE tid = " + std::to_string(torrent.tid));
}

bool peerExists(itest::Sql& db, long long pid) {
    return db.scalar("SELECT COUNT(*) FROM peers WHERE pid = " + std::to_string(pid)) == 1;
}

bool torrentExists(itest::Sql& db, const itest::Torrent& torrent) {
    return db.scalar("SELECT COUNT(*) FROM torrents WHERE tid = " + std::to_string(torrent.tid)) ==
           1;
}

long long counter(itest::Sql& db, const itest::Torrent& torrent, const std::string& column) {
    return db.scalar("SELECT COALESCE((SELECT " + column +
                     " FROM tracker_swarms WHERE tid = " + std::to_string(torrent.tid) + "), 0)");
}

long long counted(itest::Sql& db, const itest::Torrent& torrent, const std::string& condition) {
    return db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + std::to_string(torrent.tid) +
                     " AND " + condition);
}

}  // namespace

TEST_CASE("cleanup: peers expire after minInterval + maxInterval, not before") {
    itest::Sql db;
    settle();
    tracker::Config config;
    config.minInterval = 300;
    config.maxInterval = 900;
    CleanupPolicy policy = tracker::admin::cleanupPolicyFor(config);
    REQUIRE(policy.peerTimeoutSeconds == 1200);

    auto torrent = itest::registerTorrent(db, "expiry");
    long long justExpired = addPeer(db, torrent, "old", 5, 1200 + 10);
    long long justAlive = addPeer(db, torrent, "young", 5, 1200 - 10);
    // The PHP's sign bug expired peers after maxInterval - minInterval = 600 s.
    long long phpWouldDrop = addPeer(db, torrent, "php", 0, 700);
    long long fresh = addPeer(db, torrent, "fresh", 0, 0);

    auto result = clean(policy);
    REQUIRE(result.status == CleanupStatus::Done);
    CHECK(result.message.empty());
    CHECK(result.peersRemoved == 1);
    CHECK(result.torrentsRemoved == 0);
    CHECK(result.batches == 1);
    CHECK_FALSE(peerExists(db, justExpired));
    CHECK(peerExists(db, justAlive));
    CHECK(peerExists(db, phpWouldDrop));
    CHECK(peerExists(db, fresh));
    CHECK(torrentExists(db, torrent));
    // Seconds from expiry: gone now, so that they cannot expire during a later test.
    db.exec("DELETE FROM peers WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("cleanup: a torrent with peers is never removed, however old its dates") {
    itest::Sql db;
    settle();
    auto busy = itest::registerTorrent(db, "busy");
    long long busyPeer = addPeer(db, busy, "live", 0, 60);
    ageTorrent(db, busy, 365, 365);  // no completion for a year: the PHP deleted it

    // Its only peer expires in this run: the trigger that counts it out sets `empty_since`, so the
    // torrent's idle time starts now and it stays.
    auto emptied = itest::registerTorrent(db, "emptied");
    addPeer(db, emptied, "gone", 10, 5000);
    ageTorrent(db, emptied, 365, 365);

    auto result = clean(defaultPolicy());
    REQUIRE(result.status == CleanupStatus::Done);
    CHECK(result.peersRemoved == 1);
    CHECK(result.torrentsRemoved == 0);
    CHECK(torrentExists(db, busy));
    CHECK(peerExists(db, busyPeer));
    CHECK(torrentExists(db, emptied));
    CHECK(counted(db, emptied, "1") == 0);
    CHECK(db.scalar("SELECT empty_since > NOW() - INTERVAL 1 MINUTE FROM tracker_swarms WHERE "
                    "tid = " +
                    std::to_string(emptied.tid)) == 1);
}

TEST_CASE("cleanup: a peerless torrent goes once idle past torrentTtlDays, banned ones stay") {
    itest::Sql db;
    settle();
    auto idle8 = itest::registerTorrent(db, "idle 8 days");
    ageTorrent(db, idle8, 8, 8);
    auto idle6 = itest::registerTorrent(db, "idle 6 days");
    ageTorrent(db, idle6, 6, 6);
    // Registered long ago, but its last peer left (or a completion came) 2 days ago.
    auto recentlyActive = itest::registerTorrent(db, "active 2 days ago");
    ageTorrent(db, recentlyActive, 30, 2);
    auto banned = itest::registerTorrent(db, "banned", true);
    ageTorrent(db, banned, 400, 400);
    auto fresh = itest::registerTorrent(db, "just registered");

    auto result = clean(defaultPolicy());
    REQUIRE(result.status == CleanupStatus::Done);
    CHECK(result.peersRemoved == 0);
    CHECK(result.torrentsRemoved == 1);
    CHECK(result.batches == 1);
    CHECK_FALSE(torrentExists(db, idle8));
    CHECK(torrentExists(db, idle6));
    CHECK(torrentExists(db, recentlyActive));
    CHECK(torrentExists(db, banned));
    CHECK(torrentExists(db, fresh));
}

TEST_CASE(
    "cleanup: empty_since follows every writer: empty from registration, cleared by a "
    "join, set again when the last peer goes") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "emptiness");
    std::string tid = std::to_string(torrent.tid);
    auto emptySince = [&] {
        return db.scalar(
            "SELECT COALESCE(TIMESTAMPDIFF(SECOND, empty_since, NOW()), -1) FROM "
            "tracker_swarms WHERE tid = " +
            tid);
    };
    CHECK(emptySince() >= 0);  // registered: empty from now

    // Written as a PHP page would, peers coming and going in one transaction: only the swarm's
    // emptiness moves the mark.
    db.exec("BEGIN");
    for (int i = 0; i < 3; ++i)
        addPeer(db, torrent, "e" + std::to_string(i), i == 0 ? 0 : 10, 0);
    db.exec("DELETE FROM peers WHERE tid = " + tid + " AND uid = 'e1'");
    db.exec("UPDATE peers SET residual = 0 WHERE tid = " + tid + " AND uid = 'e2'");
    db.exec("COMMIT");
    CHECK(emptySince() == -1);
    db.exec("DELETE FROM peers WHERE tid = " + tid + " AND uid = 'e0'");
    CHECK(emptySince() == -1);  // one left
    db.exec("UPDATE tracker_swarms SET empty_since = NOW() - INTERVAL 3 DAY WHERE tid = " + tid +
            " AND empty_since IS NOT NULL");
    db.exec("DELETE FROM peers WHERE tid = " + tid + " AND uid = 'e2'");
    CHECK(emptySince() >= 0);
    CHECK(emptySince() < 60);  // empty from now, not from an older mark
    CHECK(db.scalar("SELECT seeders + leechers FROM tracker_swarms WHERE tid = " + tid) == 0);

    // An empty swarm that stays empty keeps its mark (a peer moving to another torrent).
    db.exec("UPDATE tracker_swarms SET empty_since = NOW() - INTERVAL 3 DAY WHERE tid = " + tid);
    auto other = itest::registerTorrent(db, "emptiness, the other");
    addPeer(db, other, "mover", 10, 0);
    db.exec("UPDATE peers SET tid = " + tid + " WHERE tid = " + std::to_string(other.tid));
    CHECK(emptySince() == -1);
    CHECK(db.scalar("SELECT TIMESTAMPDIFF(SECOND, empty_since, NOW()) < 60 FROM tracker_swarms "
                    "WHERE tid = " +
                    std::to_string(other.tid)) == 1);
}

TEST_CASE("cleanup: torrentTtlDays 0 never removes a torrent") {
    itest::Sql db;
    settle();
    auto ancient = itest::registerTorrent(db, "ancient");
    ageTorrent(db, ancient, 4000, 4000);
    long long expired = addPeer(db, itest::registerTorrent(db, "with expired peer"), "x", 1, 9999);

    CleanupPolicy policy = defaultPolicy();
    policy.torrentTtlDays = 0;
    auto result = clean(policy);
    REQUIRE(result.status == CleanupStatus::Done);
    CHECK(result.peersRemoved == 1);
    CHECK(result.torrentsRemoved == 0);
    CHECK(torrentExists(db, ancient));
    CHECK_FALSE(peerExists(db, expired));

    CHECK(clean(defaultPolicy()).torrentsRemoved == 1);  // the same torrent with a 7-day TTL
    CHECK_FALSE(torrentExists(db, ancient));
}

TEST_CASE("cleanup: seeder and leecher counters stay exact") {
    itest::Sql db;
    settle();
    auto first = itest::registerTorrent(db, "counters 1");
    auto second = itest::registerTorrent(db, "counters 2");
    addPeer(db, first, "s1", 0, 10);
    addPeer(db, first, "s2", 0, 3000);  // expired seeder
    addPeer(db, first, "s3", 0, 100);
    addPeer(db, first, "l1", 50, 2000);  // expired leecher
    addPeer(db, first, "l2", 50, 20);
    addPeer(db, first, "l3", 50, 5000);  // expired leecher
    addPeer(db, first, "l4", 50, 30);
    addPeer(db, second, "s1", 0, 4000);  // expired: the swarm empties
    addPeer(db, second, "l1", 9, 4000);  // expired
    REQUIRE(counter(db, first, "seeders") == 3);
    REQUIRE(counter(db, first, "leechers") == 4);

    auto result = clean(defaultPolicy());
    REQUIRE(result.status == CleanupStatus::Done);
    CHECK(result.peersRemoved == 5);
    CHECK(counter(db, first, "seeders") == 2);
    CHECK(counter(db, first, "leechers") == 2);
    CHECK(counted(db, first, "residual = 0") == 2);
    CHECK(counted(db, first, "residual > 0") == 2);
    CHECK(counter(db, second, "seeders") == 0);
    CHECK(counter(db, second, "leechers") == 0);
    // And every torrent in the database agrees with a COUNT.
    CHECK(db.scalar("SELECT COUNT(*) FROM torrents t LEFT JOIN tracker_swarms s USING (tid) "
                    "WHERE COALESCE(s.seeders, 0) <> (SELECT COUNT(*) FROM peers p WHERE "
                    "p.tid = t.tid AND p.residual = 0) OR COALESCE(s.leechers, 0) <> "
                    "(SELECT COUNT(*) FROM peers p WHERE p.tid = t.tid AND p.residual > 0)") == 0);
}

TEST_CASE("cleanup: deletes in batches of cleanupBatchSize rows, keeping live rows between") {
    itest::Sql db;
    settle();
    auto a = itest::registerTorrent(db, "batches a");
    auto b = itest::registerTorrent(db, "batches b");
    for (int i = 0; i < 95; ++i) {
        addPeer(db, i % 2 == 0 ? a : b, "e" + std::to_string(i), i % 3, 1300 + i);
        if (i % 5 == 0)  // live peers interleaved in pid order: inside the batches' ranges
            addPeer(db, i % 2 == 0 ? b : a, "f" + std::to_string(i), i % 3, 5);
    }
    REQUIRE(counted(db, a, "1") + counted(db, b, "1") == 95 + 19);

    CleanupPolicy policy = defaultPolicy();
    policy.batchSize = 10;
    policy.torrentTtlDays = 0;
    auto numbered = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
    auto result = clean(policy);
    REQUIRE(result.status == CleanupStatus::Done);
    CHECK(result.peersRemoved == 95);
    CHECK(result.batches == 10);
    // One number of the change feed a batch, as a flush takes, not one a row.
    CHECK(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1") - numbered == 10);
    CHECK(db.scalar("SELECT COUNT(DISTINCT seq) FROM tracker_departures WHERE seq > " +
                    std::to_string(numbered)) == 10);
    CHECK(counted(db, a, "1") + counted(db, b, "1") == 19);
    CHECK(counted(db, a, "updated < NOW() - INTERVAL 1200 SECOND") == 0);
    CHECK(counter(db, a, "seeders") + counter(db, a, "leechers") == counted(db, a, "1"));
    CHECK(counter(db, b, "seeders") + counter(db, b, "leechers") == counted(db, b, "1"));
}

TEST_CASE("cleanup: a batch chosen as a deadlock's victim is tried again") {
    itest::Sql db;
    settle();
    auto torrent = itest::registerTorrent(db, "deadlocked");
    auto other = itest::registerTorrent(db, "other writer");
    long long expired = addPeer(db, torrent, "old", 3, 5000);

    // Another writer the other way round from ours: a big transaction of peer rows (numbered
    // by hand, so no numbering lock yet), then the expired peer's row, and only then the
    // numbering lock, which the cleanup's batch holds while it waits for that row.
    itest::Sql writer;
    writer.exec("SET @tracker_feed_seq = 1");
    writer.exec("BEGIN");
    for (int i = 0; i < 200; ++i)
        addPeer(writer, other, "w" + std::to_string(i), 5, 0);
    REQUIRE(writer.scalar("SELECT pid FROM peers WHERE pid = " + std::to_string(expired) +
                          " FOR UPDATE") == expired);
    CleanupResult result;
    std::thread run([&] { result = clean(defaultPolicy()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));  // blocked on the row now
    long long deadlocksBefore = db.scalar(
        "SELECT variable_value FROM information_schema.global_status WHERE "
        "variable_name = 'INNODB_DEADLOCKS'");
    // The deadlock: InnoDB rolls back the smaller transaction, the cleanup's batch.
    writer.exec("UPDATE tracker_sequence SET value = value + 1 WHERE id = 1");
    writer.exec("ROLLBACK");
    run.join();
    CHECK(db.scalar("SELECT variable_value FROM information_schema.global_status WHERE "
                    "variable_name = 'INNODB_DEADLOCKS'") == deadlocksBefore + 1);
    REQUIRE(result.status == CleanupStatus::Done);
    CHECK(result.peersRemoved == 1);
    CHECK_FALSE(peerExists(db, expired));
    CHECK(counted(db, other, "1") == 0);
    CHECK(counter(db, torrent, "seeders") + counter(db, torrent, "leechers") == 0);
}

TEST_CASE("cleanup: batches and the workers' flushes take turns on one swarm, none fails") {
    itest::Sql db;
    settle();
    auto torrent = itest::registerTorrent(db, "busy while cleaned");
    std::string tid = std::to_string(torrent.tid);
    db.exec("SET @tracker_feed_seq = 1");  // many rows in one statement: one number
    db.exec(
        "INSERT INTO peers (tid, uid, peerId, ip, port, residual, added, updated) "
        "SELECT " +
        tid +
        ", CONCAT('x', seq), CONCAT('p', seq), '10.17.0.1', 1000 + seq, "
        "seq % 2, NOW() - INTERVAL 5000 SECOND, NOW() - INTERVAL 5000 SECOND "
        "FROM seq_1_to_3000");
    db.exec("SET @tracker_feed_seq = NULL");

    // A worker's write-behind flushing live peers of the same swarm every few milliseconds,
    // the whole time the cleanup deletes the expired ones a batch at a time.
    tracker::db::ConnectionPool pool(itest::testDatabase(), 2, std::chrono::milliseconds(1000));
    tracker::feed::PeerWriter writer(pool, std::chrono::hours(1));
    std::atomic<bool> cleaning{true};
    std::thread flushing([&] {
        for (int round = 0; cleaning; ++round) {
            for (int i = 0; i < 50; ++i) {
                tracker::feed::PeerWrite write;
                write.tid = static_cast<std::uint32_t>(torrent.tid);
                write.uid.assign("live" + std::to_string(i));
                write.peerId.assign("peer" + std::to_string(i));
                write.address = *tracker::protocol::PeerAddress::parse("10.17.1.1");
                write.port = static_cast<std::uint16_t>(2000 + i);
                write.left = static_cast<std::uint64_t>((round + i) % 3);
                writer.enqueue(write);
            }
            writer.flush();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    CleanupPolicy policy = defaultPolicy();
    policy.batchSize = 100;
    auto result = clean(policy);
    cleaning = false;
    flushing.join();
    REQUIRE(result.status == CleanupStatus::Done);
    CHECK(result.peersRemoved == 3000);
    CHECK(writer.stats().failedFlushes == 0);
    CHECK(writer.stats().written > 0);
    CHECK(counted(db, torrent, "1") == 50);
    CHECK(counter(db, torrent, "seeders") == counted(db, torrent, "residual = 0"));
    CHECK(counter(db, torrent, "leechers") == counted(db, torrent, "residual <> 0"));
}

TEST_CASE("cleanup: a dry run counts what a real run removes, and removes nothing") {
    itest::Sql db;
    settle();
    auto dead = itest::registerTorrent(db, "dead");
    ageTorrent(db, dead, 10, 10);
    auto swarm = itest::registerTorrent(db, "dry swarm");
    long long expired1 = addPeer(db, swarm, "x1", 0, 2000);
    long long expired2 = addPeer(db, swarm, "x2", 7, 2000);
    long long alive = addPeer(db, swarm, "a1", 7, 2);

    CleanupPolicy policy = defaultPolicy();
    policy.dryRun = true;
    auto dry = clean(policy);
    REQUIRE(dry.status == CleanupStatus::Done);
    CHECK(dry.peersRemoved == 2);
    CHECK(dry.torrentsRemoved == 1);
    CHECK(dry.batches == 0);
    CHECK(peerExists(db, expired1));
    CHECK(peerExists(db, expired2));
    CHECK(torrentExists(db, dead));

    auto real = clean(defaultPolicy());
    REQUIRE(real.status == CleanupStatus::Done);
    CHECK(real.peersRemoved == 2);
    CHECK(real.torrentsRemoved == 1);
    CHECK_FALSE(peerExists(db, expired1));
    CHECK(peerExists(db, alive));
    CHECK_FALSE(torrentExists(db, dead));
}

TEST_CASE("cleanup: a second run while one holds the lock does nothing and says so") {
    itest::Sql db;
    settle();
    auto torrent = itest::registerTorrent(db, "locked");
    long long expired = addPeer(db, torrent, "late", 3, 3600);

    itest::Sql otherRun;
    const std::string lockName = tracker::admin::cleanupLockName(itest::testDatabase());
    CHECK(lockName == "tracker-cron:" + itest::testDatabase().name);
    REQUIRE(otherRun.scalar("SELECT GET_LOCK('" + lockName + "', 0)") == 1);

    auto refused = clean(defaultPolicy());
    CHECK(refused.status == CleanupStatus::AnotherRunning);
    CHECK_THAT(refused.message, Catch::Contains("another tracker-cron is running"));
    CHECK(refused.peersRemoved == 0);
    CHECK(refused.batches == 0);
    CHECK(peerExists(db, expired));

    CleanupPolicy waiting = defaultPolicy();
    waiting.lockWaitSeconds = 1;
    auto waited = clean(waiting);
    CHECK(waited.status == CleanupStatus::AnotherRunning);
    CHECK(waited.elapsed >= std::chrono::milliseconds(900));
    CHECK(peerExists(db, expired));

    REQUIRE(otherRun.scalar("SELECT RELEASE_LOCK('" + lockName + "')") == 1);
    auto done = clean(defaultPolicy());
    CHECK(done.status == CleanupStatus::Done);
    CHECK(done.peersRemoved == 1);
    CHECK_FALSE(peerExists(db, expired));
}

TEST_CASE("cleanup: an unreachable database is an error naming where it looked") {
    tracker::DatabaseConfig nowhere = itest::testDatabase();
    nowhere.socket = "/nonexistent/tracker-test/mysql.sock";
    auto result = runCleanup(nowhere, defaultPolicy());
    CHECK(result.status == CleanupStatus::Unreachable);
    CHECK_THAT(result.message, Catch::Contains("/nonexistent/tracker-test/mysql.sock"));
    CHECK(result.peersRemoved == 0);
}
