-- What people write beside the organisation (issue 22), and the answers kept for an
-- `Idempotency-Key` (issue 23). PostgreSQL; the SQLite twin is ../sqlite/0003_content_and_idempotency.sql.
-- docs/database.md describes every column.
--
-- `content` is a log: one row per thing written (a task, a file, a wiki text, a message, an
-- announcement, a group's name), numbered by `seq` in the order of commit (rows are written under
-- the organisation's write lock, `seq` one more than the last), so that every replica reads what
-- it has not seen yet by `seq`. A wiki's text is its newest row. No decision reads any of it:
-- who may see a row is decided by the organisation, through the Project, conversation, group or
-- Network it belongs to.
CREATE TABLE content (
    seq       BIGINT      PRIMARY KEY CHECK (seq > 0),
    kind      TEXT        NOT NULL CHECK (kind IN ('task', 'document', 'wiki', 'message', 'announcement', 'group')),
    id        TEXT        NOT NULL,
    container TEXT        NOT NULL,
    author    TEXT        NOT NULL,
    title     TEXT        NOT NULL DEFAULT '',
    body      TEXT        NOT NULL DEFAULT '',
    at        TIMESTAMPTZ NOT NULL DEFAULT date_trunc('second', now())
);

-- The answer a change got, kept for a day per caller and `Idempotency-Key`, written in the same
-- transaction as the change: the same request sent again gets it again, and nothing is applied
-- twice, whichever replica it reaches.
CREATE TABLE idempotency (
    caller      TEXT        NOT NULL,
    key         TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    status      INTEGER     NOT NULL,
    body        TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL DEFAULT date_trunc('second', now()),
    PRIMARY KEY (caller, key)
);
