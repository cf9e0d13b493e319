// What `serve --simulate` does to each request: the first rule that matches it draws two
// numbers from the seeded generator — one picks the fault (or none) by the rule's rates,
// the other the latency within its range — so the same seed and the same requests, in the
// same order, get the same answers every run. Requests no rule matches draw nothing.
import type { FaultRule, FaultStatus } from './fault-spec.js';
import { seededRandom } from './seeded-random.js';

export interface FaultDecision {
  /** The fault to answer with; undefined: the real answer, after the latency. */
  readonly status: FaultStatus | undefined;
  readonly latencyMs: number;
  readonly retryAfterSeconds: number;
}

export class FaultPlan {
  readonly rules: readonly FaultRule[];
  readonly seed: number;
  readonly #random: () => number;

  constructor(rules: readonly FaultRule[], seed: number) {
    this.rules = rules;
    this.seed = seed;
    this.#random = seededRandom(seed);
  }

  /** The decision for a request (path without its query), or undefined when no rule matches. */
  decide(method: string, path: string): FaultDecision | undefined {
    const rule = this.rules.find((r) => (r.methods.length === 0 || r.methods.includes(method)) && r.matcher.test(path));
    if (rule === undefined) return undefined;
    const pick = this.#random();
    const spread = this.#random();
    let status: FaultStatus | undefined;
    let bound = 0;
    for (const candidate of [429, 503, 504] as const) {
      bound += rule.rates[candidate];
      if (pick < bound) {
        status = candidate;
        break;
      }
    }
    const [min, max] = rule.latencyMs;
    return { status, latencyMs: min + Math.floor(spread * (max - min + 1)), retryAfterSeconds: rule.retryAfterSeconds };
  }
}
