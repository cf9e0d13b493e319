// PostgreSQL nodes answer cached reads without asking the database because each one
// hears the others' commits (LISTEN/NOTIFY, src/storage/postgres-store.ts). This holds
// them to it when the notice connection is lost in the middle of updates: a node never
// serves what it cannot vouch for — while it cannot hear, it asks the database on every
// read; once it hears again, it forgets what it may have missed. PostgreSQL only.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { CHANGES_APPLICATION } from '../src/storage/postgres-store.js';
import { createScratchDatabase, postgresUnavailable } from './helpers/postgres.js';
import { cliToken, PALETTE, request, solidJpeg, startServer, type ServerProcess } from './helpers/server-process.js';

const pgSkip = await postgresUnavailable();

/** How soon the other node must serve a committed change. */
const HEARD_WITHIN_MS = 1000;
const ROUNDS = 24;
/** The rounds before which every node's notice connection is terminated once both listen... */
const DROPS = new Set([6, 15]);
/** ...and one right after a drop, while the nodes may still be reconnecting. */
const QUICK_DROP = 7;

describe('a node that loses its notice connection never serves what it cannot vouch for (postgres)', { skip: pgSkip ?? false, timeout: 180_000 }, () => {
  const dirs: string[] = [];
  const nodes: ServerProcess[] = [];
  let database: string;
  let drop: (() => Promise<void>) | undefined;
  let a: ServerProcess;
  let b: ServerProcess;
  let auth: Record<string, string>;
  let admin: pg.Client;

  before(async () => {
    const scratch = await createScratchDatabase();
    database = scratch.url;
    drop = scratch.drop;
    const dataA = mkdtempSync(join(tmpdir(), 'portrait-notices-a-'));
    const dataB = mkdtempSync(join(tmpdir(), 'portrait-notices-b-'));
    dirs.push(dataA, dataB);
    a = await startServer({ dataDir: dataA, database });
    nodes.push(a);
    copyFileSync(join(dataA, 'issuer-key.pem'), join(dataB, 'issuer-key.pem'));
    b = await startServer({ dataDir: dataB, database });
    nodes.push(b);
    auth = { authorization: `Bearer ${await cliToken({ dataDir: dataA, database, app: 'notices', roles: ['User.ReadWrite.All'] })}` };
    admin = new pg.Client({ connectionString: database });
    await admin.connect();
  });

  after(async () => {
    await admin?.end();
    const exits = await Promise.all(nodes.map((node) => node.stop()));
    await drop?.();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    for (const [i, exit] of exits.entries()) assert.deepEqual(exit, { code: 0, signal: null }, `node ${i}:\n${nodes[i]?.output()}`);
  });

  async function send(node: ServerProcess, path: string, init: RequestInit = {}): Promise<{ status: number; etag: string | null; text: string }> {
    const res = await request(`${node.graph}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
    return { status: res.status, etag: res.headers.get('etag'), text: Buffer.from(await res.arrayBuffer()).toString('latin1') };
  }

  /** The nodes' notice connections, as PostgreSQL sees them. */
  async function listeners(): Promise<number> {
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [CHANGES_APPLICATION]);
    return (rows[0] as { n: number }).n;
  }

  it('updates through A reach B whole and in order, with B\'s notice connection killed between them', async () => {
    const created = await send(a, '/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userPrincipalName: 'noticed@contoso.com', displayName: 'noticed' }),
    });
    assert.equal(created.status, 201, created.text);
    const id = (JSON.parse(created.text) as { id: string }).id;
    const url = `/users/${id}/photo/$value`;
    const photos = await Promise.all(Array.from({ length: 4 }, (_, i) => solidJpeg(PALETTE[i * 13 + 5]!, 300)));

    const bothListening = async (why: string) => {
      for (let waited = 0; (await listeners()) < 2; waited += 50) {
        assert.ok(waited < 10_000, why);
        await delay(50);
      }
    };
    const terminate = async () => {
      const { rows } = await admin.query(
        'SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()) AS t',
        [CHANGES_APPLICATION],
      );
      return (rows[0] as { n: number }).n;
    };
    await bothListening('the nodes never started listening');

    let previous: string | undefined;
    let terminated = 0;
    for (let round = 0; round < ROUNDS; round++) {
      if (DROPS.has(round)) {
        await bothListening('the nodes did not listen again after losing their notice connections');
        terminated += await terminate();
      }
      if (round === QUICK_DROP) await terminate();
      const put = await send(a, url, { method: 'PUT', body: photos[round % photos.length]! });
      assert.equal(put.status, 200, put.text);
      const etag = put.etag ?? '';
      // B is read over and over meanwhile, so that its cache and read fast path hold the old version.
      const deadline = Date.now() + HEARD_WITHIN_MS;
      for (;;) {
        const read = await send(b, url);
        assert.equal(read.status, 200, `round ${round}: ${read.text}`);
        if (read.etag === etag) break;
        assert.equal(read.etag, previous, `round ${round}: B served neither the new version nor the one before it`);
        assert.ok(Date.now() < deadline, `round ${round}: B still serves ${read.etag} ${HEARD_WITHIN_MS} ms after A wrote ${etag}`);
        await delay(5);
      }
      // Twice more, so the next round starts from a warm cache and a fast-path memo on B.
      for (let i = 0; i < 2; i++) assert.equal((await send(b, url)).etag, etag);
      previous = etag;
    }
    assert.equal(terminated, 2 * DROPS.size, 'each drop ended both nodes\' notice connections');
    await bothListening('the nodes did not listen again after losing their notice connections');
  });
});
