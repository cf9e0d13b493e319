-- Request counts of `serve --throttle`, shared by every node on this database
-- (traffic/throttle.ts): one row per limit, caller and window, added to by each node
-- every 100 ms. PostgreSQL only: SQLite processes count on their own (store.ts, usage).
-- UNLOGGED: counts of the last seconds are worth no WAL; a crash that empties the table
-- only gives every caller a full budget again. Not copied by migrate-store.

CREATE UNLOGGED TABLE throttle_usage (
  key          text NOT NULL,   -- 'app|user|write {tenant id} {app or user id}'
  window_start bigint NOT NULL, -- ms since the epoch, a multiple of the window's length
  used         bigint NOT NULL,
  PRIMARY KEY (key, window_start)
);

CREATE INDEX throttle_usage_window ON throttle_usage (window_start);
