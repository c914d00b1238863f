-- 009: tracker-cron finds what expired through indexes instead of walking every peer and
-- every torrent (seconds at a million torrents and millions of peers, on every run):
--   peers_updated: the peers not heard from since the cutoff. Every announce moves its row's
--     entry; bench/README.md measures what that costs against what it saves.
--   swarms_idle: the torrents whose swarm is empty and has been since the cutoff. Every
--     torrent gets its tracker_swarms row when it is registered (a trigger; the ones without
--     one get it here), so a torrent nobody ever announced is found the same way.
-- Built online (no lock on the tables while they build).

ALTER TABLE peers ADD INDEX IF NOT EXISTS peers_updated (updated), ALGORITHM=INPLACE, LOCK=NONE;
ALTER TABLE tracker_swarms ADD INDEX IF NOT EXISTS swarms_idle (seeders, leechers, last_change),
    ALGORITHM=INPLACE, LOCK=NONE;

-- Idle since it was registered, or last updated (a completion, a ban): what the cleanup's
-- rule counts from.
INSERT IGNORE INTO tracker_swarms (tid, seeders, leechers, last_change)
     SELECT tid, 0, 0, GREATEST(added, updated) FROM torrents;

DELIMITER //

CREATE OR REPLACE TRIGGER torrents_swarm_insert AFTER INSERT ON torrents FOR EACH ROW
BEGIN
    INSERT IGNORE INTO tracker_swarms (tid, seeders, leechers) VALUES (NEW.tid, 0, 0);
END//

DELIMITER ;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (9, 'cleanup indexes');
