-- 003: seeders and leechers kept on `torrents` by triggers on `peers`, so that an announce or a
-- scrape reads two integers instead of COUNTing the swarm. The triggers see every writer (our
-- workers, the cleanup, a PHP front end, hand-written SQL), so the counters stay exact.
-- Signed, so that a transient negative can never make a DELETE fail on an unsigned underflow.
ALTER TABLE torrents
    ADD COLUMN IF NOT EXISTS seeders INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS leechers INT NOT NULL DEFAULT 0;

DELIMITER //

CREATE OR REPLACE TRIGGER peers_count_insert AFTER INSERT ON peers FOR EACH ROW
BEGIN
    UPDATE torrents
       SET seeders = seeders + (NEW.residual = 0),
           leechers = leechers + (NEW.residual <> 0)
     WHERE tid = NEW.tid;
END//

CREATE OR REPLACE TRIGGER peers_count_delete AFTER DELETE ON peers FOR EACH ROW
BEGIN
    UPDATE torrents
       SET seeders = seeders - (OLD.residual = 0),
           leechers = leechers - (OLD.residual <> 0)
     WHERE tid = OLD.tid;
END//

CREATE OR REPLACE TRIGGER peers_count_update AFTER UPDATE ON peers FOR EACH ROW
BEGIN
    -- A re-announce that changes nothing but `updated` touches no torrent row.
    IF (OLD.residual = 0) <> (NEW.residual = 0) OR OLD.tid <> NEW.tid THEN
        UPDATE torrents
           SET seeders = seeders - (OLD.residual = 0),
               leechers = leechers - (OLD.residual <> 0)
         WHERE tid = OLD.tid;
        UPDATE torrents
           SET seeders = seeders + (NEW.residual = 0),
               leechers = leechers + (NEW.residual <> 0)
         WHERE tid = NEW.tid;
    END IF;
END//

DELIMITER ;

-- Count once what is there now (the triggers keep it from here). `updated` is left as it was.
UPDATE torrents t
   SET t.seeders = (SELECT COUNT(*) FROM peers p WHERE p.tid = t.tid AND p.residual = 0),
       t.leechers = (SELECT COUNT(*) FROM peers p WHERE p.tid = t.tid AND p.residual <> 0),
       t.updated = t.updated;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (3, 'seeder and leecher counters');
