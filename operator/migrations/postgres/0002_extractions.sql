-- What the controller remembers between runs about reading each school's MIS, and the
-- last declaration that validated (so an invalid change never stops or widens a flow,
-- even across a restart).

CREATE TABLE school_extractions (
    school           TEXT   NOT NULL PRIMARY KEY,
    last_extraction  BIGINT,
    extracted_fields TEXT   NOT NULL,
    refresh_handled  TEXT,
    last_error       TEXT,
    last_attempt     BIGINT NOT NULL
);

CREATE TABLE declarations (
    id         BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    resources  TEXT   NOT NULL,
    revision   TEXT,
    applied_at BIGINT NOT NULL
);
