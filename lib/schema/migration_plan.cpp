#include "schema/migration_plan.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <sstream>

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include "schema/migration_directive.h"
#include "schema/online_steps.h"

namespace tracker::schema {
namespace {

using db::DbSession;

// Seconds per row, measured migrating a PHP site's 1,000,000 peers on 100,000 torrents with
// three PHP writers going (tests/admin/test_online_migration.cpp, 2 cores): the rebuild
// 41 s, the `rnd` backfill in batches 38 s, an online index 2.6 s. Estimates, not promises.
constexpr double kRebuildPerRow = 4.2e-5;
constexpr double kBatchPerRow = 5e-5;
constexpr double kIndexPerRow = 2.6e-6;

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string word; in >> word;)
        out.push_back(word);
    return out;
}

// The identifier after the first occurrence of `keyword` (a whole upper-case word), without
// quotes, parentheses or a trailing comma.
std::string nameAfter(const std::vector<std::string>& original, const std::string& keyword,
                      std::size_t from = 0) {
    for (std::size_t i = from; i + 1 < original.size(); ++i) {
        if (upper(original[i]) != keyword)
            continue;
        std::size_t next = i + 1;
        while (next < original.size() &&
               (upper(original[next]) == "IF" || upper(original[next]) == "NOT" ||
                upper(original[next]) == "EXISTS" || upper(original[next]) == "IGNORE"))
            ++next;
        if (next >= original.size())
            return "";
        std::string name = original[next];
        name.erase(std::remove(name.begin(), name.end(), '`'), name.end());
        std::size_t stop = name.find_first_of("(,;");
        return name.substr(0, stop);
    }
    return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string firstLine(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    return line.size() > 72 ? line.substr(0, 69) + "..." : line;
}

long long rowEstimate(DbSession& session, const std::string& table) {
    auto& statement = session.statement(
        "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
        "TABLE_NAME = ?");
    statement.setString(1, table);
    std::unique_ptr<sql::ResultSet> row(statement.executeQuery());
    return row->next() ? row->getInt64(1) : -1;
}

std::vector<std::string> accountPrivileges(DbSession& session, const std::string& grantee) {
    auto& statement = session.statement(
        "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? "
        "UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = "
        "? AND TABLE_SCHEMA = DATABASE()");
    statement.setString(1, grantee);
    statement.setString(2, grantee);
    std::unique_ptr<sql::ResultSet> rows(statement.executeQuery());
    std::vector<std::string> out;
    while (rows->next())
        out.push_back(rows->getString(1).asStdString());
    return out;
}

}  // namespace

StepShape shapeOf(const SqlStatement& statement) {
    StepShape shape;
    auto parsed = parseDirective(statement.directive);
    if (const auto* bad = std::get_if<DirectiveError>(&parsed)) {
        shape.effect = "refused: " + bad->message;
        return shape;
    }
    const StepKind& kind = std::get<StepKind>(parsed);
    std::vector<std::string> original = words(statement.text);
    std::string text = upper(statement.text);
    if (const auto* batched = std::get_if<BatchedStep>(&kind)) {
        shape.table = batched->table;
        shape.effect = "row locks on one batch of " + std::to_string(batched->size) + " " +
                       batched->table +
                       " rows at a time, each its own short transaction; "
                       "writers to the other rows go on";
        shape.secondsPerRow = kBatchPerRow;
        shape.privileges = {"SELECT", "INSERT", "UPDATE"};
        return shape;
    }
    if (std::holds_alternative<RebuildStep>(kind)) {
        shape.table = splitAlterTable(statement.text).table;
        shape.effect =
            "rebuilt beside itself while writers go on: triggers mirror every "
            "write into the copy, rows are copied 2,000 at a time under shared "
            "locks, then one RENAME TABLE swaps it in (a moment)";
        shape.secondsPerRow = kRebuildPerRow;
        shape.privileges = {"SELECT", "INSERT", "DELETE",  "CREATE",    "ALTER",
                            "DROP",   "INDEX",  "TRIGGER", "REFERENCES"};
        return shape;
    }
    bool online = contains(text, "LOCK=NONE");
    if (text.rfind("CREATE TABLE", 0) == 0) {
        shape.table = nameAfter(original, "TABLE");
        shape.effect = "a new table (if it is not there yet): no writer waits";
        shape.privileges = {"CREATE"};
        if (contains(text, "REFERENCES"))
            shape.privileges.push_back("REFERENCES");
    } else if (text.rfind("CREATE ", 0) == 0 && contains(text, " TRIGGER ")) {
        shape.table = nameAfter(original, "ON");
        shape.effect =
            "a trigger: a moment's metadata lock (it waits at most 1 s for the "
            "table's running statements, and tries again)";
        shape.privileges = {"TRIGGER"};
    } else if (text.rfind("ALTER TABLE", 0) == 0 || text.rfind("CREATE INDEX", 0) == 0) {
        shape.table =
            text.rfind("ALTER", 0) == 0 ? nameAfter(original, "TABLE") : nameAfter(original, "ON");
        bool index = contains(text, "ADD INDEX") || text.rfind("CREATE INDEX", 0) == 0;
        shape.privileges = {"ALTER"};
        if (index) {
            shape.privileges.push_back("INDEX");
            shape.secondsPerRow = kIndexPerRow;
        }
        shape.effect = online ? (index ? "an index built online: writers go on; a moment's "
                                         "metadata lock at its start and end"
                                       : "changed online (instantly where the server can): "
                                         "writers go on; a moment's metadata lock")
                              : "BLOCKS writes to the table while the server alters it";
    } else if (text.rfind("INSERT", 0) == 0 || text.rfind("UPDATE", 0) == 0 ||
               text.rfind("DELETE", 0) == 0) {
        shape.table = text.rfind("UPDATE", 0) == 0 ? nameAfter(original, "UPDATE")
                                                   : nameAfter(original, "INTO");
        if (shape.table.empty())
            shape.table = nameAfter(original, "FROM");
        shape.effect = "writes a few rows of its own";
        shape.privileges = {text.substr(0, text.find(' '))};
        shape.privileges.push_back("SELECT");
    } else {
        shape.effect = "reads or sets a session value";
        shape.privileges = {"SELECT"};
    }
    return shape;
}

MigrationPlan planMigrations(db::ConnectionPool& pool, const std::vector<SqlFile>& files) {
    MigrationPlan plan;
    auto leased = pool.acquire();
    if (!leased.lease) {
        plan.error = leased.message;
        return plan;
    }
    DbSession& session = leased.lease->session();
    try {
        if (std::string other = notMariaDb(session); !other.empty()) {
            plan.error = other;
            return plan;
        }
        std::unique_ptr<sql::ResultSet> who(
            session.statement("SELECT CURRENT_USER(), @@log_bin, @@log_bin_trust_function_creators")
                .executeQuery());
        who->next();
        plan.account = who->getString(1).asStdString();
        bool binlog = who->getInt(2) != 0 && who->getInt(3) == 0;
        who.reset();

        std::set<unsigned> applied = appliedMigrationVersions(session);
        std::map<std::string, long long> rows;
        std::vector<std::string> needed;
        for (const SqlFile& file : files) {
            std::optional<unsigned> version = migrationVersion(file.name);
            if (version && applied.count(*version) != 0) {
                plan.alreadyApplied.emplace_back(file.name);
                continue;
            }
            (version ? plan.pending : plan.checked).emplace_back(file.name);
            auto split = splitSqlStatements(file.text);
            if (auto* failure = std::get_if<SqlSplitError>(&split)) {
                plan.error = std::string(file.name) + " line " + std::to_string(failure->line) +
                             ": " + failure->message;
                return plan;
            }
            const auto& statements = std::get<std::vector<SqlStatement>>(split);
            for (std::size_t i = 0; i < statements.size(); ++i) {
                const SqlStatement& statement = statements[i];
                StepShape shape = shapeOf(statement);
                PlannedStep step{std::string(file.name),
                                 statement.line,
                                 firstLine(statement.text),
                                 shape.table,
                                 -1,
                                 shape.effect,
                                 0};
                // Statements sharing a batch directive run as one step, as the runner runs them.
                std::size_t grouped = 1;
                if (!statement.directive.empty() &&
                    statement.directive.rfind("in batches", 0) == 0) {
                    while (i + 1 < statements.size() &&
                           statements[i + 1].directive == statement.directive) {
                        ++i;
                        ++grouped;
                    }
                }
                if (grouped > 1)
                    step.statement += " (and " + std::to_string(grouped - 1) + " more, per batch)";
                if (!shape.table.empty() && isSimpleIdentifier(shape.table)) {
                    auto found = rows.find(shape.table);
                    if (found == rows.end())
                        found = rows.emplace(shape.table, rowEstimate(session, shape.table)).first;
                    step.rows = found->second;
                }
                if (step.rows > 0)
                    step.seconds = shape.secondsPerRow * static_cast<double>(step.rows);
                if (!statement.directive.empty() && statement.directive == "online rebuild" &&
                    step.rows >= 0 && step.rows < kRebuildFromRows) {
                    step.effect = "small: altered in place, writes wait for a moment";
                    step.seconds = 0;
                }
                if (step.rows >= 0 && step.statement.rfind("CREATE TABLE IF NOT EXISTS", 0) == 0)
                    step.effect = "there already: nothing changes";
                for (const std::string& privilege : shape.privileges) {
                    if (std::find(needed.begin(), needed.end(), privilege) == needed.end())
                        needed.push_back(privilege);
                }
                plan.steps.push_back(step);
            }
        }
        std::sort(needed.begin(), needed.end());
        plan.privilegesNeeded = needed;

        std::size_t at = plan.account.rfind('@');
        std::string grantee = "'" + plan.account.substr(0, at) + "'@'" +
                              (at == std::string::npos ? "" : plan.account.substr(at + 1)) + "'";
        std::vector<std::string> held = accountPrivileges(session, grantee);
        bool all = std::find(held.begin(), held.end(), "ALL PRIVILEGES") != held.end();
        for (const std::string& privilege : needed) {
            if (!all && std::find(held.begin(), held.end(), privilege) == held.end())
                plan.privilegesMissing.push_back(privilege);
        }
        bool super = std::find(held.begin(), held.end(), "SUPER") != held.end();
        if (binlog && !super && !plan.pending.empty()) {
            plan.notes.push_back(
                "binary logging is on: CREATE TRIGGER also needs SUPER, or "
                "log_bin_trust_function_creators = 1 on the server");
        }
        if (!plan.privilegesMissing.empty()) {
            plan.notes.push_back(
                "privileges are read from information_schema (the account's "
                "global and this database's grants): a grant through a role or "
                "a wildcard database name is not seen there");
        }
        plan.ok = true;
    } catch (const sql::SQLException& error) {
        if (db::isConnectionLost(error))
            leased.lease->markBroken();
        plan.error = "database error " + std::to_string(error.getErrorCode()) + ": " + error.what();
    }
    return plan;
}

}  // namespace tracker::schema
