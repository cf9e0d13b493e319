// What the official Graph client tests share: a real `portrait serve` over HTTPS
// with its own self-signed certificate, plain HTTPS calls that trust only that
// certificate (to create the users, groups, teams and contacts the clients then
// photograph), and a runner for client scripts.
//
// The clients use Node's built-in fetch, which takes no CA per request: the
// documented way to trust a certificate is NODE_EXTRA_CA_CERTS, read when a
// process starts. So each client script runs as its own `node script.mjs` with
// NODE_EXTRA_CA_CERTS=<the server's tls-cert.pem>, exactly as the README tells a
// user to run theirs. Scripts live in a scratch folder whose node_modules is a
// link to the repository's, so they import the packages by their plain names.
// A small harness module records each step's outcome (value or error, made
// JSON) and, through Node's documented `undici:request:*` diagnostics channels,
// every request the client put on the wire (method, URL, headers, status):
// observation only, nothing in the clients is patched or wrapped.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PORTRAIT_CLI } from './server-process.js';

/** The repository's node_modules, seen from dist/test/helpers/. */
const NODE_MODULES = fileURLToPath(new URL('../../../node_modules', import.meta.url));
/** The real photos, for the client scripts (which read them by path). */
export { PHOTOS_DIR } from './images.js';
/** README.md, seen from dist/test/helpers/. */
export const README = fileURLToPath(new URL('../../../README.md', import.meta.url));

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

// ---------------------------------------------------------------------------
// The server

export interface HttpsServer {
  /** https://localhost:PORT, the name its certificate is made for. */
  readonly origin: string;
  /** origin + /v1.0 */
  readonly graph: string;
  /** The data folder's tls-cert.pem, as `serve` printed it. */
  readonly certPath: string;
  readonly ca: Buffer;
  /** What it printed so far, for failure messages. */
  output(): string;
  /** SIGTERM, SIGKILL after 15 s; resolves once it has exited. */
  stop(): Promise<void>;
}

const SERVING = /Portrait is serving Microsoft Graph photos at https:\/\/localhost:(\d+)\/v1\.0/;
const CERTIFICATE = /certificate:\s+(\S+)/;

/** `portrait serve --data DIR --host localhost --port 0 [ARGS…]`: HTTPS with the certificate it makes. */
export async function startHttpsServer(dataDir: string, args: readonly string[] = [], env: Record<string, string> = {}): Promise<HttpsServer> {
  const portArgs = args.includes('--port') ? [] : ['--port', '0'];
  const child = spawn(process.execPath, [PORTRAIT_CLI, 'serve', '--data', dataDir, '--host', 'localhost', ...portArgs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  live.add(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => void (output = (output + chunk).slice(-65536)));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (output = (output + chunk).slice(-65536)));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const { port, certPath } = await new Promise<{ port: string; certPath: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('portrait serve printed no https URL within 20 s')), 20_000);
      const look = () => {
        const port = SERVING.exec(output)?.[1];
        const certPath = CERTIFICATE.exec(output)?.[1];
        if (port === undefined || certPath === undefined) return;
        clearTimeout(timer);
        resolve({ port, certPath });
      };
      child.stdout.on('data', look);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error('portrait serve exited before serving'));
      });
    });
    const origin = `https://localhost:${port}`;
    return { origin, graph: `${origin}/v1.0`, certPath, ca: await readFile(certPath), output: () => output, stop };
  } catch (error) {
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- output ---\n${output}`);
  }
}

// ---------------------------------------------------------------------------
// Plain HTTPS, for setting up and checking (the clients are what is tested)

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  json(): any;
}

/** One request to the server, trusting only its certificate (no rejectUnauthorized: false). */
export function call(server: HttpsServer, token: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (payload !== undefined && !Buffer.isBuffer(body)) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(`${server.graph}${path}`), { method, headers, ca: server.ca, agent: false, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => {
        const data = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, json: () => JSON.parse(data.toString('utf8')) });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.once('error', reject);
    req.end(payload);
  });
}

/** A call that must answer `status`; returns its JSON body (or null when empty). */
export async function expectCall(server: HttpsServer, token: string, method: string, path: string, status: number, body?: unknown): Promise<any> {
  const reply = await call(server, token, method, path, body);
  if (reply.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${reply.status}: ${reply.body.toString('utf8')}`);
  return reply.body.length === 0 ? null : reply.json();
}

// ---------------------------------------------------------------------------
// Client scripts

/** One request the client sent, as the diagnostics channel saw it. */
export interface WireRequest {
  /** The step that was running. */
  readonly step: string | null;
  readonly method: string;
  readonly url: string;
  /** Lower-cased names; `authorization` is reduced to its scheme ("Bearer …"). */
  readonly headers: Record<string, string>;
  /** The response's status and headers, when one came. */
  readonly status?: number;
  readonly responseHeaders?: Record<string, string>;
}

/** A step's value, made JSON by the harness. */
export type StepValue =
  | { readonly kind: 'undefined' }
  | { readonly kind: 'bytes'; readonly type: string; readonly base64: string }
  | { readonly kind: 'json'; readonly type: string; readonly json: any };

export type StepResult =
  | { readonly ok: true; readonly value: StepValue }
  | {
      readonly ok: false;
      /** The error's own fields (GraphError: statusCode, code, requestId, date, body; ODataError: responseStatusCode, errorEscaped…) plus these. */
      readonly error: { readonly type: string; readonly name?: string; readonly message?: string; readonly [field: string]: any };
    };

export interface ScriptRun {
  readonly results: Record<string, StepResult>;
  readonly wire: readonly WireRequest[];
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** The harness every scenario script imports as ./harness.mjs. */
const HARNESS = String.raw`
import diagnostics_channel from 'node:diagnostics_channel';
import { Readable } from 'node:stream';

const results = {};
const wire = [];
const byRequest = new WeakMap();
let current = null;

const pairs = (list) => {
  const out = {};
  const flat = Array.isArray(list) ? list : String(list ?? '').split('\r\n').flatMap((line) => { const i = line.indexOf(':'); return i > 0 ? [line.slice(0, i), line.slice(i + 1).trim()] : []; });
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = String(flat[i]).toLowerCase();
    let value = String(flat[i + 1]);
    if (name === 'authorization') value = value.split(' ')[0] + ' …';
    out[name] = name in out ? out[name] + ', ' + value : value;
  }
  return out;
};
diagnostics_channel.subscribe('undici:request:create', ({ request }) => {
  const entry = { step: current, method: request.method, url: request.origin + request.path, headers: pairs(request.headers) };
  byRequest.set(request, entry);
  wire.push(entry);
});
diagnostics_channel.subscribe('undici:request:headers', ({ request, response }) => {
  const entry = byRequest.get(request);
  if (!entry) return;
  entry.status = response.statusCode;
  entry.responseHeaders = pairs(response.headers.map(String));
});

async function bytesOf(value) {
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof Blob !== 'undefined' && value instanceof Blob) return Buffer.from(await value.arrayBuffer());
  if (value instanceof ReadableStream) return Buffer.from(await new Response(value).arrayBuffer());
  if (value instanceof Readable) { const chunks = []; for await (const chunk of value) chunks.push(chunk); return Buffer.concat(chunks); }
  return undefined;
}

async function plain(value) {
  if (value === undefined) return { kind: 'undefined' };
  const type = value === null ? 'null' : (value.constructor?.name ?? typeof value);
  const bytes = await bytesOf(value);
  if (bytes) return { kind: 'bytes', type, base64: bytes.toString('base64') };
  return { kind: 'json', type, json: JSON.parse(JSON.stringify(value)) };
}

function plainError(error) {
  const own = error !== null && typeof error === 'object' ? JSON.parse(JSON.stringify(error)) : { value: String(error) };
  return { ...own, type: error?.constructor?.name ?? typeof error, name: error?.name, message: error?.message };
}

/** Runs one named step; its value or error, and the requests it made, go into the report. */
export async function step(name, run) {
  current = name;
  try {
    results[name] = { ok: true, value: await plain(await run()) };
  } catch (error) {
    results[name] = { ok: false, error: plainError(error) };
  } finally {
    current = null;
  }
}

/** Prints the report, one JSON line, last on stdout. */
export function report() {
  process.stdout.write('\n' + JSON.stringify({ results, wire }) + '\n');
}
`;

export interface ScriptFolder {
  readonly dir: string;
  /**
   * Writes `source` as NAME.mjs beside harness.mjs and runs `node NAME.mjs ARGS…` there with
   * NODE_EXTRA_CA_CERTS = the server's certificate and `env`. Rejects, with its output,
   * when it exits non-zero or prints no report (unless `report: false`).
   */
  run(name: string, source: string, options: { env?: Record<string, string>; args?: readonly string[]; report?: boolean }): Promise<ScriptRun>;
  remove(): Promise<void>;
}

export async function scriptFolder(server: HttpsServer): Promise<ScriptFolder> {
  const dir = await mkdtemp(join(tmpdir(), 'portrait-clients-'));
  await symlink(NODE_MODULES, join(dir, 'node_modules'), 'dir');
  await writeFile(join(dir, 'harness.mjs'), HARNESS);
  return {
    dir,
    async run(name, source, options) {
      const file = join(dir, `${name}.mjs`);
      await writeFile(file, source);
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: server.certPath, ...options.env };
      delete env.NODE_TEST_CONTEXT; // a child of the test runner, not a test file
      delete env.NODE_OPTIONS;
      const started = Date.now();
      const child = spawn(process.execPath, [file, ...(options.args ?? [])], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      live.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => void (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (exitCode) => resolve(exitCode));
      }).finally(() => {
        clearTimeout(timer);
        live.delete(child);
      });
      const ms = Date.now() - started;
      const failure = (why: string) => new Error(`node ${name}.mjs ${why}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout.slice(-4000)}`);
      if (code !== 0) throw failure(`exited with ${code}`);
      if (options.report === false) return { results: {}, wire: [], stdout, stderr, ms };
      const last = stdout.trimEnd().split('\n').at(-1) ?? '';
      let parsed: { results: Record<string, StepResult>; wire: WireRequest[] };
      try {
        parsed = JSON.parse(last) as typeof parsed;
      } catch {
        throw failure('printed no report');
      }
      return { ...parsed, stdout, stderr, ms };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

// ---------------------------------------------------------------------------
// Reading a report

/** The step's value; fails, showing the error, when the step threw. */
export function valueOf(run: ScriptRun, name: string): StepValue {
  const result = run.results[name];
  if (result === undefined) throw new Error(`no step '${name}' in the report (steps: ${Object.keys(run.results).join(', ')})`);
  if (!result.ok) throw new Error(`step '${name}' threw: ${JSON.stringify(result.error)}`);
  return result.value;
}

/** The step's JSON value. */
export function jsonOf(run: ScriptRun, name: string): any {
  const value = valueOf(run, name);
  if (value.kind !== 'json') throw new Error(`step '${name}' gave ${value.kind}, not JSON: ${JSON.stringify(value).slice(0, 300)}`);
  return value.json;
}

/** The step's bytes (ArrayBuffer, Blob, stream…). */
export function bytesOf(run: ScriptRun, name: string): Buffer {
  const value = valueOf(run, name);
  if (value.kind !== 'bytes') throw new Error(`step '${name}' gave ${value.kind}, not bytes: ${JSON.stringify(value).slice(0, 300)}`);
  return Buffer.from(value.base64, 'base64');
}

/** The step's error; fails when the step succeeded. */
export function errorOf(run: ScriptRun, name: string): Extract<StepResult, { ok: false }>['error'] {
  const result = run.results[name];
  if (result === undefined) throw new Error(`no step '${name}' in the report (steps: ${Object.keys(run.results).join(', ')})`);
  if (result.ok) throw new Error(`step '${name}' succeeded, an error was expected: ${JSON.stringify(result.value).slice(0, 300)}`);
  return result.error;
}

/** The requests a step sent. */
export function wireOf(run: ScriptRun, name: string): WireRequest[] {
  return run.wire.filter((entry) => entry.step === name);
}

/** The one request a step sent; fails when it sent none or several. */
export function onlyRequestOf(run: ScriptRun, name: string): WireRequest {
  const requests = wireOf(run, name);
  if (requests.length !== 1) throw new Error(`step '${name}' sent ${requests.length} requests: ${JSON.stringify(requests)}`);
  return requests[0]!;
}

/** The fenced code block that follows `marker` in the README (its text, without the fences). */
export async function readmeSnippet(marker: string): Promise<string> {
  const text = await readFile(README, 'utf8');
  const at = text.indexOf(marker);
  if (at === -1) throw new Error(`README.md has no '${marker}'`);
  const match = /```[a-z]*\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (!match?.[1]) throw new Error(`README.md has no code block after '${marker}'`);
  return match[1];
}
