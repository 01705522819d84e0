-- Delivery: what is on its way to each partner, and what each partner holds.

-- Who each ledger entry is about, so one person's flows are found without reading the
-- whole ledger. Derived from the ledger in the same transaction; the chain stays the truth.
CREATE TABLE ledger_subjects (
    school  TEXT   NOT NULL,
    subject TEXT   NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (school, subject, seq)
);

-- Acknowledgements are found by the batch they confirm.
CREATE INDEX ledger_batch ON ledger (((body::jsonb) ->> 'batch'));

-- Messages committed to partners, in order. The body is sealed under the school's data
-- key, so shredding a school also makes its undelivered messages unreadable. A message
-- is written here together with its ledger entries before it is sent, and marked
-- acknowledged when the partner confirms it; a crash between the two re-sends the same
-- body with the same key.
CREATE TABLE outbox (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch           TEXT    NOT NULL UNIQUE,
    partner         TEXT    NOT NULL,
    agreement       TEXT    NOT NULL,
    school          TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    mode            TEXT    NOT NULL,
    sealed          BYTEA   NOT NULL,
    records         BIGINT  NOT NULL,
    -- For a deletion notice, the people it concerns, so its acknowledgement names them.
    subjects        TEXT    NOT NULL DEFAULT '[]',
    created_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    last_error      TEXT,
    refused         BOOLEAN NOT NULL DEFAULT FALSE,
    acked_at        BIGINT
);

CREATE INDEX outbox_pending ON outbox (partner, id) WHERE acked_at IS NULL;

-- What each partner holds (or will, once the outbox drains): one row per record, with a
-- digest of what was sent so an unchanged record is not sent again.
CREATE TABLE holdings (
    agreement TEXT  NOT NULL,
    school    TEXT  NOT NULL,
    area      TEXT  NOT NULL,
    record_id TEXT  NOT NULL,
    subject   TEXT,
    digest    BYTEA NOT NULL,
    PRIMARY KEY (agreement, school, area, record_id)
);

-- The fields each partner holds of each area, and the partner the agreement named then,
-- so a withdrawn field, area or agreement can still be deleted at the right partner.
CREATE TABLE held_areas (
    agreement TEXT NOT NULL,
    school    TEXT NOT NULL,
    area      TEXT NOT NULL,
    partner   TEXT NOT NULL,
    fields    TEXT NOT NULL,
    PRIMARY KEY (agreement, school, area)
);

-- The canonical form of each agreement as last verified, so a tampered agreement's status
-- can say which part changed since it was signed.
CREATE TABLE verified_agreements (
    agreement TEXT NOT NULL PRIMARY KEY,
    canonical TEXT NOT NULL
);
