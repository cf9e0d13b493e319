// Opens the store a --database value names: a SQLite file (the default, in the
// data folder) or a postgres:// URL for several nodes on one database.
import { resolve } from 'node:path';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export type StoreLocation =
  | { readonly kind: 'sqlite'; readonly file: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize: number };

/** `postgres://…` or `postgresql://…`, a `sqlite:` URL, or a file path; undefined: DATA_DIR/portrait.db. */
export function storeLocation(database: string | undefined, dataDir: string, poolSize = 10): StoreLocation {
  if (database === undefined) return { kind: 'sqlite', file: resolve(dataDir, 'portrait.db') };
  if (/^postgres(ql)?:\/\//i.test(database)) return { kind: 'postgres', url: database, poolSize };
  return { kind: 'sqlite', file: resolve(database.replace(/^sqlite:(\/\/)?/i, '')) };
}

export async function openStore(location: StoreLocation): Promise<Store> {
  return location.kind === 'sqlite'
    ? new SqliteStore({ filename: location.file })
    : PostgresStore.open({ connectionString: location.url, poolSize: location.poolSize });
}

/** For messages: where the data is, without a password. */
export function describeLocation(location: StoreLocation): string {
  if (location.kind === 'sqlite') return location.file;
  const url = new URL(location.url);
  url.password = '';
  return url.toString();
}
