#include "db/db_session.h"

#include <algorithm>

#include <cppconn/statement.h>

namespace tracker::db {

DbSession::DbSession(sql::Driver& driver, const DatabaseConfig& database) {
    sql::ConnectOptionsMap options;
    if (!database.socket.empty()) {
        options["hostName"] = sql::SQLString("localhost");
        options["socket"] = sql::SQLString(database.socket);
    } else {
        options["hostName"] = sql::SQLString("tcp://" + database.host);
        options["port"] = static_cast<int>(database.port);
    }
    options["userName"] = sql::SQLString(database.user);
    options["password"] = sql::SQLString(database.password);
    options["schema"] = sql::SQLString(database.name);
    options["OPT_CONNECT_TIMEOUT"] = static_cast<int>(database.connectTimeoutSeconds);
    options["OPT_READ_TIMEOUT"] = static_cast<int>(database.queryTimeoutSeconds);
    options["OPT_WRITE_TIMEOUT"] = static_cast<int>(database.queryTimeoutSeconds);
    // The pool replaces lost connections itself; a silent reconnect would lose session state
    // and hide the failure from the caller.
    options["OPT_RECONNECT"] = false;
    options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    connection_.reset(driver.connect(options));
    connection_->setAutoCommit(true);
    // The server must give up on a statement before the client's read timeout does: a client
    // that times out drops the connection, but the server thread goes on waiting for its row
    // lock (up to innodb_lock_wait_timeout, 50 s) and the pool opens another connection in its
    // place, piling up connections towards max_connections. The values are our own numbers
    // from the config, never request bytes.
    unsigned lockWait = database.queryTimeoutSeconds > 1 ? database.queryTimeoutSeconds - 1 : 1;
    double statementTime =
        database.queryTimeoutSeconds > 1 ? database.queryTimeoutSeconds - 0.5 : 0.9;
    // The other way round, the server must give up on this client: a process that stops in the
    // middle of a write transaction (frozen, its host lost or cut off) keeps its row locks,
    // the feed's numbering among them, so every writer of the site waits until TCP notices,
    // hours later. Our transactions send their statements back to back, so one left idle for
    // seconds is ended by the server, and rolled back: sooner than the others' lock wait, so
    // that a writer queued behind it goes through instead of failing. Read-only transactions
    // (a load's long consistent read) are not concerned.
    unsigned idleWrite = std::clamp(lockWait, 2u, 4u) - 1;
    std::unique_ptr<sql::Statement> limits(connection_->createStatement());
    limits->execute("SET SESSION innodb_lock_wait_timeout = " + std::to_string(lockWait) +
                    ", lock_wait_timeout = " + std::to_string(lockWait) +
                    ", max_statement_time = " + std::to_string(statementTime) +
                    ", idle_write_transaction_timeout = " + std::to_string(idleWrite));
    lastUsed = std::chrono::steady_clock::now();
}

sql::PreparedStatement& DbSession::statement(const char* sql) {
    auto& slot = statements_[sql];
    if (!slot)
        slot.reset(connection_->prepareStatement(sql));
    return *slot;
}

void DbSession::setting(const char* sql) {
    if (settings_.count(sql) != 0)
        return;
    statement(sql).execute();
    settings_.insert(sql);
}

bool isConnectionLost(const sql::SQLException& error) {
    int code = error.getErrorCode();
    // 2000-2999 are client-side errors (CR_SERVER_GONE_ERROR 2006, CR_SERVER_LOST 2013 ...);
    // 1053 server shutdown, 1927 connection killed, 4031 idle client disconnected.
    if (code >= 2000 && code < 3000)
        return true;
    if (code == 1053 || code == 1927 || code == 4031)
        return true;
    // Connector/C++ raises some failures with no server code but SQLSTATE class 08.
    return error.getSQLState().rfind("08", 0) == 0;
}

namespace {

struct DriverThreadScope {
    explicit DriverThreadScope(sql::Driver& d) : driver(d) { driver.threadInit(); }
    ~DriverThreadScope() { driver.threadEnd(); }
    sql::Driver& driver;
};

}  // namespace

void ensureDriverThreadInit(sql::Driver& driver) {
    thread_local DriverThreadScope scope(driver);
    (void)scope;
}

}  // namespace tracker::db
