-- 001: a record of the migrations applied, so that `trackerctl migrate` can say what it did.
-- A new table: the PHP code never sees it.
CREATE TABLE IF NOT EXISTS tracker_schema (
    version INT UNSIGNED NOT NULL PRIMARY KEY,
    name    VARCHAR(100) NOT NULL,
    applied TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (1, 'schema version table');
