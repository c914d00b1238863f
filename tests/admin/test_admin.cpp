// trackerctl's store against a real MariaDB (started by tests/run): registering twice, ban and
// unban as the announce path sees them, removal with its peers, list filters and paging, totals,
// the name fitted to the PHP column, and the migration script splitter and applier.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "admin/admin_store.h"
#include "db/connection_pool.h"
#include "db_fixture.h"
#include "schema/migrations.h"
#include "store/mysql_swarm_store.h"

using namespace std::chrono_literals;
using tracker::admin::AdminError;
using tracker::admin::AdminStatus;
using tracker::admin::AdminStore;
using tracker::admin::TorrentKey;
using tracker::admin::TorrentRow;
using tracker::db::ConnectionPool;
using tracker::store::MysqlSwarmStore;
using tracker::store::StoreStatus;

namespace {

template <typename T>
T ok(const tracker::admin::AdminResult<T>& result) {
    if (const auto* error = std::get_if<AdminError>(&result))
        FAIL("admin store failed: " << error->message);
    return std::get<T>(result);
}

template <typename T>
AdminError error(const tracker::admin::AdminResult<T>& result) {
    if (!std::holds_alternative<AdminError>(result))
        FAIL("expected an error, the operation succeeded");
    return std::get<AdminError>(result);
}

tracker::protocol::InfoHash randomHash() {
    std::string raw = itest::randomBytes(20);
    tracker::protocol::InfoHash hash{};
    std::copy(raw.begin(), raw.end(), hash.begin());
    return hash;
}

itest::Torrent asTorrent(const TorrentRow& row) {
    itest::Torrent torrent;
    torrent.hash = row.infoHash;
    torrent.tid = row.tid;
    return torrent;
}

std::string uniquePrefix(const std::string& what) {
    return what + "-" + itest::hex(itest::randomBytes(4)) + "-";
}

struct Fixture {
    itest::Sql db;
    ConnectionPool pool{itest::testDatabase(), 2, 1000ms};
    AdminStore admin{pool};
    MysqlSwarmStore swarm{pool};

    StoreStatus announce(const TorrentRow& row, const std::string& uid, std::uint64_t left,
                         tracker::protocol::AnnounceEvent event = {}) {
        auto request = itest::announceFor(asTorrent(row), uid, "10.9.0.1", left);
        request.event = event;
        return swarm.announce(request, 50).status;
    }
};

long long innodbDeadlocks(itest::Sql& db) {
    return db.scalar(
        "SELECT variable_value FROM information_schema.global_status WHERE "
        "variable_name = 'INNODB_DEADLOCKS'");
}

// Runs `operation` on a thread while another connection writes as a worker's flush does:
// the feed's numbering locked first, then a peer of `row` (whose foreign key reads the
// torrent's row), then the commit. Neither may fail, and InnoDB may count no deadlock.
template <typename Operation>
void againstAFlush(Fixture& f, const TorrentRow& row, Operation operation) {
    itest::Sql flush;
    long long before = innodbDeadlocks(f.db);
    flush.exec("BEGIN");
    flush.exec("UPDATE tracker_sequence SET value = (@tracker_feed_seq := value + 1) WHERE id = 1");
    std::atomic<bool> done{false};
    std::thread admin([&] {
        operation();
        done = true;
    });
    std::this_thread::sleep_for(500ms);
    CHECK_FALSE(done);  // waiting for the numbering, so the two do meet
    std::string flushError;
    try {
        flush.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES (" +
                   std::to_string(row.tid) +
                   ", 'flushed', 'flushed-peer-id-0000', '10.9.0.2', 6881, 5)");
        flush.exec("COMMIT");
    } catch (const sql::SQLException& failed) {
        flushError = failed.what();
    }
    flush.exec("SET @tracker_feed_seq = NULL");
    admin.join();
    CHECK(flushError == "");
    CHECK(innodbDeadlocks(f.db) == before);
}

}  // namespace

TEST_CASE("registering twice is not an error; the name changes only when asked") {
    Fixture f;
    auto hash = randomHash();
    auto first = ok(f.admin.registerTorrent(hash, "first name", false));
    CHECK(first.created);
    CHECK(first.torrent.name == "first name");
    CHECK(first.torrent.infoHash == hash);
    CHECK_FALSE(first.torrent.banned);
    CHECK(first.torrent.seeders == 0);

    auto again = ok(f.admin.registerTorrent(hash, "second name", false));
    CHECK_FALSE(again.created);
    CHECK_FALSE(again.nameChanged);
    CHECK(again.torrent.tid == first.torrent.tid);
    CHECK(again.torrent.name == "first name");

    auto renamed = ok(f.admin.registerTorrent(hash, "second name", true));
    CHECK_FALSE(renamed.created);
    CHECK(renamed.nameChanged);
    CHECK(renamed.torrent.tid == first.torrent.tid);
    CHECK(renamed.torrent.name == "second name");

    CHECK(f.db.scalar("SELECT COUNT(*) FROM torrents WHERE infohash = UNHEX('" +
                      itest::hex(tracker::protocol::view(hash)) + "')") == 1);
    CHECK(f.announce(renamed.torrent, "reg1", 10) == StoreStatus::Ok);
}

TEST_CASE("a name is fitted to the PHP's VARCHAR(255) utf8 column, not refused") {
    Fixture f;
    std::string longName;
    for (int i = 0; i < 300; ++i)
        longName += "\xc3\xa9";  // é: 300 characters, 600 bytes
    auto cut = ok(f.admin.registerTorrent(randomHash(), longName, false));
    CHECK(cut.nameAdjusted);
    CHECK(cut.torrent.name == longName.substr(0, 510));

    // An emoji (4 bytes) does not fit MariaDB's 3-byte utf8; a stray 0xFF is not UTF-8.
    auto cleaned = ok(f.admin.registerTorrent(randomHash(),
                                              "a\xf0\x9f\x98\x80"
                                              "b\xff",
                                              false));
    CHECK(cleaned.nameAdjusted);
    CHECK(cleaned.torrent.name ==
          "a\xef\xbf\xbd"
          "b\xef\xbf\xbd");

    auto plain = ok(f.admin.registerTorrent(randomHash(), "plain \xc3\xa9t\xc3\xa9", false));
    CHECK_FALSE(plain.nameAdjusted);
    CHECK(plain.torrent.name == "plain \xc3\xa9t\xc3\xa9");
}

TEST_CASE("ban refuses the very next announce, unban restores it, by hash or by id") {
    Fixture f;
    auto row = ok(f.admin.registerTorrent(randomHash(), "ban me", false)).torrent;
    REQUIRE(f.announce(row, "b1", 100) == StoreStatus::Ok);

    auto banned = ok(f.admin.setBanned(TorrentKey{row.infoHash}, true));
    CHECK(banned.changed);
    CHECK(banned.torrent.banned);
    // No registry cache in the workers yet: the documented delay is 0 s.
    CHECK(f.announce(row, "b1", 100) == StoreStatus::Banned);
    CHECK(f.db.scalar("SELECT banned + 0 FROM torrents WHERE tid = " + std::to_string(row.tid)) ==
          1);
    // Its peer stays, and so do the counters.
    CHECK(ok(f.admin.show(TorrentKey{row.tid})).leechers == 1);

    CHECK_FALSE(ok(f.admin.setBanned(TorrentKey{row.tid}, true)).changed);

    auto unbanned = ok(f.admin.setBanned(TorrentKey{row.tid}, false));
    CHECK(unbanned.changed);
    CHECK_FALSE(unbanned.torrent.banned);
    CHECK(f.announce(row, "b1", 100) == StoreStatus::Ok);
    CHECK_FALSE(ok(f.admin.setBanned(TorrentKey{row.infoHash}, false)).changed);

    CHECK(error(f.admin.setBanned(TorrentKey{randomHash()}, true)).status == AdminStatus::NotFound);
    CHECK(error(f.admin.setBanned(TorrentKey{std::uint32_t{4000000000u}}, true)).status ==
          AdminStatus::NotFound);
}

TEST_CASE("remove deletes the torrent and, through the foreign key, its peers") {
    Fixture f;
    auto row = ok(f.admin.registerTorrent(randomHash(), "remove me", false)).torrent;
    REQUIRE(f.announce(row, "r1", 0) == StoreStatus::Ok);
    REQUIRE(f.announce(row, "r2", 5) == StoreStatus::Ok);
    REQUIRE(f.announce(row, "r3", 5) == StoreStatus::Ok);
    std::string tid = std::to_string(row.tid);
    REQUIRE(f.db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + tid) == 3);

    auto removed = ok(f.admin.remove(TorrentKey{row.infoHash}));
    CHECK(removed.tid == row.tid);
    CHECK(removed.seeders == 1);
    CHECK(removed.leechers == 2);
    CHECK(f.db.scalar("SELECT COUNT(*) FROM torrents WHERE tid = " + tid) == 0);
    CHECK(f.db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + tid) == 0);
    CHECK(f.announce(row, "r1", 0) == StoreStatus::NotRegistered);

    CHECK(error(f.admin.remove(TorrentKey{row.tid})).status == AdminStatus::NotFound);
    CHECK(error(f.admin.show(TorrentKey{row.infoHash})).status == AdminStatus::NotFound);
}

TEST_CASE("ban, unban and remove lock the feed's numbering before the torrent, as flushes do") {
    Fixture f;
    auto row = ok(f.admin.registerTorrent(randomHash(), "meets a flush", false)).torrent;
    tracker::admin::AdminResult<tracker::admin::BanChange> change = AdminError{};
    SECTION("ban") {
        againstAFlush(f, row, [&] { change = f.admin.setBanned(TorrentKey{row.tid}, true); });
        CHECK(ok(change).changed);
        CHECK(ok(change).torrent.banned);
    }
    SECTION("unban") {
        REQUIRE(ok(f.admin.setBanned(TorrentKey{row.tid}, true)).changed);
        againstAFlush(f, row, [&] { change = f.admin.setBanned(TorrentKey{row.tid}, false); });
        CHECK(ok(change).changed);
        CHECK_FALSE(ok(change).torrent.banned);
    }
    SECTION("remove") {
        tracker::admin::AdminResult<TorrentRow> removed = AdminError{};
        againstAFlush(f, row, [&] { removed = f.admin.remove(TorrentKey{row.tid}); });
        CHECK(ok(removed).tid == row.tid);
        // The flush's peer went with it.
        CHECK(f.db.scalar("SELECT COUNT(*) FROM peers WHERE tid = " + std::to_string(row.tid)) ==
              0);
    }
}

TEST_CASE("a ban chosen as a deadlock's victim is tried again, not reported to the admin") {
    Fixture f;
    auto row = ok(f.admin.registerTorrent(randomHash(), "deadlocked ban", false)).torrent;
    auto other = ok(f.admin.registerTorrent(randomHash(), "other writer", false)).torrent;
    // A site's writer the other way round from ours: peer rows and the torrent's row first
    // (numbered by hand, so no numbering lock yet), the numbering last.
    itest::Sql writer;
    writer.exec("SET @tracker_feed_seq = 1");
    writer.exec("BEGIN");
    for (int i = 0; i < 50; ++i)
        writer.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES (" +
                    std::to_string(other.tid) + ", 'w" + std::to_string(i) +
                    "', 'writer-peer-id-00000', '10.9.0.3', 6881, 5)");
    writer.exec("UPDATE torrents SET downloaded = downloaded + 1 WHERE tid = " +
                std::to_string(row.tid));
    long long before = innodbDeadlocks(f.db);
    tracker::admin::AdminResult<tracker::admin::BanChange> change = AdminError{};
    std::thread admin([&] { change = f.admin.setBanned(TorrentKey{row.tid}, true); });
    std::this_thread::sleep_for(500ms);  // holding the numbering, waiting for the row
    // The deadlock: InnoDB rolls back the smaller transaction, the ban.
    writer.exec("UPDATE tracker_sequence SET value = value + 1 WHERE id = 1");
    writer.exec("ROLLBACK");
    writer.exec("SET @tracker_feed_seq = NULL");
    admin.join();
    CHECK(innodbDeadlocks(f.db) == before + 1);
    CHECK(ok(change).changed);
    CHECK(ok(f.admin.show(TorrentKey{row.tid})).banned);
}

TEST_CASE("list filters by banned, active and name, pages in tid order, counts peers") {
    Fixture f;
    std::string prefix = uniquePrefix("adm-list");
    std::vector<TorrentRow> rows;
    for (const char* suffix : {"alpha", "beta", "gamma 100%", "delta_x", "epsilon"})
        rows.push_back(ok(f.admin.registerTorrent(randomHash(), prefix + suffix, false)).torrent);
    REQUIRE(f.announce(rows[2], "l1", 0) == StoreStatus::Ok);
    REQUIRE(f.announce(rows[2], "l2", 7) == StoreStatus::Ok);
    REQUIRE(f.announce(rows[2], "l3", 7) == StoreStatus::Ok);
    REQUIRE(f.announce(rows[4], "l4", 7) == StoreStatus::Ok);  // then banned, peer kept
    ok(f.admin.setBanned(TorrentKey{rows[1].tid}, true));
    ok(f.admin.setBanned(TorrentKey{rows[4].tid}, true));

    auto tidsOf = [](const tracker::admin::TorrentPage& page) {
        std::vector<std::uint32_t> tids;
        for (const TorrentRow& row : page.torrents)
            tids.push_back(row.tid);
        return tids;
    };
    tracker::admin::ListFilter filter;
    filter.nameContains = prefix;
    filter.limit = 0;
    auto all = ok(f.admin.list(filter));
    CHECK(all.total == 5);
    CHECK(tidsOf(all) == std::vector<std::uint32_t>{rows[0].tid, rows[1].tid, rows[2].tid,
                                                    rows[3].tid, rows[4].tid});

    filter.limit = 2;
    filter.offset = 1;
    auto page = ok(f.admin.list(filter));
    CHECK(page.total == 5);
    CHECK(tidsOf(page) == std::vector<std::uint32_t>{rows[1].tid, rows[2].tid});
    filter.offset = 4;
    CHECK(tidsOf(ok(f.admin.list(filter))) == std::vector<std::uint32_t>{rows[4].tid});

    filter = {};
    filter.nameContains = prefix;
    filter.bannedOnly = true;
    auto banned = ok(f.admin.list(filter));
    CHECK(banned.total == 2);
    CHECK(tidsOf(banned) == std::vector<std::uint32_t>{rows[1].tid, rows[4].tid});

    filter.activeOnly = true;
    CHECK(tidsOf(ok(f.admin.list(filter))) == std::vector<std::uint32_t>{rows[4].tid});

    filter.bannedOnly = false;
    auto active = ok(f.admin.list(filter));
    REQUIRE(active.torrents.size() == 2);
    CHECK(active.torrents[0].tid == rows[2].tid);
    CHECK(active.torrents[0].seeders == 1);
    CHECK(active.torrents[0].leechers == 2);
    CHECK(active.torrents[0].name == prefix + "gamma 100%");
    CHECK(active.torrents[1].tid == rows[4].tid);
    CHECK(active.torrents[1].leechers == 1);
    CHECK(active.torrents[1].banned);

    // The admin's text is matched literally: `%` and `_` are not wildcards.
    filter = {};
    filter.nameContains = prefix + "gamma 100%";
    CHECK(tidsOf(ok(f.admin.list(filter))) == std::vector<std::uint32_t>{rows[2].tid});
    filter.nameContains = prefix + "delta_";
    CHECK(tidsOf(ok(f.admin.list(filter))) == std::vector<std::uint32_t>{rows[3].tid});
    filter.nameContains = prefix + "_";
    CHECK(ok(f.admin.list(filter)).total == 0);
    filter.nameContains = prefix.substr(0, prefix.size() - 1) + "%";
    CHECK(ok(f.admin.list(filter)).total == 0);
    // Case-insensitive, as the column's collation is.
    filter.nameContains = prefix + "ALPHA";
    CHECK(tidsOf(ok(f.admin.list(filter))) == std::vector<std::uint32_t>{rows[0].tid});
}

TEST_CASE("totals count torrents, banned, peers, seeders, leechers and completions") {
    Fixture f;
    auto before = ok(f.admin.totals());
    // Cross-checked against plain counting, not only against itself.
    CHECK(before.torrents == f.db.scalar("SELECT COUNT(*) FROM torrents"));
    CHECK(before.peers == f.db.scalar("SELECT COUNT(*) FROM peers"));
    CHECK(before.seeders == f.db.scalar("SELECT COUNT(*) FROM peers WHERE residual = 0"));
    CHECK(before.leechers == f.db.scalar("SELECT COUNT(*) FROM peers WHERE residual > 0"));
    CHECK(before.banned == f.db.scalar("SELECT COUNT(*) FROM torrents WHERE banned = 1"));
    CHECK(before.completions == f.db.scalar("SELECT COALESCE(SUM(downloaded), 0) FROM torrents"));

    auto busy = ok(f.admin.registerTorrent(randomHash(), "totals busy", false)).torrent;
    auto idle = ok(f.admin.registerTorrent(randomHash(), "totals idle", false)).torrent;
    ok(f.admin.setBanned(TorrentKey{idle.tid}, true));
    REQUIRE(f.announce(busy, "t1", 10) == StoreStatus::Ok);
    REQUIRE(f.announce(busy, "t2", 10) == StoreStatus::Ok);
    REQUIRE(f.announce(busy, "t3", 10) == StoreStatus::Ok);
    REQUIRE(f.announce(busy, "t3", 0, tracker::protocol::AnnounceEvent::Completed) ==
            StoreStatus::Ok);

    auto after = ok(f.admin.totals());
    CHECK(after.torrents - before.torrents == 2);
    CHECK(after.banned - before.banned == 1);
    CHECK(after.active - before.active == 1);
    CHECK(after.peers - before.peers == 3);
    CHECK(after.seeders - before.seeders == 1);
    CHECK(after.leechers - before.leechers == 2);
    CHECK(after.completions - before.completions == 1);
}

TEST_CASE("an unreachable database is an error value naming the problem") {
    auto database = itest::testDatabase();
    database.socket = "/nonexistent/mysql.sock";
    ConnectionPool pool(database, 1, 100ms);
    AdminStore admin(pool);
    auto failure = error(admin.totals());
    CHECK(failure.status == AdminStatus::Unavailable);
    CHECK_THAT(failure.message, Catch::Contains("cannot connect"));
    auto report = tracker::schema::applyMigrations(pool, tracker::schema::embeddedSqlFiles());
    CHECK_FALSE(report.ok);
    CHECK_THAT(report.error, Catch::Contains("cannot connect"));
}

TEST_CASE("SQL scripts split like the mariadb client: DELIMITER, quotes, comments") {
    std::string script =
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (a VARCHAR(9) DEFAULT 'x;y' COMMENT \"it's -- not a comment\");\n"
        "# hash comment;\n"
        "INSERT INTO t VALUES ('a\\';b'), ('c''d;'); /* block; */ SELECT `we;ird` FROM t;\n"
        "/*!40101 SET @x = 1 */;\n"
        "\n"
        "DELIMITER //\n"
        "CREATE TRIGGER g BEFORE INSERT ON t FOR EACH ROW\n"
        "BEGIN\n"
        "    -- inside a body\n"
        "    SET NEW.a = 'z';\n"
        "END//\n"
        "delimiter ;\n"
        "SELECT 1";
    auto split = tracker::schema::splitSqlStatements(script);
    REQUIRE(std::holds_alternative<std::vector<tracker::schema::SqlStatement>>(split));
    auto statements = std::get<std::vector<tracker::schema::SqlStatement>>(split);
    REQUIRE(statements.size() == 6);
    CHECK(statements[0].text ==
          "CREATE TABLE t (a VARCHAR(9) DEFAULT 'x;y' COMMENT \"it's -- not a comment\")");
    CHECK(statements[0].line == 2);
    CHECK(statements[1].text == "INSERT INTO t VALUES ('a\\';b'), ('c''d;')");
    CHECK(statements[1].line == 4);
    CHECK(statements[2].text == "SELECT `we;ird` FROM t");
    CHECK(statements[3].text == "/*!40101 SET @x = 1 */");
    CHECK(statements[4].text ==
          "CREATE TRIGGER g BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n    \n"
          "    SET NEW.a = 'z';\nEND");
    CHECK(statements[4].line == 8);
    CHECK(statements[5].text == "SELECT 1");

    auto broken = tracker::schema::splitSqlStatements("SELECT 1;\nSELECT 'open;\n");
    REQUIRE(std::holds_alternative<tracker::schema::SqlSplitError>(broken));
    CHECK(std::get<tracker::schema::SqlSplitError>(broken).line == 2);
}

TEST_CASE("the binary carries sql/ byte for byte, schema first, migrations in order") {
    const auto& files = tracker::schema::embeddedSqlFiles();
    REQUIRE(files.size() >= 5);
    CHECK(files[0].name == "schema.sql");
    CHECK_FALSE(tracker::schema::migrationVersion(files[0].name));
    std::string sqlDir =
        std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/')) + "/../../sql/";
    unsigned previous = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        INFO(files[i].name);
        std::ifstream in(sqlDir + (i == 0 ? "" : "migrations/") + std::string(files[i].name),
                         std::ios::binary);
        REQUIRE(in);
        std::stringstream text;
        text << in.rdbuf();
        CHECK(text.str() == files[i].text);
        if (i > 0) {
            auto version = tracker::schema::migrationVersion(files[i].name);
            REQUIRE(version);
            CHECK(*version > previous);
            previous = *version;
        }
    }
    CHECK(tracker::schema::migrationVersion("003_swarm_counters.sql") == 3u);
}

TEST_CASE("migrate on the test database (set up by the mariadb client) finds it up to date") {
    ConnectionPool pool(itest::testDatabase(), 1, 1000ms);
    const auto& files = tracker::schema::embeddedSqlFiles();
    auto report = tracker::schema::applyMigrations(pool, files);
    INFO(report.error);
    REQUIRE(report.ok);
    CHECK(report.appliedNow.empty());
    CHECK(report.createdTables.empty());
    CHECK(report.checked == std::vector<std::string>{"schema.sql"});
    CHECK(report.alreadyApplied.size() == files.size() - 1);
    CHECK(report.unknownVersions.empty());
}
