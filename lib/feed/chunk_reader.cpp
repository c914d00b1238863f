#include "feed/chunk_reader.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "db/peer_rows.h"
#include "db/session_retry.h"
#include "feed/feed_statements.h"

namespace tracker::feed {
namespace {

using db::DbSession;
using db::DbStatus;
using swarms::SwarmReplica;

constexpr db::PeerColumns kLoadColumns{3, 4, 5, 6, 7, 8, 1, 9};  // kLoadPeers' peer

struct Read {
    DbStatus status = DbStatus::Ok;
    std::string message;
    std::size_t rows = 0;
    std::uint64_t last = 0;  // the chunk's last tid or pid
};

void readTorrents(DbSession& session, std::uint64_t after, std::uint32_t limit, Read& read,
                  ChunkReader::Chunk& into) {
    sql::PreparedStatement& statement = session.statement(statements::kLoadTorrents);
    statement.setUInt64(1, after);
    statement.setUInt(2, limit);
    std::unique_ptr<sql::ResultSet> rows(statement.executeQuery());
    into.torrents.reserve(rows->rowsCount());
    while (rows->next()) {
        ++read.rows;
        read.last = rows->getUInt64(1);
        SwarmReplica::TorrentChange torrent;
        torrent.tid = rows->getUInt(1);
        std::string hash = rows->getString(2).asStdString();
        if (hash.size() != torrent.infoHash.size())
            continue;
        std::copy(hash.begin(), hash.end(), torrent.infoHash.begin());
        torrent.banned = rows->getInt(3) != 0;
        torrent.downloaded = rows->getInt64(4);
        into.torrents.push_back(torrent);
    }
}

void readPeers(DbSession& session, std::uint64_t after, std::uint32_t limit, Read& read,
               ChunkReader::Chunk& into) {
    sql::PreparedStatement& statement = session.statement(statements::kLoadPeers);
    statement.setUInt64(1, after);
    statement.setUInt(2, limit);
    const auto readAt = db::rowAgesReadAfter();
    std::unique_ptr<sql::ResultSet> rows(statement.executeQuery());
    into.peers.reserve(rows->rowsCount());
    while (rows->next()) {
        ++read.rows;
        read.last = rows->getUInt64(1);
        // A peer written a moment before a restart is not written again at its next announce.
        auto peer = db::readPeer(*rows, kLoadColumns, readAt);
        if (!peer)
            continue;
        into.peers.push_back({true, rows->getUInt(2), *peer});
    }
}

}  // namespace

ChunkReader::ChunkReader(db::ConnectionPool& pool, std::uint32_t rowsPerChunk, std::size_t ahead)
    : pool_(pool), rowsPerChunk_(rowsPerChunk), ahead_(std::max<std::size_t>(ahead, 1)) {
    thread_ = std::thread([this] { run(); });
}

ChunkReader::~ChunkReader() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
}

bool ChunkReader::readOne(Chunk& chunk, std::string& error) {
    Read read = db::withSession<Read>(pool_, [&](DbSession& session) {
        Read result;
        chunk = Chunk{};  // a retried statement starts the chunk again
        std::unique_ptr<sql::ResultSet> counter(
            session.statement(statements::kCommittedSequence).executeQuery());
        if (!counter->next())
            throw sql::SQLException("tracker_sequence row 1 is missing (run `trackerctl migrate`)");
        chunk.committedBefore = counter->getUInt64(1);
        if (readingTorrents_)
            readTorrents(session, after_, rowsPerChunk_, result, chunk);
        else
            readPeers(session, after_, rowsPerChunk_, result, chunk);
        return result;
    });
    if (read.status != DbStatus::Ok) {
        error = read.message;
        return false;
    }
    after_ = read.last;
    if (read.rows < rowsPerChunk_) {  // that table is done
        after_ = 0;
        if (readingTorrents_)
            readingTorrents_ = false;
        else
            chunk.last = finished_ = true;
    }
    return true;
}

void ChunkReader::run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_ && !finished_) {
        changed_.wait(lock, [this] { return stopping_ || (!failure_ && ready_.size() < ahead_); });
        if (stopping_)
            return;
        lock.unlock();
        Chunk chunk;
        std::string error;
        bool ok = readOne(chunk, error);
        lock.lock();
        if (ok)
            ready_.push_back(std::move(chunk));
        else
            failure_ = error;
        changed_.notify_all();
    }
}

std::optional<ChunkReader::Chunk> ChunkReader::next(std::chrono::milliseconds wait) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, wait, [this] { return !ready_.empty() || failure_.has_value(); });
    if (ready_.empty())
        return std::nullopt;
    Chunk chunk = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();  // room for the next one
    return chunk;
}

std::optional<std::string> ChunkReader::failure() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failure_;
}

void ChunkReader::restart() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        failure_.reset();
    }
    changed_.notify_all();
}

}  // namespace tracker::feed
