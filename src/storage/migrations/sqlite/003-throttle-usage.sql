-- Nothing on SQLite: --throttle's shared counts (postgres/003-throttle-usage.sql) live only
-- where several nodes share a database. SQLite processes count on their own, because a
-- write here would make every other process on the file drop its caches (store.ts, usage).
-- This file keeps the two dialects' migrations numbered alike.
SELECT 1;
