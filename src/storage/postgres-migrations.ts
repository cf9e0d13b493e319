// Numbered SQL files in migrations/postgres, applied at start inside one
// transaction that holds an advisory lock: when several nodes start at once, one
// applies them and the others wait, then find them recorded and do nothing.
import type pg from 'pg';
import { fileURLToPath } from 'node:url';
import { loadMigrations, type Migration } from './sqlite-migrations.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../src/storage/migrations/postgres/', import.meta.url));
/** An arbitrary constant naming "Portrait's migrations" among the database's advisory locks. */
const MIGRATION_LOCK = 7_316_044_201;

export function loadPostgresMigrations(): Migration[] {
  return loadMigrations(MIGRATIONS_DIR);
}

/** All pending migrations in one transaction: one that fails partway leaves the schema as it was. */
export async function applyPostgresMigrations(pool: pg.Pool, migrations: Migration[] = loadPostgresMigrations()): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL
    )`);
    const applied = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())', [
        migration.version,
        migration.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
