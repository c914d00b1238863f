// Re-announces that change nothing but the time, against a real MariaDB: held back while the
// row was written a moment ago, then written once with the latest announce's time and `left`,
// taking no number of the feed; anything else is written as before and cancels what is held;
// a held write never turns a peer seeder or leecher, never brings a row back, never moves
// `updated` back.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "db/connection_pool.h"
#include "db_fixture.h"
#include "feed/peer_writer.h"
#include "feed/replica_feed.h"
#include "hand_driven.h"
#include "store/mysql_swarm_store.h"
#include "swarms/written_tick.h"

using namespace std::chrono_literals;
using tracker::db::ConnectionPool;
using tracker::feed::PeerWriter;
using tracker::feed::QuietTouches;
using tracker::feed::ReplicaFeed;
using tracker::protocol::AnnounceEvent;
using tracker::store::MysqlSwarmStore;
using tracker::store::StoreStatus;
using tracker::store::SwarmStoreOptions;
using tracker::swarms::WrittenTick;

namespace {

// One worker process with quiet writes on: flushed and pulled by hand.
struct Process {
    ConnectionPool pool{itest::testDatabase(), 2, 1000ms};
    ReplicaFeed feed{pool,
                     itest::handDriven()};  // before the writer: its last flush tells the feed
    // Wired as tracker-fcgi wires it: a held write written is a write the replica knows of.
    PeerWriter writer{pool, 1h, writerOptions()};
    MysqlSwarmStore store{pool, options()};

    SwarmStoreOptions options() {
        SwarmStoreOptions options;
        options.writer = &writer;
        options.replica = &feed;
        options.quietWrite = 150s;
        return options;
    }
    PeerWriter::Options writerOptions() {
        PeerWriter::Options options;
        options.hooks.touchesWritten = [this](const auto& touches) {
            for (const auto& touch : touches)
                feed.markOwnWrite(touch.tid, touch.uid.view(), WrittenTick::at(touch.heard));
        };
        return options;
    }
    void announce(const tracker::protocol::AnnounceRequest& request) {
        REQUIRE(store.announce(request, 51).status == StoreStatus::Ok);
    }
    // What is due now: held announces wait for their time.
    bool flushDue() { return writer.flush(QuietTouches::Clock::now()); }
};

struct Row {
    std::string where;
    long long residual(itest::Sql& db) const {
        return db.scalar("SELECT residual FROM peers WHERE " + where);
    }
    long long age(itest::Sql& db) const {  // seconds since `updated`
        return db.scalar("SELECT TIMESTAMPDIFF(SECOND, updated, NOW()) FROM peers WHERE " + where);
    }
    long long seq(itest::Sql& db) const {
        return db.scalar("SELECT seq FROM peers WHERE " + where);
    }
};

Row rowOf(const itest::Torrent& torrent, const std::string& uid) {
    return {"tid = " + std::to_string(torrent.tid) + " AND uid = '" + uid + "'"};
}

long long sequence(itest::Sql& db) {
    return db.scalar("SELECT value FROM tracker_sequence WHERE id = 1");
}

// A peer written by the process and followed back by its feed (its row's pid known), its row
// then made `age` seconds old by hand.
tracker::protocol::AnnounceRequest joined(itest::Sql& db, Process& process,
                                          const itest::Torrent& torrent, const std::string& uid,
                                          int age) {
    REQUIRE(process.feed.catchUp());  // the torrent, registered since the last pull
    auto request = itest::announceFor(torrent, uid, "10.31.0.1", 100);
    request.event = AnnounceEvent::Started;
    process.announce(request);
    REQUIRE(process.flushDue());  // what others hold stays held
    REQUIRE(process.feed.catchUp());
    db.exec("UPDATE peers SET updated = NOW() - INTERVAL " + std::to_string(age) +
            " SECOND WHERE " + rowOf(torrent, uid).where);
    request.event = AnnounceEvent::Regular;
    return request;
}

}  // namespace

TEST_CASE("re-announces of a row just written are held, then written once as the last of them") {
    itest::Sql db;
    Process process;
    REQUIRE(process.feed.catchUp());
    auto torrent = itest::registerTorrent(db, "quiet");
    auto request = joined(db, process, torrent, "q", 60);
    Row row = rowOf(torrent, "q");
    long long seqBefore = row.seq(db);
    long long numbersBefore = sequence(db);

    request.left = 90;
    process.announce(request);
    std::this_thread::sleep_for(2s);
    request.left = 80;
    process.announce(request);  // the latest: its time and left are what the row gets
    auto stats = process.writer.stats();
    CHECK(stats.held == 2);
    CHECK(stats.heldNow == 1);
    CHECK(stats.pending == 0);
    REQUIRE(process.flushDue());  // not due for a while: nothing written
    CHECK(row.residual(db) == 100);
    CHECK(row.age(db) >= 60);

    std::this_thread::sleep_for(2s);
    REQUIRE(process.writer.flush());  // everything, held or not (as at a stop)
    CHECK(row.residual(db) == 80);
    CHECK(row.age(db) >= 1);  // the announce's time, not the flush's
    CHECK(row.age(db) <= 4);
    CHECK(row.seq(db) == seqBefore);       // nothing the replicas hold changed
    CHECK(sequence(db) == numbersBefore);  // and no number was taken
    CHECK(process.writer.stats().touched == 1);
    CHECK(process.writer.stats().heldNow == 0);
    // The counts did not move: still one leecher.
    CHECK(db.scalar("SELECT leechers FROM tracker_swarms WHERE tid = " +
                    std::to_string(torrent.tid)) == 1);
}

TEST_CASE("a changed announce, a completion or a stop is written as before and ends the hold") {
    itest::Sql db;
    Process process;
    REQUIRE(process.feed.catchUp());
    auto torrent = itest::registerTorrent(db, "quiet, then not");

    auto moved = joined(db, process, torrent, "m", 30);
    process.announce(moved);
    CHECK(process.writer.stats().heldNow == 1);
    moved.port = 7001;  // a change a replica holds
    process.announce(moved);
    CHECK(process.writer.stats().heldNow == 0);
    REQUIRE(process.flushDue());
    CHECK(db.scalar("SELECT port FROM peers WHERE " + rowOf(torrent, "m").where) == 7001);

    auto finished = joined(db, process, torrent, "f", 30);
    process.announce(finished);
    finished.event = AnnounceEvent::Completed;
    finished.left = 0;
    process.announce(finished);
    CHECK(process.writer.stats().heldNow == 0);
    REQUIRE(process.flushDue());
    CHECK(rowOf(torrent, "f").residual(db) == 0);
    CHECK(db.scalar("SELECT downloaded FROM torrents WHERE tid = " + std::to_string(torrent.tid)) ==
          1);

    auto leaving = joined(db, process, torrent, "s", 30);
    process.announce(leaving);
    leaving.event = AnnounceEvent::Stopped;
    process.announce(leaving);
    CHECK(process.writer.stats().heldNow == 0);
    REQUIRE(process.flushDue());
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE " + rowOf(torrent, "s").where) == 0);
}

TEST_CASE("a row not known to be written lately is written at once") {
    itest::Sql db;
    Process process;
    REQUIRE(process.feed.catchUp());
    auto torrent = itest::registerTorrent(db, "written long ago");
    auto request = joined(db, process, torrent, "o", 400);
    // This process wrote it 200 s ago, as far as it knows: more than the 150 s a hold lasts.
    process.feed.markOwnWrite(static_cast<std::uint32_t>(torrent.tid), "o",
                              WrittenTick::at(std::chrono::steady_clock::now() - 200s));
    request.left = 50;
    process.announce(request);
    CHECK(process.writer.stats().heldNow == 0);
    CHECK(process.writer.stats().pending == 1);
    REQUIRE(process.flushDue());
    CHECK(rowOf(torrent, "o").residual(db) == 50);
    CHECK(rowOf(torrent, "o").age(db) <= 2);

    // That write counts: the next re-announce is held.
    process.announce(request);
    CHECK(process.writer.stats().heldNow == 1);
    REQUIRE(process.writer.flush());
}

TEST_CASE("a process that loads a row just written holds its re-announces; an old row it writes") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "loaded");
    Process writer;
    auto fresh = joined(db, writer, torrent, "fresh", 20);
    auto old = joined(db, writer, torrent, "old", 400);
    REQUIRE(writer.writer.flush());

    Process restarted;  // a process started since: it knows the rows' ages from its load
    REQUIRE(restarted.feed.catchUp());
    restarted.announce(fresh);
    CHECK(restarted.writer.stats().heldNow == 1);
    restarted.announce(old);
    CHECK(restarted.writer.stats().heldNow == 1);
    CHECK(restarted.writer.stats().pending == 1);
    REQUIRE(restarted.writer.flush());
    CHECK(rowOf(torrent, "old").age(db) <= 2);
}

TEST_CASE("a process that follows another's write of a row in its feed holds its re-announces") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "followed");
    Process follower;
    REQUIRE(follower.feed.catchUp());  // loaded before the writes: it learns of them by its feed
    Process other;
    auto fresh = joined(db, other, torrent, "fresh", 20);
    auto old = joined(db, other, torrent, "old", 400);
    REQUIRE(other.writer.flush());
    REQUIRE(follower.feed.catchUp());

    follower.announce(fresh);  // the host the peer announces to next, behind a shared upstream
    CHECK(follower.writer.stats().heldNow == 1);
    CHECK(follower.writer.stats().pending == 0);
    follower.announce(old);  // its row's age is past the hold: written
    CHECK(follower.writer.stats().heldNow == 1);
    CHECK(follower.writer.stats().pending == 1);
    REQUIRE(follower.flushDue());
    CHECK(rowOf(torrent, "old").age(db) <= 2);
    CHECK(rowOf(torrent, "fresh").age(db) >= 20);  // still held
    REQUIRE(follower.writer.flush());
    CHECK(rowOf(torrent, "fresh").age(db) <= 2);
}

TEST_CASE("a held write leaves alone what others wrote since: seeding, a removal, a later time") {
    itest::Sql db;
    Process process;
    REQUIRE(process.feed.catchUp());
    auto torrent = itest::registerTorrent(db, "held, and overtaken");

    auto seeding = joined(db, process, torrent, "a", 30);
    seeding.left = 70;
    process.announce(seeding);
    db.exec("UPDATE peers SET residual = 0 WHERE " + rowOf(torrent, "a").where);  // SQL by hand

    auto removed = joined(db, process, torrent, "b", 30);
    process.announce(removed);
    db.exec("DELETE FROM peers WHERE " + rowOf(torrent, "b").where);

    auto later = joined(db, process, torrent, "c", 30);
    process.announce(later);
    db.exec("UPDATE peers SET updated = NOW() + INTERVAL 1 HOUR WHERE " +
            rowOf(torrent, "c").where);

    CHECK(process.writer.stats().heldNow == 3);
    REQUIRE(process.writer.flush());
    CHECK(rowOf(torrent, "a").residual(db) == 0);  // still the seeder the hand made it
    CHECK(db.scalar("SELECT COUNT(*) FROM peers WHERE " + rowOf(torrent, "b").where) == 0);
    CHECK(rowOf(torrent, "c").age(db) < -3000);  // not moved back
    CHECK(db.scalar("SELECT seeders FROM tracker_swarms WHERE tid = " +
                    std::to_string(torrent.tid)) == 1);
}

TEST_CASE("a writer stopped writes what it held") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "held at a stop");
    {
        Process process;
        REQUIRE(process.feed.catchUp());
        auto request = joined(db, process, torrent, "z", 100);
        request.left = 10;
        process.announce(request);
        CHECK(process.writer.stats().heldNow == 1);
        process.writer.stop();
    }
    CHECK(rowOf(torrent, "z").residual(db) == 10);
    CHECK(rowOf(torrent, "z").age(db) <= 2);
}

TEST_CASE("a held write written counts as this process's write of the row") {
    itest::Sql db;
    Process process;
    REQUIRE(process.feed.catchUp());
    auto torrent = itest::registerTorrent(db, "held, then written");
    auto request = joined(db, process, torrent, "w", 100);
    auto now = std::chrono::steady_clock::now();
    process.feed.markOwnWrite(static_cast<std::uint32_t>(torrent.tid), "w",
                              WrittenTick::at(now - 120s));
    process.announce(request);  // 120 s into the 150: held
    REQUIRE(process.writer.stats().heldNow == 1);
    REQUIRE(process.writer.flush());
    auto after = std::chrono::steady_clock::now();
    auto self = process.feed.freshReplica(ReplicaFeed::Clock::now())
                    ->find(torrent.hash, false, 0, 0, "w")
                    .self;
    REQUIRE(self);
    // The announce's tick (a tick boundary may fall between it and now).
    CHECK(
        (self->writtenTick == WrittenTick::at(now) || self->writtenTick == WrittenTick::at(after)));
}
