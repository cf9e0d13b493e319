// `serve --throttle` on several nodes: two real `portrait serve` processes on one
// PostgreSQL database share one budget per caller. Each node adds its counts to the
// database every SYNC_MS (100 ms) and reads everyone's back, so a node learns of the
// other's use within that (plus a query): what one node spent, the other refuses; how
// late it learns, and how much it admits meanwhile, is measured here. PostgreSQL only.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { createScratchDatabase, postgresUnavailable } from './helpers/postgres.js';
import { cliToken, request, startServer, type ServerProcess } from './helpers/server-process.js';
import { SYNC_MS } from '../src/traffic/throttle.js';

const pgSkip = await postgresUnavailable();

describe('nodes on one PostgreSQL database share one budget (postgres)', { skip: pgSkip ?? false, timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const nodes: ServerProcess[] = [];
  let drop: (() => Promise<void>) | undefined;
  let a: ServerProcess;
  let b: ServerProcess;
  let database: string;

  before(async () => {
    const scratch = await createScratchDatabase();
    drop = scratch.drop;
    database = scratch.url;
    const dataA = mkdtempSync(join(tmpdir(), 'portrait-throttle-a-'));
    const dataB = mkdtempSync(join(tmpdir(), 'portrait-throttle-b-'));
    dirs.push(dataA, dataB);
    // An hour's window: nothing slides out while the test runs.
    a = await startServer({ dataDir: dataA, database, args: ['--throttle', 'app=20/1h'] });
    nodes.push(a);
    copyFileSync(join(dataA, 'issuer-key.pem'), join(dataB, 'issuer-key.pem'));
    b = await startServer({ dataDir: dataB, database, args: ['--throttle', 'app=20/1h'] });
    nodes.push(b);
    assert.match(a.output(), /throttling: {2}app=20\/1h \(shared by the nodes on this database\)/);
  });

  after(async () => {
    const exits = await Promise.all(nodes.map((node) => node.stop()));
    await drop?.();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    for (const [i, exit] of exits.entries()) assert.deepEqual(exit, { code: 0, signal: null }, `node ${i}: ${nodes[i]?.output()}`);
  });

  async function status(node: ServerProcess, token: string): Promise<number> {
    const res = await request(`${node.graph}/users`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res.status;
  }

  /** The most any key has used in the database's ledger (one app is being counted at a time). */
  async function usedInDatabase(): Promise<number> {
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    try {
      const { rows } = await client.query<{ used: string | null }>("SELECT max(used) AS used FROM throttle_usage WHERE key LIKE 'app %'");
      return Number(rows[0]?.used ?? 0);
    } finally {
      await client.end();
    }
  }

  async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!(await condition())) {
      assert.ok(performance.now() < deadline, 'the nodes exchanged their counts in time');
      await delay(SYNC_MS);
    }
  }

  const token = (app: string) => cliToken({ dataDir: dirs[0]!, database, app, roles: ['User.Read.All'] });

  it('what one node spent, the other refuses', async () => {
    const app = await token('shared-budget');
    const onA: number[] = [];
    for (let i = 0; i < 12; i++) onA.push(await status(a, app));
    assert.deepEqual(onA, Array(12).fill(200));
    // A node learns of a caller's use elsewhere at its first exchange after it sees the caller
    // (until then it counts alone: the overshoot measured below). Node A has written its 12;
    // node B sees the caller once, and once B's exchange has added that one (13 in the
    // database), it has read back A's 12 in the same round trip.
    await until(async () => (await usedInDatabase()) >= 12);
    assert.equal(await status(b, app), 200);
    await until(async () => (await usedInDatabase()) >= 13);
    const onB: number[] = [];
    for (let i = 0; i < 12; i++) onB.push(await status(b, app));
    assert.deepEqual(onB, [...Array(7).fill(200), ...Array(5).fill(429)], 'node B grants only what node A left');
    // Node A hears of B's use at its next exchange: within a few SYNC_MS on a quiet machine,
    // later on a loaded one. Until then it may admit, which is the overshoot measured below.
    let fromA = await status(a, app);
    for (const deadline = performance.now() + 5000; fromA !== 429 && performance.now() < deadline; ) {
      await delay(SYNC_MS);
      fromA = await status(a, app);
    }
    assert.equal(fromA, 429, 'and node A, hearing of B, refuses too');
  });

  it('measured: how soon a node hears of the other’s use, and what it admits meanwhile', async (t) => {
    const app = await token('staleness');
    for (let i = 0; i < 20; i++) assert.equal(await status(a, app), 200);
    const spentAt = performance.now();
    let admitted = 0;
    for (;;) {
      const s = await status(b, app);
      if (s === 429) break;
      admitted++;
      assert.ok(performance.now() - spentAt < 5 * SYNC_MS + 1000, 'node B hears of node A within a few exchanges');
    }
    const lateMs = performance.now() - spentAt;
    t.diagnostic(`node B refused ${lateMs.toFixed(0)} ms after node A spent the budget, having admitted ${admitted} more`);
    assert.ok(lateMs < 2 * SYNC_MS + 200, `heard within two exchanges (${lateMs.toFixed(0)} ms)`);
  });

  it('measured: a flood on both nodes at once admits at most twice the budget, and no more once they have heard', async (t) => {
    const app = await token('flood');
    const flood = (node: ServerProcess) =>
      Promise.all(Array.from({ length: 8 }, async () => {
        let ok = 0;
        for (let i = 0; i < 15; i++) if ((await status(node, app)) === 200) ok++;
        return ok;
      }));
    const [onA, onB] = await Promise.all([flood(a), flood(b)]);
    const admitted = [...onA, ...onB].reduce((x, y) => x + y, 0);
    t.diagnostic(`240 requests on two nodes at once, budget 20: ${admitted} admitted`);
    assert.ok(admitted >= 20 && admitted <= 40, `admitted ${admitted}`);
    await delay(3 * SYNC_MS);
    assert.equal(await status(a, app), 429);
    assert.equal(await status(b, app), 429);
  });
});
