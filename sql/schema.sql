-- The PHP BT Tracker's tables, as its sites have them. A PHP front end keeps working on them.
-- Our fast path's additions are in migrations/ (additive, idempotent); apply them after this.
-- Safe to run on an existing database: nothing is created twice or dropped.

CREATE TABLE IF NOT EXISTS torrents (
    tid        INT UNSIGNED NOT NULL AUTO_INCREMENT,
    infohash   BINARY(20) NOT NULL,
    name       VARCHAR(255) NOT NULL DEFAULT '',
    downloaded INT UNSIGNED NOT NULL DEFAULT 0,
    banned     BIT(1) NOT NULL DEFAULT b'0',
    added      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (tid),
    UNIQUE KEY infohash (infohash),
    KEY banned (banned),
    FULLTEXT KEY name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;

CREATE TABLE IF NOT EXISTS peers (
    pid      INT UNSIGNED NOT NULL AUTO_INCREMENT,
    tid      INT UNSIGNED NOT NULL,
    uid      VARCHAR(10) NOT NULL,
    peerId   VARCHAR(20) NOT NULL,
    ip       VARCHAR(39) NOT NULL,
    port     SMALLINT UNSIGNED NOT NULL,
    crypt    BIT(1) NOT NULL DEFAULT b'0',
    residual BIGINT UNSIGNED NOT NULL DEFAULT 0,
    added    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (pid),
    UNIQUE KEY uid_tid (uid, tid),
    KEY tid (tid),
    CONSTRAINT peers_torrent FOREIGN KEY (tid) REFERENCES torrents (tid) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
