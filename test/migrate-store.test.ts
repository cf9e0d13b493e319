// `portrait migrate-store` and `portrait backup` as an operator runs them: a real
// installation written through the Store API, the real CLI in a child process, and
// every target read back through the Store API (openStore) to check that nothing was
// lost on the way — directory, photo metadata, every size's bytes, masters, settings.
// The PostgreSQL parts use a scratch database each and skip, saying why, without a server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from '../src/storage/sqlite-driver.js';
import pg from 'pg';
import { openStore, storeLocation } from '../src/storage/open-store.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import { checksumTables, compareSummaries, openTables, type TableSummary } from '../src/storage/store-copy.js';
import type { NewPhoto, PhotoOwner, Store } from '../src/storage/store.js';
import { POSTGRES_SERVER_URL, postgresUnavailable } from './helpers/postgres.js';

const CLI = fileURLToPath(new URL('../src/cli/portrait.js', import.meta.url));

// ---------------------------------------------------------------------------
// Processes and places

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `portrait …` to completion without blocking this process (it may be writing meanwhile). */
function portrait(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function portraitOk(args: readonly string[]): Promise<CliResult> {
  const result = await portrait(args);
  assert.equal(result.code, 0, `portrait ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result;
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portrait-migrate-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh database on the test server, dropped after the test; undefined (and skipped) without a server. */
async function scratchPostgres(t: TestContext): Promise<string | undefined> {
  const unavailable = await postgresUnavailable();
  if (unavailable !== undefined) {
    t.skip(unavailable);
    return undefined;
  }
  const name = `portrait_mig_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  t.after(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(POSTGRES_SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
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

async function withStore<T>(database: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(storeLocation(database, '.', 2));
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Every table's row count and checksum as store-copy computes them. */
async function tableSums(database: string): Promise<TableSummary[]> {
  const tables = await openTables(storeLocation(database, '.', 1), { create: false });
  try {
    await tables.begin('read');
    return await checksumTables(tables);
  } finally {
    await tables.rollback();
    await tables.close();
  }
}

// ---------------------------------------------------------------------------
// A realistic installation

const T1 = randomUUID();
const T2 = randomUUID();
const INVITATIONS: readonly (readonly [string, string])[] = [[T1, randomUUID()]];
const SETTING_KEYS = ['default_tenant', 'issuer_note'];

/** A photo version with distinct random bytes for every size and the master. */
function newPhoto(sizes: readonly number[] = [48, 64, 96, 240], sizeBytes = 2000, masterBytes = 6000): NewPhoto {
  const largest = Math.max(...sizes);
  return {
    etag: `"${randomUUID()}"`,
    primary: { width: largest, height: largest },
    master: { width: 600, height: 400, bytes: randomBytes(masterBytes) },
    sizes: sizes.map((side) => ({ width: side, height: side, bytes: randomBytes(sizeBytes + side) })),
  };
}

async function put(store: Store, owner: PhotoOwner, photo: NewPhoto = newPhoto()): Promise<void> {
  const outcome = await store.putPhoto(owner, photo, {});
  assert.ok(outcome.ok, `putPhoto ${owner.type} ${owner.id}`);
}

/** Two tenants; an admin, a guest without mail; a team; nested folders; a photo on each kind of owner. */
async function buildInstallation(store: Store): Promise<void> {
  await store.ensureTenant(T1);
  await store.ensureTenant(T2);
  await store.setSetting('default_tenant', T1);
  await store.setSetting('issuer_note', 'Zoë — ünïcode ✓ 😀');

  const alice = randomUUID();
  const bob = randomUUID();
  const carol = randomUUID();
  await store.saveUser({
    tenantId: T1, id: alice, userPrincipalName: 'Alice@Contoso.com', displayName: 'Alice Ærøskøbing',
    mail: 'alice@contoso.com', userType: 'Member', isAdmin: true, driveId: `b!${randomUUID()}`,
  });
  await store.saveUser({
    tenantId: T1, id: bob, userPrincipalName: 'bob_fabrikam.com#EXT#@contoso.com', displayName: 'Bob (guest)',
    mail: null, userType: 'Guest', isAdmin: false, driveId: `b!${randomUUID()}`,
  });
  await store.saveUser({
    tenantId: T2, id: carol, userPrincipalName: 'carol@fabrikam.com', displayName: 'Carol',
    mail: 'carol@fabrikam.com', userType: 'Member', isAdmin: false, driveId: `b!${randomUUID()}`,
  });

  const design = randomUUID();
  await store.saveGroup({ tenantId: T1, id: design, displayName: 'Design', mailNickname: 'design', description: 'The design team', unified: true, hasTeam: true });
  await store.saveGroup({ tenantId: T1, id: randomUUID(), displayName: 'Ops', mailNickname: 'ops', description: null, unified: false, hasTeam: false });
  await store.saveGroup({ tenantId: T2, id: randomUUID(), displayName: 'Fabrikam all', mailNickname: 'all', description: null, unified: true, hasTeam: true });

  const friends = randomUUID();
  const close = randomUUID();
  await store.saveContactFolder({ tenantId: T1, id: friends, userId: alice, parentFolderId: null, displayName: 'Friends' });
  await store.saveContactFolder({ tenantId: T1, id: close, userId: alice, parentFolderId: friends, displayName: 'Close' });
  const dan = randomUUID();
  const erin = randomUUID();
  await store.saveContact({
    tenantId: T1, id: dan, userId: alice, folderId: null, displayName: 'Dan', givenName: 'Dan', surname: null,
    emailAddresses: [],
  });
  await store.saveContact({
    tenantId: T1, id: erin, userId: alice, folderId: close, displayName: 'Erin Ünal', givenName: null, surname: 'Ünal',
    emailAddresses: [{ address: 'erin@example.com', name: 'Erin' }, { address: 'e.unal@example.org', name: 'Erin Ü.' }],
  });
  await store.saveContact({
    tenantId: T1, id: randomUUID(), userId: alice, folderId: friends, displayName: 'Frank', givenName: 'Frank', surname: 'Ho',
    emailAddresses: [{ address: 'frank@example.com', name: 'Frank' }],
  });
  const [tenant, invitation] = INVITATIONS[0]!;
  await store.saveInvitation({
    tenantId: tenant, id: invitation, invitedUserId: bob, invitedUserEmailAddress: 'bob@fabrikam.com',
    inviteRedirectUrl: 'https://myapps.microsoft.com/?tenantid=' + T1,
  });

  // Replaced and deleted versions leave gaps in photo ids, which the copy must keep.
  await put(store, { tenantId: T1, type: 'user', id: alice });
  await put(store, { tenantId: T1, type: 'user', id: alice }, newPhoto([48, 64, 96, 120, 240, 360]));
  await put(store, { tenantId: T1, type: 'user', id: bob });
  assert.ok((await store.deletePhoto({ tenantId: T1, type: 'user', id: bob }, {})).ok);
  await put(store, { tenantId: T1, type: 'group', id: design });
  await put(store, { tenantId: T1, type: 'contact', id: erin }, newPhoto([48, 64, 96]));
  await put(store, { tenantId: T1, type: 'contact', id: dan });
  await put(store, { tenantId: T2, type: 'user', id: carol }, newPhoto([48, 64, 96, 120, 240, 360, 432, 504, 648]));
}

/** What the installation's Store API shows: the whole directory and every photo byte. */
async function snapshot(store: Store): Promise<unknown> {
  const tenants: Record<string, unknown> = {};
  for (const tenantId of [T1, T2]) {
    const users = await store.listUsers(tenantId);
    const groups = await store.listGroups(tenantId);
    const owners: PhotoOwner[] = [
      ...users.map((user) => ({ tenantId, type: 'user' as const, id: user.id })),
      ...groups.map((group) => ({ tenantId, type: 'group' as const, id: group.id })),
    ];
    const mailboxes: Record<string, unknown> = {};
    for (const user of users) {
      const folders = [];
      const pending: (string | null)[] = [null];
      const contacts = [];
      while (pending.length > 0) {
        const parent = pending.shift() ?? null;
        const children = await store.listContactFolders(tenantId, user.id, parent);
        folders.push(...children);
        pending.push(...children.map((folder) => folder.id));
        const inFolder = await store.listContacts(tenantId, user.id, parent);
        contacts.push(...inFolder);
        owners.push(...inFolder.map((contact) => ({ tenantId, type: 'contact' as const, id: contact.id })));
      }
      // The by-id and by-UPN lookups must keep working too (upn_key, drive_id).
      assert.deepEqual(await store.getUserById(tenantId, user.id.toUpperCase()), user);
      assert.deepEqual(await store.getUserByUpn(tenantId, user.userPrincipalName.toUpperCase()), user);
      assert.deepEqual(await store.getUserByDrive(tenantId, user.driveId), user);
      mailboxes[user.id] = { folders, contacts };
    }
    const photos: Record<string, unknown> = {};
    for (const owner of owners) {
      const info = await store.getPhoto(owner);
      if (info === undefined) continue;
      const sizes = [];
      for (const size of info.sizes) sizes.push(await store.getPhotoContent(owner, size));
      photos[`${owner.type}:${owner.id}`] = {
        info,
        primary: await store.getPhotoContent(owner, 'primary'),
        sizes,
        master: await store.getMaster(owner),
      };
    }
    tenants[tenantId] = { users, groups, mailboxes, photos };
  }
  const invitations = [];
  for (const [tenantId, id] of INVITATIONS) invitations.push(await store.getInvitation(tenantId, id));
  const settings: Record<string, string | undefined> = {};
  for (const key of SETTING_KEYS) settings[key] = await store.getSetting(key);
  return { tenants, invitations, settings };
}

/** Writes the installation to a new SQLite file; returns what its Store API shows. */
async function sourceInstallation(file: string): Promise<unknown> {
  const store = new SqliteStore({ filename: file });
  try {
    await buildInstallation(store);
    return await snapshot(store);
  } finally {
    await store.close();
  }
}

const SUMMARY =
  'copied 2 tenants, 3 users, 3 groups, 2 contact folders, 3 contacts, 1 invitations, 2 settings, 5 photos (26 sizes); verified\n';

function photoIds(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return [
      ...db.prepare('SELECT id, owner_type, owner_id, etag FROM photos ORDER BY id').all(),
      ...db.prepare('SELECT id, photo_id, width, height, is_primary FROM photo_content ORDER BY id').all(),
    ];
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------
// migrate-store

test('an installation moves from SQLite to PostgreSQL and back, whole and verified', async (t) => {
  const postgres = await scratchPostgres(t);
  if (postgres === undefined) return;
  const dir = await tempDir(t);
  const source = join(dir, 'source.db');
  const expected = await sourceInstallation(source);

  const there = await portraitOk(['migrate-store', '--from', source, '--to', postgres, '--progress']);
  assert.equal(there.stdout, SUMMARY);
  assert.match(there.stderr, /^photos: 5\/5$/m);
  assert.match(there.stderr, /^verify photo_content: 26\/26$/m);
  assert.deepStrictEqual(await withStore(postgres, snapshot), expected);
  assert.deepStrictEqual(await withStore(source, snapshot), expected, 'the source is only read');

  const back = join(dir, 'back.db');
  const again = await portraitOk(['migrate-store', '--from', postgres, '--to', `sqlite:${back}`]);
  assert.equal(again.stdout, SUMMARY);
  assert.equal(again.stderr, '', 'no progress lines unless asked for or on a terminal');
  assert.deepStrictEqual(await withStore(back, snapshot), expected);
  assert.deepStrictEqual(photoIds(back), photoIds(source), 'photo ids, gaps included, are kept');
  assert.deepStrictEqual(await tableSums(back), await tableSums(source), 'every row of every table made the round trip');

  // New photos get new ids after the copied ones on both targets (PostgreSQL: the sequence was moved).
  const owner = { tenantId: T2, type: 'group' as const, id: randomUUID() };
  for (const database of [postgres, back]) {
    await withStore(database, async (store) => {
      await put(store, owner);
      assert.equal((await store.getPhoto(owner))?.sizes.length, 4);
    });
  }
  // Rows PostgreSQL wrote itself (timestamps with microseconds, its own ids) copy out too.
  const native = join(dir, 'native.db');
  const out = await portraitOk(['migrate-store', '--from', postgres, '--to', native]);
  assert.match(out.stdout, / 6 photos \(30 sizes\); verified\n$/);
  assert.deepStrictEqual(
    await withStore(native, (store) => store.getPhoto(owner)),
    await withStore(postgres, (store) => store.getPhoto(owner)),
  );
});

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`a non-empty ${kind} target is refused and left alone, and replaced with --force`, async (t) => {
    const dir = await tempDir(t);
    const target = kind === 'sqlite' ? join(dir, 'target.db') : await scratchPostgres(t);
    if (target === undefined) return;
    const source = join(dir, 'source.db');
    const expected = await sourceInstallation(source);
    const other = randomUUID();
    await withStore(target, async (store) => {
      await store.ensureTenant(other);
      await store.setSetting('default_tenant', other);
      await put(store, { tenantId: other, type: 'user', id: randomUUID() });
    });
    const before = await tableSums(target);

    const refused = await portrait(['migrate-store', '--from', source, '--to', target]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^portrait migrate-store: .* is not empty \(1 settings, 1 tenants, 1 photos, 4 photo_content\); --force replaces/);
    assert.equal(refused.stdout, '');
    assert.deepStrictEqual(await tableSums(target), before, 'nothing changed');

    const forced = await portraitOk(['migrate-store', '--from', source, '--to', target, '--force']);
    assert.equal(forced.stdout, SUMMARY);
    assert.deepStrictEqual(await withStore(target, snapshot), expected);
    assert.deepStrictEqual(compareSummaries(await tableSums(source), await tableSums(target)), [], 'the old data is gone');
  });
}

test('a copy that fails halfway leaves no trace in the target', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source.db');
  await sourceInstallation(source);
  // The last photo is read after every other table has been written to the target.
  const db = new Database(source);
  db.prepare("UPDATE photos SET updated_at = 'last Tuesday' WHERE id = (SELECT max(id) FROM photos)").run();
  db.close();

  const file = join(dir, 'target.db');
  const toFile = await portrait(['migrate-store', '--from', source, '--to', file]);
  assert.equal(toFile.code, 1);
  assert.match(toFile.stderr, /^portrait migrate-store: photos\.updated_at: cannot read string "last Tuesday" as timestamp/);
  assert.equal(existsSync(file), false, 'the SQLite file it created is gone again');

  await t.test('into PostgreSQL', async (t) => {
    const postgres = await scratchPostgres(t);
    if (postgres === undefined) return;
    const toPostgres = await portrait(['migrate-store', '--from', source, '--to', postgres]);
    assert.equal(toPostgres.code, 1);
    assert.match(toPostgres.stderr, /photos\.updated_at/);
    assert.deepStrictEqual((await tableSums(postgres)).filter((table) => table.rows > 0), [], 'every table is still empty');
  });
});

test('migrate-store names the flag that is wrong and never invents a source', async (t) => {
  const dir = await tempDir(t);
  const missing = join(dir, 'missing.db');
  const target = join(dir, 'target.db');

  const [noFrom, noTo, same, absent] = await Promise.all([
    portrait(['migrate-store', '--to', target]),
    portrait(['migrate-store', '--from', missing]),
    portrait(['migrate-store', '--from', target, '--to', `sqlite:${target}`]),
    portrait(['migrate-store', '--from', missing, '--to', target]),
  ]);
  assert.equal(noFrom.code, 2);
  assert.match(noFrom.stderr, /^portrait: --from is required/);
  assert.equal(noTo.code, 2);
  assert.match(noTo.stderr, /^portrait: --to is required/);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /^portrait: --to must name another database than --from/);
  assert.equal(absent.code, 1);
  assert.match(absent.stderr, /^portrait migrate-store: --from .*missing\.db does not exist/);
  assert.equal(existsSync(missing), false, 'no empty source was created');
  assert.equal(existsSync(target), false, 'no target was created');
});

test('the verifier notices a changed byte and a missing row', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source.db');
  const copy = join(dir, 'copy.db');
  await sourceInstallation(source);
  await portraitOk(['migrate-store', '--from', source, '--to', copy]);
  assert.deepStrictEqual(compareSummaries(await tableSums(source), await tableSums(copy)), []);

  const db = new Database(copy);
  const size = db.prepare('SELECT id, bytes FROM photo_content ORDER BY id LIMIT 1').get() as { id: number; bytes: Buffer };
  size.bytes.writeUInt8(size.bytes.readUInt8(0) ^ 1, 0);
  db.prepare('UPDATE photo_content SET bytes = ? WHERE id = ?').run(size.bytes, size.id);
  db.prepare("DELETE FROM contacts WHERE display_name = 'Frank'").run();
  db.prepare('UPDATE users SET is_admin = 1 - is_admin WHERE upn_key = ?').run('alice@contoso.com');
  db.close();

  assert.deepStrictEqual(compareSummaries(await tableSums(source), await tableSums(copy)), [
    'users has the same 3 rows but different content',
    'contacts has 2 rows instead of 3',
    'photo_content has the same 26 rows but different content',
  ]);
});

// ---------------------------------------------------------------------------
// backup

test('backup copies a live SQLite database consistently while it is being written', async (t) => {
  const dir = await tempDir(t);
  const live = join(dir, 'portrait.db');
  const file = join(dir, 'backup.db');
  const writer = new SqliteStore({ filename: live });
  t.after(() => writer.close());
  await writer.ensureTenant(T1);
  // About 20 MB, so the backup takes several steps for the writes to fall between.
  const before: { owner: PhotoOwner; photo: NewPhoto }[] = [];
  for (let i = 0; i < 60; i++) {
    const owner = { tenantId: T1, type: 'group' as const, id: randomUUID() };
    const photo = newPhoto([48, 96, 240, 648], 60_000, 100_000);
    await put(writer, owner, photo);
    before.push({ owner, photo });
  }

  const running = portrait(['backup', '--data', dir, '--to', file, '--progress']);
  let done = false;
  void running.finally(() => (done = true));
  let during = 0;
  while (!done) {
    await put(writer, { tenantId: T1, type: 'group', id: randomUUID() }, newPhoto([48, 96], 30_000, 30_000));
    during += 1;
    await delay(5);
  }
  const result = await running;
  assert.equal(result.code, 0, result.stderr);
  t.diagnostic(`${during} photos were written while the backup ran`);
  assert.match(result.stdout, /^backed up .*portrait\.db to .*backup\.db: 1 tenants, 0 users, 0 groups, \d+ photos, \d+ pages; integrity ok\n$/);
  assert.match(result.stderr, /^backup: (\d+)\/\1 pages$/m);
  assert.equal(existsSync(`${file}-wal`), false, 'the backup is one file');

  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(db.pragma('journal_mode', { simple: true }), 'delete');
    // Each photo whole: as many size rows as its size list names.
    const torn = db.prepare(
      `SELECT p.id FROM photos p
       WHERE (SELECT count(*) FROM photo_content s WHERE s.photo_id = p.id) != length(p.sizes) - length(replace(p.sizes, ',', '')) + 1`,
    ).all();
    assert.deepStrictEqual(torn, []);
  } finally {
    db.close();
  }
  await withStore(file, async (store) => {
    for (const { owner, photo } of before) {
      assert.equal((await store.getPhoto(owner))?.etag, photo.etag);
      assert.deepStrictEqual((await store.getMaster(owner))?.bytes, photo.master.bytes);
      for (const size of photo.sizes) assert.deepStrictEqual((await store.getPhotoContent(owner, size))?.bytes, size.bytes);
    }
  });

  // An existing backup is kept unless --force, which replaces it with a newer one.
  const digest = () => createHash('sha256').update(readFileSync(file)).digest('hex');
  const first = digest();
  const refused = await portrait(['backup', '--data', dir, '--to', file]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^portrait backup: .*backup\.db exists; --force replaces it/);
  assert.equal(digest(), first);
  const last = { tenantId: T1, type: 'user' as const, id: randomUUID() };
  await put(writer, last);
  const forced = await portraitOk(['backup', '--database', live, '--to', file, '--force']);
  assert.equal(forced.stderr, '');
  assert.ok(await withStore(file, (store) => store.getPhoto(last)), 'the new backup has the latest photo');
});

test('backup --compact writes the same snapshot without the free pages that deletions left', async (t) => {
  const dir = await tempDir(t);
  const live = join(dir, 'portrait.db');
  const writer = new SqliteStore({ filename: live });
  await writer.ensureTenant(T1);
  const kept: { owner: PhotoOwner; photo: NewPhoto }[] = [];
  const dropped: PhotoOwner[] = [];
  for (let i = 0; i < 40; i++) {
    const owner = { tenantId: T1, type: 'group' as const, id: randomUUID() };
    const photo = newPhoto([48, 96, 240, 648], 60_000, 100_000);
    await put(writer, owner, photo);
    if (i % 4 === 0) kept.push({ owner, photo });
    else dropped.push(owner);
  }
  for (const owner of dropped) assert.deepEqual(await writer.deletePhoto(owner, {}), { ok: true, deleted: true });
  await writer.close();

  const plain = join(dir, 'plain.db');
  const compact = join(dir, 'compact.db');
  await portraitOk(['backup', '--data', dir, '--to', plain]);
  const result = await portraitOk(['backup', '--data', dir, '--to', compact, '--compact']);
  assert.match(result.stdout, /^backed up .*portrait\.db to .*compact\.db: 1 tenants, 0 users, 0 groups, 10 photos, \d+ pages; integrity ok\n$/);
  // Three quarters of the photos' pages were freed: a page-by-page copy keeps them, the compact one does not.
  assert.ok(statSync(compact).size < statSync(plain).size / 2, `compact ${statSync(compact).size} B, plain ${statSync(plain).size} B`);
  assert.equal(existsSync(`${compact}-wal`), false, 'the backup is one file');
  await withStore(compact, async (store) => {
    for (const { owner, photo } of kept) {
      assert.equal((await store.getPhoto(owner))?.etag, photo.etag);
      assert.deepStrictEqual((await store.getMaster(owner))?.bytes, photo.master.bytes);
      for (const size of photo.sizes) assert.deepStrictEqual((await store.getPhotoContent(owner, size))?.bytes, size.bytes);
    }
    for (const owner of dropped) assert.equal(await store.getPhoto(owner), undefined);
  });
  // The source is untouched, and a compact copy onto an existing file still needs --force.
  await withStore(live, async (store) => assert.equal((await store.getPhoto(kept[0]!.owner))?.etag, kept[0]!.photo.etag));
  const refused = await portrait(['backup', '--data', dir, '--to', compact, '--compact']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /compact\.db exists; --force replaces it/);
});

test('backup refuses a file that is not a Portrait database, plain or --compact, and writes nothing', async (t) => {
  const dir = await tempDir(t);
  const text = join(dir, 'notes.db');
  await writeFile(text, 'not a database at all\n'.repeat(200));
  const other = join(dir, 'other.db');
  const db = new Database(other);
  db.exec('CREATE TABLE users (x); CREATE TABLE things (y)');
  db.close();
  for (const source of [text, other]) {
    for (const flags of [[], ['--compact']]) {
      const to = join(dir, `copy-${flags.length}.db`);
      const result = await portrait(['backup', '--database', source, '--to', to, ...flags]);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr, `portrait backup: ${source} is not a Portrait database\n`);
      assert.deepEqual((await readdir(dir)).sort(), ['notes.db', 'other.db'], 'no copy, partial file or WAL left behind');
    }
  }
  assert.equal(readFileSync(text, 'utf8'), 'not a database at all\n'.repeat(200), 'the source is untouched');
});

test('backup of PostgreSQL points to pg_dump', async () => {
  const result = await portrait(['backup', '--database', 'postgres://portrait@db.example/portrait', '--to', 'x.db']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^portrait: backup copies a SQLite database; back up PostgreSQL with pg_dump/);
});
