-- What each partner holds, keyed by a small number per agreement, school and area
-- instead of by the three names: a delivery writes one row per record, and the names
-- were most of each row's bytes and most of the time spent writing it.

CREATE TABLE holding_places (
    id        INTEGER NOT NULL PRIMARY KEY,
    agreement TEXT    NOT NULL,
    school    TEXT    NOT NULL,
    area      TEXT    NOT NULL,
    UNIQUE (agreement, school, area)
);

CREATE TABLE held_records (
    place     INTEGER NOT NULL,
    record_id TEXT    NOT NULL,
    subject   TEXT,
    digest    BLOB    NOT NULL,
    PRIMARY KEY (place, record_id)
) WITHOUT ROWID;

INSERT INTO holding_places (agreement, school, area)
    SELECT DISTINCT agreement, school, area FROM holdings ORDER BY agreement, school, area;

INSERT INTO held_records (place, record_id, subject, digest)
    SELECT p.id, h.record_id, h.subject, h.digest
    FROM holdings h
    JOIN holding_places p ON p.agreement = h.agreement AND p.school = h.school AND p.area = h.area;

DROP TABLE holdings;
