// Reads a load's rows a chunk at a time, ahead, on a thread of its own: every torrent, then
// every peer, in primary-key order, each chunk as of the moment its statement runs. The feed's
// thread applies one chunk while the next is read, so the database's work and the replica's
// overlap. A failed read stops the reader where it was; restart() goes on from there.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "db/connection_pool.h"
#include "swarms/swarm_replica.h"

namespace tracker::feed {

class ChunkReader {
  public:
    struct Chunk {
        std::vector<swarms::SwarmReplica::TorrentChange> torrents;
        std::vector<swarms::SwarmReplica::PeerChange> peers;
        bool last = false;  // the load's end: nothing comes after it
        // The change feed's counter read just before the chunk: its rows are at least this
        // new, and a change numbered above it may be newer than them.
        std::uint64_t committedBefore = 0;
    };

    // `ahead`: chunks read and not yet taken, at most.
    ChunkReader(db::ConnectionPool& pool, std::uint32_t rowsPerChunk, std::size_t ahead = 2);
    ~ChunkReader();
    ChunkReader(const ChunkReader&) = delete;
    ChunkReader& operator=(const ChunkReader&) = delete;

    // The next chunk, in order, waiting up to `wait` for it; none when it has not come (or
    // the read failed: see failure()).
    std::optional<Chunk> next(std::chrono::milliseconds wait);
    // Why the read stopped, when it failed.
    std::optional<std::string> failure() const;
    // After a failure: read on from the chunk that failed.
    void restart();

  private:
    void run();
    // One statement: the next chunk after the cursor. False (with `error`) when it failed.
    bool readOne(Chunk& chunk, std::string& error);

    db::ConnectionPool& pool_;
    std::uint32_t rowsPerChunk_;
    std::size_t ahead_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Chunk> ready_;
    std::optional<std::string> failure_;
    bool stopping_ = false;
    // The cursor (the reader thread's): the table being read and the last key read.
    bool readingTorrents_ = true;
    std::uint64_t after_ = 0;
    bool finished_ = false;
    std::thread thread_;
};

}  // namespace tracker::feed
