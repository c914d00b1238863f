// Each process's replica of the swarms against a real MariaDB: it follows what the flushes
// write (its own and another process's), stopped peers, the registry's changes (registrations,
// bans, completions, removals) and what other writers do, answers unknown hashes without the
// database, reads everything again on a gap in the feed while it keeps serving, and is not
// used once it has fallen behind.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "admin/admin_store.h"
#include "db/connection_pool.h"
#include "db_fixture.h"
#include "feed/feed_statements.h"
#include "feed/peer_writer.h"
#include "feed/replica_feed.h"
#include "store/mysql_swarm_store.h"

using namespace std::chrono_literals;
using tracker::db::ConnectionPool;
using tracker::feed::PeerWrite;
using tracker::feed::PeerWriter;
using tracker::feed::ReplicaFeed;
using tracker::protocol::AnnounceEvent;
using tracker::store::MysqlSwarmStore;
using tracker::store::StoreStatus;
using tracker::store::SwarmStoreOptions;
using tracker::swarms::SwarmReplica;

namespace {

// A feed the test steps by hand.
ReplicaFeed::Options handDriven() {
    ReplicaFeed::Options options;
    options.startThread = false;
    options.pullInterval = 0ms;  // a pull on every step, also between a load's chunks
    options.staleAfter = 1h;
    options.loadChunk = 7;  // several chunks even for a few peers
    return options;
}

// One worker process: a pool, a write-behind flushed by hand, a replica stepped by hand.
struct Process {
    ConnectionPool pool{itest::testDatabase(), 2, 1000ms};
    PeerWriter writer{pool, 1h};
    ReplicaFeed feed{pool, handDriven()};
    MysqlSwarmStore store{pool, options()};

    SwarmStoreOptions options() {
        SwarmStoreOptions options;
        options.writer = &writer;
        options.replica = &feed;
        return options;
    }
    SwarmReplica::Answer find(const itest::Torrent& torrent, bool leechersOnly = false) {
        const SwarmReplica* replica = feed.freshReplica(ReplicaFeed::Clock::now());
        REQUIRE(replica != nullptr);
        return replica->find(torrent.hash, leechersOnly, 1000, 0);
    }
};

std::set<std::string> uids(const SwarmReplica::Answer& answer) {
    std::set<std::string> out;
    for (const auto& peer : answer.peers)
        out.insert(std::string(peer.uid.view()));
    return out;
}

}  // namespace

TEST_CASE("replicas follow the flushes of every process: joins, changes, stops, completions") {
    itest::Sql db;
    Process one, other;
    auto torrent = itest::registerTorrent(db, "followed");
    REQUIRE(one.feed.catchUp());  // the first step loads everything
    REQUIRE(other.feed.catchUp());
    CHECK(one.find(torrent).found == SwarmReplica::Found::Registered);
    CHECK(one.find(torrent).peers.empty());

    for (std::string uid : {"a", "b", "c"})
        REQUIRE(one.store.announce(itest::announceFor(torrent, uid, "10.20.0.1", 100), 51).status ==
                StoreStatus::Ok);
    REQUIRE(other.store.announce(itest::announceFor(torrent, "d", "10.20.0.2", 0), 51).status ==
            StoreStatus::Ok);
    REQUIRE(one.feed.catchUp());
    // Not flushed yet: each process holds its own announces, not the other's.
    CHECK(uids(one.find(torrent)) == std::set<std::string>{"a", "b", "c"});
    CHECK(uids(other.find(torrent)) == std::set<std::string>{"d"});
    REQUIRE(one.writer.flush());
    REQUIRE(other.writer.flush());
    for (Process* process : {&one, &other}) {
        REQUIRE(process->feed.catchUp());
        auto answer = process->find(torrent);
        CHECK(uids(answer) == std::set<std::string>{"a", "b", "c", "d"});
        CHECK(answer.counts.complete == 1);
        CHECK(answer.counts.incomplete == 3);
        CHECK(uids(process->find(torrent, true)) == std::set<std::string>{"a", "b", "c"});
    }

    // The answer comes from the replica: the swarm as followed, with this announce counted.
    auto answered = one.store.announce(itest::announceFor(torrent, "e", "10.20.0.3", 100), 51);
    REQUIRE(answered.status == StoreStatus::Ok);
    CHECK(answered.peers.size() == 4);
    CHECK(answered.counts.incomplete == 4);

    auto stop = itest::announceFor(torrent, "a", "10.20.0.1", 100);
    stop.event = AnnounceEvent::Stopped;
    REQUIRE(one.store.announce(stop, 51).status == StoreStatus::Ok);
    auto finish = itest::announceFor(torrent, "b", "10.20.0.1", 0);
    finish.event = AnnounceEvent::Completed;
    REQUIRE(one.store.announce(finish, 51).status == StoreStatus::Ok);
    REQUIRE(one.writer.flush());
    CHECK(db.scalar("SELECT COUNT(*) FROM tracker_departures WHERE tid = " +
                    std::to_string(torrent.tid)) == 1);
    for (Process* process : {&one, &other}) {
        REQUIRE(process->feed.catchUp());
        auto answer = process->find(torrent);
        CHECK(uids(answer) == std::set<std::string>{"b", "c", "d", "e"});
        CHECK(answer.counts.complete == 2);
        CHECK(answer.counts.incomplete == 2);
        CHECK(answer.counts.downloaded == 1);
    }
    // Both followed up to the table's last sequence number.
    auto last =
        static_cast<std::uint64_t>(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1"));
    CHECK(one.feed.stats().sequence == last);
    CHECK(other.feed.stats().sequence == last);

    // A stopped peer that comes back is back.
    auto back = itest::announceFor(torrent, "a", "10.20.0.1", 100);
    REQUIRE(other.store.announce(back, 51).status == StoreStatus::Ok);
    REQUIRE(other.writer.flush());
    REQUIRE(one.feed.catchUp());
    CHECK(uids(one.find(torrent)).count("a") == 1);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("an announce is seen at once by every later announce this process answers") {
    itest::Sql db;
    Process process;
    auto torrent = itest::registerTorrent(db, "read your writes");
    REQUIRE(process.feed.catchUp());
    auto announce = [&](const tracker::protocol::AnnounceRequest& request) {
        auto outcome = process.store.announce(request, 51);
        REQUIRE(outcome.status == StoreStatus::Ok);
        return outcome;
    };
    auto uidsOf = [](const tracker::store::AnnounceOutcome& outcome) {
        std::set<std::string> out;
        for (const auto& peer : outcome.peers)
            out.insert(std::string(peer.uid.view()));
        return out;
    };

    // A seeder and two leechers in the same instant, nothing written yet: they meet.
    auto seeder = announce(itest::announceFor(torrent, "s", "10.32.0.1", 0));
    CHECK(seeder.peers.empty());
    CHECK(seeder.counts.complete == 1);  // itself
    CHECK(seeder.counts.incomplete == 0);
    auto first = announce(itest::announceFor(torrent, "l1", "10.32.0.2", 500));
    CHECK(uidsOf(first) == std::set<std::string>{"s"});
    CHECK(first.counts.complete == 1);
    CHECK(first.counts.incomplete == 1);
    auto second = announce(itest::announceFor(torrent, "l2", "10.32.0.3", 500));
    CHECK(uidsOf(second) == std::set<std::string>{"s", "l1"});
    CHECK(second.counts.incomplete == 2);
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + std::to_string(torrent.tid)) == 0);

    // A re-announce counts once; a completion moves it; a stop takes it out.
    CHECK(announce(itest::announceFor(torrent, "l1", "10.32.0.2", 300)).counts.incomplete == 2);
    auto done = itest::announceFor(torrent, "l1", "10.32.0.2", 0);
    done.event = AnnounceEvent::Completed;
    auto completed = announce(done);
    CHECK(completed.counts.complete == 2);
    CHECK(completed.counts.incomplete == 1);
    CHECK(completed.counts.downloaded == 1);
    CHECK(announce(done).counts.downloaded == 1);  // sent again: a seeder already
    auto stop = itest::announceFor(torrent, "l2", "10.32.0.3", 500);
    stop.event = AnnounceEvent::Stopped;
    CHECK(announce(stop).counts.incomplete == 0);
    CHECK(uidsOf(announce(itest::announceFor(torrent, "l3", "10.32.0.4", 500))) ==
          std::set<std::string>{"s", "l1"});

    // Written and followed: the replica then holds the rows' pids, the same swarm.
    REQUIRE(process.writer.flush());
    REQUIRE(process.feed.catchUp());
    auto followed = process.find(torrent);
    CHECK(uids(followed) == std::set<std::string>{"s", "l1", "l3"});
    for (const auto& peer : followed.peers)
        CHECK(peer.pid != 0);
    CHECK(followed.counts.complete == 2);
    CHECK(followed.counts.incomplete == 1);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

namespace {

// A worker process as tracker-fcgi runs one: the flush and the feed on threads of their own.
struct LiveProcess {
    ConnectionPool pool{itest::testDatabase(), 3, 1000ms};
    ReplicaFeed feed{pool, live()};
    PeerWriter writer{pool, 250ms, writerOptions()};
    MysqlSwarmStore store;

    explicit LiveProcess(std::chrono::milliseconds meetWait) : store(pool, options(meetWait)) {}
    ~LiveProcess() {
        feed.stop();
        writer.stop();
    }
    static ReplicaFeed::Options live() {
        ReplicaFeed::Options options;
        options.pullInterval = 250ms;
        options.writerTick = 250ms;
        return options;
    }
    // Wired as tracker-fcgi wires them.
    PeerWriter::Options writerOptions() {
        PeerWriter::Options options;
        options.hooks.committed = [this](const tracker::feed::NumberedCommit& done) {
            feed.committed(done);
        };
        options.hooks.ticked = [this] { feed.ticked(); };
        return options;
    }
    SwarmStoreOptions options(std::chrono::milliseconds meetWait) {
        SwarmStoreOptions options;
        options.writer = &writer;
        options.replica = &feed;
        options.meetWait = meetWait;
        options.othersFlush = 250ms;
        return options;
    }
    void ready() {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!feed.freshReplica(ReplicaFeed::Clock::now()))
            REQUIRE(std::chrono::steady_clock::now() < deadline);
    }
};

}  // namespace

TEST_CASE("a started announce with nobody to fetch from meets the other processes' of the moment") {
    itest::Sql db;
    for (auto meetWait : {1000ms, 0ms}) {
        LiveProcess one(meetWait), other(meetWait);
        auto torrent = itest::registerTorrent(db, "meeting");
        one.ready();
        other.ready();
        REQUIRE(one.feed.awaitPullFrom(ReplicaFeed::Clock::now(),
                                       ReplicaFeed::Clock::now() + 5s));  // knows the torrent
        REQUIRE(
            other.feed.awaitPullFrom(ReplicaFeed::Clock::now(), ReplicaFeed::Clock::now() + 5s));

        // The seeder through one process, the leecher through the other, at the same moment.
        std::thread seeding([&] {
            auto seeder = itest::announceFor(torrent, "s", "10.33.0.1", 0);
            seeder.event = AnnounceEvent::Started;
            REQUIRE(one.store.announce(seeder, 51).status == StoreStatus::Ok);
        });
        std::this_thread::sleep_for(20ms);
        auto leecher = itest::announceFor(torrent, "l", "10.33.0.2", 500);
        leecher.event = AnnounceEvent::Started;
        auto began = std::chrono::steady_clock::now();
        auto answer = other.store.announce(leecher, 51);
        auto took = std::chrono::steady_clock::now() - began;
        seeding.join();
        REQUIRE(answer.status == StoreStatus::Ok);
        if (meetWait.count() > 0) {
            std::set<std::string> found;
            for (const auto& peer : answer.peers)
                found.insert(std::string(peer.uid.view()));
            found.erase("l");  // the asker itself, which the answer's rules leave out
            CHECK(found == std::set<std::string>{"s"});
            CHECK(answer.counts.complete == 1);
            CHECK(other.store.answerSources().awaitedOthers == 1);
            CHECK(took < meetWait);
        } else {
            for (const auto& peer : answer.peers)  // without the wait: nobody but itself
                CHECK(peer.uid.view() == "l");
            CHECK(other.store.answerSources().awaitedOthers == 0);
        }
        // A re-announce does not wait, nor a started one that finds a seeder.
        leecher.event = AnnounceEvent::Regular;
        other.store.announce(leecher, 51);
        auto late = itest::announceFor(torrent, "l2", "10.33.0.3", 500);
        late.event = AnnounceEvent::Started;
        REQUIRE(other.feed.awaitPullFrom(ReplicaFeed::Clock::now() + 300ms,
                                         ReplicaFeed::Clock::now() + 5s));
        CHECK(other.store.announce(late, 51).peers.size() >= 1);
        CHECK(other.store.answerSources().awaitedOthers == (meetWait.count() > 0 ? 1u : 0u));
        db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
    }
}

TEST_CASE("the registry follows changes: add, ban, unban, rename, complete, remove") {
    itest::Sql db;
    Process process;
    tracker::admin::AdminStore admin(process.pool);
    REQUIRE(process.feed.catchUp());
    auto changesBefore = process.feed.stats().changes;

    // Registered as trackerctl does: known at the next pull, with nothing else read.
    auto torrent = itest::registerTorrent(db, "followed registry");
    std::string tid = std::to_string(torrent.tid);
    CHECK(process.find(torrent).found == SwarmReplica::Found::Unknown);  // not pulled yet
    REQUIRE(process.feed.catchUp());
    CHECK(process.find(torrent).found == SwarmReplica::Found::Registered);
    CHECK(process.feed.stats().changes == changesBefore + 1);
    REQUIRE(process.store.announce(itest::announceFor(torrent, "a", "10.21.0.1", 5), 51).status ==
            StoreStatus::Ok);
    REQUIRE(process.writer.flush());
    REQUIRE(process.feed.catchUp());

    auto ban = [&](bool banned) {
        auto changed = admin.setBanned(tracker::admin::TorrentKey{torrent.hash}, banned);
        REQUIRE(std::holds_alternative<tracker::admin::BanChange>(changed));
    };
    ban(true);
    CHECK(process.find(torrent).found == SwarmReplica::Found::Registered);  // not pulled yet
    REQUIRE(process.feed.catchUp());
    CHECK(process.find(torrent).found == SwarmReplica::Found::Banned);
    CHECK(process.store.announce(itest::announceFor(torrent, "x", "10.21.0.1", 5), 51).status ==
          StoreStatus::Banned);
    ban(false);
    REQUIRE(process.feed.catchUp());
    auto unbanned = process.find(torrent);
    CHECK(unbanned.found == SwarmReplica::Found::Registered);
    CHECK(uids(unbanned) == std::set<std::string>{"a"});  // its peers were kept

    // A rename takes no number (the replica holds no names); scrapes read it at once.
    auto sequence = db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
    auto renamed = admin.registerTorrent(torrent.hash, "a new name", true);
    REQUIRE(std::holds_alternative<tracker::admin::Registration>(renamed));
    CHECK(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1") == sequence);
    auto scraped = process.store.scrape({torrent.hash});
    REQUIRE(scraped.entries.size() == 1);
    CHECK(scraped.entries[0].name == "a new name");

    // A completion counted by another writer (a PHP page) reaches the count.
    db.exec("UPDATE torrents SET downloaded = downloaded + 2 WHERE tid = " + tid);
    REQUIRE(process.feed.catchUp());
    CHECK(process.find(torrent).counts.downloaded == 2);

    // Removed: gone from the replica with its peers, and its hash is #5 again.
    auto removed = admin.remove(tracker::admin::TorrentKey{torrent.hash});
    REQUIRE(std::holds_alternative<tracker::admin::TorrentRow>(removed));
    CHECK(db.scalar("SELECT present FROM tracker_torrent_feed WHERE tid = " + tid) == 0);
    auto peersBefore = process.feed.stats().peers;
    REQUIRE(process.feed.catchUp());
    CHECK(process.find(torrent).found == SwarmReplica::Found::Unknown);
    CHECK(process.feed.stats().peers == peersBefore - 1);
    CHECK(process.store.announce(itest::announceFor(torrent, "y", "10.21.0.2", 5), 51).status ==
          StoreStatus::NotRegistered);
    CHECK(process.feed.stats().resyncs == 0);  // all of it followed, nothing read again
}

TEST_CASE("with a fresh replica, an unknown info hash is refused without the database") {
    itest::Sql db;
    ConnectionPool feedPool{itest::testDatabase(), 1, 1000ms};
    ReplicaFeed feed{feedPool, handDriven()};
    REQUIRE(feed.catchUp());
    // The announces' own pool points at no server: any query there would be Unavailable.
    tracker::DatabaseConfig nowhere = itest::testDatabase();
    nowhere.socket = "/nonexistent/mysql.sock";
    ConnectionPool deadPool{nowhere, 1, 100ms};
    PeerWriter writer{deadPool, 1h};
    SwarmStoreOptions options;
    options.writer = &writer;
    options.replica = &feed;
    MysqlSwarmStore store{deadPool, options};
    itest::Torrent unknown;
    std::string raw = itest::randomBytes(20);
    std::copy(raw.begin(), raw.end(), unknown.hash.begin());
    for (int i = 0; i < 20; ++i) {
        unknown.hash[0] = static_cast<char>(i);
        CHECK(store.announce(itest::announceFor(unknown, "u", "10.27.0.1", 5), 51).status ==
              StoreStatus::NotRegistered);
    }
    CHECK(deadPool.stats().leases == 0);
    CHECK(deadPool.stats().connectFailures == 0);

    // A registered one is answered from memory too (its write waits in the queue).
    auto torrent = itest::registerTorrent(db, "from memory");
    REQUIRE(feed.catchUp());
    CHECK(store.announce(itest::announceFor(torrent, "r", "10.27.0.2", 5), 51).status ==
          StoreStatus::Ok);
    CHECK(deadPool.stats().leases == 0);
    CHECK(writer.stats().pending == 1);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("before its first load, announces are answered from the database") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "early");
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES (" +
            std::to_string(torrent.tid) + ", 'e1', '-EA0001-000000000001', '10.28.0.1', 6881, 0)");
    Process process;  // its feed has not stepped: nothing loaded
    CHECK(process.feed.freshReplica(ReplicaFeed::Clock::now()) == nullptr);
    auto answer = process.store.announce(itest::announceFor(torrent, "e2", "10.28.0.2", 5), 51);
    REQUIRE(answer.status == StoreStatus::Ok);
    CHECK(answer.peers.size() == 1);
    CHECK(answer.counts.complete == 1);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("a gap in the feed is read again beside the replica, which serves all along") {
    itest::Sql db;
    Process process;
    auto torrent = itest::registerTorrent(db, "resync");
    std::string tid = std::to_string(torrent.tid);
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) SELECT " + tid +
            ", CONCAT('g', seq), CONCAT('-GA0001-', seq), '10.29.0.1', 6881, seq % 2 FROM "
            "seq_1_to_40");
    REQUIRE(process.feed.catchUp());
    REQUIRE(process.find(torrent).peers.size() == 40);
    auto before = process.feed.stats();

    // Peers removed and their departures pruned past where the feed stands (tracker-cron does
    // that to departures an hour old): the feed cannot tell what it missed.
    db.exec("DELETE FROM peers WHERE tid = " + tid + " AND uid IN ('g1', 'g2', 'g3')");
    db.exec("DELETE FROM tracker_departures WHERE tid = " + tid);
    db.exec(
        "UPDATE tracker_sequence SET value = (SELECT value FROM (SELECT value FROM "
        "tracker_sequence WHERE id = 1) AS counter) WHERE id = 2");
    // Meanwhile another peer joins, which the resync's pulls must bring too.
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES (" + tid +
            ", 'late', '-GA0001-late', '10.29.0.2', 6881, 5)");

    // Step by step (chunks of 7 rows): the replica is fresh and answers at every step. As many
    // steps as the database's rows take (the suite's other tests leave theirs).
    long long steps =
        1000 +
        (db.scalar("SELECT COUNT(*) FROM peers") + db.scalar("SELECT COUNT(*) FROM torrents")) / 7;
    bool served = true;
    for (long long i = 0; i < steps; ++i) {
        REQUIRE(process.feed.step());
        const SwarmReplica* replica = process.feed.freshReplica(ReplicaFeed::Clock::now());
        served =
            served && replica != nullptr &&
            replica->find(torrent.hash, false, 1000, 0).found == SwarmReplica::Found::Registered;
        if (process.feed.stats().resyncs > before.resyncs)
            break;
    }
    CHECK(served);
    auto after = process.feed.stats();
    CHECK(after.resyncs == before.resyncs + 1);
    CHECK(after.resyncDropped == before.resyncDropped + 3);
    REQUIRE(process.feed.catchUp());
    auto answer = process.find(torrent);
    CHECK(answer.peers.size() == 38);
    auto held = uids(answer);
    CHECK(held.count("g1") == 0);
    CHECK(held.count("g3") == 0);
    CHECK(held.count("late") == 1);
    db.exec("DELETE FROM torrents WHERE tid = " + tid);
}

TEST_CASE("writers other than the flushes are followed too: a PHP page, the cleanup") {
    itest::Sql db;
    Process process;
    auto torrent = itest::registerTorrent(db, "php writes");
    std::string tid = std::to_string(torrent.tid);
    REQUIRE(process.feed.catchUp());
    // As the PHP front end writes: its own columns only, a statement at a time.
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) SELECT " + tid +
            ", CONCAT('p', seq), CONCAT('-PH0001-', seq), '10.22.0.1', 6881, seq % 2 FROM "
            "seq_1_to_20");
    REQUIRE(process.feed.catchUp());
    auto answer = process.find(torrent);
    CHECK(answer.peers.size() == 20);
    CHECK(answer.counts.complete == 10);
    db.exec("UPDATE peers SET residual = 0, port = 7777 WHERE tid = " + tid + " AND uid = 'p1'");
    db.exec("DELETE FROM peers WHERE tid = " + tid + " AND uid IN ('p2', 'p3')");  // expired
    REQUIRE(process.feed.catchUp());
    answer = process.find(torrent);
    CHECK(answer.peers.size() == 18);
    CHECK(answer.counts.complete == 10);  // p1 turned seeder, p2 (a seeder) expired
    CHECK(answer.counts.incomplete == 8);
    for (const auto& peer : answer.peers)
        if (peer.uid.view() == "p1")
            CHECK(peer.port == 7777);
    CHECK(uids(answer).count("p2") == 0);

    // A resync (here in chunks of 7 rows) lands on the same.
    process.feed.requestResync();
    REQUIRE(process.feed.catchUp());
    CHECK(uids(process.find(torrent)) == uids(answer));
    CHECK(process.feed.stats().resyncs == 1);
    CHECK(process.feed.stats().resyncDropped == 0);
    db.exec("DELETE FROM torrents WHERE tid = " + tid);
}

TEST_CASE("a re-announce that changes nothing the replica holds keeps its sequence number") {
    itest::Sql db;
    Process process;
    auto torrent = itest::registerTorrent(db, "quiet");
    std::string tid = std::to_string(torrent.tid);
    auto seqOf = [&](const std::string& uid) {
        return db.scalar("SELECT seq FROM peers WHERE tid = " + tid + " AND uid = '" + uid + "'");
    };
    auto counter = [&] { return db.scalar("SELECT value FROM tracker_sequence WHERE id = 1"); };
    auto flushed = [&](const tracker::protocol::AnnounceRequest& request) {
        REQUIRE(process.store.announce(request, 51).status == StoreStatus::Ok);
        REQUIRE(process.writer.flush());
    };
    // One client, announcing again and again (announceFor draws a new peer id each call).
    auto client = itest::announceFor(torrent, "q", "10.26.0.1", 100);
    auto as = [&](std::uint64_t left, std::uint16_t port, const char* ip) {
        auto request = client;
        request.left = left;
        request.port = port;
        request.address = *tracker::protocol::PeerAddress::parse(ip);
        request.connectionAddress = request.address;
        return request;
    };
    REQUIRE(process.feed.catchUp());
    flushed(client);
    REQUIRE(process.feed.catchUp());
    auto joined = seqOf("q");
    CHECK(joined > 0);
    auto changesBefore = process.feed.stats().changes;

    // Again, and with less left (still a leecher): the row's time and residual move, its
    // number does not, and the pull has nothing to carry; yet it knows how far it has read.
    flushed(client);
    flushed(as(40, 6881, "10.26.0.1"));
    CHECK(seqOf("q") == joined);
    CHECK(db.scalar("SELECT residual FROM peers WHERE tid = " + tid + " AND uid = 'q'") == 40);
    REQUIRE(process.feed.catchUp());
    CHECK(process.feed.stats().changes == changesBefore);
    CHECK(process.feed.stats().sequence == static_cast<std::uint64_t>(counter()));

    // What the replica holds does move it: a seeder now, another port, another address.
    flushed(as(0, 6881, "10.26.0.1"));
    auto seeded = seqOf("q");
    CHECK(seeded > joined);
    REQUIRE(process.feed.catchUp());
    CHECK(process.find(torrent).counts.complete == 1);
    flushed(as(0, 7001, "10.26.0.1"));
    CHECK(seqOf("q") > seeded);
    auto moved = seqOf("q");
    flushed(as(0, 7001, "10.26.0.2"));
    CHECK(seqOf("q") > moved);
    auto readdressed = seqOf("q");
    auto restarted = as(0, 7001, "10.26.0.2");  // the client restarted: a new peer id
    restarted.peerId[0] ^= 0x5a;
    flushed(restarted);
    CHECK(seqOf("q") > readdressed);
    auto renamed = seqOf("q");
    auto encrypted = restarted;  // now it asks peers for encrypted connections only
    encrypted.requireCrypto = true;
    flushed(encrypted);
    CHECK(seqOf("q") > renamed);
    REQUIRE(process.feed.catchUp());
    auto answer = process.find(torrent);
    REQUIRE(answer.peers.size() == 1);
    CHECK(answer.peers[0].port == 7001);
    CHECK(answer.peers[0].address == *tracker::protocol::PeerAddress::parse("10.26.0.2"));
    CHECK(answer.peers[0].peerId.view() ==
          std::string_view(restarted.peerId.data(), restarted.peerId.size()));
    CHECK(answer.peers[0].requiresCrypto);

    // A writer that numbers per row (the PHP page) takes no number for a quiet update.
    auto before = counter();
    db.exec("UPDATE peers SET updated = NOW() + INTERVAL 1 SECOND WHERE tid = " + tid);
    CHECK(counter() == before);
    db.exec("UPDATE peers SET port = 7002 WHERE tid = " + tid);
    CHECK(counter() == before + 1);
    CHECK(seqOf("q") == before + 1);
    db.exec("DELETE FROM torrents WHERE tid = " + tid);
}

TEST_CASE("a replica that has not caught up lately is not used") {
    ConnectionPool pool{itest::testDatabase(), 1, 1000ms};
    ReplicaFeed::Options options = handDriven();
    options.staleAfter = 50ms;
    ReplicaFeed feed(pool, options);
    CHECK(feed.freshReplica(ReplicaFeed::Clock::now()) == nullptr);  // never loaded
    // Judged at given instants, not against the wall clock: a step may take longer than
    // staleAfter on a loaded machine (a sanitizer build), and that must not fail the test.
    auto before = ReplicaFeed::Clock::now();
    REQUIRE(feed.catchUp());
    auto after = ReplicaFeed::Clock::now();
    CHECK(feed.freshReplica(before) != nullptr);  // stamped no earlier than the step began
    CHECK(feed.freshReplica(after + options.staleAfter + 1ms) == nullptr);
    std::this_thread::sleep_for(80ms);
    CHECK(feed.freshReplica(ReplicaFeed::Clock::now()) == nullptr);
    before = ReplicaFeed::Clock::now();
    REQUIRE(feed.catchUp());  // a pull freshens it again
    CHECK(feed.freshReplica(before) != nullptr);
    CHECK(feed.freshReplica(ReplicaFeed::Clock::now() + options.staleAfter + 1ms) == nullptr);
}

TEST_CASE("a stop and a return of one peer in one pull land in the order they were made") {
    itest::Sql db;
    Process process;
    auto torrent = itest::registerTorrent(db, "stop and return");
    auto join = itest::announceFor(torrent, "x", "10.23.0.1", 100);
    auto stop = join;
    stop.event = AnnounceEvent::Stopped;
    auto flushed = [&](const tracker::protocol::AnnounceRequest& request) {
        REQUIRE(process.store.announce(request, 51).status == StoreStatus::Ok);
        REQUIRE(process.writer.flush());  // a flush, a sequence number, each
    };
    flushed(join);
    REQUIRE(process.feed.catchUp());
    REQUIRE(uids(process.find(torrent)) == std::set<std::string>{"x"});

    flushed(stop);
    flushed(join);  // the departure, then the row, in one pull
    REQUIRE(process.feed.catchUp());
    CHECK(uids(process.find(torrent)) == std::set<std::string>{"x"});

    flushed(join);
    flushed(stop);  // the row (rewritten), then the departure
    REQUIRE(process.feed.catchUp());
    CHECK(process.find(torrent).peers.empty());

    flushed(join);
    flushed(stop);
    flushed(join);
    flushed(stop);
    REQUIRE(process.feed.catchUp());
    CHECK(process.find(torrent).peers.empty());
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("a replica pulling while two processes flush at once ends where the table is") {
    itest::Sql db;
    std::vector<itest::Torrent> torrents;
    for (int i = 0; i < 3; ++i)
        torrents.push_back(itest::registerTorrent(db, "busy " + std::to_string(i)));
    ConnectionPool feedPool(itest::testDatabase(), 1, 1000ms);
    ReplicaFeed::Options options;
    options.pullInterval = 2ms;
    options.staleAfter = 1h;
    ReplicaFeed feed(feedPool, options);  // its own thread, pulling all along

    // Two processes write new peers (each written once: a change the feed missed would stay
    // missing, not be mended by a later write) and remove some of their earlier ones, flushing
    // every few milliseconds: their flushes overlap the pulls all along.
    auto writeAtRandom = [&](unsigned seed) {
        ConnectionPool pool(itest::testDatabase(), 2, 2000ms);
        PeerWriter writer(pool, 3ms);
        std::mt19937 rng(seed);
        auto until = std::chrono::steady_clock::now() + 1500ms;
        for (unsigned n = 0; std::chrono::steady_clock::now() < until; ++n) {
            PeerWrite write;
            unsigned peer = n;
            if (n > 10 && rng() % 5 == 0) {
                write.kind = PeerWrite::Kind::Delete;
                peer = static_cast<unsigned>(rng() % n);
            }
            write.tid = static_cast<std::uint32_t>(torrents[peer % torrents.size()].tid);
            write.uid.assign("c" + std::to_string(seed) + "-" + std::to_string(peer));
            write.peerId.assign("-CC0001-" + std::to_string(seed));
            write.address = *tracker::protocol::PeerAddress::parse("10.24.0.1");
            write.port = static_cast<std::uint16_t>(1000 + peer % 1000);
            write.left = peer % 2 == 0 ? 0 : 500;
            writer.enqueue(write);
            std::this_thread::sleep_for(100us);
        }
        writer.stop();
        CHECK(writer.stats().pending == 0);
    };
    std::thread one(writeAtRandom, 1), other(writeAtRandom, 2);
    one.join();
    other.join();

    auto last =
        static_cast<std::uint64_t>(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1"));
    for (int i = 0; i < 500 && feed.stats().sequence < last; ++i)
        std::this_thread::sleep_for(10ms);
    REQUIRE(feed.stats().sequence == last);
    CHECK(feed.stats().changes > 1000);
    for (const auto& torrent : torrents) {
        std::map<std::string, std::pair<bool, int>> table;  // uid -> (seeder, port)
        std::unique_ptr<sql::Statement> query(db.connection().createStatement());
        std::unique_ptr<sql::ResultSet> rows(query->executeQuery(
            "SELECT uid, seeding, port FROM peers WHERE tid = " + std::to_string(torrent.tid)));
        while (rows->next())
            table[rows->getString(1).asStdString()] = {rows->getInt(2) != 0, rows->getInt(3)};
        std::map<std::string, std::pair<bool, int>> followed;
        auto answer = feed.replica().find(torrent.hash, false, 1000000, 0);
        for (const auto& peer : answer.peers)
            followed[std::string(peer.uid.view())] = {peer.seeder, peer.port};
        std::string differences;
        for (const auto& [uid, row] : table) {
            auto at = followed.find(uid);
            if (at == followed.end())
                differences += " missing " + uid;
            else if (at->second != row)
                differences += " differs " + uid;
        }
        for (const auto& [uid, row] : followed)
            if (table.count(uid) == 0)
                differences += " extra " + uid;
        INFO("table " << table.size() << " rows, replica " << followed.size() << ":"
                      << differences.substr(0, 600));
        CHECK(differences.empty());
        CHECK(answer.counts.complete + answer.counts.incomplete ==
              static_cast<std::int64_t>(table.size()));
    }
    for (const auto& torrent : torrents)
        db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("with its replica behind, an announce is answered from the database") {
    itest::Sql db;
    ConnectionPool pool{itest::testDatabase(), 2, 1000ms};
    PeerWriter writer{pool, 1h};
    ReplicaFeed::Options options = handDriven();
    // Long enough that the step, the insert and the first announce fit in it even under a
    // sanitizer; the reload in large chunks so the first step is quick.
    options.staleAfter = 1500ms;
    options.loadChunk = 100000;
    ReplicaFeed feed(pool, options);
    SwarmStoreOptions storeOptions;
    storeOptions.writer = &writer;
    storeOptions.replica = &feed;
    MysqlSwarmStore store(pool, storeOptions);
    auto torrent = itest::registerTorrent(db, "behind");
    REQUIRE(feed.catchUp());
    // Rows written since the last pull: the replica has not followed them yet, the table has
    // them, so the two paths answer apart.
    db.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) SELECT " +
            std::to_string(torrent.tid) +
            ", CONCAT('b', seq), CONCAT('-BH0001-', seq), '10.25.0.1', 6881, 9 FROM seq_1_to_5");
    auto fromReplica = store.announce(itest::announceFor(torrent, "r", "10.25.0.2", 5), 51);
    REQUIRE(fromReplica.status == StoreStatus::Ok);
    CHECK(fromReplica.peers.empty());
    std::this_thread::sleep_for(1600ms);
    auto fromDatabase = store.announce(itest::announceFor(torrent, "r", "10.25.0.2", 5), 51);
    REQUIRE(fromDatabase.status == StoreStatus::Ok);
    CHECK(fromDatabase.peers.size() == 5);
    CHECK(fromDatabase.counts.incomplete == 5);
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("the feeds' reads are range seeks on the sequence number") {
    itest::Sql db;
    // As a pull asks: the changes after the latest few.
    auto recent =
        static_cast<std::uint64_t>(db.scalar("SELECT value FROM tracker_sequence WHERE id = 1"));
    auto planOf = [&](const char* statement, int pairs) {
        std::unique_ptr<sql::PreparedStatement> explain(
            db.connection().prepareStatement(std::string("EXPLAIN FORMAT=JSON ") + statement));
        for (int i = 0; i < pairs; ++i) {
            explain->setUInt64(2 * i + 1, recent - 10);
            explain->setUInt64(2 * i + 2, recent);
        }
        std::unique_ptr<sql::ResultSet> rows(explain->executeQuery());
        REQUIRE(rows->next());
        return rows->getString(1).asStdString();
    };
    auto count = [](const std::string& plan, const std::string& what) {
        std::size_t found = 0;
        for (auto at = plan.find(what); at != std::string::npos; at = plan.find(what, at + 1))
            ++found;
        return found;
    };
    std::string plan = planOf(tracker::feed::statements::kChanges, 3);
    INFO(plan);
    CHECK(count(plan, "\"key\": \"peers_seq\"") == 1);
    CHECK(count(plan, "\"key\": \"departures_seq\"") == 1);
    CHECK(count(plan, "\"key\": \"torrent_feed_seq\"") == 1);
    // The registry's, the peers' and the departures' parts; the torrent by tid; the counters'
    // two rows by their key; no table scanned (but the union's result).
    CHECK(count(plan, "\"access_type\": \"range\"") == 3);
    CHECK(count(plan, "\"access_type\": \"eq_ref\"") == 1);
    CHECK(count(plan, "\"access_type\": \"ALL\"") == count(plan, "\"union_result\""));
}

TEST_CASE("re-announces update their row by its pid and spend no auto-increment value") {
    itest::Sql db;
    Process process;
    auto torrent = itest::registerTorrent(db, "pids");
    std::string tid = std::to_string(torrent.tid);
    auto pidOf = [&](const std::string& uid) {
        return db.scalar("SELECT pid FROM peers WHERE tid = " + tid + " AND uid = '" + uid + "'");
    };
    auto flushed = [&](const tracker::protocol::AnnounceRequest& request) {
        REQUIRE(process.store.announce(request, 51).status == StoreStatus::Ok);
        REQUIRE(process.writer.flush());
        REQUIRE(process.feed.catchUp());
    };
    auto first = itest::announceFor(torrent, "a", "10.30.0.1", 100);
    flushed(first);
    auto a = pidOf("a");
    CHECK(process.find(torrent).peers[0].pid == static_cast<std::uint32_t>(a));
    for (int i = 0; i < 20; ++i) {  // the replica knows its pid: by primary key
        auto again = first;
        again.left = 100 - i;
        flushed(again);
    }
    CHECK(pidOf("a") == a);
    CHECK(db.scalar("SELECT residual FROM peers WHERE pid = " + std::to_string(a)) == 81);

    // Without a replica the write-behind looks the row up first: the same, no value spent.
    ConnectionPool pool{itest::testDatabase(), 1, 1000ms};
    PeerWriter writer{pool, 1h};
    SwarmStoreOptions options;
    options.writer = &writer;
    MysqlSwarmStore plain{pool, options};
    for (int i = 0; i < 20; ++i) {
        REQUIRE(plain.announce(first, 51).status == StoreStatus::Ok);
        REQUIRE(writer.flush());
    }
    CHECK(pidOf("a") == a);
    // The next new peer's row comes right after: nothing was spent in between.
    flushed(itest::announceFor(torrent, "b", "10.30.0.2", 100));
    CHECK(pidOf("b") == db.scalar("SELECT MAX(pid) FROM peers"));
    CHECK(pidOf("b") - a <= 1 + db.scalar("SELECT COUNT(*) FROM peers WHERE pid > " +
                                          std::to_string(a) + " AND tid <> " + tid));

    // A row removed behind the replica's back comes back under its pid at the next announce.
    db.exec("DELETE FROM peers WHERE pid = " + std::to_string(a));
    REQUIRE(process.store.announce(first, 51).status == StoreStatus::Ok);  // replica: pid a
    REQUIRE(process.writer.flush());
    CHECK(pidOf("a") == a);
    db.exec("DELETE FROM torrents WHERE tid = " + tid);
}

TEST_CASE("a peer the replica does not hold is inserted without a lookup, and lands right") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "new rows");
    std::string tid = std::to_string(torrent.tid);
    Process here;
    REQUIRE(here.feed.catchUp());
    auto request = itest::announceFor(torrent, "w", "10.32.0.1", 100);
    REQUIRE(here.store.announce(request, 51).status == StoreStatus::Ok);
    REQUIRE(here.writer.flush());
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + tid + " AND uid = 'w'") == 1);

    // Another process writes the same peer before this one pulls (a client that announced to
    // two hosts): this one still takes it for new. The insert finds the row by its unique key.
    Process there;
    REQUIRE(there.feed.catchUp());
    auto elsewhere = itest::announceFor(torrent, "x", "10.32.0.2", 100);
    REQUIRE(there.store.announce(elsewhere, 51).status == StoreStatus::Ok);
    REQUIRE(there.writer.flush());
    elsewhere.left = 40;
    elsewhere.port = 7100;
    REQUIRE(here.store.announce(elsewhere, 51).status == StoreStatus::Ok);
    REQUIRE(here.writer.flush());
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + tid + " AND uid = 'x'") == 1);
    CHECK(db.scalar("SELECT residual FROM peers WHERE tid = " + tid + " AND uid = 'x'") == 40);
    CHECK(db.scalar("SELECT port FROM peers WHERE tid = " + tid + " AND uid = 'x'") == 7100);
    CHECK(db.scalar("SELECT leechers FROM tracker_swarms WHERE tid = " + tid) == 2);
    db.exec("DELETE FROM torrents WHERE tid = " + tid);
}

TEST_CASE("a pid that no longer names the peer leaves the other peer's row alone") {
    itest::Sql db;
    Process process;
    auto torrent = itest::registerTorrent(db, "moved rows");
    std::string tid = std::to_string(torrent.tid);
    auto request = itest::announceFor(torrent, "m", "10.31.0.1", 100);
    REQUIRE(process.store.announce(request, 51).status == StoreStatus::Ok);
    REQUIRE(process.writer.flush());
    REQUIRE(process.feed.catchUp());
    // By hand, the row is given to another peer; this process has not pulled since.
    db.exec("UPDATE peers SET uid = 'other', port = 1234 WHERE tid = " + tid + " AND uid = 'm'");
    auto moved = request;
    moved.port = 7777;
    REQUIRE(process.store.announce(moved, 51).status == StoreStatus::Ok);  // the stale pid
    REQUIRE(process.writer.flush());
    CHECK(db.scalar("SELECT port FROM peers WHERE tid = " + tid + " AND uid = 'other'") == 1234);
    REQUIRE(process.feed.catchUp());  // the move's departure reaches the replica
    REQUIRE(process.store.announce(moved, 51).status == StoreStatus::Ok);  // no pid now
    REQUIRE(process.writer.flush());
    CHECK(db.scalar("SELECT port FROM peers WHERE tid = " + tid + " AND uid = 'm'") == 7777);
    db.exec("DELETE FROM torrents WHERE tid = " + tid);
}
