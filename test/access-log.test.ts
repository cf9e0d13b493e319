// The access log as an operator reads it: JSON lines on a real `portrait serve`'s
// stdout, one per request whichever path answered it (the read fast path or Fastify),
// with the same fields; a 401's reason in the log and never in the answer; no secret
// and no unbounded text from the client in any line.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { issueToken, loadOrCreateIssuerKey, type IssuerKey } from '../src/auth/built-in-issuer.js';
import { errors } from '../src/errors.js';
import Fastify from 'fastify';
import { accessLine, MAX_PATH } from '../src/http/access-log.js';
import { cliToken, PORTRAIT_CLI, request, startServer, type ServerProcess } from './helpers/server-process.js';

const CATALOG_401_MESSAGES = [errors.tokenMissing().message, errors.tokenInvalid().message, errors.tokenExpired().message];
const PHOTO = readFileSync(new URL('../../test/fixtures/photos/Nikon_D70.jpg', import.meta.url));

interface AccessLine {
  readonly level: number;
  readonly msg: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly bytes: number;
  readonly ms: number;
  readonly requestId: string;
  readonly route: string;
  readonly tenant?: string;
  readonly caller?: string;
  readonly app?: string;
  readonly reason?: string;
}

/** Every JSON line the server wrote (its stdout tail), parsed. */
function jsonLines(server: ServerProcess): Record<string, unknown>[] {
  return server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The access lines of one request (pino writes asynchronously: polled, with a deadline). */
async function linesOf(server: ServerProcess, requestId: string | null): Promise<AccessLine[]> {
  assert.ok(requestId, 'the answer has a request-id');
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = jsonLines(server).filter((l) => l.msg === 'request' && l.requestId === requestId) as unknown as AccessLine[];
    if (lines.length > 0 || Date.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function onlyLineOf(server: ServerProcess, response: Response): Promise<AccessLine> {
  await response.arrayBuffer();
  const lines = await linesOf(server, response.headers.get('request-id'));
  assert.equal(lines.length, 1, `exactly one access line for ${response.url}: ${JSON.stringify(lines)}\n${server.output()}`);
  return lines[0] as AccessLine;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('access log of portrait serve', { timeout: 120_000 }, () => {
  let dataDir: string;
  let otherDir: string;
  let server: ServerProcess;
  let token: string;
  let claims: Record<string, unknown>;
  let key: IssuerKey;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portrait-access-'));
    otherDir = mkdtempSync(join(tmpdir(), 'portrait-access-other-'));
    // No --log-level: info is the default, and it writes the access lines.
    server = await startServer({ dataDir });
    token = await cliToken({ dataDir, user: 'alice@contoso.com' });
    claims = claimsOf(token);
    key = loadOrCreateIssuerKey(dataDir);
  });

  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(otherDir, { recursive: true, force: true });
  });

  it('one line per request, with the same fields whether the fast path or the route answered', async () => {
    const authorization = `Bearer ${token}`;
    const put = await request(`${server.graph}/me/photo/$value`, { method: 'PUT', headers: { authorization }, body: PHOTO });
    assert.equal(put.status, 200);
    const putLine = await onlyLineOf(server, put);
    assert.equal(putLine.route, 'photo.user.value');
    assert.equal(putLine.method, 'PUT');

    // The first read goes through the route and is remembered; the next ones are the fast path's.
    const lines: AccessLine[] = [];
    let etag = '';
    for (let i = 0; i < 3; i++) {
      const response = await request(`${server.graph}/me/photos/48x48/$value`, { headers: { authorization } });
      assert.equal(response.status, 200);
      etag = String(response.headers.get('etag'));
      const length = Number(response.headers.get('content-length'));
      const line = await onlyLineOf(server, response);
      assert.equal(line.bytes, length, 'bytes: the body sent');
      lines.push(line);
    }
    const notModified = await request(`${server.graph}/me/photos/48x48/$value`, { headers: { authorization, 'if-none-match': etag } });
    assert.equal(notModified.status, 304);
    lines.push(await onlyLineOf(server, notModified));

    for (const line of lines) {
      assert.equal(line.level, 30, 'at info');
      assert.equal(line.method, 'GET');
      assert.equal(line.path, '/v1.0/me/photos/48x48/$value');
      assert.equal(line.route, 'photo.user.sizeValue');
      assert.equal(line.tenant, claims.tid);
      assert.equal(line.caller, claims.oid);
      assert.ok(typeof line.ms === 'number' && line.ms >= 0 && line.ms < 5000, `ms: ${line.ms}`);
      assert.equal(line.reason, undefined);
    }
    assert.deepEqual(lines.map((l) => l.status), [200, 200, 200, 304]);
    assert.equal(lines[3]?.bytes, 0);
    // The same keys from both paths: a log shipper needs one schema.
    const keys = (line: AccessLine) => Object.keys(line).filter((k) => !['time', 'pid', 'hostname'].includes(k)).sort();
    assert.deepEqual(keys(lines[2] as AccessLine), keys(lines[0] as AccessLine));

    // Requests outside the Graph routes are logged too, with their route template.
    const health = await request(`${server.origin}/healthz`);
    assert.equal((await onlyLineOf(server, health)).route, '/healthz');
    const missing = await request(`${server.origin}/no/such/thing`);
    const missingLine = await onlyLineOf(server, missing);
    assert.deepEqual([missingLine.status, missingLine.route], [404, 'unmatched']);
  });

  it("logs why each 401 was answered, and sends the client no more than Graph's message", async () => {
    const tenantId = String(claims.tid);
    const user = { kind: 'user' as const, userId: String(claims.oid), userPrincipalName: 'alice@contoso.com', displayName: 'Alice', scopes: ['User.Read'], admin: false };
    const otherKey = loadOrCreateIssuerKey(otherDir);
    const foreignIssuer = await new SignJWT({ tid: tenantId, oid: user.userId, scp: 'User.Read' })
      .setProtectedHeader({ alg: 'RS256', kid: key.keyId })
      .setIssuer(`https://issuer.example/${tenantId}/v2.0`)
      .setAudience('https://graph.microsoft.com')
      .setExpirationTime('1h')
      .sign(key.privateKey);
    const cases: [string, Record<string, string>, string][] = [
      ['no header', {}, 'no Authorization header'],
      ['Basic', { authorization: 'Basic YWxpY2U6cGFzcw==' }, 'Authorization is not Bearer'],
      ['malformed', { authorization: 'Bearer not-a-jwt' }, 'malformed token'],
      ['expired', { authorization: `Bearer ${await issueToken(key, { tenantId, subject: user, ttlSeconds: -3600 })}` }, 'expired'],
      ['another key', { authorization: `Bearer ${await issueToken(otherKey, { tenantId, subject: user, ttlSeconds: 600 })}` }, 'bad signature'],
      ['another audience', { authorization: `Bearer ${await issueToken(key, { tenantId, subject: user, ttlSeconds: 600, audience: 'api://someone-else' })}` }, 'wrong audience'],
      ['unknown issuer', { authorization: `Bearer ${foreignIssuer}` }, 'unknown issuer'],
    ];
    for (const [what, headers, reason] of cases) {
      const response = await request(`${server.graph}/me/photo`, { headers });
      assert.equal(response.status, 401, what);
      const { error } = (await response.clone().json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'InvalidAuthenticationToken', what);
      // The catalog's message, the same whatever the reason: the reason is not sent.
      assert.ok(CATALOG_401_MESSAGES.includes(error.message), `${what}: ${error.message}`);
      const line = await onlyLineOf(server, response);
      assert.equal(line.status, 401, what);
      assert.equal(line.reason, reason, what);
      assert.equal(line.caller, undefined, `${what}: no caller before the token is verified`);
    }
  });

  it('redacts secrets in query strings, never logs the Authorization header, and bounds what a client sends', async () => {
    const authorization = `Bearer ${token}`;
    const query = '?access_token=SECRET-A&code=SECRET-B&client_secret=SECRET-C&Password=SECRET-D&%24skiptoken=page-2&$select=id';
    const response = await request(`${server.graph}/me/photo${query}`, { headers: { authorization } });
    const line = await onlyLineOf(server, response);
    assert.equal(line.path, '/v1.0/me/photo?access_token=[redacted]&code=[redacted]&client_secret=[redacted]&Password=[redacted]&%24skiptoken=page-2&$select=id');
    const signature = token.split('.')[2] as string;
    for (const secret of ['SECRET-A', 'SECRET-B', 'SECRET-C', 'SECRET-D', signature]) {
      assert.ok(!server.output().includes(secret), `${secret.slice(0, 12)}… is nowhere in the log`);
    }

    // A long URL (Node.js takes up to 16 KiB of headers) makes a line of bounded length.
    const long = `/v1.0/me/photo?$select=${'x'.repeat(15_000)}&access_token=SECRET-E`;
    const longResponse = await request(`${server.origin}${long}`, { headers: { authorization } });
    const longLine = await onlyLineOf(server, longResponse);
    assert.ok(longLine.path.length <= MAX_PATH + 1 && longLine.path.endsWith('…'), `path cut to ${MAX_PATH}: ${longLine.path.length}`);
    assert.ok(!server.output().includes('SECRET-E'));

    // A 1 MB URL never reaches Portrait: Node.js answers 431 itself, and nothing long is logged.
    const huge = await request(`${server.origin}/v1.0/me/photo?x=${'y'.repeat(1024 * 1024)}`, { headers: { authorization } }).catch((error: unknown) => error);
    if (huge instanceof Response) assert.equal(huge.status, 431);
    const health = await request(`${server.origin}/healthz`);
    assert.equal(health.status, 200, 'still serving');
    await onlyLineOf(server, health);
    const longest = Math.max(...server.output().split('\n').map((l) => l.length));
    assert.ok(longest < 2048, `the longest line is ${longest} characters`);
  });
});

describe('the access line built by hand', () => {
  it("is pino's own line for the same fields, whatever the client put in the path", () => {
    const written: string[] = [];
    const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => written.push(line) } } });
    const observedCases = [
      { tenant: 't-1', caller: 'c-1', app: 'a-1' },
      { tenant: 't-1', reason: 'expired "token" \\ at\n10:00' },
      {},
      undefined,
    ];
    const paths = ['/v1.0/me/photo/$value', '/a"b\\c', '/\u0001\u001f\u007f', '/ü/é/€/\u2028', `/${'x'.repeat(300)}"`];
    for (const observed of observedCases) {
      for (const path of paths) {
        written.length = 0;
        app.log.info(
          { method: 'GET', path, status: 200, bytes: 16_800, ms: 0.53, requestId: 'r-1', route: 'photo.user.sizeValue', ...observed },
          'request',
        );
        const ours = accessLine('GET', path, 200, 16_800, 0.53, 'r-1', 'photo.user.sizeValue', observed);
        const theirs = written[0] as string;
        // The same text but for the time, which each took from the clock.
        const withoutTime = (line: string) => line.replace(/"time":\d+/, '"time":0');
        assert.equal(withoutTime(ours), withoutTime(theirs));
        assert.deepEqual(JSON.parse(ours), { ...(JSON.parse(theirs) as object), time: (JSON.parse(ours) as { time: number }).time });
      }
    }
  });
});

describe('access lines of answers made in front of the routes', { timeout: 120_000 }, () => {
  let dataDir: string;
  let server: ServerProcess;
  let token: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portrait-access-front-'));
    // Every read of one path is a simulated 503; a budget of 4 reads an hour for the application.
    server = await startServer({ dataDir, args: ['--simulate', 'GET /v1.0/me/photo: 503=100%', '--throttle', 'app=4/1h', '--seed', '7'] });
    token = await cliToken({ dataDir, app: 'reader', roles: ['User.ReadWrite.All'] });
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a simulated answer has its line, marked as the simulated route', async () => {
    const response = await request(`${server.graph}/me/photo`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('x-portrait-simulated'), '503');
    const line = await onlyLineOf(server, response);
    assert.equal(line.status, 503);
    assert.equal(line.route, 'simulated');
    assert.equal(line.bytes, Number(response.headers.get('content-length')));
  });

  it('a read the fast path refuses for the throttle has its line too', async () => {
    const authorization = `Bearer ${token}`;
    const user = await cliToken({ dataDir, user: 'carol@contoso.com' });
    const put = await request(`${server.graph}/me/photo/$value`, { method: 'PUT', headers: { authorization: `Bearer ${user}` }, body: PHOTO });
    assert.equal(put.status, 200);
    const carol = (await (await request(`${server.graph}/users/carol@contoso.com`, { headers: { authorization } })).json()) as { id: string };
    const url = `${server.graph}/users/${carol.id}/photos/48x48/$value`;
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 4 && refused === undefined; i++) {
      const response = await request(url, { headers: { authorization } });
      statuses.push(response.status);
      if (response.status === 429) refused = response;
      else await response.arrayBuffer();
    }
    assert.ok(refused, `the budget of 4 was spent: ${statuses.join(' ')}`);
    const line = await onlyLineOf(server, refused);
    assert.equal(line.status, 429);
    assert.equal(line.route, 'photo.user.sizeValue', 'the route the fast path remembered');
  });
});

describe('the banner and the listening lines', { timeout: 60_000 }, () => {
  it('say https:// under TLS, and a usable URL (not 0.0.0.0) when bound to every address', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portrait-banner-'));
    const child = spawn(process.execPath, [PORTRAIT_CLI, 'serve', '--data', dataDir, '--host', '0.0.0.0', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    t.after(async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const deadline = Date.now() + 20_000;
    // The banner, and Fastify's listening lines (logged through the joined stdout, which may write them after it).
    while (!/get a token:[^]*?metrics:.*\n/.test(out) || !out.includes('Server listening at')) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `no banner: ${out}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const port = Number(/Portrait is serving Microsoft Graph photos at https:\/\/localhost:(\d+)\/v1\.0/.exec(out)?.[1]);
    assert.ok(port > 0, `the banner's URL is https://localhost:PORT: ${out}`);
    assert.ok(out.includes(`listening:   on every address; other machines use https://${hostname()}:${port}`), out);
    assert.doesNotMatch(out, /https?:\/\/0\.0\.0\.0/);
    // Reachable from other machines: the password-less sign-in page is off, and the banner says so.
    assert.match(out, /sign-in: +off \(others can reach this server/);
    const listening = jsonLines({ output: () => out } as ServerProcess).filter((l) => String(l.msg).startsWith('Server listening at'));
    assert.ok(listening.length > 0, out);
    for (const line of listening) assert.match(String(line.msg), /^Server listening at https:\/\//);

    // The URL works as printed, with the certificate it names.
    const ca = readFileSync(join(dataDir, 'tls-cert.pem'));
    const status = await new Promise<number | undefined>((resolve, reject) => {
      httpsGet(`https://localhost:${port}/healthz`, { ca }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).on('error', reject);
    });
    assert.equal(status, 200);
  });
});
