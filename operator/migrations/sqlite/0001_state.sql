-- Accord's state database: the encrypted cache, resource status and git revisions.
--
-- Kept portable so PostgreSQL can take the same schema: only TEXT, INTEGER and BLOB
-- columns (BLOB becomes BYTEA and INTEGER becomes BIGINT there), no SQLite-only syntax.
-- Every timestamp is INTEGER unix seconds (UTC), compared as a number.

-- One data key per school, stored only wrapped (AES-256-GCM under the master key).
-- Deleting a row destroys every cache entry of that school (crypto-shredding).
CREATE TABLE school_keys (
    school      TEXT    NOT NULL PRIMARY KEY,
    wrapped_key BLOB    NOT NULL,
    key_nonce   BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
);

-- One encrypted extract per school and data area.
CREATE TABLE cache_entries (
    school       TEXT    NOT NULL,
    area         TEXT    NOT NULL,
    ciphertext   BLOB    NOT NULL,
    nonce        BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    record_count INTEGER NOT NULL,
    PRIMARY KEY (school, area),
    FOREIGN KEY (school) REFERENCES school_keys (school) ON DELETE CASCADE
);

CREATE INDEX cache_entries_expires_at ON cache_entries (expires_at);

-- A known value sealed under the master key, so a wrong key is told apart from damage.
CREATE TABLE master_key_check (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    sealed     BLOB    NOT NULL,
    nonce      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- The status the controller last wrote for each resource, as JSON.
CREATE TABLE resource_status (
    kind       TEXT    NOT NULL,
    namespace  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);

-- Git revisions the controller has applied or attempted, by key.
CREATE TABLE revisions (
    key        TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
