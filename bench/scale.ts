// Section "scale": does Portrait slow down as the store fills? The same read
// load (each request a random user's photo) on a store of 100 users and on one of
// 100,000 (BENCH_SCALE_USERS), and the start-up time of each: spawn to the URL
// line, and spawn to the first photo served.
//
// Both stores are compared warm, as a service runs: before the timed run every user's
// photo has been read once (on 100 users the usual warm-up does that many times over),
// also by the server whose cache is too small for them, which is then full and turning over.
// What a cache smaller than the photos costs, and a server with none, are rows of their own.
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './context.js';
import { request } from './http.js';
import type { LoadResult } from './load.js';
import { cpuSecondsOf } from './proc.js';
import { seedUsersWithPhotos, type Seeded } from './seed.js';
import { initData, startPortrait, userToken, type Portrait } from './servers.js';
import { atMost, describeLoad, formatMB, formatMs, formatRate, ratioOf, type Row, type Target } from './table.js';

const SMALL_STORE = 100;
const STARTUP_LIMIT_MS = 2000;
/** A photo cache that holds about a fifth of the 100,000 seeded photos (3.5 kB each): it turns over. */
const SMALL_CACHE_MB = 64;
/** Requests in flight while every user's photo is read once. */
const READ_ALL_CONCURRENCY = 16;

interface StoreRun {
  readonly users: number;
  readonly seeded: Seeded;
  readonly urlLineMs: number;
  readonly firstPhotoMs: number;
  readonly load: LoadResult;
  readonly serverCpuPercent: number;
  /** The same load with a cache that holds a fraction of the photos (--cache-mb SMALL_CACHE_MB). */
  readonly smallCacheLoad: LoadResult;
  readonly smallCacheCpuPercent: number;
  /** The same load on a server without the photo cache (--cache-mb 0): every read from the store. */
  readonly storeLoad: LoadResult;
  readonly storeCpuPercent: number;
}

export async function benchScale(context: BenchContext): Promise<Row[]> {
  const small = await runStore(context, SMALL_STORE);
  const large = await runStore(context, context.settings.scaleUsers);
  const users = (n: number) => `${n.toLocaleString('en-US')} users`;
  const p99Ratio = ratioOf(large.load.p99Ms, small.load.p99Ms);
  const under = (ms: number): Target => ({ text: `< ${STARTUP_LIMIT_MS / 1000} s`, met: ms < STARTUP_LIMIT_MS });
  return [
    {
      section: 'scale',
      figure: `seeding ${users(large.users)} with photos (SqliteStore.saveUser + putPhoto, one process)`,
      portrait: `${large.seeded.seconds.toFixed(1)} s (${formatRate(large.users / large.seeded.seconds, 'users/s')}), database ${formatMB(large.seeded.databaseBytes)}`,
      reference: `${users(small.users)}: ${small.seeded.seconds.toFixed(2)} s, ${formatMB(small.seeded.databaseBytes)}`,
    },
    {
      section: 'scale',
      figure: `GET /users/{random of ${users(large.users)}}/photo/$value, HTTP: p99`,
      portrait: describeLoad(large.load, large.serverCpuPercent),
      reference: `${users(small.users)}: ${describeLoad(small.load, small.serverCpuPercent)}`,
      ratio: p99Ratio,
      target: atMost(p99Ratio, 1.3),
    },
    {
      section: 'scale',
      figure: `same, with a cache of ${SMALL_CACHE_MB} MiB (--cache-mb ${SMALL_CACHE_MB}: about a fifth of the photos, turning over)`,
      portrait: describeLoad(large.smallCacheLoad, large.smallCacheCpuPercent),
      reference: `${users(small.users)}: ${describeLoad(small.smallCacheLoad, small.smallCacheCpuPercent)}`,
      ratio: ratioOf(large.smallCacheLoad.p99Ms, small.smallCacheLoad.p99Ms),
    },
    {
      section: 'scale',
      figure: `same, without the photo cache (--cache-mb 0): every read from the store`,
      portrait: describeLoad(large.storeLoad, large.storeCpuPercent),
      reference: `${users(small.users)}: ${describeLoad(small.storeLoad, small.storeCpuPercent)}`,
      ratio: ratioOf(large.storeLoad.p99Ms, small.storeLoad.p99Ms),
    },
    {
      section: 'scale',
      figure: `start-up with ${users(large.users)} with photos: spawn → URL line`,
      portrait: formatMs(large.urlLineMs),
      reference: `${users(small.users)}: ${formatMs(small.urlLineMs)}`,
      ratio: ratioOf(large.urlLineMs, small.urlLineMs),
      target: under(large.urlLineMs),
    },
    {
      section: 'scale',
      figure: `start-up with ${users(large.users)} with photos: spawn → first photo served`,
      portrait: formatMs(large.firstPhotoMs),
      reference: `${users(small.users)}: ${formatMs(small.firstPhotoMs)}`,
      ratio: ratioOf(large.firstPhotoMs, small.firstPhotoMs),
      target: under(large.firstPhotoMs),
    },
  ];
}

async function runStore(context: BenchContext, users: number): Promise<StoreRun> {
  const { log } = context;
  const dataDir = context.folder(`scale-${users}`);
  log(`scale: seeding ${users} users with photos`);
  const seeded = await seedUsersWithPhotos(dataDir, users);
  log(`scale: seeded ${users} users in ${seeded.seconds.toFixed(1)} s (${formatMB(seeded.databaseBytes)})`);
  // init makes the issuer key, so that start-up is a restart's (token refuses a folder without one).
  await initData(dataDir);
  const { token } = await userToken(dataDir, 'bench@contoso.com');
  const headers = { authorization: `Bearer ${token}` };
  const paths = seeded.userIds.map((id) => `/v1.0/users/${id}/photo/$value`);
  const pathsFile = join(dataDir, 'paths.txt');
  writeFileSync(pathsFile, `${paths.join('\n')}\n`);

  const portrait = await startPortrait({ dataDir, tls: false });
  let firstPhotoMs: number;
  let measured: Measured;
  try {
    firstPhotoMs = await untilServed(`${portrait.origin}${paths[paths.length - 1]}`, headers, portrait.child.spawnedAt);
    const started = performance.now();
    await readEach(portrait.origin, paths, headers);
    log(`scale: ${users} users: every photo read once in ${formatMs(performance.now() - started)}`);
    measured = await measureRandomReads(context, portrait, paths[0] as string, headers, pathsFile);
  } finally {
    await portrait.stop();
  }
  const smallCache = await startPortrait({ dataDir, tls: false, args: ['--cache-mb', String(SMALL_CACHE_MB)] });
  let smallCacheMeasured: Measured;
  try {
    // Warm as the default one: full, and turning over since (its filling is not what is measured).
    await readEach(smallCache.origin, paths, headers);
    smallCacheMeasured = await measureRandomReads(context, smallCache, paths[0] as string, headers, pathsFile);
  } finally {
    await smallCache.stop();
  }
  const storeOnly = await startPortrait({ dataDir, tls: false, args: ['--cache-mb', '0'] });
  let storeMeasured: Measured;
  try {
    storeMeasured = await measureRandomReads(context, storeOnly, paths[0] as string, headers, pathsFile);
  } finally {
    await storeOnly.stop();
  }
  log(`scale: ${users} users: start-up ${formatMs(portrait.startupMs)}, first photo ${formatMs(firstPhotoMs)}, ${describeLoad(measured.load, measured.cpuPercent)}`);
  log(`scale: ${users} users with a ${SMALL_CACHE_MB} MiB cache: ${describeLoad(smallCacheMeasured.load, smallCacheMeasured.cpuPercent)}`);
  log(`scale: ${users} users without the photo cache: ${describeLoad(storeMeasured.load, storeMeasured.cpuPercent)}`);
  return {
    users,
    seeded,
    urlLineMs: portrait.startupMs,
    firstPhotoMs,
    load: measured.load,
    serverCpuPercent: measured.cpuPercent,
    smallCacheLoad: smallCacheMeasured.load,
    smallCacheCpuPercent: smallCacheMeasured.cpuPercent,
    storeLoad: storeMeasured.load,
    storeCpuPercent: storeMeasured.cpuPercent,
  };
}

interface Measured {
  readonly load: LoadResult;
  readonly cpuPercent: number;
}

/** Warm-up, then the timed run: each request a random user's photo. */
async function measureRandomReads(
  context: BenchContext,
  portrait: Portrait,
  firstPath: string,
  headers: Record<string, string>,
  pathsFile: string,
): Promise<Measured> {
  const { settings } = context;
  const spec = { url: `${portrait.origin}${firstPath}`, connections: settings.connections, headers, pathsFile };
  await context.load.timed({ ...spec, seconds: settings.warmupSeconds });
  const cpuBefore = cpuSecondsOf(portrait.pid);
  const load = await context.load.timed({ ...spec, seconds: settings.seconds });
  return { load, cpuPercent: ((cpuSecondsOf(portrait.pid) - cpuBefore) / load.seconds) * 100 };
}

/** Reads every path once, a few at a time on kept-alive connections; each must answer 200. */
async function readEach(origin: string, paths: readonly string[], headers: Record<string, string>): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: READ_ALL_CONCURRENCY });
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next++] as string;
      const answer = await request(`${origin}${path}`, { headers, agent });
      if (answer.status !== 200) throw new Error(`${path} answered ${answer.status} while every photo was read once`);
    }
  };
  try {
    await Promise.all(Array.from({ length: READ_ALL_CONCURRENCY }, reader));
  } finally {
    agent.destroy();
  }
}

/** Milliseconds from `since` until the URL answers 200. */
async function untilServed(url: string, headers: Record<string, string>, since: number): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const answer = await request(url, { headers }).catch(() => undefined);
    if (answer?.status === 200) return performance.now() - since;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${url} never answered 200`);
}
