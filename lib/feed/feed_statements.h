// The SQL the replica's feed reads: the change feed and the whole tables for a reload. In one
// place so that tests can EXPLAIN exactly what runs.
#pragma once

namespace tracker::feed::statements {

// The peer feed: every change committed after sequence number ?, oldest first. Columns: seq,
// present (1 written, 0 removed), tid, then the peer as in kReplicaPeers. A peer's row carries
// the number of its latest write that changed what a replica holds (migration 007: a quiet
// re-announce keeps it), so a departure older than the row is of an earlier stay and one newer
// than it cannot exist (the row would be gone): in seq order each lands right. The indexes are
// forced: a pull always asks for the last few changes, but on a small or freshly pruned table
// the optimizer's statistics can favour a scan.
constexpr const char* kPeerFeed =
    "(SELECT seq, 1 AS present, tid, port, crypt + 0, seeding, ip, peerId, uid "
    "FROM peers FORCE INDEX (peers_seq) WHERE seq > ?) UNION ALL "
    "(SELECT seq, 0, tid, 0, 0, 0, '', '', uid "
    "FROM tracker_departures FORCE INDEX (departures_seq) WHERE seq > ?) ORDER BY 1";

// A reload, in one consistent snapshot: the last committed sequence number, the registry, then
// the peers a chunk at a time (by primary key, so no chunk is sorted or held long).
constexpr const char* kReplicaSequence = "SELECT value FROM tracker_sequence WHERE id = 1";
constexpr const char* kReplicaTorrents =
    "SELECT tid, infohash, banned + 0, downloaded FROM torrents";
constexpr const char* kReplicaPeers =
    "SELECT pid, tid, port, crypt + 0, seeding, ip, peerId, uid FROM peers WHERE pid > ? "
    "ORDER BY pid LIMIT ?";

}  // namespace tracker::feed::statements
