// Section "nodes": Portrait on PostgreSQL, where several nodes share one database
// (issue 12 §1). Two figures:
// - a photo read on a PostgreSQL node against the same read on a SQLite node, in the
//   same run: the same photo, token and URL, the same load, one server after the other;
//   req/s (the target), and the CPU time each read costs (node and database);
// - how long after node A has answered a write node B still serves the version before
//   (cross-node.ts), for two PostgreSQL nodes on one database and, for information,
//   for two SQLite processes on one data folder.
// Why a section of its own rather than rows of "read": these rows need a PostgreSQL
// server (skipped with the reason when there is none) and are about nodes, not about
// Portrait against static servers; `npm run bench -- nodes` runs them alone.
import { copyFileSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from './context.js';
import { describeDelay, measureCrossNodeDelay, percentile, type CrossNodeDelay, type NodePair } from './cross-node.js';
import { expectStatus } from './http.js';
import { CAMERA_PHOTO } from './images.js';
import type { LoadResult } from './load.js';
import { backendPids, createScratchDatabase, probePostgres, redact, type ScratchDatabase } from './postgres.js';
import { cpuSecondsOf } from './proc.js';
import { migrateStore, startPortrait, userToken, type Portrait } from './servers.js';
import { atLeast, describeLoad, ratioOf, type Row } from './table.js';

/** Issue 12 §1: a read on a PostgreSQL node at least this fraction of the same read on SQLite. */
const READ_RATIO = 0.9;
/** Issue 12 §1: a write on one node served by the others within this, at p99. */
const CROSS_NODE_P99_MS = 50;
const DELAY_TARGET = `p99 ≤ ${CROSS_NODE_P99_MS} ms, all answers right`;
const USER = 'bench@contoso.com';

interface Measured {
  readonly load: LoadResult;
  readonly serverCpuPercent: number;
  /** The CPU of the PostgreSQL processes serving the node, when the server is on this machine. */
  readonly databaseCpuPercent?: number | undefined;
}

export async function benchNodes(context: BenchContext): Promise<Row[]> {
  const { settings, log } = context;
  const rounds = Math.max(1, Math.round(settings.nodeRounds));
  const server = await probePostgres(settings.postgres);
  let postgresRows: Row[];
  if ('unavailable' in server) {
    log(`nodes: ${server.unavailable}: the PostgreSQL rows are skipped`);
    postgresRows = [skippedRow(readFigure(), `≥ ${READ_RATIO.toFixed(2)}× req/s`, server.unavailable), skippedRow(delayFigure(rounds), DELAY_TARGET, server.unavailable)];
  } else {
    const database = await createScratchDatabase(settings.postgres);
    try {
      log(`nodes: PostgreSQL ${server.version}, scratch database ${database.name} on ${redact(settings.postgres)}`);
      postgresRows = [...(await readOnBoth(context, database, server.version)), delayRow(await postgresPair(context, database, rounds), rounds)];
    } finally {
      await database.drop();
    }
  }
  return [...postgresRows, sqliteRow(await sqlitePair(context, rounds))];
}

/**
 * The SQLite node first: the photo is uploaded there; then the whole installation is
 * moved into the scratch database with `portrait migrate-store`, and the PostgreSQL node
 * serves it from the same data folder (the same issuer key): the same tenant, user and
 * photo version, so the very same request (token, URL) is measured on both.
 */
async function readOnBoth(context: BenchContext, database: ScratchDatabase, version: string): Promise<Row[]> {
  const { log } = context;
  const dataDir = context.folder('nodes-read');
  let token: string;
  let valuePath: string;
  let etag: string;
  let bytes: Buffer;
  let sqlite: Measured;
  const onSqlite = await startPortrait({ dataDir, tls: false });
  try {
    const user = await userToken(dataDir, USER);
    token = user.token;
    valuePath = `/v1.0/users/${user.objectId}/photos/240x240/$value`;
    const headers = { authorization: `Bearer ${token}` };
    await expectStatus(200, `${onSqlite.origin}/v1.0/users/${user.objectId}/photo/$value`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'image/jpeg' },
      body: readFileSync(CAMERA_PHOTO),
    });
    const value = await expectStatus(200, `${onSqlite.origin}${valuePath}`, { headers });
    etag = String(value.headers.etag);
    bytes = value.body;
    sqlite = await measureRead(context, 'SQLite', onSqlite, valuePath, token);
  } finally {
    await onSqlite.stop();
  }

  log(`nodes: portrait migrate-store: ${await migrateStore(join(dataDir, 'portrait.db'), database.url)}`);
  let postgres: Measured;
  const onPostgres = await startPortrait({ dataDir, tls: false, database: database.url });
  try {
    // The same request must get the same answer, or the two runs measure different things.
    const same = await expectStatus(200, `${onPostgres.origin}${valuePath}`, { headers: { authorization: `Bearer ${token}` } });
    if (same.headers.etag !== etag || !same.body.equals(bytes)) {
      throw new Error(`the PostgreSQL node answers ${valuePath} with ETag ${String(same.headers.etag)} (${same.body.length} bytes), the SQLite node answered ${etag} (${bytes.length} bytes)`);
    }
    postgres = await measureRead(context, 'PostgreSQL', onPostgres, valuePath, token, database);
  } finally {
    await onPostgres.stop();
  }

  const ratio = ratioOf(postgres.load.perSecond, sqlite.load.perSecond);
  const target = atLeast(ratio, READ_RATIO);
  const databaseCpu = postgres.databaseCpuPercent === undefined ? '' : ` · PostgreSQL CPU ${postgres.databaseCpuPercent.toFixed(0)}%`;
  const cost = { sqlite: cpuPerRead(sqlite), postgres: cpuPerRead(postgres) };
  const databaseCost = postgres.databaseCpuPercent === undefined ? '' : ` (node ${formatMicroseconds(cost.postgres.node)} + PostgreSQL ${formatMicroseconds(cost.postgres.total - cost.postgres.node)})`;
  return [
    {
      section: 'nodes',
      figure: readFigure(`${(bytes.length / 1000).toFixed(1)} kB JPEG`, version),
      portrait: `${describeLoad(postgres.load, postgres.serverCpuPercent)}${databaseCpu}`,
      reference: `SQLite node: ${describeLoad(sqlite.load, sqlite.serverCpuPercent)}`,
      ratio,
      target: { ...target, text: `${target.text} req/s` },
    },
    {
      // When the load generator, not the node, is the limit (a node below ~95% of a core), the
      // req/s ratio above is squeezed towards 1: the CPU each read costs is not.
      section: 'nodes',
      figure: 'same, CPU time per read: the node, plus its PostgreSQL sessions where the server is local (for information, no target)',
      portrait: `${formatMicroseconds(cost.postgres.total)}${databaseCost}`,
      reference: `SQLite node: ${formatMicroseconds(cost.sqlite.total)}`,
      ratio: ratioOf(cost.postgres.total, cost.sqlite.total),
    },
  ];
}

/** CPU seconds per answered read, in µs: the node's, and with its database sessions'. */
function cpuPerRead(measured: Measured): { readonly node: number; readonly total: number } {
  const perRead = (percent: number) => (percent / 100 / measured.load.perSecond) * 1e6;
  const node = perRead(measured.serverCpuPercent);
  return { node, total: node + perRead(measured.databaseCpuPercent ?? 0) };
}

function formatMicroseconds(us: number): string {
  return `${us.toFixed(0)} µs`;
}

/** A warm-up, then a measured run, as in the read section; with the database's CPU beside the node's. */
async function measureRead(context: BenchContext, name: string, portrait: Portrait, path: string, token: string, database?: ScratchDatabase): Promise<Measured> {
  const { settings, load, log } = context;
  const spec = { url: `${portrait.origin}${path}`, connections: settings.connections, headers: { authorization: `Bearer ${token}` } };
  await load.timed({ ...spec, seconds: settings.warmupSeconds });
  // After the warm-up, which has opened the node's pool: its sessions are the backends to count.
  const backends = database !== undefined && isLocal(database.url) ? await backendPids(database) : undefined;
  const backendCpu = () => (backends ?? []).reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  const averageBefore = loadavg()[0] ?? 0;
  const cpuBefore = cpuSecondsOf(portrait.pid);
  const databaseBefore = backendCpu();
  const result = await load.timed({ ...spec, seconds: settings.seconds });
  const serverCpuPercent = ((cpuSecondsOf(portrait.pid) - cpuBefore) / result.seconds) * 100;
  const databaseCpuPercent = backends === undefined ? undefined : ((backendCpu() - databaseBefore) / result.seconds) * 100;
  const databaseText = databaseCpuPercent === undefined ? '' : `, PostgreSQL CPU ${databaseCpuPercent.toFixed(0)}% (${backends?.length} sessions)`;
  log(`nodes: ${name} node: ${describeLoad(result, serverCpuPercent)}${databaseText} (1-minute load average before: ${averageBefore.toFixed(2)})`);
  return { load: result, serverCpuPercent, databaseCpuPercent };
}

/** Two PostgreSQL nodes on the scratch database, sharing the issuer's key and nothing else. */
async function postgresPair(context: BenchContext, database: ScratchDatabase, rounds: number): Promise<CrossNodeDelay> {
  const dataA = context.folder('nodes-pair-a');
  const dataB = context.folder('nodes-pair-b');
  const a = await startPortrait({ dataDir: dataA, tls: false, database: database.url });
  let b: Portrait | undefined;
  try {
    copyFileSync(join(dataA, 'issuer-key.pem'), join(dataB, 'issuer-key.pem'));
    b = await startPortrait({ dataDir: dataB, tls: false, database: database.url });
    const token = await userToken(dataA, 'cross-node@contoso.com', database.url);
    return await timedPair(context, 'two PostgreSQL nodes', { a, b, token }, rounds);
  } finally {
    await Promise.all([a.stop(), b?.stop()]);
  }
}

/** Two SQLite processes on one data folder: each polls SQLite's data_version for the other's commits. */
async function sqlitePair(context: BenchContext, rounds: number): Promise<CrossNodeDelay> {
  const dataDir = context.folder('nodes-pair-sqlite');
  const a = await startPortrait({ dataDir, tls: false });
  let b: Portrait | undefined;
  try {
    b = await startPortrait({ dataDir, tls: false });
    const token = await userToken(dataDir, 'cross-node@contoso.com');
    return await timedPair(context, 'two SQLite processes', { a, b, token }, rounds);
  } finally {
    await Promise.all([a.stop(), b?.stop()]);
  }
}

async function timedPair(context: BenchContext, name: string, pair: NodePair, rounds: number): Promise<CrossNodeDelay> {
  const started = performance.now();
  const averageBefore = loadavg()[0] ?? 0;
  const delay = await measureCrossNodeDelay(pair, rounds, context.log);
  const seconds = (performance.now() - started) / 1000;
  context.log(`nodes: ${name}: ${describeDelay(delay)} (${rounds} rounds in ${seconds.toFixed(1)} s; 1-minute load average before: ${averageBefore.toFixed(2)})`);
  return delay;
}

function readFigure(size?: string, version?: string): string {
  return `GET …/photos/240x240/$value${size === undefined ? '' : ` (${size})`}, HTTP, on a PostgreSQL${version === undefined ? '' : ` ${version}`} node vs a SQLite node (same photo, token and URL)`;
}

function delayFigure(rounds: number): string {
  return `a photo PUT through node A, then GET …/photos/240x240/$value polled on node B (one connection, B warm): A's 200 → B's first answer with A's ETag, ${rounds} rounds, two PostgreSQL nodes on one database`;
}

function delayRow(delay: CrossNodeDelay, rounds: number): Row {
  const never = delay.delaysMs.some((ms) => !Number.isFinite(ms));
  const p99 = percentile(delay.delaysMs, 99);
  return {
    section: 'nodes',
    figure: delayFigure(rounds),
    portrait: describeDelay(delay),
    reference: '—',
    target: { text: DELAY_TARGET, met: p99 <= CROSS_NODE_P99_MS && !never && delay.regressions === 0 && delay.wrong === 0 },
  };
}

function sqliteRow(delay: CrossNodeDelay): Row {
  return {
    section: 'nodes',
    figure: `same, two SQLite \`serve\` processes on one data folder (each polls data_version every 100 ms): for information, no target`,
    portrait: describeDelay(delay),
    reference: '—',
  };
}

function skippedRow(figure: string, target: string, unavailable: string): Row {
  return { section: 'nodes', figure, portrait: `skipped: ${unavailable}`, reference: '—', target: { text: target, met: undefined } };
}

/** Whether the PostgreSQL server runs on this machine, so that its pids are ours to read in /proc. */
function isLocal(url: string): boolean {
  const host = new URL(url).hostname;
  return host === '' || host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}
