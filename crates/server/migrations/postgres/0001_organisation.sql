-- The organisation of docs/model.md §7, one table per entity and one per list or map of an
-- entity, and the log of revisions. PostgreSQL; the SQLite twin is ../sqlite/0001_organisation.sql.
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
    announcements BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE network_profiles (
    network_id TEXT NOT NULL,
    profile    TEXT NOT NULL,
    PRIMARY KEY (network_id, profile)
);

CREATE TABLE network_defaults (
    network_id TEXT   NOT NULL,
    profile    TEXT   NOT NULL,
    position   BIGINT NOT NULL,
    permission TEXT   NOT NULL,
    PRIMARY KEY (network_id, profile, position)
);

CREATE TABLE network_messaging (
    network_id TEXT NOT NULL,
    permission TEXT NOT NULL,
    threshold  TEXT NOT NULL,
    PRIMARY KEY (network_id, permission)
);

CREATE TABLE offices (
    id         TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    network_id TEXT   NOT NULL
);

CREATE TABLE office_override_profiles (
    office_id TEXT NOT NULL,
    profile   TEXT NOT NULL,
    PRIMARY KEY (office_id, profile)
);

CREATE TABLE office_overrides (
    office_id  TEXT    NOT NULL,
    profile    TEXT    NOT NULL,
    permission TEXT    NOT NULL,
    allowed    BOOLEAN NOT NULL,
    PRIMARY KEY (office_id, profile, permission)
);

CREATE TABLE users (
    id                TEXT    PRIMARY KEY,
    position          BIGINT  NOT NULL,
    name              TEXT    NOT NULL,
    home_office       TEXT    NOT NULL,
    access            TEXT    NOT NULL DEFAULT 'all_in_office',
    profile           TEXT    NOT NULL,
    role              TEXT    NOT NULL DEFAULT 'user',
    system_superuser  BOOLEAN NOT NULL DEFAULT FALSE,
    network_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    active            BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE user_offices (
    user_id   TEXT   NOT NULL,
    position  BIGINT NOT NULL,
    office_id TEXT   NOT NULL,
    PRIMARY KEY (user_id, position)
);

CREATE TABLE projects (
    id         TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    office_id  TEXT   NOT NULL,
    created_by TEXT
);

CREATE TABLE team_members (
    project_id TEXT   NOT NULL,
    position   BIGINT NOT NULL,
    user_id    TEXT   NOT NULL,
    PRIMARY KEY (project_id, position)
);

CREATE TABLE agreements (
    id           TEXT        PRIMARY KEY,
    position     BIGINT      NOT NULL,
    host_office  TEXT        NOT NULL,
    guest_office TEXT        NOT NULL,
    profile      TEXT        NOT NULL,
    users_listed BOOLEAN     NOT NULL,
    expires_at   TIMESTAMPTZ
);

CREATE TABLE agreement_users (
    agreement_id TEXT   NOT NULL,
    position     BIGINT NOT NULL,
    user_id      TEXT   NOT NULL,
    PRIMARY KEY (agreement_id, position)
);

CREATE TABLE groups (
    id         TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    network_id TEXT   NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT   NOT NULL,
    position BIGINT NOT NULL,
    user_id  TEXT   NOT NULL,
    PRIMARY KEY (group_id, position)
);

CREATE TABLE group_owners (
    group_id TEXT   NOT NULL,
    position BIGINT NOT NULL,
    user_id  TEXT   NOT NULL,
    PRIMARY KEY (group_id, position)
);

CREATE TABLE direct_messages (
    id         TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    started_by TEXT   NOT NULL
);

CREATE TABLE direct_message_participants (
    direct_message_id TEXT   NOT NULL,
    position          BIGINT NOT NULL,
    user_id           TEXT   NOT NULL,
    PRIMARY KEY (direct_message_id, position)
);

CREATE TABLE revisions (
    number BIGINT      PRIMARY KEY CHECK (number > 0),
    at     TIMESTAMPTZ NOT NULL DEFAULT date_trunc('second', now()),
    who    TEXT        NOT NULL,
    edits  JSONB       NOT NULL
);
