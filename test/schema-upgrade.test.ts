// A store written by the previous release (schema 007: test/fixtures/upgrade/, made by
// test/helpers/make-upgrade-fixtures.ts with that release's own code) is upgraded in place
// by today's code (migration 008, photo_content) and still serves what it served: every
// size byte for byte under the same ETag, so a client's cached photo and its conditional
// requests survive the upgrade. The expected content is read from the old file with plain
// SQL before anything of today's code opens it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import Database from '../src/storage/sqlite-driver.js';
import pg from 'pg';
import { applyPostgresMigrations, loadPostgresMigrations } from '../src/storage/postgres-migrations.js';
import { PostgresStore } from '../src/storage/postgres-store.js';
import { applyMigrations, loadMigrations, type Migration } from '../src/storage/sqlite-migrations.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import type { Dimensions, NewPhoto, PhotoOwner, Store } from '../src/storage/store.js';
import { createScratchDatabase, postgresUnavailable } from './helpers/postgres.js';
import { cliToken, completion, request, startServer, type CliResult } from './helpers/server-process.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/upgrade/', import.meta.url));
const SQLITE_FIXTURE = join(FIXTURES, 'portrait-007.db');
const POSTGRES_FIXTURE = join(FIXTURES, 'portrait-007.pg.sql');
const SQLITE_STORE_MODULE = new URL('../src/storage/sqlite-store.js', import.meta.url).href;

/** Tables 008 must leave exactly as they were (photos included: it keeps the master and metadata), each in key order. */
const UNTOUCHED: readonly (readonly [table: string, key: string])[] = [
  ['settings', 'key'],
  ['tenants', 'id'],
  ['users', 'tenant_id, id'],
  ['groups', 'tenant_id, id'],
  ['group_members', 'tenant_id, group_id, member_id'],
  ['contact_folders', 'tenant_id, id'],
  ['contacts', 'tenant_id, id'],
  ['photos', 'id'],
];

interface OldSize extends Dimensions {
  readonly bytes: Buffer;
}

/** One photo as the old schema holds it. */
interface OldPhoto {
  readonly owner: PhotoOwner;
  readonly etag: string;
  readonly primary: Dimensions;
  readonly master: OldSize;
  readonly sizes: readonly OldSize[];
}

/** A row of either dialect's answer to the queries below (PostgreSQL's bytea is a Buffer too). */
type Row = Record<string, unknown>;

const OLD_PHOTOS = `SELECT id, tenant_id, owner_type, owner_id, etag, width, height, master_width, master_height, master
  FROM photos ORDER BY id`;
const OLD_SIZES = 'SELECT photo_id, width, height, bytes FROM photo_sizes ORDER BY photo_id, width, height';
// A content row answers a read alone, so what it repeats of its photo must be the photo's.
const DISAGREEING = `SELECT count(*) AS n FROM photo_content c JOIN photos p ON p.id = c.photo_id
  WHERE c.etag <> p.etag OR c.tenant_id <> p.tenant_id OR c.owner_type <> p.owner_type OR c.owner_id <> p.owner_id
     OR c.is_primary <> (c.width = p.width AND c.height = p.height)`;
const ORPHANS = 'SELECT count(*) AS n FROM photo_content WHERE photo_id NOT IN (SELECT id FROM photos)';
const PRIMARY_NOT_ONE = 'SELECT count(*) AS n FROM photos p WHERE (SELECT count(*) FROM photo_content c WHERE c.photo_id = p.id AND c.is_primary) <> 1';

function oldPhotos(photos: readonly Row[], sizes: readonly Row[]): OldPhoto[] {
  return photos.map((p) => ({
    owner: { tenantId: String(p.tenant_id), type: p.owner_type as PhotoOwner['type'], id: String(p.owner_id) },
    etag: String(p.etag),
    primary: { width: Number(p.width), height: Number(p.height) },
    master: { width: Number(p.master_width), height: Number(p.master_height), bytes: p.master as Buffer },
    sizes: sizes
      .filter((s) => String(s.photo_id) === String(p.id))
      .map((s) => ({ width: Number(s.width), height: Number(s.height), bytes: s.bytes as Buffer })),
  }));
}

/** What the fixture must hold for the test to mean anything: every owner type, several sizes. */
function assertWorthUpgrading(photos: readonly OldPhoto[]): void {
  assert.deepEqual(new Set(photos.map((p) => p.owner.type)), new Set(['user', 'group', 'contact']));
  assert.ok(photos.length >= 4, `${photos.length} photos in the fixture`);
  assert.ok(photos.every((p) => p.sizes.some((s) => s.width === p.primary.width && s.height === p.primary.height)), 'each has its primary size');
  assert.ok(photos.some((p) => p.sizes.length >= 7), 'one photo has all the sizes its master allows');
}

/** Every size, the primary and the master, through the Store API: the old bytes under the old ETag. */
async function assertServedAsBefore(store: Store, photos: readonly OldPhoto[]): Promise<void> {
  for (const photo of photos) {
    const name = `${photo.owner.type} ${photo.owner.id}`;
    const info = await store.getPhoto(photo.owner);
    assert.equal(info?.etag, photo.etag, `${name}: its ETag`);
    assert.deepEqual(info?.primary, photo.primary, `${name}: its primary size`);
    assert.deepEqual(info?.sizes, photo.sizes.map(({ width, height }) => ({ width, height })), `${name}: its sizes`);
    for (const size of photo.sizes) {
      const content = await store.getPhotoContent(photo.owner, size);
      assert.equal(content?.etag, photo.etag, `${name} ${size.width}x${size.height}: the ETag`);
      assert.ok(content?.bytes.equals(size.bytes), `${name} ${size.width}x${size.height}: the same bytes`);
    }
    const primary = await store.getPhotoContent(photo.owner, 'primary');
    const primaryBytes = photo.sizes.find((s) => s.width === photo.primary.width && s.height === photo.primary.height)?.bytes;
    assert.deepEqual({ etag: primary?.etag, width: primary?.width, height: primary?.height }, { etag: photo.etag, ...photo.primary }, `${name}: the primary`);
    assert.ok(primaryBytes !== undefined && primary?.bytes.equals(primaryBytes), `${name}: the primary's bytes`);
    const master = await store.getMaster(photo.owner);
    assert.ok(master?.bytes.equals(photo.master.bytes), `${name}: the master`);
    assert.equal(await store.getPhotoContent(photo.owner, { width: 1, height: 1 }), undefined, `${name}: no size it never had`);
  }
}

/** A photo of made-up bytes (the store keeps what it is given), with a size the old one had not. */
function newPhoto(etag: string): NewPhoto {
  const size = (width: number): OldSize => ({ width, height: width, bytes: Buffer.from(`${etag} ${width}`) });
  return { etag, primary: { width: 96, height: 96 }, master: { width: 200, height: 150, bytes: Buffer.from(`${etag} master`) }, sizes: [size(48), size(96), size(648)] };
}

/** Writes after the upgrade: a conditional put and delete with the old ETags, owners' deletes; no row is left behind. */
async function assertWritesAfterUpgrade(store: Store, photos: readonly OldPhoto[]): Promise<void> {
  const [user, otherUser] = photos.filter((p) => p.owner.type === 'user');
  assert.ok(user !== undefined && otherUser !== undefined);
  const replaced = await store.putPhoto(user.owner, newPhoto('"NEW"'), { ifMatch: [user.etag] });
  assert.equal(replaced.ok, true, 'If-Match with the ETag the old release gave holds');
  assert.equal((await store.getPhotoContent(user.owner, 'primary'))?.bytes.toString(), '"NEW" 96');
  assert.equal((await store.getPhotoContent(user.owner, { width: 648, height: 648 }))?.etag, '"NEW"');
  assert.equal(await store.getPhotoContent(user.owner, { width: 432, height: 432 }), undefined, 'the old sizes went with the old version');
  assert.deepEqual(await store.putPhoto(user.owner, newPhoto('"LATE"'), { ifMatch: [user.etag] }), { ok: false, reason: 'precondition', currentEtag: '"NEW"' });

  assert.deepEqual(await store.deletePhoto(otherUser.owner, { ifMatch: [otherUser.etag] }), { ok: true, deleted: true });
  assert.equal(await store.getPhotoContent(otherUser.owner, 'primary'), undefined);
  for (const size of otherUser.sizes) assert.equal(await store.getPhotoContent(otherUser.owner, size), undefined);

  // The contact's owner and the group go, and their photos with them.
  const contact = photos.find((p) => p.owner.type === 'contact');
  const group = photos.find((p) => p.owner.type === 'group');
  assert.ok(contact !== undefined && group !== undefined);
  let usersDeleted = 0;
  for (const u of await store.listUsers(contact.owner.tenantId)) {
    if ((await store.getContact(u.tenantId, u.id, contact.owner.id)) === undefined) continue;
    assert.equal(await store.deleteUser(u.tenantId, u.id), true);
    usersDeleted += 1;
  }
  assert.equal(usersDeleted, 1, 'the contact has an owner in the fixture');
  assert.equal(await store.getPhotoContent(contact.owner, 'primary'), undefined, "the contact's photo went with its user");
  assert.equal(await store.deleteGroup(group.owner.tenantId, group.owner.id), true);
  assert.equal(await store.getPhotoContent(group.owner, 'primary'), undefined, "the group's photo went with it");
}

// ---------------------------------------------------------------------------
// SQLite

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'portrait-upgrade-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The fixture copied into a fresh data folder as its portrait.db. */
function oldSqliteStore(t: TestContext): { dataDir: string; file: string } {
  const dataDir = tempDir(t);
  const file = join(dataDir, 'portrait.db');
  copyFileSync(SQLITE_FIXTURE, file);
  return { dataDir, file };
}

function withDb<T>(file: string, read: (db: BetterSqlite3.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function untouched(db: BetterSqlite3.Database): Record<string, unknown[]> {
  return Object.fromEntries(UNTOUCHED.map(([table, key]) => [table, db.prepare(`SELECT * FROM ${table} ORDER BY ${key}`).all()]));
}

/** Reads the old schema with SQL alone, checking it is the old schema. */
function readOldSqlite(file: string): { photos: OldPhoto[]; tables: Record<string, unknown[]>; sizeRows: number } {
  return withDb(file, (db) => {
    assert.deepEqual(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), [1, 2, 3, 4, 5, 6, 7]);
    const sizes = db.prepare(OLD_SIZES).all() as Row[];
    const photos = oldPhotos(db.prepare(OLD_PHOTOS).all() as Row[], sizes);
    assertWorthUpgrading(photos);
    return { photos, tables: untouched(db), sizeRows: sizes.length };
  });
}

function count(db: BetterSqlite3.Database, sql: string): number {
  return db.prepare(sql).pluck().get() as number;
}

describe('upgrading a SQLite store of schema 007', () => {
  it('008 moves every size in place: the same bytes under the same ETag, the rest untouched, photo_sizes gone', async (t) => {
    const { file } = oldSqliteStore(t);
    const before = readOldSqlite(file);

    const store = new SqliteStore({ filename: file });
    await assertServedAsBefore(store, before.photos);
    await store.close();

    withDb(file, (db) => {
      const migrations = db.prepare('SELECT version, name FROM schema_migrations WHERE version > 7').all();
      assert.deepEqual(migrations, [{ version: 8, name: '008-photo-content.sql' }]);
      assert.equal(count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'photo_sizes'"), 0, 'photo_sizes is gone');
      assert.equal(count(db, 'SELECT count(*) FROM photo_content'), before.sizeRows, 'one content row per old size row');
      assert.equal(count(db, DISAGREEING), 0);
      assert.equal(count(db, PRIMARY_NOT_ONE), 0);
      assert.deepEqual(untouched(db), before.tables, 'the directory and the photos table are as they were');
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
    });
  });

  it('after the upgrade, writes work and leave no content row behind', async (t) => {
    const { file } = oldSqliteStore(t);
    const before = readOldSqlite(file);
    const store = new SqliteStore({ filename: file });
    t.after(() => store.close());
    await assertWritesAfterUpgrade(store, before.photos);
    withDb(file, (db) => {
      assert.equal(count(db, ORPHANS), 0);
      assert.equal(count(db, DISAGREEING), 0);
      assert.equal(count(db, PRIMARY_NOT_ONE), 0);
      // What is left: the replaced photo's three sizes.
      assert.equal(count(db, 'SELECT count(*) FROM photo_content'), 3);
      assert.deepEqual(db.pragma('foreign_key_check'), []);
    });
  });

  it('opened again, the upgraded store is not migrated twice', async (t) => {
    const { file } = oldSqliteStore(t);
    const before = readOldSqlite(file);
    await new SqliteStore({ filename: file }).close();
    const applied = withDb(file, (db) => db.prepare('SELECT * FROM schema_migrations WHERE version = 8').all());
    const again = new SqliteStore({ filename: file });
    t.after(() => again.close());
    assert.deepEqual(withDb(file, (db) => db.prepare('SELECT * FROM schema_migrations WHERE version = 8').all()), applied);
    assert.equal(withDb(file, (db) => count(db, 'SELECT count(*) FROM photo_content')), before.sizeRows);
    await assertServedAsBefore(again, before.photos);
  });

  it('two processes opening the old file at once upgrade it once, and both serve it', async (t) => {
    const { file } = oldSqliteStore(t);
    const before = readOldSqlite(file);
    const [first] = before.photos;
    assert.ok(first !== undefined);
    // Both wait for the same moment after starting, so that their opens race.
    const startAt = Date.now() + 1500;
    const results = await Promise.all([openInChild(file, first.owner, startAt), openInChild(file, first.owner, startAt)]);
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, first.etag);
    }
    withDb(file, (db) => {
      assert.equal(count(db, 'SELECT count(*) FROM schema_migrations WHERE version = 8'), 1);
      assert.equal(count(db, 'SELECT count(*) FROM photo_content'), before.sizeRows);
    });
  });

  it('a process that opens the old file during a long upgrade waits for it instead of failing "database is locked"', async (t) => {
    const { file } = oldSqliteStore(t);
    const [first] = readOldSqlite(file).photos;
    assert.ok(first !== undefined);
    // Another process upgrading: the write lock, held past the store's busy_timeout (5 s),
    // as 008 holds it for 16 s on a store of 100,000 users.
    const upgrading = new Database(file);
    upgrading.exec('BEGIN IMMEDIATE');
    const started = performance.now();
    const opening = openInChild(file, first.owner);
    await delay(6000);
    upgrading.exec('ROLLBACK');
    upgrading.close();
    const result = await opening;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, first.etag);
    assert.ok(performance.now() - started >= 6000, 'it waited for the lock');
  });

  it('an upgraded file opens at once while another process writes: only an upgrade waits', async (t) => {
    const { file } = oldSqliteStore(t);
    const [first] = readOldSqlite(file).photos;
    assert.ok(first !== undefined);
    await new SqliteStore({ filename: file }).close();
    const writing = new Database(file);
    writing.exec('BEGIN IMMEDIATE');
    t.after(() => writing.close());
    const started = performance.now();
    const result = await openInChild(file, first.owner);
    writing.exec('ROLLBACK');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, first.etag, 'it reads while the writer holds the lock');
    assert.ok(performance.now() - started < 4000, `opened in ${Math.round(performance.now() - started)} ms`);
  });

  it('an upgrade that fails partway leaves the 007 store as it was', async (t) => {
    const { file } = oldSqliteStore(t);
    const before = readOldSqlite(file);
    // 008 as shipped, then a statement that fails: its copy and its DROP must be undone.
    const db = new Database(file);
    try {
      assert.throws(() => applyMigrations(db, withFailingEnd(loadMigrations())), /no such table: not_a_table/);
    } finally {
      db.close();
    }
    const after = readOldSqlite(file);
    assert.equal(after.sizeRows, before.sizeRows);
    assert.deepEqual(after.photos, before.photos);
    assert.equal(withDb(file, (db) => count(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'photo_content'")), 0);
  });

  it('portrait serve on the upgraded file answers clients as before: same bytes, same ETag, 304 for a cached copy', async (t) => {
    const { dataDir, file } = oldSqliteStore(t);
    const before = readOldSqlite(file);
    await assertServedOverHttp(t, dataDir, undefined, before.photos);
  });
});

/** Another process opens the store (at startAt, if given) and reads the owner's primary: its ETag on stdout. */
function openInChild(file: string, owner: PhotoOwner, startAt = Date.now()): Promise<CliResult> {
  const script = `
    import { SqliteStore } from ${JSON.stringify(SQLITE_STORE_MODULE)};
    await new Promise((resolve) => setTimeout(resolve, ${startAt} - Date.now()));
    const store = new SqliteStore({ filename: ${JSON.stringify(file)} });
    process.stdout.write(store.readPhotoContentNow(${JSON.stringify(owner)}, 'primary')?.etag ?? 'none');
    await store.close();`;
  return completion(spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] }), 30_000);
}

/** The shipped migrations, the last of which fails after doing all its work. */
function withFailingEnd(migrations: readonly Migration[]): Migration[] {
  return migrations.map((m, i) => (i === migrations.length - 1 ? { ...m, sql: `${m.sql}\nDELETE FROM not_a_table;` } : m));
}

// ---------------------------------------------------------------------------
// Over HTTP, through a real `portrait serve`

/** The Graph URL of a photo's size (or of its only photo, for a contact). */
function photoUrl(graph: string, photo: OldPhoto, size: Dimensions, contactUser: string | undefined): string {
  switch (photo.owner.type) {
    case 'user':
      return `${graph}/users/${photo.owner.id}/photos/${size.width}x${size.height}/$value`;
    case 'group':
      return `${graph}/groups/${photo.owner.id}/photos/${size.width}x${size.height}/$value`;
    case 'contact':
      return `${graph}/users/${contactUser}/contacts/${photo.owner.id}/photo/$value`;
  }
}

async function assertServedOverHttp(t: TestContext, dataDir: string, database: string | undefined, photos: readonly OldPhoto[]): Promise<void> {
  const server = await startServer({ dataDir, ...(database !== undefined && { database }) });
  t.after(() => server.stop());
  const token = await cliToken({ dataDir, ...(database !== undefined && { database }), roles: ['User.ReadWrite.All', 'Group.Read.All', 'Contacts.Read'] });
  const auth = { authorization: `Bearer ${token}` };
  const contactUser = await ownerOfContact(dataDir, database, photos);
  for (const photo of photos) {
    const sizes = photo.owner.type === 'contact' ? photo.sizes.filter((s) => s.width === photo.primary.width && s.height === photo.primary.height) : photo.sizes;
    for (const size of sizes) {
      const url = photoUrl(server.graph, photo, size, contactUser);
      const response = await request(url, { headers: auth });
      assert.equal(response.status, 200, `${url}: ${await response.clone().text()}`);
      assert.equal(response.headers.get('etag'), photo.etag, `${url}: the old ETag`);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(size.bytes), `${url}: the old bytes`);
      const cached = await request(url, { headers: { ...auth, 'if-none-match': photo.etag } });
      assert.equal(cached.status, 304, `${url}: a client's cached copy is still current`);
      await cached.body?.cancel();
    }
  }
  // A conditional delete with the ETag a client kept from before the upgrade.
  const user = photos.find((p) => p.owner.type === 'user');
  assert.ok(user !== undefined);
  const deleted = await request(`${server.graph}/users/${user.owner.id}/photo/$value`, { method: 'DELETE', headers: { ...auth, 'if-match': user.etag } });
  // Graph answers a photo delete 200 with an empty body (docs/api.md).
  assert.equal(deleted.status, 200, await deleted.clone().text());
  assert.equal(await deleted.text(), '');
  const gone = await request(`${server.graph}/users/${user.owner.id}/photo/$value`, { headers: auth });
  assert.equal(gone.status, 404);
  await gone.body?.cancel();
}

/** The user whose contact has a photo: the contacts table says. */
async function ownerOfContact(dataDir: string, database: string | undefined, photos: readonly OldPhoto[]): Promise<string | undefined> {
  const contact = photos.find((p) => p.owner.type === 'contact');
  if (contact === undefined) return undefined;
  const sql = 'SELECT user_id FROM contacts WHERE tenant_id = $1 AND id = $2';
  if (database === undefined) {
    return withDb(join(dataDir, 'portrait.db'), (db) => db.prepare(sql.replace(/\$\d/g, '?')).pluck().get(contact.owner.tenantId, contact.owner.id) as string);
  }
  return withClient(database, async (client) => (await client.query<{ user_id: string }>(sql, [contact.owner.tenantId, contact.owner.id])).rows[0]?.user_id);
}

// ---------------------------------------------------------------------------
// PostgreSQL

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A scratch database holding the dump of the old release's database. */
async function oldPostgresDatabase(t: TestContext): Promise<string> {
  const scratch = await createScratchDatabase();
  t.after(() => scratch.drop());
  // On a connection of its own: the dump empties search_path for the rest of its session.
  await withClient(scratch.url, (client) => client.query(readFileSync(POSTGRES_FIXTURE, 'utf8')));
  return scratch.url;
}

async function pgUntouched(client: pg.Client): Promise<Record<string, unknown[]>> {
  const tables: Record<string, unknown[]> = {};
  for (const [table, key] of UNTOUCHED) tables[table] = (await client.query(`SELECT * FROM ${table} ORDER BY ${key}`)).rows;
  return tables;
}

async function readOldPostgres(url: string): Promise<{ photos: OldPhoto[]; tables: Record<string, unknown[]>; sizeRows: number }> {
  return withClient(url, async (client) => {
    const versions = (await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7]);
    const sizes = (await client.query<Row>(OLD_SIZES)).rows;
    const photos = oldPhotos((await client.query<Row>(OLD_PHOTOS)).rows, sizes);
    assertWorthUpgrading(photos);
    return { photos, tables: await pgUntouched(client), sizeRows: sizes.length };
  });
}

async function pgCount(client: pg.Client, sql: string): Promise<number> {
  return Number(Object.values((await client.query(sql)).rows[0] ?? {})[0]);
}

const postgresSkip = await postgresUnavailable();

describe('upgrading a PostgreSQL database of schema 007', { skip: postgresSkip ?? false }, () => {
  it('008 moves every size in place: the same bytes under the same ETag, the rest untouched, photo_sizes gone', async (t) => {
    const url = await oldPostgresDatabase(t);
    const before = await readOldPostgres(url);
    const store = await PostgresStore.open({ connectionString: url, poolSize: 2 });
    await assertServedAsBefore(store, before.photos);
    await store.close();

    await withClient(url, async (client) => {
      const migrations = (await client.query('SELECT version, name FROM schema_migrations WHERE version > 7')).rows;
      assert.deepEqual(migrations, [{ version: 8, name: '008-photo-content.sql' }]);
      assert.equal(await pgCount(client, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'photo_sizes'"), 0, 'photo_sizes is gone');
      assert.equal(await pgCount(client, 'SELECT count(*) FROM photo_content'), before.sizeRows);
      assert.equal(await pgCount(client, DISAGREEING), 0);
      assert.equal(await pgCount(client, PRIMARY_NOT_ONE), 0);
      assert.deepEqual(await pgUntouched(client), before.tables, 'the directory and the photos table are as they were');
    });
  });

  it('after the upgrade, writes work, leave no content row behind, and new ids follow the moved ones', async (t) => {
    const url = await oldPostgresDatabase(t);
    const before = await readOldPostgres(url);
    const store = await PostgresStore.open({ connectionString: url, poolSize: 2 });
    t.after(() => store.close());
    await assertWritesAfterUpgrade(store, before.photos);
    await withClient(url, async (client) => {
      assert.equal(await pgCount(client, ORPHANS), 0);
      assert.equal(await pgCount(client, DISAGREEING), 0);
      assert.equal(await pgCount(client, PRIMARY_NOT_ONE), 0);
      assert.equal(await pgCount(client, 'SELECT count(*) FROM photo_content'), 3);
      assert.equal(await pgCount(client, `SELECT min(id) FROM photo_content`), before.sizeRows + 1, 'the new rows are numbered after the moved ones');
    });
  });

  it('opened again, and by several nodes at once, the upgraded database is migrated once', async (t) => {
    const url = await oldPostgresDatabase(t);
    const before = await readOldPostgres(url);
    const stores = await Promise.all(Array.from({ length: 3 }, () => PostgresStore.open({ connectionString: url, poolSize: 1 })));
    for (const store of stores) await store.close();
    const again = await PostgresStore.open({ connectionString: url, poolSize: 1 });
    t.after(() => again.close());
    await assertServedAsBefore(again, before.photos);
    await withClient(url, async (client) => {
      assert.equal(await pgCount(client, 'SELECT count(*) FROM schema_migrations WHERE version = 8'), 1);
      assert.equal(await pgCount(client, 'SELECT count(*) FROM photo_content'), before.sizeRows);
    });
  });

  it('an upgrade that fails partway leaves the 007 database as it was', async (t) => {
    const url = await oldPostgresDatabase(t);
    const before = await readOldPostgres(url);
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      await assert.rejects(applyPostgresMigrations(pool, withFailingEnd(loadPostgresMigrations())), /relation "not_a_table" does not exist/);
    } finally {
      await pool.end();
    }
    const after = await readOldPostgres(url);
    assert.equal(after.sizeRows, before.sizeRows);
    assert.deepEqual(after.photos, before.photos);
    await withClient(url, async (client) => {
      assert.equal(await pgCount(client, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'photo_content'"), 0);
    });
  });

  it('portrait serve on the upgraded database answers clients as before: same bytes, same ETag, 304 for a cached copy', async (t) => {
    const url = await oldPostgresDatabase(t);
    const before = await readOldPostgres(url);
    await assertServedOverHttp(t, tempDir(t), url, before.photos);
  });
});
