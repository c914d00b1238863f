-- 008: the registry follows changes as the peers do, so that no worker re-reads `torrents`
-- whole: a registration, a ban, an unban, a completion count or a removal takes the next
-- number of tracker_sequence, like a peer's write (005, 006), and lands in
-- tracker_torrent_feed, one row per torrent: its latest number, and whether it still exists
-- (a removal leaves a tombstone there, pruned by tracker-cron after an hour). A rename takes
-- no number: the workers do not hold names (scrapes read them from `torrents`).
--
-- Also: a hand-written UPDATE that moves a peer to another torrent or uid now records the old
-- (tid, uid) as a departure, and tracker_sequence row 2 says up to which number tracker-cron
-- has pruned departures and tombstones: a worker that has read less than that has missed some
-- and reads everything again. Additive: new tables and triggers; `torrents` is not altered and
-- the PHP code never sees any of it.

CREATE TABLE IF NOT EXISTS tracker_torrent_feed (
    tid     INT UNSIGNED NOT NULL PRIMARY KEY,
    seq     BIGINT UNSIGNED NOT NULL,
    present TINYINT NOT NULL,
    at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    KEY torrent_feed_seq (seq),
    KEY torrent_feed_gone (present, tid)
) ENGINE=InnoDB;

INSERT IGNORE INTO tracker_sequence (id, value) VALUES (2, 0);

DELIMITER //

CREATE OR REPLACE TRIGGER torrents_feed_insert AFTER INSERT ON torrents FOR EACH ROW
BEGIN
    DECLARE n BIGINT UNSIGNED DEFAULT @tracker_feed_seq;
    IF n IS NULL THEN
        UPDATE tracker_sequence SET value = value + 1 WHERE id = 1;
        SET n = (SELECT value FROM tracker_sequence WHERE id = 1);
    END IF;
    INSERT INTO tracker_torrent_feed (tid, seq, present, at) VALUES (NEW.tid, n, 1, NOW())
        ON DUPLICATE KEY UPDATE seq = n, present = 1, at = NOW();
END//

CREATE OR REPLACE TRIGGER torrents_feed_update AFTER UPDATE ON torrents FOR EACH ROW
BEGIN
    DECLARE n BIGINT UNSIGNED DEFAULT @tracker_feed_seq;
    IF NEW.tid <> OLD.tid OR NEW.infohash <> OLD.infohash OR NEW.banned <> OLD.banned
       OR NEW.downloaded <> OLD.downloaded THEN
        IF n IS NULL THEN
            UPDATE tracker_sequence SET value = value + 1 WHERE id = 1;
            SET n = (SELECT value FROM tracker_sequence WHERE id = 1);
        END IF;
        IF NEW.tid <> OLD.tid THEN
            INSERT INTO tracker_torrent_feed (tid, seq, present, at) VALUES (OLD.tid, n, 0, NOW())
                ON DUPLICATE KEY UPDATE seq = n, present = 0, at = NOW();
        END IF;
        INSERT INTO tracker_torrent_feed (tid, seq, present, at) VALUES (NEW.tid, n, 1, NOW())
            ON DUPLICATE KEY UPDATE seq = n, present = 1, at = NOW();
    END IF;
END//

-- The peers of a removed torrent go by cascade, which fires no trigger: the workers drop the
-- swarm with the torrent.
CREATE OR REPLACE TRIGGER torrents_feed_delete AFTER DELETE ON torrents FOR EACH ROW
BEGIN
    DECLARE n BIGINT UNSIGNED DEFAULT @tracker_feed_seq;
    IF n IS NULL THEN
        UPDATE tracker_sequence SET value = value + 1 WHERE id = 1;
        SET n = (SELECT value FROM tracker_sequence WHERE id = 1);
    END IF;
    INSERT INTO tracker_torrent_feed (tid, seq, present, at) VALUES (OLD.tid, n, 0, NOW())
        ON DUPLICATE KEY UPDATE seq = n, present = 0, at = NOW();
END//

-- 007's rule, and a peer whose key (tid, uid) changes leaves its old key as a departure.
CREATE OR REPLACE TRIGGER peers_feed_update BEFORE UPDATE ON peers FOR EACH ROW
BEGIN
    IF NEW.tid = OLD.tid AND NEW.uid = OLD.uid AND NEW.peerId = OLD.peerId
       AND BINARY NEW.ip = BINARY OLD.ip AND NEW.port = OLD.port AND NEW.crypt = OLD.crypt
       AND (NEW.residual = 0) = (OLD.residual = 0) THEN
        SET NEW.seq = OLD.seq;
    ELSE
        IF @tracker_feed_seq IS NULL THEN
            UPDATE tracker_sequence SET value = value + 1 WHERE id = 1;
            SET NEW.seq = COALESCE((SELECT value FROM tracker_sequence WHERE id = 1), 0);
        ELSE
            SET NEW.seq = @tracker_feed_seq;
        END IF;
        IF NEW.tid <> OLD.tid OR NEW.uid <> OLD.uid THEN
            INSERT INTO tracker_departures (seq, tid, uid) VALUES (NEW.seq, OLD.tid, OLD.uid);
        END IF;
    END IF;
END//

DELIMITER ;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (8, 'registry feed');
