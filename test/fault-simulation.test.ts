// `serve --simulate … --seed N` against a real `portrait serve`: simulated 429, 503 and
// 504 in Graph's envelope, each marked x-portrait-simulated, 429 and 503 with Retry-After;
// latency within the range asked for; only on the requests the pattern and methods
// match; the same decisions in the same order for the same seed (and exactly those the
// seeded plan predicts); a bound on requests waiting out a latency; strict specs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cliToken, request, runCli, solidJpeg, startServer, type ServerProcess } from './helpers/server-process.js';
import { FaultPlan } from '../src/traffic/fault-plan.js';
import { parseFaultRule } from '../src/traffic/fault-spec.js';

const dirs: string[] = [];
const servers: ServerProcess[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portrait-simulate-'));
  dirs.push(dir);
  return dir;
}

async function serve(dataDir: string, args: readonly string[]): Promise<ServerProcess> {
  const server = await startServer({ dataDir, args });
  servers.push(server);
  return server;
}

interface Seen {
  readonly status: number;
  readonly simulated: string | null;
  readonly retryAfter: string | null;
  readonly body: any;
  readonly ms: number;
}

async function get(url: string, token: string): Promise<Seen> {
  const started = performance.now();
  const res = await request(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return {
    status: res.status,
    simulated: res.headers.get('x-portrait-simulated'),
    retryAfter: res.headers.get('retry-after'),
    body: text.startsWith('{') ? JSON.parse(text) : text,
    ms: performance.now() - started,
  };
}

const SPEC = 'GET /v1.0/users*: 429=20%, 503=20%, 504=10%, retry-after=2';

describe('serve --simulate', { timeout: 120_000 }, () => {
  it('answers 429, 503 and 504 at the rates asked, marked and in Graph’s envelope, the same sequence for the same seed — the one the seeded plan predicts', async () => {
    const dataDir = dataFolder();
    const first = await serve(dataDir, ['--simulate', SPEC, '--seed', '42']);
    assert.match(first.output(), /simulating: {2}GET \/v1\.0\/users\*: 429=20%, 503=20%, 504=10%, retry-after=2 {2}\(--seed 42; answers marked x-portrait-simulated\)/);
    const token = await cliToken({ dataDir, app: 'retrying', roles: ['User.Read.All'] });
    const seen: Seen[] = [];
    for (let i = 0; i < 60; i++) seen.push(await get(`${first.graph}/users`, token));

    // What --seed 42 decides, request by request, computed by the plan itself.
    const plan = new FaultPlan([parseFaultRule(SPEC)], 42);
    const predicted = seen.map(() => plan.decide('GET', '/v1.0/users')?.status ?? 200);
    assert.deepEqual(seen.map((s) => s.status), predicted);
    const counts = (status: number) => seen.filter((s) => s.status === status).length;
    assert.ok(counts(429) > 0 && counts(503) > 0 && counts(504) > 0 && counts(200) > 0, `every kind of answer in 60: ${predicted.join(' ')}`);

    for (const s of seen) {
      if (s.status === 200) {
        assert.equal(s.simulated, null, 'a real answer is not marked');
        continue;
      }
      assert.equal(s.simulated, String(s.status), 'every simulated answer says so');
      assert.equal(s.body.error.code, { 429: 'TooManyRequests', 503: 'serviceNotAvailable', 504: 'gatewayTimeout' }[s.status]);
      assert.match(s.body.error.message, /serve --simulate/);
      assert.ok(s.body.error.innerError['request-id']);
      assert.equal(s.retryAfter, s.status === 504 ? null : '2');
    }

    // The same seed, another server: the same answers in the same order.
    const second = await serve(dataDir, ['--simulate', SPEC, '--seed', '42']);
    const again: number[] = [];
    for (let i = 0; i < 60; i++) again.push((await get(`${second.graph}/users`, token)).status);
    assert.deepEqual(again, predicted);
    // Another seed: another sequence.
    const third = await serve(dataDir, ['--simulate', SPEC, '--seed', '43']);
    const other: number[] = [];
    for (let i = 0; i < 60; i++) other.push((await get(`${third.graph}/users`, token)).status);
    assert.notDeepEqual(other, predicted);
  });

  it('touches only what the pattern and methods match; adds latency within the range, marked, on the read fast path too', async () => {
    const dataDir = dataFolder();
    const server = await serve(dataDir, ['--simulate', 'GET /v1.0/users/*/photo*: latency=150-250ms', '--simulate', 'POST /v1.0/users: 503=100%', '--seed', '1']);
    const token = await cliToken({ dataDir, app: 'slow', roles: ['User.ReadWrite.All'] });
    // Not matched: answered at once, unmarked.
    const list = await get(`${server.graph}/users`, token);
    assert.equal(list.status, 200);
    assert.equal(list.simulated, null);
    // The second spec: every POST /users fails; a PUT elsewhere is untouched.
    const post = await request(`${server.graph}/users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"userPrincipalName":"a@contoso.com","displayName":"A"}' });
    assert.equal(post.status, 503);
    assert.equal(post.headers.get('x-portrait-simulated'), '503');
    await post.arrayBuffer();
    const me = await cliToken({ dataDir, user: 'megan@contoso.com', scopes: ['User.ReadWrite'] });
    const put = await request(`${server.graph}/me/photo/$value`, { method: 'PUT', headers: { authorization: `Bearer ${me}` }, body: await solidJpeg([85, 85, 0], 200) });
    await put.arrayBuffer();
    assert.equal(put.headers.get('x-portrait-simulated'), null);
    // Matched: every read waits 150–250 ms and says how long; the fast path's answers too.
    assert.equal(put.status, 200);
    const users = (await get(`${server.graph}/users`, token)).body.value as { id: string; userPrincipalName: string }[];
    const ids = users.find((u) => u.userPrincipalName === 'megan@contoso.com')!;
    for (let i = 0; i < 4; i++) {
      const seen = await get(`${server.graph}/users/${ids.id}/photo/$value`, token);
      assert.equal(seen.status, 200);
      const [, delayed] = /^latency=(\d+)ms$/.exec(seen.simulated ?? '') ?? [];
      assert.ok(delayed !== undefined && Number(delayed) >= 150 && Number(delayed) <= 250, `marked with its latency: ${seen.simulated}`);
      assert.ok(seen.ms >= Number(delayed) - 5, `took ${seen.ms.toFixed(0)} ms for a latency of ${delayed} ms`);
    }
  });

  it('hostile: a flood of delayed requests holds at most --simulate-max-delayed timers; the rest are answered at once, marked latency=skipped', async () => {
    const dataDir = dataFolder();
    const server = await serve(dataDir, ['--simulate', '/healthz: latency=3s', '--simulate-max-delayed', '50', '--seed', '1']);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 80 }, async () => {
        const res = await request(`${server.origin}/healthz`);
        await res.arrayBuffer();
        return { status: res.status, simulated: res.headers.get('x-portrait-simulated'), ms: performance.now() - started };
      }),
    );
    const skipped = answers.filter((a) => a.simulated === 'latency=skipped');
    const delayed = answers.filter((a) => a.simulated === 'latency=3000ms');
    assert.equal(skipped.length, 30, 'beyond 50 waiting, requests are not delayed');
    assert.equal(delayed.length, 50);
    assert.ok(skipped.every((a) => a.status === 200 && a.ms < 2500), 'the skipped ones were answered before the delayed ones');
    assert.ok(delayed.every((a) => a.status === 200 && a.ms >= 2900));
  });

  it('a client that goes away stops its wait: the slot is free for the next one', async () => {
    const dataDir = dataFolder();
    const server = await serve(dataDir, ['--simulate', '/healthz: latency=5s', '--simulate-max-delayed', '1', '--seed', '1']);
    await assert.rejects(request(`${server.origin}/healthz`, {}, 300), /abort|timeout/i);
    // The aborted one released its place: this one is delayed (not skipped).
    const started = performance.now();
    const res = await request(`${server.origin}/healthz`, {}, 10_000);
    await res.arrayBuffer();
    assert.equal(res.headers.get('x-portrait-simulated'), 'latency=5000ms');
    assert.ok(performance.now() - started >= 4900);
  });

  it('a bad spec is a one-line usage error, exit 2', async () => {
    const dataDir = dataFolder();
    for (const [spec, says] of [
      ['/v1.0/users', /--simulate takes/],
      ['users/*: 429=10%', /pattern must be a path from its first '\/'/],
      ['/v1.0/*: 429=60%, 503=50%', /add up to 110% for .*; at most 100%/],
      ['/v1.0/*: 429=10', /429 must be a share like 10%/],
      ['/v1.0/*: latency=500-100ms', /latency must be MIN-MAXms/],
      ['/v1.0/*: latency=2m', /latency must be MIN-MAXms/],
      ['/v1.0/*: 500=10%', /knows latency, 429, 503, 504 and retry-after, not '500'/],
      ['FETCH /v1.0/*: 429=10%', /'FETCH' is not a method/],
      ['/v1.0/*:', /needs at least one rule/],
      ['/v1.0/*: 429=1%, 429=2%', /'429' is given twice/],
    ] as const) {
      const result = await runCli(['serve', '--data', dataDir, '--no-tls', '--port', '0', '--simulate', spec]);
      assert.equal(result.code, 2, `--simulate ${spec}: ${result.stderr}${result.stdout}`);
      assert.match(result.stderr, says);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`);
    }
    const seed = await runCli(['serve', '--data', dataDir, '--no-tls', '--port', '0', '--seed', 'x']);
    assert.equal(seed.code, 2);
    assert.match(seed.stderr, /--seed must be an integer/);
  });
});
