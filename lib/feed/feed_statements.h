// The SQL the replica's feed reads: the change feeds and, for a load, the whole tables a chunk
// at a time. In one place so that tests can EXPLAIN exactly what runs. Placeholders only.
#pragma once

namespace tracker::feed::statements {

// How far the numbering has committed (migration 005): once it reads N, every number up to N
// is committed (see kChanges). Where a load starts its pulls, and how far behind a replica is.
constexpr const char* kCommittedSequence = "SELECT value FROM tracker_sequence WHERE id = 1";
// A pull: everything the feeds hold with a number in (?, ?] (three times), in one statement,
// so in one consistent read. A row of each kind (column 1), ordered by kind, then number:
//   0  the counters: 2 how far the numbering has committed (migration 005), 16 up to which
//      number tracker-cron has pruned departures and torrent tombstones (migration 008): a
//      reader behind it has missed some;
//   1  a registry change: 2 seq, 3 present, 4 tid, then the torrent's row as it is now
//      (5 infohash, 6 banned, 7 downloaded; NULL when it is gone). A tombstone, or a row no
//      longer there, is a removal;
//   2  a peer change: 2 seq, 3 present (1 written, 0 removed), 4 tid, then the peer as in
//      kLoadPeers (8 port, 9 crypt, 10 seeding, 11 ip, 12 peerId, 13 uid), 14 pid and
//      15 the row's age in seconds (as kLoadPeers'; NULL for a removal).
// Numbers are taken under the counter's row lock and held to the commit, so they commit in
// order: a read that sees the counter at N sees every change numbered up to N (the numbers
// that stamped no row, a batch of quiet re-announces, are passed over with it), and nothing
// above it. The pruning mark and the departures are seen as of the same moment, too. A peer's
// row carries the number of its latest write that changed what a replica holds (migration
// 007: a quiet re-announce keeps it), so a departure older than the row is of an earlier stay
// and one newer than it cannot exist (the row would be gone): in seq order each lands right.
// The indexes are forced: a pull always asks for the last few changes, but on a small or
// freshly pruned table the optimizer's statistics can favour a scan. One statement, not three:
// each is a round trip and some fixed work on the server, and every worker host pulls (a pull
// reads kCommittedSequence first, and this only when something is new).
constexpr const char* kChanges =
    "(SELECT 0 AS kind, c.value AS seq, NULL AS present, 0 AS tid, NULL AS infohash, "
    "NULL AS banned, NULL AS downloaded, NULL AS port, NULL AS crypt, NULL AS seeding, "
    "NULL AS ip, NULL AS peerId, NULL AS uid, NULL AS pid, NULL AS age, m.value AS pruned "
    "FROM tracker_sequence c JOIN tracker_sequence m ON m.id = 2 WHERE c.id = 1) UNION ALL "
    "(SELECT 1, f.seq, f.present = 1 AND t.tid IS NOT NULL, f.tid, t.infohash, t.banned + 0, "
    "t.downloaded, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM tracker_torrent_feed f FORCE INDEX (torrent_feed_seq) "
    "LEFT JOIN torrents t ON t.tid = f.tid AND f.present = 1 "
    "WHERE f.seq > ? AND f.seq <= ?) UNION ALL "
    "(SELECT 2, seq, 1, tid, NULL, NULL, NULL, port, crypt + 0, seeding, ip, peerId, uid, pid, "
    "UNIX_TIMESTAMP() - UNIX_TIMESTAMP(updated), NULL "
    "FROM peers FORCE INDEX (peers_seq) WHERE seq > ? AND seq <= ?) UNION ALL "
    "(SELECT 2, seq, 0, tid, NULL, NULL, NULL, 0, 0, 0, '', '', uid, 0, NULL, NULL "
    "FROM tracker_departures FORCE INDEX (departures_seq) WHERE seq > ? AND seq <= ?) "
    "ORDER BY 1, 2";

// A load, a chunk at a time in primary-key order (no chunk sorted, none held long): the
// torrents after tid ?, then the peers after pid ?, at most ? rows each. A peer comes with the
// seconds since its row was written (UNIX_TIMESTAMP of a TIMESTAMP column is its stored UTC
// value: no time zone, no hour that repeats).
constexpr const char* kLoadTorrents =
    "SELECT tid, infohash, banned + 0, downloaded FROM torrents WHERE tid > ? ORDER BY tid "
    "LIMIT ?";
constexpr const char* kLoadPeers =
    "SELECT pid, tid, port, crypt + 0, seeding, ip, peerId, uid, "
    "UNIX_TIMESTAMP() - UNIX_TIMESTAMP(updated) FROM peers WHERE pid > ? ORDER BY pid LIMIT ?";

}  // namespace tracker::feed::statements
