// What the tracker asks of its database: announce, scrape. An interface so that the request
// handling above it can be tested without a server; MysqlSwarmStore is the real one.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/announce_request.h"
#include "protocol/peer_address.h"
#include "protocol/responses.h"
#include "swarms/peer.h"

namespace tracker::store {

enum class StoreStatus {
    Ok,
    NotRegistered,  // #5
    Banned,         // #6
    Busy,           // every database connection busy past the wait
    Unavailable,    // the database cannot be reached or failed
};

using swarms::FixedBytes;
using swarms::PeerList;
using swarms::StoredPeer;

struct AnnounceOutcome {
    StoreStatus status = StoreStatus::Ok;
    std::string message;  // for Busy / Unavailable: why, for the log
    protocol::SwarmCounts counts;
    PeerList peers;  // candidates; the protocol core picks from them
};

struct ScrapeOutcome {
    StoreStatus status = StoreStatus::Ok;
    std::string message;
    std::vector<protocol::ScrapeEntry> entries;  // registered, unbanned torrents only
};

// Where a read of every torrent goes, a chunk at a time; false stops the read.
using ScrapeSink = std::function<bool(const std::vector<protocol::ScrapeEntry>&)>;

// How a read that returns nothing else went.
struct ReadOutcome {
    StoreStatus status = StoreStatus::Ok;
    std::string message;
};

// Where announces were answered from: how many found their swarm in the replica, in the
// swarm cache, or read it from the database.
struct AnswerSources {
    std::uint64_t replica = 0;
    std::uint64_t cache = 0;
    std::uint64_t database = 0;
    // Of the replica's: `started` announces that waited for other processes' (meetWait).
    std::uint64_t awaitedOthers = 0;
};

class SwarmStore {
  public:
    virtual ~SwarmStore() = default;
    // Records the announce (upsert, delete on stopped, count a completion) and reads the swarm's
    // counts and about `candidates` peers around a random point of the swarm, in O(candidates).
    // The store may answer from a read a moment old and write the announce a moment later (see
    // SwarmStoreOptions); it never waits on the database longer than its timeouts.
    virtual AnnounceOutcome announce(const protocol::AnnounceRequest& request,
                                     std::uint32_t candidates) = 0;
    virtual ScrapeOutcome scrape(const std::vector<protocol::InfoHash>& infoHashes) = 0;
    // Every registered, unbanned torrent in ascending info hash order (a bencoded dict's), a
    // chunk at a time: a full scrape of a big tracker is never held whole.
    virtual ReadOutcome scrapeAll(const ScrapeSink& sink) = 0;
    virtual AnswerSources answerSources() const { return {}; }
};

}  // namespace tracker::store
