-- 009: tracker-cron finds what expired through indexes instead of walking every peer and
-- every torrent (seconds at a million torrents and millions of peers, on every run):
--   peers_updated: the peers not heard from since the cutoff. Every announce moves its row's
--     entry; bench/README.md measures what that costs against what it saves.
--   swarms_empty: the torrents whose swarm is empty and has been since the cutoff, by
--     tracker_swarms.empty_since, which the counter triggers set when the last peer goes and
--     clear when one comes. Not an index on the counters themselves: those change with every
--     peer, and InnoDB checks each change of an indexed row against all its earlier versions
--     in the same transaction, so a batch of n new peers in one swarm cost n^2 (a backlog of
--     50,000 took minutes). empty_since changes only when the swarm empties or fills.
--     Every torrent gets its tracker_swarms row when it is registered (a trigger; the ones
--     without one get it here), so a torrent nobody ever announced is found the same way.
-- Built online (no lock on the tables while they build).

ALTER TABLE peers ADD INDEX IF NOT EXISTS peers_updated (updated), ALGORITHM=INPLACE, LOCK=NONE;
ALTER TABLE tracker_swarms ADD COLUMN IF NOT EXISTS empty_since TIMESTAMP NULL DEFAULT NULL,
    ALGORITHM=INPLACE, LOCK=NONE;
ALTER TABLE tracker_swarms ADD INDEX IF NOT EXISTS swarms_empty (empty_since),
    ALGORITHM=INPLACE, LOCK=NONE;

DELIMITER //

-- The counters as in 003, and empty_since with them. Each assignment to empty_since comes
-- first and reads the counters as they were, so it holds whichever order the server applies
-- the SET list in (SIMULTANEOUS_ASSIGNMENT or not).
CREATE OR REPLACE TRIGGER peers_count_insert AFTER INSERT ON peers FOR EACH ROW
BEGIN
    INSERT INTO tracker_swarms (tid, seeders, leechers)
         VALUES (NEW.tid, NEW.residual = 0, NEW.residual <> 0)
    ON DUPLICATE KEY UPDATE
        empty_since = IF(seeders + leechers + 1 > 0, NULL, COALESCE(empty_since, NOW())),
        seeders = seeders + (NEW.residual = 0),
        leechers = leechers + (NEW.residual <> 0);
END//

CREATE OR REPLACE TRIGGER peers_count_delete AFTER DELETE ON peers FOR EACH ROW
BEGIN
    UPDATE tracker_swarms
       SET empty_since = IF(seeders + leechers - 1 > 0, NULL, COALESCE(empty_since, NOW())),
           seeders = seeders - (OLD.residual = 0),
           leechers = leechers - (OLD.residual <> 0)
     WHERE tid = OLD.tid;
END//

-- The new side first, as in 003: an UPDATE of a counter row not there (a torrent this
-- migration has not given its row yet) takes a gap lock, and an insert after it could close a
-- deadlock with another statement doing the same.
CREATE OR REPLACE TRIGGER peers_count_update AFTER UPDATE ON peers FOR EACH ROW
BEGIN
    -- A re-announce that changes nothing but `updated` touches no counter.
    IF (OLD.residual = 0) <> (NEW.residual = 0) OR OLD.tid <> NEW.tid THEN
        INSERT INTO tracker_swarms (tid, seeders, leechers)
             VALUES (NEW.tid, NEW.residual = 0, NEW.residual <> 0)
        ON DUPLICATE KEY UPDATE
            empty_since = IF(seeders + leechers + 1 > 0, NULL, COALESCE(empty_since, NOW())),
            seeders = seeders + (NEW.residual = 0),
            leechers = leechers + (NEW.residual <> 0);
        UPDATE tracker_swarms
           SET empty_since = IF(seeders + leechers - 1 > 0, NULL, COALESCE(empty_since, NOW())),
               seeders = seeders - (OLD.residual = 0),
               leechers = leechers - (OLD.residual <> 0)
         WHERE tid = OLD.tid;
    END IF;
END//

CREATE OR REPLACE TRIGGER torrents_swarm_insert AFTER INSERT ON torrents FOR EACH ROW
BEGIN
    INSERT IGNORE INTO tracker_swarms (tid, seeders, leechers, empty_since)
         VALUES (NEW.tid, 0, 0, NOW());
END//

DELIMITER ;

-- Empty since its last change; a torrent without a row, since it was registered or last
-- updated (a completion, a ban): what the cleanup's rule counts from.
-- In batches, so that no writer waits on more than one batch of counters.
-- migrate: in batches of 5000 by tracker_swarms.tid
UPDATE tracker_swarms SET empty_since = IF(seeders + leechers > 0, NULL, last_change),
                          last_change = last_change
 WHERE tid BETWEEN COALESCE(@batch_first, 0) AND COALESCE(@batch_last, 4294967295);
-- migrate: in batches of 10000 by torrents.tid
INSERT IGNORE INTO tracker_swarms (tid, seeders, leechers, empty_since)
     SELECT tid, 0, 0, GREATEST(added, updated) FROM torrents
      WHERE tid BETWEEN COALESCE(@batch_first, 0) AND COALESCE(@batch_last, 4294967295);

INSERT IGNORE INTO tracker_schema (version, name) VALUES (9, 'cleanup indexes');
