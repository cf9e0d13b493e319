-- groupTypes ["Unified"] as a client created it (a Microsoft 365 group), kept whether or not
-- the group has a team; a group with a team is one (Teams are built on Microsoft 365 groups).
ALTER TABLE groups ADD COLUMN unified INTEGER NOT NULL DEFAULT 0 CHECK (unified IN (0, 1));
UPDATE groups SET unified = 1 WHERE has_team = 1;
