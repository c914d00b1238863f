#include "schema/trigger_definer.h"

#include <cctype>
#include <memory>

#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include "schema/online_steps.h"

namespace tracker::schema {
namespace {

bool accountPart(std::string_view part) {
    if (part.empty() || part.size() > 80)
        return false;
    for (char c : part) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
              c == '%'))
            return false;
    }
    return true;
}

std::string_view unquoted(std::string_view part) {
    if (part.size() >= 2 && (part.front() == '\'' || part.front() == '`' || part.front() == '"') &&
        part.back() == part.front())
        return part.substr(1, part.size() - 2);
    return part;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

std::optional<std::string> parseAccount(std::string_view text) {
    std::size_t at = text.rfind('@');
    if (at == std::string_view::npos)
        return std::nullopt;
    std::string_view user = unquoted(text.substr(0, at));
    std::string_view host = unquoted(text.substr(at + 1));
    if (!accountPart(user) || !accountPart(host))
        return std::nullopt;
    return "'" + std::string(user) + "'@'" + std::string(host) + "'";
}

std::vector<std::string> redefineTriggers(sql::Connection& connection, const std::string& account) {
    std::unique_ptr<sql::PreparedStatement> list(connection.prepareStatement(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
        "AND CONCAT('''', SUBSTRING_INDEX(DEFINER, '@', 1), '''@''', "
        "SUBSTRING_INDEX(DEFINER, '@', -1), '''') <> ? ORDER BY TRIGGER_NAME"));
    list->setString(1, account);
    std::vector<std::string> names;
    {
        std::unique_ptr<sql::ResultSet> rows(list->executeQuery());
        while (rows->next())
            names.push_back(rows->getString(1).asStdString());
    }
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    for (const std::string& name : names) {
        std::string quoted = "`";
        for (char c : name)
            quoted += c == '`' ? std::string("``") : std::string(1, c);
        quoted += "`";
        std::string sqlMode, original;
        {
            std::unique_ptr<sql::ResultSet> shown(
                statement->executeQuery("SHOW CREATE TRIGGER " + quoted));
            if (!shown->next())
                continue;
            sqlMode = shown->getString(2).asStdString();
            original = shown->getString(3).asStdString();
        }
        // "CREATE DEFINER=`who`@`where` TRIGGER name ...": the definer replaced, OR REPLACE.
        std::size_t trigger = upper(original).find(" TRIGGER ");
        if (original.compare(0, 7, "CREATE ") != 0 || trigger == std::string::npos)
            continue;
        std::string text = "CREATE OR REPLACE DEFINER = " + account + original.substr(trigger);
        std::unique_ptr<sql::PreparedStatement> mode(
            connection.prepareStatement("SET @tracker_saved_sql_mode = @@SESSION.sql_mode, "
                                        "SESSION sql_mode = ?"));
        mode->setString(1, sqlMode);
        mode->execute();
        executeRetryingLocks(connection, text);
        statement->execute("SET SESSION sql_mode = @tracker_saved_sql_mode");
    }
    return names;
}

namespace {

// Writes that fire every trigger of ours: a torrent registered, a peer joining it, turning
// seeder, the torrent completed once, the peer leaving, the torrent removed.
const char* const kProbe[] = {
    "INSERT INTO torrents (infohash, name) VALUES (UNHEX(SHA1(CONCAT('trackerctl probe ', "
    "CONNECTION_ID(), NOW(6)))), 'trackerctl definer probe')",
    "SET @tracker_probe_tid = LAST_INSERT_ID()",
    "INSERT INTO peers (tid, uid, peerId, ip, port, residual) VALUES (@tracker_probe_tid, "
    "'probe', '-TC0000-definerprobe', '192.0.2.1', 1, 1)",
    "UPDATE peers SET residual = 0 WHERE tid = @tracker_probe_tid",
    "UPDATE torrents SET downloaded = downloaded + 1 WHERE tid = @tracker_probe_tid",
    "DELETE FROM peers WHERE tid = @tracker_probe_tid",
    "DELETE FROM torrents WHERE tid = @tracker_probe_tid",
};

std::string probe(sql::Connection& connection) {
    std::unique_ptr<sql::Statement> statement(connection.createStatement());
    statement->execute("START TRANSACTION");
    std::string failure;
    try {
        for (const char* text : kProbe)
            statement->execute(text);
    } catch (const sql::SQLException& error) {
        failure = "database error " + std::to_string(error.getErrorCode()) + ": " + error.what();
    }
    statement->execute("ROLLBACK");
    return failure;
}

}  // namespace

DefinerMove moveTriggersTo(sql::Connection& connection, const std::string& account) {
    DefinerMove move;
    std::string self;
    {
        std::unique_ptr<sql::Statement> statement(connection.createStatement());
        std::unique_ptr<sql::ResultSet> row(statement->executeQuery("SELECT CURRENT_USER()"));
        row->next();
        std::string current = row->getString(1).asStdString();
        std::size_t at = current.rfind('@');
        self = "'" + current.substr(0, at) + "'@'" + current.substr(at + 1) + "'";
    }
    move.triggers = redefineTriggers(connection, account);
    if (move.triggers.empty())
        return move;
    std::string failure = probe(connection);
    if (failure.empty())
        return move;
    redefineTriggers(connection, self);
    move.error = "the triggers cannot run as " + account + " (" + failure + "): they run as " +
                 self +
                 " again. Give that account the serving GRANTs `trackerctl grants` prints, "
                 "then run `migrate --definer` again";
    move.triggers.clear();
    return move;
}

}  // namespace tracker::schema
