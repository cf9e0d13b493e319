// `serve --simulate SPEC` (repeatable): faults and latency Portrait adds on purpose, so
// that an app's retry logic can be watched at work, as Dev Proxy does for Graph. SPEC:
//
//   [METHODS ]PATTERN: RULE[, RULE]…
//
//   METHODS   GET, or several joined by commas (GET,PUT); any method when left out.
//   PATTERN   a path from its first '/', without the query; '*' stands for any characters,
//             '/' included; letters match case-insensitively: /v1.0/users/*/photo*
//   RULE      latency=MIN-MAXms (or =Nms; s for seconds, up to 60 s)
//             429=P%, 503=P%, 504=P%   the share of matching requests answered so (at most 100% together)
//             retry-after=N            the Retry-After of simulated 429 and 503 answers, in seconds (default 1)
//
// e.g. --simulate 'GET /v1.0/users/*/photo*: latency=100-500ms, 429=10%, 503=5%, 504=2%'.
// The first spec whose methods and pattern match a request decides for it.
import { GRAPH_METHOD_SET } from '../http/methods.js';

export type FaultStatus = 429 | 503 | 504;

export interface FaultRule {
  /** Upper-case methods; empty: any. */
  readonly methods: readonly string[];
  /** As written, for the banner and messages. */
  readonly pattern: string;
  readonly matcher: RegExp;
  readonly latencyMs: readonly [min: number, max: number];
  /** Shares from 0 to 1, summing to at most 1. */
  readonly rates: Readonly<Record<FaultStatus, number>>;
  readonly retryAfterSeconds: number;
}

export const SIMULATE_USAGE =
  "--simulate takes '[METHODS ]PATTERN: RULE, …' with RULE latency=MIN-MAXms, 429=P%, 503=P%, 504=P% or retry-after=N (e.g. 'GET /v1.0/users/*/photo*: latency=100-500ms, 429=10%')";

const MAX_LATENCY_MS = 60_000;
const MAX_PATTERN = 512;

/** Parses one SPEC; throws an Error whose one-line message names what is wrong. */
export function parseFaultRule(text: string): FaultRule {
  const colon = text.indexOf(':');
  if (colon === -1) throw new Error(`${SIMULATE_USAGE}; got '${text}'`);
  const head = text.slice(0, colon).trim();
  const body = text.slice(colon + 1).trim();
  const space = head.search(/\s/);
  const methodText = space === -1 ? '' : head.slice(0, space);
  const pattern = space === -1 ? head : head.slice(space + 1).trim();
  const methods = methodText === '' || methodText === '*' ? [] : methodText.toUpperCase().split(',');
  for (const method of methods) {
    if (!GRAPH_METHOD_SET.has(method)) throw new Error(`--simulate: '${method}' is not a method (${[...GRAPH_METHOD_SET].join(', ')})`);
  }
  if (!pattern.startsWith('/') || pattern.length > MAX_PATTERN || /[\s?#]/.test(pattern)) {
    throw new Error(`--simulate: the pattern must be a path from its first '/', with no spaces, '?' or '#', up to ${MAX_PATTERN} characters; got '${pattern}'`);
  }
  if (body === '') throw new Error(`--simulate: '${pattern}' needs at least one rule: latency=MIN-MAXms, 429=P%, 503=P%, 504=P%`);
  let latencyMs: [number, number] = [0, 0];
  const rates: Record<FaultStatus, number> = { 429: 0, 503: 0, 504: 0 };
  let retryAfterSeconds = 1;
  const seen = new Set<string>();
  for (const part of body.split(',')) {
    const [rawName = '', rawValue, ...rest] = part.split('=');
    const name = rawName.trim().toLowerCase();
    const value = (rawValue ?? '').trim().toLowerCase();
    if (rawValue === undefined || rest.length > 0 || name === '') throw new Error(`${SIMULATE_USAGE}; got '${part.trim()}'`);
    if (seen.has(name)) throw new Error(`--simulate: '${name}' is given twice for '${pattern}'`);
    seen.add(name);
    if (name === 'latency') latencyMs = parseLatency(value);
    else if (name === '429' || name === '503' || name === '504') rates[Number(name) as FaultStatus] = parseRate(name, value);
    else if (name === 'retry-after') {
      if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 3600) {
        throw new Error(`--simulate: retry-after must be a whole number of seconds from 1 to 3600, got '${value}'`);
      }
      retryAfterSeconds = Number(value);
    } else throw new Error(`--simulate knows latency, 429, 503, 504 and retry-after, not '${name}'`);
  }
  const total = rates[429] + rates[503] + rates[504];
  if (total > 1 + 1e-9) throw new Error(`--simulate: 429, 503 and 504 add up to ${+(total * 100).toFixed(2)}% for '${pattern}'; at most 100%`);
  return { methods, pattern, matcher: globMatcher(pattern), latencyMs, rates, retryAfterSeconds };
}

function parseLatency(value: string): [number, number] {
  const match = /^(\d{1,6})(?:\s*-\s*(\d{1,6}))?\s*(ms|s)$/.exec(value);
  const unit = match?.[3] === 's' ? 1000 : 1;
  const min = Number(match?.[1]) * unit;
  const max = match?.[2] === undefined ? min : Number(match[2]) * unit;
  if (!match || min > max || max > MAX_LATENCY_MS) {
    throw new Error(`--simulate: latency must be MIN-MAXms (or Nms, or in s) with MIN ≤ MAX ≤ 60s, got '${value}'`);
  }
  return [min, max];
}

function parseRate(name: string, value: string): number {
  const match = /^(\d{1,3}(?:\.\d{1,2})?)%$/.exec(value);
  const percent = Number(match?.[1]);
  if (!match || percent > 100) throw new Error(`--simulate: ${name} must be a share like 10% or 2.5%, from 0% to 100%, got '${value}'`);
  return percent / 100;
}

/** '*' is any run of characters; everything else is itself, case-insensitively. */
function globMatcher(pattern: string): RegExp {
  const source = pattern
    .split('*')
    .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 'is');
}

/** The rule as it could be written again, for the banner. */
export function describeFaultRule(rule: FaultRule): string {
  const parts: string[] = [];
  const [min, max] = rule.latencyMs;
  if (max > 0) parts.push(min === max ? `latency=${min}ms` : `latency=${min}-${max}ms`);
  for (const status of [429, 503, 504] as const) if (rule.rates[status] > 0) parts.push(`${status}=${+(rule.rates[status] * 100).toFixed(2)}%`);
  if (rule.retryAfterSeconds !== 1) parts.push(`retry-after=${rule.retryAfterSeconds}`);
  return `${rule.methods.length > 0 ? `${rule.methods.join(',')} ` : ''}${rule.pattern}: ${parts.join(', ')}`;
}
