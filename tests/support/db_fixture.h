// What the store's integration tests share: the test database's settings (from the
// environment that tests/run sets), a direct connection for setting up and checking rows, and
// helpers to make announces.
#pragma once

#include <cstdlib>
#include <memory>
#include <random>
#include <string>

#include <cppconn/driver.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include "config/config.h"
#include "db/db_session.h"
#include "protocol/announce_request.h"

namespace itest {

// The database tests/run started: TRACKER_TEST_DB_SOCKET (unix socket), TRACKER_TEST_DB_NAME.
inline tracker::DatabaseConfig testDatabase() {
    tracker::DatabaseConfig db;
    const char* socket = std::getenv("TRACKER_TEST_DB_SOCKET");
    const char* name = std::getenv("TRACKER_TEST_DB_NAME");
    if (socket == nullptr || name == nullptr) {
        throw std::runtime_error(
            "TRACKER_TEST_DB_SOCKET and TRACKER_TEST_DB_NAME are not set: run these tests "
            "through tests/run, which starts a private MariaDB");
    }
    db.socket = socket;
    db.name = name;
    db.user = "root";
    db.password = "";
    return db;
}

// A plain connection for test set-up and checks, apart from the pool under test.
class Sql {
  public:
    Sql() {
        auto* driver = get_driver_instance();
        session_ = std::make_unique<tracker::db::DbSession>(*driver, testDatabase());
    }
    void exec(const std::string& text) {
        std::unique_ptr<sql::Statement> statement(session_->connection().createStatement());
        statement->execute(text);
    }
    long long scalar(const std::string& text) {
        std::unique_ptr<sql::Statement> statement(session_->connection().createStatement());
        std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(text));
        if (!rows->next())
            throw std::runtime_error("no row from: " + text);
        return rows->getInt64(1);
    }
    std::string text(const std::string& query) {
        std::unique_ptr<sql::Statement> statement(session_->connection().createStatement());
        std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(query));
        if (!rows->next())
            throw std::runtime_error("no row from: " + query);
        return rows->getString(1).asStdString();
    }
    sql::Connection& connection() { return session_->connection(); }

  private:
    std::unique_ptr<tracker::db::DbSession> session_;
};

inline std::string randomBytes(std::size_t n) {
    static std::mt19937_64 rng{std::random_device{}()};
    std::string out(n, '\0');
    for (auto& c : out)
        c = static_cast<char>(rng() & 0xff);
    return out;
}

inline std::string hex(std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// Registers a torrent with a fresh random info hash; returns the hash and its tid.
struct Torrent {
    tracker::protocol::InfoHash hash{};
    long long tid = 0;
};

inline Torrent registerTorrent(Sql& db, const std::string& name, bool banned = false) {
    Torrent torrent;
    std::string raw = randomBytes(20);
    std::copy(raw.begin(), raw.end(), torrent.hash.begin());
    db.exec("INSERT INTO torrents (infohash, name, banned) VALUES (UNHEX('" + hex(raw) + "'), '" +
            name + "', " + (banned ? "1" : "0") + ")");
    torrent.tid = db.scalar("SELECT tid FROM torrents WHERE infohash = UNHEX('" + hex(raw) + "')");
    return torrent;
}

// An announce as parseAnnounce would produce it.
inline tracker::protocol::AnnounceRequest announceFor(const Torrent& torrent,
                                                      const std::string& uid, const std::string& ip,
                                                      std::uint64_t left) {
    tracker::protocol::AnnounceRequest request;
    request.infoHash = torrent.hash;
    std::string peerId = randomBytes(20);
    std::copy(peerId.begin(), peerId.end(), request.peerId.begin());
    request.port = 6881;
    request.left = left;
    request.uid = uid;
    request.address = *tracker::protocol::PeerAddress::parse(ip);
    request.connectionAddress = request.address;
    request.numwant = 50;
    return request;
}

}  // namespace itest
