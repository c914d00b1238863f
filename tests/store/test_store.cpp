// The MySQL store against a real MariaDB (started by tests/run): announce semantics, exact
// counters, binary round trips, O(numwant) reads in a big swarm, and the pool's failure modes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "db/connection_pool.h"
#include "db_fixture.h"
#include "store/mysql_swarm_store.h"
#include "store/swarm_statements.h"

using namespace std::chrono_literals;
using tracker::db::ConnectionPool;
using tracker::protocol::AnnounceEvent;
using tracker::store::MysqlSwarmStore;
using tracker::store::StoreStatus;

namespace {

struct Counts {
    long long seeders, leechers, downloaded, countedSeeders, countedLeechers;
};

Counts countsOf(itest::Sql& db, const itest::Torrent& t) {
    std::string tid = std::to_string(t.tid);
    return {db.scalar("SELECT COALESCE(SUM(seeders), 0) FROM tracker_swarms WHERE tid = " + tid),
            db.scalar("SELECT COALESCE(SUM(leechers), 0) FROM tracker_swarms WHERE tid = " + tid),
            db.scalar("SELECT downloaded FROM torrents WHERE tid = " + tid),
            db.scalar("SELECT COUNT(*) FROM peers WHERE residual = 0 AND tid = " + tid),
            db.scalar("SELECT COUNT(*) FROM peers WHERE residual > 0 AND tid = " + tid)};
}

long long handlerReads(ConnectionPool& pool) {
    auto leased = pool.acquire();
    REQUIRE(leased.lease);
    std::unique_ptr<sql::Statement> statement(
        leased.lease->session().connection().createStatement());
    std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(
        "SELECT SUM(VARIABLE_VALUE) FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME IN "
        "('HANDLER_READ_FIRST','HANDLER_READ_KEY','HANDLER_READ_NEXT','HANDLER_READ_PREV',"
        "'HANDLER_READ_RND','HANDLER_READ_RND_NEXT')"));
    REQUIRE(rows->next());
    return rows->getInt64(1);
}

// The plan MariaDB picks for one of the store's window reads, with these values bound. The
// statements with counts take (tid, tid, pivot, limit); the wrap-round ones (tid, pivot, limit).
std::string explainWindow(itest::Sql& db, const char* statement, long long tid,
                          std::uint32_t pivot) {
    std::unique_ptr<sql::PreparedStatement> explain(
        db.connection().prepareStatement(std::string("EXPLAIN FORMAT=JSON ") + statement));
    bool withCounts = std::string(statement).find("UNION") != std::string::npos;
    unsigned index = 1;
    explain->setInt64(index++, tid);
    if (withCounts)
        explain->setInt64(index++, tid);
    explain->setUInt(index++, pivot);
    explain->setUInt(index++, 51);
    std::unique_ptr<sql::ResultSet> rows(explain->executeQuery());
    REQUIRE(rows->next());
    return rows->getString(1).asStdString();
}

int occurrences(const std::string& text, const std::string& what) {
    int count = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++count;
    return count;
}

}  // namespace

TEST_CASE("announce events insert, update, delete and count like the PHP tracker, fixed") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 2, 1000ms);
    MysqlSwarmStore store(pool);
    auto torrent = itest::registerTorrent(db, "events");

    auto leecher = itest::announceFor(torrent, "leecher1", "10.1.0.1", 1000);
    leecher.event = AnnounceEvent::Started;
    auto outcome = store.announce(leecher, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(outcome.counts.incomplete == 1);
    CHECK(outcome.counts.complete == 0);
    REQUIRE(outcome.peers.size() == 1);  // itself; the protocol core leaves it out
    CHECK(outcome.peers[0].uid == "leecher1");

    auto seeder = itest::announceFor(torrent, "seeder1", "10.1.0.2", 0);
    outcome = store.announce(seeder, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(outcome.counts.complete == 1);
    CHECK(outcome.counts.incomplete == 1);
    // A seeder is offered leechers only.
    REQUIRE(outcome.peers.size() == 1);
    CHECK(outcome.peers[0].uid == "leecher1");
    CHECK(outcome.peers[0].port == 6881);
    CHECK(outcome.peers[0].address.toString() == "10.1.0.1");

    // A regular re-announce with a new address and port updates the row in place.
    leecher.event = AnnounceEvent::Regular;
    leecher.address = *tracker::protocol::PeerAddress::parse("10.1.0.9");
    leecher.port = 7000;
    leecher.left = 500;
    REQUIRE(store.announce(leecher, 51).status == StoreStatus::Ok);
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + std::to_string(torrent.tid)) == 2);
    CHECK(db.text("SELECT ip FROM peers WHERE uid = 'leecher1' AND tid = " +
                  std::to_string(torrent.tid)) == "10.1.0.9");
    CHECK(db.scalar("SELECT port FROM peers WHERE uid = 'leecher1' AND tid = " +
                    std::to_string(torrent.tid)) == 7000);

    // completed: residual 0 and one download counted.
    leecher.event = AnnounceEvent::Completed;
    leecher.left = 0;
    outcome = store.announce(leecher, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(outcome.counts.complete == 2);
    CHECK(outcome.counts.incomplete == 0);
    CHECK(outcome.counts.downloaded == 1);

    // A repeated (or re-sent) completed from the same peer is not counted again.
    outcome = store.announce(leecher, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(outcome.counts.downloaded == 1);

    // completed from a peer never seen: inserted as a seeder and still counted.
    auto stranger = itest::announceFor(torrent, "stranger", "10.1.0.3", 0);
    stranger.event = AnnounceEvent::Completed;
    outcome = store.announce(stranger, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(outcome.counts.complete == 3);
    CHECK(outcome.counts.downloaded == 2);

    // stopped deletes the row and hands out nobody.
    seeder.event = AnnounceEvent::Stopped;
    outcome = store.announce(seeder, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(outcome.peers.empty());
    CHECK(outcome.counts.complete == 2);
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE uid = 'seeder1' AND tid = " +
                    std::to_string(torrent.tid)) == 0);

    Counts counts = countsOf(db, torrent);
    CHECK(counts.seeders == counts.countedSeeders);
    CHECK(counts.leechers == counts.countedLeechers);
}

TEST_CASE("unregistered and banned torrents are refused and write nothing") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    MysqlSwarmStore store(pool);
    long long before = db.scalar("SELECT COUNT(*) FROM peers");

    itest::Torrent unknown;
    std::string raw = itest::randomBytes(20);
    std::copy(raw.begin(), raw.end(), unknown.hash.begin());
    CHECK(store.announce(itest::announceFor(unknown, "u1", "10.2.0.1", 5), 51).status ==
          StoreStatus::NotRegistered);

    auto banned = itest::registerTorrent(db, "banned", true);
    CHECK(store.announce(itest::announceFor(banned, "u1", "10.2.0.1", 5), 51).status ==
          StoreStatus::Banned);
    CHECK(db.scalar("SELECT COUNT(*) FROM peers") == before);
}

TEST_CASE("peer ids holding every byte value round-trip exactly") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    MysqlSwarmStore store(pool);
    auto torrent = itest::registerTorrent(db, "binary");

    std::map<std::string, std::string> sent;  // uid -> peer id
    for (int peer = 0; peer < 13; ++peer) {   // 13 x 20 bytes covers 0x00..0xff
        auto request = itest::announceFor(torrent, "bin" + std::to_string(peer),
                                          "10.3.0." + std::to_string(peer + 1), 100);
        for (int i = 0; i < 20; ++i)
            request.peerId[i] = static_cast<char>((peer * 20 + i) & 0xff);
        REQUIRE(store.announce(request, 51).status == StoreStatus::Ok);
        sent[request.uid] = std::string(request.peerId.data(), 20);
    }
    auto reader = itest::announceFor(torrent, "reader", "10.3.1.1", 100);
    auto outcome = store.announce(reader, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    int matched = 0;
    for (const auto& peer : outcome.peers) {
        auto it = sent.find(std::string(peer.uid.view()));
        if (it == sent.end())
            continue;
        CHECK(peer.peerId.size() == 20);
        CHECK(peer.peerId == it->second);
        ++matched;
    }
    CHECK(matched == 13);
    // And in the table itself, byte for byte.
    CHECK(db.text("SELECT HEX(peerId) FROM peers WHERE uid = 'bin0' AND tid = " +
                  std::to_string(torrent.tid)) == "000102030405060708090A0B0C0D0E0F10111213");
}

TEST_CASE("crypt is written as a bit in strict mode, IPv6 peers are kept as IPv6") {
    itest::Sql db;
    CHECK(db.text("SELECT @@GLOBAL.sql_mode").find("STRICT_TRANS_TABLES") != std::string::npos);
    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    MysqlSwarmStore store(pool);
    auto torrent = itest::registerTorrent(db, "crypto");

    auto plain = itest::announceFor(torrent, "plain", "10.4.0.1", 10);
    REQUIRE(store.announce(plain, 51).status == StoreStatus::Ok);
    auto strict = itest::announceFor(torrent, "strict", "2001:db8::7", 10);
    strict.requireCrypto = true;
    auto outcome = store.announce(strict, 51);
    REQUIRE(outcome.status == StoreStatus::Ok);
    std::string tid = std::to_string(torrent.tid);
    CHECK(db.scalar("SELECT crypt + 0 FROM peers WHERE uid = 'plain' AND tid = " + tid) == 0);
    CHECK(db.scalar("SELECT crypt + 0 FROM peers WHERE uid = 'strict' AND tid = " + tid) == 1);
    CHECK(db.text("SELECT ip FROM peers WHERE uid = 'strict' AND tid = " + tid) == "2001:db8::7");
    bool sawStrict = false;
    for (const auto& peer : outcome.peers) {
        if (peer.uid == "strict") {
            sawStrict = true;
            CHECK(peer.requiresCrypto);
            CHECK_FALSE(peer.address.isV4());
        } else {
            CHECK_FALSE(peer.requiresCrypto);
        }
    }
    CHECK(sawStrict);
}

TEST_CASE("counters stay equal to COUNT over any mix of announces") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 2, 1000ms);
    MysqlSwarmStore store(pool);
    std::vector<itest::Torrent> torrents = {itest::registerTorrent(db, "mix a"),
                                            itest::registerTorrent(db, "mix b")};
    std::mt19937 rng(7);
    for (int i = 0; i < 400; ++i) {
        const auto& torrent = torrents[rng() % torrents.size()];
        auto request = itest::announceFor(torrent, "m" + std::to_string(rng() % 25),
                                          "10.5.0." + std::to_string(1 + rng() % 200),
                                          (rng() % 3 == 0) ? 0 : 1 + rng() % 1000);
        switch (rng() % 5) {
            case 0:
                request.event = AnnounceEvent::Started;
                break;
            case 1:
                request.event = AnnounceEvent::Stopped;
                break;
            case 2:
                request.event = AnnounceEvent::Completed;
                break;
            default:
                request.event = AnnounceEvent::Regular;
                break;
        }
        REQUIRE(store.announce(request, 10).status == StoreStatus::Ok);
    }
    for (const auto& torrent : torrents) {
        Counts counts = countsOf(db, torrent);
        CHECK(counts.seeders == counts.countedSeeders);
        CHECK(counts.leechers == counts.countedLeechers);
    }
    // Rows deleted by hand (as the cleanup will) keep the counters exact too.
    db.exec("DELETE FROM peers WHERE tid = " + std::to_string(torrents[0].tid) + " LIMIT 5");
    Counts counts = countsOf(db, torrents[0]);
    CHECK(counts.seeders == counts.countedSeeders);
    CHECK(counts.leechers == counts.countedLeechers);
}

TEST_CASE("a big swarm costs O(numwant) rows per announce and mixes its peers") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "big swarm");
    const int swarm = 20000;
    std::string tid = std::to_string(torrent.tid);
    // Half seeders, half leechers, random places; the sequence engine makes the rows.
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, crypt, residual, rnd) SELECT " + tid +
            ", CONCAT('b', seq), RPAD(CONCAT('-XX0001-', seq), 20, 'x'), "
            "CONCAT('10.', (seq >> 16) & 255, '.', (seq >> 8) & 255, '.', seq & 255), 6881, 0, "
            "IF(seq % 2 = 0, 0, 1000), 1 + FLOOR(RAND() * 4294967294) FROM seq_1_to_" +
            std::to_string(swarm));
    REQUIRE(countsOf(db, torrent).seeders + countsOf(db, torrent).leechers == swarm);

    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    MysqlSwarmStore store(pool);
    std::set<std::string> seen;
    for (int i = 0; i < 40; ++i) {
        auto leecher = itest::announceFor(torrent, "L" + std::to_string(i), "10.6.0.1", 500);
        long long before = handlerReads(pool);
        auto outcome = store.announce(leecher, 51);
        long long reads = handlerReads(pool) - before;
        REQUIRE(outcome.status == StoreStatus::Ok);
        CHECK(outcome.peers.size() == 51);
        // Rows touched: the window (51), the lookups and the upsert; never the swarm.
        CHECK(reads < 400);
        for (const auto& peer : outcome.peers)
            seen.insert(std::string(peer.uid.view()));
    }
    // Forty random windows of 51 land all over the swarm, not on the same rows.
    CHECK(seen.size() > 1000);

    auto seeder = itest::announceFor(torrent, "S", "10.6.0.2", 0);
    long long before = handlerReads(pool);
    auto outcome = store.announce(seeder, 51);
    long long reads = handlerReads(pool) - before;
    REQUIRE(outcome.status == StoreStatus::Ok);
    CHECK(reads < 400);
    REQUIRE(outcome.peers.size() == 51);
    CHECK(std::none_of(outcome.peers.begin(), outcome.peers.end(),
                       [](const auto& peer) { return peer.seeder; }));

    // Handler counts do not see rows that index condition pushdown skips inside InnoDB, so the
    // plan itself is checked: every window read must seek a range that includes rnd, never
    // walk the swarm's (tid) prefix.
    using namespace tracker::store::statements;
    for (const char* statement : {kReadSwarm, kReadSwarmWrap, kReadLeechers, kReadLeechersWrap}) {
        std::string plan = explainWindow(db, statement, torrent.tid, 3900000000u);
        INFO(plan);
        CHECK(occurrences(plan, "\"access_type\": \"range\"") == 1);
        CHECK(occurrences(plan, "\"rnd\"") >= 1);
        CHECK(occurrences(plan, "\"access_type\": \"ref\"") == 0);
    }
    db.exec("DELETE FROM torrents WHERE tid = " + tid);
}

TEST_CASE("scrape lists registered, unbanned torrents only") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    MysqlSwarmStore store(pool);
    auto listed = itest::registerTorrent(db, "listed");
    auto banned = itest::registerTorrent(db, "hidden", true);
    REQUIRE(store.announce(itest::announceFor(listed, "s1", "10.7.0.1", 0), 5).status ==
            StoreStatus::Ok);
    itest::Torrent unknown;
    unknown.hash.fill('\x7f');

    auto outcome = store.scrape({listed.hash, banned.hash, unknown.hash});
    REQUIRE(outcome.status == StoreStatus::Ok);
    REQUIRE(outcome.entries.size() == 1);
    CHECK(outcome.entries[0].infoHash == listed.hash);
    CHECK(outcome.entries[0].name == "listed");
    CHECK(outcome.entries[0].counts.complete == 1);

    // The full scrape: every unbanned torrent once, in ascending hash order, in chunks.
    std::vector<tracker::protocol::ScrapeEntry> all;
    std::size_t chunks = 0;
    auto read = store.scrapeAll([&](const std::vector<tracker::protocol::ScrapeEntry>& chunk) {
        ++chunks;
        all.insert(all.end(), chunk.begin(), chunk.end());
        return true;
    });
    REQUIRE(read.status == StoreStatus::Ok);
    CHECK(chunks >= 1);
    bool sawListed = false;
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].infoHash != banned.hash);
        if (i > 0)
            CHECK(std::string_view(all[i - 1].infoHash.data(), 20) <
                  std::string_view(all[i].infoHash.data(), 20));
        if (all[i].infoHash == listed.hash) {
            sawListed = true;
            CHECK(all[i].name == "listed");
            CHECK(all[i].counts.complete == 1);
        }
    }
    CHECK(sawListed);
    CHECK(static_cast<long long>(all.size()) ==
          db.scalar("SELECT COUNT(*) FROM torrents WHERE banned = 0"));
}

TEST_CASE("the pool bounds its connections and waits a bounded time") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 1, 200ms);
    MysqlSwarmStore store(pool);
    auto torrent = itest::registerTorrent(db, "pool");
    auto held = pool.acquire();
    REQUIRE(held.lease);

    auto started = std::chrono::steady_clock::now();
    auto outcome = store.announce(itest::announceFor(torrent, "p1", "10.8.0.1", 1), 5);
    auto waited = std::chrono::steady_clock::now() - started;
    CHECK(outcome.status == StoreStatus::Busy);
    CHECK(waited >= 150ms);
    CHECK(waited < 2s);
    CHECK(pool.stats().timeouts == 1);

    held.lease.reset();
    CHECK(store.announce(itest::announceFor(torrent, "p1", "10.8.0.1", 1), 5).status ==
          StoreStatus::Ok);
}

TEST_CASE("a connection killed by the server is replaced without failing the announce") {
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    MysqlSwarmStore store(pool);
    auto torrent = itest::registerTorrent(db, "reconnect");
    REQUIRE(store.announce(itest::announceFor(torrent, "r1", "10.9.0.1", 1), 5).status ==
            StoreStatus::Ok);

    long long connectionId = 0;
    {
        auto leased = pool.acquire();
        REQUIRE(leased.lease);
        std::unique_ptr<sql::Statement> statement(
            leased.lease->session().connection().createStatement());
        std::unique_ptr<sql::ResultSet> rows(statement->executeQuery("SELECT CONNECTION_ID()"));
        REQUIRE(rows->next());
        connectionId = rows->getInt64(1);
    }
    db.exec("KILL " + std::to_string(connectionId));
    std::this_thread::sleep_for(100ms);

    auto outcome = store.announce(itest::announceFor(torrent, "r2", "10.9.0.2", 1), 5);
    CHECK(outcome.status == StoreStatus::Ok);
    CHECK(pool.stats().dropped >= 1);
    CHECK(outcome.counts.incomplete == 2);
}

TEST_CASE("new peers joining one swarm at once are all accepted and counted") {
    // Concurrent first announces of one torrent can deadlock inside InnoDB (foreign-key shared
    // lock, then the counter trigger's exclusive lock); the store retries the victim.
    itest::Sql db;
    ConnectionPool pool(itest::testDatabase(), 8, 5000ms);
    MysqlSwarmStore store(pool);
    auto torrent = itest::registerTorrent(db, "crowd");
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 60; ++i) {
                auto request = itest::announceFor(torrent, "c" + std::to_string(t * 100 + i),
                                                  "10.10.0." + std::to_string(t + 1), i % 2);
                request.event = AnnounceEvent::Started;
                if (store.announce(request, 5).status != StoreStatus::Ok)
                    ++refused;
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    CHECK(refused == 0);
    Counts counts = countsOf(db, torrent);
    CHECK(counts.seeders + counts.leechers == 480);
    CHECK(counts.seeders == counts.countedSeeders);
    CHECK(counts.leechers == counts.countedLeechers);
}
