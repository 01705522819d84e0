-- The ledger: one row per share, deletion notice, acknowledgement and erasure, each
-- carrying the hash of the one before it. Rows are only ever appended; the triggers
-- refuse changes through SQL, and `accord audit verify` detects any made around them.

CREATE TABLE ledger (
    seq        INTEGER NOT NULL PRIMARY KEY,
    body       TEXT    NOT NULL,
    prev_hash  BLOB    NOT NULL,
    hash       BLOB    NOT NULL,
    written_at INTEGER NOT NULL
);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;

CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
