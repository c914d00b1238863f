// The SQL of the write-behind: multi-row peer upserts, completions, stops, and the batch's
// number in the peer feed. Placeholders only: no SQL is ever built from request bytes.
#pragma once

namespace tracker::feed::statements {

// The write-behind's multi-row form of kUpsertPeer: head, then kUpsertPeersRow once per row
// (comma-separated), then tail. INSERT IGNORE: a row whose torrent was removed since the announce
// is skipped (a foreign-key failure becomes a warning) instead of failing the whole batch.
constexpr const char* kUpsertPeersHead =
    "INSERT IGNORE INTO peers (tid, uid, peerId, ip, port, crypt, residual, rnd, added, updated) "
    "VALUES ";
constexpr const char* kUpsertPeersRow = "(?, ?, ?, ?, ?, ?, ?, ?, NOW(), NOW())";
constexpr const char* kUpsertPeersTail =
    " ON DUPLICATE KEY UPDATE peerId = VALUES(peerId), ip = VALUES(ip), port = VALUES(port), "
    "crypt = VALUES(crypt), residual = VALUES(residual), updated = NOW()";

// A batch's number in the peer feed (migrations 005, 006): LAST_INSERT_ID(expr) hands the new
// value back to this session alone, and the row stays locked until the batch commits, so
// batches commit in number order. In @tracker_feed_seq, the triggers on `peers` stamp it on
// every row the batch writes and on every departure it records.
constexpr const char* kNextSequence =
    "UPDATE tracker_sequence SET value = LAST_INSERT_ID(value + 1) WHERE id = 1";
constexpr const char* kUseSequence = "SET @tracker_feed_seq = LAST_INSERT_ID()";
// After the batch's statements, before its commit: other writes on this connection take a
// number per row again.
constexpr const char* kDropSequence = "SET @tracker_feed_seq = NULL";

// Completions the write-behind counts without looking at the row (see coalescePeerWrites).
constexpr const char* kAddCompletions =
    "UPDATE torrents SET downloaded = downloaded + ? WHERE tid = ?";

constexpr const char* kDeletePeer = "DELETE FROM peers WHERE uid = ? AND tid = ?";

// Run before the upsert: a peer already known as a seeder (a repeated or re-sent `completed`)
// is not counted again; a leecher or a peer never seen is.
constexpr const char* kCountCompletion =
    "UPDATE torrents SET downloaded = downloaded + 1 WHERE tid = ? AND NOT EXISTS "
    "(SELECT 1 FROM peers WHERE uid = ? AND tid = ? AND residual = 0)";

}  // namespace tracker::feed::statements
