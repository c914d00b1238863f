// What the tracker asks of its database: announce, scrape. An interface so that the request
// handling above it can be tested without a server; MysqlSwarmStore is the real one.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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

// Up to N bytes held in place: a peer's uid (VARBINARY(10)) and peer_id (VARBINARY(20)) without
// a heap allocation per peer read.
template <std::size_t N>
class FixedBytes {
  public:
    // False (and nothing stored) when `bytes` is longer than N.
    bool assign(std::string_view bytes) {
        if (bytes.size() > N)
            return false;
        bytes.copy(data_.data(), bytes.size());
        size_ = static_cast<std::uint8_t>(bytes.size());
        return true;
    }
    std::string_view view() const { return {data_.data(), size_}; }
    std::size_t size() const { return size_; }
    operator std::string_view() const { return view(); }
    friend bool operator==(const FixedBytes& a, std::string_view b) { return a.view() == b; }

  private:
    std::array<char, N> data_{};
    std::uint8_t size_ = 0;
};

// A peer row as read back, owning its bytes.
struct StoredPeer {
    FixedBytes<10> uid;
    FixedBytes<20> peerId;
    protocol::PeerAddress address;
    std::uint16_t port = 0;
    bool seeder = false;
    bool requiresCrypto = false;
};

// The candidates of one read of a swarm. Shared, read-only: with the swarm cache on, one read
// serves every announce to that swarm for a moment.
class PeerList {
  public:
    PeerList() = default;
    explicit PeerList(std::shared_ptr<const std::vector<StoredPeer>> peers)
        : peers_(std::move(peers)) {}
    std::size_t size() const { return peers_ ? peers_->size() : 0; }
    bool empty() const { return size() == 0; }
    const StoredPeer& operator[](std::size_t i) const { return (*peers_)[i]; }
    const StoredPeer* begin() const { return peers_ ? peers_->data() : nullptr; }
    const StoredPeer* end() const { return begin() + size(); }

  private:
    std::shared_ptr<const std::vector<StoredPeer>> peers_;
};

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
    virtual ScrapeOutcome scrapeAll() = 0;
};

}  // namespace tracker::store
