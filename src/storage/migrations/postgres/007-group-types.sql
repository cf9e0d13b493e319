-- groupTypes ["Unified"] (the SQLite twin is migrations/sqlite/007-group-types.sql).
ALTER TABLE groups ADD COLUMN unified boolean NOT NULL DEFAULT false;
UPDATE groups SET unified = true WHERE has_team;
