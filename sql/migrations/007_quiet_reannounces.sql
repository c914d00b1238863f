-- 007: a re-announce that changes nothing a worker's replica holds (the same address, port,
-- peer id, crypto flag and seeder or leecher; only `updated`, `residual` or the like move)
-- keeps its row's sequence number. Most announces on a live tracker are such re-announces:
-- they no longer move the `peers_seq` index entry, take no number from a writer that numbers
-- per row (a PHP front end), nor reach every worker's pull. Replaces 006's update trigger;
-- its insert and delete triggers are unchanged.

DELIMITER //

CREATE OR REPLACE TRIGGER peers_feed_update BEFORE UPDATE ON peers FOR EACH ROW
BEGIN
    IF NEW.tid = OLD.tid AND NEW.uid = OLD.uid AND NEW.peerId = OLD.peerId
       AND BINARY NEW.ip = BINARY OLD.ip AND NEW.port = OLD.port AND NEW.crypt = OLD.crypt
       AND (NEW.residual = 0) = (OLD.residual = 0) THEN
        SET NEW.seq = OLD.seq;
    ELSEIF @tracker_feed_seq IS NULL THEN
        UPDATE tracker_sequence SET value = value + 1 WHERE id = 1;
        SET NEW.seq = COALESCE((SELECT value FROM tracker_sequence WHERE id = 1), 0);
    ELSE
        SET NEW.seq = @tracker_feed_seq;
    END IF;
END//

DELIMITER ;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (7, 'quiet re-announces');
