// `portrait app add | list | remove | rotate-secret` as an operator runs them: real processes
// on a data folder `portrait init` set up (on PostgreSQL too with PORTRAIT_TEST_STORE=postgres).
// add prints the tenant id, client id and secret once and keeps only a hash of the secret;
// list shows no secret; remove and rotate-secret take effect in a server that is running,
// another process, at once. Bad flags: one line naming the flag, exit 2.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { verifyClientSecret } from '../src/auth/client-secrets.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { runCli, startServer } from './helpers/server-process.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ON_POSTGRES = process.env.PORTRAIT_TEST_STORE === 'postgres';

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'portrait-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A data folder (and, on PostgreSQL, a database) set up as `serve` would; the flags that name it. */
async function installation(t: TestContext): Promise<{ dataDir: string; flags: string[]; database: string | undefined }> {
  const dataDir = join(scratch(t), 'data');
  let database: string | undefined;
  if (ON_POSTGRES) {
    const db = await createScratchDatabase();
    t.after(() => db.drop());
    database = db.url;
  }
  const flags = ['--data', dataDir, ...(database === undefined ? [] : ['--database', database])];
  const init = await runCli(['init', ...flags]);
  assert.equal(init.code, 0, init.stderr);
  return { dataDir, flags, database };
}

function printed(stdout: string): { tenantId: string; clientId: string; secret: string } {
  const value = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(stdout)?.[1] ?? assert.fail(`no ${name} line in ${stdout}`);
  return { tenantId: value('AZURE_TENANT_ID'), clientId: value('AZURE_CLIENT_ID'), secret: value('AZURE_CLIENT_SECRET') };
}

async function ok(args: readonly string[]): Promise<string> {
  const result = await runCli(args);
  assert.equal(result.code, 0, `portrait ${args.join(' ')}: ${result.stderr}`);
  assert.equal(result.stderr, '');
  return result.stdout;
}

/** A failure as the operator sees it: one line on stderr, nothing on stdout, this exit status. */
async function fails(args: readonly string[], code: number, says: RegExp): Promise<string> {
  const result = await runCli(args);
  const what = `portrait ${args.join(' ')}`;
  assert.equal(result.code, code, `${what}: exit ${result.code}, ${result.stderr}`);
  assert.equal(result.stdout, '', what);
  assert.match(result.stderr, /^portrait[^\n]*\n$/, `${what}: one line, got ${JSON.stringify(result.stderr)}`);
  assert.match(result.stderr, says, what);
  return result.stderr;
}

describe('portrait app add', { concurrency: 2 }, () => {
  it('registers an application and prints its tenant id, client id and secret, once', async (t) => {
    const { dataDir, flags, database } = await installation(t);
    const result = await runCli(['app', 'add', 'Photo sync', '--roles', 'User.ReadWrite.All, Group.Read.All', ...flags]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines[0], "Registered application 'Photo sync' with roles User.ReadWrite.All Group.Read.All.");
    assert.match(lines[4] ?? '', /^The client secret is shown only this once: Portrait keeps just a hash of it\./);
    const { tenantId, clientId, secret } = printed(result.stdout);
    assert.match(tenantId, GUID);
    assert.match(clientId, GUID);
    assert.match(secret, /^[A-Za-z0-9_-]{40,}$/);

    // The same folder's default tenant; a second application gets its own id and secret.
    const again = printed(await ok(['app', 'add', 'Photo sync', '--roles', 'User.Read.All', ...flags]));
    assert.equal(again.tenantId, tenantId);
    assert.notEqual(again.clientId, clientId);
    assert.notEqual(again.secret, secret);
    if (database !== undefined) return; // the rest reads the SQLite file

    // Only a slow hash of each secret is on disk.
    for (const file of ['portrait.db', 'portrait.db-wal']) {
      const path = join(dataDir, file);
      if (existsSync(path)) assert.ok(!readFileSync(path).includes(secret), `${file} does not hold the secret`);
    }
    const store = new SqliteStore({ filename: join(dataDir, 'portrait.db') });
    try {
      const application = await store.getApplication(tenantId, clientId);
      assert.ok(application);
      assert.equal(application.displayName, 'Photo sync');
      assert.deepEqual(application.roles, ['User.ReadWrite.All', 'Group.Read.All']);
      assert.match(application.secretHash, /^scrypt\$/);
      assert.equal(await verifyClientSecret(secret, application.secretHash), true);
      assert.equal(await verifyClientSecret(again.secret, application.secretHash), false);
    } finally {
      await store.close();
    }
  });

  it('--tenant registers in that tenant, recording it', async (t) => {
    const { flags } = await installation(t);
    const tenant = randomUUID().toUpperCase();
    const { tenantId, clientId } = printed(await ok(['app', 'add', 'Reports', '--roles', 'User.Read.All', ...flags, '--tenant', tenant]));
    assert.equal(tenantId, tenant.toLowerCase());
    const listed = await ok(['app', 'list', ...flags, '--tenant', tenant]);
    assert.match(listed, new RegExp(`Reports +${clientId} +${tenantId}`));
  });

  it('role names: a typo is refused with the closest known name; any case is accepted and spelled as Graph does', async (t) => {
    const { flags } = await installation(t);
    await fails(['app', 'add', 'Reports', '--roles', 'User.ReadWrite.Al', ...flags], 2, /unknown role 'User\.ReadWrite\.Al' in --roles; did you mean 'User\.ReadWrite\.All'\?/);
    await fails(['app', 'add', 'Reports', '--roles', 'User.Read.All grop.read.all', ...flags], 2, /unknown role 'grop\.read\.all'[^\n]*did you mean 'Group\.Read\.All'\?/);
    // A delegated-only permission is no application role.
    await fails(['app', 'add', 'Reports', '--roles', 'User.Read', ...flags], 2, /unknown role 'User\.Read'[^\n]*did you mean 'User\.Read\.All'\?/);
    // A hostile one: long and odd; still one line, with a suggestion, and quickly.
    await fails(['app', 'add', 'Reports', '--roles', `${'x'.repeat(100_000)}`, ...flags], 2, /^portrait: unknown role 'x{64}…' in --roles; did you mean '[A-Za-z.]+'\?\n$/);
    const stdout = await ok(['app', 'add', 'Reports', '--roles', 'user.readwrite.all,USER.READWRITE.ALL group.read.all', ...flags]);
    assert.match(stdout, /^Registered application 'Reports' with roles User\.ReadWrite\.All Group\.Read\.All\.\n/);
    assert.equal((await ok(['app', 'list', ...flags])).split('\n').filter((line) => line.startsWith('Reports')).length, 1, 'only the accepted one was registered');
  });

  it('refuses a data folder that holds no Portrait data, creating nothing there', async (t) => {
    const root = scratch(t);
    const missing = join(root, 'typo');
    for (const args of [
      ['app', 'add', 'Reports', '--roles', 'User.Read.All'],
      ['app', 'list'],
      ['app', 'remove', 'Reports'],
      ['app', 'rotate-secret', 'Reports'],
    ]) {
      await fails([...args, '--data', missing], 1, /^portrait app: no Portrait data at [^\n]*typo[^\n]*portrait serve --data [^\n]*portrait init[^\n]*the --data the server uses/);
    }
    assert.equal(existsSync(missing), false, 'no folder, database or key was made');
  });

  it('bad flags and arguments: one line on stderr naming the problem, nothing on stdout, exit 2', async (t) => {
    const dataDir = scratch(t);
    const cases: [args: string[], message: RegExp][] = [
      [['app'], /missing subcommand: app add NAME/],
      [['app', 'frobnicate', 'x'], /unknown app subcommand 'frobnicate'; try add, list, remove or rotate-secret/],
      [['app', 'add', '--roles', 'User.Read.All'], /NAME/],
      [['app', 'add', 'a', 'b', '--roles', 'User.Read.All'], /unexpected argument 'b'/],
      [['app', 'add', 'Reports'], /--roles \(application permissions.*\) or --redirect-uri \(to sign people in\) is required/],
      [['app', 'add', 'Web', '--redirect-uri', 'http://evil.example/cb'], /cannot be a redirect URI: it must use https, or http on localhost/],
      [['app', 'add', 'Web', '--redirect-uri', 'https://app.contoso.com/*'], /cannot be a redirect URI: it holds a space or a wildcard/],
      [['app', 'add', 'Web', '--redirect-uri', 'https://app.contoso.com/#x'], /cannot be a redirect URI: it must not have a fragment/],
      [['app', 'add', 'Web', '--redirect-uri', 'spa'], /cannot be a redirect URI: it is not an absolute URL/],
      [['app', 'add', 'Web', '--redirect-uri', `https://app.contoso.com/${'a'.repeat(300)}`], /longer than 256 characters/],
      [['app', 'add', 'Reports', '--roles', ' , '], /--roles must name at least one permission/],
      [['app', 'add', 'Reports', '--roles', 'User.Read.All', '--tenant', 'contoso'], /--tenant must be a GUID, got 'contoso'/],
      [['app', 'add', 'Reports', '--roles', 'User.Read.All', '--secret', 'x'], /unknown flag '--secret'/],
      [['app', 'add', 'Reports', '--tenant'], /--tenant/],
      [['app', 'add', ' ', '--roles', 'User.Read.All'], /NAME must be 1 to 256 printable characters/],
      [['app', 'list', 'extra'], /unexpected argument 'extra'/],
      [['app', 'remove'], /app remove needs the application's NAME or CLIENT_ID/],
      [['app', 'rotate-secret', 'a', 'b'], /unexpected argument 'b'/],
      [['app', 'remove', 'a', '--roles', 'User.Read.All'], /--roles is for app add/],
      [['app', 'list', '--database', 'mysql://db.example/portrait'], /--database must be a SQLite file or a postgres:\/\/ URL, not mysql:\/\//],
    ];
    for (const [args, message] of cases) await fails(args.length === 1 ? args : [...args, '--data', dataDir], 2, message);
    const help = await runCli(['app', '--help']);
    assert.equal(help.code, 0);
    for (const line of ['portrait app add NAME (--roles', '--redirect-uri URI', 'portrait app list', 'portrait app remove NAME|CLIENT_ID', 'portrait app rotate-secret NAME|CLIENT_ID']) {
      assert.ok(help.stdout.includes(line), `${line} in ${help.stdout}`);
    }
  });
});

describe('portrait app list, remove and rotate-secret', { concurrency: 2 }, () => {
  it('list shows name, client id, tenant, created and roles of each, and never a secret or its hash', async (t) => {
    const { flags } = await installation(t);
    assert.match(await ok(['app', 'list', ...flags]), /^No applications are registered: `portrait app add NAME --roles "User\.ReadWrite\.All"` registers one\.\n$/);
    const sync = printed(await ok(['app', 'add', 'Photo sync', '--roles', 'User.ReadWrite.All Group.Read.All', ...flags]));
    const reports = printed(await ok(['app', 'add', 'Reports', '--roles', 'User.Read.All', ...flags]));
    const other = randomUUID();
    const elsewhere = printed(await ok(['app', 'add', 'Elsewhere', '--roles', 'User.Read.All', ...flags, '--tenant', other]));

    const listed = await ok(['app', 'list', ...flags]);
    const lines = listed.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NAME +CLIENT ID +TENANT +CREATED +ROLES$/);
    const row = (name: string) => lines.find((line) => line.startsWith(`${name} `)) ?? assert.fail(`no ${name} in ${listed}`);
    assert.match(row('Photo sync'), new RegExp(`^Photo sync +${sync.clientId} +${sync.tenantId} +\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z +User\\.ReadWrite\\.All Group\\.Read\\.All$`));
    assert.match(row('Reports'), new RegExp(`${reports.clientId} +${reports.tenantId} .* User\\.Read\\.All$`));
    assert.match(row('Elsewhere'), new RegExp(`${elsewhere.clientId} +${other} `), 'every tenant without --tenant');
    assert.equal(lines.length, 4);
    for (const secret of [sync.secret, reports.secret, elsewhere.secret]) assert.ok(!listed.includes(secret), 'no secret');
    assert.ok(!listed.includes('scrypt'), 'no hash');

    const onlyOther = await ok(['app', 'list', ...flags, '--tenant', other]);
    assert.deepEqual(onlyOther.trimEnd().split('\n').slice(1).map((line) => line.split(/ {2,}/)[0]), ['Elsewhere']);
  });

  it('remove by name or client id; a name several share, or none has, is refused naming the way out (exit 1)', async (t) => {
    const { flags } = await installation(t);
    const first = printed(await ok(['app', 'add', 'Twin', '--roles', 'User.Read.All', ...flags]));
    const second = printed(await ok(['app', 'add', 'Twin', '--roles', 'User.Read.All', ...flags]));
    const solo = printed(await ok(['app', 'add', 'Solo', '--roles', 'User.Read.All', ...flags]));

    const both = await fails(['app', 'remove', 'Twin', ...flags], 1, /^portrait app: 2 applications are named 'Twin': give the client id of one/);
    assert.ok(both.includes(first.clientId) && both.includes(second.clientId), both);
    await fails(['app', 'remove', 'Nobody', ...flags], 1, /^portrait app: no application is named or has the client id 'Nobody': `portrait app list` shows them\n$/);
    await fails(['app', 'rotate-secret', randomUUID(), ...flags], 1, /no application is named or has the client id/);
    await fails(['app', 'remove', 'Solo', ...flags, '--tenant', randomUUID()], 1, /no application [^\n]* in tenant /);

    assert.match(
      await ok(['app', 'remove', first.clientId.toUpperCase(), ...flags]),
      new RegExp(`^Removed application 'Twin' \\(client id ${first.clientId}\\) from tenant ${first.tenantId}\\. Its secret gets no more tokens`),
    );
    await ok(['app', 'remove', 'Solo', ...flags]);
    const left = await ok(['app', 'list', ...flags]);
    assert.ok(left.includes(second.clientId));
    assert.ok(!left.includes(first.clientId) && !left.includes(solo.clientId), left);
    // The one Twin left is now found by name.
    await ok(['app', 'remove', 'Twin', ...flags]);
    assert.match(await ok(['app', 'list', ...flags]), /^No applications are registered/);
  });

  it('in a running server: a rotated secret is refused at once, though it was just used; the new one works; a removed application gets no token', { timeout: 60_000 }, async (t) => {
    const { dataDir, database, flags } = await installation(t);
    const sync = printed(await ok(['app', 'add', 'Photo sync', '--roles', 'User.ReadWrite.All', ...flags]));
    const server = await startServer({ dataDir, ...(database !== undefined && { database }) });
    t.after(() => server.stop());
    const ask = async (clientId: string, secret: string) => {
      const response = await fetch(`${server.origin}/${sync.tenantId}/oauth2/v2.0/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: 'https://graph.microsoft.com/.default' }),
      });
      return { status: response.status, body: (await response.json()) as { access_token?: string; error?: string; error_codes?: number[] } };
    };

    // Used twice: the second time the server recognises it without hashing (remembered-secrets.ts).
    for (let i = 0; i < 2; i++) assert.equal((await ask(sync.clientId, sync.secret)).status, 200);

    const rotated = printed(await ok(['app', 'rotate-secret', 'Photo sync', ...flags]));
    assert.equal(rotated.clientId, sync.clientId, 'the same application');
    assert.equal(rotated.tenantId, sync.tenantId);
    assert.notEqual(rotated.secret, sync.secret);
    const old = await ask(sync.clientId, sync.secret);
    assert.equal(old.status, 401, JSON.stringify(old.body));
    assert.equal(old.body.error, 'invalid_client');
    assert.deepEqual(old.body.error_codes, [7000215]);
    const fresh = await ask(sync.clientId, rotated.secret);
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.match(fresh.body.access_token ?? '', /^[\w-]+\.[\w-]+\.[\w-]+$/);

    await ok(['app', 'remove', sync.clientId, ...flags]);
    const gone = await ask(sync.clientId, rotated.secret);
    assert.equal(gone.status, 401, JSON.stringify(gone.body));
    assert.deepEqual(gone.body.error_codes, [700016], 'not found in the directory');
  });
});
