// A writer that stops in the middle of a numbered transaction (its process frozen, its host
// lost) holds the feed's numbering, which every writer of the site takes: the server ends such
// a transaction once it has been idle a few seconds, before the others' lock wait runs out,
// instead of when TCP notices. Against a real MariaDB.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "db/db_session.h"
#include "db_fixture.h"
#include "feed/numbered_transaction.h"
#include "feed/peer_writer.h"

using namespace std::chrono_literals;
using tracker::db::DbSession;
using tracker::feed::PeerWrite;

namespace {

PeerWrite joining(const itest::Torrent& torrent, const std::string& uid) {
    PeerWrite write;
    write.tid = static_cast<std::uint32_t>(torrent.tid);
    write.uid.assign(uid);
    write.peerId.assign("-FW0001-" + uid);
    write.address = *tracker::protocol::PeerAddress::parse("10.42.0.1");
    write.port = 6881;
    write.left = 100;
    write.knownAbsent = true;
    return write;
}

long long peersNamed(itest::Sql& db, const itest::Torrent& torrent, const std::string& uid) {
    return db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + std::to_string(torrent.tid) +
                     " AND uid = '" + uid + "'");
}

}  // namespace

// Joins a thread however the test ends: a failed REQUIRE must not leave it running.
struct Joined {
    std::thread& thread;
    ~Joined() {
        if (thread.joinable())
            thread.join();
    }
};

TEST_CASE("a writer frozen inside its transaction holds the numbering less than a lock wait") {
    itest::Sql db;
    auto torrent = itest::registerTorrent(db, "frozen writer");
    // Both with the default limits: a lock wait of 4 s, a write transaction idle for 3 s ended.
    DbSession frozen(*get_driver_instance(), itest::testDatabase());
    long long frozenConnection = 0;
    {
        std::unique_ptr<sql::Statement> statement(frozen.connection().createStatement());
        std::unique_ptr<sql::ResultSet> id(statement->executeQuery("SELECT CONNECTION_ID()"));
        REQUIRE(id->next());
        frozenConnection = id->getInt64(1);
    }
    auto holding = [&] {
        return db.scalar(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = " +
            std::to_string(frozenConnection));
    };

    // Numbered, one peer written, then silent for longer than the others' lock wait.
    std::optional<sql::SQLException> frozenFailed;
    std::thread writer([&] {
        tracker::db::ensureDriverThreadInit(*get_driver_instance());
        try {
            tracker::feed::inNumberedTransaction(frozen, [&] {
                auto& add = frozen.statement(
                    "INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES "
                    "(?, 'frozen', 'frozen-writer-peer-0', '10.42.0.2', 6881, 5)");
                add.setUInt(1, static_cast<unsigned>(torrent.tid));
                add.executeUpdate();
                std::this_thread::sleep_for(4500ms);
            });
        } catch (const sql::SQLException& error) {
            frozenFailed.emplace(error);
        }
    });
    Joined joined{writer};
    // InnoDB refreshes its list of transactions only when it was not read for 100 ms.
    auto deadline = std::chrono::steady_clock::now() + 2s;
    do
        std::this_thread::sleep_for(150ms);
    while (holding() == 0 && std::chrono::steady_clock::now() < deadline);
    REQUIRE(holding() == 1);  // the numbering is the frozen writer's now

    // Another host's flush waits for the numbering, and gets it before its lock wait ends.
    DbSession other(*get_driver_instance(), itest::testDatabase());
    auto started = std::chrono::steady_clock::now();
    tracker::feed::NumberedCommit flushed;
    CHECK_NOTHROW(flushed = tracker::feed::applyPeerWrites(other, {joining(torrent, "thawed")}));
    auto waited = std::chrono::steady_clock::now() - started;
    CHECK(waited < 3500ms);
    CHECK(flushed.number > 0);
    CHECK(peersNamed(db, torrent, "thawed") == 1);

    writer.join();
    // The frozen writer finds its connection gone when it wakes: nothing of it was kept, and
    // the connection is not given back to a pool.
    REQUIRE(frozenFailed.has_value());
    CHECK(tracker::db::isConnectionLost(*frozenFailed));
    CHECK(frozen.unusable);
    CHECK(peersNamed(db, torrent, "frozen") == 0);
    CHECK(holding() == 0);
    db.exec("DELETE FROM peers WHERE tid = " + std::to_string(torrent.tid));
    db.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent.tid));
}

TEST_CASE("a read-only transaction may stay idle past the limit of a write one") {
    itest::Sql db;
    tracker::DatabaseConfig reading = itest::testDatabase();
    reading.queryTimeoutSeconds = 1;  // a write transaction ended after 1 s idle
    DbSession session(*get_driver_instance(), reading);
    std::unique_ptr<sql::Statement> statement(session.connection().createStatement());
    statement->execute("START TRANSACTION WITH CONSISTENT SNAPSHOT");
    std::unique_ptr<sql::ResultSet>(statement->executeQuery("SELECT tid FROM torrents LIMIT 1"));
    std::this_thread::sleep_for(2000ms);
    std::unique_ptr<sql::ResultSet> still;
    CHECK_NOTHROW(still.reset(statement->executeQuery("SELECT 1")));
    CHECK_NOTHROW(statement->execute("COMMIT"));
}
