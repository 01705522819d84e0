-- Sealed message bodies in a table of their own, as in SQLite: marking a message sent or
-- acknowledged then writes a new version of a small row, not of its body as well.

CREATE TABLE outbox_bodies (
    batch  TEXT  NOT NULL PRIMARY KEY REFERENCES outbox (batch) ON DELETE CASCADE,
    sealed BYTEA NOT NULL
);

INSERT INTO outbox_bodies (batch, sealed) SELECT batch, sealed FROM outbox ORDER BY id;

ALTER TABLE outbox DROP COLUMN sealed;
