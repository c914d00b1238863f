// The announce's fast path against a real MariaDB: one read by info hash (cached for a TTL),
// writes queued and flushed in multi-row statements. What it may delay, and what it must not
// lose or miscount.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "db/connection_pool.h"
#include "db_fixture.h"
#include "feed/peer_writer.h"
#include "store/mysql_swarm_store.h"
#include "store/swarm_statements.h"

using namespace std::chrono_literals;
using tracker::db::ConnectionPool;
using tracker::feed::PeerWriter;
using tracker::protocol::AnnounceEvent;
using tracker::store::MysqlSwarmStore;
using tracker::store::StoreStatus;
using tracker::store::SwarmStoreOptions;

namespace {

PeerWriter::Options rowsAtMost(std::size_t rowsPerTransaction) {
    PeerWriter::Options options;
    options.rowsPerTransaction = rowsPerTransaction;
    return options;
}

SwarmStoreOptions queuedWrites(PeerWriter& writer) {
    SwarmStoreOptions options;
    options.writer = &writer;
    return options;
}

// A store whose writes wait in the queue until the test flushes it (an hour's interval).
struct QueuedStore {
    ConnectionPool pool{itest::testDatabase(), 2, 1000ms};
    PeerWriter writer{pool, 1h};
    MysqlSwarmStore store{pool, queuedWrites(writer)};
};

long long peersIn(itest::Sql& db, const itest::Torrent& torrent) {
    return db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + std::to_string(torrent.tid));
}

}  // namespace

TEST_CASE("queued announces reach the table at the flush, counted once, in one piece") {
    itest::Sql db;
    QueuedStore queued;  // flushed by hand below
    MysqlSwarmStore& store = queued.store;
    PeerWriter& writer = queued.writer;
    auto torrent = itest::registerTorrent(db, "write-behind");

    // 300 peers: chunks of 256, 32, 4 and 1 rows, and every row right.
    for (int i = 0; i < 300; ++i) {
        auto request = itest::announceFor(
            torrent, "w" + std::to_string(i),
            "10.8." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1),
            i % 3 == 0 ? 0 : 700);
        request.port = static_cast<std::uint16_t>(20000 + i);
        REQUIRE(store.announce(request, 51).status == StoreStatus::Ok);
    }
    CHECK(peersIn(db, torrent) == 0);  // nothing written before the flush
    CHECK(writer.stats().pending == 300);
    REQUIRE(writer.flush());
    CHECK(peersIn(db, torrent) == 300);
    CHECK(db.scalar("SELECT port FROM peers WHERE uid = 'w299' AND tid = " +
                    std::to_string(torrent.tid)) == 20299);
    CHECK(db.text("SELECT ip FROM peers WHERE uid = 'w251' AND tid = " +
                  std::to_string(torrent.tid)) == "10.8.1.2");
    CHECK(db.scalar("SELECT seeders FROM tracker_swarms WHERE tid = " +
                    std::to_string(torrent.tid)) == 100);
    CHECK(db.scalar("SELECT COUNT(DISTINCT rnd) FROM peers WHERE tid = " +
                    std::to_string(torrent.tid)) == 300);
    CHECK(writer.stats().written == 300);

    // completed twice and a re-announce as seeder in one batch: one download. Then stopped.
    auto finisher = itest::announceFor(torrent, "w1", "10.8.0.2", 0);
    finisher.event = AnnounceEvent::Completed;
    REQUIRE(store.announce(finisher, 51).status == StoreStatus::Ok);
    REQUIRE(store.announce(finisher, 51).status == StoreStatus::Ok);
    finisher.event = AnnounceEvent::Regular;
    REQUIRE(store.announce(finisher, 51).status == StoreStatus::Ok);
    REQUIRE(writer.flush());
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + std::to_string(torrent.tid)) ==
          1);
    finisher.event = AnnounceEvent::Completed;  // a later batch: a seeder already, not counted
    REQUIRE(store.announce(finisher, 51).status == StoreStatus::Ok);
    finisher.event = AnnounceEvent::Stopped;
    REQUIRE(store.announce(finisher, 51).status == StoreStatus::Ok);
    REQUIRE(writer.flush());
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + std::to_string(torrent.tid)) ==
          1);
    CHECK(peersIn(db, torrent) == 299);
    CHECK(db.scalar("SELECT seeders + leechers FROM tracker_swarms WHERE tid = " +
                    std::to_string(torrent.tid)) == 299);
}

TEST_CASE("a batch whose torrent was removed meanwhile writes the rest") {
    itest::Sql db;
    QueuedStore queued;
    MysqlSwarmStore& store = queued.store;
    PeerWriter& writer = queued.writer;
    auto kept = itest::registerTorrent(db, "kept");
    auto removed = itest::registerTorrent(db, "removed");
    REQUIRE(store.announce(itest::announceFor(kept, "k1", "10.9.0.1", 5), 51).status ==
            StoreStatus::Ok);
    REQUIRE(store.announce(itest::announceFor(removed, "r1", "10.9.0.2", 5), 51).status ==
            StoreStatus::Ok);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(removed.tid));
    CHECK(writer.flush());
    CHECK(peersIn(db, kept) == 1);
    CHECK(peersIn(db, removed) == 0);
    CHECK(writer.stats().pending == 0);
}

TEST_CASE("a flush that fails is tried again whole; a completion is written when answered") {
    itest::Sql db;
    QueuedStore queued;
    MysqlSwarmStore& store = queued.store;
    PeerWriter& writer = queued.writer;
    auto locked = itest::registerTorrent(db, "locked");
    auto finished = itest::registerTorrent(db, "finished");
    std::string finishedTid = std::to_string(finished.tid);

    auto done = itest::announceFor(finished, "f1", "10.13.0.1", 0);
    done.event = AnnounceEvent::Completed;
    REQUIRE(store.announce(done, 51).status == StoreStatus::Ok);
    // In the table before the answer: a crash of the process now loses no download.
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + finishedTid) == 1);
    CHECK(peersIn(db, finished) == 1);
    CHECK(writer.stats().immediate == 1);
    // A client that did not get the answer and sends it again: a seeder already, not counted.
    REQUIRE(store.announce(done, 51).status == StoreStatus::Ok);
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + finishedTid) == 1);
    REQUIRE(store.announce(itest::announceFor(locked, "l1", "10.13.0.2", 5), 51).status ==
            StoreStatus::Ok);

    // Another session holds the locked torrent's row: the new peer's foreign-key check waits
    // for it and the flush fails at the lock-wait limit. The completions' own rows are queued
    // too (so that they land after any older write of theirs), without their count.
    itest::Sql holder;
    holder.exec("BEGIN");
    REQUIRE(holder.scalar("SELECT tid FROM torrents WHERE tid = " + std::to_string(locked.tid) +
                          " FOR UPDATE") == locked.tid);
    CHECK_FALSE(writer.flush());
    CHECK(writer.stats().failedFlushes == 1);
    CHECK(writer.stats().pending == 2);
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + finishedTid) == 1);
    holder.exec("ROLLBACK");

    REQUIRE(writer.flush());
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + finishedTid) == 1);
    CHECK(peersIn(db, finished) == 1);
    CHECK(peersIn(db, locked) == 1);
}

TEST_CASE("a completion the database cannot take is refused, not queued") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    PeerWriter writer(pool, 1h);
    MysqlSwarmStore store(pool, queuedWrites(writer));
    auto torrent = itest::registerTorrent(db, "completion refused");
    std::string tid = std::to_string(torrent.tid);
    REQUIRE(store.announce(itest::announceFor(torrent, "c1", "10.15.0.1", 50), 51).status ==
            StoreStatus::Ok);
    REQUIRE(writer.flush());

    itest::Sql holder;  // the peer's row locked: the completion's write waits and times out
    holder.exec("BEGIN");
    REQUIRE(holder.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + tid + " FOR UPDATE") == 1);
    auto done = itest::announceFor(torrent, "c1", "10.15.0.1", 0);
    done.event = AnnounceEvent::Completed;
    auto refused = store.announce(done, 51);
    CHECK(refused.status == StoreStatus::Unavailable);
    CHECK(writer.stats().pending == 0);
    holder.exec("ROLLBACK");
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + tid) == 0);

    // The client's retry lands, once.
    REQUIRE(store.announce(done, 51).status == StoreStatus::Ok);
    REQUIRE(store.announce(done, 51).status == StoreStatus::Ok);
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + tid) == 1);
}

TEST_CASE("a backlog goes in bounded transactions; a failed one returns with those after it") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 2, 1000ms);
    PeerWriter writer(pool, 1h, rowsAtMost(4));  // at most 4 peers a transaction
    MysqlSwarmStore store(pool, queuedWrites(writer));
    auto free = itest::registerTorrent(db, "drains");
    auto locked = itest::registerTorrent(db, "held");  // a higher tid: its writes come last
    for (int i = 0; i < 8; ++i)
        REQUIRE(store
                    .announce(itest::announceFor(free, "d" + std::to_string(i),
                                                 "10.14.0." + std::to_string(i + 1), 5),
                              51)
                    .status == StoreStatus::Ok);
    for (int i = 0; i < 2; ++i)
        REQUIRE(store
                    .announce(itest::announceFor(locked, "h" + std::to_string(i),
                                                 "10.14.1." + std::to_string(i + 1), 5),
                              51)
                    .status == StoreStatus::Ok);
    long long numberBefore = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");

    itest::Sql holder;
    holder.exec("BEGIN");
    REQUIRE(holder.scalar("SELECT tid FROM torrents WHERE tid = " + std::to_string(locked.tid) +
                          " FOR UPDATE") == locked.tid);
    CHECK_FALSE(writer.flush());
    CHECK(peersIn(db, free) == 8);  // two transactions of 4, committed
    CHECK(peersIn(db, locked) == 0);
    CHECK(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1") == numberBefore + 2);
    CHECK(writer.stats().flushes == 2);
    CHECK(writer.stats().written == 8);
    CHECK(writer.stats().pending == 2);
    holder.exec("ROLLBACK");

    REQUIRE(writer.flush());
    CHECK(peersIn(db, locked) == 2);
    CHECK(writer.stats().pending == 0);
    CHECK(writer.stats().written == 10);
}

namespace {

// The longest another writer (a numbered transaction's first statement, as a flush of another
// process or the cron takes) waited on the numbering lock while `writer` drained a backlog of
// `backlog` new peers.
std::chrono::milliseconds longestWaitDuring(std::size_t rowsPerTransaction, int backlog) {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 2, 1000ms);
    PeerWriter writer(pool, 1h, rowsAtMost(rowsPerTransaction));
    MysqlSwarmStore store(pool, queuedWrites(writer));
    auto torrent = itest::registerTorrent(db, "backlog");
    for (int i = 0; i < backlog; ++i) {
        auto request = itest::announceFor(torrent, "b" + std::to_string(i), "10.16.0.1", 5);
        request.port = static_cast<std::uint16_t>(1024 + i % 60000);
        REQUIRE(store.announce(request, 0).status == StoreStatus::Ok);
    }
    std::atomic<bool> draining{true};
    std::chrono::steady_clock::duration longest{};
    std::thread other([&] {
        tracker::db::ensureDriverThreadInit(*get_driver_instance());
        itest::Sql otherWriter;
        while (draining) {
            otherWriter.exec("BEGIN");
            auto began = std::chrono::steady_clock::now();
            try {
                otherWriter.exec("UPDATE tracker_sequence SET value = value + 1 WHERE id = 1");
            } catch (const sql::SQLException&) {  // gave up at the lock-wait limit
            }
            longest = std::max(longest, std::chrono::steady_clock::now() - began);
            otherWriter.exec("ROLLBACK");
            std::this_thread::sleep_for(5ms);
        }
    });
    std::this_thread::sleep_for(50ms);
    bool flushed = writer.flush();
    draining = false;
    other.join();
    CHECK(flushed);
    CHECK(peersIn(db, torrent) == backlog);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
    return std::chrono::duration_cast<std::chrono::milliseconds>(longest);
}

}  // namespace

TEST_CASE("while a backlog drains, another writer waits for one chunk, not for all of it") {
    auto chunked = longestWaitDuring(2048, 60000);
    auto whole = longestWaitDuring(1000000, 60000);  // as one transaction: the old flush
    std::printf(
        "backlog of 60,000 peers: another writer waited at most %lld ms (chunks of "
        "2,048), %lld ms (one transaction)\n",
        static_cast<long long>(chunked.count()), static_cast<long long>(whole.count()));
    CHECK(chunked < 1000ms);
    CHECK(whole > chunked);
}

TEST_CASE("a cached read serves its TTL; a ban or a new peer shows after it") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 2, 1000ms);
    SwarmStoreOptions options;
    options.swarmCacheTtl = 1000ms;  // writes in the request: only the read is cached
    MysqlSwarmStore store(pool, options);
    auto torrent = itest::registerTorrent(db, "cached");

    auto first = itest::announceFor(torrent, "c1", "10.10.0.1", 5);
    auto outcome = store.announce(first, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(outcome.peers.empty());  // read before its own write
    CHECK(peersIn(db, torrent) == 1);

    auto second = itest::announceFor(torrent, "c2", "10.10.0.2", 5);
    outcome = store.announce(second, 51);
    CHECK(outcome.peers.empty());  // the cached read: c1 not in it yet
    CHECK(outcome.counts.incomplete == 0);

    std::this_thread::sleep_for(1100ms);
    outcome = store.announce(second, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(outcome.counts.incomplete == 2);
    std::set<std::string> uids;
    for (const auto& peer : outcome.peers)
        uids.insert(std::string(peer.uid.view()));
    CHECK(uids == std::set<std::string>{"c1", "c2"});  // itself too: the core leaves it out

    db.exec("UPDATE torrents SET banned = 1 WHERE tid = " + std::to_string(torrent.tid));
    CHECK(store.announce(second, 51).status == StoreStatus::Ok);  // within the TTL
    std::this_thread::sleep_for(1100ms);
    CHECK(store.announce(second, 51).status == StoreStatus::Banned);

    // Unregistered: refused, and registering it shows after the TTL too.
    itest::Torrent later;
    std::string raw = itest::randomBytes(20);
    std::copy(raw.begin(), raw.end(), later.hash.begin());
    CHECK(store.announce(itest::announceFor(later, "n1", "10.10.0.3", 5), 51).status ==
          StoreStatus::NotRegistered);
    db.exec("INSERT INTO torrents (infohash, name) VALUES (UNHEX('" + itest::hex(raw) +
            "'), 'later')");
    std::this_thread::sleep_for(1100ms);
    CHECK(store.announce(itest::announceFor(later, "n1", "10.10.0.3", 5), 51).status ==
          StoreStatus::Ok);
}

TEST_CASE("the one-round-trip read wraps round a small swarm and seeks O(limit) in a big one") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    SwarmStoreOptions options;
    options.swarmCacheTtl = 1ms;
    options.cachedCandidates = 51;
    MysqlSwarmStore store(pool, options);

    // A small swarm is handed out whole whatever the random point.
    auto small = itest::registerTorrent(db, "small");
    for (int i = 0; i < 7; ++i)
        store.announce(itest::announceFor(small, "s" + std::to_string(i), "10.11.0.1", 5), 51);
    for (int round = 0; round < 20; ++round) {
        std::this_thread::sleep_for(2ms);
        auto outcome = store.announce(itest::announceFor(small, "s0", "10.11.0.1", 5), 51);
        REQUIRE(outcome.status == StoreStatus::Ok);
        CHECK(outcome.peers.size() == 7);
        CHECK(outcome.counts.incomplete == 7);
    }

    auto big = itest::registerTorrent(db, "big for the view");
    std::string tid = std::to_string(big.tid);
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, crypt, residual, rnd) SELECT " + tid +
            ", CONCAT('v', seq), RPAD(CONCAT('-XX0001-', seq), 20, 'x'), '10.12.0.1', 6881, 0, "
            "IF(seq % 2 = 0, 0, 1000), 1 + FLOOR(RAND() * 4294967294) FROM seq_1_to_20000");
    std::set<std::string> seen;
    for (int round = 0; round < 20; ++round) {
        std::this_thread::sleep_for(2ms);
        auto outcome = store.announce(itest::announceFor(big, "reader", "10.12.0.2", 5), 51);
        REQUIRE(outcome.peers.size() == 51);
        for (const auto& peer : outcome.peers)
            seen.insert(std::string(peer.uid.view()));
    }
    CHECK(seen.size() > 500);  // random windows, not the same rows
    auto seeder = store.announce(itest::announceFor(big, "seeder", "10.12.0.3", 0), 51);
    REQUIRE(seeder.peers.size() == 51);
    CHECK(std::none_of(seeder.peers.begin(), seeder.peers.end(),
                       [](const auto& peer) { return peer.seeder; }));

    // The plan: torrents a const lookup, each peers part a range seek on (tid[, seeding], rnd).
    using namespace tracker::store::statements;
    for (const char* statement : {kReadView, kReadLeechersView}) {
        std::unique_ptr<sql::PreparedStatement> explain(
            db.connection().prepareStatement(std::string("EXPLAIN FORMAT=JSON ") + statement));
        std::string hash(reinterpret_cast<const char*>(big.hash.data()), big.hash.size());
        sql::SQLString bytes(hash.data(), hash.size());
        explain->setString(1, bytes);
        explain->setString(2, bytes);
        explain->setUInt(3, 3900000000u);
        explain->setUInt(4, 51);
        explain->setString(5, bytes);
        explain->setUInt(6, 3900000000u);
        explain->setUInt(7, 51);
        std::unique_ptr<sql::ResultSet> rows(explain->executeQuery());
        REQUIRE(rows->next());
        std::string plan = rows->getString(1).asStdString();
        INFO(plan);
        std::size_t ranges = 0;
        for (auto at = plan.find("\"access_type\": \"range\""); at != std::string::npos;
             at = plan.find("\"access_type\": \"range\"", at + 1))
            ++ranges;
        CHECK(ranges == 2);
        CHECK(plan.find("\"access_type\": \"index\"") == std::string::npos);
    }
    db.exec("DELETE FROM torrents WHERE tid IN (" + tid + ", " + std::to_string(small.tid) + ")");
}
