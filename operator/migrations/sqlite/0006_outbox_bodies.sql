-- Sealed message bodies in a table of their own. SQLite rewrites a whole row when any
-- column of it changes, so marking a message sent or acknowledged copied its body (a
-- thousand records is about 140 KiB) out of its overflow pages and back, and with
-- secure_delete zeroed the old copy as well. The outbox row is now small and the body
-- is written once.

CREATE TABLE outbox_bodies (
    batch  TEXT NOT NULL PRIMARY KEY REFERENCES outbox (batch) ON DELETE CASCADE,
    sealed BLOB NOT NULL
);

INSERT INTO outbox_bodies (batch, sealed) SELECT batch, sealed FROM outbox ORDER BY id;

ALTER TABLE outbox DROP COLUMN sealed;
