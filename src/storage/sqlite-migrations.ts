// Numbered SQL files in migrations/sqlite, applied in order at open, each in its
// own transaction and recorded in schema_migrations so that it runs once.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';

// The .sql files stay in src/ (they are not compiled); from dist/src/storage that is
// three folders up and back down.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../src/storage/migrations/sqlite/', import.meta.url));

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}-[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file,
      sql: readFileSync(new URL(file, `file://${dir}`), 'utf8'),
    }));
}

/**
 * How long a process opening the file waits for another one's upgrade: 008 took 16 s on a
 * 1.9 GB store of 100,000 users (docs/operations.md), longer than the connection's usual
 * busy_timeout, after which the second process would fail with "database is locked".
 */
const UPGRADE_WAIT_MS = 10 * 60_000;

export function applyMigrations(db: Database.Database, migrations: Migration[] = loadMigrations()): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`);
  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  // The usual open finds nothing to do and takes no write lock, so it never waits.
  if (migrations.every((migration) => isApplied.get(migration.version) !== undefined)) return;
  const busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma(`busy_timeout = ${Math.max(busyTimeout, UPGRADE_WAIT_MS)}`);
  try {
    for (const migration of migrations) {
      // Checked inside the write lock: two processes opening one file apply it once.
      db.transaction(() => {
        if (isApplied.get(migration.version) !== undefined) return;
        db.exec(migration.sql);
        record.run(migration.version, migration.name, new Date().toISOString());
      }).immediate();
    }
  } finally {
    db.pragma(`busy_timeout = ${busyTimeout}`);
  }
}
