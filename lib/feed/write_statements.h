// The SQL of the write-behind: multi-row peer upserts, completions, stops, and the batch's
// number in the peer feed. Placeholders only: no SQL is ever built from request bytes.
#pragma once

namespace tracker::feed::statements {

// Multi-row peer writes: head, then the row's placeholders once per row (comma-separated), then
// the tail. INSERT IGNORE: a row whose torrent was removed since the announce is skipped (a
// foreign-key failure becomes a warning) instead of failing the whole batch.
//
// A peer whose row is known goes in with its pid: InnoDB finds the row by its primary key and
// updates it, and no auto-increment value is spent (an INSERT ... ON DUPLICATE KEY UPDATE that
// lands on an existing row through another unique key spends one: with every re-announce
// written that way, a busy tracker would run peers.pid, an INT UNSIGNED, out in days). The
// update checks that the row is still that peer's (SQL by hand can move a row to another
// uid or torrent; it is then left alone). A row gone meanwhile comes back under the same pid.
constexpr const char* kUpdatePeersHead =
    "INSERT IGNORE INTO peers (pid, tid, uid, peerId, ip, port, crypt, residual, rnd, added, "
    "updated) VALUES ";
constexpr const char* kUpdatePeersRow = "(?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(), NOW())";
#define TRACKER_IF_SAME_PEER(COLUMN, VALUE) \
    COLUMN " = IF(uid = VALUES(uid) AND tid = VALUES(tid), " VALUE ", " COLUMN ")"
constexpr const char* kUpdatePeersTail =
    " ON DUPLICATE KEY UPDATE " TRACKER_IF_SAME_PEER("peerId", "VALUES(peerId)") ", "
    TRACKER_IF_SAME_PEER("ip", "VALUES(ip)") ", " TRACKER_IF_SAME_PEER("port", "VALUES(port)")
    ", " TRACKER_IF_SAME_PEER("crypt", "VALUES(crypt)") ", "
    TRACKER_IF_SAME_PEER("residual", "VALUES(residual)") ", "
    TRACKER_IF_SAME_PEER("updated", "NOW()");
#undef TRACKER_IF_SAME_PEER
// A peer whose row is not known (a new one): a new pid, or the row found by (uid, tid) when it
// exists after all (spending one value).
constexpr const char* kInsertPeersHead =
    "INSERT IGNORE INTO peers (tid, uid, peerId, ip, port, crypt, residual, rnd, added, updated) "
    "VALUES ";
constexpr const char* kInsertPeersRow = "(?, ?, ?, ?, ?, ?, ?, ?, NOW(), NOW())";
constexpr const char* kInsertPeersTail =
    " ON DUPLICATE KEY UPDATE peerId = VALUES(peerId), ip = VALUES(ip), port = VALUES(port), "
    "crypt = VALUES(crypt), residual = VALUES(residual), updated = NOW()";

// Held re-announces (QuietTouches), many rows at once: head, kTouchPeersRow once per row
// (separated by kTouchPeersSeparator), tail. Each row is (pid, tid, uid, residual, age): the
// announce's `left` and how many seconds ago it came. Only a row still that peer's is touched,
// and never made a seeder or a leecher by it (a write since may have; it stands); `updated`
// never goes back. Nothing a replica holds changes, so the feed's trigger keeps the row's
// number (migration 007) and no number is taken. A row gone meanwhile stays gone. The typed
// empty first part names the columns. NOW() is taken in UTC (the session's time zone is set
// for it): in a local zone, the hour that repeats when clocks go back would make the moment
// an hour off. The zone is set once per connection (DbSession::setting): nothing else this
// process writes or reads depends on it, but for NOW() into TIMESTAMP columns, which the
// repeated hour gets wrong too.
constexpr const char* kTouchTimeZone = "SET time_zone = '+00:00'";
constexpr const char* kTouchPeersHead =
    "UPDATE peers p JOIN (SELECT 0 AS pid, 0 AS tid, _binary '' AS uid, 0 AS residual, 0 AS age "
    "FROM DUAL WHERE FALSE UNION ALL ";
constexpr const char* kTouchPeersRow = "SELECT ?, ?, ?, ?, ?";
constexpr const char* kTouchPeersSeparator = " UNION ALL ";
constexpr const char* kTouchPeersTail =
    ") AS t ON p.pid = t.pid AND p.tid = t.tid AND p.uid = t.uid "
    "SET p.residual = IF((p.residual = 0) = (t.residual = 0), t.residual, p.residual), "
    "p.updated = GREATEST(p.updated, NOW() - INTERVAL t.age SECOND)";

// The rows of peers the batch does not know the pid of: head, kFindPeersRow once per peer
// (comma-separated), tail. A range of (uid, tid) lookups on the unique key, read before the
// batch's transaction takes its number.
constexpr const char* kFindPeersHead = "SELECT pid, uid, tid FROM peers WHERE (uid, tid) IN (";
constexpr const char* kFindPeersRow = "(?, ?)";
constexpr const char* kFindPeersTail = ")";

// A batch's number in the peer feed (migrations 005, 006), into this session's
// @tracker_feed_seq; the row stays locked until the batch commits, so batches commit in number
// order. The triggers on `peers` stamp the number on every row the batch writes and on every
// departure it records. Begun, numbered and ended in one round trip each (MariaDB's compound
// statements), for trackerctl's and tracker-cron's transactions; the write-behind's flushes
// carry the same begin and end in their own statements (kNumberedStepHead). The begin clears
// the variable first (no stale number ever stamps a row) and returns the number (NULL:
// tracker_sequence has no row 1). Taken under the row's
// lock, it also says how far the numbering had committed when the batch began: every number
// below it.
constexpr const char* kBeginNumbered =
    "BEGIN NOT ATOMIC SET @tracker_feed_seq = NULL; START TRANSACTION; "
    "UPDATE tracker_sequence SET value = (@tracker_feed_seq := value + 1) WHERE id = 1; "
    "SELECT @tracker_feed_seq; END";
// The variable is cleared before the commit: only the triggers of this transaction's
// statements use the number, and a connection must never go back to a pool still carrying it.
constexpr const char* kCommitNumbered =
    "BEGIN NOT ATOMIC SET @tracker_feed_seq = NULL; COMMIT; END";
constexpr const char* kRollbackNumbered =
    "BEGIN NOT ATOMIC SET @tracker_feed_seq = NULL; ROLLBACK; END";

// One statement of a numbered transaction that may also begin it (as kBeginNumbered, returning
// the number) and end it (as kCommitNumbered) in the same round trip: head, the statement,
// tail. The first two placeholders say whether it begins and whether it ends; the statement's
// own follow. With no number (no row 1, or a step sent outside a begun transaction) nothing is
// written: the signal aborts the compound statement before the statement runs.
constexpr const char* kNumberedStepHead =
    "BEGIN NOT ATOMIC DECLARE beginning BOOLEAN DEFAULT ?; DECLARE ending BOOLEAN DEFAULT ?; "
    "IF beginning THEN SET @tracker_feed_seq = NULL; START TRANSACTION; "
    "UPDATE tracker_sequence SET value = (@tracker_feed_seq := value + 1) WHERE id = 1; "
    "SELECT @tracker_feed_seq; END IF; "
    "IF @tracker_feed_seq IS NULL THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = "
    "'tracker_sequence has no row 1: run `trackerctl migrate`'; END IF; ";
constexpr const char* kNumberedStepTail =
    "; IF ending THEN SET @tracker_feed_seq = NULL; COMMIT; END IF; END";

// Completions the write-behind counts without looking at the row (see coalescePeerWrites).
constexpr const char* kAddCompletions =
    "UPDATE torrents SET downloaded = downloaded + ? WHERE tid = ?";

// Stopped peers, many at once: head, kDeletePeersRow once per peer (comma-separated), tail.
// A seek on the unique key for each; the trigger records each departure. One statement for
// what was one per peer: a site's stops come about as often as its joins. No index hint: the
// unique key is `uid` in a database that came from the PHP tracker and `uid_tid` in ours, and
// a hint naming a missing index fails the statement. Left to itself MariaDB seeks for a list
// of pairs on any table but a small one (which it scans, and locks whole until the flush
// commits, a few milliseconds), but scans any table for a list of one: one stop goes by
// kDeletePeer.
constexpr const char* kDeletePeersHead = "DELETE FROM peers WHERE (uid, tid) IN (";
constexpr const char* kDeletePeersRow = "(?, ?)";
constexpr const char* kDeletePeersTail = ")";
constexpr const char* kDeletePeer = "DELETE FROM peers WHERE uid = ? AND tid = ?";

// Run before the upsert: a peer already known as a seeder (a repeated or re-sent `completed`)
// is not counted again; a leecher or a peer never seen is.
constexpr const char* kCountCompletion =
    "UPDATE torrents SET downloaded = downloaded + 1 WHERE tid = ? AND NOT EXISTS "
    "(SELECT 1 FROM peers WHERE uid = ? AND tid = ? AND residual = 0)";

}  // namespace tracker::feed::statements
