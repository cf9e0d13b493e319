// The PostgreSQL server of the nodes section: whether it answers, scratch
// databases on it, and which server processes work for one of them. A scratch
// database is dropped by whoever made it when it is done, and, when the bench
// exits before that (a failure, Ctrl-C), by dropScratchDatabases() from run.ts's
// exit handler — so no run leaves a database behind, however it ends.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const DROP_DATABASE_PROCESS = fileURLToPath(new URL('./drop-database-process.js', import.meta.url));
const CONNECT_TIMEOUT_MS = 2000;

/** Scratch databases not dropped yet: name → the server URL it was made on. */
const live = new Map<string, string>();

export interface ScratchDatabase {
  readonly name: string;
  /** A postgres:// URL of the database, for `--database`. */
  readonly url: string;
  /** Drops it (ending any session still on it). */
  drop(): Promise<void>;
}

/** The server's version ("15.20"), or why it cannot be used and the PostgreSQL rows are skipped. */
export async function probePostgres(serverUrl: string): Promise<{ readonly version: string } | { readonly unavailable: string }> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return { version: result.rows[0]?.server_version.split(' ')[0] ?? '?' };
  } catch (error) {
    return { unavailable: `PostgreSQL not reachable at ${redact(serverUrl)} (${error instanceof Error ? error.message : String(error)}); set BENCH_POSTGRES_URL` };
  } finally {
    await client.end().catch(() => {});
  }
}

export async function createScratchDatabase(serverUrl: string): Promise<ScratchDatabase> {
  const name = `portrait_bench_${randomBytes(6).toString('hex')}`;
  // Registered first: a CREATE whose answer is lost to an exit still gets its DROP.
  live.set(name, serverUrl);
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  return {
    name,
    url: databaseUrl(serverUrl, name),
    async drop() {
      await admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      live.delete(name);
    },
  };
}

/**
 * Drops every scratch database still there, synchronously: for the bench's exit
 * handler, where nothing asynchronous runs any more (hence a child process per
 * database). Its servers may still be dying: WITH (FORCE) ends their sessions.
 */
export function dropScratchDatabases(): void {
  for (const [name, serverUrl] of live) {
    const drop = spawnSync(process.execPath, [DROP_DATABASE_PROCESS, serverUrl, name], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15_000, encoding: 'utf8' });
    if (drop.status !== 0) process.stderr.write(`bench: could not drop the scratch database ${name}: ${drop.stderr || drop.error?.message || drop.signal}\n`);
    live.delete(name);
  }
}

/**
 * The pids of the server processes serving connections to this database (other
 * than the asking one): their CPU time is the database's share of a read's cost.
 */
export async function backendPids(database: ScratchDatabase): Promise<number[]> {
  const client = new pg.Client({ connectionString: database.url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    const result = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
    );
    return result.rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

/** One statement on the server, outside any transaction (CREATE and DROP DATABASE need that). */
export async function admin(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** For messages: the server without a password. */
export function redact(serverUrl: string): string {
  try {
    const url = new URL(serverUrl);
    url.password = '';
    return url.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
