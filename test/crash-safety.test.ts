// Crash safety: a real `portrait serve` is killed with SIGKILL at random moments
// while it takes uploads for many owners, and restarted on the same data. After
// every restart it opens the database cleanly, and every owner's photo is one
// whole version that was uploaded for that owner, never older than the last upload
// the server acknowledged; the database holds no orphaned sizes. On SQLite and
// on PostgreSQL. PORTRAIT_CRASH_SEED=N replays one run's kill delays.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import Database from '../src/storage/sqlite-driver.js';
import { seededRandom } from '../src/traffic/seeded-random.js';
import pg from 'pg';
import { createScratchDatabase, postgresUnavailable } from './helpers/postgres.js';
import {
  cliToken,
  PALETTE,
  photoSnapshot,
  request,
  solidJpeg,
  startServer,
  wholeness,
  type ServerProcess,
} from './helpers/server-process.js';

const OWNERS = 12;
const ROUNDS = 5;
const SEED = Number(process.env.PORTRAIT_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const pgSkip = await postgresUnavailable();


/** Upload k of owner i shows this palette colour: distinct for each of an owner's uploads. */
const colourIndex = (owner: number, k: number) => (owner * 5 + k) % PALETTE.length;

interface OwnerLog {
  readonly id: string;
  /** Every upload k sent, in order; k = 0 is the initial photo. */
  readonly sent: number[];
  /** Uploads answered 200, with the ETag they were given. */
  readonly acked: Map<number, string>;
  /** The last acknowledged k (uploads to one owner are sequential, so this is also the newest). */
  lastAcked: number;
  /** Uploads whose outcome is unknown: the connection died with the server. */
  readonly unknown: Set<number>;
  /** The newest upload a check has found: durable, so no later check may find an older one. */
  lastSeen: number;
}

interface Backend {
  readonly dataDir: string;
  readonly database?: string;
  /** Checks the tables directly once the server is stopped; returns problems. */
  inspect(): Promise<string[]>;
  dispose(): Promise<void>;
}

const ORPHANS = 'SELECT count(*) AS n FROM photo_content WHERE photo_id NOT IN (SELECT id FROM photos)';
// A content row answers a read alone (migration 008), so what it repeats of its photo must
// be the photo's: owner, ETag, and whether it is the primary size; and a photo has one primary.
const DISAGREEING = `SELECT count(*) AS n FROM photo_content c JOIN photos p ON p.id = c.photo_id
  WHERE c.etag <> p.etag OR c.tenant_id <> p.tenant_id OR c.owner_type <> p.owner_type OR c.owner_id <> p.owner_id
     OR c.is_primary <> (c.width = p.width AND c.height = p.height)`;
const PRIMARY_NOT_ONE = 'SELECT count(*) AS n FROM photos p WHERE (SELECT count(*) FROM photo_content c WHERE c.photo_id = p.id AND c.is_primary) <> 1';

function sqliteBackend(): Backend {
  const dataDir = mkdtempSync(join(tmpdir(), 'portrait-crash-'));
  return {
    dataDir,
    async inspect() {
      const db = new Database(join(dataDir, 'portrait.db'), { readonly: true });
      try {
        const problems: string[] = [];
        const integrity = db.pragma('integrity_check') as { integrity_check: string }[];
        if (integrity.length !== 1 || integrity[0]?.integrity_check !== 'ok') problems.push(`integrity_check: ${JSON.stringify(integrity)}`);
        const foreignKeys = db.pragma('foreign_key_check') as unknown[];
        if (foreignKeys.length > 0) problems.push(`foreign_key_check: ${JSON.stringify(foreignKeys)}`);
        const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
        problems.push(...contentRowProblems(count(ORPHANS), count(DISAGREEING), count(PRIMARY_NOT_ONE)));
        const photos = db.prepare('SELECT id, sizes FROM photos').all() as SizeRow[];
        const sizes = db.prepare('SELECT photo_id, width, height FROM photo_content').all() as SizeEntry[];
        problems.push(...sizeRowProblems(photos, sizes));
        return problems;
      } finally {
        db.close();
      }
    },
    async dispose() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portrait-crash-pg-'));
  const scratch = await createScratchDatabase();
  return {
    dataDir,
    database: scratch.url,
    async inspect() {
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      try {
        const problems: string[] = [];
        const count = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
        problems.push(...contentRowProblems(await count(ORPHANS), await count(DISAGREEING), await count(PRIMARY_NOT_ONE)));
        const photos = (await client.query<SizeRow>('SELECT id, sizes FROM photos')).rows;
        const sizes = (await client.query<SizeEntry>('SELECT photo_id, width, height FROM photo_content')).rows;
        problems.push(...sizeRowProblems(photos, sizes));
        return problems;
      } finally {
        await client.end();
      }
    },
    async dispose() {
      await scratch.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface SizeRow {
  readonly id: number | string;
  readonly sizes: string;
}
interface SizeEntry {
  readonly photo_id: number | string;
  readonly width: number;
  readonly height: number;
}

function contentRowProblems(orphans: number, disagreeing: number, primaryNotOne: number): string[] {
  return [
    ...(orphans === 0 ? [] : [`${orphans} photo_content rows belong to no photo`]),
    ...(disagreeing === 0 ? [] : [`${disagreeing} photo_content rows disagree with their photo (owner, ETag or primary)`]),
    ...(primaryNotOne === 0 ? [] : [`${primaryNotOne} photos have no primary content row, or several`]),
  ];
}

/** One photo per owner, each with exactly the size rows its `sizes` column lists. */
function sizeRowProblems(photos: readonly SizeRow[], sizes: readonly SizeEntry[]): string[] {
  if (photos.length !== OWNERS) return [`${photos.length} photo rows for ${OWNERS} owners`];
  const stored = new Map<string, string[]>();
  for (const s of sizes) stored.set(String(s.photo_id), [...(stored.get(String(s.photo_id)) ?? []), `${s.width}x${s.height}`]);
  return photos.flatMap((p) => {
    const listed = p.sizes.split(',').sort().join(',');
    const rows = (stored.get(String(p.id)) ?? []).sort().join(',');
    return listed === rows ? [] : [`photo ${p.id} lists sizes ${listed} but has rows for ${rows}`];
  });
}

function crashSuite(kind: 'sqlite' | 'postgres', skip: string | undefined): void {
  describe(`crash safety (${kind})`, { skip: skip ?? false }, () => {
    it(`${ROUNDS} SIGKILLs during ${OWNERS}-owner upload floods leave every photo whole and not older than acknowledged`, { timeout: 90_000 }, async (t) => {
      const rng = seededRandom(SEED + (kind === 'postgres' ? 1 : 0));
      t.diagnostic(`PORTRAIT_CRASH_SEED=${SEED}`);
      const backend = kind === 'sqlite' ? sqliteBackend() : await postgresBackend();
      let server: ServerProcess | undefined;
      const start = async () => {
        server = await startServer({ dataDir: backend.dataDir, ...(backend.database !== undefined && { database: backend.database }) });
        return server;
      };
      t.after(async () => {
        await server?.kill();
        await backend.dispose();
      });

      // One upload per palette colour, made when first needed and shared by every owner.
      const made = new Map<number, Promise<Buffer>>();
      const jpeg = (colour: number): Promise<Buffer> => {
        let bytes = made.get(colour);
        if (!bytes) made.set(colour, (bytes = solidJpeg(PALETTE[colour]!, 700)));
        return bytes;
      };
      for (let colour = 0; colour < PALETTE.length; colour++) void jpeg(colour); // made while the server starts
      let node = await start();
      const token = await cliToken({
        dataDir: backend.dataDir,
        ...(backend.database !== undefined && { database: backend.database }),
        app: 'crash',
        roles: ['User.ReadWrite.All'],
      });
      const auth = { authorization: `Bearer ${token}` };

      const owners: OwnerLog[] = [];
      for (let i = 0; i < OWNERS; i++) {
        const res = await request(`${node.graph}/users`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ userPrincipalName: `owner${i}@contoso.com`, displayName: `owner ${i}` }),
        });
        const text = await res.text();
        assert.equal(res.status, 201, text);
        owners.push({ id: (JSON.parse(text) as { id: string }).id, sent: [], acked: new Map(), lastAcked: -1, unknown: new Set(), lastSeen: -1 });
      }

      /** PUT upload k to owner i; records what is known of it. */
      const upload = async (graph: string, i: number, owner: OwnerLog, k: number): Promise<boolean> => {
        const body = await jpeg(colourIndex(i, k));
        owner.sent.push(k);
        let res: Response;
        try {
          res = await request(`${graph}/users/${owner.id}/photo/$value`, {
            method: 'PUT',
            headers: { ...auth, 'content-type': 'image/jpeg' },
            body,
          });
        } catch {
          owner.unknown.add(k); // the server died with this upload in flight
          return false;
        }
        let answer: string;
        try {
          answer = await res.text();
        } catch {
          owner.unknown.add(k); // died after the status line: the client cannot rely on it
          return false;
        }
        assert.equal(res.status, 200, `upload ${k} to owner ${i} answered ${res.status} while the server was up: ${answer}`);
        owner.acked.set(k, res.headers.get('etag') ?? '');
        owner.lastAcked = k;
        return true;
      };

      // Initial photos, all acknowledged.
      await Promise.all(owners.map((owner, i) => upload(node.graph, i, owner, 0)));
      for (const owner of owners) assert.equal(owner.lastAcked, 0);

      let cutButKept = 0;
      const check = async (graph: string, when: string) => {
        const ready = await request(`${graph.replace(/\/v1\.0$/, '')}/readyz`);
        assert.equal(ready.status, 200, `${when}: /readyz answered ${ready.status}: ${await ready.text()}`);
        await Promise.all(
          owners.map(async (owner, i) => {
            const snapshot = await photoSnapshot(`${graph}/users/${owner.id}`, auth);
            // Candidates: this owner's uploads by k; wholeness() gives back the index all sizes show.
            const candidates = Array.from({ length: PALETTE.length }, (_, k) => PALETTE[colourIndex(i, k)]!);
            const { problems, colour: k } = wholeness(snapshot, candidates);
            assert.deepEqual(problems, [], `${when}: owner ${i}'s photo is not one whole version (${JSON.stringify(snapshot.body)})`);
            const history = `sent ${owner.sent.join(',')}; acknowledged ${[...owner.acked.keys()].join(',')}; unknown ${[...owner.unknown].join(',')}`;
            assert.ok(owner.sent.includes(k), `${when}: owner ${i} shows upload ${k}, never sent (${history})`);
            assert.ok(
              k >= owner.lastAcked,
              `${when}: owner ${i} shows upload ${k}, older than the acknowledged upload ${owner.lastAcked} (${history})`,
            );
            assert.ok(k >= owner.lastSeen, `${when}: owner ${i} shows upload ${k}, but an earlier check found ${owner.lastSeen} (${history})`);
            if (k > owner.lastSeen && !owner.acked.has(k)) cutButKept++;
            owner.lastSeen = k;
            if (owner.acked.has(k)) {
              assert.equal(snapshot.etag, owner.acked.get(k), `${when}: owner ${i} shows upload ${k} with another ETag than it was given`);
            } else {
              // Newer than anything acknowledged: only an upload cut off by a kill can be that.
              assert.ok(owner.unknown.has(k), `${when}: owner ${i} shows upload ${k}, which failed (${history})`);
            }
          }),
        );
      };
      await check(node.graph, 'before any kill');

      const delays: number[] = [];
      let next = 1;
      for (let round = 0; round < ROUNDS; round++) {
        // Flood: every owner's uploads in sequence, all owners at once, until the kill.
        let alive = true;
        const graph = node.graph;
        const floods = owners.map(async (owner, i) => {
          for (let k = next; alive && k < PALETTE.length; k++) {
            if (!(await upload(graph, i, owner, k))) return;
          }
        });
        const delay = 50 + Math.floor(rng() * 350);
        delays.push(delay);
        await sleep(delay);
        alive = false;
        const exit = await node.kill();
        assert.equal(exit.signal, 'SIGKILL', `round ${round}: the server had already exited: ${node.output()}`);
        await Promise.all(floods);
        next = Math.max(...owners.map((o) => o.sent.at(-1) ?? 0)) + 1;
        assert.ok(next < PALETTE.length, 'more uploads than distinct colours per owner');

        let t0 = performance.now();
        node = await start();
        const startMs = performance.now() - t0;
        t0 = performance.now();
        await check(node.graph, `after kill ${round + 1} (${delay} ms into the flood)`);
        t.diagnostic(`round ${round}: start ${startMs.toFixed(0)} ms, check ${(performance.now() - t0).toFixed(0)} ms`);
      }
      const acknowledged = owners.reduce((n, o) => n + o.acked.size, 0) - OWNERS;
      const cut = owners.reduce((n, o) => n + o.unknown.size, 0);
      t.diagnostic(
        `kill delays ${delays.join(', ')} ms; ${acknowledged} uploads acknowledged, ${cut} cut off by kills, ${cutButKept} of those committed`,
      );
      assert.ok(cut > 0, 'no kill landed while an upload was in flight; the test proved nothing');

      // A clean stop, then the tables themselves.
      const exit = await node.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM exit; output:\n${node.output()}`);
      assert.deepEqual(await backend.inspect(), []);
    });
  });
}

crashSuite('sqlite', undefined);
crashSuite('postgres', pgSkip);
