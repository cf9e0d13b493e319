// `portrait import-photos` and `export-photos` as an operator runs them: real processes on a
// data folder that a running `portrait serve` uses too, real photos, and a CSV. What a client
// of the server sees is checked over HTTP; what the operator sees is the CLI's output and exit.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import sharp from 'sharp';
import { PHOTOS_DIR } from './helpers/images.js';
import { cliToken, request, runCli, startServer, type ServerProcess } from './helpers/server-process.js';

describe('portrait import-photos and export-photos', { timeout: 180_000 }, () => {
  let root: string;
  let data: string;
  let server: ServerProcess;
  let reader: string;
  const ids: Record<string, string> = {};

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'portrait-photos-'));
    data = join(root, 'data');
    server = await startServer({ dataDir: data });
    const directory = join(root, 'directory.json');
    writeFileSync(
      directory,
      JSON.stringify({
        users: [
          { userPrincipalName: 'alice@contoso.com' },
          { userPrincipalName: 'bob@contoso.com', mail: 'Bob.Mail@fabrikam.com' },
          { userPrincipalName: 'carol@contoso.com' },
          { userPrincipalName: 'dave@contoso.com' },
          { userPrincipalName: 'erin@contoso.com' },
        ],
        groups: [{ displayName: 'Design', mailNickname: 'design' }],
      }),
    );
    const imported = await runCli(['import', directory, '--data', data]);
    assert.equal(imported.code, 0, imported.stderr);
    reader = await cliToken({ dataDir: data, app: 'reader', roles: ['User.Read.All', 'Group.Read.All'] });
    for (const upn of ['alice@contoso.com', 'bob@contoso.com', 'carol@contoso.com', 'dave@contoso.com', 'erin@contoso.com']) {
      ids[upn] = ((await (await get(`/users/${upn}`)).json()) as { id: string }).id;
    }
    const groups = (await (await get('/groups')).json()) as { value: { id: string }[] };
    ids.design = groups.value[0]?.id as string;
  });

  after(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  function get(path: string): Promise<Response> {
    return request(`${server.graph}${path}`, { headers: { authorization: `Bearer ${reader}` } });
  }

  /** The server's answer for a photo, once its change notice has had time to arrive. */
  async function served(owner: string): Promise<Buffer | number> {
    await delay(300);
    const res = await get(`/${owner}/photo/$value`);
    return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : res.status;
  }

  it('imports a folder by UPN, mail and object id while serve runs; says which failed and why; exit 1', async () => {
    const folder = join(root, 'hr-photos');
    mkdirSync(folder);
    copyFileSync(join(PHOTOS_DIR, 'exif-org-canon-ixus.jpg'), join(folder, 'alice@contoso.com.jpg'));
    await sharp(join(PHOTOS_DIR, 'Nikon_D70.jpg')).png().toFile(join(folder, 'bob.mail@fabrikam.com.png'));
    await sharp(join(PHOTOS_DIR, 'Pentax_K10D.jpg')).webp().toFile(join(folder, `${ids.design}.webp`));
    // A JPEG that ends after its first marker: no image to decode.
    writeFileSync(join(folder, 'carol@contoso.com.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 7)]));
    writeFileSync(join(folder, 'dave@contoso.com.jpg'), Buffer.from([0x49, 0x49, 0x2a, 0x00, 1, 2, 3, 4]));
    copyFileSync(join(PHOTOS_DIR, 'Canon_40D.jpg'), join(folder, 'nobody@contoso.com.jpg'));
    writeFileSync(join(folder, 'notes.txt'), 'not a photo');
    assert.equal(await served(`users/${ids['alice@contoso.com']}`), 404);

    const run = await runCli(['import-photos', folder, '--data', data], 120_000);
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines[0], 'imported 6 photos: 3 written, 0 unchanged, 3 failed');
    assert.match(run.stdout, /failed: carol@contoso\.com\.jpg: .+/);
    assert.match(run.stdout, /failed: dave@contoso\.com\.jpg: TIFF is not a photo format/);
    assert.match(run.stdout, /failed: nobody@contoso\.com\.jpg: no user or group 'nobody@contoso\.com'/);
    // Not a terminal: one plain line per photo, then the one-line error.
    assert.match(run.stderr, /^written: alice@contoso\.com\.jpg$/m);
    assert.match(run.stderr, /portrait import-photos: 3 of 6 photos failed \(listed above\)\n$/);
    assert.doesNotMatch(run.stderr, /notes\.txt/);

    for (const owner of [`users/${ids['alice@contoso.com']}`, `users/${ids['bob@contoso.com']}`, `groups/${ids.design}`]) {
      const bytes = await served(owner);
      assert.ok(Buffer.isBuffer(bytes), `${owner} has a photo the running server serves`);
      const { format, width, height } = await sharp(bytes).metadata();
      assert.equal(format, 'jpeg');
      assert.equal(width, height);
    }
    assert.equal(await served(`users/${ids['carol@contoso.com']}`), 404, 'nothing half-written for a bad file');

    const again = await runCli(['import-photos', folder, '--data', data], 120_000);
    assert.equal(again.stdout.split('\n')[0], 'imported 6 photos: 0 written, 3 unchanged, 3 failed', 'a second run skips what is stored');
  });

  it('reads a CSV of user,file (quoted, with a header, paths from its folder); --dry-run uploads nothing', async () => {
    const folder = join(root, 'csv');
    mkdirSync(join(folder, 'pics, 2026'), { recursive: true });
    copyFileSync(join(PHOTOS_DIR, 'Konica_Minolta_DiMAGE_Z3.jpg'), join(folder, 'pics, 2026', 'erin "E" photo.jpg'));
    const csv = join(folder, 'photos.csv');
    writeFileSync(csv, 'user,file\r\n"erin@contoso.com","pics, 2026/erin ""E"" photo.jpg"\r\n');
    const dry = await runCli(['import-photos', csv, '--data', data, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout.trim(), 'dry run: 1 photos, 1 would be imported, 0 would fail');
    assert.equal(await served(`users/${ids['erin@contoso.com']}`), 404, 'a dry run writes nothing');
    const run = await runCli(['import-photos', csv, '--data', data]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'imported 1 photos: 1 written, 0 unchanged, 0 failed');
    assert.ok(Buffer.isBuffer(await served(`users/${ids['erin@contoso.com']}`)));

    const broken = join(folder, 'broken.csv');
    writeFileSync(broken, 'erin@contoso.com,a.jpg,extra\n');
    const refused = await runCli(['import-photos', broken, '--data', data]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /broken\.csv:1: a row is user,file; this one has 3 fields/);
  });

  it('exports every photo named as import reads it, and the export imports back unchanged', async () => {
    const out = join(root, 'export');
    const exported = await runCli(['export-photos', out, '--data', data]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout.trim(), `exported 4 photos to ${out}: 4 written, 0 unchanged`);
    assert.deepEqual(readdirSync(out).sort(), ['alice@contoso.com.jpg', 'bob@contoso.com.jpg', 'erin@contoso.com.jpg', `${ids.design}.jpg`].sort());
    const alice = await served(`users/${ids['alice@contoso.com']}`);
    assert.deepEqual(readFileSync(join(out, 'alice@contoso.com.jpg')), alice, 'the largest size, as served');
    const back = await runCli(['import-photos', out, '--data', data]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(back.stdout.trim(), 'imported 4 photos: 0 written, 4 unchanged, 0 failed');
  });

  it('imports at a remote server with a token (--url), skipping what it serves already', async () => {
    const folder = join(root, 'remote');
    mkdirSync(folder);
    copyFileSync(join(PHOTOS_DIR, 'gps-DSCN0010.jpg'), join(folder, 'dave@contoso.com.jpg'));
    const writer = await cliToken({ dataDir: data, app: 'importer', roles: ['User.ReadWrite.All', 'Group.ReadWrite.All'] });
    const run = await runCli(['import-photos', folder, '--url', server.origin, '--token', writer]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'imported 1 photos: 1 written, 0 unchanged, 0 failed');
    assert.ok(Buffer.isBuffer(await served(`users/${ids['dave@contoso.com']}`)));
    const again = await runCli(['import-photos', folder, '--url', server.origin, '--token', writer]);
    assert.equal(again.stdout.trim(), 'imported 1 photos: 0 written, 1 unchanged, 0 failed');
    copyFileSync(join(PHOTOS_DIR, 'gps-DSCN0012.jpg'), join(folder, 'dave@contoso.com.jpg'));
    const readOnly = await runCli(['import-photos', folder, '--url', server.origin, '--token', reader]);
    assert.equal(readOnly.code, 1, readOnly.stdout);
    assert.match(readOnly.stdout, /failed: dave@contoso\.com\.jpg: 403 Authorization_RequestDenied/);
  });

  it('refuses bad flags in one line, exit 2', async () => {
    for (const [args, message] of [
      [['import-photos'], /takes one DIR or FILE\.csv/],
      [['import-photos', root, '--url', 'https://x'], /--url and --token go together/],
      [['import-photos', root, '--url', 'https://x/v1.0', '--token', 't'], /--url must be a server's origin/],
      [['import-photos', join(root, 'missing')], /cannot read .*missing: ENOENT/],
      [['import-photos', root, '--concurrency', '0'], /--concurrency must be an integer from 1 to 64, got '0'/],
    ] as const) {
      const result = await runCli((args as readonly string[]).includes('--url') ? [...args] : [...args, '--data', data]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^portrait: [^\n]+\n$/);
      assert.match(result.stderr, message);
    }
  });
});
