-- 005: a feed of peer changes, so that each worker process can keep the swarms in memory and
-- follow the table instead of reading it on every announce (lib/feed/replica_feed.h).
--
-- Every write-behind flush takes the next number from tracker_sequence and stamps it on the
-- rows it writes (`peers.seq`) and on the peers it removes (`tracker_departures`). The flush
-- holds the sequence row's lock until it commits, so flushes commit in sequence order and a
-- reader that has seen everything up to N finds every later change with `seq > N`.
-- Migration 006's triggers do the stamping, for every writer of `peers`.
-- Additive: a default on the new column, new tables; the PHP code never sees them.
-- Online: the server adds the column in place (instantly where it can) and builds the index
-- while writers go on.
ALTER TABLE peers ADD COLUMN IF NOT EXISTS seq BIGINT UNSIGNED NOT NULL DEFAULT 0, LOCK=NONE;
ALTER TABLE peers ADD INDEX IF NOT EXISTS peers_seq (seq), LOCK=NONE;
-- 004's index for a seeder's read of leechers only (see there why it is built here). A
-- later migration that adds a column to `peers` cannot be online: it must rebuild the table.
ALTER TABLE peers ADD INDEX IF NOT EXISTS peers_seeding_window (tid, seeding, rnd), LOCK=NONE;

CREATE TABLE IF NOT EXISTS tracker_sequence (
    id    TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    value BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO tracker_sequence (id, value) VALUES (1, 0);

-- Peers removed by a `stopped` announce, by sequence number. The cleanup drops rows older than
-- an hour: a worker that falls further behind than that reloads the whole table anyway.
CREATE TABLE IF NOT EXISTS tracker_departures (
    seq BIGINT UNSIGNED NOT NULL,
    tid INT UNSIGNED NOT NULL,
    uid VARBINARY(10) NOT NULL,
    at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    KEY departures_seq (seq),
    KEY departures_at (at)
) ENGINE=InnoDB;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (5, 'peer change feed');
