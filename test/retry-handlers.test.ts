// The official clients' retry handlers recover from Portrait's throttling and from its
// simulated faults, against a real `portrait serve` over HTTPS: the Graph JS client's
// default middleware (RetryHandler: 429, 503, 504, honouring Retry-After) and Kiota's
// (@microsoft/msgraph-sdk's GraphRequestAdapter, whose default handlers include its
// RetryHandler). Each client runs in its own `node` process trusting the server's
// certificate (helpers/graph-clients.ts); what went over the wire comes back too.
//
// Simulated faults: the seed is one for which the seeded plan (traffic/fault-plan.ts)
// gives every kind of fault and never four in a row (the clients retry three times), so
// that every call must succeed, and the wire must show exactly the plan's statuses.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cliToken } from './helpers/server-process.js';
import { scriptFolder, startHttpsServer, valueOf, type HttpsServer, type ScriptFolder, type ScriptRun } from './helpers/graph-clients.js';
import { FaultPlan } from '../src/traffic/fault-plan.js';
import { parseFaultRule } from '../src/traffic/fault-spec.js';

const CALLS = 5;
const ATTEMPTS = 4; // both clients' default: 3 retries

const GRAPH_JS = String.raw`
import { Client } from '@microsoft/microsoft-graph-client';
import { report, step } from './harness.mjs';

const client = Client.init({
  baseUrl: process.env.PORTRAIT,
  customHosts: new Set(['localhost']),
  authProvider: (done) => done(null, process.env.TOKEN),
});
for (let i = 0; i < Number(process.env.CALLS); i++) await step('call' + i, () => client.api(process.env.API_PATH).get());
report();
`;

const KIOTA = String.raw`
import { AllowedHostsValidator, BaseBearerTokenAuthenticationProvider } from '@microsoft/kiota-abstractions';
import { createGraphServiceClient, GraphRequestAdapter } from '@microsoft/msgraph-sdk';
import '@microsoft/msgraph-sdk-users';
import { report, step } from './harness.mjs';

const hosts = new AllowedHostsValidator(new Set(['localhost']));
const tokens = { getAuthorizationToken: async () => process.env.TOKEN, getAllowedHostsValidator: () => hosts };
const adapter = new GraphRequestAdapter(new BaseBearerTokenAuthenticationProvider(tokens));
adapter.baseUrl = process.env.PORTRAIT + '/v1.0';
const graph = createGraphServiceClient(adapter);
for (let i = 0; i < Number(process.env.CALLS); i++) await step('call' + i, () => graph.users.get());
report();
`;

const dirs: string[] = [];
const servers: HttpsServer[] = [];
const folders: ScriptFolder[] = [];
after(async () => {
  await Promise.all(folders.map((f) => f.remove()));
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function start(args: readonly string[]): Promise<{ server: HttpsServer; folder: ScriptFolder; token: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'portrait-retry-'));
  dirs.push(dataDir);
  const server = await startHttpsServer(dataDir, args);
  servers.push(server);
  const folder = await scriptFolder(server);
  folders.push(folder);
  return { server, folder, token: await cliToken({ dataDir, app: 'retrying', roles: ['User.Read.All'] }) };
}

/** Every call succeeded; returns the statuses the client saw on the wire, in order. */
function recovered(run: ScriptRun): number[] {
  for (let i = 0; i < CALLS; i++) assert.ok(Array.isArray(((valueOf(run, `call${i}`) as { json: { value?: unknown } }).json ?? {}).value), `call${i} answered the user list`);
  return run.wire.filter((w) => w.url.includes('/v1.0/users')).map((w) => w.status ?? 0);
}

/** What the plan answers a client that makes CALLS calls and retries each up to ATTEMPTS times. */
function predict(plan: FaultPlan): { statuses: number[]; allRecover: boolean } {
  const statuses: number[] = [];
  let allRecover = true;
  for (let call = 0; call < CALLS; call++) {
    let ok = false;
    for (let attempt = 0; attempt < ATTEMPTS && !ok; attempt++) {
      const status = plan.decide('GET', '/v1.0/users')?.status ?? 200;
      statuses.push(status);
      ok = status === 200;
    }
    allRecover &&= ok;
  }
  return { statuses, allRecover };
}

describe('the clients’ retry handlers recover', { timeout: 180_000 }, () => {
  it('from simulated 429, 503 and 504 (serve --simulate … --seed)', async () => {
    const spec = 'GET /v1.0/users: 429=25%, 503=25%, 504=5%';
    const rules = [parseFaultRule(spec)];
    // A seed whose plan, for the Graph JS client then Kiota, has each fault, one 504 (no
    // Retry-After: the clients back off 3 s or more) and never four failures in a row.
    const seed = Array.from({ length: 5000 }, (_, i) => i + 1).find((candidate) => {
      const plan = new FaultPlan(rules, candidate);
      const js = predict(plan);
      const kiota = predict(plan);
      const all = [...js.statuses, ...kiota.statuses];
      const has = (list: number[], s: number) => list.includes(s);
      return js.allRecover && kiota.allRecover && has(js.statuses, 429) && has(js.statuses, 503) && has(kiota.statuses, 429) && has(kiota.statuses, 503) && all.filter((s) => s === 504).length === 1;
    });
    assert.ok(seed !== undefined, 'a seed that shows every fault');
    const plan = new FaultPlan(rules, seed);
    const expectJs = predict(plan).statuses;
    const expectKiota = predict(plan).statuses;

    const { server, folder, token } = await start(['--simulate', spec, '--seed', String(seed)]);
    const env = { PORTRAIT: server.origin, TOKEN: token, CALLS: String(CALLS), API_PATH: '/users' };
    const js = await folder.run('graph-js-retry', GRAPH_JS, { env });
    assert.deepEqual(recovered(js), expectJs, 'the Graph JS client retried each simulated fault and got the list');
    const kiota = await folder.run('kiota-retry', KIOTA, { env });
    assert.deepEqual(recovered(kiota), expectKiota, 'Kiota retried each simulated fault and got the list');

    for (const run of [js, kiota]) {
      const wire = run.wire.filter((w) => w.url.includes('/v1.0/users'));
      for (const [i, w] of wire.entries()) {
        if (w.status === 200) continue;
        assert.equal(w.responseHeaders?.['x-portrait-simulated'], String(w.status), 'each fault is marked simulated');
        if (w.status !== 504) assert.equal(w.responseHeaders?.['retry-after'], '1');
        // The next request is the client's retry, saying which attempt it is.
        assert.ok(Number(wire[i + 1]?.headers['retry-attempt']) >= 1, `a retry follows the ${w.status}: ${JSON.stringify(wire[i + 1]?.headers)}`);
      }
    }
  });

  it('from real throttling (serve --throttle), waiting as Retry-After says', async () => {
    const { server, folder, token } = await start(['--throttle', 'app=3/2s']);
    const env = { PORTRAIT: server.origin, TOKEN: token, CALLS: '6', API_PATH: '/users' };
    for (const [name, source] of [['graph-js-throttled', GRAPH_JS], ['kiota-throttled', KIOTA]] as const) {
      const run = await folder.run(name, source, { env });
      for (let i = 0; i < 6; i++) valueOf(run, `call${i}`);
      const wire = run.wire.filter((w) => w.url.includes('/v1.0/users'));
      const throttled = wire.filter((w) => w.status === 429);
      assert.ok(throttled.length >= 1, `${name}: throttled at least once: ${wire.map((w) => w.status).join(' ')}`);
      for (const w of throttled) {
        assert.ok(Number(w.responseHeaders?.['retry-after']) >= 1);
        assert.equal(w.responseHeaders?.['x-portrait-simulated'], undefined, 'real throttling is not marked simulated');
      }
      assert.equal(wire.filter((w) => w.status === 200).length, 6, `${name}: all six calls answered in the end`);
    }
  });
});
