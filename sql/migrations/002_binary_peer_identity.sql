-- 002: peer ids are 20 arbitrary bytes (`-LT2080-w4UO)MUIkbRU`, raw high bytes, NUL): in the PHP's
-- utf8 varchar they are mangled or refused in strict mode. Keys are compared exactly, not
-- case-insensitively. Same lengths, so the PHP code writing these columns is unaffected.
-- Re-running it changes nothing.
-- The server can change a column's type only by copying the table under a write lock:
-- trackerctl rebuilds it beside itself instead, while the PHP's writes go on.
-- migrate: online rebuild
ALTER TABLE peers
    MODIFY peerId VARBINARY(20) NOT NULL,
    MODIFY uid VARBINARY(10) NOT NULL;

INSERT IGNORE INTO tracker_schema (version, name) VALUES (2, 'binary peerId and uid');
