// Copies a whole installation between two databases — SQLite to PostgreSQL or back —
// for `portrait migrate-store`. The two schemas are twins (migrations/{sqlite,postgres}/),
// so the copy works table by table at the SQL level rather than through the Store
// interface, which has no bulk listing: every row, with its photo ids, exactly as stored.
//
// Rows travel in a canonical form that both dialects convert to and from (booleans,
// ISO timestamps, Buffers, safe integers); the same form is hashed per table, in
// primary-key order, on both sides. The whole write is one transaction on the target
// and is committed only after the target's counts and checksums match the source's,
// so a failed or mismatched copy leaves the target as it was.
import { createHash, type Hash } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import Database from './sqlite-driver.js';
import pg from 'pg';
import { describeLocation, storeUnavailable, type StoreLocation } from './open-store.js';
import { applyPostgresMigrations } from './postgres-migrations.js';
import { preparePrivateSqliteFile } from './private-sqlite-file.js';
import { applyMigrations } from './sqlite-migrations.js';

/** A copy that cannot or must not go ahead; the CLI prints the message and exits 1. */
export class StoreCopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreCopyError';
  }
}

type ColumnType = 'text' | 'integer' | 'boolean' | 'timestamp' | 'bytes';

export interface TableSpec {
  readonly name: string;
  /** Column names and canonical types, in the order rows carry them. */
  readonly columns: readonly (readonly [name: string, type: ColumnType])[];
  readonly key: readonly string[];
  /** Rows per read and write batch: small where rows carry photo bytes, to bound memory. */
  readonly batchRows: number;
}

/** A value in canonical form: what both dialects convert to and from, and what is hashed. */
export type Value = string | number | boolean | Buffer | null;
export type TableRow = readonly Value[];

const text = (name: string) => [name, 'text'] as const;
const integer = (name: string) => [name, 'integer'] as const;

/** Every table, parents before children (foreign keys), as the migrations define them. */
export const TABLES: readonly TableSpec[] = [
  { name: 'settings', columns: [text('key'), text('value')], key: ['key'], batchRows: 500 },
  { name: 'tenants', columns: [text('id'), ['created_at', 'timestamp']], key: ['id'], batchRows: 500 },
  {
    name: 'users',
    columns: [
      text('tenant_id'), text('id'), text('user_principal_name'), text('upn_key'), text('display_name'),
      text('mail'), text('user_type'), ['is_admin', 'boolean'], text('drive_id'),
    ],
    key: ['tenant_id', 'id'],
    batchRows: 500,
  },
  {
    name: 'groups',
    columns: [
      text('tenant_id'), text('id'), text('display_name'), text('mail_nickname'), text('description'),
      ['has_team', 'boolean'], ['unified', 'boolean'],
    ],
    key: ['tenant_id', 'id'],
    batchRows: 500,
  },
  {
    name: 'contact_folders',
    columns: [text('tenant_id'), text('id'), text('user_id'), text('parent_folder_id'), text('display_name')],
    key: ['tenant_id', 'id'],
    batchRows: 500,
  },
  {
    name: 'contacts',
    columns: [
      text('tenant_id'), text('id'), text('user_id'), text('folder_id'), text('display_name'),
      text('given_name'), text('surname'), text('email_addresses'),
    ],
    key: ['tenant_id', 'id'],
    batchRows: 500,
  },
  {
    name: 'invitations',
    columns: [
      text('tenant_id'), text('id'), text('invited_user_id'), text('invited_user_email_address'),
      text('invite_redirect_url'),
    ],
    key: ['tenant_id', 'id'],
    batchRows: 500,
  },
  {
    name: 'group_members',
    columns: [text('tenant_id'), text('group_id'), text('member_id')],
    key: ['tenant_id', 'group_id', 'member_id'],
    batchRows: 500,
  },
  {
    // Only the secret's hash is kept, so a copy carries no secret either.
    name: 'applications',
    columns: [
      text('tenant_id'), text('client_id'), text('display_name'), text('roles'), text('secret_hash'),
      ['created_at', 'timestamp'], text('redirect_uris'),
    ],
    key: ['tenant_id', 'client_id'],
    batchRows: 500,
  },
  {
    // Ids are kept: photo_content refers to them. A master is up to 1296 px, hence 50 a batch.
    name: 'photos',
    columns: [
      integer('id'), text('tenant_id'), text('owner_type'), text('owner_id'), text('etag'),
      integer('width'), integer('height'), text('sizes'), integer('master_width'), integer('master_height'),
      ['master', 'bytes'], ['updated_at', 'timestamp'],
    ],
    key: ['id'],
    batchRows: 50,
  },
  {
    // One row per stored size (a master's sizes are smaller than it), hence 200 a batch. Ids
    // are kept too, and a photo's rows were inserted together, so each batch holds whole
    // photos' sizes but for its edges.
    name: 'photo_content',
    columns: [
      integer('id'), integer('photo_id'), text('tenant_id'), text('owner_type'), text('owner_id'),
      integer('width'), integer('height'), ['is_primary', 'boolean'], text('etag'), ['bytes', 'bytes'],
    ],
    key: ['id'],
    batchRows: 200,
  },
];

/** One side of a copy: a database seen as tables of canonical rows. */
export interface TableAccess {
  /** Where the data is, for messages (no password). */
  readonly where: string;
  /** The table's column names as the database has them. */
  columns(table: string): Promise<string[]>;
  /** 'read': one consistent snapshot for everything read until commit; 'write': the copy's one transaction. */
  begin(mode: 'read' | 'write'): Promise<void>;
  commit(): Promise<void>;
  /** Safe to call when no transaction is open. */
  rollback(): Promise<void>;
  count(table: TableSpec): Promise<number>;
  /** Every row in primary-key order (text compared bytewise, as SQLite does), batch by batch; inside begin(). */
  read(table: TableSpec): AsyncIterable<TableRow[]>;
  insert(table: TableSpec, rows: readonly TableRow[]): Promise<void>;
  clear(table: TableSpec): Promise<void>;
  /** After rows were inserted with their ids: new rows must be numbered after them. */
  continueSequences(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens a database for copying and brings its schema up to date with the same
 * migrations a store applies. A SQLite source must exist; a SQLite target is created.
 */
export async function openTables(location: StoreLocation, options: { readonly create: boolean }): Promise<TableAccess> {
  const where = describeLocation(location);
  try {
    return location.kind === 'sqlite'
      ? SqliteTables.open(location.file, options.create)
      : await PostgresTables.open(location.url, where);
  } catch (error) {
    throw storeUnavailable(location, error);
  }
}

export interface CopyProgress {
  readonly phase: 'copy' | 'verify';
  readonly table: string;
  readonly done: number;
  readonly total: number;
}

export interface CopyOptions {
  /** Replace whatever the target holds (emptied inside the copy's transaction). */
  readonly force?: boolean;
  /** Called after every batch. */
  readonly onProgress?: (progress: CopyProgress) => void;
}

/** A table's row count and the sha256 of its canonical rows in primary-key order. */
export interface TableSummary {
  readonly table: string;
  readonly rows: number;
  readonly sha256: string;
}

/** Copies every table from source to target in one target transaction, verified before commit. */
export async function copyStore(source: TableAccess, target: TableAccess, options: CopyOptions = {}): Promise<TableSummary[]> {
  await checkColumns(source);
  await checkColumns(target);
  await source.begin('read');
  try {
    const totals = new Map<string, number>();
    for (const table of TABLES) totals.set(table.name, await source.count(table));

    await target.begin('write');
    try {
      await makeRoom(target, options.force ?? false);
      const copied: TableSummary[] = [];
      for (const table of TABLES) {
        const total = totals.get(table.name) ?? 0;
        const hash = new RowHash();
        for await (const batch of source.read(table)) {
          for (const row of batch) hash.add(row);
          await target.insert(table, batch);
          options.onProgress?.({ phase: 'copy', table: table.name, done: hash.rows, total });
        }
        // The snapshot's count and the rows it yielded must agree, or the reader is wrong.
        if (hash.rows !== total) throw new StoreCopyError(`${table.name}: counted ${total} rows in ${source.where} but read ${hash.rows}`);
        copied.push({ table: table.name, rows: hash.rows, sha256: hash.digest() });
      }
      await target.continueSequences();

      // Read everything back through the target's own reader, before committing.
      const written = await checksumTables(target, (done, table) =>
        options.onProgress?.({ phase: 'verify', table, done, total: totals.get(table) ?? 0 }),
      );
      const differences = compareSummaries(copied, written);
      if (differences.length > 0) {
        throw new StoreCopyError(`the copy in ${target.where} does not match ${source.where}: ${differences.join('; ')}; nothing was written`);
      }
      await target.commit();
      return copied;
    } finally {
      // After a commit this does nothing; after a failure it must not hide the failure.
      await target.rollback().catch(() => {});
    }
  } finally {
    await source.rollback().catch(() => {});
  }
}

/** Counts and checksums every table as the transaction begun on access sees it. */
export async function checksumTables(
  access: TableAccess,
  onBatch?: (done: number, table: string) => void,
): Promise<TableSummary[]> {
  const summaries: TableSummary[] = [];
  for (const table of TABLES) {
    const hash = new RowHash();
    for await (const batch of access.read(table)) {
      for (const row of batch) hash.add(row);
      onBatch?.(hash.rows, table.name);
    }
    summaries.push({ table: table.name, rows: hash.rows, sha256: hash.digest() });
  }
  return summaries;
}

/** What differs between two sets of summaries, table by table, in words; empty when they match. */
export function compareSummaries(expected: readonly TableSummary[], actual: readonly TableSummary[]): string[] {
  const differences: string[] = [];
  for (const want of expected) {
    const got = actual.find((summary) => summary.table === want.table);
    if (got === undefined) differences.push(`${want.table} is missing`);
    else if (got.rows !== want.rows) differences.push(`${want.table} has ${got.rows} rows instead of ${want.rows}`);
    else if (got.sha256 !== want.sha256) differences.push(`${want.table} has the same ${got.rows} rows but different content`);
  }
  return differences;
}

/** A copy that knew fewer columns than the database has would drop data silently: refuse instead. */
async function checkColumns(access: TableAccess): Promise<void> {
  for (const table of TABLES) {
    const expected = table.columns.map(([name]) => name);
    const actual = await access.columns(table.name);
    const unknown = actual.filter((name) => !expected.includes(name));
    const missing = expected.filter((name) => !actual.includes(name));
    if (unknown.length > 0 || missing.length > 0) {
      throw new StoreCopyError(
        `${access.where}: table ${table.name} has columns [${actual.join(', ')}], the copy expects [${expected.join(', ')}]` +
          ' (is it from another Portrait version?)',
      );
    }
  }
}

/** Refuses a target that holds anything unless forced; forced, empties it children first. */
async function makeRoom(target: TableAccess, force: boolean): Promise<void> {
  const held: string[] = [];
  for (const table of TABLES) {
    const rows = await target.count(table);
    if (rows > 0) held.push(`${rows} ${table.name}`);
  }
  if (held.length === 0) return;
  if (!force) {
    throw new StoreCopyError(`${target.where} is not empty (${held.join(', ')}); --force replaces what it holds`);
  }
  for (const table of [...TABLES].reverse()) await target.clear(table);
}

/**
 * sha256 over rows in a self-delimiting encoding: a type tag, then a length where a
 * value's size varies, so that no two different rows (or row sequences) hash alike.
 */
class RowHash {
  readonly #hash: Hash = createHash('sha256');
  rows = 0;

  add(row: TableRow): void {
    for (const value of row) {
      if (value === null) this.#hash.update('n');
      else if (typeof value === 'boolean') this.#hash.update(value ? 'b1' : 'b0');
      else if (typeof value === 'number') this.#hash.update(`i${value};`);
      else if (typeof value === 'string') this.#hash.update(`s${Buffer.byteLength(value)}:`).update(value);
      else this.#hash.update(`x${value.length}:`).update(value);
    }
    this.rows += 1;
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

// ---------------------------------------------------------------------------
// Canonical values: one reader per dialect, checked, so a surprise fails loudly.

function canonical(table: TableSpec, column: number, raw: unknown): Value {
  const [name, type] = table.columns[column] ?? ['?', 'text'];
  if (raw === null) return null;
  switch (type) {
    case 'text':
      if (typeof raw === 'string') return raw;
      break;
    case 'integer': {
      // PostgreSQL's bigint (photos.id, photo_content.id and .photo_id) arrives as a string.
      const value = typeof raw === 'string' || typeof raw === 'bigint' ? Number(raw) : raw;
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      break;
    }
    case 'boolean':
      // SQLite keeps 1/0 (STRICT tables have no boolean), PostgreSQL true/false.
      if (raw === 1 || raw === 0) return raw === 1;
      if (typeof raw === 'boolean') return raw;
      break;
    case 'timestamp': {
      // SQLite keeps ISO text, PostgreSQL a timestamptz (a Date here, millisecond precision).
      const date = raw instanceof Date ? raw : typeof raw === 'string' ? new Date(raw) : undefined;
      if (date !== undefined && !Number.isNaN(date.getTime())) return date.toISOString();
      break;
    }
    case 'bytes':
      if (Buffer.isBuffer(raw)) return raw;
      break;
  }
  throw new StoreCopyError(`${table.name}.${name}: cannot read ${typeof raw} ${JSON.stringify(String(raw)).slice(0, 60)} as ${type}`);
}

function canonicalRow(table: TableSpec, raw: readonly unknown[]): TableRow {
  return raw.map((value, column) => canonical(table, column, value));
}

function quoted(name: string): string {
  return `"${name}"`;
}

// ---------------------------------------------------------------------------
// SQLite: better-sqlite3 is synchronous, so a transaction simply stays open on the
// connection across the awaits of the other side.

class SqliteTables implements TableAccess {
  readonly where: string;
  readonly #db: BetterSqlite3.Database;
  readonly #inserts = new Map<string, BetterSqlite3.Statement>();

  private constructor(db: BetterSqlite3.Database, where: string) {
    this.#db = db;
    this.where = where;
  }

  static open(file: string, create: boolean): SqliteTables {
    preparePrivateSqliteFile(file, { create });
    const db = new Database(file, { fileMustExist: !create });
    try {
      // As SqliteStore opens it: WAL, foreign keys enforced (so the copy is checked too).
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      applyMigrations(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteTables(db, file);
  }

  async columns(table: string): Promise<string[]> {
    return this.#db.prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').pluck().all(table) as string[];
  }

  async begin(mode: 'read' | 'write'): Promise<void> {
    // IMMEDIATE takes the write lock now, so the emptiness check still holds at commit.
    this.#db.exec(mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN');
    // A deferred transaction's snapshot starts at its first read: make that now.
    this.#db.prepare('SELECT count(*) FROM sqlite_schema').get();
  }

  async commit(): Promise<void> {
    this.#db.exec('COMMIT');
  }

  async rollback(): Promise<void> {
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
  }

  async count(table: TableSpec): Promise<number> {
    return this.#db.prepare(`SELECT count(*) FROM ${quoted(table.name)}`).pluck().get() as number;
  }

  async *read(table: TableSpec): AsyncIterable<TableRow[]> {
    const columns = table.columns.map(([name]) => quoted(name)).join(', ');
    // Text columns use SQLite's default BINARY collation: byte order, like COLLATE "C" there.
    const order = table.key.map(quoted).join(', ');
    const select = this.#db.prepare(`SELECT ${columns} FROM ${quoted(table.name)} ORDER BY ${order}`).raw(true);
    let batch: TableRow[] = [];
    for (const raw of select.iterate() as IterableIterator<unknown[]>) {
      batch.push(canonicalRow(table, raw));
      if (batch.length >= table.batchRows) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  async insert(table: TableSpec, rows: readonly TableRow[]): Promise<void> {
    let insert = this.#inserts.get(table.name);
    if (insert === undefined) {
      const columns = table.columns.map(([name]) => quoted(name));
      insert = this.#db.prepare(
        `INSERT INTO ${quoted(table.name)} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      );
      this.#inserts.set(table.name, insert);
    }
    for (const row of rows) insert.run(row.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : value)));
  }

  async clear(table: TableSpec): Promise<void> {
    this.#db.exec(`DELETE FROM ${quoted(table.name)}`);
  }

  async continueSequences(): Promise<void> {
    // An INTEGER PRIMARY KEY continues after the largest id by itself.
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

// ---------------------------------------------------------------------------
// PostgreSQL: one connection held for the whole copy; reads go through a cursor so
// that a large table is never in memory at once.

class PostgresTables implements TableAccess {
  readonly where: string;
  readonly #pool: pg.Pool;
  readonly #client: pg.PoolClient;
  #inTransaction = false;

  private constructor(pool: pg.Pool, client: pg.PoolClient, where: string) {
    this.#pool = pool;
    this.#client = client;
    this.where = where;
  }

  static async open(url: string, where: string): Promise<PostgresTables> {
    const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 10_000 });
    // A connection dropping while idle must not crash the process; queries report it.
    pool.on('error', () => {});
    try {
      await applyPostgresMigrations(pool);
      const client = await pool.connect();
      client.on('error', () => {});
      return new PostgresTables(pool, client, where);
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  async columns(table: string): Promise<string[]> {
    const result = await this.#client.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    return result.rows.map((row) => row.column_name);
  }

  async begin(mode: 'read' | 'write'): Promise<void> {
    this.#inTransaction = true;
    if (mode === 'read') {
      // One snapshot for every table, however long the copy takes, while the server keeps writing.
      await this.#client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      return;
    }
    await this.#client.query('BEGIN');
    // Keep writers out until commit (readers may go on); give up rather than queue forever.
    await this.#client.query("SET LOCAL lock_timeout = '30s'");
    await this.#client.query(`LOCK TABLE ${TABLES.map((table) => quoted(table.name)).join(', ')} IN EXCLUSIVE MODE`);
  }

  async commit(): Promise<void> {
    await this.#client.query('COMMIT');
    this.#inTransaction = false;
  }

  async rollback(): Promise<void> {
    if (!this.#inTransaction) return;
    this.#inTransaction = false;
    await this.#client.query('ROLLBACK');
  }

  async count(table: TableSpec): Promise<number> {
    const result = await this.#client.query<{ count: string }>(`SELECT count(*) FROM ${quoted(table.name)}`);
    return Number(result.rows[0]?.count ?? 0);
  }

  async *read(table: TableSpec): AsyncIterable<TableRow[]> {
    const columns = table.columns.map(([name]) => quoted(name)).join(', ');
    // COLLATE "C" compares UTF-8 bytes, which is SQLite's order: both sides hash rows alike.
    const order = table.key
      .map((name) => (table.columns.find(([column]) => column === name)?.[1] === 'text' ? `${quoted(name)} COLLATE "C"` : quoted(name)))
      .join(', ');
    const cursor = `portrait_copy_${table.name}`;
    await this.#client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${columns} FROM ${quoted(table.name)} ORDER BY ${order}`);
    try {
      for (;;) {
        const result = await this.#client.query<unknown[]>({ text: `FETCH ${table.batchRows} FROM ${cursor}`, rowMode: 'array' });
        if (result.rows.length === 0) break;
        yield result.rows.map((raw) => canonicalRow(table, raw));
      }
    } finally {
      await this.#client.query(`CLOSE ${cursor}`).catch(() => {});
    }
  }

  async insert(table: TableSpec, rows: readonly TableRow[]): Promise<void> {
    if (rows.length === 0) return;
    const width = table.columns.length;
    const values = rows.map((_, r) => `(${table.columns.map((_, c) => `$${r * width + c + 1}`).join(', ')})`);
    await this.#client.query(
      `INSERT INTO ${quoted(table.name)} (${table.columns.map(([name]) => quoted(name)).join(', ')}) VALUES ${values.join(', ')}`,
      rows.flat(),
    );
  }

  async clear(table: TableSpec): Promise<void> {
    await this.#client.query(`DELETE FROM ${quoted(table.name)}`);
  }

  async continueSequences(): Promise<void> {
    // photos.id and photo_content.id are bigserials: ids were inserted as they were, so
    // move their sequences past them.
    for (const table of ['photos', 'photo_content']) {
      await this.#client.query(
        `SELECT setval(pg_get_serial_sequence('${table}', 'id'), coalesce(max(id), 0) + 1, false) FROM ${quoted(table)}`,
      );
    }
  }

  async close(): Promise<void> {
    this.#client.release();
    await this.#pool.end();
  }
}
