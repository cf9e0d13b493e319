// The servers under measurement, each a real process: `portrait serve` as an
// operator starts it, nginx from Debian with a generated minimal configuration,
// and a bare node:http(s) server (bare-server.ts) — the last two serve the same
// bytes as Portrait, with the same headers, from a folder that mirrors Graph's
// paths. Plus `portrait token` and `portrait migrate-store`, run as a user would.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild, startChild, type Child } from './children.js';
import { collect, collectableServer, type Collected } from './collected.js';
import { request } from './http.js';

/** dist/src/cli/portrait.js, seen from dist/bench/. */
const PORTRAIT_CLI = fileURLToPath(new URL('../src/cli/portrait.js', import.meta.url));
const BARE_SERVER = fileURLToPath(new URL('./bare-server.js', import.meta.url));

const SERVING = /Portrait is serving Microsoft Graph photos at (https?:\/\/\S+?)\/v1\.0/;
const START_TIMEOUT_MS = 60_000;

export interface RunningServer {
  readonly pid: number;
  readonly child: Child;
  stop(): Promise<void>;
}

export interface Portrait extends RunningServer {
  /** http(s)://127.0.0.1:PORT */
  readonly origin: string;
  readonly dataDir: string;
  /** From spawn to the "serving at" line. */
  readonly startupMs: number;
  /** What it holds after a full collection (collected.ts); only when started `collectable`. */
  collect(): Promise<Collected>;
}

export interface PortraitOptions {
  readonly dataDir: string;
  readonly tls: boolean;
  /** A postgres:// URL (`--database`); SQLite in the data folder when absent. */
  readonly database?: string;
  /** More `serve` flags: --upload-concurrency 1 … */
  readonly args?: readonly string[];
  /** Whether `collect()` may be asked: the server runs with collect-on-signal.ts loaded. */
  readonly collectable?: boolean;
}

export async function startPortrait(options: PortraitOptions): Promise<Portrait> {
  const collectedFile = join(options.dataDir, 'bench-collected.json');
  const collectable = options.collectable === true ? collectableServer(collectedFile) : undefined;
  const args = [...(collectable?.nodeArgs ?? []), PORTRAIT_CLI, 'serve', '--data', options.dataDir, '--host', '127.0.0.1', '--port', '0'];
  if (!options.tls) args.push('--no-tls');
  if (options.database !== undefined) args.push('--database', options.database);
  args.push(...(options.args ?? []));
  const child = startChild(process.execPath, args, collectable === undefined ? {} : { env: { ...process.env, ...collectable.env } });
  const { match, at } = await child.waitFor(SERVING, START_TIMEOUT_MS);
  return {
    pid: child.pid,
    child,
    origin: match[1] as string,
    dataDir: options.dataDir,
    startupMs: at - child.spawnedAt,
    stop: () => stopServer(child, 'SIGTERM'),
    collect: () => (collectable === undefined ? Promise.reject(new Error('the server was not started collectable')) : collect(child.pid, collectedFile)),
  };
}

export interface Token {
  readonly token: string;
  /** The token's `oid`: the user's id (for delegated tokens). */
  readonly objectId: string;
}

/** `portrait token --user UPN` (the user is created on first use), with the default scopes. */
export async function userToken(dataDir: string, userPrincipalName: string, database?: string): Promise<Token> {
  const args = [PORTRAIT_CLI, 'token', '--data', dataDir, '--user', userPrincipalName];
  if (database !== undefined) args.push('--database', database);
  const token = (await runChild(process.execPath, args)).trim();
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { oid?: unknown };
  if (typeof payload.oid !== 'string') throw new Error('portrait token printed a token without an oid');
  return { token, objectId: payload.oid };
}

/** `portrait init`: the data folder set up as serve's first start would (token refuses one that is not). */
export async function initData(dataDir: string): Promise<void> {
  await runChild(process.execPath, [PORTRAIT_CLI, 'init', '--data', dataDir]);
}

/** `portrait migrate-store --from FROM --to TO`: a whole installation copied, as an operator moves it. */
export async function migrateStore(from: string, to: string): Promise<string> {
  return (await runChild(process.execPath, [PORTRAIT_CLI, 'migrate-store', '--from', from, '--to', to])).trim();
}

export interface StaticServer extends RunningServer {
  readonly httpOrigin: string;
  readonly httpsOrigin: string;
}

/** What bare-server.ts reads: the folder to serve and the headers to serve it with. */
export interface BareServerConfig {
  readonly root: string;
  /** URL paths (under root on disk) and their content types. */
  readonly files: readonly { readonly path: string; readonly contentType: string }[];
  /** The ETag Portrait gave these bytes, so that the same If-None-Match gets a 304. */
  readonly etag: string;
  readonly cacheControl: string;
  readonly certFile: string;
  readonly keyFile: string;
}

const BARE_LISTENING = /listening at (http:\/\/\S+) and (https:\/\/\S+)/;

export async function startBare(config: BareServerConfig, workDir: string): Promise<StaticServer> {
  const configFile = join(workDir, 'bare-server.json');
  writeFileSync(configFile, JSON.stringify(config));
  const child = startChild(process.execPath, [BARE_SERVER, configFile]);
  const { match } = await child.waitFor(BARE_LISTENING, START_TIMEOUT_MS);
  return {
    pid: child.pid,
    child,
    httpOrigin: match[1] as string,
    httpsOrigin: match[2] as string,
    stop: () => stopServer(child, 'SIGTERM'),
  };
}

export interface NginxOptions {
  readonly nginx: string;
  /** A fresh folder for its configuration, pid file, logs and temp files. */
  readonly workDir: string;
  readonly workers: number;
  readonly root: string;
  /** Served as image/jpeg; every other file as JSON. */
  readonly jsonPaths: readonly string[];
  readonly cacheControl: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** nginx in the foreground with one plain and one TLS listener on free ports. */
export async function startNginx(options: NginxOptions): Promise<StaticServer> {
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  mkdirSync(join(options.workDir, 'temp'), { recursive: true });
  const configFile = join(options.workDir, 'nginx.conf');
  writeFileSync(configFile, nginxConfig(options, httpPort, httpsPort));
  const errorLog = join(options.workDir, 'error.log');
  const child = startChild(options.nginx, ['-p', options.workDir, '-c', configFile, '-e', errorLog], { exitSignal: 'SIGTERM' });
  const httpOrigin = `http://127.0.0.1:${httpPort}`;
  const httpsOrigin = `https://127.0.0.1:${httpsPort}`;
  await waitUntilAnswering(child, [httpOrigin, httpsOrigin]);
  // SIGQUIT is nginx's graceful stop; its master waits for the worker.
  return { pid: child.pid, child, httpOrigin, httpsOrigin, stop: () => stopServer(child, 'SIGQUIT') };
}

function nginxConfig(options: NginxOptions, httpPort: number, httpsPort: number): string {
  const temp = join(options.workDir, 'temp');
  // Same headers as Portrait's photo answers; $request_id stands in for its request ids.
  const headers = `
      add_header cache-control "${options.cacheControl}";
      add_header x-content-type-options nosniff;
      add_header request-id $request_id;
      add_header client-request-id $request_id;`;
  const json = options.jsonPaths.map(
    (path) => `
    location = ${path} {
      default_type "application/json; charset=utf-8";${headers}
    }`,
  );
  const locations = `
    root ${options.root};
    default_type image/jpeg;
    location / {${headers}
    }${json.join('')}`;
  return `# Generated by the Portrait bench: a static-file reference, tuned as for production.
daemon off;
worker_processes ${options.workers};
pid ${join(options.workDir, 'nginx.pid')};
error_log ${join(options.workDir, 'error.log')} warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  open_file_cache max=1000 inactive=60s;
  # Node keeps a connection for any number of requests; nginx's default closes it after 1000.
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:${httpPort};${locations}
  }
  server {
    listen 127.0.0.1:${httpsPort} ssl;
    ssl_certificate ${options.certFile};
    ssl_certificate_key ${options.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;${locations}
  }
}
`;
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilAnswering(child: Child, origins: readonly string[]): Promise<void> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (const origin of origins) {
    for (;;) {
      if (!child.alive()) throw new Error(`nginx exited:\n${child.output()}`);
      try {
        await request(`${origin}/`, { method: 'HEAD', timeoutMs: 1000 });
        break;
      } catch (error) {
        if (performance.now() > deadline) throw new Error(`nginx did not answer on ${origin}: ${String(error)}\n${child.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }
}

async function stopServer(child: Child, signal: NodeJS.Signals): Promise<void> {
  await child.stop(signal, 15_000);
}
