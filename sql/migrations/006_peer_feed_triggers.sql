-- 006: every writer of `peers` feeds the workers' replicas, not only our flushes: a PHP front
-- end still running beside us, the cleanup's expired peers, hand-written SQL. Triggers stamp
-- each row written with the next number of tracker_sequence, and record each row deleted in
-- tracker_departures, holding the sequence row's lock until the writer commits (so the
-- numbers still commit in order: see 005).
--
-- A flush of our write-behind takes one number for its whole batch and leaves it in the
-- session variable @tracker_feed_seq: its rows share it, one lock taken once. Anyone else
-- (the variable unset) takes a number per row.
-- Deletes cascaded from a removed torrent fire no trigger: the workers drop that torrent's
-- swarm when their registry no longer has it.

DELIMITER //

CREATE OR REPLACE TRIGGER peers_feed_insert BEFORE INSERT ON peers FOR EACH ROW
BEGIN
    IF @tracker_feed_seq IS NULL THEN
        UPDATE tracker_sequence SET value = value + 1 WHERE id = 1;
        SET NEW.seq = COALESCE((SELECT value FROM tracker_sequence WHERE id = 1), 0);
    ELSE
        SET NEW.seq = @tracker_feed_seq;
    END IF;
END//

CREATE OR REPLACE TRIGGER peers_feed_update BEFORE UPDATE ON peers FOR EACH ROW
BEGIN
    IF @tracker_feed_seq IS NULL THEN
        UPDATE tracker_sequence SET value = value + 1 WHERE id = 1;
        SET NEW.seq = COALESCE((SELECT value FROM tracker_sequence WHERE id = 1), 0);
    ELSE
        SET NEW.seq = @tracker_feed_seq;
    END IF;
END//

CREATE OR REPLACE TRIGGER peers_feed_delete AFTER DELETE ON peers FOR EACH ROW
BEGIN
    IF @tracker_feed_seq IS NULL THEN
        UPDATE tracker_sequence SET value = value + 1 WHERE id = 1;
        INSERT INTO tracker_departures (seq, tid, uid)
             SELECT value, OLD.tid, OLD.uid FROM tracker_sequence WHERE id = 1;
    ELSE
        INSERT INTO tracker_departures (seq, tid, uid)
             VALUES (@tracker_feed_seq, OLD.tid, OLD.uid);
    END IF;
END//

DELIMITER ;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (6, 'peer feed triggers');
