// Section "read": the hot path. A real photo is uploaded once and read once;
// then 50 connections read, for a fixed time, its 240×240 JPEG, the same with
// If-None-Match (304), and its metadata — from Portrait, from a bare node server
// and from nginx serving the same bytes at the same paths, over HTTP and HTTPS,
// the three servers in turns (see ROUNDS).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BenchContext } from './context.js';
import { expectStatus, request } from './http.js';
import { CAMERA_PHOTO } from './images.js';
import { medianRun, type LoadResult, type LoadSpec } from './load.js';
import { treeCpuSecondsOf } from './proc.js';
import { startBare, startNginx, startPortrait, userToken, type Portrait, type StaticServer } from './servers.js';
import { atLeast, describeLoad, formatRate, ratioOf, type Row, type Target } from './table.js';

const CACHE_CONTROL = 'private, no-cache';
type Scheme = 'http' | 'https';

interface Endpoint {
  readonly name: 'value' | 'notModified' | 'metadata';
  readonly label: string;
  readonly path: string;
  readonly status: 200 | 304;
  /** Portrait's req/s over nginx's and over bare node's, at least. */
  readonly targets: { readonly nginx?: number; readonly bare?: number };
}

/** One server's view of the endpoints: its origin and the ETag its 304 needs. */
interface Subject {
  readonly name: string;
  /** Its process; with nginx, the master, whose workers are counted with it. */
  readonly pid: number;
  readonly origin: string;
  readonly etag: string;
}

/** A run and how busy the server was meanwhile: below ~95% of a core, something else limited it. */
interface Run {
  readonly load: LoadResult;
  readonly serverCpuPercent: number;
}

/** A server's median round by req/s, and every round's req/s in the order they ran. */
interface Measured extends Run {
  readonly roundRates: readonly number[];
}

/**
 * Timed runs per server and endpoint, taken in turns (Portrait, bare node, nginx, then
 * again), each a third of BENCH_SECONDS; each server's median round by req/s is what the
 * table compares. Why: on this shared 2-core VM one full run's first minutes gave the
 * servers 60–70% of a core at moments, so one run of each, one after the other, compared
 * disturbed with undisturbed (HTTPS $value at 0.60× bare node in that run, 0.95× in the next
 * one); in turns, a disturbance of a few seconds costs each server at most one round.
 */
const ROUNDS = 3;

export async function benchRead(context: BenchContext): Promise<Row[]> {
  const { settings, log } = context;
  const dataDir = context.folder('read-portrait');
  let portrait: Portrait = await startPortrait({ dataDir, tls: true });
  let bare: StaticServer | undefined;
  let nginx: StaticServer | undefined;
  try {
    // The photo, uploaded and read once, as a client would.
    const { token, objectId } = await userToken(dataDir, 'bench@contoso.com');
    const authorization = `Bearer ${token}`;
    const valuePath = `/v1.0/users/${objectId}/photos/240x240/$value`;
    const metadataPath = `/v1.0/users/${objectId}/photo`;
    await expectStatus(200, `${portrait.origin}/v1.0/users/${objectId}/photo/$value`, {
      method: 'PUT',
      headers: { authorization, 'content-type': 'image/jpeg' },
      body: readFileSync(CAMERA_PHOTO),
    });
    const value = await expectStatus(200, `${portrait.origin}${valuePath}`, { headers: { authorization } });
    const metadata = await expectStatus(200, `${portrait.origin}${metadataPath}`, { headers: { authorization } });
    const etag = String(value.headers.etag);
    log(`read: a ${value.body.length}-byte 240×240 JPEG, ETag ${etag}`);

    // The references serve the same bytes at the same paths.
    const root = context.folder('read-static');
    for (const [path, bytes] of [
      [valuePath, value.body],
      [metadataPath, metadata.body],
    ] as const) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), bytes);
    }
    // The certificate and key Portrait itself serves with (data-folder.ts), so the references do the same TLS work.
    const certFile = join(dataDir, 'tls-server-cert.pem');
    const keyFile = join(dataDir, 'tls-server-key.pem');
    bare = await startBare(
      {
        root,
        files: [
          { path: valuePath, contentType: 'image/jpeg' },
          { path: metadataPath, contentType: 'application/json; charset=utf-8' },
        ],
        etag,
        cacheControl: CACHE_CONTROL,
        certFile,
        keyFile,
      },
      context.folder('read-bare'),
    );
    if (settings.nginx) {
      nginx = await startNginx({
        nginx: settings.nginx,
        workDir: context.folder('read-nginx'),
        workers: settings.nginxWorkers,
        root,
        jsonPaths: [metadataPath],
        cacheControl: CACHE_CONTROL,
        certFile,
        keyFile,
      });
    }

    const kb = (value.body.length / 1000).toFixed(1);
    const endpoints: Endpoint[] = [
      { name: 'value', label: `GET …/photos/240x240/$value (${kb} kB JPEG)`, path: valuePath, status: 200, targets: { nginx: 0.5, bare: 0.75 } },
      { name: 'notModified', label: 'same, If-None-Match → 304', path: valuePath, status: 304, targets: { nginx: 0.6 } },
      { name: 'metadata', label: `GET …/photo (${metadata.body.length} B JSON)`, path: metadataPath, status: 200, targets: {} },
    ];

    const rows: Record<Scheme, Row[]> = { http: [], https: [] };
    // HTTPS first: the Portrait that made the certificate is already running.
    for (const scheme of ['https', 'http'] as const) {
      if (scheme === 'http') {
        await portrait.stop();
        portrait = await startPortrait({ dataDir, tls: false });
      }
      const subjects = {
        portrait: { name: 'Portrait', pid: portrait.pid, origin: portrait.origin, etag },
        bare: { name: 'bare node', pid: bare.pid, origin: scheme === 'http' ? bare.httpOrigin : bare.httpsOrigin, etag },
        nginx: nginx && {
          name: 'nginx',
          pid: nginx.pid,
          origin: scheme === 'http' ? nginx.httpOrigin : nginx.httpsOrigin,
          etag: await nginxEtag(nginx, scheme, valuePath),
        },
      };
      for (const endpoint of endpoints) {
        const [ours, bareNode, nginxServer] = await measureInTurns(context, [subjects.portrait, subjects.bare, subjects.nginx], endpoint, authorization, scheme);
        if (ours === undefined || bareNode === undefined) throw new Error('Portrait and bare node are always measured');
        const theirs = { bare: bareNode, nginx: nginxServer };
        const figure = `${endpoint.label}, ${scheme.toUpperCase()}`;
        rows[scheme].push(compare(figure, ours, 'nginx', theirs.nginx, endpoint.targets.nginx));
        rows[scheme].push(compare(figure, ours, 'bare node', theirs.bare, endpoint.targets.bare));
        rows[scheme].push(compareCpu(figure, ours, theirs.bare, endpoint.targets.bare));
      }
    }
    return [...rows.http, ...rows.https];
  } finally {
    await Promise.all([portrait.stop(), bare?.stop(), nginx?.stop()]);
  }
}

/** Each server warmed up, then ROUNDS timed runs of each in turn; undefined servers are skipped. */
async function measureInTurns(
  context: BenchContext,
  subjects: readonly (Subject | undefined)[],
  endpoint: Endpoint,
  authorization: string,
  scheme: Scheme,
): Promise<(Measured | undefined)[]> {
  const { settings, load, log } = context;
  const measured = new Map<Subject, { spec: LoadSpec; runs: Run[] }>();
  for (const subject of subjects) {
    if (subject === undefined) continue;
    const url = `${subject.origin}${endpoint.path}`;
    // The same request headers for every server; only Portrait reads the token.
    const headers: Record<string, string> = { authorization };
    if (endpoint.status === 304) headers['if-none-match'] = subject.etag;
    await expectStatus(endpoint.status, url, { headers }); // a wrong setup must not be measured
    measured.set(subject, { spec: { url, connections: settings.connections, headers }, runs: [] });
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [subject, { spec, runs }] of measured) {
      if (round === 0) await load.timed({ ...spec, seconds: settings.warmupSeconds });
      // CPU time over the run's own duration: the server idles while the load process starts.
      const cpuBefore = treeCpuSecondsOf(subject.pid);
      const result = await load.timed({ ...spec, seconds: Math.max(1, Math.ceil(settings.seconds / ROUNDS)) });
      runs.push({ load: result, serverCpuPercent: ((treeCpuSecondsOf(subject.pid) - cpuBefore) / result.seconds) * 100 });
    }
  }
  return subjects.map((subject) => {
    const runs = subject && measured.get(subject)?.runs;
    if (subject === undefined || runs === undefined) return undefined;
    const median = medianRun(runs, (result) => result.perSecond);
    const roundRates = runs.map((run) => run.load.perSecond);
    log(`read: ${subject.name} ${endpoint.name} ${scheme}: ${describeLoad(median.load, median.serverCpuPercent)} (rounds ${roundRates.map((rate) => formatRate(rate)).join(', ')})`);
    return { ...median, roundRates };
  });
}

/** nginx makes its own ETag (mtime-size); its 304 is measured with it. */
async function nginxEtag(nginx: StaticServer, scheme: Scheme, path: string): Promise<string> {
  const answer = await request(`${scheme === 'http' ? nginx.httpOrigin : nginx.httpsOrigin}${path}`, { method: 'HEAD' });
  const etag = answer.headers.etag;
  if (typeof etag !== 'string') throw new Error(`nginx answered ${path} without an ETag`);
  return etag;
}

/**
 * The server's CPU per read against bare node's: what req/s shows on a quiet machine,
 * shown on a busy one too. There the load generator gets what share of the machine it
 * can, and req/s measure that share; CPU per answered read stays the server's own cost.
 */
function compareCpu(figure: string, ours: Measured, bare: Measured, bound: number | undefined): Row {
  const perRead = (measured: Measured) => (measured.serverCpuPercent / 100 / measured.load.perSecond) * 1e6;
  const [mine, theirs] = [perRead(ours), perRead(bare)];
  // Bare node's cost over ours: as the req/s ratio, higher is better.
  const ratio = ratioOf(theirs, mine);
  const target = bound === undefined ? undefined : atLeast(ratio, bound);
  return {
    section: 'read',
    figure: `${figure}: server CPU per read vs bare node`,
    portrait: `${mine.toFixed(1)} µs`,
    reference: `bare node: ${theirs.toFixed(1)} µs`,
    ratio,
    target: target && { ...target, text: `${target.text} (bare ÷ Portrait)` },
  };
}

function compare(figure: string, ours: Measured, referenceName: string, reference: Measured | undefined, bound: number | undefined): Row {
  const ratio = ratioOf(ours.load.perSecond, reference?.load.perSecond);
  let target: Target | undefined;
  if (bound !== undefined) target = atLeast(ratio, bound);
  return {
    section: 'read',
    figure: `${figure} vs ${referenceName}`,
    portrait: describeMeasured(ours),
    reference: reference ? `${referenceName}: ${describeMeasured(reference)}` : `${referenceName}: skipped (apt-get install nginx-light wrk)`,
    ratio,
    target: target && { ...target, text: `${target.text} req/s` },
  };
}

/** The median round, and every round's req/s. */
function describeMeasured(measured: Measured): string {
  return `${describeLoad(measured.load, measured.serverCpuPercent)} · rounds ${measured.roundRates.map((rate) => (rate / 1000).toFixed(1)).join(', ')}k req/s`;
}
