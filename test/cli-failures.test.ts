// How `portrait` fails, as an operator sees it: one line on stderr, never a stack, nothing
// on stdout, and the exit status the README lists (1 the command failed, 2 usage, 3 the
// database cannot be opened or reached). Real processes, real files, a real PostgreSQL
// (a closed port for "unreachable", a database name that does not exist for "missing").
// Then `token` on a folder that holds no Portrait data: refused, nothing created.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createScratchDatabase, postgresUnavailable, POSTGRES_SERVER_URL } from './helpers/postgres.js';
import { runCli, startServer } from './helpers/server-process.js';

const pgSkip = await postgresUnavailable();

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'portrait-fail-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The server's URL with another database name (or port). */
function postgresUrl(change: { database?: string; port?: number }): string {
  const url = new URL(POSTGRES_SERVER_URL);
  if (change.database !== undefined) url.pathname = `/${change.database}`;
  if (change.port !== undefined) url.port = String(change.port);
  return url.toString();
}

interface Failure {
  readonly args: readonly string[];
  readonly code: 1 | 2 | 3;
  /** The whole line, without the newline. */
  readonly says: RegExp;
}

async function assertFails({ args, code, says }: Failure): Promise<void> {
  const result = await runCli(args);
  const what = `portrait ${args.join(' ')}`;
  assert.equal(result.code, code, `${what}: exit ${result.code}, ${JSON.stringify(result.stderr)}`);
  assert.equal(result.stdout, '', `${what}: nothing on stdout`);
  assert.match(result.stderr, /^portrait[^\n]*\n$/, `${what}: exactly one line, got ${JSON.stringify(result.stderr)}`);
  assert.doesNotMatch(result.stderr, /\bat .*:\d+:\d+/, `${what}: no stack`);
  assert.match(result.stderr.trimEnd(), says, what);
}

describe('every failure is one line and a documented exit status', { concurrency: 2 }, () => {
  it('the database cannot be reached, or does not exist: exit 3, saying which and where, without the password', { skip: pgSkip ?? false, timeout: 60_000 }, async (t) => {
    const dataDir = join(scratch(t), 'data');
    const unreachable = postgresUrl({ port: await closedPort() });
    const missing = postgresUrl({ database: `portrait_missing_${randomUUID().slice(0, 8)}` });
    const withPassword = new URL(missing);
    withPassword.password = 'hunter2';
    const failures: Failure[] = [
      { args: ['serve', '--data', dataDir, '--no-tls', '--port', '0', '--database', unreachable], code: 3, says: /^portrait serve: cannot open PostgreSQL at postgres:\/\/[^\n]*: connection refused \(is PostgreSQL running, on that host and port\?\)$/ },
      { args: ['serve', '--data', dataDir, '--no-tls', '--port', '0', '--database', missing], code: 3, says: /^portrait serve: cannot open PostgreSQL at [^\n]*: database "portrait_missing_[0-9a-f]{8}" does not exist$/ },
      { args: ['token', '--data', dataDir, '--database', unreachable, '--user', 'alice@contoso.com'], code: 3, says: /^portrait token: cannot open PostgreSQL at [^\n]*: connection refused/ },
      { args: ['app', 'list', '--data', dataDir, '--database', missing], code: 3, says: /^portrait app: cannot open PostgreSQL at [^\n]*does not exist$/ },
      { args: ['init', '--data', dataDir, '--database', withPassword.toString()], code: 3, says: /^portrait init: cannot open PostgreSQL at [^\n]*does not exist$/ },
      { args: ['migrate-store', '--from', unreachable, '--to', join(dataDir, 'copy.db')], code: 3, says: /^portrait migrate-store: cannot open PostgreSQL at [^\n]*: connection refused/ },
    ];
    for (const failure of failures) await assertFails(failure);
    const result = await runCli(['init', '--data', dataDir, '--database', withPassword.toString()]);
    assert.ok(!result.stderr.includes('hunter2'), `the password is not printed: ${result.stderr}`);
  });

  it('an unknown --database scheme is a usage error (exit 2) in every command that takes one, and makes no file', async (t) => {
    const root = scratch(t);
    const dataDir = join(root, 'data');
    const says = /^portrait: --database must be a SQLite file or a postgres:\/\/ URL, not mysql:\/\/…$/;
    writeFileSync(join(root, 'directory.json'), '{}');
    for (const args of [
      ['serve', '--no-tls', '--port', '0'],
      ['init'],
      ['token', '--user', 'alice@contoso.com'],
      ['app', 'add', 'Reports', '--roles', 'User.Read.All'],
      ['import', join(root, 'directory.json')],
      ['backup', '--to', join(root, 'backup.db')],
    ]) {
      await assertFails({ args: [...args, '--data', dataDir, '--database', 'mysql://db.example/portrait'], code: 2, says });
    }
    await assertFails({ args: ['migrate-store', '--from', 'mysql://db.example/portrait', '--to', join(root, 'copy.db')], code: 2, says: /^portrait: --from must be a SQLite file or a postgres:\/\/ URL, not mysql:\/\/…$/ });
    assert.deepEqual(readdirSync(root), ['directory.json'], 'no data folder, no file named after the URL');
  });

  it('a SQLite database that cannot be opened: exit 3', async (t) => {
    const root = scratch(t);
    const notADatabase = join(root, 'notes.txt');
    writeFileSync(notADatabase, 'this is not a database, but it is long enough to have a first page that SQLite reads and rejects. '.repeat(50));
    await assertFails({ args: ['serve', '--data', join(root, 'data'), '--no-tls', '--port', '0', '--database', notADatabase], code: 3, says: /^portrait serve: cannot open the SQLite database [^\n]*notes\.txt: file is not a database$/ });
    await assertFails({ args: ['init', '--data', join(root, 'data'), '--database', join(root, 'no', 'such', 'folder', 'portrait.db')], code: 3, says: /^portrait init: cannot open the SQLite database [^\n]*portrait\.db: / });
  });

  it('backup --to a folder that does not exist: exit 1, naming the folder', async (t) => {
    const root = scratch(t);
    const dataDir = join(root, 'data');
    assert.equal((await runCli(['init', '--data', dataDir])).code, 0);
    await assertFails({ args: ['backup', '--data', dataDir, '--to', join(root, 'nowhere', 'backup.db')], code: 1, says: new RegExp(`^portrait backup: --to [^\\n]*: the folder ${join(root, 'nowhere')} does not exist; create it first$`) });
    assert.equal(existsSync(join(root, 'nowhere')), false);
  });

  it('a --data that is a file, or under one: exit 1, naming it', async (t) => {
    const root = scratch(t);
    const file = join(root, 'data');
    writeFileSync(file, 'not a folder');
    for (const [args, dataDir] of [
      [['serve', '--no-tls', '--port', '0'], file],
      [['init'], join(file, 'below')],
    ] as const) {
      await assertFails({ args: [...args, '--data', dataDir], code: 1, says: new RegExp(`^portrait ${args[0]}: cannot make the data folder ${dataDir}: a file is in the way$`) });
    }
  });

  it('a --tls-cert or --tls-key that cannot be read, or holds no certificate or key: exit 1, before the database is touched', async (t) => {
    const root = scratch(t);
    const dataDir = join(root, 'data');
    const folder = join(root, 'a-folder');
    mkdirSync(folder);
    const garbage = join(root, 'garbage.pem');
    writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    const serve = ['serve', '--data', dataDir, '--port', '0', '--host', '127.0.0.1'];
    const failures: Failure[] = [
      { args: [...serve, '--tls-cert', join(root, 'missing.pem'), '--tls-key', garbage], code: 1, says: /^portrait serve: cannot read --tls-cert [^\n]*missing\.pem: no such file$/ },
      { args: [...serve, '--tls-cert', folder, '--tls-key', garbage], code: 1, says: /^portrait serve: cannot read --tls-cert [^\n]*a-folder: it is a folder$/ },
      { args: [...serve, '--tls-cert', garbage, '--tls-key', garbage], code: 1, says: /^portrait serve: --tls-cert [^\n]*garbage\.pem does not hold a PEM certificate$/ },
    ];
    for (const failure of failures) await assertFails(failure);
    assert.equal(existsSync(join(dataDir, 'portrait.db')), false, 'no database made for a server that could not start');
  });

  it('unknown scope and role names: exit 2 with the closest known name', async (t) => {
    const dataDir = join(scratch(t), 'data');
    assert.equal((await runCli(['init', '--data', dataDir])).code, 0);
    const failures: Failure[] = [
      { args: ['token', '--data', dataDir, '--user', 'alice@contoso.com', '--scopes', 'User.ReadWrite Contacts.ReadWrit'], code: 2, says: /^portrait: unknown scope 'Contacts\.ReadWrit' in --scopes; did you mean 'Contacts\.ReadWrite'\?$/ },
      { args: ['token', '--data', dataDir, '--app', 'sync', '--roles', 'User.ReadWrite.Al'], code: 2, says: /^portrait: unknown role 'User\.ReadWrite\.Al' in --roles; did you mean 'User\.ReadWrite\.All'\?$/ },
      // An application permission is no delegated scope, and the other way round.
      { args: ['token', '--data', dataDir, '--app', 'sync', '--roles', 'User.ReadWrite'], code: 2, says: /^portrait: unknown role 'User\.ReadWrite' in --roles; did you mean 'User\.ReadWrite\.All'\?$/ },
      { args: ['token', '--data', dataDir, '--user', 'alice@contoso.com', '--scopes', 'Files.Read.All,Sites.Read.Al'], code: 2, says: /did you mean 'Sites\.Read\.All'\?$/ },
    ];
    for (const failure of failures) await assertFails(failure);
    // Any case is accepted and spelled as Graph does.
    const ok = await runCli(['token', '--data', dataDir, '--user', 'alice@contoso.com', '--scopes', 'user.readwrite CONTACTS.READWRITE']);
    assert.equal(ok.code, 0, ok.stderr);
    const claims = JSON.parse(Buffer.from(ok.stdout.trim().split('.')[1]!, 'base64url').toString()) as { scp: string };
    assert.equal(claims.scp, 'User.ReadWrite Contacts.ReadWrite');
  });
});

describe('portrait token on a folder that holds no Portrait data refuses, creating nothing', { concurrency: 2 }, () => {
  it('a folder that does not exist, or holds no database: exit 1, saying where it looked and how to fix it', async (t) => {
    const root = scratch(t);
    const typo = join(root, 'dta');
    const says = new RegExp(
      `^portrait token: no Portrait data at ${typo}/portrait\\.db: start \`portrait serve --data "${typo}"\` once \\(or run \`portrait init --data "${typo}"\`\\), or pass the --data the server uses$`,
    );
    await assertFails({ args: ['token', '--data', typo, '--user', 'alice@contoso.com'], code: 1, says });
    await assertFails({ args: ['token', '--data', typo, '--app', 'sync', '--roles', 'User.Read.All'], code: 1, says: /^portrait token: no Portrait data at / });
    assert.equal(existsSync(typo), false, 'no folder');
    mkdirSync(typo);
    await assertFails({ args: ['token', '--data', typo, '--user', 'alice@contoso.com'], code: 1, says });
    assert.deepEqual(readdirSync(typo), [], 'no database, no issuer key');
  });

  it('a database with no issuer key beside it (import ran, serve never did): refused, no key made', async (t) => {
    const root = scratch(t);
    const dataDir = join(root, 'data');
    const document = join(root, 'directory.json');
    writeFileSync(document, JSON.stringify({ users: [{ userPrincipalName: 'alice@contoso.com', displayName: 'Alice' }] }));
    assert.equal((await runCli(['import', document, '--data', dataDir])).code, 0);
    await assertFails({ args: ['token', '--data', dataDir, '--user', 'alice@contoso.com'], code: 1, says: /^portrait token: no issuer key in [^\n]*\(issuer-key\.pem\), so no server would accept its tokens: start `portrait serve --data / });
    assert.equal(existsSync(join(dataDir, 'issuer-key.pem')), false);
    // init completes the installation; then token works.
    assert.equal((await runCli(['init', '--data', dataDir])).code, 0);
    assert.equal((await runCli(['token', '--data', dataDir, '--user', 'alice@contoso.com'])).code, 0);
  });

  it('PostgreSQL: a node\'s database with another --data than the node\'s is refused; the node\'s own folder gets a token it accepts', { skip: pgSkip ?? false, timeout: 60_000 }, async (t) => {
    const db = await createScratchDatabase();
    t.after(() => db.drop());
    const root = scratch(t);
    const nodeData = join(root, 'node');
    const server = await startServer({ dataDir: nodeData, database: db.url });
    t.after(() => server.stop());
    const elsewhere = join(root, 'elsewhere');
    await assertFails({
      args: ['token', '--data', elsewhere, '--database', db.url, '--user', 'alice@contoso.com'],
      code: 1,
      says: /^portrait token: no issuer key in [^\n]*elsewhere \(issuer-key\.pem\), so no server would accept its tokens: [^\n]*--database …`[^\n]*or pass the --data and --database the server uses$/,
    });
    assert.equal(existsSync(join(elsewhere, 'issuer-key.pem')), false);
    // An empty database (no serve ever ran on it) is refused too.
    const empty = await createScratchDatabase();
    t.after(() => empty.drop());
    copyFileSync(join(nodeData, 'issuer-key.pem'), join(root, 'issuer-key.pem'));
    await assertFails({ args: ['token', '--data', nodeData, '--database', empty.url, '--user', 'alice@contoso.com'], code: 1, says: /^portrait token: no Portrait data in postgres:\/\/[^\n]*\(it has no default tenant\)/ });

    const token = await runCli(['token', '--data', nodeData, '--database', db.url, '--user', 'alice@contoso.com']);
    assert.equal(token.code, 0, token.stderr);
    const me = await fetch(`${server.graph}/me`, { headers: { authorization: `Bearer ${token.stdout.trim()}` } });
    assert.equal(me.status, 200, await me.text());
  });
});
