// `serve --throttle`: Graph's throttling, against a real `portrait serve`. What a client
// sees: 429 with Retry-After, Graph's error body and its x-ms-throttle-* headers once a
// budget is spent — per application per tenant, per user, and for writes — on reads
// answered by the route and by the read fast path alike, on each request of a $batch;
// the request answered again once Retry-After has passed; nothing of the kind by default.
// And what an attacker sees: many callers cannot grow the budgets' memory.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { cliToken, request, runCli, solidJpeg, startServer, type ServerProcess } from './helpers/server-process.js';
import { Throttle } from '../src/traffic/throttle.js';
import { parseThrottleSpec } from '../src/traffic/throttle-spec.js';

const dirs: string[] = [];
const servers: ServerProcess[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function serve(args: readonly string[]): Promise<{ server: ServerProcess; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portrait-throttle-'));
  dirs.push(dataDir);
  const server = await startServer({ dataDir, args });
  servers.push(server);
  return { server, dataDir };
}

interface Seen {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

async function send(url: string, token: string, init: RequestInit = {}): Promise<Seen> {
  const res = await request(url, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) } });
  const bytes = Buffer.from(await res.arrayBuffer());
  const json = (res.headers.get('content-type') ?? '').startsWith('application/json') && bytes.length > 0;
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(bytes.toString('utf8')) : bytes };
}

function assertThrottled(seen: Seen, scope: RegExp, information: string, spent: RegExp): number {
  assert.equal(seen.status, 429, JSON.stringify(seen.body));
  const retryAfter = Number(seen.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After is whole seconds ≥ 1: ${seen.headers.get('retry-after')}`);
  assert.match(seen.headers.get('x-ms-throttle-scope') ?? '', scope);
  assert.equal(seen.headers.get('x-ms-throttle-information'), information);
  assert.equal(seen.headers.get('x-portrait-simulated'), null, 'a real limit is not marked simulated');
  assert.equal(seen.body.error.code, 'TooManyRequests');
  assert.match(seen.body.error.message, /^Please retry again later\. /);
  assert.match(seen.body.error.message, spent);
  assert.equal(seen.body.error.innerError['request-id'], seen.headers.get('request-id'));
  return retryAfter;
}

describe('serve --throttle', { timeout: 120_000 }, () => {
  it('is off by default: 100 requests of one application in a row are all answered', async () => {
    const { server, dataDir } = await serve([]);
    const token = await cliToken({ dataDir, app: 'busy', roles: ['User.ReadWrite.All'] });
    const statuses = new Set<number>();
    for (let i = 0; i < 100; i++) statuses.add((await send(`${server.graph}/users`, token)).status);
    assert.deepEqual([...statuses], [200]);
    assert.doesNotMatch(server.output(), /throttling:/);
  });

  it('app=N/WINDOW: an application gets N requests per window in its tenant, fast-path reads included; others are not held back; Retry-After is kept', async () => {
    const { server, dataDir } = await serve(['--throttle', 'app=6/3s']);
    assert.match(server.output(), /throttling: {2}app=6\/3s \(per process\)/);
    const token = await cliToken({ dataDir, app: 'gallery', roles: ['User.ReadWrite.All'] });
    const other = await cliToken({ dataDir, app: 'sync', roles: ['User.ReadWrite.All'] });
    // Setting up with the other application: the gallery's budget stays whole.
    const created = await send(`${server.graph}/users`, other, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userPrincipalName: 'adele@contoso.com', displayName: 'Adele' }),
    });
    assert.equal(created.status, 201);
    const photo = `${server.graph}/users/${created.body.id}/photo/$value`;
    assert.equal((await send(photo, other, { method: 'PUT', body: await solidJpeg([0, 85, 170], 300) })).status, 200);

    // The same read six times: from the second on the fast path answers (same token, same
    // URL); it counts them as the route does, so the seventh is refused all the same.
    const seen: Seen[] = [];
    for (let i = 0; i < 7; i++) seen.push(await send(photo, token));
    assert.deepEqual(seen.map((s) => s.status), [200, 200, 200, 200, 200, 200, 429]);
    const retryAfter = assertThrottled(seen[6]!, /^Tenant_Application\/ReadWrite\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/, 'ResourceUnitLimitExceeded', /has used its 6 requests per 3s in tenant /);
    assert.ok(retryAfter <= 6, `Retry-After is at most two windows: ${retryAfter}`);
    // Other paths, and writes, are refused too; a refusal costs nothing of the budget.
    assertThrottled(await send(`${server.graph}/users`, token), /^Tenant_Application\//, 'ResourceUnitLimitExceeded', /6 requests/);
    // Another application of the tenant is not held back.
    assert.equal((await send(photo, other)).status, 200);
    // After Retry-After the application is answered again, as Graph's clients expect.
    await delay(retryAfter * 1000);
    assert.equal((await send(photo, token)).status, 200);
  });

  it('user=N/WINDOW: a signed-in user gets N requests per window, whatever the application; other users and app-only tokens are not held back', async () => {
    const { server, dataDir } = await serve(['--throttle', 'user=3/60s']);
    const alice = await cliToken({ dataDir, user: 'alice@contoso.com', scopes: ['User.Read'] });
    const bob = await cliToken({ dataDir, user: 'bob@contoso.com', scopes: ['User.Read'] });
    const app = await cliToken({ dataDir, app: 'daemon', roles: ['User.Read.All'] });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(`${server.graph}/me`, alice)).status);
    assert.deepEqual(statuses, [200, 200, 200]);
    const refused = await send(`${server.graph}/me/photo`, alice);
    assertThrottled(refused, /^Tenant_User\/ReadWrite\/-\/[0-9a-f-]{36}$/, 'ResourceUnitLimitExceeded', /^Please retry again later\. The user '[0-9a-f-]{36}' has used their 3 requests per 60s/);
    assert.equal((await send(`${server.graph}/me`, bob)).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await send(`${server.graph}/users`, app)).status, 200);
  });

  it('write=N/WINDOW: writes (POST, PUT, PATCH, DELETE) have their own budget; reads go on', async () => {
    const { server, dataDir } = await serve(['--throttle', 'app=1000/10s,write=2/60s']);
    const token = await cliToken({ dataDir, app: 'writer', roles: ['User.ReadWrite.All'] });
    const jpeg = await solidJpeg([170, 0, 0], 200);
    const put = () => send(`${server.graph}/users`, token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userPrincipalName: `u${Math.random().toString(36).slice(2)}@contoso.com`, displayName: 'U' }) });
    const first = await put();
    assert.equal(first.status, 201);
    assert.equal((await send(`${server.graph}/users/${first.body.id}/photo/$value`, token, { method: 'PUT', body: jpeg })).status, 200);
    const third = await send(`${server.graph}/users/${first.body.id}/photo/$value`, token, { method: 'PUT', body: jpeg });
    assertThrottled(third, /^Tenant_Application\/Write\//, 'WriteLimitExceeded', /has used its 2 writes per 60s/);
    assert.equal((await send(`${server.graph}/users/${first.body.id}/photo`, token)).status, 200);
  });

  it('$batch: each request is counted on its own, as Graph does; the batch itself is not', async () => {
    const { server, dataDir } = await serve(['--throttle', 'app=5/60s']);
    const token = await cliToken({ dataDir, app: 'picker', roles: ['User.ReadWrite.All'] });
    const requests = Array.from({ length: 8 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: '/users' }));
    const batch = await send(`${server.graph}/$batch`, token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests }) });
    assert.equal(batch.status, 200);
    const statuses = (batch.body.responses as { status: number; headers: Record<string, string> }[]).map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    const refused = (batch.body.responses as { status: number; headers: Record<string, string> }[]).find((r) => r.status === 429)!;
    assert.ok(Number(refused.headers['Retry-After']) >= 1, `a refused step carries Retry-After: ${JSON.stringify(refused.headers)}`);
  });

  it('a bad spec is a one-line usage error, exit 2', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portrait-throttle-'));
    dirs.push(dataDir);
    for (const [spec, says] of [
      ['app=0/10s', /app must allow 1 to/],
      ['app=10/0s', /window must be from 1s to 24h/],
      ['app=10', /--throttle takes off, graph, or app=N\/WINDOW/],
      ['tenant=5/10s', /knows app, user and write, not 'tenant'/],
      ['app=5/10s,app=6/10s', /names app twice/],
      ['on', /--throttle takes off, graph/],
    ] as const) {
      const result = await runCli(['serve', '--data', dataDir, '--no-tls', '--port', '0', '--throttle', spec]);
      assert.equal(result.code, 2, `--throttle ${spec}: ${result.stderr}${result.stdout}`);
      assert.match(result.stderr, says);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
    }
  });
});

describe('the budgets are bounded', () => {
  it('a flood of distinct callers keeps at most maxTracked per limit, and each is still counted', () => {
    const throttle = new Throttle(parseThrottleSpec('app=2/10s,user=2/10s,write=2/10s').limits, { maxTracked: 1000 });
    for (let i = 0; i < 50_000; i++) {
      throttle.admit({ tenantId: 't', appId: `app-${i}`, userId: `user-${i}` }, true);
      const { app = 0, user = 0, write = 0 } = throttle.tracked;
      assert.ok(app <= 1000 && user <= 1000 && write <= 1000, `tracked ${JSON.stringify(throttle.tracked)} after ${i + 1} callers`);
    }
    const caller = { tenantId: 't', appId: 'a', userId: undefined };
    assert.equal(throttle.admit(caller, false), undefined);
    assert.equal(throttle.admit(caller, false), undefined);
    assert.equal(throttle.admit(caller, false)?.limit.scope, 'app');
  });

  it('graph is Graph’s published limits, off is none', () => {
    assert.deepEqual(parseThrottleSpec('graph').limits.map((l) => [l.scope, l.requests, l.windowMs]), [
      ['app', 3500, 10_000],
      ['user', 10_000, 600_000],
      ['write', 3000, 150_000],
    ]);
    assert.deepEqual(parseThrottleSpec('off').limits, []);
  });
});
