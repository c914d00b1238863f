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

// Runs `work` on a leased session. A reused session whose connection turns out to be lost
// (the server restarted since it was last used) is dropped and the work is tried once more on
// a fresh connection; any other database error becomes Unavailable for this request.
template <typename Outcome, typename Work>
Outcome withSession(ConnectionPool& pool, Work work) {
    for (int attempt = 0; attempt < 2; ++attempt) {
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
            bool lost = isConnectionLost(error);
            if (lost)
                lease.markBroken();
            if (lost && !lease.fresh() && attempt == 0)
                continue;
            Outcome outcome;
            outcome.status = StoreStatus::Unavailable;
            outcome.message = std::string("database error ") +
                              std::to_string(error.getErrorCode()) + ": " + error.what();
            return outcome;
        }
    }
    Outcome outcome;
    outcome.status = StoreStatus::Unavailable;
    outcome.message = "database connection lost twice";
    return outcome;
}

void readSwarm(DbSession& session, const AnnounceRequest& request, std::uint32_t tid,
               std::uint32_t candidates, AnnounceOutcome& outcome) {
    sql::PreparedStatement& read =
        session.statement(request.isSeeder() ? kReadSwarmLeechers : kReadSwarm);
    std::uint32_t pivot = randomRnd();
    read.setUInt(1, tid);
    read.setUInt(2, tid);
    read.setUInt(3, pivot);
    read.setUInt(4, candidates);
    read.setUInt(5, tid);
    read.setUInt(6, pivot);
    read.setUInt(7, candidates);
    std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
    outcome.peers.reserve(std::min<std::size_t>(2 * candidates, 512));
    while (rows->next()) {
        if (rows->getInt(1) == 2) {
            outcome.counts.complete = nonNegative(rows->getInt64(2));
            outcome.counts.incomplete = nonNegative(rows->getInt64(3));
            outcome.counts.downloaded = nonNegative(rows->getInt64(4));
            continue;
        }
        auto address = protocol::PeerAddress::parse(rows->getString(5).asStdString());
        if (!address)
            continue;  // a row written by hand with a bad address: skip it
        StoredPeer peer;
        peer.port = static_cast<std::uint16_t>(rows->getUInt(2));
        peer.requiresCrypto = rows->getInt(3) != 0;
        peer.seeder = rows->getInt(4) != 0;
        peer.address = *address;
        peer.peerId = rows->getString(6).asStdString();
        peer.uid = rows->getString(7).asStdString();
        outcome.peers.push_back(std::move(peer));
    }
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
        torrent.reset();

        if (request.event == AnnounceEvent::Stopped) {
            sql::PreparedStatement& remove = session.statement(kDeletePeer);
            remove.setString(1, bytes(request.uid));
            remove.setUInt(2, tid);
            remove.executeUpdate();
            candidates = 0;  // a stopping peer needs nobody
        } else {
            bool completed = request.event == AnnounceEvent::Completed;
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
            if (completed) {
                // Counted even for a peer we had not seen (the PHP counted only known ones).
                sql::PreparedStatement& count = session.statement(kCountCompletion);
                count.setUInt(1, tid);
                count.executeUpdate();
            }
        }
        readSwarm(session, request, tid, candidates, outcome);
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
