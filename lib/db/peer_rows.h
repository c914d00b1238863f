// Reading a peer out of a result row: the announce's reads and the replica's feed share it.
#pragma once

#include <chrono>
#include <optional>

#include <cppconn/resultset.h>

#include "swarms/peer.h"
#include "swarms/written_tick.h"

namespace tracker::db {

// Where a result's peer columns are (1-based).
struct PeerColumns {
    int port, crypt, seeding, ip, peerId, uid;
    int pid = 0;  // 0: the result has no pid
    int age = 0;  // seconds since the row's `updated`; 0: the result has none
};

// A time no later than the database's clock when a statement about to run reads its rows' ages:
// taken before the statement, a second off because `updated` and the ages are whole seconds.
inline std::chrono::steady_clock::time_point rowAgesReadAfter() {
    return std::chrono::steady_clock::now() - std::chrono::seconds(1);
}

// The peer in the current row; none for a row with an unreadable address or an over-long id
// (written by hand). With the row's age, read at `readAt`, the peer comes with when its row was
// written (swarms::WrittenTick), whoever wrote it: a peer written a moment ago need not be
// written again at its next announce. `readAt` comes from rowAgesReadAfter(); ages past the
// longest hold stay unknown.
inline std::optional<swarms::StoredPeer> readPeer(
    const sql::ResultSet& row, const PeerColumns& at,
    std::chrono::steady_clock::time_point readAt = {}) {
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
    if (at.age != 0 && !row.isNull(at.age)) {
        std::int64_t age = row.getInt64(at.age);
        if (age >= 0 && age < swarms::WrittenTick::kLongestKnownAge.count())
            peer.writtenTick = swarms::WrittenTick::at(readAt - std::chrono::seconds(age));
    }
    return peer;
}

}  // namespace tracker::db
