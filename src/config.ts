// loadServeConfig(argv, env) → a validated, frozen Config for `portrait serve`. Read
// once at start and passed down; nothing else reads flags or the environment.
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { TrustedIssuer } from './auth/token-verifier.js';
import { canonicalOrigin, type CorsOrigins } from './http/cors.js';
import { BODY_MIN_BYTES_PER_SECOND, BODY_TIMEOUT_MS } from './http/limits.js';
import { defaultCacheBytes } from './photos/photo-cache.js';
import { StoreLocationError, storeLocation, type StoreLocation } from './storage/open-store.js';
import { MAX_DELAYED } from './traffic/fault-simulator.js';
import { parseFaultRule, type FaultRule } from './traffic/fault-spec.js';
import { parseThrottleSpec, type Limit } from './traffic/throttle-spec.js';

/** A bad flag or argument: the CLI prints its one-line message and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type TlsConfig =
  | { readonly mode: 'self-signed' }
  | { readonly mode: 'files'; readonly certFile: string; readonly keyFile: string }
  | { readonly mode: 'none' };

export interface Config {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly tls: TlsConfig;
  /** Where Portrait keeps its data: a SQLite file or a PostgreSQL database. */
  readonly database: StoreLocation;
  readonly publicUrl: string | undefined;
  readonly pixelLimit: number;
  readonly uploadConcurrency: number;
  readonly uploadQueueLimit: number;
  /** The longest one request body may take to arrive. */
  readonly bodyTimeoutMs: number;
  /** The least average rate of a body after its first seconds; 0 judges no rate. */
  readonly bodyMinBytesPerSecond: number;
  /** Bytes all request bodies in flight may hold together; by default sized to the upload queue (http/limits.ts). */
  readonly bodyMemoryBytes: number | undefined;
  /** Bytes the renders of all uploads may hold at once (src/photos/decode-budget.ts). */
  readonly decodeMemoryBytes: number;
  /** Bytes of hot photo sizes kept in memory; 0 turns the cache off. */
  readonly cacheBytes: number;
  readonly autoProvisionUsers: boolean;
  /** `--dev-sign-in`: the built-in issuer's password-less sign-in page even when others can reach it. */
  readonly devSignIn: boolean;
  readonly trustedIssuers: readonly TrustedIssuer[];
  readonly audiences: readonly string[];
  /** The origins whose pages may call the API from a browser (http/cors.ts). */
  readonly corsOrigins: CorsOrigins;
  readonly clockSkewSeconds: number;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  /** `--throttle`: Graph-like request budgets (traffic/throttle-spec.ts); empty: off, the default. */
  readonly throttleLimits: readonly Limit[];
  /** `--simulate` (repeatable): faults and latency on purpose (traffic/fault-spec.ts); empty: none. */
  readonly faultRules: readonly FaultRule[];
  /** `--seed`: makes --simulate's decisions repeat; a random one (printed) when absent. */
  readonly seed: number | undefined;
  /** `--simulate-max-delayed`: requests waiting out a simulated latency at once. */
  readonly maxDelayed: number;
  /** A plain-HTTP listener for GET /metrics with no token (http/metrics-route.ts); none when undefined. */
  readonly metricsPort: number | undefined;
  /** Where that listener binds: loopback unless said otherwise, since it asks for no token. */
  readonly metricsHost: string;
  /**
   * `--web-client-id` and `--web-authority`: the web app signs people in at the organisation's
   * OpenID Connect provider as this client, instead of at the built-in issuer; `--web-scope`
   * (repeatable) replaces the scopes it asks for.
   */
  readonly webSignIn: { readonly clientId: string; readonly authority: string } | undefined;
  readonly webScopes: readonly string[] | undefined;
}

/**
 * `serve`'s flags: what parseArgs reads, and what `serve --help`, the README's flag list
 * (test/cli-help.test.ts compares them) and the PORTRAIT_* variables are made from. A new
 * flag is one entry here: it gets its help line and its environment variable with it.
 */
export const SERVE_OPTIONS = {
  data: { type: 'string', value: 'DIR', description: 'the data folder: SQLite database, issuer key, certificate (default ./data)' },
  host: { type: 'string', value: 'H', description: 'the host name or address to listen on (default localhost)' },
  port: { type: 'string', value: 'P', description: 'the port to listen on, 0 for any free one (default 8443)' },
  'tls-cert': { type: 'string', value: 'FILE', description: 'the PEM certificate chain to serve, with --tls-key (default: a self-signed one in the data folder)' },
  'tls-key': { type: 'string', value: 'FILE', description: 'the PEM private key of --tls-cert' },
  'no-tls': { type: 'boolean', description: 'serve plain HTTP (behind a proxy that terminates TLS)' },
  database: { type: 'string', value: 'FILE|postgres://…', description: 'a SQLite file or a PostgreSQL URL (default DIR/portrait.db)' },
  'pool-size': { type: 'string', value: 'N', description: 'PostgreSQL connections per node (default 10)' },
  'public-url': { type: 'string', value: 'URL', description: 'the URL clients use, when a proxy stands in front' },
  'pixel-limit': { type: 'string', value: 'N', description: 'the most pixels an upload may have (default 50,000,000)' },
  'upload-concurrency': { type: 'string', value: 'N', description: 'uploads processed at once (default 2 per core)' },
  'upload-queue': { type: 'string', value: 'N', description: 'uploads that may wait for a slot, then 429 (default 64)' },
  'body-timeout': { type: 'string', value: 'SECONDS', description: 'the longest a request body may take to arrive (default 120)' },
  'body-min-rate': { type: 'string', value: 'BYTES', description: 'the least bytes per second of a body after its first 10 s, 0 for none (default 4096)' },
  'body-memory-mb': { type: 'string', value: 'N', description: 'MiB all request bodies in flight may hold (default sized to the upload queue)' },
  'decode-memory-mb': { type: 'string', value: 'N', description: 'MiB all uploads may decode in at once (default 192, or 48 per upload slot)' },
  'cache-mb': { type: 'string', value: 'N', description: 'MiB of photo sizes kept in memory, 0 for none (default: an eighth of the memory, 64 to 1024)' },
  'no-auto-provision': { type: 'boolean', description: 'do not create a user seen first in a delegated token' },
  'dev-sign-in': { type: 'boolean', description: 'offer the password-less sign-in page to anyone who can reach the server, not only this machine (development only)' },
  issuer: { type: 'string', multiple: true, value: 'ISSUER[=JWKS_URL]', description: 'trust this token issuer too; {tenantid} stands for the token\'s tid (repeatable)' },
  audience: { type: 'string', multiple: true, value: 'AUD', description: 'accept this token audience too (repeatable)' },
  'cors-origin': { type: 'string', multiple: true, value: 'ORIGIN', description: 'let browser pages of only these origins call the API (repeatable; default any origin)' },
  'clock-skew': { type: 'string', value: 'SECONDS', description: 'leeway for exp and nbf (default 60)' },
  'log-level': { type: 'string', value: 'LEVEL', description: 'fatal, error, warn, info (one access line per request), debug, trace or silent (default info)' },
  'shutdown-timeout': { type: 'string', value: 'SECONDS', description: 'how long requests in flight may finish after SIGTERM (default 10)' },
  throttle: { type: 'string', value: 'off|graph|app=N/WINDOW,user=N/WINDOW,write=N/WINDOW', description: 'throttle as Graph does, 429 with Retry-After when a budget is spent (default off)' },
  simulate: {
    type: 'string',
    multiple: true,
    value: "'[METHODS ]PATTERN: RULE, …'",
    description: "faults and latency on purpose, e.g. 'GET /v1.0/users/*/photo*: latency=100-500ms, 429=10%' (repeatable; in the variable, separated by ';')",
    listSeparator: ';',
  },
  seed: { type: 'string', value: 'N', description: "repeat --simulate's decisions in the same order (default: a random seed, printed)" },
  'simulate-max-delayed': { type: 'string', value: 'N', description: 'requests that may wait out a simulated latency at once (default 1000)' },
  'metrics-port': { type: 'string', value: 'P', description: 'also serve GET /metrics without a token, over plain HTTP, on this port (default: none)' },
  'metrics-host': { type: 'string', value: 'H', description: 'where --metrics-port listens (default 127.0.0.1)' },
  'web-client-id': { type: 'string', value: 'ID', description: "the web app signs people in at the organisation's provider as this client, with --web-authority (default: at the built-in issuer)" },
  'web-authority': { type: 'string', value: 'URL', description: "where the web app signs people in with --web-client-id (an OpenID Connect authority, e.g. https://login.microsoftonline.com/{tenant}/v2.0)" },
  'web-scope': { type: 'string', multiple: true, value: 'SCOPE', description: 'the scopes the web app asks for (repeatable; default User.ReadWrite.All Group.ReadWrite.All)' },
} as const satisfies FlagTable;

const DEFAULT_AUDIENCES = ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Every flag can also come from its PORTRAIT_* variable (envName); a flag given wins.
 * A bad value from the environment is named by its variable, not the flag.
 */
export function loadServeConfig(argv: readonly string[], env: Environment = {}): Config {
  const { values, positionals, fromEnvironment } = parseFlagsWithEnvironment(argv, SERVE_OPTIONS, env, 'all');
  try {
    return serveConfig(values, positionals);
  } catch (error) {
    // A --database of an unknown scheme is a usage error here too, named like any other.
    throw error instanceof UsageError || error instanceof StoreLocationError ? new UsageError(nameVariables(error.message, fromEnvironment)) : error;
  }
}

function serveConfig(values: ReturnType<typeof parseFlags<typeof SERVE_OPTIONS>>['values'], positionals: readonly string[]): Config {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const dataDir = resolve(values.data ?? 'data');
  if (values['no-tls'] && (values['tls-cert'] || values['tls-key'])) {
    throw new UsageError('--no-tls cannot be combined with --tls-cert or --tls-key');
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new UsageError(values['tls-cert'] ? '--tls-cert needs --tls-key' : '--tls-key needs --tls-cert');
  }
  const tls: TlsConfig = values['no-tls']
    ? { mode: 'none' }
    : values['tls-cert'] && values['tls-key']
      ? { mode: 'files', certFile: resolve(values['tls-cert']), keyFile: resolve(values['tls-key']) }
      : { mode: 'self-signed' };
  // info: one access line per request (http/access-log.ts); warn keeps only problems.
  const logLevel = values['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const config = {
    dataDir,
    host: values.host ?? 'localhost',
    port: integerFlag('--port', values.port, 8443, 0, 65535),
    tls,
    database: storeLocation(values.database, dataDir, integerFlag('--pool-size', values['pool-size'], 10, 1, 1000)),
    publicUrl: values['public-url'] === undefined ? undefined : urlFlag('--public-url', values['public-url']).replace(/\/$/, ''),
    pixelLimit: integerFlag('--pixel-limit', values['pixel-limit'], DEFAULT_PIXEL_LIMIT, 1, 1_000_000_000),
    // Two per core: libvips runs one thread per image here (see serve.ts), so two uploads
    // a core keep every core busy while one waits on its body or the database.
    uploadConcurrency: integerFlag('--upload-concurrency', values['upload-concurrency'], 2 * Math.max(1, cpus().length), 1, 256),
    uploadQueueLimit: integerFlag('--upload-queue', values['upload-queue'], 64, 0, 100_000),
    // Defaults and their reasons: http/limits.ts. The budget holds at least one whole 4 MiB body.
    bodyTimeoutMs: integerFlag('--body-timeout', values['body-timeout'], BODY_TIMEOUT_MS / 1000, 1, 3600) * 1000,
    bodyMinBytesPerSecond: integerFlag('--body-min-rate', values['body-min-rate'], BODY_MIN_BYTES_PER_SECOND, 0, 1024 * 1024 * 1024),
    bodyMemoryBytes:
      values['body-memory-mb'] === undefined ? undefined : integerFlag('--body-memory-mb', values['body-memory-mb'], 0, 4, 1_048_576) * 1024 * 1024,
    cacheBytes:
      values['cache-mb'] === undefined ? defaultCacheBytes(processMemory()) : integerFlag('--cache-mb', values['cache-mb'], 0, 0, 65_536) * 1024 * 1024,
    autoProvisionUsers: !values['no-auto-provision'],
    devSignIn: values['dev-sign-in'] === true,
    trustedIssuers: (values.issuer ?? []).map(issuerFlag),
    audiences: [...DEFAULT_AUDIENCES, ...(values.audience ?? [])],
    corsOrigins: corsOriginsFlag(values['cors-origin']),
    clockSkewSeconds: integerFlag('--clock-skew', values['clock-skew'], 60, 0, 3600),
    logLevel,
    shutdownTimeoutMs: integerFlag('--shutdown-timeout', values['shutdown-timeout'], 10, 0, 3600) * 1000,
    throttleLimits: specFlag(() => parseThrottleSpec(values.throttle ?? 'off')).limits,
    faultRules: (values.simulate ?? []).map((text) => specFlag(() => parseFaultRule(text))),
    seed: values.seed === undefined ? undefined : integerFlag('--seed', values.seed, 0, 0, 2 ** 32 - 1),
    maxDelayed: integerFlag('--simulate-max-delayed', values['simulate-max-delayed'], MAX_DELAYED, 0, 100_000),
    metricsPort: values['metrics-port'] === undefined ? undefined : integerFlag('--metrics-port', values['metrics-port'], 0, 0, 65535),
    metricsHost: values['metrics-host'] ?? '127.0.0.1',
    webSignIn: webSignInFlags(values['web-client-id'], values['web-authority']),
    webScopes: values['web-scope']?.flatMap((scope) => scope.split(' ')).filter((scope) => scope !== ''),
  };
  if (values['metrics-host'] !== undefined && config.metricsPort === undefined) throw new UsageError('--metrics-host needs --metrics-port');
  const decodeMemoryMb = integerFlag('--decode-memory-mb', values['decode-memory-mb'], defaultDecodeMemoryMb(config.uploadConcurrency), 64, 1_048_576);
  return Object.freeze({ ...config, decodeMemoryBytes: decodeMemoryMb * 1024 * 1024 });
}

/**
 * 192 MiB, or 48 MiB per upload slot when that is more. Measured from a fresh server at
 * the default concurrency of 4 (docs/performance.md, "Adversarial memory"): four decode
 * bombs of a kind at the largest size 192 MiB admits peaked at 266–402 MB, where four
 * 7000×7000 GIFs admitted one at a time by 256 MiB reached 446–453 MB (freed decoder
 * memory stays in glibc's per-thread arenas). 48 MiB is above the estimate of an ordinary
 * photo (the 4608×1976 phone JPEG 39 MiB, 12 and 48 MP JPEGs 43 MiB), so four of them
 * never wait for each other.
 */
export function defaultDecodeMemoryMb(uploadConcurrency: number): number {
  return Math.max(192, 48 * uploadConcurrency);
}

/** Both or neither: a client id means nothing without the provider it is registered at. */
function webSignInFlags(clientId: string | undefined, authority: string | undefined): Config['webSignIn'] {
  if (clientId === undefined && authority === undefined) return undefined;
  if (clientId === undefined) throw new UsageError('--web-authority needs --web-client-id');
  if (authority === undefined) throw new UsageError('--web-client-id needs --web-authority (the OpenID Connect issuer URL people sign in at)');
  if (!/^[\x21-\x7e]{1,256}$/.test(clientId)) throw new UsageError(`--web-client-id must be 1 to 256 visible characters, got '${clientId}'`);
  return { clientId, authority: urlFlag('--web-authority', authority).replace(/\/$/, '') };
}

/** Any origin when none is given, or '*' is; else exactly those given. */
function corsOriginsFlag(values: readonly string[] | undefined): CorsOrigins {
  if (values === undefined || values.includes('*')) return 'any';
  return values.map((value) => {
    const origin = canonicalOrigin(value);
    if (origin === undefined) {
      throw new UsageError(`--cors-origin must be an origin like https://app.contoso.com (a scheme, a host, maybe a port; no path), got '${value}'`);
    }
    return origin;
  });
}

/** One flag of a command: parseArgs's type, with what its help line says. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** The placeholder for its value in help and the README (DIR, N, URL…); none for a boolean. */
  readonly value?: string;
  readonly description: string;
  /** For a repeatable flag's variable: what separates its items, when commas or spaces may be inside one. */
  readonly listSeparator?: string;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

/** The process environment, passed down from the entry point; nothing reads process.env itself. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The variable a flag may come from: --tls-cert is PORTRAIT_TLS_CERT. */
export function envName(flag: string): string {
  return `PORTRAIT_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * parseFlags, then each flag not given on the command line from its PORTRAIT_* variable
 * (`which`: every flag, or these). An empty variable counts as unset. Booleans are
 * 1/true or 0/false; repeatable flags are a list separated by commas or spaces, or by
 * the flag's own listSeparator.
 * `fromEnvironment` maps each flag taken from a variable to the variable's name.
 */
export function parseFlagsWithEnvironment<T extends OptionSpec>(argv: readonly string[], options: T, env: Environment, which: 'all' | readonly (keyof T & string)[]) {
  const parsed = parseFlags(argv, options);
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const fromEnvironment = new Map<string, string>();
  for (const [flag, spec] of Object.entries(options)) {
    if (which !== 'all' && !which.includes(flag)) continue;
    const variable = envName(flag);
    const text = env[variable];
    if (text === undefined || text.trim() === '' || values[flag] !== undefined) continue;
    if (spec.type === 'boolean') {
      const yes = /^(1|true)$/i.test(text.trim());
      if (!yes && !/^(0|false)$/i.test(text.trim())) throw new UsageError(`${variable} must be 1, true, 0 or false, got '${text}'`);
      if (yes) values[flag] = true;
    } else {
      const separator = (spec as { listSeparator?: string }).listSeparator;
      const items = separator === undefined ? text.split(/[\s,]+/) : text.split(separator).map((item) => item.trim());
      values[flag] = spec.multiple ? items.filter((item) => item !== '') : text;
    }
    fromEnvironment.set(flag, variable);
  }
  return { ...parsed, fromEnvironment };
}

/** A usage message about flags, with each flag that came from a variable named by the variable. */
function nameVariables(message: string, fromEnvironment: ReadonlyMap<string, string>): string {
  return message.replace(/--([a-z][a-z0-9-]*)/g, (flag, name: string) => fromEnvironment.get(name) ?? flag);
}

/** parseArgs with its errors turned into one-line usage errors naming the flag. */
export function parseFlags<T extends OptionSpec>(argv: readonly string[], options: T) {
  // parseArgs is given only what it knows: the help text stays out of its validation.
  const known = Object.fromEntries(Object.entries(options).map(([name, { type, multiple }]) => [name, multiple ? { type, multiple } : { type }])) as T;
  try {
    return parseArgs({ args: [...argv], options: known, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error);
    // Node adds advice on '--' after the first sentence; one line naming the flag is enough.
    throw new UsageError(message.replace(/^Unknown option/, 'unknown flag').replace(/\. To specify a positional.*$/, ''));
  }
}

/** serve's --pixel-limit unless told otherwise; import-photos refuses what serve would. */
export const DEFAULT_PIXEL_LIMIT = 50_000_000;

export function integerFlag(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

/** A spec parser's one-line complaint as a usage error (exit 2). */
function specFlag<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function urlFlag(name: string, text: string): string {
  try {
    const url = new URL(text);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error();
    return url.toString();
  } catch {
    throw new UsageError(`${name} must be an http(s) URL, got '${text}'`);
  }
}

/** --issuer ISSUER or --issuer ISSUER=JWKS_URL; {tenantid} in ISSUER stands for the token's tid. */
function issuerFlag(text: string): TrustedIssuer {
  const at = text.indexOf('=');
  const issuer = at === -1 ? text : text.slice(0, at);
  const jwks = at === -1 ? undefined : text.slice(at + 1);
  urlFlag('--issuer', issuer.replace('{tenantid}', 'tenant'));
  return { issuer, jwksUri: jwks === undefined ? undefined : urlFlag('--issuer', jwks) };
}

/**
 * The memory this process may use: its cgroup's limit where there is one below the
 * machine's memory (a container), else the machine's. Node.js 20 reports no limit as
 * 2^64 and later versions as 0; both mean the machine's.
 */
function processMemory(): number {
  const limit = process.constrainedMemory();
  const machine = totalmem();
  return limit > 0 && limit < machine ? limit : machine;
}
