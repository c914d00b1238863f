// A migration's batches against a site's open transaction: a batch that meets the site's row
// lock gives way instead of waiting for it, so that the site's next statement, waiting in turn
// for a row of the batch, never closes a deadlock of which InnoDB would make it the victim.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "db/db_session.h"
#include "db_fixture.h"
#include "schema/online_steps.h"

using namespace std::chrono_literals;

namespace {

void execOn(tracker::db::DbSession& session, const std::string& text) {
    std::unique_ptr<sql::Statement> statement(session.connection().createStatement());
    statement->execute(text);
}

// A site's own connection, as a PHP page's: with no limit on how long its open transaction
// may sit idle (the tracker's sessions have one), however long the migration takes to meet it.
std::unique_ptr<tracker::db::DbSession> siteSession() {
    auto session =
        std::make_unique<tracker::db::DbSession>(*get_driver_instance(), itest::testDatabase());
    execOn(*session, "SET SESSION idle_write_transaction_timeout = 0");
    return session;
}

// Runs `step` on its own connection in a thread, keeping what it threw.
class MigrationThread {
  public:
    template <typename Step>
    explicit MigrationThread(Step step)
        : thread_([this, step] {
              auto& driver = *get_driver_instance();
              tracker::db::ensureDriverThreadInit(driver);
              try {
                  tracker::db::DbSession session(driver, itest::testDatabase());
                  step(session.connection());
              } catch (const std::exception& error) {
                  error_ = error.what();
              }
              done_ = true;
          }) {}
    ~MigrationThread() {
        if (thread_.joinable())
            thread_.join();
    }
    bool done() const { return done_; }
    std::string join() {
        thread_.join();
        return error_;
    }

  private:
    std::string error_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

}  // namespace

TEST_CASE(
    "a backfill batch that meets the site's row lock gives way: the site's transaction "
    "goes on and the batch's rows are all done once") {
    itest::Sql admin;
    admin.exec("DROP TABLE IF EXISTS giveway_backfill");
    admin.exec(
        "CREATE TABLE giveway_backfill (id INT UNSIGNED PRIMARY KEY, v INT NOT NULL "
        "DEFAULT 0) ENGINE=InnoDB");
    admin.exec("INSERT INTO giveway_backfill (id) SELECT seq FROM seq_1_to_100");

    auto siteOwned = siteSession();
    tracker::db::DbSession& site = *siteOwned;
    execOn(site, "START TRANSACTION");
    execOn(site, "UPDATE giveway_backfill SET v = v + 10 WHERE id = 50");

    std::string report;
    MigrationThread migration([&report](sql::Connection& connection) {
        report = tracker::schema::runInBatches(
                     connection, tracker::schema::BatchedStep{100, "giveway_backfill", "id"},
                     {"UPDATE giveway_backfill SET v = v + 1 WHERE id BETWEEN @batch_first AND "
                      "@batch_last"})
                     .what;
    });
    std::this_thread::sleep_for(300ms);
    // A batch waiting for row 50 would hold row 10: this statement would close the cycle.
    CHECK_NOTHROW(execOn(site, "UPDATE giveway_backfill SET v = v + 10 WHERE id = 10"));
    CHECK_FALSE(migration.done());  // row 50 is still the site's
    execOn(site, "COMMIT");
    CHECK(migration.join() == "");
    CHECK_THAT(report, Catch::Contains("given way to a lock") && !Catch::Contains(", 0 given way"));

    CHECK(admin.scalar("SELECT COUNT(*) FROM giveway_backfill WHERE v = 1") == 98);
    CHECK(admin.scalar("SELECT COUNT(*) FROM giveway_backfill WHERE v = 11 AND id IN (10, 50)") ==
          2);
    admin.exec("DROP TABLE giveway_backfill");
}

TEST_CASE(
    "a rebuild's copy batch that meets the site's row lock gives way: the site's "
    "transaction goes on and the copy holds its writes") {
    itest::Sql admin;
    admin.exec("DROP TABLE IF EXISTS giveway_copy, _giveway_copy_rebuild, _giveway_copy_old");
    admin.exec(
        "CREATE TABLE giveway_copy (id INT UNSIGNED PRIMARY KEY, v INT NOT NULL DEFAULT "
        "0) ENGINE=InnoDB");
    admin.exec("INSERT INTO giveway_copy (id) SELECT seq FROM seq_1_to_40000");

    MigrationThread migration([](sql::Connection& connection) {
        tracker::schema::rebuildOnline(connection,
                                       {"giveway_copy", "MODIFY v BIGINT NOT NULL DEFAULT 0"});
    });
    auto siteOwned = siteSession();
    tracker::db::DbSession& site = *siteOwned;
    // The site's transaction begins once the mirror triggers are there (creating them waits
    // for open transactions on the table), on the last row, which the copy reaches last.
    auto waitFor = [&](const std::string& query, long long atLeast) {
        for (int i = 0; i < 3000 && !migration.done(); ++i) {
            if (admin.scalar(query) >= atLeast)
                return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    };
    REQUIRE(
        waitFor("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "
                "DATABASE() AND EVENT_OBJECT_TABLE = 'giveway_copy'",
                3));
    execOn(site, "START TRANSACTION");
    execOn(site, "UPDATE giveway_copy SET v = 8 WHERE id = 40000");
    // Until the copy has committed all but its last batch (read apart from the site's snapshot).
    REQUIRE(waitFor("SELECT COUNT(*) FROM _giveway_copy_rebuild", 38000));
    std::this_thread::sleep_for(200ms);
    // A copy batch waiting for row 40000 would hold row 39000 under a shared lock.
    CHECK_NOTHROW(execOn(site, "UPDATE giveway_copy SET v = 9 WHERE id = 39000"));
    CHECK_FALSE(migration.done());
    execOn(site, "COMMIT");
    CHECK(migration.join() == "");

    CHECK(admin.scalar("SELECT COUNT(*) FROM giveway_copy") == 40000);
    CHECK(admin.scalar("SELECT v FROM giveway_copy WHERE id = 40000") == 8);
    CHECK(admin.scalar("SELECT v FROM giveway_copy WHERE id = 39000") == 9);
    CHECK(admin.scalar("SELECT COUNT(*) FROM giveway_copy WHERE v <> 0") == 2);
    CHECK(admin.text("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                     "DATABASE() AND TABLE_NAME = 'giveway_copy' AND COLUMN_NAME = 'v'") ==
          "bigint");
    admin.exec("DROP TABLE giveway_copy");
}

TEST_CASE(
    "two site statements that turn peers seeders in torrents not yet given their counter row "
    "(a migration's window) do not deadlock") {
    itest::Sql admin;
    // The two newest torrents, so that both counter rows, once gone, fall in one gap: the one
    // after the last row.
    auto first = itest::registerTorrent(admin, "window one");
    auto second = itest::registerTorrent(admin, "window two");
    for (const auto* torrent : {&first, &second}) {
        admin.exec("INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES (" +
                   std::to_string(torrent->tid) + ", 'w', 'window', '10.42.0.1', 6881, 100)");
    }
    admin.exec("DELETE FROM tracker_swarms WHERE tid IN (" + std::to_string(first.tid) + ", " +
               std::to_string(second.tid) + ")");

    // A third transaction holds that gap (a locking read of the range up to the end), so that
    // each statement stops where its trigger first inserts, and both stand there at once when
    // it lets go (REPEATABLE READ, as the PHP's connections read).
    auto holderOwned = siteSession();
    tracker::db::DbSession& holder = *holderOwned;
    execOn(holder, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    execOn(holder, "START TRANSACTION");
    {
        std::unique_ptr<sql::Statement> statement(holder.connection().createStatement());
        std::unique_ptr<sql::ResultSet> none(statement->executeQuery(
            "SELECT * FROM tracker_swarms WHERE tid >= " + std::to_string(first.tid) +
            " FOR UPDATE"));
        CHECK_FALSE(none->next());
    }
    auto seeding = [](const itest::Torrent& torrent) {
        return [tid = torrent.tid](sql::Connection& connection) {
            std::unique_ptr<sql::Statement> statement(connection.createStatement());
            statement->execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
            // A number of the feed's own: as in the window, before the feed's triggers, the
            // two statements do not take turns on the sequence row.
            statement->execute("SET @tracker_feed_seq = 1");
            statement->execute("UPDATE peers SET residual = 0 WHERE uid = 'w' AND tid = " +
                               std::to_string(tid));
        };
    };
    MigrationThread one(seeding(first));
    MigrationThread two(seeding(second));
    // Both stand in their trigger's insert, waiting for the holder.
    const std::string waiting =
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE "
        "'INSERT INTO tracker_swarms%'";
    for (int i = 0; i < 300 && admin.scalar(waiting) < 2; ++i)
        std::this_thread::sleep_for(10ms);
    CHECK(admin.scalar(waiting) == 2);
    execOn(holder, "COMMIT");
    CHECK(one.join() == "");
    CHECK(two.join() == "");
    for (const auto* torrent : {&first, &second}) {
        CHECK(admin.scalar("SELECT residual FROM peers WHERE uid = 'w' AND tid = " +
                           std::to_string(torrent->tid)) == 0);
        admin.exec("DELETE FROM torrents WHERE tid = " + std::to_string(torrent->tid));
    }
}
