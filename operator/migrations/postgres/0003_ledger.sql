-- The ledger: one row per share, deletion notice, acknowledgement and erasure, each
-- carrying the hash of the one before it. Rows are only ever appended; the triggers
-- refuse changes through SQL, and `accord audit verify` detects any made around them.
-- The body stays TEXT, as in SQLite: the chain is checked over the body as written.

CREATE TABLE ledger (
    seq        BIGINT NOT NULL PRIMARY KEY,
    body       TEXT   NOT NULL,
    prev_hash  BYTEA  NOT NULL,
    hash       BYTEA  NOT NULL,
    written_at BIGINT NOT NULL
);

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END;
$$;

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- TRUNCATE fires no row trigger; it is refused by a statement trigger of its own.
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
