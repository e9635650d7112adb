-- The organisation of docs/model.md §7, one table per entity and one per list or map of an
-- entity, and the log of revisions. SQLite; the PostgreSQL twin is ../postgres/0001_organisation.sql.
-- SQLite differs in: times are BIGINT Unix seconds, booleans INTEGER 0 or 1 (sqlx's `Any` driver
-- reads no SQLite BOOLEAN), `edits` is JSON text, and tables keyed by
-- text are WITHOUT ROWID.
-- docs/database.md describes every column.
--
-- `position` orders what the source format keeps in arrays: the entities of the organisation
-- (a sort key, ascending; gaps allowed) and the items of each list (0, 1, 2, ... per owner).
-- There are no foreign keys: every write is of an organisation that passed `Policy::new`, which
-- checks every reference and more.

CREATE TABLE networks (
    id            TEXT    PRIMARY KEY,
    position      BIGINT  NOT NULL,
    name          TEXT    NOT NULL,
    announcements INTEGER NOT NULL DEFAULT FALSE
) WITHOUT ROWID;

CREATE TABLE network_profiles (
    network_id TEXT NOT NULL,
    profile    TEXT NOT NULL,
    PRIMARY KEY (network_id, profile)
) WITHOUT ROWID;

CREATE TABLE network_defaults (
    network_id TEXT   NOT NULL,
    profile    TEXT   NOT NULL,
    position   BIGINT NOT NULL,
    permission TEXT   NOT NULL,
    PRIMARY KEY (network_id, profile, position)
) WITHOUT ROWID;

CREATE TABLE network_messaging (
    network_id TEXT NOT NULL,
    permission TEXT NOT NULL,
    threshold  TEXT NOT NULL,
    PRIMARY KEY (network_id, permission)
) WITHOUT ROWID;

CREATE TABLE offices (
    id         TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    network_id TEXT   NOT NULL
) WITHOUT ROWID;

CREATE TABLE office_override_profiles (
    office_id TEXT NOT NULL,
    profile   TEXT NOT NULL,
    PRIMARY KEY (office_id, profile)
) WITHOUT ROWID;

CREATE TABLE office_overrides (
    office_id  TEXT    NOT NULL,
    profile    TEXT    NOT NULL,
    permission TEXT    NOT NULL,
    allowed    INTEGER NOT NULL,
    PRIMARY KEY (office_id, profile, permission)
) WITHOUT ROWID;

CREATE TABLE users (
    id                TEXT    PRIMARY KEY,
    position          BIGINT  NOT NULL,
    name              TEXT    NOT NULL,
    home_office       TEXT    NOT NULL,
    access            TEXT    NOT NULL DEFAULT 'all_in_office',
    profile           TEXT    NOT NULL,
    role              TEXT    NOT NULL DEFAULT 'user',
    system_superuser  INTEGER NOT NULL DEFAULT FALSE,
    network_superuser INTEGER NOT NULL DEFAULT FALSE,
    active            INTEGER NOT NULL DEFAULT TRUE
) WITHOUT ROWID;

CREATE TABLE user_offices (
    user_id   TEXT   NOT NULL,
    position  BIGINT NOT NULL,
    office_id TEXT   NOT NULL,
    PRIMARY KEY (user_id, position)
) WITHOUT ROWID;

CREATE TABLE projects (
    id         TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    office_id  TEXT   NOT NULL,
    created_by TEXT
) WITHOUT ROWID;

CREATE TABLE team_members (
    project_id TEXT   NOT NULL,
    position   BIGINT NOT NULL,
    user_id    TEXT   NOT NULL,
    PRIMARY KEY (project_id, position)
) WITHOUT ROWID;

CREATE TABLE agreements (
    id           TEXT        PRIMARY KEY,
    position     BIGINT      NOT NULL,
    host_office  TEXT        NOT NULL,
    guest_office TEXT        NOT NULL,
    profile      TEXT        NOT NULL,
    users_listed INTEGER     NOT NULL,
    expires_at   BIGINT
) WITHOUT ROWID;

CREATE TABLE agreement_users (
    agreement_id TEXT   NOT NULL,
    position     BIGINT NOT NULL,
    user_id      TEXT   NOT NULL,
    PRIMARY KEY (agreement_id, position)
) WITHOUT ROWID;

CREATE TABLE groups (
    id         TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    network_id TEXT   NOT NULL
) WITHOUT ROWID;

CREATE TABLE group_members (
    group_id TEXT   NOT NULL,
    position BIGINT NOT NULL,
    user_id  TEXT   NOT NULL,
    PRIMARY KEY (group_id, position)
) WITHOUT ROWID;

CREATE TABLE group_owners (
    group_id TEXT   NOT NULL,
    position BIGINT NOT NULL,
    user_id  TEXT   NOT NULL,
    PRIMARY KEY (group_id, position)
) WITHOUT ROWID;

CREATE TABLE direct_messages (
    id         TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    started_by TEXT   NOT NULL
) WITHOUT ROWID;

CREATE TABLE direct_message_participants (
    direct_message_id TEXT   NOT NULL,
    position          BIGINT NOT NULL,
    user_id           TEXT   NOT NULL,
    PRIMARY KEY (direct_message_id, position)
) WITHOUT ROWID;

CREATE TABLE revisions (
    number INTEGER     PRIMARY KEY CHECK (number > 0),
    at     BIGINT      NOT NULL DEFAULT (unixepoch()),
    who    TEXT        NOT NULL,
    edits  TEXT        NOT NULL CHECK (json_valid(edits))
);
