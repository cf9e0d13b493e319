// Opens the store a --database value names: a SQLite file (the default, in the
// data folder) or a postgres:// URL for several nodes on one database.
import { resolve } from 'node:path';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export type StoreLocation =
  | { readonly kind: 'sqlite'; readonly file: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize: number };

/** A --database value that names no store Portrait has: the CLI says so in one line and exits 2. */
export class StoreLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreLocationError';
  }
}

/** The store could not be opened or reached: the CLI says why in one line and exits 3. */
export class StoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/** `postgres://…` or `postgresql://…`, a `sqlite:` URL, or a file path; undefined: DATA_DIR/portrait.db. */
export function storeLocation(database: string | undefined, dataDir: string, poolSize = 10, flag = '--database'): StoreLocation {
  if (database === undefined) return { kind: 'sqlite', file: resolve(dataDir, 'portrait.db') };
  if (/^postgres(ql)?:\/\//i.test(database)) return { kind: 'postgres', url: database, poolSize };
  // mysql://… would otherwise be taken for a file path and get a new, empty SQLite file.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(database)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== 'sqlite' && scheme.toLowerCase() !== 'file') {
    throw new StoreLocationError(`${flag} must be a SQLite file or a postgres:// URL, not ${scheme}://…`);
  }
  if (/^file:\/\//i.test(database)) return { kind: 'sqlite', file: resolve(new URL(database).pathname) };
  return { kind: 'sqlite', file: resolve(database.replace(/^sqlite:(\/\/)?/i, '')) };
}

/** Opens (and migrates) the store; any failure is a StoreUnavailableError saying where and why, in one line. */
export async function openStore(location: StoreLocation): Promise<Store> {
  try {
    return location.kind === 'sqlite'
      ? new SqliteStore({ filename: location.file })
      : await PostgresStore.open({ connectionString: location.url, poolSize: location.poolSize });
  } catch (error) {
    throw storeUnavailable(location, error);
  }
}

/** "cannot open PostgreSQL at postgres://…: connection refused (…)" — the location without its password. */
export function storeUnavailable(location: StoreLocation, error: unknown): StoreUnavailableError {
  const what = location.kind === 'sqlite' ? 'the SQLite database' : 'PostgreSQL at';
  return new StoreUnavailableError(`cannot open ${what} ${describeLocation(location)}: ${reason(error)}`);
}

/** Why opening failed, in words: a socket error's code, else the driver's first line. */
function reason(error: unknown): string {
  // A host with several addresses (localhost: ::1 and 127.0.0.1) fails with an AggregateError of each.
  const first = error instanceof AggregateError && error.errors.length > 0 ? (error.errors[0] as unknown) : error;
  const code = (first as { code?: unknown } | null)?.code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is PostgreSQL running, on that host and port?)',
    ENOTFOUND: 'the host name does not resolve',
    EAI_AGAIN: 'the host name does not resolve',
    ETIMEDOUT: 'the connection timed out',
    EHOSTUNREACH: 'the host is unreachable',
    ENETUNREACH: 'the network is unreachable',
    ECONNRESET: 'the connection was reset',
  };
  if (typeof code === 'string' && words[code] !== undefined) return words[code];
  const message = first instanceof Error ? first.message : String(first);
  return message.split('\n')[0] || (typeof code === 'string' ? code : 'unknown error');
}

/** For messages: where the data is, without a password. */
export function describeLocation(location: StoreLocation): string {
  if (location.kind === 'sqlite') return location.file;
  const url = new URL(location.url);
  url.password = '';
  return url.toString();
}
