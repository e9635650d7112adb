-- Whose snapshots a revision renewed: the users whose decisions it changed, as a JSON array of
-- user ids, written by the admin API's commits (the impact analysis names them). NULL, as for
-- an import or a row written by other tools, renews everyone. A user's snapshot version is the
-- last revision that renewed them, so every replica gives every user the same version and ETag.
ALTER TABLE revisions ADD COLUMN renewed TEXT CHECK (renewed IS NULL OR json_valid(renewed));
