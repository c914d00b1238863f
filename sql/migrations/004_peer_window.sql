-- 004: O(numwant) random peer selection without ORDER BY RAND(). Each peer gets a random `rnd`
-- when inserted; an announce reads the rows after a random point in (tid, rnd) order. `seeding`
-- lets a seeder read leechers only through (tid, seeding, rnd), even in a swarm of seeders.
-- New columns have defaults and `seeding` is generated, so inserts naming their columns (the
-- PHP's) are unaffected.
ALTER TABLE peers
    ADD COLUMN IF NOT EXISTS rnd INT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS seeding TINYINT(1) AS (residual = 0) PERSISTENT;

CREATE INDEX IF NOT EXISTS peers_window ON peers (tid, rnd);
CREATE INDEX IF NOT EXISTS peers_seeding_window ON peers (tid, seeding, rnd);

DELIMITER //

-- Rows inserted without an `rnd` (by the PHP front end) still get a random place.
CREATE OR REPLACE TRIGGER peers_fill_rnd BEFORE INSERT ON peers FOR EACH ROW
BEGIN
    IF NEW.rnd = 0 THEN
        SET NEW.rnd = 1 + FLOOR(RAND() * 4294967294);
    END IF;
END//

DELIMITER ;

UPDATE peers SET rnd = 1 + FLOOR(RAND() * 4294967294), updated = updated WHERE rnd = 0;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (4, 'random peer window');
