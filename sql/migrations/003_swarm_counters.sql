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

-- The new side first: until the batches below have given every torrent its row, an UPDATE
-- of a row not there yet takes a gap lock (the PHP's connections read REPEATABLE READ), and an
-- insert after it in the same statement waits for another's gap lock while holding its own:
-- two PHP re-announces that turn a peer seeder at once in torrents past the last row
-- deadlocked. Inserted first, the row is there for the UPDATE (the recount puts right
-- whatever the counters held before it).
CREATE OR REPLACE TRIGGER peers_count_update AFTER UPDATE ON peers FOR EACH ROW
BEGIN
    -- A re-announce that changes nothing but `updated` touches no counter.
    IF (OLD.residual = 0) <> (NEW.residual = 0) OR OLD.tid <> NEW.tid THEN
        INSERT INTO tracker_swarms (tid, seeders, leechers)
             VALUES (NEW.tid, NEW.residual = 0, NEW.residual <> 0)
        ON DUPLICATE KEY UPDATE seeders = seeders + (NEW.residual = 0),
                                leechers = leechers + (NEW.residual <> 0);
        UPDATE tracker_swarms
           SET seeders = seeders - (OLD.residual = 0),
               leechers = leechers - (OLD.residual <> 0)
         WHERE tid = OLD.tid;
    END IF;
END//

DELIMITER ;

-- Count once what is there now; the triggers keep it from here. Re-running recounts.
-- In batches, while the site's writers go on (the mariadb client runs each statement once,
-- over everything): every torrent gets its row first; then each batch locks its rows of
-- counters, and only then counts (READ COMMITTED: everything committed so far). A writer
-- whose trigger has not yet reached a locked row is not counted and adds itself when the
-- batch commits; one that had is counted and its +1 overwritten: exact either way, and no
-- lock on `peers` is taken, so no writer waits on one or deadlocks with the count.
-- migrate: in batches of 10000 by torrents.tid
INSERT IGNORE INTO tracker_swarms (tid, seeders, leechers)
     SELECT tid, 0, 0 FROM torrents
      WHERE tid BETWEEN COALESCE(@batch_first, 0) AND COALESCE(@batch_last, 4294967295);

-- migrate: in batches of 1000 by tracker_swarms.tid
SELECT COUNT(*) FROM tracker_swarms
 WHERE tid BETWEEN COALESCE(@batch_first, 0) AND COALESCE(@batch_last, 4294967295) FOR UPDATE;
-- migrate: in batches of 1000 by tracker_swarms.tid
UPDATE tracker_swarms s
   SET seeders = (SELECT COUNT(*) FROM peers p WHERE p.tid = s.tid AND p.residual = 0),
       leechers = (SELECT COUNT(*) FROM peers p WHERE p.tid = s.tid AND p.residual <> 0),
       last_change = last_change
 WHERE s.tid BETWEEN COALESCE(@batch_first, 0) AND COALESCE(@batch_last, 4294967295);

INSERT IGNORE INTO tracker_schema (version, name) VALUES (3, 'seeder and leecher counters');
