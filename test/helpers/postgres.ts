// PostgreSQL for tests: the server in PORTRAIT_TEST_POSTGRES_URL (default: the
// local one), a scratch database per test process created on first use and
// dropped when the process is done, and a clear reason to skip when there is none.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_SERVER_URL = process.env.PORTRAIT_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let availability: Promise<string | undefined> | undefined;

/** undefined when PostgreSQL answers; otherwise why the PostgreSQL tests are skipped. */
export function postgresUnavailable(): Promise<string | undefined> {
  availability ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_SERVER_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (error) {
      return `PostgreSQL not reachable at ${redact(POSTGRES_SERVER_URL)} (${error instanceof Error ? error.message : String(error)}); set PORTRAIT_TEST_POSTGRES_URL`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return availability;
}

/** Creates an empty database on the test server; drop() removes it. */
export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `portrait_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

let shared: Promise<string> | undefined;

/** One scratch database for the whole test process, dropped when it exits. */
export function sharedScratchDatabase(): Promise<string> {
  shared ??= createScratchDatabase().then(({ url, drop }) => {
    let dropped = false;
    process.on('beforeExit', () => {
      if (dropped) return;
      dropped = true;
      void drop();
    });
    return url;
  });
  return shared;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_SERVER_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function redact(text: string): string {
  const url = new URL(text);
  url.password = '';
  return url.toString();
}
