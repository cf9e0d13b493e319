// PostgresStore: the shared Store contract, each test on a scratch database of the
// test server, plus what only PostgreSQL has — migrations applied once when several
// nodes start at the same moment. Skipped, saying why, when no server answers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../src/storage/postgres-store.js';
import { loadMigrations } from '../src/storage/sqlite-migrations.js';
import { createScratchDatabase, postgresUnavailable } from './helpers/postgres.js';
import { storeContract } from './store-contract.js';

const skip = await postgresUnavailable();

storeContract(
  'PostgresStore',
  async () => {
    const database = await createScratchDatabase();
    let store = await PostgresStore.open({ connectionString: database.url, poolSize: 4 });
    return {
      store,
      reopen: async () => {
        await store.close();
        store = await PostgresStore.open({ connectionString: database.url, poolSize: 4 });
        return store;
      },
      cleanup: async () => {
        await store.close();
        await database.drop();
      },
    };
  },
  { skip },
);

describe('PostgresStore migrations', { skip: skip ?? false }, () => {
  it('are applied once when eight nodes open one empty database at the same moment', async (t) => {
    const database = await createScratchDatabase();
    t.after(() => database.drop());
    const stores = await Promise.all(
      Array.from({ length: 8 }, () => PostgresStore.open({ connectionString: database.url, poolSize: 1 })),
    );
    await Promise.all(stores.map((store) => store.close()));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: number; n: string }>(
        'SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version',
      );
      // Each dialect has the same numbered migrations: every one of them, recorded once.
      assert.deepEqual(
        rows.map((r) => [r.version, Number(r.n)]),
        loadMigrations().map((m) => [m.version, 1]),
      );
    } finally {
      await client.end();
    }
  });
});
