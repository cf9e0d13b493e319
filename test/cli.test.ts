// The `portrait` command as a user runs it: real processes (serve, token, import)
// on a temporary data folder, real HTTPS with the certificate `serve` made, real
// photos, signals for shutdown. Every server started here is killed in teardown.
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createSelfSignedCertificate } from '../src/tls/self-signed-certificate.js';
import { photo } from './helpers/images.js';

const CLI = fileURLToPath(new URL('../src/cli/portrait.js', import.meta.url));

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const JWT_LINE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/;
const GRAPH_AUDIENCES = ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000'];
/** Global, User and People Administrator role template ids (contract §7). */
const ADMIN_ROLE_TEMPLATE_IDS = [
  '62e90394-69f5-4237-9190-012177145e10',
  'fe930be7-5e62-47db-91af-98c3a49a38b1',
  '024906de-61e5-49c8-8572-40335f1e0e10',
];
const STANDARD_SIZES = [48, 64, 96, 120, 240, 360, 432, 504, 648];
const APP_ROLES = 'User.ReadWrite.All Group.ReadWrite.All Contacts.ReadWrite User.Invite.All';

// ---------------------------------------------------------------------------
// Processes

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion, asynchronously (servers may be running in this process). */
function cli(cwd: string, args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      const raw: unknown = error === null ? 0 : (error as { code?: unknown }).code;
      resolve({ code: typeof raw === 'number' ? raw : -1, stdout, stderr });
    });
  });
}

/** The CLI must succeed and print exactly `imported: …` or one token; returns stdout. */
async function cliOk(cwd: string, args: readonly string[]): Promise<string> {
  const result = await cli(cwd, args);
  assert.equal(result.code, 0, `portrait ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

async function token(cwd: string, args: readonly string[]): Promise<string> {
  const stdout = await cliOk(cwd, ['token', ...args]);
  assert.match(stdout, JWT_LINE, `token prints one JWT line, got ${JSON.stringify(stdout)}`);
  return stdout.trimEnd();
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface Server {
  readonly proc: ChildProcess;
  readonly protocol: 'http' | 'https';
  readonly port: number;
  /** Everything `serve` printed before it was ready. */
  readonly banner: string;
  /** The certificate path printed, when serving HTTPS. */
  readonly certPath: string | undefined;
  /** The CA to trust for HTTPS requests. */
  readonly ca: Buffer | undefined;
  readonly exit: Promise<Exit>;
  stdout(): string;
  stderr(): string;
}

/** A temporary folder removed after the test; also the cwd of every process, so nothing lands in the repo. */
async function scratch(t: TestContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'portrait-cli-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return realpathSync(root);
}

/** Starts `portrait serve` and waits for it to print its URL; killed in teardown if still running. */
async function startServe(t: TestContext, cwd: string, args: readonly string[]): Promise<Server> {
  const proc = spawn(process.execPath, [CLI, 'serve', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => void (out += chunk));
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => void (err += chunk));
  const exit = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exit;
    }
  });

  const URL_LINE = /(https?):\/\/(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)\S*[^\n]*\n/;
  const deadline = Date.now() + 15_000;
  let match: RegExpExecArray | null = null;
  while ((match = URL_LINE.exec(out)) === null) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      assert.fail(`serve ${args.join(' ')} exited (${proc.exitCode ?? proc.signalCode}) before printing its URL: ${err}${out}`);
    }
    if (Date.now() > deadline) assert.fail(`serve printed no URL within 15 s: ${err}${out}`);
    await delay(20);
  }
  await delay(50); // the rest of the banner (one write, normally already here)
  const protocol = match[1] === 'https' ? 'https' : 'http';
  const port = Number(match[2]);
  assert.ok(port > 0, `serve --port 0 prints the port it got, not 0: ${out}`);
  const certLine = out.split('\n').find((line) => /cert/i.test(line));
  const certPath = protocol === 'https' ? /(\/[^\s"'()]+)/.exec(certLine ?? '')?.[1] : undefined;
  return {
    proc,
    protocol,
    port,
    banner: out,
    certPath,
    ca: certPath === undefined ? undefined : readFileSync(certPath),
    exit,
    stdout: () => out,
    stderr: () => err,
  };
}

/** Sends a signal and waits (bounded) for the server to exit. */
async function stop(server: Server, signal: NodeJS.Signals, withinMs = 15_000): Promise<Exit> {
  server.proc.kill(signal);
  const timeout = delay(withinMs).then(() => 'timeout' as const);
  const result = await Promise.race([server.exit, timeout]);
  assert.notEqual(result, 'timeout', `serve did not exit within ${withinMs} ms of ${signal}`);
  return result as Exit;
}

// ---------------------------------------------------------------------------
// HTTP(S)

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  json(): any;
}

interface SendOptions {
  readonly token?: string;
  readonly body?: Buffer | string;
  readonly headers?: Record<string, string>;
  /** TLS server name to verify, when not the address connected to. */
  readonly servername?: string;
}

function openRequest(server: Server, method: string, path: string, options: SendOptions = {}): ClientRequest {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const base = { host: '127.0.0.1', port: server.port, method, path, headers, agent: false as const };
  if (server.protocol === 'http') return httpRequest(base);
  assert.ok(server.ca, 'an HTTPS server printed its certificate');
  // No rejectUnauthorized: false: the printed certificate must verify for 127.0.0.1 (or servername).
  return httpsRequest({ ...base, ca: server.ca, ...(options.servername === undefined ? {} : { servername: options.servername }) });
}

function replyOf(req: ClientRequest): Promise<Reply> {
  return new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
    });
  });
}

function send(server: Server, method: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const req = openRequest(server, method, path, options);
  const reply = replyOf(req);
  req.end(options.body);
  return reply;
}

/** The certificate a TLS client trusting only `ca` is shown on 127.0.0.1:port for localhost. */
function presentedCertificate(port: number, ca: Buffer | undefined): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...(ca && { ca }) }, () => {
      resolve(new X509Certificate(socket.getPeerCertificate().raw));
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** Polls until a new TCP connection to the port is refused: the server stopped accepting. */
async function waitUntilRefused(port: number, withinMs = 5_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return;
    await delay(25);
  }
  assert.fail(`port ${port} still accepted connections ${withinMs} ms after the signal`);
}

// ---------------------------------------------------------------------------
// Tokens and photos

function claimsOf(jwt: string): Record<string, unknown> {
  const payload = jwt.trim().split('.')[1];
  assert.ok(payload !== undefined, 'a JWT has a payload');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function headerOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** iss, aud, tid, oid, iat, nbf, exp: present and sane for any token. */
function assertCommonClaims(claims: Record<string, unknown>, ttlSeconds: number): void {
  assert.equal(typeof claims.iss, 'string');
  assert.doesNotThrow(() => new URL(claims.iss as string), `iss is a URL: ${String(claims.iss)}`);
  assert.ok(GRAPH_AUDIENCES.includes(claims.aud as string), `aud is Microsoft Graph: ${String(claims.aud)}`);
  assert.match(String(claims.tid), GUID);
  assert.match(String(claims.oid), GUID);
  const now = Math.floor(Date.now() / 1000);
  for (const name of ['iat', 'nbf', 'exp'] as const) assert.equal(typeof claims[name], 'number', `${name} is a number`);
  const iat = claims.iat as number;
  assert.ok(Math.abs(iat - now) <= 60, `iat ${iat} is now (${now})`);
  assert.ok((claims.nbf as number) <= now + 5, 'nbf is not in the future');
  assert.equal((claims.exp as number) - iat, ttlSeconds, 'exp = iat + ttl');
}

/** The largest standard square a photo with this shorter side gets (contract §4). */
function largestSize(shorterSide: number): number {
  return [...STANDARD_SIZES].reverse().find((s) => s <= shorterSide) ?? shorterSide;
}

async function assertServedJpeg(body: Buffer, width: number, height: number): Promise<void> {
  const meta = await sharp(body).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.equal(meta.width, width);
  assert.equal(meta.height, height);
}

const curlAvailable = new Promise<boolean>((resolve) => execFile('curl', ['--version'], (error) => resolve(error === null)));

function curl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', [...args], { encoding: 'utf8', timeout: 15_000 }, (error, stdout, stderr) => {
      const raw: unknown = error === null ? 0 : (error as { code?: unknown }).code;
      resolve({ code: typeof raw === 'number' ? raw : -1, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------

// Two tests at a time: most of the time goes to starting processes.
describe('the portrait command', { concurrency: 2 }, () => {
  it('serve: HTTPS with its own certificate, CLI tokens, a photo round trip, graceful SIGTERM, data kept across restarts', { timeout: 60_000 }, async (t) => {
    const root = await scratch(t);
    const dataDir = join(root, 'data');
    const first = await startServe(t, root, ['--data', dataDir, '--port', '0', '--host', '127.0.0.1']);
    let alice = '';
    let defaultTenant = '';

    await t.test('prints its https URL, the certificate it made in the data folder, the database there and how to get a token', async () => {
      assert.equal(first.protocol, 'https', first.banner);
      assert.match(first.banner, new RegExp(`https://127\\.0\\.0\\.1:${first.port}`));
      assert.ok(first.certPath, `a certificate path is printed: ${first.banner}`);
      assert.equal(dirname(first.certPath), dataDir, 'the certificate is in the data folder');
      assert.ok(existsSync(first.certPath));
      // What to trust is a self-signed CA; what the server presents is a leaf it signed for these names.
      const trusted = new X509Certificate(readFileSync(first.certPath));
      assert.equal(trusted.issuer, trusted.subject, 'self-signed');
      const presented = await presentedCertificate(first.port, first.ca);
      const san = (presented.subjectAltName ?? '').split(', ');
      assert.ok(san.includes('DNS:localhost'), String(presented.subjectAltName));
      assert.ok(san.includes('IP Address:127.0.0.1'), String(presented.subjectAltName));
      assert.ok(presented.checkIssued(trusted) && presented.verify(trusted.publicKey), 'signed by the printed certificate');
      // SQLite in the data folder: some file there is an SQLite database.
      const dbLine = first.banner.split('\n').find((line) => line.includes(dataDir) && !/cert|token/i.test(line));
      const dbPath = /(\/[^\s"']+)/.exec(dbLine ?? '')?.[1];
      assert.ok(dbPath && dirname(dbPath) === dataDir, `the database is printed and in the data folder: ${first.banner}`);
      assert.equal(readFileSync(dbPath).subarray(0, 16).toString('latin1'), 'SQLite format 3\u0000');
      const tokenLine = first.banner.split('\n').find((line) => /\btoken\b/.test(line) && line.includes('--user'));
      assert.ok(tokenLine, `serve says how to get a token: ${first.banner}`);
      assert.ok(tokenLine.includes(dataDir), `the token command names the data folder: ${tokenLine}`);
      const tenantLine = /tenant:\s+([0-9a-f-]{36})/.exec(first.banner);
      assert.ok(tenantLine?.[1], `serve prints its default tenant: ${first.banner}`);
      defaultTenant = tenantLine[1];
    });

    await t.test('a token from the CLI (same data folder, shared SQLite) is accepted; the user it names is created', async () => {
      alice = await token(root, ['--data', dataDir, '--user', 'alice@contoso.com']);
      const claims = claimsOf(alice);
      assert.equal(claims.tid, defaultTenant, 'token without --tenant uses the tenant serve printed');
      const none = await send(first, 'GET', '/v1.0/me/photo', { token: alice });
      assert.equal(none.status, 404, none.body.toString());
      assert.equal(none.json().error.code, 'ImageNotFound');
      const app = await token(root, ['--data', dataDir, '--app', 'test', '--roles', APP_ROLES]);
      const user = await send(first, 'GET', '/v1.0/users/alice@contoso.com', { token: app });
      assert.equal(user.status, 200, user.body.toString());
      assert.equal(user.json().id, claims.oid);
      assert.equal(user.json().userPrincipalName, 'alice@contoso.com');
    });

    let etag = '';
    await t.test('PUT, GET metadata and bytes, DELETE a real photo over HTTPS', async () => {
      const original = photo('exif-org-canon-ixus.jpg');
      const { width = 0, height = 0 } = await sharp(original).metadata();
      const side = largestSize(Math.min(width, height));

      const put = await send(first, 'PUT', '/v1.0/me/photo/$value', { token: alice, body: original, headers: { 'content-type': 'image/jpeg' } });
      assert.equal(put.status, 200, put.body.toString());
      assert.equal(put.body.length, 0);
      etag = String(put.headers.etag);
      assert.match(etag, /^"[0-9A-F]+"$/);

      const meta = await send(first, 'GET', '/v1.0/me/photo', { token: alice });
      assert.equal(meta.status, 200, meta.body.toString());
      const body = meta.json();
      assert.equal(body['@odata.mediaContentType'], 'image/jpeg');
      assert.equal(body['@odata.mediaEtag'], etag);
      assert.equal(body.id, `${side}X${side}`);
      assert.equal(body.width, side);
      assert.equal(body.height, side);
      assert.match(String(body['@odata.context']), new RegExp(`^https://127\\.0\\.0\\.1:${first.port}/v1\\.0/\\$metadata#users\\('`));

      const bytes = await send(first, 'GET', '/v1.0/me/photo/$value', { token: alice });
      assert.equal(bytes.status, 200);
      assert.match(String(bytes.headers['content-type']), /^image\/jpeg/);
      await assertServedJpeg(bytes.body, side, side);
      assert.notDeepEqual(bytes.body, original, 'uploaded bytes are never served back');

      // The certificate also verifies under the name localhost.
      const byName = await send(first, 'GET', '/v1.0/me/photo', { token: alice, servername: 'localhost' });
      assert.equal(byName.status, 200);
    });

    await t.test('curl --cacert <printed certificate> https://localhost:<port>/v1.0/me/photo (the README flow)', async (st) => {
      if (!(await curlAvailable)) return st.skip('curl is not installed');
      assert.ok(first.certPath);
      const result = await curl([
        '-sS',
        '--cacert',
        first.certPath,
        '-H',
        `Authorization: Bearer ${alice}`,
        '-w',
        '\n%{http_code}',
        `https://localhost:${first.port}/v1.0/me/photo`,
      ]);
      assert.equal(result.code, 0, `curl failed: ${result.stderr}`);
      const lines = result.stdout.split('\n');
      assert.equal(lines.at(-1), '200', result.stdout);
      assert.equal(JSON.parse(lines.slice(0, -1).join('\n'))['@odata.mediaEtag'], etag);
    });

    await t.test('DELETE the photo: 200, then 404', async () => {
      const del = await send(first, 'DELETE', '/v1.0/me/photo', { token: alice });
      assert.equal(del.status, 200, del.body.toString());
      const gone = await send(first, 'GET', '/v1.0/me/photo/$value', { token: alice });
      assert.equal(gone.status, 404);
      assert.equal(gone.json().error.code, 'ImageNotFound');
    });

    let shutdownEtag = '';
    const big = photo('mobile-HMD_Nokia_8.3_5G.jpg');
    await t.test('SIGTERM: stops accepting, finishes the upload in flight with 200, closes the database, exits 0', async () => {
      assert.ok(big.length < 4 * 1024 * 1024);
      const half = Math.floor(big.length / 2);
      const req = openRequest(first, 'PUT', '/v1.0/me/photo/$value', {
        token: alice,
        headers: { 'content-type': 'image/jpeg', 'content-length': String(big.length) },
      });
      const reply = replyOf(req);
      req.flushHeaders();
      await new Promise<void>((resolve, reject) => req.write(big.subarray(0, half), (error) => (error ? reject(error) : resolve())));
      await delay(500); // the server has the headers and is reading the body
      first.proc.kill('SIGTERM');
      await waitUntilRefused(first.port);
      req.end(big.subarray(half));
      const put = await reply;
      assert.equal(put.status, 200, `the in-flight upload completes: ${put.status} ${put.body.toString()}`);
      shutdownEtag = String(put.headers.etag);

      const timeout = delay(15_000).then(() => 'timeout' as const);
      const exit = await Promise.race([first.exit, timeout]);
      assert.notEqual(exit, 'timeout', 'serve exits after SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, `serve exits 0 on SIGTERM: ${first.stderr()}`);
      // The last connection closing checkpoints and removes the WAL: the database was closed.
      assert.equal(existsSync(join(dataDir, 'portrait.db-wal')), false, 'no WAL left behind after a clean shutdown');
    });

    await t.test('restarted on the same data folder: same certificate, same tenant, same key, the photo is still there; SIGINT exits 0', async () => {
      const certBefore = readFileSync(join(dataDir, 'tls-cert.pem'));
      const second = await startServe(t, root, ['--data', dataDir, '--port', '0', '--host', '127.0.0.1']);
      assert.equal(second.certPath, first.certPath);
      assert.deepEqual(second.ca, certBefore, 'the certificate is reused, so a trusted --cacert keeps working');
      assert.match(second.banner, new RegExp(`tenant:\\s+${defaultTenant}`));

      // The token minted before the restart is still valid: same issuer key.
      const meta = await send(second, 'GET', '/v1.0/me/photo', { token: alice });
      assert.equal(meta.status, 200, meta.body.toString());
      assert.equal(meta.json()['@odata.mediaEtag'], shutdownEtag);
      const side = largestSize(1976);
      const bytes = await send(second, 'GET', '/v1.0/me/photo/$value', { token: alice });
      assert.equal(bytes.status, 200);
      await assertServedJpeg(bytes.body, side, side);

      const exit = await stop(second, 'SIGINT');
      assert.deepEqual(exit, { code: 0, signal: null }, `serve exits 0 on SIGINT: ${second.stderr()}`);
    });
  });

  it('serve --no-tls serves plain HTTP; a stuck request delays shutdown only up to the bound', { timeout: 30_000 }, async (t) => {
    const root = await scratch(t);
    const dataDir = join(root, 'data');
    const server = await startServe(t, root, ['--data', dataDir, '--port', '0', '--host', '127.0.0.1', '--no-tls', '--shutdown-timeout', '1']);
    assert.equal(server.protocol, 'http', server.banner);
    assert.match(server.banner, new RegExp(`http://127\\.0\\.0\\.1:${server.port}`));
    assert.doesNotMatch(server.banner, /https:\/\/127/);

    const alice = await token(root, ['--data', dataDir, '--user', 'alice@contoso.com']);
    const reply = await send(server, 'GET', '/v1.0/me/photo', { token: alice });
    assert.equal(reply.status, 404, reply.body.toString());
    assert.equal(reply.json().error.code, 'ImageNotFound');

    // A client that sends half a body and then nothing.
    const big = photo('exif-org-canon-ixus.jpg');
    const stuck = openRequest(server, 'PUT', '/v1.0/me/photo/$value', {
      token: alice,
      headers: { 'content-type': 'image/jpeg', 'content-length': String(big.length) },
    });
    const stuckReply = replyOf(stuck).catch((error: unknown) => error);
    stuck.flushHeaders();
    stuck.write(big.subarray(0, 1000));
    await delay(200);
    const started = Date.now();
    const exit = await stop(server, 'SIGTERM', 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `serve exits 0: ${server.stderr()}`);
    assert.ok(Date.now() - started < 8_000, `shutdown is bounded by --shutdown-timeout 1 (took ${Date.now() - started} ms)`);
    await stuckReply; // cut off, one way or another
    stuck.destroy();
  });

  it('serve --tls-cert FILE --tls-key FILE uses those files', { timeout: 30_000 }, async (t) => {
    const root = await scratch(t);
    const dataDir = join(root, 'data');
    await mkdir(join(root, 'certs'));
    const certFile = join(root, 'certs', 'cert.pem');
    const keyFile = join(root, 'certs', 'key.pem');
    const { caPem, certPem, keyPem } = createSelfSignedCertificate({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 2 });
    // The chain, leaf first: the file printed is then also one a client can trust.
    await writeFile(certFile, certPem + caPem);
    await writeFile(keyFile, keyPem);
    const server = await startServe(t, root, ['--data', dataDir, '--port', '0', '--host', '127.0.0.1', '--tls-cert', certFile, '--tls-key', keyFile]);
    assert.equal(server.protocol, 'https');
    assert.equal(server.certPath, certFile, server.banner);
    assert.equal(server.ca?.toString(), certPem + caPem);
    const alice = await token(root, ['--data', dataDir, '--user', 'alice@contoso.com']);
    const reply = await send(server, 'GET', '/v1.0/me/photo', { token: alice });
    assert.equal(reply.status, 404, reply.body.toString());
    const exit = await stop(server, 'SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
  });

  it('token prints one JWT with the claims Entra puts in its access tokens', { timeout: 30_000 }, async (t) => {
    const root = await scratch(t);
    const dataDir = join(root, 'data');
    const data = ['--data', dataDir];
    let aliceClaims: Record<string, unknown> = {};
    // token refuses a folder that holds no Portrait data: set it up as serve's first start would.
    await cliOk(root, ['init', ...data]);

    await t.test('--user with --scopes: upn, preferred_username, scp space-separated, no roles, no wids, 1 h by default', async () => {
      const result = await cli(root, ['token', ...data, '--user', 'alice@contoso.com', '--scopes', 'User.Read Contacts.ReadWrite']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, JWT_LINE, 'exactly one line: the token');
      assert.equal(headerOf(result.stdout).alg, 'RS256');
      const claims = claimsOf(result.stdout);
      assertCommonClaims(claims, 3600);
      assert.equal(claims.upn, 'alice@contoso.com');
      assert.equal(claims.preferred_username, 'alice@contoso.com');
      assert.equal(claims.scp, 'User.Read Contacts.ReadWrite');
      assert.equal(claims.roles, undefined);
      assert.equal(claims.wids, undefined);
      aliceClaims = claims;
    });

    await t.test('the same user twice: same tid (the data folder default tenant) and same oid (created once)', async () => {
      const a = claimsOf(await token(root, [...data, '--user', 'bob@contoso.com']));
      const b = claimsOf(await token(root, [...data, '--user', 'BOB@contoso.com']));
      assert.equal(a.tid, b.tid);
      assert.equal(a.tid, aliceClaims.tid);
      assert.equal(a.oid, b.oid, 'an existing user is reused (names compare case-insensitively)');
      assert.notEqual(a.oid, aliceClaims.oid);
      assert.equal(typeof a.scp, 'string');
      assert.ok((a.scp as string).split(' ').length >= 1);
    });

    await t.test('--admin puts an admin role template id in wids', async () => {
      const claims = claimsOf(await token(root, [...data, '--user', 'admin@contoso.com', '--admin', '--scopes', 'User.ReadWrite.All']));
      assert.ok(Array.isArray(claims.wids), `wids is an array: ${JSON.stringify(claims.wids)}`);
      assert.ok((claims.wids as unknown[]).some((id) => ADMIN_ROLE_TEMPLATE_IDS.includes(String(id))), JSON.stringify(claims.wids));
      assert.equal(claims.scp, 'User.ReadWrite.All');
    });

    await t.test('--app with --roles: roles is an array, no scp, no upn', async () => {
      const result = await cli(root, ['token', ...data, '--app', 'test', '--roles', 'User.Read.All Group.ReadWrite.All']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, JWT_LINE);
      const claims = claimsOf(result.stdout);
      assertCommonClaims(claims, 3600);
      assert.deepEqual(claims.roles, ['User.Read.All', 'Group.ReadWrite.All']);
      assert.equal(claims.scp, undefined);
      assert.equal(claims.upn, undefined);
      assert.equal(claims.tid, aliceClaims.tid, 'app tokens use the default tenant too');
    });

    await t.test('--tenant is honoured; --ttl sets exp', async () => {
      const tenant = randomUUID();
      const claims = claimsOf(await token(root, [...data, '--tenant', tenant, '--user', 'alice@contoso.com', '--ttl', '90s']));
      assert.equal(claims.tid, tenant);
      assertCommonClaims(claims, 90);
      const app = claimsOf(await token(root, [...data, '--tenant', tenant.toUpperCase(), '--app', 'x', '--roles', 'User.Read.All', '--ttl', '2d']));
      assert.equal(app.tid, tenant);
      assertCommonClaims(app, 2 * 86400);
    });
  });

  it('import: users with nested contact folders, a team, an invitation; idempotent; reachable over HTTPS', { timeout: 60_000 }, async (t) => {
    const root = await scratch(t);
    const dataDir = join(root, 'data');
    const data = ['--data', dataDir];
    const invitationId = randomUUID();
    const document = {
      users: [
        {
          userPrincipalName: 'alice@contoso.com',
          displayName: 'Alice',
          admin: true,
          contacts: [{ displayName: 'Bob', emailAddresses: [{ address: 'bob@example.com' }] }],
          contactFolders: [
            {
              displayName: 'Friends',
              contacts: [{ givenName: 'Carol', surname: 'Jones' }],
              childFolders: [{ displayName: 'Close', contacts: [{ displayName: 'Dan' }] }],
            },
          ],
        },
        { userPrincipalName: 'grace@contoso.com', displayName: 'Grace' },
      ],
      groups: [
        { displayName: 'Design', mailNickname: 'design', team: true },
        { displayName: 'Plain', mailNickname: 'plain' },
      ],
      invitations: [
        {
          id: invitationId,
          invitedUserEmailAddress: 'erin@fabrikam.com',
          invitedUser: { displayName: 'Erin', contacts: [{ displayName: 'Frank' }] },
        },
      ],
    };
    // alice, Bob, Friends, Carol, Close, Dan, grace, Design, Plain, the guest, the invitation, Frank
    const OBJECTS = 12;
    const file = join(root, 'directory.json');
    await writeFile(file, JSON.stringify(document, null, 2));
    const otherTenant = randomUUID();

    await t.test('first run creates everything, the second changes nothing, an edit updates one object', async () => {
      const once = await cliOk(root, ['import', file, ...data]);
      assert.match(once, /^imported: \d+ created, \d+ updated, \d+ unchanged\n$/, `exactly the summary line: ${JSON.stringify(once)}`);
      const created = Number(/(\d+) created/.exec(once)?.[1]);
      assert.ok(created > 0);
      assert.equal(once, `imported: ${OBJECTS} created, 0 updated, 0 unchanged\n`);

      const twice = await cliOk(root, ['import', file, ...data]);
      assert.equal(twice, `imported: 0 created, 0 updated, ${OBJECTS} unchanged\n`);

      const edited = structuredClone(document);
      const grace = edited.users[1];
      assert.ok(grace);
      grace.displayName = 'Grace Hopper';
      const editedFile = join(root, 'edited.json');
      await writeFile(editedFile, JSON.stringify(edited));
      assert.equal(await cliOk(root, ['import', editedFile, ...data]), `imported: 0 created, 1 updated, ${OBJECTS - 1} unchanged\n`);
    });

    await t.test('--tenant imports into that tenant', async () => {
      assert.equal(await cliOk(root, ['import', file, ...data, '--tenant', otherTenant]), `imported: ${OBJECTS} created, 0 updated, 0 unchanged\n`);
    });

    const server = await startServe(t, root, [...data, '--port', '0', '--host', '127.0.0.1']);
    const app = await token(root, [...data, '--app', 'test', '--roles', APP_ROLES]);
    const get = async (path: string, tokenValue = app): Promise<any> => {
      const reply = await send(server, 'GET', path, { token: tokenValue });
      assert.equal(reply.status, 200, `GET ${path}: ${reply.status} ${reply.body.toString()}`);
      return reply.json();
    };
    const small = photo('Canon_40D.jpg'); // 100×68

    let aliceId = '';
    await t.test('users: GET /users/{upn}', async () => {
      const alice = await get('/v1.0/users/alice@contoso.com');
      assert.equal(alice.displayName, 'Alice');
      assert.match(alice.id, GUID);
      aliceId = alice.id;
      assert.equal((await get('/v1.0/users/grace@contoso.com')).displayName, 'Grace Hopper');
    });

    let designId = '';
    await t.test('groups and teams: the team:true group is a team, the other is not', async () => {
      const groups: { id: string; mailNickname: string }[] = (await get('/v1.0/groups')).value;
      designId = groups.find((g) => g.mailNickname === 'design')?.id ?? '';
      const plainId = groups.find((g) => g.mailNickname === 'plain')?.id ?? '';
      assert.match(designId, GUID);
      assert.match(plainId, GUID);
      const team = await get(`/v1.0/teams/${designId}`);
      assert.equal(team.id, designId);
      assert.equal(team.displayName, 'Design');
      const notTeam = await send(server, 'GET', `/v1.0/teams/${plainId}`, { token: app });
      assert.equal(notTeam.status, 404, notTeam.body.toString());
      const put = await send(server, 'PUT', `/v1.0/teams/${designId}/photo/$value`, { token: app, body: small });
      assert.ok(put.status === 200 || put.status === 204, `${put.status} ${put.body.toString()}`);
    });

    await t.test('contacts: top-level and in nested folders; a photo on /users/{upn}/contactFolders/{id}/childFolders/{id}/contacts/{id}', async () => {
      const top: { displayName: string }[] = (await get('/v1.0/users/alice@contoso.com/contacts')).value;
      assert.deepEqual(top.map((c) => c.displayName), ['Bob']);
      const folders: { id: string; displayName: string }[] = (await get('/v1.0/users/alice@contoso.com/contactFolders')).value;
      const friends = folders.find((f) => f.displayName === 'Friends');
      assert.ok(friends, JSON.stringify(folders));
      const inFriends: { displayName: string }[] = (await get(`/v1.0/users/alice@contoso.com/contactFolders/${friends.id}/contacts`)).value;
      assert.deepEqual(inFriends.map((c) => c.displayName), ['Carol Jones']);
      const children: { id: string; displayName: string }[] = (await get(`/v1.0/users/alice@contoso.com/contactFolders/${friends.id}/childFolders`)).value;
      const close = children.find((f) => f.displayName === 'Close');
      assert.ok(close, JSON.stringify(children));
      const nested = `/v1.0/users/alice@contoso.com/contactFolders/${friends.id}/childFolders/${close.id}/contacts`;
      const dan: { id: string; displayName: string }[] = (await get(nested)).value;
      assert.equal(dan.length, 1);
      assert.equal(dan[0]?.displayName, 'Dan');

      const put = await send(server, 'PUT', `${nested}/${dan[0]?.id}/photo/$value`, { token: app, body: small });
      assert.equal(put.status, 200, put.body.toString());
      const meta = await get(`${nested}/${dan[0]?.id}/photo`);
      assert.equal(meta.id, '64X64'); // 100×68: the largest standard square that fits
    });

    await t.test('invitations: GET /invitations/{id}, its invitedUser is a Guest with the imported contact', async () => {
      const invitation = await get(`/v1.0/invitations/${invitationId}`);
      assert.equal(invitation.invitedUserEmailAddress, 'erin@fabrikam.com');
      const guestId = invitation.invitedUser?.id;
      assert.match(String(guestId), GUID);
      const guest = await get(`/v1.0/users/${guestId}`);
      assert.equal(guest.userType, 'Guest');
      assert.equal(guest.displayName, 'Erin');
      const contacts: { id: string; displayName: string }[] = (await get(`/v1.0/invitations/${invitationId}/invitedUser/contacts`)).value;
      assert.deepEqual(contacts.map((c) => c.displayName), ['Frank']);
      const path = `/v1.0/invitations/${invitationId}/invitedUser/contacts/${contacts[0]?.id}/photo/$value`;
      const put = await send(server, 'PUT', path, { token: app, body: small });
      assert.equal(put.status, 200, put.body.toString());
    });

    await t.test('"admin": true makes an administrator; `token --user` reuses the imported user', async () => {
      const alice = await token(root, [...data, '--user', 'alice@contoso.com', '--scopes', 'User.ReadWrite.All']);
      assert.equal(claimsOf(alice).oid, aliceId, 'token --user finds the imported user');
      const asAdmin = await send(server, 'PUT', '/v1.0/users/grace@contoso.com/photo/$value', { token: alice, body: small });
      assert.equal(asAdmin.status, 200, `an imported admin may write another user's photo: ${asAdmin.body.toString()}`);
      const grace = await token(root, [...data, '--user', 'grace@contoso.com', '--scopes', 'User.ReadWrite.All']);
      const notAdmin = await send(server, 'PUT', '/v1.0/users/alice@contoso.com/photo/$value', { token: grace, body: small });
      assert.equal(notAdmin.status, 403, notAdmin.body.toString());
    });

    await t.test('the --tenant import lives in its own tenant', async () => {
      const other = await token(root, [...data, '--tenant', otherTenant, '--app', 'test', '--roles', APP_ROLES]);
      const alice = await get('/v1.0/users/alice@contoso.com', other);
      assert.notEqual(alice.id, aliceId);
      const crossTenant = await send(server, 'GET', `/v1.0/teams/${designId}`, { token: other });
      assert.equal(crossTenant.status, 404, crossTenant.body.toString());
    });

    const exit = await stop(server, 'SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null });
  });

  it('import: a userPrincipalName that is no UPN stops it with POST /users’s message, exit 1, like any bad document', { timeout: 30_000 }, async (t) => {
    const root = await scratch(t);
    const data = ['--data', join(root, 'data')];
    const run = async (document: unknown): Promise<CliResult> => {
      const file = join(root, `${randomUUID()}.json`);
      await writeFile(file, JSON.stringify(document));
      return cli(root, ['import', file, ...data]);
    };
    const cases: { document: unknown; says: string }[] = [
      { document: { users: 'alice' }, says: 'users must be an array' },
      // An object id as a name: it would have answered for that user (issue 9).
      {
        document: { users: [{ userPrincipalName: randomUUID(), displayName: 'Squatter' }] },
        says: "users[0].userPrincipalName: The property 'userPrincipalName' is invalid: it must be alias@domain, with one '@'.",
      },
      {
        document: { users: [{ userPrincipalName: 'alice@contoso.com' }, { userPrincipalName: 'bob+tag@contoso.com' }] },
        says: "users[1].userPrincipalName: The property 'userPrincipalName' is invalid: the part before '@' may hold only A–Z, a–z, 0–9 and ' . - _ ! # ^ ~, not '+'.",
      },
    ];
    for (const { document, says } of cases) {
      const result = await run(document);
      assert.deepEqual(result, { code: 1, stdout: '', stderr: `portrait import: ${says}\n` }, JSON.stringify(document));
    }
  });

  it('serve that cannot listen says why in one line and exits 1', { timeout: 30_000 }, async (t) => {
    const root = await scratch(t);
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as AddressInfo).port;
    const cases: { args: string[]; says: RegExp }[] = [
      { args: ['--host', '127.0.0.1', '--port', String(port)], says: new RegExp(`127\\.0\\.0\\.1:${port}: the port is in use`) },
      { args: ['--host', 'no-such-host.invalid', '--port', '0'], says: /no-such-host\.invalid: the host name does not resolve/ },
    ];
    for (const { args, says } of cases) {
      const result = await cli(root, ['serve', '--data', join(root, 'data'), '--no-tls', ...args]);
      assert.equal(result.code, 1, `exit ${result.code}: ${result.stderr}`);
      assert.match(result.stderr, /^portrait serve: cannot listen on [^\n]*\n$/, `one line, got ${JSON.stringify(result.stderr)}`);
      assert.match(result.stderr, says);
    }
  });

  it('bad flags and arguments: one line on stderr naming the flag, nothing on stdout, exit 2', { timeout: 30_000 }, async (t) => {
    const root = await scratch(t);
    const dataDir = join(root, 'data');
    await cliOk(root, ['init', '--data', dataDir]);
    const cases: { args: string[]; names: RegExp }[] = [
      { args: ['serve', '--port', 'abc'], names: /--port/ },
      { args: ['serve', '--bogus'], names: /--bogus/ },
      { args: ['serve', '--tls-cert', 'cert.pem'], names: /--tls-key/ },
      { args: ['serve', '--no-tls', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'], names: /--no-tls/ },
      { args: ['token', '--data', dataDir], names: /--user|--app/ },
      { args: ['token', '--data', dataDir, '--user', 'x@y', '--roles', 'a'], names: /--roles/ },
      { args: ['token', '--data', dataDir, '--user', 'x@y', '--ttl', '5y'], names: /--ttl/ },
      // Without --user/--app, naming either problem is fine.
      { args: ['token', '--data', dataDir, '--ttl', '5y'], names: /--ttl|--user|--app/ },
      { args: ['token', '--data', dataDir, '--user', 'x@y', '--tenant', 'contoso'], names: /--tenant/ },
      { args: ['token', '--data', dataDir, '--user', 'x+tag@contoso.com'], names: /--user must be a userPrincipalName[^\n]*'\+'/ },
      { args: ['token', '--data', dataDir, '--user', 'x@portrait.localhost'], names: /--user names no user, and cannot make one/ },
      { args: ['import', '--data', dataDir], names: /file/i },
      { args: ['import', 'a.json', '--data', dataDir, '--bogus'], names: /--bogus/ },
    ];
    // Two at a time: each process loads the whole CLI.
    const check = async ({ args, names }: { args: string[]; names: RegExp }): Promise<void> => {
        const result = await cli(root, args);
        const what = `portrait ${args.join(' ')}`;
        assert.equal(result.code, 2, `${what}: exit ${result.code}, stderr ${JSON.stringify(result.stderr)}`);
        assert.equal(result.stdout, '', `${what}: nothing on stdout`);
        assert.match(result.stderr, /^portrait:[^\n]*\n$/, `${what}: one line starting 'portrait:', got ${JSON.stringify(result.stderr)}`);
        assert.match(result.stderr, names, `${what}: names the flag: ${result.stderr}`);
    };
    for (let i = 0; i < cases.length; i += 2) await Promise.all(cases.slice(i, i + 2).map(check));
  });
});
