// The token endpoint under wrong client secrets, as a client sees it (issue 9): after
// its budget of failures a client id, an address or the pair of them is refused with 429,
// Retry-After and the OAuth error JSON, before any hash is computed; the application
// with the right secret still gets its token; the budgets refill with time; what is
// tracked stays bounded; the slow hash runs on a thread of its own that is restarted
// if it dies and never keeps a process alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BroadcastChannel } from 'node:worker_threads';
import type { LightMyRequestResponse } from 'fastify';
import { Applications } from '../src/auth/applications.js';
import { ClientSecretVerifier } from '../src/auth/client-secret-verifier.js';
import { scryptOptions } from '../src/auth/client-secrets.js';
import { addressKey, DEFAULT_FAILURE_LIMITS, FailureThrottle } from '../src/auth/failure-throttle.js';
import { RememberedSecrets } from '../src/auth/remembered-secrets.js';
import { HashingUnavailable, ScryptThread } from '../src/auth/scrypt-thread.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { HOLDING } from './helpers/scrypt-worker-on-cue.js';
import { completion, runCli, startServer } from './helpers/server-process.js';

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ON_CUE = new URL('./helpers/scrypt-worker-on-cue.js', import.meta.url);
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;

interface Registered {
  readonly clientId: string;
  readonly secret: string;
}

/** A harness whose token endpoint runs on `verifier`, and a clock the test moves. */
async function setup(verifier: (now: () => number) => ClientSecretVerifier): Promise<{ h: Harness; v: ClientSecretVerifier; clock: { ms: number } }> {
  const clock = { ms: Date.parse('2026-03-01T09:00:00Z') };
  const v = verifier(() => clock.ms);
  const h = await createHarness({ oauth: true, secretVerifier: v });
  return { h, v, clock };
}

async function register(h: Harness, name: string): Promise<Registered> {
  const { application, secret } = await new Applications(h.store).register(h.tenantId, name, ['User.ReadWrite.All']);
  return { clientId: application.clientId, secret };
}

function token(h: Harness, clientId: string, secret: string, remoteAddress: string): Promise<LightMyRequestResponse> {
  return h.app.inject({
    method: 'POST',
    url: `/${h.tenantId}/oauth2/v2.0/token`,
    headers: FORM,
    payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: GRAPH_SCOPE }).toString(),
    remoteAddress,
  });
}

/** 429 in the OAuth error JSON MSAL reads, with the wait in Retry-After (which MSAL honours). */
function assertThrottled(res: LightMyRequestResponse, retryAfterSeconds: number, description: RegExp): void {
  assert.equal(res.statusCode, 429, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.headers['retry-after'], String(retryAfterSeconds));
  const body = res.json() as Record<string, unknown>;
  assert.equal(body.error, 'temporarily_unavailable');
  assert.deepEqual(body.error_codes, []);
  assert.match(String(body.error_description), description);
  assert.match(String(body.error_description), new RegExp(`Retry after ${retryAfterSeconds} seconds`));
  assert.equal(body.trace_id, res.headers['request-id']);
}

function assertWrongSecret(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 401, res.body);
  assert.deepEqual((res.json() as { error_codes: number[] }).error_codes, [7000215]);
}

function assertToken(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(typeof (res.json() as { access_token?: unknown }).access_token, 'string');
}

describe('wrong client secrets for one client id from one address (the default budget: 10 a minute)', () => {
  let h: Harness;
  let v: ClientSecretVerifier;
  let clock: { ms: number };
  let app: Registered;
  before(async () => {
    ({ h, v, clock } = await setup((now) => new ClientSecretVerifier({ now })));
    app = await register(h, 'Photo sync');
  });
  after(() => h.close());

  it('are hashed and refused with 401 ten times, then refused with 429 and Retry-After without a hash, then allowed again as the budget refills', async () => {
    const attacker = '192.0.2.66';
    for (let i = 0; i < DEFAULT_FAILURE_LIMITS.perPair; i++) assertWrongSecret(await token(h, app.clientId, `guess-${i}`, attacker));
    assert.equal(v.hashesComputed, 10, 'each wrong secret was hashed, on the thread');

    // The budget refills at 10 a minute: a whole attempt in 6 s.
    assertThrottled(await token(h, app.clientId, 'guess-10', attacker), 6, new RegExp(`for application '${app.clientId}' from this address`));
    // Not checked at all: even the right secret from there waits (it was never verified, so nothing remembers it).
    assertThrottled(await token(h, app.clientId, app.secret, attacker), 6, /the secret was not checked/);
    assert.equal(v.hashesComputed, 10, 'no hash for a throttled attempt');

    clock.ms += 5_999;
    assertThrottled(await token(h, app.clientId, 'guess-11', attacker), 1, /from this address/);
    clock.ms += 1;
    assertWrongSecret(await token(h, app.clientId, 'guess-12', attacker));
    assertThrottled(await token(h, app.clientId, 'guess-13', attacker), 6, /from this address/);
    assert.equal(v.hashesComputed, 11);

    // A minute later the whole budget is back, and the right secret gets its token.
    clock.ms += 60_000;
    assertToken(await token(h, app.clientId, app.secret, attacker));
    assert.equal(v.hashesComputed, 12);
  });
});

describe('wrong client secrets from one address across applications', () => {
  it('spend the address’s budget: past it, a client id it keeps failing is refused, one it never tried gets one try', async () => {
    const { h, v } = await setup((now) => new ClientSecretVerifier({ now, limits: { perPair: 5, perAddress: 8 } }));
    try {
      const [a, b, c] = [await register(h, 'A'), await register(h, 'B'), await register(h, 'C')];
      const host = '198.51.100.7';
      for (let i = 0; i < 5; i++) assertWrongSecret(await token(h, a.clientId, `a-${i}`, host));
      for (let i = 0; i < 3; i++) assertWrongSecret(await token(h, b.clientId, `b-${i}`, host));
      assert.equal(v.hashesComputed, 8);
      // B has budget left for this pair (2 of 5) but the address has spent its 8: 60/8 s per attempt.
      assertThrottled(await token(h, b.clientId, 'b-3', host), 8, /^Too many wrong client secrets have been sent from this address lately/);
      assert.equal(v.hashesComputed, 8);
      // An application this address has not failed is not held back by its neighbours' mistakes…
      assertToken(await token(h, c.clientId, c.secret, host));
      // …but one wrong try and it is.
      assertWrongSecret(await token(h, c.clientId, 'c-0', host));
      assertThrottled(await token(h, c.clientId, 'c-1', host), 8, /from this address/);
      assert.equal(v.hashesComputed, 10);
      // Another host is not concerned.
      assertWrongSecret(await token(h, b.clientId, 'b-x', '198.51.100.8'));
    } finally {
      await h.close();
    }
  });

  it('counts an IPv6 /64 as one address, and an IPv4-mapped address as the IPv4 one', async () => {
    const { h, v } = await setup((now) => new ClientSecretVerifier({ now, limits: { perPair: 2 } }));
    try {
      const a = await register(h, 'A');
      assertWrongSecret(await token(h, a.clientId, 'x', '2001:db8:7:1::1'));
      assertWrongSecret(await token(h, a.clientId, 'x', '2001:db8:7:1:ffff:ffff:ffff:fffe'));
      assertThrottled(await token(h, a.clientId, 'x', '2001:db8:7:1::abcd'), 30, /from this address/);
      assertWrongSecret(await token(h, a.clientId, 'x', '2001:db8:7:2::1'));
      assertWrongSecret(await token(h, a.clientId, 'x', '::ffff:192.0.2.9'));
      assertWrongSecret(await token(h, a.clientId, 'x', '192.0.2.9'));
      assertThrottled(await token(h, a.clientId, 'x', '192.0.2.9'), 30, /from this address/);
      assert.equal(v.hashesComputed, 5);
    } finally {
      await h.close();
    }
  });
});

describe('a flood of wrong secrets for one client id from many addresses', () => {
  it('spends the client id’s budget, yet cannot lock the application out: from a clean address, or with a secret verified lately, it gets its token', async () => {
    const { h, v, clock } = await setup((now) => new ClientSecretVerifier({ now, limits: { perPair: 3, perClient: 5 } }));
    try {
      const app = await register(h, 'Photo sync');
      for (let i = 0; i < 3; i++) assertWrongSecret(await token(h, app.clientId, `g-${i}`, '203.0.113.1'));
      for (let i = 0; i < 2; i++) assertWrongSecret(await token(h, app.clientId, `g-${i}`, '203.0.113.2'));
      assert.equal(v.hashesComputed, 5);
      // .2 has budget for this pair (1 of 3), but the client id has spent its 5: 60/5 s per attempt.
      assertThrottled(await token(h, app.clientId, 'g-2', '203.0.113.2'), 12, new RegExp(`^Too many wrong client secrets have been sent for application '${app.clientId}' lately:`));
      assert.equal(v.hashesComputed, 5);

      // The application, from an address that has not failed it, is checked and gets its token.
      assertToken(await token(h, app.clientId, app.secret, '203.0.113.50'));
      assert.equal(v.hashesComputed, 6);
      // Now its secret is remembered: recognized without a hash, even from the throttled addresses.
      assertToken(await token(h, app.clientId, app.secret, '203.0.113.2'));
      assertToken(await token(h, app.clientId, app.secret, '203.0.113.1'));
      assert.equal(v.hashesComputed, 6);

      // A new address with a wrong secret gets one try while the client id is over budget, then waits.
      assertWrongSecret(await token(h, app.clientId, 'g-9', '203.0.113.9'));
      assertThrottled(await token(h, app.clientId, 'g-10', '203.0.113.9'), 12, /for application/);
      assert.equal(v.hashesComputed, 7);

      // The budget refills: one attempt every 12 s.
      clock.ms += 12_000;
      assertWrongSecret(await token(h, app.clientId, 'g-11', '203.0.113.9'));
    } finally {
      await h.close();
    }
  });
});

describe('wrong secrets sent in parallel from a new address while the client id is over budget', () => {
  it('are checked one at a time: one is hashed, the rest are throttled before any hash', async () => {
    const { h, v } = await setup((now) => new ClientSecretVerifier({ now, limits: { perPair: 10, perClient: 3 } }));
    try {
      const app = await register(h, 'Photo sync');
      for (let i = 0; i < 3; i++) assertWrongSecret(await token(h, app.clientId, `g-${i}`, '203.0.113.1'));
      assert.equal(v.hashesComputed, 3);
      // All at once, so that none has failed yet when the others ask: being admitted counts.
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => token(h, app.clientId, `p-${i}`, '203.0.113.77')));
      const statuses = answers.map((res) => res.statusCode).sort();
      assert.deepEqual(statuses, [401, ...Array<number>(9).fill(429)], 'one try for the new address, not one per request');
      assert.equal(v.hashesComputed, 4);
      for (const res of answers.filter((r) => r.statusCode === 429)) assertThrottled(res, 20, /for application/);
    } finally {
      await h.close();
    }
  });
});

describe('a verified secret', () => {
  it('is recognized without a hash for an hour after its last use, and only for its own application', async () => {
    const { h, v, clock } = await setup((now) => new ClientSecretVerifier({ now }));
    try {
      const [a, b] = [await register(h, 'A'), await register(h, 'B')];
      assertToken(await token(h, a.clientId, a.secret, '192.0.2.1'));
      for (let i = 0; i < 3; i++) assertToken(await token(h, a.clientId, a.secret, '192.0.2.1'));
      assert.equal(v.hashesComputed, 1);
      clock.ms += 59 * 60_000;
      assertToken(await token(h, a.clientId, a.secret, '192.0.2.2'));
      clock.ms += 59 * 60_000; // an hour after the first use, but not after the last
      assertToken(await token(h, a.clientId, a.secret, '192.0.2.2'));
      assert.equal(v.hashesComputed, 1);
      clock.ms += 61 * 60_000;
      assertToken(await token(h, a.clientId, a.secret, '192.0.2.2'));
      assert.equal(v.hashesComputed, 2, 'forgotten after an hour unused: hashed again');
      // A's secret sent for B is B's wrong secret, hashed as such.
      assertWrongSecret(await token(h, b.clientId, a.secret, '192.0.2.1'));
      assert.equal(v.hashesComputed, 3);
    } finally {
      await h.close();
    }
  });
});

describe('what the throttle and the memory of secrets hold', () => {
  it('stays within its bound under a flood from many addresses and client ids', () => {
    let now = 0;
    const throttle = new FailureThrottle({}, () => now);
    for (let i = 0; i < 50_000; i++) {
      const admission = throttle.admit(`tenant/client-${i % 20_000}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      if (admission.admitted) throttle.failed(admission.ticket);
      now += 1;
    }
    const { pairs, addresses, clients } = throttle.tracked;
    for (const [name, size] of Object.entries({ pairs, addresses, clients })) {
      assert.ok(size <= DEFAULT_FAILURE_LIMITS.maxTracked && size > DEFAULT_FAILURE_LIMITS.maxTracked / 2, `${name}: ${size}`);
    }
  });

  it('holds back an address that failed a spent client id for 10 minutes after its failure, then lets it try as a new one', () => {
    let now = 0;
    const throttle = new FailureThrottle({}, () => now);
    const fail = (address: string) => {
      const admission = throttle.admit('tenant/client', address);
      assert.ok(admission.admitted, address);
      throttle.failed(admission.ticket);
    };
    fail('192.0.2.1');
    // A flood from new addresses keeps the client id's budget (60 a minute) spent.
    for (let i = 0; i < 60; i++) fail(`10.0.0.${i}`);
    for (let second = 1; second <= 660; second++) {
      now = second * 1000;
      fail(`10.1.${second >> 8}.${second & 255}`);
      if (second === 599) assert.deepEqual(throttle.admit('tenant/client', '192.0.2.1'), { admitted: false, over: 'client', retryAfterSeconds: 1 });
    }
    assert.equal(throttle.admit('tenant/client', '192.0.2.1').admitted, true);
  });

  it('through the endpoint too: a wrong secret from each of 12 addresses leaves 4 tracked when 4 is the bound', async () => {
    const { h, v } = await setup((now) => new ClientSecretVerifier({ now, limits: { maxTracked: 4 } }));
    try {
      const apps = [await register(h, 'A'), await register(h, 'B'), await register(h, 'C'), await register(h, 'D'), await register(h, 'E'), await register(h, 'F')];
      for (let i = 0; i < 12; i++) {
        const app = apps[i % apps.length]!;
        assertWrongSecret(await token(h, app.clientId, 'x', `192.0.2.${i + 1}`));
        const { pairs, addresses, clients } = v.tracked;
        assert.ok(pairs <= 4 && addresses <= 4 && clients <= 4, JSON.stringify(v.tracked));
      }
      assert.equal(v.hashesComputed, 12);
      const { pairs, addresses, clients } = v.tracked;
      assert.deepEqual({ pairs, addresses, clients }, { pairs: 4, addresses: 4, clients: 4 }, 'the latest four of each');
    } finally {
      await h.close();
    }
  });

  it('remembers at most its bound of verified secrets, least recently used dropped first', () => {
    const remembered = new RememberedSecrets({ maxEntries: 3 });
    for (let i = 0; i < 10; i++) remembered.remember(`hash-${i}`, `secret-${i}`);
    assert.equal(remembered.size, 3);
    assert.equal(remembered.recognizes('hash-9', 'secret-9'), true);
    assert.equal(remembered.recognizes('hash-0', 'secret-0'), false);
    assert.equal(remembered.recognizes('hash-9', 'secret-8'), false);
  });

  it('reads an address as the throttle counts it', () => {
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('2001:DB8:0:1:2:3:4:5'), '2001:db8:0:1::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
  });
});

describe('the hashing thread', () => {
  it('computes what crypto.scrypt computes, one hash at a time, counted', async () => {
    const thread = new ScryptThread();
    try {
      const salt = randomBytes(16);
      const keys = await Promise.all(['one', 'two', 'three'].map((secret) => thread.derive(secret, salt, 32, COST)));
      assert.deepEqual(keys, ['one', 'two', 'three'].map((secret) => scryptSync(secret, salt, 32, scryptOptions(COST))));
      assert.equal(thread.computed, 3);
    } finally {
      await thread.close();
    }
  });

  it('refuses at once past its queue, and fails what is waiting when closed', async () => {
    const thread = new ScryptThread({ queueLimit: 1, script: ON_CUE });
    const holding = onceHolding();
    const salt = randomBytes(16);
    const held = thread.derive('hold', salt, 32, COST);
    await holding;
    const waiting = thread.derive('waits', salt, 32, COST);
    await assert.rejects(thread.derive('one too many', salt, 32, COST), (error: unknown) => {
      assert.ok(error instanceof HashingUnavailable);
      assert.ok(error.retryAfterSeconds >= 1);
      return true;
    });
    const failed = Promise.all([assert.rejects(held, HashingUnavailable), assert.rejects(waiting, HashingUnavailable)]);
    await thread.close();
    await failed;
    assert.equal(thread.computed, 0);
  });

  it('is started again when it dies or throws, failing only the hash it was running', async () => {
    const thread = new ScryptThread({ script: ON_CUE });
    try {
      const salt = randomBytes(16);
      const [died, next] = [thread.derive('die', salt, 32, COST), thread.derive('after', salt, 32, COST)];
      await assert.rejects(died, /the secret hashing thread stopped while checking a secret \(exit code 3\)/);
      assert.deepEqual(await next, scryptSync('after', salt, 32, scryptOptions(COST)));
      await assert.rejects(thread.derive('throw', salt, 32, COST), /thrown on cue/);
      assert.deepEqual(await thread.derive('again', salt, 32, COST), scryptSync('again', salt, 32, scryptOptions(COST)));
      assert.equal(thread.computed, 2);
    } finally {
      await thread.close();
    }
  });

  it('does not keep a process alive once idle: a script that never closes it still exits', async (t) => {
    const module = new URL('../src/auth/scrypt-thread.js', import.meta.url).href;
    const folder = mkdtempSync(join(tmpdir(), 'portrait-scrypt-thread-'));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    // A file, not --eval: a worker inherits the process's flags, and --input-type is refused there.
    const script = join(folder, 'never-closes.mjs');
    writeFileSync(
      script,
      `import { ScryptThread } from ${JSON.stringify(module)};
      const key = await new ScryptThread().derive('secret', Buffer.alloc(16), 32, { N: 1024, r: 8, p: 1 });
      console.log(key.toString('hex'));
      `,
    );
    const { code, stdout, stderr } = await completion(spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] }), 60_000);
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), scryptSync('secret', Buffer.alloc(16), 32, { N: 1024, r: 8, p: 1 }).toString('hex'));
  });
});

describe('the token endpoint’s hashing thread', () => {
  it('answers 503 temporarily_unavailable with Retry-After at once when its queue is full, and fails the waiting check the same way on close', async () => {
    const { h, v } = await setup((now) => new ClientSecretVerifier({ now, thread: new ScryptThread({ queueLimit: 0, script: ON_CUE }) }));
    try {
      const app = await register(h, 'A');
      const holding = onceHolding();
      const held = token(h, app.clientId, 'hold', '192.0.2.1');
      await Promise.race([holding, held.then((res) => assert.fail(`answered ${res.statusCode} without the hashing thread holding it`))]);
      const busy = await token(h, app.clientId, 'x', '192.0.2.2');
      assert.equal(busy.statusCode, 503, busy.body);
      assert.ok(Number(busy.headers['retry-after']) >= 1);
      assert.equal((busy.json() as { error: string }).error, 'temporarily_unavailable');
      await v.close();
      const closed = await held;
      assert.equal(closed.statusCode, 503, closed.body);
      assert.equal(closed.headers['retry-after'], '1');
      assert.equal(v.hashesComputed, 0);
    } finally {
      await h.close();
    }
  });

  it('answers 500 server_error for the check it was running when it died, and the next check runs on a new thread', async () => {
    const { h, v } = await setup((now) => new ClientSecretVerifier({ now, thread: new ScryptThread({ script: ON_CUE }) }));
    try {
      const app = await register(h, 'A');
      const died = await token(h, app.clientId, 'die', '192.0.2.1');
      assert.equal(died.statusCode, 500, died.body);
      assert.equal((died.json() as { error: string }).error, 'server_error');
      assertToken(await token(h, app.clientId, app.secret, '192.0.2.1'));
      assert.equal(v.hashesComputed, 1);
    } finally {
      await h.close();
    }
  });
});

describe('portrait serve with a hashing thread', () => {
  it('exits 0 on SIGTERM after checking secrets', { timeout: 60_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'portrait-token-limits-'));
    try {
      assert.equal((await runCli(['init', '--data', dataDir])).code, 0);
      const added = await runCli(['app', 'add', 'Photo sync', '--roles', 'User.ReadWrite.All', '--data', dataDir]);
      assert.equal(added.code, 0, added.stderr);
      const value = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(added.stdout)?.[1] ?? assert.fail(`no ${name}`);
      const server = await startServer({ dataDir });
      try {
        const ask = (secret: string) =>
          fetch(`${server.origin}/${value('AZURE_TENANT_ID')}/oauth2/v2.0/token`, {
            method: 'POST',
            headers: FORM,
            body: new URLSearchParams({ grant_type: 'client_credentials', client_id: value('AZURE_CLIENT_ID'), client_secret: secret, scope: GRAPH_SCOPE }),
          });
        assert.equal((await ask('wrong')).status, 401);
        assert.equal((await ask(value('AZURE_CLIENT_SECRET'))).status, 200);
      } finally {
        assert.deepEqual(await server.stop(), { code: 0, signal: null }, server.output());
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** Resolves when the on-cue thread holds a 'hold' hash. */
function onceHolding(): Promise<void> {
  const channel = new BroadcastChannel(HOLDING);
  // What keeps the test alive is the hash it waits for, not this channel.
  channel.unref();
  return new Promise((resolve) => {
    channel.onmessage = () => {
      channel.close();
      resolve();
    };
  });
}
