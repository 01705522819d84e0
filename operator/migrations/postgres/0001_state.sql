-- Accord's state database on PostgreSQL: the encrypted cache, resource status and git
-- revisions. The same tables as the SQLite schema of the same version, with BYTEA for
-- BLOB and BIGINT for every INTEGER, so each column holds an i64 in both.
-- Every timestamp is BIGINT unix seconds (UTC), compared as a number.

-- One data key per school, stored only wrapped (AES-256-GCM under the master key).
-- Deleting a row destroys every cache entry of that school (crypto-shredding).
CREATE TABLE school_keys (
    school      TEXT   NOT NULL PRIMARY KEY,
    wrapped_key BYTEA  NOT NULL,
    key_nonce   BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL
);

-- One encrypted extract per school and data area.
CREATE TABLE cache_entries (
    school       TEXT   NOT NULL,
    area         TEXT   NOT NULL,
    ciphertext   BYTEA  NOT NULL,
    nonce        BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    record_count BIGINT NOT NULL,
    PRIMARY KEY (school, area),
    FOREIGN KEY (school) REFERENCES school_keys (school) ON DELETE CASCADE
);

CREATE INDEX cache_entries_expires_at ON cache_entries (expires_at);

-- A known value sealed under the master key, so a wrong key is told apart from damage.
CREATE TABLE master_key_check (
    id         BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    sealed     BYTEA  NOT NULL,
    nonce      BYTEA  NOT NULL,
    created_at BIGINT NOT NULL
);

-- The status the controller last wrote for each resource, as JSON.
CREATE TABLE resource_status (
    kind       TEXT   NOT NULL,
    namespace  TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);

-- Git revisions the controller has applied or attempted, by key.
CREATE TABLE revisions (
    key        TEXT   NOT NULL PRIMARY KEY,
    value      TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
