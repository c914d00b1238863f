// The SQL of the announce and scrape path, in one place so that tests can EXPLAIN exactly what
// the store runs. Placeholders only: no SQL is ever built from request bytes.
#pragma once

namespace tracker::store::statements {

constexpr const char* kFindTorrent = "SELECT tid, banned + 0 FROM torrents WHERE infohash = ?";

// (uid, tid) is the PHP's identity of a peer in a swarm. `rnd` is drawn once, on insert, and
// places the peer in the swarm's random order (see kReadSwarm).
constexpr const char* kUpsertPeer =
    "INSERT INTO peers (tid, uid, peerId, ip, port, crypt, residual, rnd, added, updated) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NOW(), NOW()) "
    "ON DUPLICATE KEY UPDATE peerId = VALUES(peerId), ip = VALUES(ip), port = VALUES(port), "
    "crypt = VALUES(crypt), residual = VALUES(residual), updated = NOW()";

constexpr const char* kDeletePeer = "DELETE FROM peers WHERE uid = ? AND tid = ?";

constexpr const char* kCountCompletion =
    "UPDATE torrents SET downloaded = downloaded + 1 WHERE tid = ?";

// One round trip for the counts and the candidates. The counters on `torrents` are kept exact
// by triggers on `peers` (migration 003), so no COUNT runs over the swarm. The candidates are
// the next rows after a random point in the swarm's `rnd` order, wrapping round to the start:
// two index range scans of at most LIMIT rows each, whatever the swarm's size.
//
// FORCE INDEX: left to itself, the optimizer sees `tid = ?` plus ORDER BY rnd and picks ref
// access on tid alone, filtering rnd while it walks the index from the swarm's start: O(swarm)
// (18 ms in a 100,000-peer swarm) instead of a range seek on (tid, rnd) (0.2 ms).
#define TRACKER_SWARM_WINDOW(INDEX, FILTER)                                                \
    "(SELECT 2 AS part, seeders, leechers, downloaded, '' AS ip, '' AS peerId, '' AS uid " \
    "FROM torrents WHERE tid = ?) "                                                        \
    "UNION ALL (SELECT 0, port, crypt + 0, seeding, ip, peerId, uid FROM peers "           \
    "FORCE INDEX (" INDEX ") WHERE tid = ? " FILTER                                        \
    " AND rnd >= ? ORDER BY rnd LIMIT ?) "                                                 \
    "UNION ALL (SELECT 1, port, crypt + 0, seeding, ip, peerId, uid FROM peers "           \
    "FORCE INDEX (" INDEX ") WHERE tid = ? " FILTER " AND rnd < ? ORDER BY rnd LIMIT ?)"

constexpr const char* kReadSwarm = TRACKER_SWARM_WINDOW("peers_window", "");
// A seeder is handed leechers only: the (tid, seeding, rnd) index keeps that O(LIMIT) even in
// a swarm of seeders.
constexpr const char* kReadSwarmLeechers =
    TRACKER_SWARM_WINDOW("peers_seeding_window", "AND seeding = 0");
#undef TRACKER_SWARM_WINDOW

constexpr const char* kScrapeOne =
    "SELECT name, downloaded, seeders, leechers FROM torrents "
    "WHERE infohash = ? AND banned = 0";

constexpr const char* kScrapeAll =
    "SELECT infohash, name, downloaded, seeders, leechers FROM torrents WHERE banned = 0";

}  // namespace tracker::store::statements
