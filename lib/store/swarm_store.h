// What the tracker asks of its database: announce, scrape. An interface so that the request
// handling above it can be tested without a server; MysqlSwarmStore is the real one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/announce_request.h"
#include "protocol/peer_address.h"
#include "protocol/responses.h"

namespace tracker::store {

enum class StoreStatus {
    Ok,
    NotRegistered,  // #5
    Banned,         // #6
    Busy,           // every database connection busy past the wait
    Unavailable,    // the database cannot be reached or failed
};

// A peer row as read back, owning its bytes.
struct StoredPeer {
    std::string uid;
    std::string peerId;
    protocol::PeerAddress address;
    std::uint16_t port = 0;
    bool seeder = false;
    bool requiresCrypto = false;
};

struct AnnounceOutcome {
    StoreStatus status = StoreStatus::Ok;
    std::string message;  // for Busy / Unavailable: why, for the log
    protocol::SwarmCounts counts;
    std::vector<StoredPeer> peers;  // candidates; the protocol core picks from them
};

struct ScrapeOutcome {
    StoreStatus status = StoreStatus::Ok;
    std::string message;
    std::vector<protocol::ScrapeEntry> entries;  // registered, unbanned torrents only
};

class SwarmStore {
  public:
    virtual ~SwarmStore() = default;
    // Records the announce (upsert, delete on stopped, count a completion) and reads the swarm's
    // counts and about `candidates` peers around a random point of the swarm, in O(candidates).
    virtual AnnounceOutcome announce(const protocol::AnnounceRequest& request,
                                     std::uint32_t candidates) = 0;
    virtual ScrapeOutcome scrape(const std::vector<protocol::InfoHash>& infoHashes) = 0;
    virtual ScrapeOutcome scrapeAll() = 0;
};

}  // namespace tracker::store
