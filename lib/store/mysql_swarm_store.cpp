#include "store/mysql_swarm_store.h"

#include "store/swarm_statements.h"

#include <algorithm>
#include <random>

namespace tracker::store {
namespace {

using namespace statements;

using protocol::AnnounceEvent;
using protocol::AnnounceRequest;

sql::SQLString bytes(std::string_view data) {
    return sql::SQLString(data.data(), data.size());
}

std::uint32_t randomRnd() {
    thread_local std::mt19937 rng{std::random_device{}()};
    // 0 is what a row inserted by the PHP front end gets; a trigger replaces it (migration 003).
    return std::uniform_int_distribution<std::uint32_t>(1, 0xffffffffu)(rng);
}

std::int64_t nonNegative(std::int64_t value) {
    return std::max<std::int64_t>(value, 0);
}

StoreStatus statusFor(ConnectionPool::LeaseError error) {
    return error == ConnectionPool::LeaseError::Busy ? StoreStatus::Busy : StoreStatus::Unavailable;
}

// InnoDB picked this statement as a deadlock victim and rolled it back whole, so trying again
// is safe and quick. (A lock-wait timeout is not retried: it has already cost the request
// innodb_lock_wait_timeout seconds.)
bool isTransientConflict(const sql::SQLException& error) {
    return error.getErrorCode() == 1213;
}

// Runs `work` on a leased session. A reused session whose connection turns out to be lost
// (the server restarted since it was last used) is dropped and the work is tried once more on
// a fresh connection; a deadlock victim is tried again; any other database error becomes
// Unavailable for this request.
template <typename Outcome, typename Work>
Outcome withSession(ConnectionPool& pool, Work work) {
    constexpr int kAttempts = 3;
    std::string lastError;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        auto leased = pool.acquire();
        if (!leased.lease) {
            Outcome outcome;
            outcome.status = statusFor(leased.error);
            outcome.message = leased.message;
            return outcome;
        }
        ConnectionPool::Lease& lease = *leased.lease;
        try {
            return work(lease.session());
        } catch (const sql::SQLException& error) {
            lastError = std::string("database error ") + std::to_string(error.getErrorCode()) +
                        ": " + error.what();
            bool lost = isConnectionLost(error);
            if (lost)
                lease.markBroken();
            bool retry = (lost && !lease.fresh()) || isTransientConflict(error);
            if (!retry)
                break;
        }
    }
    Outcome outcome;
    outcome.status = StoreStatus::Unavailable;
    outcome.message = lastError;
    return outcome;
}

StoredPeer toPeer(const sql::ResultSet& row, int firstColumn) {
    StoredPeer peer;
    peer.port = static_cast<std::uint16_t>(row.getUInt(firstColumn));
    peer.requiresCrypto = row.getInt(firstColumn + 1) != 0;
    peer.seeder = row.getInt(firstColumn + 2) != 0;
    peer.peerId = row.getString(firstColumn + 4).asStdString();
    peer.uid = row.getString(firstColumn + 5).asStdString();
    return peer;
}

// Appends the peers in `rows` (columns from firstColumn: port, crypt, seeding, ip, peerId, uid).
// A row with an unreadable address (written by hand) is skipped.
void appendPeer(const sql::ResultSet& rows, int firstColumn, std::vector<StoredPeer>& peers) {
    auto address = protocol::PeerAddress::parse(rows.getString(firstColumn + 3).asStdString());
    if (!address)
        return;
    StoredPeer peer = toPeer(rows, firstColumn);
    peer.address = *address;
    peers.push_back(std::move(peer));
}

// The counts, and `candidates` peers from a random point of the swarm's rnd order on. A swarm
// no bigger than that is read whole from its start; otherwise the read wraps round to the
// start in a second, rare query when the random point fell near the end.
void readSwarm(DbSession& session, const AnnounceRequest& request, std::uint32_t tid,
               std::uint32_t candidates, std::int64_t swarmBefore, AnnounceOutcome& outcome) {
    bool leechersOnly = request.isSeeder();
    std::uint32_t pivot = swarmBefore + 1 <= candidates ? 0 : randomRnd();
    sql::PreparedStatement& read = session.statement(leechersOnly ? kReadLeechers : kReadSwarm);
    read.setUInt(1, tid);
    read.setUInt(2, tid);
    read.setUInt(3, pivot);
    read.setUInt(4, candidates);
    std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
    outcome.peers.reserve(candidates);
    while (rows->next()) {
        if (rows->getInt(1) == 1) {
            outcome.counts.complete = nonNegative(rows->getInt64(2));
            outcome.counts.incomplete = nonNegative(rows->getInt64(3));
            outcome.counts.downloaded = nonNegative(rows->getInt64(4));
        } else {
            appendPeer(*rows, 2, outcome.peers);
        }
    }
    rows.reset();
    if (pivot == 0 || outcome.peers.size() >= candidates)
        return;

    sql::PreparedStatement& wrap =
        session.statement(leechersOnly ? kReadLeechersWrap : kReadSwarmWrap);
    wrap.setUInt(1, tid);
    wrap.setUInt(2, pivot);
    wrap.setUInt(3, candidates - static_cast<std::uint32_t>(outcome.peers.size()));
    std::unique_ptr<sql::ResultSet> wrapped(wrap.executeQuery());
    while (wrapped->next())
        appendPeer(*wrapped, 1, outcome.peers);
}

}  // namespace

AnnounceOutcome MysqlSwarmStore::announce(const AnnounceRequest& request,
                                          std::uint32_t candidates) {
    return withSession<AnnounceOutcome>(pool_, [&](DbSession& session) {
        AnnounceOutcome outcome;
        sql::PreparedStatement& find = session.statement(kFindTorrent);
        find.setString(1, bytes(protocol::view(request.infoHash)));
        std::unique_ptr<sql::ResultSet> torrent(find.executeQuery());
        if (!torrent->next()) {
            outcome.status = StoreStatus::NotRegistered;
            return outcome;
        }
        std::uint32_t tid = torrent->getUInt(1);
        if (torrent->getInt(2) != 0) {
            outcome.status = StoreStatus::Banned;
            return outcome;
        }
        std::int64_t swarmBefore = torrent->getInt64(3);
        torrent.reset();

        if (request.event == AnnounceEvent::Stopped) {
            sql::PreparedStatement& remove = session.statement(kDeletePeer);
            remove.setString(1, bytes(request.uid));
            remove.setUInt(2, tid);
            remove.executeUpdate();
            candidates = 0;  // a stopping peer needs nobody
        } else {
            bool completed = request.event == AnnounceEvent::Completed;
            if (completed) {
                // Counted even for a peer we had not seen (the PHP counted only known ones),
                // but once per peer: before the upsert, while a seeder's row still says so.
                sql::PreparedStatement& count = session.statement(kCountCompletion);
                count.setUInt(1, tid);
                count.setString(2, bytes(request.uid));
                count.setUInt(3, tid);
                count.executeUpdate();
            }
            std::string ip = request.address.toString();
            sql::PreparedStatement& upsert = session.statement(kUpsertPeer);
            upsert.setUInt(1, tid);
            upsert.setString(2, bytes(request.uid));
            upsert.setString(3, bytes(protocol::view(request.peerId)));
            upsert.setString(4, bytes(ip));
            upsert.setUInt(5, request.port);
            upsert.setInt(6, request.requireCrypto ? 1 : 0);
            upsert.setUInt64(7, completed ? 0 : request.left);
            upsert.setUInt(8, randomRnd());
            upsert.executeUpdate();
        }
        readSwarm(session, request, tid, candidates, swarmBefore, outcome);
        return outcome;
    });
}

ScrapeOutcome MysqlSwarmStore::scrape(const std::vector<protocol::InfoHash>& infoHashes) {
    return withSession<ScrapeOutcome>(pool_, [&](DbSession& session) {
        ScrapeOutcome outcome;
        sql::PreparedStatement& find = session.statement(kScrapeOne);
        for (const protocol::InfoHash& hash : infoHashes) {
            find.setString(1, bytes(protocol::view(hash)));
            std::unique_ptr<sql::ResultSet> row(find.executeQuery());
            if (!row->next())
                continue;
            protocol::ScrapeEntry entry;
            entry.infoHash = hash;
            entry.name = row->getString(1).asStdString();
            entry.counts.downloaded = nonNegative(row->getInt64(2));
            entry.counts.complete = nonNegative(row->getInt64(3));
            entry.counts.incomplete = nonNegative(row->getInt64(4));
            outcome.entries.push_back(std::move(entry));
        }
        return outcome;
    });
}

ScrapeOutcome MysqlSwarmStore::scrapeAll() {
    return withSession<ScrapeOutcome>(pool_, [&](DbSession& session) {
        ScrapeOutcome outcome;
        std::unique_ptr<sql::ResultSet> rows(session.statement(kScrapeAll).executeQuery());
        while (rows->next()) {
            std::string hash = rows->getString(1).asStdString();
            if (hash.size() != 20)
                continue;
            protocol::ScrapeEntry entry;
            std::copy(hash.begin(), hash.end(), entry.infoHash.begin());
            entry.name = rows->getString(2).asStdString();
            entry.counts.downloaded = nonNegative(rows->getInt64(3));
            entry.counts.complete = nonNegative(rows->getInt64(4));
            entry.counts.incomplete = nonNegative(rows->getInt64(5));
            outcome.entries.push_back(std::move(entry));
        }
        return outcome;
    });
}

}  // namespace tracker::store
