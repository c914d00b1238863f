// What one worker process costs the database primary, in statements: each is a round trip and
// a fixed amount of the server's work, and every worker host pays it several times a second,
// so a second host must not cost much more than its rows. Against a real MariaDB; statements
// counted by the server (Com_stmt_execute), on the connections of the pool under test only.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "db/connection_pool.h"
#include "db_fixture.h"
#include "feed/numbered_transaction.h"
#include "feed/peer_writer.h"
#include "feed/replica_feed.h"
#include "feed/write_statements.h"
#include "hand_driven.h"

using namespace std::chrono_literals;
using tracker::db::ConnectionPool;
using tracker::feed::PeerWrite;
using tracker::feed::PeerWriter;
using tracker::feed::ReplicaFeed;

namespace {

// Statements executed on one connection: the server's global counter would also count the
// suite's running tracker-fcgi, which pulls its feed and flushes on its own clock.
long long statementsExecuted(tracker::db::DbSession& session) {
    std::unique_ptr<sql::Statement> statement(session.connection().createStatement());
    std::unique_ptr<sql::ResultSet> status(
        statement->executeQuery("SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
                                "WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'"));
    REQUIRE(status->next());
    return std::stoll(status->getString(1).asStdString());
}

// Rows read by scanning a table or an index, on the one connection of `pool` (none leased).
long long rowsScanned(ConnectionPool& pool) {
    auto result = pool.acquire();
    REQUIRE(result.lease);
    std::unique_ptr<sql::Statement> statement(
        result.lease->session().connection().createStatement());
    std::unique_ptr<sql::ResultSet> status(
        statement->executeQuery("SELECT SUM(VARIABLE_VALUE) FROM information_schema.SESSION_STATUS "
                                "WHERE VARIABLE_NAME IN ('HANDLER_READ_RND_NEXT', "
                                "'HANDLER_READ_NEXT')"));
    REQUIRE(status->next());
    return std::stoll(status->getString(1).asStdString());
}

// The same, summed over every connection of a pool of `size`, none of them leased.
long long statementsExecuted(ConnectionPool& pool, int size) {
    std::vector<ConnectionPool::Lease> leases;
    long long total = 0;
    for (int n = 0; n < size; ++n) {
        auto result = pool.acquire();
        REQUIRE(result.lease);
        total += statementsExecuted(result.lease->session());
        leases.push_back(std::move(*result.lease));
    }
    return total;
}

PeerWrite newPeer(const itest::Torrent& torrent, int n) {
    PeerWrite write;
    write.tid = static_cast<std::uint32_t>(torrent.tid);
    write.uid.assign("s" + std::to_string(n));
    write.peerId.assign("-ST0001-" + std::to_string(n));
    write.address = *tracker::protocol::PeerAddress::parse("10.41.0.1");
    write.port = static_cast<std::uint16_t>(2000 + n);
    write.left = static_cast<std::uint64_t>(n % 2) * 100;
    write.knownAbsent = true;  // as from a fresh replica that held no such peer
    return write;
}

// A writer whose batches the feed hears of, as tracker-fcgi wires them.
PeerWriter::Options toldTo(ReplicaFeed& feed) {
    PeerWriter::Options options;
    options.hooks.committed = [&feed](const tracker::feed::NumberedCommit& done) {
        feed.committed(done);
    };
    options.hooks.ticked = [&feed] { feed.ticked(); };
    return options;
}

// Whether `session` is as a pool wants it back: no transaction, no number.
void checkClean(tracker::db::DbSession& session) {
    std::unique_ptr<sql::Statement> statement(session.connection().createStatement());
    std::unique_ptr<sql::ResultSet> left(
        statement->executeQuery("SELECT @tracker_feed_seq IS NULL, @@in_transaction"));
    REQUIRE(left->next());
    CHECK(left->getInt(1) == 1);
    CHECK(left->getInt(2) == 0);
    CHECK_FALSE(session.unusable);
}

// A statement of a numbered transaction adding one peer of `tid`, as `uid`.
tracker::feed::NumberedStatement addingPeer(long long tid, const std::string& uid) {
    return {
        "INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES "
        "(?, ?, 'numbered-statements-', '10.41.0.2', 6881, 5)",
        [tid, uid](sql::PreparedStatement& statement, unsigned column) {
            statement.setUInt(column, static_cast<unsigned>(tid));
            statement.setString(column + 1, uid);
        }};
}

}  // namespace

TEST_CASE("a numbered transaction is begun and ended in one statement each, and tells its number") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "numbered");
    ConnectionPool pool{itest::testDatabase(), 1, 1000ms};
    auto lease = pool.acquire();
    REQUIRE(lease.lease);
    auto& session = lease.lease->session();
    auto before = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
    long long executed = statementsExecuted(session);
    auto done = tracker::feed::inNumberedTransaction(session, [] {});
    CHECK(statementsExecuted(session) - executed == 2);
    CHECK(static_cast<long long>(done.number) == before + 1);
    CHECK(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1") == before + 1);

    checkClean(session);  // the connection carries no number after it

    // A failure part way rolls back all of it, the number too, and leaves the connection
    // clean.
    before = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
    CHECK_THROWS_AS(tracker::feed::inNumberedTransaction(
                        session, [] { throw sql::SQLException("part way", "HY000", 1105); }),
                    sql::SQLException);
    CHECK(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1") == before);
    checkClean(session);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("numbered statements begin in the first one's round trip and commit in the last's") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "numbered statements");
    std::string tid = std::to_string(torrent.tid);
    ConnectionPool pool{itest::testDatabase(), 1, 1000ms};
    auto lease = pool.acquire();
    REQUIRE(lease.lease);
    auto& session = lease.lease->session();
    using tracker::feed::inNumberedStatements;
    using tracker::feed::NumberedStatement;

    SECTION("one statement: one round trip, its rows under the number it tells") {
        auto before = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
        long long executed = statementsExecuted(session);
        auto done = inNumberedStatements(session, {addingPeer(torrent.tid, "one-1")});
        CHECK(statementsExecuted(session) - executed == 1);
        CHECK(static_cast<long long>(done.number) == before + 1);
        CHECK(db.scalar("SELECT seq FROM peers WHERE uid = 'one-1' AND tid = " + tid) ==
              before + 1);
        checkClean(session);
    }
    SECTION("three statements: three round trips, one number") {
        auto before = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
        long long executed = statementsExecuted(session);
        auto done = inNumberedStatements(
            session, {addingPeer(torrent.tid, "three-1"), addingPeer(torrent.tid, "three-2"),
                      addingPeer(torrent.tid, "three-3")});
        CHECK(statementsExecuted(session) - executed == 3);
        CHECK(static_cast<long long>(done.number) == before + 1);
        CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE uid LIKE 'three-%' AND seq = " +
                        std::to_string(before + 1) + " AND tid = " + tid) == 3);
        checkClean(session);
    }
    SECTION("a failure in a later statement takes back the earlier ones and the number") {
        auto before = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
        // The same peer twice: the second breaks the unique key (a plain INSERT, no IGNORE).
        CHECK_THROWS_AS(inNumberedStatements(session, {addingPeer(torrent.tid, "twice-1"),
                                                       addingPeer(torrent.tid, "twice-2"),
                                                       addingPeer(torrent.tid, "twice-1")}),
                        sql::SQLException);
        CHECK(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1") == before);
        CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE uid LIKE 'twice-%'") == 0);
        checkClean(session);
    }
    SECTION("a failure in the one statement that begins and ends takes back everything") {
        db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES (" + tid +
                ", 'there-1', 'numbered-statements-', '10.41.0.2', 6881, 5)");
        auto before = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
        CHECK_THROWS_AS(inNumberedStatements(session, {addingPeer(torrent.tid, "there-1")}),
                        sql::SQLException);
        CHECK(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1") == before);
        checkClean(session);
    }
    SECTION("without the numbering's row nothing is written, and it says so") {
        db.exec("UPDATE tracker_sequence SET id = 200 WHERE id = 1");
        std::string message;
        int code = 0;
        try {
            inNumberedStatements(session, {addingPeer(torrent.tid, "unnumbered-1")});
        } catch (const sql::SQLException& failed) {
            message = failed.what();
            code = failed.getErrorCode();
        }
        db.exec("UPDATE tracker_sequence SET id = 1 WHERE id = 200");
        // The server's signal, before the statement: the transaction commits in the same
        // statement, so a check on the client afterwards would come too late.
        CHECK(code == 1644);
        CHECK(message.find("tracker_sequence has no row 1") != std::string::npos);
        CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE uid = 'unnumbered-1'") == 0);
        checkClean(session);
    }
    SECTION("its commit's time samples the numbering, unless one statement waited for it") {
        // Another writer holds the numbering for a while, then lets go.
        auto holdNumbering = [](std::chrono::milliseconds hold) {
            return std::thread([hold] {
                itest::Sql holder;
                holder.exec("BEGIN");
                holder.exec("UPDATE tracker_sequence SET value = value WHERE id = 1");
                std::this_thread::sleep_for(hold);
                holder.exec("ROLLBACK");
            });
        };
        auto quick = inNumberedStatements(session, {addingPeer(torrent.tid, "sample-1")});
        CHECK(quick.sampled);

        std::thread holding = holdNumbering(300ms);
        std::this_thread::sleep_for(100ms);  // the holder has it now
        auto waited = inNumberedStatements(session, {addingPeer(torrent.tid, "sample-2")});
        holding.join();
        CHECK(waited.number > quick.number);
        CHECK_FALSE(waited.sampled);  // its send time is 200 ms before it held the numbering

        holding = holdNumbering(300ms);
        std::this_thread::sleep_for(100ms);
        auto sent = std::chrono::steady_clock::now();
        auto two = inNumberedStatements(
            session, {addingPeer(torrent.tid, "sample-3"), addingPeer(torrent.tid, "sample-4")});
        holding.join();
        CHECK(two.sampled);  // the commit went after the begin, whatever the wait
        CHECK(two.committing - sent >= 150ms);
        checkClean(session);
    }
    SECTION("no statements: nothing sent") {
        long long executed = statementsExecuted(session);
        CHECK(inNumberedStatements(session, std::vector<NumberedStatement>{}).number == 0);
        CHECK(statementsExecuted(session) - executed == 0);
    }
    db.exec("DELETE FROM torrents WHERE tid = " + tid);
}

TEST_CASE("a flush of under 128 new peers takes at most two statements, of 256 three") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "flush statements");
    ConnectionPool pool{itest::testDatabase(), 1, 1000ms};
    PeerWriter writer{pool, 1h};
    // 100 rows: 96, then 4 (in powers of two it took three: 64, 32, 4), the transaction begun
    // in the first and committed in the last.
    for (int n = 0; n < 100; ++n)
        writer.enqueue(newPeer(torrent, n));
    long long executed = statementsExecuted(pool, 1);
    REQUIRE(writer.flush());
    CHECK(statementsExecuted(pool, 1) - executed == 2);
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + std::to_string(torrent.tid)) ==
          100);
    // Rows, and the statements: under 16, one of that size; then a multiple of 16 up to 128
    // and the rest; 192 and 256 past that.
    const std::pair<int, int> statementsFor[] = {{1, 1},   {15, 1},  {16, 1},  {127, 2}, {128, 1},
                                                 {130, 2}, {191, 3}, {200, 2}, {255, 3}, {256, 1}};
    int total = 100;
    for (auto [rows, statements] : statementsFor) {
        INFO(rows);
        for (int n = 0; n < rows; ++n)
            writer.enqueue(newPeer(torrent, 1000 * rows + n));
        executed = statementsExecuted(pool, 1);
        REQUIRE(writer.flush());
        CHECK(statementsExecuted(pool, 1) - executed == statements);
        total += rows;
    }
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + std::to_string(torrent.tid)) ==
          total);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("a flush's stopped peers go in one statement, each departure recorded") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "flush stops");
    std::string tid = std::to_string(torrent.tid);
    ConnectionPool pool{itest::testDatabase(), 1, 1000ms};
    PeerWriter writer{pool, 1h};
    for (int n = 0; n < 60; ++n)
        writer.enqueue(newPeer(torrent, n));
    REQUIRE(writer.flush());
    REQUIRE(db.scalar("SELECT seeders + leechers FROM tracker_swarms WHERE tid = " + tid) == 60);

    std::vector<PeerWrite> stopsLater;
    // 48 of them stop (one was one statement each), 2 more join: two statements.
    for (int n = 0; n < 48; ++n) {
        PeerWrite stop = newPeer(torrent, n);
        stop.kind = PeerWrite::Kind::Delete;
        writer.enqueue(stop);
    }
    writer.enqueue(newPeer(torrent, 100));
    writer.enqueue(newPeer(torrent, 101));
    long long executed = statementsExecuted(pool, 1);
    REQUIRE(writer.flush());
    CHECK(statementsExecuted(pool, 1) - executed == 2);
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + tid) == 14);
    CHECK(db.scalar("SELECT seeders + leechers FROM tracker_swarms WHERE tid = " + tid) == 14);
    // Every departure is in the feed, all under the batch's one number.
    CHECK(db.scalar("SELECT COUNT(DISTINCT uid) FROM tracker_departures WHERE tid = " + tid) == 48);
    CHECK(db.scalar("SELECT COUNT(DISTINCT seq) FROM tracker_departures WHERE tid = " + tid) == 1);

    // 17 stops: a statement of 16, then one of one; neither reads any row but its own (a list
    // of one would scan the table, and lock every row of it). On a table of a few thousand
    // rows: MariaDB scans a table of a few dozen for a list of any length, cheaply.
    auto crowd = itest::registerTorrent(db, "flush stops, the rest of the table");
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) SELECT " +
            std::to_string(crowd.tid) +
            ", CONCAT('c', seq), CONCAT('-CR0001-', seq), '10.41.0.3', 6881, 5 FROM seq_1_to_3000");
    for (int n = 0; n < 17; ++n) {
        PeerWrite stop = newPeer(torrent, 200 + n);
        writer.enqueue(newPeer(torrent, 200 + n));
        stop.kind = PeerWrite::Kind::Delete;
        stopsLater.push_back(stop);
    }
    REQUIRE(writer.flush());
    for (const PeerWrite& stop : stopsLater)
        writer.enqueue(stop);
    long long scanned = rowsScanned(pool);
    REQUIRE(writer.flush());
    CHECK(rowsScanned(pool) - scanned < 10);
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + tid) == 14);

    // A stop is a seek on the unique key, however many a statement carries: no row is read,
    // and locked, but the stopped peers'.
    std::unique_ptr<sql::PreparedStatement> explain(db.connection().prepareStatement(
        std::string("EXPLAIN FORMAT=JSON ") + tracker::feed::statements::kDeletePeersHead +
        "(?, ?), (?, ?), (?, ?))"));
    for (unsigned i = 0; i < 3; ++i) {
        std::string uid = "\xff\x80s" + std::to_string(48 + i);
        explain->setString(2 * i + 1, sql::SQLString(uid.data(), uid.size()));
        explain->setUInt(2 * i + 2, static_cast<unsigned>(torrent.tid));
    }
    std::unique_ptr<sql::ResultSet> plan(explain->executeQuery());
    REQUIRE(plan->next());
    std::string text = plan->getString(1).asStdString();
    INFO(text);
    CHECK(text.find("\"access_type\": \"range\"") != std::string::npos);
    CHECK(text.find("\"key\": \"uid_tid\"") != std::string::npos);
    db.exec("DELETE FROM torrents WHERE tid IN (" + tid + ", " + std::to_string(crowd.tid) + ")");
}

TEST_CASE("a pull after this process's own flush reads the feeds at once, the counter not first") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "own flush");
    ConnectionPool pool{itest::testDatabase(), 2, 1000ms};
    ReplicaFeed feed{pool, itest::handDriven()};
    PeerWriter writer{pool, 1h, toldTo(feed)};
    REQUIRE(feed.catchUp());

    long long executed = statementsExecuted(pool, 2);
    REQUIRE(feed.step());  // nothing new: the counter alone
    CHECK(statementsExecuted(pool, 2) - executed == 1);

    writer.enqueue(newPeer(torrent, 1));
    REQUIRE(writer.flush());
    executed = statementsExecuted(pool, 2);
    REQUIRE(feed.step());  // something new for sure: its own batch
    CHECK(statementsExecuted(pool, 2) - executed == 1);
    const auto* replica = feed.freshReplica(ReplicaFeed::Clock::now());
    REQUIRE(replica != nullptr);
    CHECK(replica->find(torrent.hash, false, 50, 0).peers.size() == 1);

    // Another writer's batch, not heard of: the counter first, then the feeds.
    PeerWriter other{pool, 1h};
    other.enqueue(newPeer(torrent, 2));
    REQUIRE(other.flush());
    executed = statementsExecuted(pool, 2);
    REQUIRE(feed.step());
    CHECK(statementsExecuted(pool, 2) - executed == 2);
    CHECK(feed.freshReplica(ReplicaFeed::Clock::now())
              ->find(torrent.hash, false, 50, 0)
              .peers.size() == 2);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("a process that writes knows its database replica's lag without reading the primary") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "lag from flushes");
    // The feed's primary is out of reach: every read it made of the primary would fail. Its
    // replica is the test database itself (no lag), and the writer writes there too, as it
    // would on the primary.
    tracker::DatabaseConfig unreachable = itest::testDatabase();
    unreachable.socket = "/nonexistent/tracker-test-primary.sock";
    unreachable.connectTimeoutSeconds = 1;
    ConnectionPool primary{unreachable, 1, 1000ms};
    ConnectionPool replica{itest::testDatabase(), 2, 1000ms};
    ConnectionPool writes{itest::testDatabase(), 1, 1000ms};
    auto options = itest::handDriven();
    options.replicaPool = &replica;
    options.replicaRetry = 0ms;
    ReplicaFeed feed{primary, options};
    PeerWriter writer{writes, 1h, toldTo(feed)};

    // Every step is preceded by a batch of this process's: each tells the primary's counter.
    // Through the load (from the replica), then a few pulls.
    int written = 0;
    auto stepAfterBatch = [&] {
        writer.enqueue(newPeer(torrent, written++));
        REQUIRE(writer.flush());
        REQUIRE(feed.step());
    };
    while (feed.freshReplica(ReplicaFeed::Clock::now()) == nullptr) {
        REQUIRE(written < 1000);
        stepAfterBatch();
    }
    for (int n = 0; n < 3; ++n)
        stepAfterBatch();
    auto stats = feed.stats();
    CHECK(stats.readingReplica);
    CHECK(stats.replicaPulls >= 3);
    CHECK(stats.failures == 0);
    CHECK(stats.replicaLagMs >= 0);
    const auto* held = feed.freshReplica(ReplicaFeed::Clock::now());
    REQUIRE(held != nullptr);
    CHECK(held->find(torrent.hash, false, 2000, 0).peers.size() ==
          static_cast<std::size_t>(written));

    // Without a batch since the last pull, the lag takes a read of the primary: it fails.
    CHECK_FALSE(feed.step());
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("a live process pulls once after each flush, not also just before it") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "one pull a flush");
    ConnectionPool pool{itest::testDatabase(), 3, 1000ms};
    ReplicaFeed::Options options;
    options.pullInterval = 100ms;
    options.writerTick = 100ms;
    options.staleAfter = 1h;
    ReplicaFeed feed{pool, options};
    PeerWriter writer{pool, 100ms, toldTo(feed)};
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!feed.freshReplica(ReplicaFeed::Clock::now())) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(1ms);
    }

    auto pullsBefore = feed.stats().pulls;
    auto flushesBefore = writer.stats().flushes;
    auto until = std::chrono::steady_clock::now() + 2s;
    for (int n = 0; std::chrono::steady_clock::now() < until; ++n) {
        writer.enqueue(newPeer(torrent, n));
        std::this_thread::sleep_for(5ms);
    }
    feed.stop();
    writer.stop();
    auto pulls = feed.stats().pulls - pullsBefore;
    auto flushes = writer.stats().flushes - flushesBefore;
    INFO("pulls " << pulls << ", flushes " << flushes);
    CHECK(flushes >= 5);
    // A pull a flush, give or take a few whose flush came late: not two (one just before the
    // flush, on the timer, and one woken by it).
    CHECK(pulls <= flushes + flushes / 4 + 2);
    CHECK(pulls + 2 >= flushes);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("a feed whose steps fail waits a pull interval between them, not none") {
    tracker::DatabaseConfig unreachable = itest::testDatabase();
    unreachable.socket = "/nonexistent/tracker-test-primary.sock";
    unreachable.connectTimeoutSeconds = 1;
    ConnectionPool pool{unreachable, 1, 1000ms};
    ReplicaFeed::Options options;
    options.pullInterval = 100ms;
    options.writerTick = 100ms;
    ReplicaFeed feed{pool, options};
    std::this_thread::sleep_for(1s);
    feed.stop();
    // About ten; a step that had not pulled once started again at once, millions of times.
    CHECK(feed.stats().failures <= 15);
    CHECK(feed.stats().failures >= 1);
}
