// One access line per request, at info, for requests Fastify answers and for those the
// read fast path answers in front of it (http/hot-reads.ts) alike: the same fields from
// both, and the same count in the request metrics. Fastify's own two lines per request
// ("incoming request", "request completed") are turned off in app.ts: one line is what
// a log shipper wants, and pino's per-request cost is paid once.
//
// What never reaches the log: the Authorization header, a token (only its tid, oid and
// appid), the values of query parameters that carry secrets, and more than MAX_PATH
// characters of a URL however long the client made it.
import { hostname } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { PortraitMetrics } from '../metrics/portrait-metrics.js';
import { GRAPH_METHOD_SET } from './methods.js';

/** What a request's handlers learned that its access line and its metrics name. */
export interface Observed {
  /** The route template or Graph operation (e.g. photo.user.sizeValue): a metric label, so never raw URL text. */
  route?: string;
  /** The token's tid, oid and appid, once it is verified. */
  tenant?: string;
  caller?: string;
  app?: string;
  /** Why a 401 was answered (expired, bad signature…): logged, never sent. */
  reason?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the handlers that know more than Fastify's route (graph-routes.ts, the error envelope). */
    observed: Observed | null;
  }
}

/** The fields a verified token gives: its tid, oid and appid, never the token. */
export function observedPrincipal(principal: Principal): Observed {
  return { tenant: principal.tenantId, caller: principal.objectId, ...(principal.appId !== undefined && { app: principal.appId }) };
}

/** Characters of a URL kept in a line; the rest is cut, marked with `…`. */
export const MAX_PATH = 512;
/** Characters of a URL looked at at all: a 16 KiB URL costs the log no more than this. */
const SCAN = 2048;

/** Where pino writes its lines, when the access line may be written there directly. */
export interface LineSink {
  write(line: string): void;
}

export class AccessLog {
  readonly #logger: FastifyBaseLogger;
  readonly #metrics: PortraitMetrics | undefined;
  /** Whether info lines are written: decided once, so that a quiet server builds no line objects. */
  readonly #enabled: boolean;
  readonly #sink: LineSink | undefined;

  /**
   * `sink`: the stream the logger writes to, given only when the logger writes pino's
   * default line (no formatters, base or timestamp of its own): the access line is then
   * built by hand in the same form, at half pino's cost per line (pino's line is a general
   * object walk; this one has fixed fields), and written to the same stream. A test holds
   * the two lines equal.
   */
  constructor(logger: FastifyBaseLogger, metrics: PortraitMetrics | undefined, sink?: LineSink) {
    this.#logger = logger;
    this.#metrics = metrics;
    // pino's; Fastify's logger when logging is off has no such method, and logs nothing.
    this.#enabled = (logger as Partial<{ isLevelEnabled(level: string): boolean }>).isLevelEnabled?.('info') ?? false;
    this.#sink = sink;
  }

  /** A request is answered: one line at info, and one count in the request metrics. */
  finished(
    method: string,
    url: string,
    status: number,
    bytes: number,
    ms: number,
    requestId: string,
    route: string,
    observed: Observed | null | undefined,
  ): void {
    // Node's parser knows a few dozen methods; a label needs only the ones served.
    const methodLabel = GRAPH_METHOD_SET.has(method) ? method : 'other';
    this.#metrics?.requestFinished(route, methodLabel, status, ms / 1000);
    if (!this.#enabled) return;
    const loggedMethod = methodLabel === 'other' ? method.slice(0, 16) : method;
    const path = loggedPath(url);
    const roundedMs = Math.round(ms * 100) / 100;
    if (this.#sink !== undefined) {
      this.#sink.write(accessLine(loggedMethod, path, status, bytes, roundedMs, requestId, route, observed));
      return;
    }
    this.#logger.info(
      {
        method: loggedMethod,
        path,
        status,
        bytes,
        ms: roundedMs,
        requestId,
        route,
        tenant: observed?.tenant,
        caller: observed?.caller,
        app: observed?.app,
        reason: observed?.reason,
      },
      'request',
    );
  }
}

/** pino's base fields (its default `base`: pid and hostname), as it writes them after the time. */
const PINO_BASE = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;
/** pino's numeric level for info. */
const INFO = 30;

/**
 * The access line as pino writes `logger.info({ method, path, … }, 'request')`: level,
 * time, pid and hostname, the fields in order with those undefined left out, msg. Strings
 * through JSON.stringify, as pino's own escaping agrees with it for every string here.
 */
export function accessLine(
  method: string,
  path: string,
  status: number,
  bytes: number,
  ms: number,
  requestId: string,
  route: string,
  observed: Observed | null | undefined,
): string {
  let line = `{"level":${INFO},"time":${Date.now()}${PINO_BASE},"method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"status":${status},"bytes":${bytes},"ms":${ms},"requestId":${JSON.stringify(requestId)},"route":${JSON.stringify(route)}`;
  if (observed?.tenant !== undefined) line += `,"tenant":${JSON.stringify(observed.tenant)}`;
  if (observed?.caller !== undefined) line += `,"caller":${JSON.stringify(observed.caller)}`;
  if (observed?.app !== undefined) line += `,"app":${JSON.stringify(observed.app)}`;
  if (observed?.reason !== undefined) line += `,"reason":${JSON.stringify(observed.reason)}`;
  return `${line},"msg":"request"}\n`;
}

/**
 * The URL as logged: the values of query parameters that may carry a secret replaced by
 * `[redacted]`, at most MAX_PATH characters. $skiptoken and $deltatoken are paging
 * cursors, not credentials, and are kept.
 */
export function loggedPath(url: string): string {
  const cut = url.length > SCAN;
  let text = cut ? url.slice(0, SCAN) : url;
  const query = text.indexOf('?');
  if (query !== -1) {
    text = text.slice(0, query + 1) + text.slice(query + 1).replace(/([^&=]*)=([^&]*)/g, (pair, name: string) => (isSecretName(name) ? `${name}=[redacted]` : pair));
  }
  return cut || text.length > MAX_PATH ? `${text.slice(0, MAX_PATH)}…` : text;
}

const PAGING = new Set(['$skiptoken', '$deltatoken']);
const SECRET = /token|secret|passw|assertion|signature|api.?key|^(code|key|sig|auth|authorization)$/i;

function isSecretName(name: string): boolean {
  const lower = name.toLowerCase();
  let decoded = lower;
  try {
    decoded = decodeURIComponent(lower.replace(/\+/g, ' '));
  } catch {
    // A malformed escape: judge the name as written.
  }
  if (PAGING.has(decoded)) return false;
  return SECRET.test(decoded) || SECRET.test(lower);
}
