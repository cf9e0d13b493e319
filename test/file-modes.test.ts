// Everything Portrait writes is private to its user — files 0600, folders it makes 0700 —
// whatever the umask of the shell that starts it and whatever the mode of the data folder
// it is given (issue 9, section 5). Real processes under umask 000 on a data folder of mode
// 0777; files an older version left readable are tightened when Portrait opens them.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import { solidJpeg } from './helpers/server-process.js';
import { runOkUnderUmask, serveUnderUmask, type ServingProcess } from './helpers/umask-process.js';

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

/** Every entry in the folder whose mode is not the expected one, as "name 0644". */
function looseEntries(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .filter((entry) => (statSync(join(folder, entry.name)).mode & 0o777) !== (entry.isDirectory() ? 0o700 : 0o600))
    .map((entry) => `${entry.name} ${mode(join(folder, entry.name))}`);
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'portrait-modes-'));
}

/** A folder that anyone may read and write, as a careless admin or a shared mount makes it. */
function openFolder(path: string): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, 0o777);
  return path;
}

function putPhoto(server: ServingProcess, token: string, photo: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.origin}/v1.0/me/photo/$value`, {
      method: 'PUT',
      ca: readFileSync(server.certPath ?? ''),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg', 'content-length': photo.length },
    });
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(photo);
  });
}

describe('files Portrait creates are private to its user', () => {
  it('init, import, app add, token, serve with an upload, backup and migrate-store under umask 000: every file 0600', { timeout: 120_000 }, async (t) => {
    const root = scratch();
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dataDir = openFolder(join(root, 'data'));
    const outDir = openFolder(join(root, 'out'));
    const data = ['--data', dataDir];

    const directory = join(root, 'directory.json');
    writeFileSync(directory, JSON.stringify({ users: [{ userPrincipalName: 'alice@contoso.com', displayName: 'Alice' }] }));
    await runOkUnderUmask('000', ['init', ...data]);
    await runOkUnderUmask('000', ['import', directory, ...data]);
    await runOkUnderUmask('000', ['app', 'add', 'photo-tool', '--roles', 'User.ReadWrite.All', ...data]);
    const token = (await runOkUnderUmask('000', ['token', ...data, '--user', 'alice@contoso.com'])).trim();

    const server = await serveUnderUmask('000', [...data, '--host', '127.0.0.1', '--port', '0']);
    t.after(() => server.kill());
    assert.equal(await putPhoto(server, token, await solidJpeg([200, 40, 40], 300)), 200, server.output());
    const files = readdirSync(dataDir);
    for (const expected of ['portrait.db', 'portrait.db-wal', 'portrait.db-shm', 'issuer-key.pem', 'tls-cert.pem']) {
      assert.ok(files.includes(expected), `${expected} is in the data folder: ${files.join(', ')}`);
    }
    assert.deepEqual(looseEntries(dataDir), [], `data folder (${mode(dataDir)}, left as it was)`);
    assert.equal(mode(dataDir), '0777', 'an existing data folder keeps its mode');

    // While it serves: a backup, and a copy into a new SQLite file.
    await runOkUnderUmask('000', ['backup', '--to', join(outDir, 'backup.db'), ...data]);
    await runOkUnderUmask('000', ['migrate-store', '--from', join(dataDir, 'portrait.db'), '--to', join(outDir, 'copy.db')]);
    assert.deepEqual(readdirSync(outDir).sort(), ['backup.db', 'copy.db']);
    assert.deepEqual(looseEntries(outDir), []);

    await server.stop();
    assert.deepEqual(looseEntries(dataDir), []);
  });

  it('a data folder it creates is 0700, with every missing parent', { timeout: 30_000 }, async (t) => {
    const root = scratch();
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dataDir = join(root, 'new', 'nested', 'data');
    await runOkUnderUmask('000', ['init', '--data', dataDir]);
    for (const folder of [join(root, 'new'), join(root, 'new', 'nested'), dataDir]) assert.equal(mode(folder), '0700', folder);
    assert.deepEqual(looseEntries(dataDir), []);
  });

  it('files an older version left readable, and the -wal and -shm a crash left, are made 0600 when Portrait opens them', { timeout: 60_000 }, async (t) => {
    const root = scratch();
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dataDir = openFolder(join(root, 'data'));
    const data = ['--data', dataDir];
    await runOkUnderUmask('022', ['init', ...data]);
    const token = (await runOkUnderUmask('022', ['token', ...data, '--user', 'alice@contoso.com'])).trim();
    const first = await serveUnderUmask('022', [...data, '--host', '127.0.0.1', '--port', '0']);
    t.after(() => first.kill());
    assert.equal(await putPhoto(first, token, await solidJpeg([40, 200, 40], 300)), 200, first.output());
    await first.kill(); // a crash: the -wal and -shm stay
    const left = readdirSync(dataDir);
    assert.ok(left.includes('portrait.db-wal') && left.includes('portrait.db-shm'), left.join(', '));
    // As a version that left modes to a umask of 000 would have.
    for (const name of left) chmodSync(join(dataDir, name), 0o666);

    const second = await serveUnderUmask('000', [...data, '--host', '127.0.0.1', '--port', '0']);
    t.after(() => second.kill());
    assert.deepEqual(looseEntries(dataDir), []);
    await second.stop();
  });

  it('a SqliteStore built directly (library use, no CLI umask) makes its database, -wal and -shm 0600', async (t) => {
    const root = scratch();
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const folder = openFolder(join(root, 'db'));
    const before = process.umask(0);
    t.after(() => process.umask(before));
    const store = new SqliteStore({ filename: join(folder, 'library.db') });
    t.after(() => store.close());
    await store.ensureTenant('5a3b6c1e-0d2f-4b8a-9c7d-1e2f3a4b5c6d');
    assert.deepEqual(readdirSync(folder).sort(), ['library.db', 'library.db-shm', 'library.db-wal']);
    assert.deepEqual(looseEntries(folder), []);
  });
});
