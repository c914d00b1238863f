-- 003: seeders and leechers per torrent kept by triggers on `peers`, so that an announce or a
-- scrape reads two integers instead of COUNTing the swarm. The triggers see every writer (our
-- workers, the cleanup, a PHP front end, hand-written SQL), so the counters stay exact.
--
-- They live in a table of their own, not on `torrents`: inserting a peer takes a shared lock on
-- its torrent's row (the foreign key), and a trigger updating that same row then needs an
-- exclusive one, so two peers joining one swarm at once deadlocked. Here the exclusive lock is
-- on a row nobody holds shared.
-- `last_change` moves whenever a peer joins, leaves or turns seeder: with `torrents.added` and
-- `torrents.updated` it tells the cleanup when a torrent last saw activity.
-- Signed counters, so that a transient negative can never make a DELETE fail.
CREATE TABLE IF NOT EXISTS tracker_swarms (
    tid         INT UNSIGNED NOT NULL PRIMARY KEY,
    seeders     INT NOT NULL DEFAULT 0,
    leechers    INT NOT NULL DEFAULT 0,
    last_change TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    CONSTRAINT tracker_swarms_torrent FOREIGN KEY (tid) REFERENCES torrents (tid) ON DELETE CASCADE
) ENGINE=InnoDB;

DELIMITER //

CREATE OR REPLACE TRIGGER peers_count_insert AFTER INSERT ON peers FOR EACH ROW
BEGIN
    INSERT INTO tracker_swarms (tid, seeders, leechers)
         VALUES (NEW.tid, NEW.residual = 0, NEW.residual <> 0)
    ON DUPLICATE KEY UPDATE seeders = seeders + (NEW.residual = 0),
                            leechers = leechers + (NEW.residual <> 0);
END//

CREATE OR REPLACE TRIGGER peers_count_delete AFTER DELETE ON peers FOR EACH ROW
BEGIN
    UPDATE tracker_swarms
       SET seeders = seeders - (OLD.residual = 0),
           leechers = leechers - (OLD.residual <> 0)
     WHERE tid = OLD.tid;
END//

CREATE OR REPLACE TRIGGER peers_count_update AFTER UPDATE ON peers FOR EACH ROW
BEGIN
    -- A re-announce that changes nothing but `updated` touches no counter.
    IF (OLD.residual = 0) <> (NEW.residual = 0) OR OLD.tid <> NEW.tid THEN
        UPDATE tracker_swarms
           SET seeders = seeders - (OLD.residual = 0),
               leechers = leechers - (OLD.residual <> 0)
         WHERE tid = OLD.tid;
        INSERT INTO tracker_swarms (tid, seeders, leechers)
             VALUES (NEW.tid, NEW.residual = 0, NEW.residual <> 0)
        ON DUPLICATE KEY UPDATE seeders = seeders + (NEW.residual = 0),
                                leechers = leechers + (NEW.residual <> 0);
    END IF;
END//

DELIMITER ;

-- Count once what is there now; the triggers keep it from here. Re-running recounts.
INSERT INTO tracker_swarms (tid, seeders, leechers)
     SELECT t.tid,
            (SELECT COUNT(*) FROM peers p WHERE p.tid = t.tid AND p.residual = 0),
            (SELECT COUNT(*) FROM peers p WHERE p.tid = t.tid AND p.residual <> 0)
       FROM torrents t
ON DUPLICATE KEY UPDATE seeders = VALUES(seeders), leechers = VALUES(leechers),
                        last_change = last_change;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (3, 'seeder and leecher counters');
