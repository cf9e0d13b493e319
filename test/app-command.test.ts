// `portrait app add` as a user runs it: real processes on a temporary data folder.
// It prints the tenant id, client id and secret once, keeps only a hash of the secret,
// and answers bad flags with one line naming the flag and exit 2.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { verifyClientSecret } from '../src/auth/client-secrets.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import { runCli } from './helpers/server-process.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'portrait-app-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function printed(stdout: string): { tenantId: string; clientId: string; secret: string } {
  const value = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(stdout)?.[1] ?? assert.fail(`no ${name} line in ${stdout}`);
  return { tenantId: value('AZURE_TENANT_ID'), clientId: value('AZURE_CLIENT_ID'), secret: value('AZURE_CLIENT_SECRET') };
}

describe('portrait app add', { concurrency: 2 }, () => {
  it('registers an application and prints its tenant id, client id and secret, once', async (t) => {
    const dataDir = scratch(t);
    const result = await runCli(['app', 'add', 'Photo sync', '--roles', 'User.ReadWrite.All, Group.Read.All', '--data', dataDir]);
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
    const again = printed((await runCli(['app', 'add', 'Photo sync', '--roles', 'User.Read.All', '--data', dataDir])).stdout);
    assert.equal(again.tenantId, tenantId);
    assert.notEqual(again.clientId, clientId);
    assert.notEqual(again.secret, secret);

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
    const dataDir = scratch(t);
    const tenant = randomUUID().toUpperCase();
    const result = await runCli(['app', 'add', 'Reports', '--roles', 'User.Read.All', '--data', dataDir, '--tenant', tenant]);
    assert.equal(result.code, 0, result.stderr);
    const { tenantId, clientId } = printed(result.stdout);
    assert.equal(tenantId, tenant.toLowerCase());
    const store = new SqliteStore({ filename: join(dataDir, 'portrait.db') });
    try {
      assert.equal(await store.hasTenant(tenantId), true);
      assert.ok(await store.getApplication(tenantId, clientId));
    } finally {
      await store.close();
    }
  });

  it('bad flags and arguments: one line on stderr naming the problem, nothing on stdout, exit 2', async (t) => {
    const dataDir = scratch(t);
    const cases: [args: string[], message: RegExp][] = [
      [['app'], /missing subcommand: app add NAME/],
      [['app', 'remove', 'x'], /unknown app subcommand 'remove'/],
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
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args[1] === 'add' ? [...args, '--data', dataDir] : args);
      assert.equal(result.code, 2, `${args.join(' ')}: exit ${result.code}, ${result.stderr}`);
      assert.equal(result.stdout, '', args.join(' '));
      assert.match(result.stderr, /^portrait: [^\n]+\n$/, args.join(' '));
      assert.match(result.stderr, message, args.join(' '));
    }
    const help = await runCli(['help']);
    assert.match(help.stdout, /portrait app add NAME --roles/);
  });
});
