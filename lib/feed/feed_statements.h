// The SQL the replica's feed reads: the change feeds and, for a load, the whole tables a chunk
// at a time. In one place so that tests can EXPLAIN exactly what runs. Placeholders only.
#pragma once

namespace tracker::feed::statements {

// How far the numbering has committed (migration 005): once it reads N, every number up to N
// is committed, so the feeds read up to N miss nothing.
constexpr const char* kCommittedSequence = "SELECT value FROM tracker_sequence WHERE id = 1";
// Up to which number tracker-cron has pruned departures and torrent tombstones (migration
// 008): a reader behind it has missed some.
constexpr const char* kPrunedThrough = "SELECT value FROM tracker_sequence WHERE id = 2";

// The registry's changes with a number in (?, ?], oldest first: seq, present, tid, then the
// torrent's row as it is now (NULL when it is gone). A tombstone, or a row no longer there,
// is a removal.
constexpr const char* kTorrentFeed =
    "SELECT f.seq, f.present = 1 AND t.tid IS NOT NULL, f.tid, t.infohash, t.banned + 0, "
    "t.downloaded FROM tracker_torrent_feed f FORCE INDEX (torrent_feed_seq) "
    "LEFT JOIN torrents t ON t.tid = f.tid AND f.present = 1 "
    "WHERE f.seq > ? AND f.seq <= ? ORDER BY f.seq";

// The peers' changes with a number in (?, ?] (twice), oldest first. Columns: seq, present
// (1 written, 0 removed), tid, then the peer as in kLoadPeers, then pid and the row's age in
// seconds (as kLoadPeers'; NULL for a removal). A peer's row carries the number of its latest
// write that changed what a replica holds (migration 007: a quiet re-announce keeps it), so a
// departure older than the row is of an earlier stay and one newer than it cannot exist (the
// row would be gone): in seq order each lands right. The indexes are
// forced: a pull always asks for the last few changes, but on a small or freshly pruned table
// the optimizer's statistics can favour a scan.
constexpr const char* kPeerFeed =
    "(SELECT seq, 1 AS present, tid, port, crypt + 0, seeding, ip, peerId, uid, pid, "
    "UNIX_TIMESTAMP() - UNIX_TIMESTAMP(updated) "
    "FROM peers FORCE INDEX (peers_seq) WHERE seq > ? AND seq <= ?) UNION ALL "
    "(SELECT seq, 0, tid, 0, 0, 0, '', '', uid, 0, NULL "
    "FROM tracker_departures FORCE INDEX (departures_seq) WHERE seq > ? AND seq <= ?) "
    "ORDER BY 1";

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
