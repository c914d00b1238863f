#include "schema/online_steps.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include "db/db_session.h"

namespace tracker::schema {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kLockWaitTimeout = 1205;
constexpr int kDeadlock = 1213;
constexpr int kLockRetries = 120;
constexpr milliseconds kLockRetryPause{250};
// Rows a copy batch reads with shared locks at most: a writer of one of them waits at most as
// long as the batch runs.
constexpr std::size_t kCopyBatchRows = 2000;
// A batch that met a lock pauses this long before its retry, twice as long each time it meets
// one again, up to the most; a key range that stays locked this long fails the step.
constexpr milliseconds kGiveWayPause{10};
constexpr milliseconds kGiveWayPauseMost{250};
constexpr std::chrono::seconds kGiveUpAfter{120};

milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

bool isLockConflict(const sql::SQLException& error) {
    return (error.getErrorCode() == kLockWaitTimeout || error.getErrorCode() == kDeadlock) &&
           !db::isConnectionLost(error);
}

// Runs `attempt` again while it fails on a lock (each attempt must undo itself on failure).
template <typename Attempt>
void retryingLocks(sql::Connection& connection, Attempt&& attempt) {
    for (int tries = 1;; ++tries) {
        try {
            attempt();
            return;
        } catch (const sql::SQLException& error) {
            if (!isLockConflict(error) || tries >= kLockRetries)
                throw;
            std::unique_ptr<sql::Statement> rollback(connection.createStatement());
            rollback->execute("ROLLBACK");
            std::this_thread::sleep_for(kLockRetryPause);
        }
    }
}

void run(sql::Connection& connection, const std::string& text) {
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    if (statement->execute(text)) {
        std::unique_ptr<sql::ResultSet> rows(statement->getResultSet());
        while (rows->next()) {
        }
    }
}

struct KeyRange {
    unsigned long long first = 0;
    unsigned long long last = 0;
};

// How many batches went through, and how many times one met a lock and was rolled back.
struct BatchCount {
    std::size_t done = 0;
    std::size_t gaveWay = 0;
};

std::string describe(const BatchCount& count) {
    return std::to_string(count.done) + " batch(es), " + std::to_string(count.gaveWay) +
           " given way to a lock";
}

// Walks `range` in transactions of at most `size` keys, each filled by `batch(first, last)`
// and READ COMMITTED: record locks only, on the rows read, not on the gaps around them, where
// the site's new rows go. A batch holds many rows' locks to its end, so it must never wait for
// a lock meanwhile: its wait can close a cycle with one of the site's statements, and InnoDB
// rolls back the lighter transaction of a deadlock, the site's.
// So batches run without lock waits (innodb_lock_wait_timeout 0: MariaDB fails the statement at
// once; MySQL, whose least is 1 s, waits that second), and one that meets a lock is rolled back
// and tried again after a pause with half as many keys, doubled back as batches go through:
// under many writes, shorter transactions still find their rows free.
template <typename Batch>
BatchCount inKeyBatches(sql::Connection& connection, const std::string& what, KeyRange range,
                        std::size_t size, milliseconds& longestHold, Batch&& batch) {
    run(connection,
        "SET @tracker_saved_lock_wait = @@SESSION.innodb_lock_wait_timeout, "
        "SESSION innodb_lock_wait_timeout = 0");
    auto restore = [&] {
        run(connection, "SET SESSION innodb_lock_wait_timeout = @tracker_saved_lock_wait");
    };
    BatchCount count;
    try {
        std::size_t keys = size;
        milliseconds pause = kGiveWayPause;
        Clock::time_point progressed = Clock::now();
        for (unsigned long long first = range.first;;) {
            unsigned long long last =
                range.last - first < keys - 1 ? range.last : first + (keys - 1);
            try {
                Clock::time_point begun = Clock::now();
                run(connection, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
                run(connection, "START TRANSACTION");
                batch(first, last);
                run(connection, "COMMIT");
                longestHold = std::max(longestHold, since(begun));
            } catch (const sql::SQLException& error) {
                if (!isLockConflict(error))
                    throw;
                run(connection, "ROLLBACK");
                if (Clock::now() - progressed > kGiveUpAfter) {
                    throw std::runtime_error(
                        what + ": keys " + std::to_string(first) + " to " + std::to_string(last) +
                        " stayed locked by other transactions for " +
                        std::to_string(kGiveUpAfter.count()) + " s (" + error.what() + ")");
                }
                ++count.gaveWay;
                keys = std::max<std::size_t>(1, keys / 2);
                std::this_thread::sleep_for(pause);
                pause = std::min(pause * 2, kGiveWayPauseMost);
                continue;
            }
            ++count.done;
            progressed = Clock::now();
            pause = kGiveWayPause;
            keys = std::min(size, keys * 2);
            if (last == range.last)
                break;
            first = last + 1;
        }
    } catch (...) {
        try {
            restore();
        } catch (const sql::SQLException&) {
            // The connection is gone with the setting; the first error is the one to report.
        }
        throw;
    }
    restore();
    return count;
}

std::string quotedName(const std::string& name) {
    std::string out = "`";
    for (char c : name) {
        out.push_back(c);
        if (c == '`')
            out.push_back('`');
    }
    return out + "`";
}

std::string joined(const std::vector<std::string>& parts, const std::string& prefix = "") {
    std::string out;
    for (const std::string& part : parts)
        out += (out.empty() ? "" : ", ") + prefix + quotedName(part);
    return out;
}

std::vector<std::string> strings(sql::Connection& connection, const char* query,
                                 const std::vector<std::string>& parameters) {
    std::unique_ptr<sql::PreparedStatement> statement(connection.prepareStatement(query));
    for (std::size_t i = 0; i < parameters.size(); ++i)
        statement->setString(static_cast<unsigned>(i + 1), parameters[i]);
    std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
    std::vector<std::string> out;
    while (rows->next())
        out.push_back(rows->getString(1).asStdString());
    return out;
}

std::optional<KeyRange> keyRange(sql::Connection& connection, const std::string& table,
                                 const std::string& column) {
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    std::unique_ptr<sql::ResultSet> row(statement->executeQuery("SELECT MIN(" + quotedName(column) +
                                                                "), MAX(" + quotedName(column) +
                                                                ") FROM " + quotedName(table)));
    if (!row->next() || row->isNull(1))
        return std::nullopt;
    return KeyRange{row->getUInt64(1), row->getUInt64(2)};
}

// The foreign keys of `table`, as ADD FOREIGN KEY clauses without their names (the server
// names the copy's; RENAME TABLE renames generated names with the table).
std::vector<std::string> foreignKeyClauses(sql::Connection& connection, const std::string& table) {
    std::unique_ptr<sql::PreparedStatement> statement(connection.prepareStatement(
        "SELECT rc.CONSTRAINT_NAME, rc.REFERENCED_TABLE_NAME, rc.UPDATE_RULE, rc.DELETE_RULE, "
        "k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME "
        "FROM information_schema.REFERENTIAL_CONSTRAINTS rc "
        "JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = "
        "rc.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME AND k.TABLE_NAME = "
        "rc.TABLE_NAME "
        "WHERE rc.CONSTRAINT_SCHEMA = DATABASE() AND rc.TABLE_NAME = ? "
        "ORDER BY rc.CONSTRAINT_NAME, k.ORDINAL_POSITION"));
    statement->setString(1, table);
    std::unique_ptr<sql::ResultSet> rows(statement->executeQuery());
    struct Key {
        std::string name, referenced, onUpdate, onDelete;
        std::vector<std::string> columns, referencedColumns;
    };
    std::vector<Key> keys;
    while (rows->next()) {
        std::string name = rows->getString(1).asStdString();
        if (keys.empty() || keys.back().name != name) {
            keys.push_back(Key{name,
                               rows->getString(2).asStdString(),
                               rows->getString(3).asStdString(),
                               rows->getString(4).asStdString(),
                               {},
                               {}});
        }
        keys.back().columns.push_back(rows->getString(5).asStdString());
        keys.back().referencedColumns.push_back(rows->getString(6).asStdString());
    }
    const std::vector<std::string> rules = {"CASCADE", "SET NULL", "NO ACTION", "RESTRICT",
                                            "SET DEFAULT"};
    std::vector<std::string> clauses;
    for (const Key& key : keys) {
        for (const std::string& rule : {key.onUpdate, key.onDelete}) {
            if (std::find(rules.begin(), rules.end(), rule) == rules.end())
                throw std::runtime_error("foreign key " + key.name + " has an unknown rule " +
                                         rule);
        }
        clauses.push_back("ADD FOREIGN KEY (" + joined(key.columns) + ") REFERENCES " +
                          quotedName(key.referenced) + " (" + joined(key.referencedColumns) +
                          ") ON DELETE " + key.onDelete + " ON UPDATE " + key.onUpdate);
    }
    return clauses;
}

constexpr const char* kTriggersOn =
    "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
    "AND EVENT_OBJECT_TABLE = ? ORDER BY TRIGGER_NAME";
constexpr const char* kStoredColumns =
    "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
    "TABLE_NAME = ? AND IS_GENERATED = 'NEVER' ORDER BY ORDINAL_POSITION";
constexpr const char* kPrimaryKey =
    "SELECT k.COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE k "
    "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = "
    "k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME "
    "WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ? AND k.CONSTRAINT_NAME = 'PRIMARY' "
    "AND c.DATA_TYPE IN ('tinyint', 'smallint', 'mediumint', 'int', 'bigint')";

}  // namespace

bool hasFewerRowsThan(sql::Connection& connection, const std::string& table, long long rows) {
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    std::unique_ptr<sql::ResultSet> row(
        statement->executeQuery("SELECT COUNT(*) FROM (SELECT 1 FROM " + quotedName(table) +
                                " LIMIT " + std::to_string(rows) + ") counted"));
    return row->next() && row->getInt64(1) < rows;
}

void prepareMigrationSession(sql::Connection& connection) {
    run(connection, "SET SESSION lock_wait_timeout = 1");
}

void executeRetryingLocks(sql::Connection& connection, const std::string& text) {
    retryingLocks(connection, [&] { run(connection, text); });
}

StepTiming runInBatches(sql::Connection& connection, const BatchedStep& step,
                        const std::vector<std::string>& statements) {
    StepTiming timing;
    Clock::time_point start = Clock::now();
    std::optional<KeyRange> range = keyRange(connection, step.table, step.column);
    std::unique_ptr<sql::PreparedStatement> bounds(
        connection.prepareStatement("SET @batch_first = ?, @batch_last = ?"));
    BatchCount batches;
    if (range) {
        batches = inKeyBatches(connection, step.table, *range, step.size, timing.longestHold,
                               [&](unsigned long long first, unsigned long long last) {
                                   bounds->setUInt64(1, first);
                                   bounds->setUInt64(2, last);
                                   bounds->execute();
                                   for (const std::string& statement : statements)
                                       run(connection, statement);
                               });
    }
    run(connection, "SET @batch_first = NULL, @batch_last = NULL");
    timing.total = since(start);
    timing.what = std::to_string(statements.size()) + " statement(s) over " + step.table + "." +
                  step.column + " in batches of up to " + std::to_string(step.size) + ": " +
                  describe(batches);
    return timing;
}

StepTiming rebuildOnline(sql::Connection& connection, const AlterParts& alter) {
    StepTiming timing;
    Clock::time_point start = Clock::now();
    const std::string& table = alter.table;
    const std::string shadow = "_" + table + "_rebuild";
    const std::string old = "_" + table + "_old";
    const std::string mirror[] = {shadow + "_insert", shadow + "_update", shadow + "_delete"};

    // What an interrupted run left: its mirror triggers first (they write the shadow table).
    for (const std::string& trigger : mirror)
        executeRetryingLocks(connection, "DROP TRIGGER IF EXISTS " + quotedName(trigger));
    executeRetryingLocks(connection,
                         "DROP TABLE IF EXISTS " + quotedName(shadow) + ", " + quotedName(old));

    std::vector<std::string> triggers = strings(connection, kTriggersOn, {table});
    if (!triggers.empty()) {
        std::string names;
        for (const std::string& name : triggers)
            names += (names.empty() ? "" : ", ") + name;
        throw std::runtime_error(table + " has triggers (" + names +
                                 "), which a rebuild would leave behind; drop them or apply "
                                 "this migration with the site's writers stopped");
    }
    std::vector<std::string> key = strings(connection, kPrimaryKey, {table});
    if (key.size() != 1)
        throw std::runtime_error(table + " has no single integer primary key to copy it by");
    const std::string pk = quotedName(key[0]);

    executeRetryingLocks(connection,
                         "CREATE TABLE " + quotedName(shadow) + " LIKE " + quotedName(table));
    executeRetryingLocks(connection, "ALTER TABLE " + quotedName(shadow) + " " + alter.clauses);
    for (const std::string& clause : foreignKeyClauses(connection, table))
        executeRetryingLocks(connection, "ALTER TABLE " + quotedName(shadow) + " " + clause);

    std::vector<std::string> before = strings(connection, kStoredColumns, {table});
    std::vector<std::string> after = strings(connection, kStoredColumns, {shadow});
    std::vector<std::string> columns;
    for (const std::string& column : after) {
        if (std::find(before.begin(), before.end(), column) != before.end())
            columns.push_back(column);
    }
    const std::string list = joined(columns);
    const std::string fromNew = joined(columns, "NEW.");

    // Created under a non-strict sql_mode (they keep it): a value the old column took and the
    // new one cannot hold whole is cut, as the ALTER itself would cut it, instead of failing
    // the site's write.
    run(connection, "SET @tracker_saved_sql_mode = @@SESSION.sql_mode, SESSION sql_mode = ''");
    const std::string into = "REPLACE INTO " + quotedName(shadow) + " (" + list + ") VALUES (";
    executeRetryingLocks(connection, "CREATE TRIGGER " + quotedName(mirror[0]) +
                                         " AFTER INSERT ON " + quotedName(table) +
                                         " FOR EACH ROW " + into + fromNew + ")");
    // An update removes the old copy only when its key moved. A DELETE that finds no copy (the
    // row is not copied yet) takes a gap lock under the PHP's REPEATABLE READ, gap locks do not
    // exclude each other, and two writers each holding one then each inserting into the gap
    // deadlock: one of the site's statements would fail.
    const std::string removeMoved = "IF NEW." + pk + " <> OLD." + pk + " THEN DELETE FROM " +
                                    quotedName(shadow) + " WHERE " + pk + " = OLD." + pk +
                                    "; END IF; ";
    executeRetryingLocks(connection, "CREATE TRIGGER " + quotedName(mirror[1]) +
                                         " AFTER UPDATE ON " + quotedName(table) +
                                         " FOR EACH ROW BEGIN " + removeMoved + into + fromNew +
                                         "); END");
    executeRetryingLocks(connection, "CREATE TRIGGER " + quotedName(mirror[2]) +
                                         " AFTER DELETE ON " + quotedName(table) +
                                         " FOR EACH ROW DELETE FROM " + quotedName(shadow) +
                                         " WHERE " + pk + " = OLD." + pk);

    // Each batch reads its rows with shared locks, so that none can be deleted between its
    // read and its copy, then writes them with one multi-row INSERT: a row count known in
    // advance takes no table-wide AUTO-INC lock, which an INSERT ... SELECT holds to its end
    // and the mirror triggers' writes would deadlock on. A row the triggers already copied is
    // newer and kept (IGNORE). Values travel as hex of their bytes (CONCAT: numbers as digits,
    // BIT as its byte), so that every column type goes through one string form unchanged.
    std::string select = "SELECT ";
    for (std::size_t i = 0; i < columns.size(); ++i)
        select += std::string(i == 0 ? "" : ", ") + "HEX(CONCAT(" + quotedName(columns[i]) + "))";
    select += " FROM " + quotedName(table) + " WHERE " + pk + " BETWEEN ? AND ? LOCK IN SHARE MODE";
    std::unique_ptr<sql::PreparedStatement> read(connection.prepareStatement(select));
    std::string row = "(";
    for (std::size_t i = 0; i < columns.size(); ++i)
        row += std::string(i == 0 ? "" : ", ") + "UNHEX(?)";
    row += ")";
    // One prepared INSERT per row count met: full batches share one, and a batch cut short by
    // deleted keys or by a lock adds its own, dropped when too many have piled up.
    std::map<std::size_t, std::unique_ptr<sql::PreparedStatement>> inserts;
    auto insertFor = [&](std::size_t rows) -> sql::PreparedStatement& {
        auto found = inserts.find(rows);
        if (found != inserts.end())
            return *found->second;
        if (inserts.size() >= 16)
            inserts.clear();
        std::string text = "INSERT IGNORE INTO " + quotedName(shadow) + " (" + list + ") VALUES ";
        for (std::size_t i = 0; i < rows; ++i)
            text += (i == 0 ? "" : ", ") + row;
        return *inserts.emplace(rows, connection.prepareStatement(text)).first->second;
    };
    std::optional<KeyRange> range = keyRange(connection, table, key[0]);
    unsigned long long copied = 0;
    auto copyBatch = [&](unsigned long long first, unsigned long long last) {
        read->setUInt64(1, first);
        read->setUInt64(2, last);
        std::vector<sql::SQLString> values;
        std::vector<bool> nulls;
        {
            std::unique_ptr<sql::ResultSet> rows(read->executeQuery());
            while (rows->next()) {
                for (std::size_t i = 1; i <= columns.size(); ++i) {
                    nulls.push_back(rows->isNull(static_cast<unsigned>(i)));
                    values.push_back(rows->getString(static_cast<unsigned>(i)));
                }
            }
        }
        std::size_t count = columns.empty() ? 0 : values.size() / columns.size();
        if (count == 0)
            return;
        sql::PreparedStatement& insert = insertFor(count);
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (nulls[i])
                insert.setNull(static_cast<unsigned>(i + 1), 0);
            else
                insert.setString(static_cast<unsigned>(i + 1), values[i]);
        }
        copied += static_cast<unsigned long long>(insert.executeUpdate());
    };
    BatchCount batches;
    if (range)
        batches = inKeyBatches(connection, table + " copy", *range, kCopyBatchRows,
                               timing.longestHold, copyBatch);
    // Fresh statistics before it serves: the optimizer must not take the copy for empty.
    executeRetryingLocks(connection, "ANALYZE TABLE " + quotedName(shadow));
    run(connection, "SET SESSION sql_mode = @tracker_saved_sql_mode");

    Clock::time_point swap = Clock::now();
    executeRetryingLocks(connection, "RENAME TABLE " + quotedName(table) + " TO " +
                                         quotedName(old) + ", " + quotedName(shadow) + " TO " +
                                         quotedName(table));
    timing.longestHold = std::max(timing.longestHold, since(swap));
    // The old table goes with the mirror triggers, which moved with it.
    executeRetryingLocks(connection, "DROP TABLE " + quotedName(old));
    timing.total = since(start);
    timing.what = table + " rebuilt online (" + std::to_string(copied) + " rows copied in " +
                  describe(batches) + ")";
    return timing;
}

}  // namespace tracker::schema
