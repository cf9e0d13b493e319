// Real `portrait` processes for tests that need more than one process or a crash:
// spawn `portrait serve` and wait for its URL line, stop it with SIGTERM or kill
// it with SIGKILL, run `portrait token`. Beside them, what those tests read over
// HTTP: solid-colour uploads, the colour a served JPEG shows, and one owner's
// whole photo (metadata, size list and every size's bytes) as one snapshot.
// Every child is also killed when the test process exits, whatever happened.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { createScratchDatabase } from './postgres.js';

/** dist/src/cli/portrait.js, seen from dist/test/helpers/. */
export const PORTRAIT_CLI = fileURLToPath(new URL('../../src/cli/portrait.js', import.meta.url));

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ServeOptions {
  readonly dataDir: string;
  /** A postgres:// URL; SQLite in the data folder when absent. */
  readonly database?: string;
  /** More `serve` flags. */
  readonly args?: readonly string[];
  /** How long to wait for the "serving at" line (default 20 s). */
  readonly startTimeoutMs?: number;
}

export interface ServerProcess {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** origin + /v1.0 */
  readonly graph: string;
  readonly pid: number;
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** What it wrote on stdout and stderr so far (the tail), for failure messages. */
  output(): string;
  /** SIGKILL, now; resolves when it is gone. */
  kill(): Promise<Exit>;
  /** SIGTERM, then SIGKILL if it has not exited within timeoutMs; resolves when it is gone. */
  stop(timeoutMs?: number): Promise<Exit>;
}

const SERVING = /Portrait is serving Microsoft Graph photos at (http:\/\/\S+?)\/v1\.0/;
const OUTPUT_TAIL = 64 * 1024;

/** Starts `portrait serve --host 127.0.0.1 --port 0 --no-tls` and resolves once it prints its URL. */
export async function startServer(options: ServeOptions): Promise<ServerProcess> {
  const args = [
    PORTRAIT_CLI,
    'serve',
    '--data',
    options.dataDir,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--no-tls',
    ...(options.database === undefined ? [] : ['--database', options.database]),
    ...(options.args ?? []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
  };
  child.stderr.on('data', append);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const timeoutMs = options.startTimeoutMs ?? 20_000;

  let origin: string;
  try {
    origin = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`portrait serve printed no URL within ${timeoutMs} ms`)), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        append(chunk);
        const match = SERVING.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`portrait serve exited (code ${code}, signal ${signal}) before serving`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- output ---\n${output}`);
  }

  const kill = async (): Promise<Exit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  };
  return {
    origin,
    graph: `${origin}/v1.0`,
    pid: child.pid ?? -1,
    exited,
    output: () => output,
    kill,
    async stop(stopTimeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `portrait ARGS…` to completion (killed after timeoutMs). */
export function runCli(args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  return completion(spawn(process.execPath, [PORTRAIT_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), timeoutMs);
}

/** What a child with piped output printed and how it exited (killed after timeoutMs). */
export async function completion(child: ChildProcess, timeoutMs: number): Promise<CliResult> {
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const exit = await new Promise<Exit>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    return { ...exit, stdout, stderr };
  } finally {
    clearTimeout(timer);
    live.delete(child);
  }
}

export interface TokenOptions {
  readonly dataDir: string;
  readonly database?: string;
  /** An application token with these roles (default), or… */
  readonly app?: string;
  readonly roles?: readonly string[];
  /** …a delegated token for this user. */
  readonly user?: string;
  readonly scopes?: readonly string[];
}

/** One token from `portrait token`, as a user of the CLI gets it. */
export async function cliToken(options: TokenOptions): Promise<string> {
  const args = ['token', '--data', options.dataDir, ...(options.database === undefined ? [] : ['--database', options.database])];
  if (options.user !== undefined) {
    args.push('--user', options.user);
    if (options.scopes) args.push('--scopes', options.scopes.join(' '));
  } else {
    args.push('--app', options.app ?? 'tests', '--roles', (options.roles ?? ['User.ReadWrite.All']).join(' '));
  }
  const result = await runCli(args);
  const token = result.stdout.trim();
  if (result.code !== 0 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) {
    throw new Error(`portrait token failed (code ${result.code}, signal ${result.signal}): ${result.stderr || result.stdout}`);
  }
  return token;
}

// ---------------------------------------------------------------------------
// Talking to a served photo.

export type Rgb = readonly [number, number, number];

/** 64 colours, any two at least 85 apart in some channel: {0, 85, 170, 255}³. */
export const PALETTE: readonly Rgb[] = (() => {
  const levels = [0, 85, 170, 255] as const;
  const colours: Rgb[] = [];
  for (const r of levels) for (const g of levels) for (const b of levels) colours.push([r, g, b]);
  return colours;
})();

/** A served JPEG matches a colour when every channel's mean is within this of it. */
export const COLOUR_TOLERANCE = 24;

/** A solid-colour JPEG upload. */
export function solidJpeg(colour: Rgb, size = 700): Promise<Buffer> {
  const [r, g, b] = colour;
  return sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

export interface Decoded {
  readonly width: number;
  readonly height: number;
  readonly format: string | undefined;
  /** Mean R, G, B. */
  readonly mean: Rgb;
  /** The largest channel's standard deviation: about 0 for a solid image. */
  readonly spread: number;
}

export async function decode(bytes: Buffer): Promise<Decoded> {
  // Dimensions from the header; the colour from a small thumbnail, which JPEG
  // shrink-on-load decodes at a fraction of the cost of the full image.
  const meta = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes).resize(16, 16, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  const sum = [0, 0, 0];
  const sumSq = [0, 0, 0];
  for (let i = 0; i < pixels; i++) {
    for (let c = 0; c < 3; c++) {
      const v = data[i * info.channels + (info.channels >= 3 ? c : 0)]!;
      sum[c]! += v;
      sumSq[c]! += v * v;
    }
  }
  const mean = sum.map((s) => s / pixels) as [number, number, number];
  const spread = Math.max(...sumSq.map((sq, c) => Math.sqrt(Math.max(0, sq / pixels - mean[c]! ** 2))));
  return { width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format, mean, spread };
}

/** The index of the one candidate colour `mean` is within tolerance of, or -1 when none (or, impossibly, several). */
export function matchColour(mean: Rgb, candidates: readonly Rgb[], tolerance = COLOUR_TOLERANCE): number {
  const hits: number[] = [];
  candidates.forEach((colour, index) => {
    if (colour.every((value, channel) => Math.abs(value - mean[channel]!) <= tolerance)) hits.push(index);
  });
  return hits.length === 1 ? hits[0]! : -1;
}

export function describeColour(mean: Rgb): string {
  return `rgb(${mean.map((v) => v.toFixed(1)).join(', ')})`;
}

/** fetch with a deadline, so that no test waits on a hung request. */
export function request(url: string, init: RequestInit = {}, timeoutMs = 20_000): Promise<Response> {
  return fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
}

export interface ServedSize {
  /** "48x48", or "photo" for /photo/$value. */
  readonly name: string;
  readonly status: number;
  readonly etag: string | null;
  readonly decoded: Decoded | undefined;
}

export interface PhotoSnapshot {
  /** Of GET …/photo. */
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly etag: string | undefined;
  readonly width: number | undefined;
  readonly height: number | undefined;
  /** The ids of GET …/photos, e.g. "48X48". */
  readonly sizes: readonly { readonly id: string; readonly width: number; readonly height: number; readonly '@odata.mediaEtag': unknown }[];
  /** /photo/$value first, then every listed size's $value. */
  readonly served: readonly ServedSize[];
}

/**
 * Reads one owner's photo the way a client does: metadata, the size list, then
 * every $value. ownerUrl is e.g. http://…/v1.0/users/ID.
 */
export async function photoSnapshot(ownerUrl: string, headers: Record<string, string>): Promise<PhotoSnapshot> {
  const meta = await request(`${ownerUrl}/photo`, { headers });
  const body = (await meta.json()) as Record<string, unknown>;
  const list = await request(`${ownerUrl}/photos`, { headers });
  const listed = list.status === 200 ? (((await list.json()) as { value?: unknown }).value as PhotoSnapshot['sizes']) : [];
  if (list.status !== 200) await list.arrayBuffer();
  const targets = [{ name: 'photo', url: `${ownerUrl}/photo/$value` }].concat(
    listed.map((s) => ({ name: `${s.width}x${s.height}`, url: `${ownerUrl}/photos/${s.width}x${s.height}/$value` })),
  );
  const served = await Promise.all(
    targets.map(async ({ name, url }): Promise<ServedSize> => {
      const res = await request(url, { headers });
      const bytes = Buffer.from(await res.arrayBuffer());
      return { name, status: res.status, etag: res.headers.get('etag'), decoded: res.status === 200 ? await decode(bytes) : undefined };
    }),
  );
  return {
    status: meta.status,
    body,
    etag: typeof body['@odata.mediaEtag'] === 'string' ? body['@odata.mediaEtag'] : undefined,
    width: typeof body.width === 'number' ? body.width : undefined,
    height: typeof body.height === 'number' ? body.height : undefined,
    sizes: listed,
    served,
  };
}

/**
 * Problems that make a snapshot not one whole version: a $value with another ETag,
 * dimensions other than its size, a colour other than the others, metadata that
 * disagrees with the bytes. Empty when it is whole. Colours are compared by index
 * in `colours`; returns the index all sizes show (or -1) beside the problems.
 */
export function wholeness(snapshot: PhotoSnapshot, colours: readonly Rgb[]): { problems: string[]; colour: number } {
  const problems: string[] = [];
  if (snapshot.status !== 200) return { problems: [`GET /photo answered ${snapshot.status}`], colour: -1 };
  const shown = new Set<number>();
  for (const size of snapshot.sizes) {
    const etag = size['@odata.mediaEtag'];
    if (etag !== snapshot.etag) problems.push(`/photos lists ${size.id} with mediaEtag ${String(etag)}, /photo says ${snapshot.etag}`);
  }
  for (const served of snapshot.served) {
    if (served.status !== 200 || !served.decoded) {
      problems.push(`${served.name} $value answered ${served.status}`);
      continue;
    }
    if (served.etag !== snapshot.etag) problems.push(`${served.name} $value has ETag ${served.etag}, metadata says ${snapshot.etag}`);
    const { width, height } =
      served.name === 'photo'
        ? { width: snapshot.width, height: snapshot.height }
        : { width: Number(served.name.split('x')[0]), height: Number(served.name.split('x')[1]) };
    if (served.decoded.width !== width || served.decoded.height !== height) {
      problems.push(`${served.name} $value is ${served.decoded.width}x${served.decoded.height}, expected ${width}x${height}`);
    }
    const colour = matchColour(served.decoded.mean, colours);
    if (colour === -1) problems.push(`${served.name} $value shows ${describeColour(served.decoded.mean)}, no colour sent`);
    shown.add(colour);
  }
  if (shown.size > 1) problems.push(`sizes show different colours: ${[...shown].join(', ')}`);
  const primaryListed = snapshot.sizes.some((s) => s.width === snapshot.width && s.height === snapshot.height);
  if (!primaryListed) problems.push(`/photo is ${snapshot.width}x${snapshot.height}, which /photos does not list`);
  return { problems, colour: shown.size === 1 ? [...shown][0]! : -1 };
}

// ---------------------------------------------------------------------------
// Two servers on one store.

export interface TwoNodes {
  readonly a: ServerProcess;
  readonly b: ServerProcess;
  /** Node A's data folder (on SQLite, B's too): where `portrait token` and `import` find the issuer key. */
  readonly dataDir: string;
  /** The scratch PostgreSQL database both use; undefined on SQLite. */
  readonly database: string | undefined;
  /** Stops both (each must exit 0), drops the database, removes the folders. */
  stop(): Promise<void>;
}

/**
 * Two `portrait serve` processes that are one installation: on SQLite one data folder; on
 * PostgreSQL one scratch database, each node with a folder of its own holding the same
 * issuer key.
 */
export async function startTwoNodes(kind: 'sqlite' | 'postgres', prefix: string): Promise<TwoNodes> {
  const dirs = [mkdtempSync(join(tmpdir(), `${prefix}-`))];
  const dataDir = dirs[0] as string;
  let drop: (() => Promise<void>) | undefined;
  let database: string | undefined;
  let dataB = dataDir;
  if (kind === 'postgres') {
    ({ drop, url: database } = await createScratchDatabase());
    dataB = mkdtempSync(join(tmpdir(), `${prefix}-b-`));
    dirs.push(dataB);
  }
  const nodes: ServerProcess[] = [];
  const stop = async () => {
    const exits = await Promise.all(nodes.map((node) => node.stop()));
    await drop?.();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    for (const [i, exit] of exits.entries()) {
      if (exit.code !== 0 || exit.signal !== null) throw new Error(`node ${i} exited ${exit.code ?? exit.signal}:\n${nodes[i]?.output()}`);
    }
  };
  try {
    nodes.push(await startServer({ dataDir, ...(database !== undefined && { database }) }));
    if (dataB !== dataDir) copyFileSync(join(dataDir, 'issuer-key.pem'), join(dataB, 'issuer-key.pem'));
    nodes.push(await startServer({ dataDir: dataB, ...(database !== undefined && { database }) }));
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  return { a: nodes[0] as ServerProcess, b: nodes[1] as ServerProcess, dataDir, database, stop };
}
