// A peer as the tracker hands it out (StoredPeer) and the candidates of one read of a swarm
// (PeerList): shared by the in-memory swarms, the database reads and the request handling.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "protocol/peer_address.h"

namespace tracker::swarms {

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
    std::uint32_t pid = 0;         // its row's peers.pid, when the reader knows it (0: not known)
    std::uint8_t writtenTick = 0;  // see WrittenTick: when this process last wrote the row
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

}  // namespace tracker::swarms
