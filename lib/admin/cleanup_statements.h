// The SQL of tracker-cron's cleanup, in one place so that tests can EXPLAIN what it runs.
// Placeholders only. Every batch is found through an index (migration 009), so a run that
// finds nothing to do costs a few index lookups, whatever the size of the tables.
#pragma once

namespace tracker::admin::statements {

// Under READ COMMITTED a DELETE keeps its locks only on the rows it removes; under REPEATABLE
// READ it would hold next-key locks on the live peers around them until it commits, making
// those peers' announces wait. Statement-based binary logging refuses READ COMMITTED writes on
// InnoDB (error 1665), so such a server keeps its default level.
constexpr const char* kCanReadCommitted = "SELECT @@log_bin = 0 OR @@binlog_format <> 'STATEMENT'";
constexpr const char* kReadCommitted = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

constexpr const char* kTakeLock = "SELECT GET_LOCK(?, ?)";
constexpr const char* kLockHolder = "SELECT IS_USED_LOCK(?)";
constexpr const char* kReleaseLock = "SELECT RELEASE_LOCK(?)";

// Taken once, so that every batch (and a dry run's count) judges rows against the same instant.
constexpr const char* kCutoffs =
    "SELECT NOW() - INTERVAL ? SECOND, NOW() - INTERVAL ? DAY, NOW() - INTERVAL 1 HOUR";

// Expired peers: every announce (ours and the PHP's) sets `updated`, so it is when the peer was
// last heard from. A batch is the `?` oldest of them, deleted by primary key and checked again
// (a peer that announced meanwhile is kept). Each DELETE is its own transaction, ordered on a
// unique key: deterministic for statement-based replication.
constexpr const char* kDeleteExpiredPeers =
    "DELETE p FROM peers p JOIN (SELECT pid FROM peers FORCE INDEX (peers_updated) "
    "WHERE updated < ? ORDER BY updated, pid LIMIT ?) AS batch ON batch.pid = p.pid "
    "WHERE p.updated < ?";
constexpr const char* kCountExpiredPeers =
    "SELECT COUNT(*) FROM peers FORCE INDEX (peers_updated) WHERE updated < ?";

// Dead torrents: a swarm that has been empty since before the cutoff (tracker_swarms'
// `empty_since`, which the counter triggers set when the last peer leaves and clear when one
// joins; migration 009 gives every torrent its row at registration), no peer row at all, and
// no change to the torrent's own row (a completion, a ban, a rename move `updated`) since the
// cutoff either. Banned torrents are kept: the row is the ban. The candidates come from the
// swarms_empty index in tid order, `?`
// after the previous batch: the first statement finds where the batch ends, the DELETE takes
// that range of candidates and checks each again.
#define TRACKER_IDLE_SWARMS \
    "SELECT tid FROM tracker_swarms FORCE INDEX (swarms_empty) WHERE empty_since < ?"
#define TRACKER_DEAD_ROW                                                                     \
    "t.banned = 0 AND GREATEST(t.added, t.updated) < ? AND NOT EXISTS (SELECT 1 FROM peers " \
    "WHERE peers.tid = t.tid)"
constexpr const char* kNextIdleSwarms =
    "SELECT MAX(tid) FROM (" TRACKER_IDLE_SWARMS " AND tid > ? ORDER BY tid LIMIT ?) AS batch";
constexpr const char* kDeleteDeadTorrents =
    "DELETE t FROM torrents t JOIN (" TRACKER_IDLE_SWARMS
    " AND tid > ? AND tid <= ?) AS batch ON batch.tid = t.tid WHERE " TRACKER_DEAD_ROW;
constexpr const char* kCountDeadTorrents =
    "SELECT COUNT(*) FROM torrents t JOIN (" TRACKER_IDLE_SWARMS
    ") AS idle ON idle.tid = t.tid WHERE " TRACKER_DEAD_ROW;
#undef TRACKER_DEAD_ROW
#undef TRACKER_IDLE_SWARMS

// The change feeds' records of what was removed (migrations 005, 008), kept an hour: a worker
// further behind than that reads everything again. Pruned in batches by sequence number, each
// in one transaction with the mark (tracker_sequence row 2) raised first to the batch's last
// number: a worker that reads the mark after its feed read learns that it missed them.
constexpr const char* kLastOldDeparture =
    "SELECT MAX(seq) FROM tracker_departures FORCE INDEX (departures_at) WHERE at < ?";
constexpr const char* kNextDepartures =
    "SELECT MAX(seq) FROM (SELECT seq FROM tracker_departures FORCE INDEX (departures_seq) "
    "WHERE seq <= ? ORDER BY seq LIMIT ?) AS batch";
constexpr const char* kDeleteDepartures = "DELETE FROM tracker_departures WHERE seq <= ?";
constexpr const char* kNextTombstones =
    "SELECT MAX(tid), MAX(seq) FROM (SELECT tid, seq FROM tracker_torrent_feed FORCE INDEX "
    "(torrent_feed_gone) WHERE present = 0 AND tid > ? AND at < ? ORDER BY tid LIMIT ?) AS batch";
constexpr const char* kDeleteTombstones =
    "DELETE FROM tracker_torrent_feed WHERE present = 0 AND tid > ? AND tid <= ? AND at < ?";
constexpr const char* kMarkPruned =
    "UPDATE tracker_sequence SET value = GREATEST(value, ?) WHERE id = 2";

}  // namespace tracker::admin::statements
