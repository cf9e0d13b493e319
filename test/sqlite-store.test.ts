// SqliteStore: the shared Store contract on a temporary file (and in memory),
// then what only SQLite has — WAL, migrations recorded once, several stores on
// one file.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type BetterSqlite3 from 'better-sqlite3';
import Database from '../src/storage/sqlite-driver.js';
import { loadMigrations } from '../src/storage/sqlite-migrations.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import type { NewPhoto, PhotoOwner } from '../src/storage/store.js';
import { storeContract } from './store-contract.js';

storeContract('SqliteStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portrait-sqlite-'));
  const filename = join(dir, 'portrait.db');
  let store = new SqliteStore({ filename });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = new SqliteStore({ filename });
      return store;
    },
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

storeContract('SqliteStore in memory', async () => {
  const store = new SqliteStore({ filename: ':memory:' });
  return { store, cleanup: () => store.close() };
});

describe('SqliteStore on a file', () => {
  /** A temporary folder for one test, removed after it; stores opened in it close first. */
  async function tempFile(t: TestContext): Promise<{ filename: string; open: () => SqliteStore }> {
    const dir = await mkdtemp(join(tmpdir(), 'portrait-sqlite-'));
    const filename = join(dir, 'portrait.db');
    const opened: SqliteStore[] = [];
    t.after(async () => {
      for (const store of opened) await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    return {
      filename,
      open: () => {
        const store = new SqliteStore({ filename });
        opened.push(store);
        return store;
      },
    };
  }

  /** Looks at the file directly, read-only, and closes it again. */
  function inspect<T>(filename: string, look: (db: BetterSqlite3.Database) => T): T {
    const db = new Database(filename, { readonly: true, fileMustExist: true });
    try {
      return look(db);
    } finally {
      db.close();
    }
  }

  it('puts the file in WAL mode, so readers never wait for the writer', async (t) => {
    const { filename, open } = await tempFile(t);
    open();
    // journal_mode=WAL is recorded in the file itself, so a fresh connection sees it.
    assert.equal(inspect(filename, (db) => db.pragma('journal_mode', { simple: true })), 'wal');
  });

  it('records each migration once: opening the file again, or twice at once, applies nothing twice', async (t) => {
    const { filename, open } = await tempFile(t);
    const migrations = loadMigrations();
    assert.ok(migrations.length > 0, 'there are migrations to apply');
    const first = open();
    const tenantId = randomUUID();
    await first.ensureTenant(tenantId);
    await first.close();

    const second = open();
    const third = open();
    assert.deepEqual(await second.listUsers(tenantId), []);
    await third.ping();

    const recorded = inspect(filename, (db) =>
      db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all(),
    );
    assert.deepEqual(
      recorded,
      migrations.map(({ version, name }) => ({ version, name })),
    );
  });

  it('shares one file between two stores: each sees the other’s writes', async (t) => {
    const { open } = await tempFile(t);
    const a = open();
    const b = open();
    const tenantId = randomUUID();
    await a.ensureTenant(tenantId);
    await a.setSetting('written-by', 'a');
    assert.equal(await b.getSetting('written-by'), 'a');

    const alice = {
      tenantId,
      id: randomUUID(),
      userPrincipalName: 'alice@contoso.com',
      displayName: 'Alice',
      mail: null,
      userType: 'Member' as const,
      isAdmin: false,
      driveId: `b!${randomUUID()}`,
    };
    assert.equal(await a.saveUser(alice), 'created');
    assert.deepEqual(await b.getUserByUpn(tenantId, 'ALICE@contoso.com'), alice);
    assert.equal(await b.saveUser(alice), 'unchanged', 'b compares with what a wrote');

    const me: PhotoOwner = { tenantId, type: 'user', id: alice.id };
    assert.equal((await b.putPhoto(me, photo('"from-b"'), {})).ok, true);
    assert.equal((await a.getPhoto(me))?.etag, '"from-b"');
    assert.deepEqual((await a.getPhotoContent(me, 'primary'))?.bytes, Buffer.from('"from-b" 48x48'));

    // A conditional write through one store sees the version the other wrote.
    assert.deepEqual(await a.putPhoto(me, photo('"from-a"'), { ifMatch: ['"stale"'] }), {
      ok: false,
      reason: 'precondition',
      currentEtag: '"from-b"',
    });
    assert.equal((await a.putPhoto(me, photo('"from-a"'), { ifMatch: ['"from-b"'] })).ok, true);
    assert.equal((await b.getPhoto(me))?.etag, '"from-a"');

    // Racing conditional puts through both stores: exactly one wins.
    const outcomes = await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? a : b).putPhoto(me, photo(`"race-${i}"`), { ifMatch: ['"from-a"'] })),
    );
    assert.equal(outcomes.filter((o) => o.ok).length, 1);

    assert.equal(await b.deleteUser(tenantId, alice.id), true);
    assert.equal(await a.getUserById(tenantId, alice.id), undefined);
    assert.equal(await a.getPhoto(me), undefined);
  });

  // The read path (readPhotoContentNow) reads on a connection of its own, in one read
  // transaction per event-loop turn (sqlite-photo-reads.ts).
  it('the read path sees another process’s commit by the next turn, and this process’s at once when published', async (t) => {
    const { open } = await tempFile(t);
    const a = open();
    const other = open();
    const tenantId = randomUUID();
    const me = await userWithPhoto(a, tenantId, '"v1"');
    assert.equal(a.readPhotoContentNow(me, 'primary')?.etag, '"v1"');

    // Another process commits; within this turn the read path answers from its snapshot,
    // whole (the bytes and the ETag of one version), and from the next turn the new one.
    void other.putPhoto(me, photo('"v2"'), {});
    const sameTurn = a.readPhotoContentNow(me, 'primary');
    assert.deepEqual([sameTurn?.etag, sameTurn?.bytes.toString()], ['"v1"', '"v1" 48x48']);
    await new Promise(setImmediate);
    assert.equal(a.readPhotoContentNow(me, 'primary')?.etag, '"v2"');

    // A write of this process while the read path holds a snapshot is committed at once
    // (not nested in the read transaction): another process sees it in the same turn.
    assert.equal(a.readPhotoContentNow(me, { width: 48, height: 48 })?.etag, '"v2"');
    void a.putPhoto(me, photo('"v3"'), {});
    assert.equal((await other.getPhoto(me))?.etag, '"v3"');
    // Published, as the photo service publishes every write: the next read sees it.
    a.changes.publish({ kind: 'photo-changed', owner: me });
    assert.deepEqual(a.readPhotoContentNow(me, { width: 48, height: 48 })?.bytes, Buffer.from('"v3" 48x48'));

    // Deleted and published within one turn: the read path finds nothing.
    assert.equal(a.readPhotoContentNow(me, 'primary')?.etag, '"v3"');
    void a.deletePhoto(me, {});
    a.changes.publish({ kind: 'photo-changed', owner: me });
    assert.equal(a.readPhotoContentNow(me, 'primary'), undefined);
  });

  it('the read path of a store in memory reads that store', async () => {
    const store = new SqliteStore({ filename: ':memory:' });
    try {
      const me = await userWithPhoto(store, randomUUID(), '"in-memory"');
      assert.deepEqual(store.readPhotoContentNow(me, 'primary')?.bytes, Buffer.from('"in-memory" 48x48'));
      assert.equal(store.readPhotoContentNow(me, { width: 96, height: 96 }), undefined);
    } finally {
      await store.close();
    }
  });
});

async function userWithPhoto(store: SqliteStore, tenantId: string, etag: string): Promise<PhotoOwner> {
  await store.ensureTenant(tenantId);
  const id = randomUUID();
  const user = { tenantId, id, userPrincipalName: `${id}@contoso.com`, displayName: 'Photo', mail: null, userType: 'Member' as const, isAdmin: false, driveId: `b!${id}` };
  assert.equal(await store.saveUser(user), 'created');
  const owner: PhotoOwner = { tenantId, type: 'user', id };
  assert.equal((await store.putPhoto(owner, photo(etag), {})).ok, true);
  return owner;
}

function photo(etag: string): NewPhoto {
  const size = { width: 48, height: 48 };
  return {
    etag,
    primary: size,
    master: { width: 96, height: 96, bytes: Buffer.from(`${etag} master`) },
    sizes: [{ ...size, bytes: Buffer.from(`${etag} 48x48`) }],
  };
}
