// `serve --throttle SPEC`: which request budgets Portrait enforces, as Graph does
// (https://learn.microsoft.com/graph/throttling-limits). SPEC is `off` (the default),
// `graph` (Graph's published numbers, below) or a comma-separated list of
//
//   app=N/WINDOW     requests per application per tenant     (Graph: "application+tenant pair")
//   user=N/WINDOW    requests per user per tenant, all applications together
//   write=N/WINDOW   writes (POST, PUT, PATCH, DELETE) per application per tenant (Graph's "write quota")
//
// WINDOW is a whole number of s, m or h, from 1 s to 24 h: `app=2000/10s,user=300/10s`.
// Every request costs 1 against app and user; a write costs 1 against write as well,
// which is Graph's cost for every photo path (its table lists none of them).

export type LimitScope = 'app' | 'user' | 'write';

export interface Limit {
  readonly scope: LimitScope;
  /** Requests admitted per window. */
  readonly requests: number;
  readonly windowMs: number;
}

export interface ThrottleSpec {
  /** The limits, app before user before write; empty when throttling is off. */
  readonly limits: readonly Limit[];
}

/**
 * Graph's identity and access limits for a small tenant: 3,500 resource units per 10 s and
 * 3,000 writes per 150 s per application+tenant pair; and Outlook's per-mailbox 10,000
 * requests per 10 minutes, the one per-user limit Graph publishes.
 */
export const GRAPH_LIMITS: readonly Limit[] = Object.freeze([
  { scope: 'app', requests: 3500, windowMs: 10_000 },
  { scope: 'user', requests: 10_000, windowMs: 600_000 },
  { scope: 'write', requests: 3000, windowMs: 150_000 },
]);

const SCOPES: readonly LimitScope[] = ['app', 'user', 'write'];
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;
const MAX_REQUESTS = 100_000_000;
const MAX_WINDOW_MS = 24 * 3_600_000;

export const THROTTLE_USAGE = "--throttle takes off, graph, or app=N/WINDOW,user=N/WINDOW,write=N/WINDOW (e.g. app=2000/10s,user=300/10s)";

/** Parses SPEC; throws an Error whose message names what is wrong, in one line. */
export function parseThrottleSpec(text: string): ThrottleSpec {
  const spec = text.trim().toLowerCase();
  if (spec === 'off') return { limits: [] };
  if (spec === 'graph') return { limits: GRAPH_LIMITS };
  const limits = new Map<LimitScope, Limit>();
  for (const part of spec.split(',')) {
    const match = /^\s*([a-z]+)\s*=\s*(\d{1,9})\s*\/\s*(\d{1,5})\s*(s|m|h)\s*$/.exec(part);
    if (!match) throw new Error(`${THROTTLE_USAGE}; got '${part.trim()}'`);
    const [, name = '', count = '', length = '', unit = 's'] = match;
    const scope = SCOPES.find((s) => s === name);
    if (scope === undefined) throw new Error(`--throttle knows app, user and write, not '${name}'`);
    if (limits.has(scope)) throw new Error(`--throttle names ${scope} twice`);
    const requests = Number(count);
    const windowMs = Number(length) * UNIT_MS[unit as keyof typeof UNIT_MS];
    if (requests < 1 || requests > MAX_REQUESTS) throw new Error(`--throttle ${scope} must allow 1 to ${MAX_REQUESTS} requests, got ${count}`);
    if (windowMs < 1000 || windowMs > MAX_WINDOW_MS) throw new Error(`--throttle ${scope}'s window must be from 1s to 24h, got ${length}${unit}`);
    limits.set(scope, { scope, requests, windowMs });
  }
  return { limits: SCOPES.flatMap((scope) => limits.get(scope) ?? []) };
}

/** The limits as SPEC would name them, for the banner. */
export function describeLimits(limits: readonly Limit[]): string {
  return limits.map((l) => `${l.scope}=${l.requests}/${describeWindow(l.windowMs)}`).join(',');
}

export function describeWindow(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 && ms >= 600_000 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}
