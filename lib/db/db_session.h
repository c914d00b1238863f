// One database connection and the prepared statements made on it, reused for as long as the
// connection lives. Used by one thread at a time (the pool's lease holder).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <cppconn/connection.h>
#include <cppconn/driver.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>

#include "config/config.h"

namespace tracker::db {

class DbSession {
  public:
    // Connects; throws sql::SQLException when the server cannot be reached.
    DbSession(sql::Driver& driver, const DatabaseConfig& database);
    DbSession(const DbSession&) = delete;
    DbSession& operator=(const DbSession&) = delete;

    // The statement for this SQL text, prepared on first use. `sql` must be a string literal
    // (statements are cached by its address): SQL is never built from request bytes.
    sql::PreparedStatement& statement(const char* sql);
    // Runs `sql` (a session setting, a string literal) the first time it is asked for on this
    // connection, and never again: a setting lasts as long as the connection.
    void setting(const char* sql);
    sql::Connection& connection() { return *connection_; }

    // When it was last handed back to the pool: an idle session is pinged before reuse.
    std::chrono::steady_clock::time_point lastUsed;
    // Its state is not known (a rollback failed): the pool closes it instead of taking it back.
    bool unusable = false;

  private:
    std::unique_ptr<sql::Connection> connection_;
    std::unordered_map<const char*, std::unique_ptr<sql::PreparedStatement>> statements_;
    std::unordered_set<const char*> settings_;
};

// True when the exception means the connection is gone (server restarted, killed, timed out):
// the session must be dropped, not reused.
bool isConnectionLost(const sql::SQLException& error);

// Connector/C++ requires threadInit() once per thread that uses the driver and threadEnd() on
// exit; this does both for the calling thread, on first use and at thread exit.
void ensureDriverThreadInit(sql::Driver& driver);

}  // namespace tracker::db
