#include "schema/migrations.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <memory>
#include <set>

#include <cppconn/statement.h>

#include "schema/migration_directive.h"
#include "schema/online_steps.h"
#include "schema/trigger_definer.h"

namespace tracker::schema {

using db::ConnectionPool;
using db::DbSession;
using db::isConnectionLost;
namespace {

// ------------------------------------------------------------------ splitting a script ---

bool isBlank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

bool isBlank(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return isBlank(c); });
}

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && isBlank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && isBlank(text.back()))
        text.remove_suffix(1);
    return text;
}

class ScriptSplitter {
  public:
    explicit ScriptSplitter(std::string_view script) : in_(script) {}

    std::variant<std::vector<SqlStatement>, SqlSplitError> run() {
        while (pos_ < in_.size()) {
            if (atLineStart_ && isBlank(current_) && delimiterCommand())
                continue;
            char c = in_[pos_];
            if (c == '\'' || c == '"' || c == '`') {
                if (!copyQuoted(c))
                    return error_;
            } else if (startsWith("--") && (pos_ + 2 == in_.size() || isBlank(in_[pos_ + 2]))) {
                lineComment();
            } else if (c == '#') {
                skipToEndOfLine();
            } else if (startsWith("/*")) {
                if (!blockComment())
                    return error_;
            } else if (startsWith(delimiter_)) {
                finishStatement();
                for (std::size_t i = 0; i < delimiter_.size(); ++i)
                    advance(false);
            } else {
                advance(true);
            }
        }
        finishStatement();
        return std::move(statements_);
    }

  private:
    bool startsWith(std::string_view prefix) const {
        return in_.substr(pos_, prefix.size()) == prefix;
    }

    void advance(bool keep) {
        char c = in_[pos_++];
        if (keep) {
            if (statementLine_ == 0 && !isBlank(c))
                statementLine_ = line_;
            current_.push_back(c);
        }
        atLineStart_ = c == '\n';
        if (c == '\n')
            ++line_;
    }

    bool fail(std::size_t line, std::string message) {
        error_ = SqlSplitError{line, std::move(message)};
        return false;
    }

    // `DELIMITER xx` alone on a line between statements, as the mariadb client reads it.
    bool delimiterCommand() {
        std::size_t i = pos_;
        while (i < in_.size() && (in_[i] == ' ' || in_[i] == '\t'))
            ++i;
        constexpr std::string_view kKeyword = "delimiter";
        if (in_.size() - i <= kKeyword.size())
            return false;
        for (std::size_t k = 0; k < kKeyword.size(); ++k) {
            if (std::tolower(static_cast<unsigned char>(in_[i + k])) != kKeyword[k])
                return false;
        }
        i += kKeyword.size();
        if (in_[i] != ' ' && in_[i] != '\t')
            return false;
        while (i < in_.size() && (in_[i] == ' ' || in_[i] == '\t'))
            ++i;
        std::size_t tokenStart = i;
        while (i < in_.size() && !isBlank(in_[i]))
            ++i;
        if (i == tokenStart)
            return fail(line_, "DELIMITER without a delimiter");
        delimiter_ = std::string(in_.substr(tokenStart, i - tokenStart));
        while (pos_ < in_.size() && in_[pos_] != '\n')
            advance(false);
        if (pos_ < in_.size())
            advance(false);
        return true;
    }

    bool copyQuoted(char quote) {
        std::size_t startLine = line_;
        advance(true);
        while (pos_ < in_.size()) {
            char c = in_[pos_];
            if (c == '\\' && quote != '`' && pos_ + 1 < in_.size()) {
                advance(true);
                advance(true);
            } else if (c == quote && pos_ + 1 < in_.size() && in_[pos_ + 1] == quote) {
                advance(true);
                advance(true);
            } else if (c == quote) {
                advance(true);
                return true;
            } else {
                advance(true);
            }
        }
        return fail(startLine, std::string("unterminated ") + quote + " quote");
    }

    void skipToEndOfLine() {
        while (pos_ < in_.size() && in_[pos_] != '\n')
            advance(false);
    }

    // `-- migrate: ...` between statements tells the runner how to apply the next one; the
    // mariadb client reads it as the comment it is.
    void lineComment() {
        std::size_t start = pos_;
        skipToEndOfLine();
        constexpr std::string_view kDirective = "-- migrate:";
        std::string_view comment = in_.substr(start, pos_ - start);
        if (isBlank(current_) && comment.substr(0, kDirective.size()) == kDirective)
            directive_ = std::string(trimmed(comment.substr(kDirective.size())));
    }

    // `/* ... */` is dropped (a space stays, so tokens do not merge); `/*! ... */` and
    // `/*M! ... */` are MariaDB's executable comments and are kept.
    bool blockComment() {
        std::size_t startLine = line_;
        bool executable = startsWith("/*!") || startsWith("/*M!");
        std::size_t close = in_.find("*/", pos_ + 2);
        if (close == std::string_view::npos)
            return fail(startLine, "unterminated /* comment");
        while (pos_ < close + 2)
            advance(executable);
        if (!executable)
            current_.push_back(' ');
        return true;
    }

    void finishStatement() {
        std::string_view text = trimmed(current_);
        if (!text.empty())
            statements_.push_back(SqlStatement{std::string(text), statementLine_, directive_});
        directive_.clear();
        current_.clear();
        statementLine_ = 0;
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
    bool atLineStart_ = true;
    std::string delimiter_ = ";";
    std::string current_;
    std::size_t statementLine_ = 0;
    std::string directive_;
    std::vector<SqlStatement> statements_;
    SqlSplitError error_;
};

// ---------------------------------------------------------------------- applying them ---

// The lock is per database, so that migrating one does not wait on another on the server.
constexpr const char* kTakeLock =
    "SELECT GET_LOCK(CONCAT('trackerctl_migrate_', MD5(DATABASE())), 60)";
constexpr const char* kReleaseLock =
    "SELECT RELEASE_LOCK(CONCAT('trackerctl_migrate_', MD5(DATABASE())))";
constexpr const char* kListTables =
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()";
constexpr const char* kRecordedVersions = "SELECT version FROM tracker_schema";

std::vector<std::string> tableNames(DbSession& session) {
    std::unique_ptr<sql::ResultSet> rows(session.statement(kListTables).executeQuery());
    std::vector<std::string> names;
    while (rows->next())
        names.push_back(rows->getString(1).asStdString());
    std::sort(names.begin(), names.end());
    return names;
}

std::set<unsigned> recordedVersions(DbSession& session, const std::vector<std::string>& tables) {
    std::set<unsigned> versions;
    if (std::find(tables.begin(), tables.end(), "tracker_schema") == tables.end())
        return versions;  // a PHP tracker's database: nothing of ours applied yet
    std::unique_ptr<sql::ResultSet> rows(session.statement(kRecordedVersions).executeQuery());
    while (rows->next())
        versions.insert(rows->getUInt(1));
    return versions;
}

std::string firstLine(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    return line.size() > 80 ? line.substr(0, 77) + "..." : line;
}

std::string failedAt(const SqlFile& file, const SqlStatement& statement, const std::string& why) {
    return std::string(file.name) + " line " + std::to_string(statement.line) + " (" +
           firstLine(statement.text) + "): " + why;
}

// Applies one file, each statement as its directive says; "" on success, else what failed.
std::string applyFile(DbSession& session, const SqlFile& file, std::vector<StepTiming>& steps) {
    auto split = splitSqlStatements(file.text);
    if (auto* failure = std::get_if<SqlSplitError>(&split)) {
        return std::string(file.name) + " line " + std::to_string(failure->line) + ": " +
               failure->message;
    }
    const auto& statements = std::get<std::vector<SqlStatement>>(split);
    for (std::size_t i = 0; i < statements.size(); ++i) {
        const SqlStatement& statement = statements[i];
        auto parsed = parseDirective(statement.directive);
        if (auto* bad = std::get_if<DirectiveError>(&parsed))
            return failedAt(file, statement, bad->message);
        const StepKind& kind = std::get<StepKind>(parsed);
        try {
            if (const auto* batched = std::get_if<BatchedStep>(&kind)) {
                // It and the statements after it with the same directive: one batch's work.
                std::vector<std::string> group{statement.text};
                while (i + 1 < statements.size() &&
                       statements[i + 1].directive == statement.directive)
                    group.push_back(statements[++i].text);
                StepTiming timing = runInBatches(session.connection(), *batched, group);
                timing.what = std::string(file.name) + ": " + timing.what;
                steps.push_back(timing);
            } else if (std::holds_alternative<RebuildStep>(kind)) {
                AlterParts alter = splitAlterTable(statement.text);
                if (alter.table.empty())
                    return failedAt(file, statement, "an online rebuild takes an ALTER TABLE");
                if (hasFewerRowsThan(session.connection(), alter.table, kRebuildFromRows)) {
                    executeRetryingLocks(session.connection(), statement.text);
                    continue;
                }
                StepTiming timing = rebuildOnline(session.connection(), alter);
                timing.what = std::string(file.name) + ": " + timing.what;
                steps.push_back(timing);
            } else {
                executeRetryingLocks(session.connection(), statement.text);
            }
        } catch (const sql::SQLException& error) {
            if (isConnectionLost(error))
                throw;
            return failedAt(
                file, statement,
                "database error " + std::to_string(error.getErrorCode()) + ": " + error.what());
        } catch (const std::runtime_error& error) {
            return failedAt(file, statement, error.what());
        }
    }
    return "";
}

void migrateOn(DbSession& session, const std::vector<SqlFile>& files, MigrationReport& report) {
    std::vector<std::string> tablesBefore = tableNames(session);
    std::set<unsigned> recorded = recordedVersions(session, tablesBefore);
    std::set<unsigned> known;
    for (const SqlFile& file : files) {
        std::optional<unsigned> version = migrationVersion(file.name);
        if (version)
            known.insert(*version);
        if (version && recorded.count(*version) != 0) {
            report.alreadyApplied.emplace_back(file.name);
            continue;
        }
        if (std::string failure = applyFile(session, file, report.steps); !failure.empty()) {
            report.error = failure;
            break;
        }
        (version ? report.appliedNow : report.checked).emplace_back(file.name);
    }
    for (unsigned version : recorded) {
        if (known.count(version) == 0)
            report.unknownVersions.push_back(version);
    }
    std::vector<std::string> tablesAfter = tableNames(session);
    std::set_difference(tablesAfter.begin(), tablesAfter.end(), tablesBefore.begin(),
                        tablesBefore.end(), std::back_inserter(report.createdTables));
    report.ok = report.error.empty();
}

}  // namespace

std::string notMariaDb(DbSession& session) {
    std::unique_ptr<sql::ResultSet> row(session.statement("SELECT VERSION()").executeQuery());
    std::string version = row->next() ? row->getString(1).asStdString() : "";
    if (version.find("MariaDB") != std::string::npos)
        return "";
    return "the server is " + version +
           ", not MariaDB: the migrations use MariaDB's syntax (CREATE OR REPLACE TRIGGER, "
           "ADD ... IF NOT EXISTS) and are tested on MariaDB 10.11 only";
}

std::set<unsigned> appliedMigrationVersions(DbSession& session) {
    return recordedVersions(session, tableNames(session));
}

std::variant<std::vector<SqlStatement>, SqlSplitError> splitSqlStatements(std::string_view script) {
    return ScriptSplitter(script).run();
}

std::optional<unsigned> migrationVersion(std::string_view fileName) {
    std::size_t digits = 0;
    unsigned version = 0;
    while (digits < fileName.size() && digits < 9 &&
           std::isdigit(static_cast<unsigned char>(fileName[digits]))) {
        version = version * 10 + static_cast<unsigned>(fileName[digits] - '0');
        ++digits;
    }
    if (digits == 0)
        return std::nullopt;
    return version;
}

MigrationReport applyMigrations(ConnectionPool& pool, const std::vector<SqlFile>& files,
                                const MigrationOptions& options) {
    MigrationReport report;
    auto leased = pool.acquire();
    if (!leased.lease) {
        report.error = leased.message;
        return report;
    }
    DbSession& session = leased.lease->session();
    try {
        if (std::string other = notMariaDb(session); !other.empty()) {
            report.error = other;
            return report;
        }
        std::unique_ptr<sql::ResultSet> locked(session.statement(kTakeLock).executeQuery());
        if (!locked->next() || locked->getInt(1) != 1) {
            report.error = "another `trackerctl migrate` holds the migration lock on this database";
            return report;
        }
        locked.reset();
        prepareMigrationSession(session.connection());
        migrateOn(session, files, report);
        if (report.ok && !options.definer.empty()) {
            DefinerMove moved = moveTriggersTo(session.connection(), options.definer);
            report.redefinedTriggers = moved.triggers;
            if (!moved.error.empty()) {
                report.ok = false;
                report.error = moved.error;
            }
        }
        std::unique_ptr<sql::ResultSet> released(session.statement(kReleaseLock).executeQuery());
    } catch (const sql::SQLException& error) {
        if (isConnectionLost(error))
            leased.lease->markBroken();  // and the server drops the lock with the connection
        report.ok = false;
        report.error =
            "database error " + std::to_string(error.getErrorCode()) + ": " + error.what();
    }
    return report;
}

}  // namespace tracker::schema
