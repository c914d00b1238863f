-- 004: O(numwant) random peer selection without ORDER BY RAND(). Each peer gets a random `rnd`
-- when inserted; an announce reads the rows after a random point in (tid, rnd) order. `seeding`
-- lets a seeder read leechers only through (tid, seeding, rnd), even in a swarm of seeders.
-- New columns have defaults and `seeding` is generated, so inserts naming their columns (the
-- PHP's) are unaffected. All of it online: the columns are instant (`seeding` is VIRTUAL and
-- indexed: a stored one would make the server copy the table under a write lock), the
-- indexes are built while writers go on, and the rows get their `rnd` in short batches.
ALTER TABLE peers ADD COLUMN IF NOT EXISTS rnd INT UNSIGNED NOT NULL DEFAULT 0, LOCK=NONE;
-- (The server adds a virtual column in place only in an ALTER of its own.)
ALTER TABLE peers ADD COLUMN IF NOT EXISTS seeding TINYINT(1) AS (residual = 0) VIRTUAL, LOCK=NONE;

DELIMITER //

-- Rows inserted without an `rnd` (by the PHP front end) still get a random place.
CREATE OR REPLACE TRIGGER peers_fill_rnd BEFORE INSERT ON peers FOR EACH ROW
BEGIN
    IF NEW.rnd = 0 THEN
        SET NEW.rnd = 1 + FLOOR(RAND() * 4294967294);
    END IF;
END//

DELIMITER ;

-- migrate: in batches of 5000 by peers.pid
UPDATE peers SET rnd = 1 + FLOOR(RAND() * 4294967294), updated = updated
 WHERE rnd = 0 AND pid BETWEEN COALESCE(@batch_first, 0) AND COALESCE(@batch_last, 4294967295);

ALTER TABLE peers ADD INDEX IF NOT EXISTS peers_window (tid, rnd), LOCK=NONE;
-- The seeders' window, (tid, seeding, rnd), is built by 005 after its column: once a virtual
-- column is indexed the server adds no column to the table without blocking its writers.

INSERT IGNORE INTO tracker_schema (version, name) VALUES (4, 'random peer window');
