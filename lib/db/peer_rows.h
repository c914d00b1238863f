// Reading a peer out of a result row: the announce's reads and the replica's feed share it.
#pragma once

#include <optional>

#include <cppconn/resultset.h>

#include "swarms/peer.h"

namespace tracker::db {

// Where a result's peer columns are (1-based).
struct PeerColumns {
    int port, crypt, seeding, ip, peerId, uid;
    int pid = 0;  // 0: the result has no pid
};

// The peer in the current row; none for a row with an unreadable address or an over-long id
// (written by hand).
inline std::optional<swarms::StoredPeer> readPeer(const sql::ResultSet& row,
                                                  const PeerColumns& at) {
    auto address = protocol::PeerAddress::parse(row.getString(at.ip).asStdString());
    if (!address)
        return std::nullopt;
    swarms::StoredPeer peer;
    peer.address = *address;
    peer.port = static_cast<std::uint16_t>(row.getUInt(at.port));
    peer.requiresCrypto = row.getInt(at.crypt) != 0;
    peer.seeder = row.getInt(at.seeding) != 0;
    if (at.pid != 0)
        peer.pid = row.getUInt(at.pid);
    if (!peer.peerId.assign(row.getString(at.peerId).asStdString()) ||
        !peer.uid.assign(row.getString(at.uid).asStdString()))
        return std::nullopt;
    return peer;
}

}  // namespace tracker::db
