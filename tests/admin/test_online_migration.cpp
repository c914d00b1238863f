// `trackerctl migrate` on a live PHP site: a PHP tracker's database with a million peers is
// migrated while writers send the PHP's own statements, and none of them waits long or fails.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "db/connection_pool.h"
#include "db/db_session.h"
#include "db_fixture.h"
#include "schema/migrations.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kDatabase = "tracker_online_migration";
constexpr unsigned kTorrents = 100000;
constexpr unsigned kPeers = 1000000;  // ten per torrent: uids u0..u9

tracker::DatabaseConfig migrationDatabase() {
    tracker::DatabaseConfig database = itest::testDatabase();
    database.name = kDatabase;
    database.queryTimeoutSeconds = 3600;
    return database;
}

void execOn(sql::Connection& connection, const std::string& text) {
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    statement->execute(text);
}

long long scalarOn(sql::Connection& connection, const std::string& text) {
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    std::unique_ptr<sql::ResultSet> row(statement->executeQuery(text));
    REQUIRE(row->next());
    return row->getInt64(1);
}

// The PHP tracker's database: its tables as sites have them (our schema.sql), filled through
// the server's sequence engine.
void fillPhpDatabase(itest::Sql& admin) {
    admin.exec(std::string("DROP DATABASE IF EXISTS ") + kDatabase);
    admin.exec(std::string("CREATE DATABASE ") + kDatabase);
    tracker::db::DbSession session(*get_driver_instance(), migrationDatabase());
    auto split = tracker::schema::splitSqlStatements(tracker::schema::embeddedSqlFiles()[0].text);
    for (const auto& statement : std::get<std::vector<tracker::schema::SqlStatement>>(split))
        execOn(session.connection(), statement.text);
    execOn(session.connection(),
           "INSERT INTO torrents (infohash, name) SELECT UNHEX(SHA1(seq)), CONCAT('t', seq) "
           "FROM seq_1_to_" +
               std::to_string(kTorrents));
    execOn(session.connection(),
           "INSERT INTO peers (tid, uid, peerId, ip, port, residual) "
           "SELECT 1 + seq % " +
               std::to_string(kTorrents) + ", CONCAT('u', seq DIV " + std::to_string(kTorrents) +
               "), CONCAT('-PH0001-', LPAD(seq, 12, '0')), "
               "CONCAT('10.', seq % 250, '.', (seq DIV 250) % 250, '.1'), 1024 + seq % 60000, "
               "IF(seq % 3 = 0, 0, 1000) FROM seq_0_to_" +
               std::to_string(kPeers - 1));
}

// What announce.php sends for one announce, statement by statement, as PDO sends it: with
// emulated prepares (pdo_mysql's default) each is plain text with its values quoted in. The
// values here are the test's own digits and letters.
std::string quoted(const std::string& text) {
    return "'" + text + "'";
}

std::string phpSelect(const std::string& uid, unsigned tid) {
    return "SELECT tid, banned, downloaded, "
           "(SELECT COUNT(pid) FROM peers WHERE residual = 0 AND tid = torrents.tid) AS complete, "
           "(SELECT COUNT(pid) FROM peers WHERE residual > 0 AND tid = torrents.tid) AS "
           "incomplete, (SELECT pid FROM peers WHERE tid = torrents.tid AND uid = " +
           quoted(uid) + ") AS self FROM torrents WHERE infohash = UNHEX(SHA1(" +
           quoted(std::to_string(tid)) + "))";
}

std::string phpUpsert(unsigned tid, const std::string& uid, const std::string& peerId,
                      const std::string& ip, unsigned port, unsigned left) {
    std::string values = "peerId = " + quoted(peerId) + ", ip = " + quoted(ip) +
                         ", port = " + quoted(std::to_string(port)) +
                         ", residual = " + quoted(std::to_string(left)) + ", crypt = 0";
    return "INSERT INTO peers (tid, uid, peerId, ip, port, residual, crypt) VALUES (" +
           quoted(std::to_string(tid)) + ", " + quoted(uid) + ", " + quoted(peerId) + ", " +
           quoted(ip) + ", " + quoted(std::to_string(port)) + ", " + quoted(std::to_string(left)) +
           ", 0) ON DUPLICATE KEY UPDATE updated = NULL, " + values;
}

struct WriterFigures {
    std::atomic<long long> announces{0};  // as they go, for the count during the migration
    std::mutex mutex;
    std::chrono::microseconds longestWrite{0};
    std::chrono::microseconds longestRead{0};
    long long writes = 0;
    long long completions = 0;
    long long inserted = 0;  // peers rows the writers added and removed
    long long deleted = 0;
    std::vector<std::string> errors;
};

// InnoDB's account of the latest deadlock (the two transactions, their statements and locks),
// so that a failure says who the PHP's statement met.
std::string latestDeadlock(sql::Connection& connection) {
    try {
        std::unique_ptr<sql::Statement> status(connection.createStatement());
        std::unique_ptr<sql::ResultSet> row(status->executeQuery("SHOW ENGINE INNODB STATUS"));
        if (!row->next())
            return {};
        std::string text = row->getString(3).asStdString();
        auto begin = text.find("LATEST DETECTED DEADLOCK");
        if (begin == std::string::npos)
            return {};
        auto end = text.find("------------\nTRANSACTIONS", begin);
        return "\n" +
               text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    } catch (const sql::SQLException& error) {
        return std::string("\n(no InnoDB status: ") + error.what() + ")";
    }
}

// One PHP front end process: announces on random torrents (re-announces of the peers there,
// new peers, stops and completions) until told to stop, timing each statement.
void phpWriter(unsigned seed, const std::atomic<bool>& stop, WriterFigures& figures) {
    auto& driver = *get_driver_instance();
    tracker::db::ensureDriverThreadInit(driver);
    tracker::DatabaseConfig database = migrationDatabase();
    database.queryTimeoutSeconds = 120;
    tracker::db::DbSession session(driver, database);
    std::mt19937 rng(seed);
    std::chrono::microseconds longestWrite{0}, longestRead{0};
    long long writes = 0, completions = 0, inserted = 0, deleted = 0;
    auto timed = [&](auto&& statement, std::chrono::microseconds& longest) {
        Clock::time_point start = Clock::now();
        statement();
        longest = std::max(
            longest, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start));
    };
    std::vector<std::string> errors;
    while (!stop.load() && errors.size() < 20) {
        try {
            unsigned tid = 1 + rng() % kTorrents;
            unsigned kind = rng() % 20;
            std::string uid =
                kind < 2 ? "n" + std::to_string(rng() % 100000) : "u" + std::to_string(rng() % 10);
            std::unique_ptr<sql::Statement> php(session.connection().createStatement());
            long long pid = 0;
            timed(
                [&] {
                    std::unique_ptr<sql::ResultSet> row(php->executeQuery(phpSelect(uid, tid)));
                    if (row->next() && !row->isNull(6))
                        pid = row->getInt64(6);
                },
                longestRead);
            std::string self = quoted(std::to_string(pid));
            if (kind == 2 && pid != 0) {
                timed(
                    [&] { deleted += php->executeUpdate("DELETE FROM peers WHERE pid = " + self); },
                    longestWrite);
            } else if (kind == 3 && pid != 0) {
                timed(
                    [&] {
                        php->executeUpdate("UPDATE peers SET residual = 0 WHERE pid = " + self);
                    },
                    longestWrite);
                timed(
                    [&] {
                        php->executeUpdate(
                            "UPDATE torrents SET downloaded = downloaded + 1 WHERE tid = " +
                            quoted(std::to_string(tid)));
                    },
                    longestWrite);
                ++completions;
            } else {
                std::string sql =
                    phpUpsert(tid, uid, "-PH0001-" + std::to_string(100000000000ULL + rng()),
                              "10.9." + std::to_string(rng() % 250) + ".1", 1024 + rng() % 60000,
                              rng() % 2 == 0 ? 0 : 500);
                // 1: a new row; 2: an existing one changed; 0: unchanged.
                timed([&] { inserted += php->executeUpdate(sql) == 1; }, longestWrite);
            }
            ++writes;
            ++figures.announces;
        } catch (const sql::SQLException& error) {
            errors.push_back("database error " + std::to_string(error.getErrorCode()) + ": " +
                             error.what() + " (after " + std::to_string(writes) + " announces)" +
                             (error.getErrorCode() == 1213 ? latestDeadlock(session.connection())
                                                           : std::string()));
        }
    }
    std::lock_guard<std::mutex> lock(figures.mutex);
    figures.errors.insert(figures.errors.end(), errors.begin(), errors.end());
    figures.longestWrite = std::max(figures.longestWrite, longestWrite);
    figures.longestRead = std::max(figures.longestRead, longestRead);
    figures.writes += writes;
    figures.completions += completions;
    figures.inserted += inserted;
    figures.deleted += deleted;
}

}  // namespace

TEST_CASE("migrating a PHP site's million peers keeps the PHP's writes flowing, none > 1 s",
          "[online]") {
    itest::Sql admin;
    fillPhpDatabase(admin);
    tracker::db::ConnectionPool pool(migrationDatabase(), 1, 5000ms);
    long long downloadedBefore =
        admin.scalar(std::string("SELECT SUM(downloaded) FROM ") + kDatabase + ".torrents");

    std::atomic<bool> stop{false};
    WriterFigures figures;
    std::vector<std::thread> writers;
    for (unsigned i = 0; i < 3; ++i)
        writers.emplace_back(phpWriter, 7 + i, std::cref(stop), std::ref(figures));
    std::this_thread::sleep_for(500ms);  // the writers going before the migration starts

    Clock::time_point start = Clock::now();
    auto report = tracker::schema::applyMigrations(pool, tracker::schema::embeddedSqlFiles());
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    long long writesDuring = figures.announces.load();
    std::this_thread::sleep_for(500ms);  // and after it: the new shape takes the PHP's writes
    stop = true;
    for (auto& writer : writers)
        writer.join();

    std::cout << "online migration of " << kPeers << " peers: " << took.count() << " ms, "
              << figures.writes << " PHP announces meanwhile, longest PHP write "
              << figures.longestWrite.count() / 1000.0 << " ms, longest PHP read "
              << figures.longestRead.count() / 1000.0 << " ms\n";
    for (const auto& step : report.steps) {
        std::cout << "  " << step.what << ": " << step.total.count() << " ms, longest hold "
                  << step.longestHold.count() << " ms\n";
    }
    for (const auto& error : figures.errors)
        FAIL_CHECK("a PHP statement failed: " << error);
    INFO(report.error);
    REQUIRE(report.ok);
    CHECK(writesDuring > 1000);
    CHECK(figures.longestWrite < 1s);

    tracker::db::DbSession check(*get_driver_instance(), migrationDatabase());
    auto& c = check.connection();
    // The rebuilt table holds what the PHP wrote, in the new shape.
    CHECK(scalarOn(c,
                   "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                   "DATABASE() AND TABLE_NAME = 'peers' AND COLUMN_NAME IN ('uid', 'peerId') "
                   "AND DATA_TYPE = 'varbinary'") == 2);
    CHECK(scalarOn(c,
                   "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                   "DATABASE() AND TABLE_NAME LIKE '\\_peers\\_%'") == 0);
    CHECK(scalarOn(c,
                   "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "
                   "DATABASE() AND TRIGGER_NAME LIKE '\\_peers\\_%'") == 0);
    CHECK(scalarOn(c,
                   "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE "
                   "CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'peers' AND "
                   "REFERENCED_TABLE_NAME = 'torrents' AND DELETE_RULE = 'CASCADE'") == 1);
    CHECK(scalarOn(c, "SELECT COUNT(*) FROM peers") == kPeers + figures.inserted - figures.deleted);
    CHECK(scalarOn(c, "SELECT COUNT(*) FROM peers WHERE rnd = 0") == 0);
    CHECK(scalarOn(c, "SELECT SUM(downloaded) FROM torrents") - downloadedBefore ==
          figures.completions);
    // The counters are exact, though the PHP's writes went on while they were counted.
    CHECK(scalarOn(c,
                   "SELECT COUNT(*) FROM tracker_swarms s WHERE s.seeders <> (SELECT COUNT(*) "
                   "FROM peers p WHERE p.tid = s.tid AND p.residual = 0) OR s.leechers <> "
                   "(SELECT COUNT(*) FROM peers p WHERE p.tid = s.tid AND p.residual <> 0)") == 0);
    CHECK(scalarOn(c,
                   "SELECT COUNT(*) FROM torrents t LEFT JOIN tracker_swarms s USING (tid) "
                   "WHERE s.tid IS NULL") == 0);
    CHECK(scalarOn(c,
                   "SELECT COUNT(*) FROM tracker_swarms WHERE (seeders + leechers > 0) = "
                   "(empty_since IS NOT NULL)") == 0);
    admin.exec(std::string("DROP DATABASE ") + kDatabase);
}
