// Browser apps (CORS), answered as Graph answers them. Tokens travel in the Authorization
// header, never in cookies, so a page on another origin can do nothing a script with a
// token could not: any origin is allowed by default, `--cors-origin` restricts it, and
// Access-Control-Allow-Credentials is never sent (a browser then sends no cookies, and
// none would mean anything here).
// https://fetch.spec.whatwg.org/#http-cors-protocol

/** What a page may send: Graph's request headers and those the Graph SDKs add. */
const CORS_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'client-request-id',
  'return-client-request-id',
  'If-Match',
  'If-None-Match',
  'Workbook-Session-Id',
  'ConsistencyLevel',
  'Prefer',
  'SdkVersion',
  'x-ms-client-request-id',
] as const;

/** What a page's script may read of an answer (besides the CORS-safelisted ones). */
const CORS_EXPOSED_HEADERS = ['ETag', 'request-id', 'client-request-id', 'Retry-After', 'Location'] as const;

const CORS_METHODS = ['GET', 'PUT', 'PATCH', 'POST', 'DELETE'] as const;

/**
 * How long a browser may reuse a preflight's answer, in seconds. Chromium caps it at two
 * hours and Firefox at a day; the longest any honours is worth sending.
 */
export const CORS_MAX_AGE_SECONDS = 86_400;

/** `'any'`, or the exact origins (`https://app.contoso.com`, `http://localhost:3000`) allowed, as canonicalOrigin gives them. */
export type CorsOrigins = 'any' | readonly string[];

export class CorsPolicy {
  readonly #any: boolean;
  readonly #origins: ReadonlySet<string>;
  /** The headers of a preflight's answer after its Access-Control-Allow-Origin. */
  readonly #preflight: readonly string[];
  /** What every allowed actual answer carries after Access-Control-Allow-Origin. */
  readonly #exposed = ['access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', ')] as const;

  constructor(origins: CorsOrigins) {
    this.#any = origins === 'any';
    this.#origins = new Set(origins === 'any' ? [] : origins.map((origin) => origin.toLowerCase()));
    this.#preflight = [
      'access-control-allow-methods', CORS_METHODS.join(', '),
      'access-control-allow-headers', CORS_REQUEST_HEADERS.join(', '),
      'access-control-max-age', String(CORS_MAX_AGE_SECONDS),
    ];
  }

  /** The origin echoed in Access-Control-Allow-Origin, or undefined when the page's origin is not allowed. */
  allowed(origin: string | undefined): string | undefined {
    if (origin === undefined || origin.length > MAX_ORIGIN) return undefined;
    if (this.#any) return ORIGIN_SHAPE.test(origin) ? origin : undefined;
    return this.#origins.has(origin.toLowerCase()) ? origin : undefined;
  }

  /** [name, value, …] for an actual answer to a page at `origin` (empty when it is not allowed). */
  actualHeaders(origin: string | undefined): readonly string[] {
    const allowed = this.allowed(origin);
    return allowed === undefined ? NONE : ['access-control-allow-origin', allowed, ...this.#exposed];
  }

  /** [name, value, …] for a preflight from a page at `origin` (empty when it is not allowed). */
  preflightHeaders(origin: string | undefined): readonly string[] {
    const allowed = this.allowed(origin);
    return allowed === undefined ? NONE : ['access-control-allow-origin', allowed, ...this.#preflight];
  }
}

const NONE: readonly string[] = [];

/** Origins are short: anything longer is not one a browser sends, and is never echoed. */
const MAX_ORIGIN = 512;

/**
 * What a browser sends in Origin: a scheme, a host and maybe a port (or "null", from a
 * sandboxed page or a file, which is never echoed: it would allow every such page at once).
 */
const ORIGIN_SHAPE = /^[a-z][a-z0-9+.-]*:\/\/[A-Za-z0-9.\-[\]:]+$/;

/**
 * `--cors-origin` as given, lower-cased, when it is an origin (a scheme, a host, maybe a
 * port; no path, no default port written out); undefined when it is not.
 */
export function canonicalOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return url.origin !== 'null' && url.origin === value.toLowerCase().replace(/\/$/, '') ? url.origin : undefined;
}
