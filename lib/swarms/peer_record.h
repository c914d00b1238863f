// One peer as the replica holds it: 56 bytes in place, no pointer, nothing on the heap of its
// own. A swarm keeps its peers in one array of these.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "swarms/peer.h"

namespace tracker::swarms {

struct PeerRecord {
    static constexpr std::uint8_t kV6 = 1;
    static constexpr std::uint8_t kRequiresCrypto = 2;
    static constexpr std::uint8_t kSeen = 4;  // a resync's mark (see SwarmReplica)

    std::uint32_t pid;  // its row's primary key: the write-behind updates the row by it
    std::array<char, 10> uid;
    std::uint8_t uidSize;
    std::uint8_t flags;
    std::array<char, 20> peerId;
    std::uint8_t peerIdSize;
    // WrittenTick of this process's latest write of the row. Announce threads stamp it under
    // the replica's shared lock, so it is read and written atomically.
    std::uint8_t writtenTick;
    std::array<std::uint8_t, 16> address;  // IPv4 in the first 4
    std::uint16_t port;

    std::string_view uidView() const { return {uid.data(), uidSize}; }
    void stampWritten(std::uint8_t tick) { __atomic_store_n(&writtenTick, tick, __ATOMIC_RELAXED); }

    // `seenMark` is 0 or kSeen: the replica's mark of the current resync.
    static PeerRecord from(const StoredPeer& peer, std::uint8_t seenMark) {
        PeerRecord record{};
        record.pid = peer.pid;
        std::string_view uidBytes = peer.uid.view();
        std::memcpy(record.uid.data(), uidBytes.data(), uidBytes.size());
        record.uidSize = static_cast<std::uint8_t>(uidBytes.size());
        std::string_view idBytes = peer.peerId.view();
        std::memcpy(record.peerId.data(), idBytes.data(), idBytes.size());
        record.peerIdSize = static_cast<std::uint8_t>(idBytes.size());
        record.address = peer.address.bytes;
        record.port = peer.port;
        record.writtenTick = peer.writtenTick;
        record.flags =
            static_cast<std::uint8_t>((peer.address.isV4() ? 0 : kV6) |
                                      (peer.requiresCrypto ? kRequiresCrypto : 0) | seenMark);
        return record;
    }

    StoredPeer toStored(bool seeder) const {
        StoredPeer peer;
        peer.uid.assign(uidView());
        peer.peerId.assign({peerId.data(), peerIdSize});
        peer.address.family =
            flags & kV6 ? protocol::PeerAddress::Family::V6 : protocol::PeerAddress::Family::V4;
        peer.address.bytes = address;
        peer.port = port;
        peer.seeder = seeder;
        peer.requiresCrypto = (flags & kRequiresCrypto) != 0;
        peer.pid = pid;
        peer.writtenTick = __atomic_load_n(&writtenTick, __ATOMIC_RELAXED);
        return peer;
    }
};
static_assert(sizeof(PeerRecord) == 56, "a peer record is 56 bytes");

}  // namespace tracker::swarms
