// The SQL of the announce and scrape path, in one place so that tests can EXPLAIN exactly what
// the store runs. Placeholders only: no SQL is ever built from request bytes.
#pragma once

#include "feed/write_statements.h"

namespace tracker::store::statements {

using namespace feed::statements;

// The swarm's size comes along so that a small swarm is read whole, without a random point.
constexpr const char* kFindTorrent =
    "SELECT t.tid, t.banned + 0, COALESCE(s.seeders + s.leechers, 0) FROM torrents t "
    "LEFT JOIN tracker_swarms s ON s.tid = t.tid WHERE t.infohash = ?";

// One round trip for the counts and the candidates. The counters on `torrents` are kept exact
// by triggers on `peers` in `tracker_swarms` (migration 003), so no COUNT runs over the swarm. The
// candidates are the next rows after a random point in the swarm's `rnd` order: one index range
// scan of at most LIMIT rows, whatever the swarm's size. When the point falls near the end, the
// *Wrap statement reads on from the start.
//
// FORCE INDEX: left to itself, the optimizer sees `tid = ?` plus ORDER BY rnd and picks ref
// access on tid alone, filtering rnd while it walks the index from the swarm's start: O(swarm)
// (18 ms in a 100,000-peer swarm) instead of a range seek on (tid, rnd) (0.2 ms).
#define TRACKER_PEER_COLUMNS "port, crypt + 0, seeding, ip, peerId, uid"
#define TRACKER_WINDOW(INDEX, FILTER, FROM)                                                    \
    "SELECT " TRACKER_PEER_COLUMNS " FROM peers FORCE INDEX (" INDEX ") WHERE tid = ? " FILTER \
    " AND rnd " FROM " ? ORDER BY rnd LIMIT ?"
#define TRACKER_COUNTS_AND_WINDOW(INDEX, FILTER)                                             \
    "(SELECT 1 AS part, COALESCE(s.seeders, 0), COALESCE(s.leechers, 0), t.downloaded, '', " \
    "'', '' FROM torrents t LEFT JOIN tracker_swarms s ON s.tid = t.tid WHERE t.tid = ?) "   \
    "UNION ALL (SELECT 0, " TRACKER_PEER_COLUMNS " FROM peers FORCE INDEX (" INDEX           \
    ") WHERE tid = ? " FILTER " AND rnd >= ? ORDER BY rnd LIMIT ?)"

constexpr const char* kReadSwarm = TRACKER_COUNTS_AND_WINDOW("peers_window", "");
constexpr const char* kReadSwarmWrap = TRACKER_WINDOW("peers_window", "", "<");
// A seeder is handed leechers only: the (tid, seeding, rnd) index keeps that O(LIMIT) even in
// a swarm of seeders.
constexpr const char* kReadLeechers =
    TRACKER_COUNTS_AND_WINDOW("peers_seeding_window", "AND seeding = 0");
constexpr const char* kReadLeechersWrap =
    TRACKER_WINDOW("peers_seeding_window", "AND seeding = 0", "<");

// Everything an announce reads, by info hash, in one round trip (the swarm cache's read):
//   part 2: the registry row (tid, banned) and the counts (downloaded, seeders, leechers);
//   part 1: candidates from a random point of the rnd order on;
//   part 0: candidates from the start, for when the point fell near the end (a small swarm).
// Parameters: hash; hash, pivot, limit; hash, pivot, limit. torrents is a const table (a unique
// key lookup), so the peers side is a range seek on (tid, rnd) of at most LIMIT rows.
#define TRACKER_VIEW_WINDOW(PART, INDEX, FILTER, FROM)                 \
    "(SELECT " PART                                                    \
    ", p.port, p.crypt + 0, p.seeding, 0, 0, p.ip, p.peerId, p.uid "   \
    "FROM torrents t STRAIGHT_JOIN peers p FORCE INDEX (" INDEX        \
    ") ON p.tid = t.tid "                                              \
    "WHERE t.infohash = ? AND t.banned = 0 " FILTER " AND p.rnd " FROM \
    " ? ORDER BY p.rnd "                                               \
    "LIMIT ?)"
#define TRACKER_VIEW(INDEX, FILTER)                                                   \
    "(SELECT 2 AS part, t.tid, t.banned + 0, t.downloaded, COALESCE(s.seeders, 0), "  \
    "COALESCE(s.leechers, 0), '', '', '' FROM torrents t LEFT JOIN tracker_swarms s " \
    "ON s.tid = t.tid WHERE t.infohash = ?) UNION ALL " TRACKER_VIEW_WINDOW(          \
        "1", INDEX, FILTER, ">=") " UNION ALL " TRACKER_VIEW_WINDOW("0", INDEX, FILTER, "<")

constexpr const char* kReadView = TRACKER_VIEW("peers_window", "");
constexpr const char* kReadLeechersView = TRACKER_VIEW("peers_seeding_window", "AND p.seeding = 0");
#undef TRACKER_VIEW
#undef TRACKER_VIEW_WINDOW
#undef TRACKER_COUNTS_AND_WINDOW
#undef TRACKER_WINDOW
#undef TRACKER_PEER_COLUMNS

constexpr const char* kScrapeOne =
    "SELECT t.name, t.downloaded, COALESCE(s.seeders, 0), COALESCE(s.leechers, 0) "
    "FROM torrents t LEFT JOIN tracker_swarms s ON s.tid = t.tid "
    "WHERE t.infohash = ? AND t.banned = 0";

// The full scrape, a chunk at a time in info hash order (the unique index's: no sort, and the
// order a bencoded dict's keys take): the first chunk, then the ones after the last hash read.
#define TRACKER_SCRAPE_ALL(AFTER)                                                               \
    "SELECT t.infohash, t.name, t.downloaded, COALESCE(s.seeders, 0), COALESCE(s.leechers, 0) " \
    "FROM torrents t FORCE INDEX (infohash) LEFT JOIN tracker_swarms s ON s.tid = t.tid "       \
    "WHERE t.banned = 0 " AFTER " ORDER BY t.infohash LIMIT ?"
constexpr const char* kScrapeAllFirst = TRACKER_SCRAPE_ALL("");
constexpr const char* kScrapeAll = TRACKER_SCRAPE_ALL("AND t.infohash > ?");
#undef TRACKER_SCRAPE_ALL

}  // namespace tracker::store::statements
