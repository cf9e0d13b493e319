// Throttling like Graph's (`serve --throttle`, throttle-spec.ts): every Graph request of
// a verified caller is counted against its application's budget in its tenant, its
// user's budget, and — for writes — its application's write budget; the first budget
// spent refuses it with 429, Retry-After and Graph's error body (errors.throttled).
// https://learn.microsoft.com/graph/throttling
//
// The route counts a request right after its token is verified (http/graph-routes.ts:
// each request of a $batch on its own, as Graph does), and the read fast path counts
// the reads it answers with what the route remembered of the caller
// (http/hot-reads.ts), so no token is verified twice. With no limits there is no
// Throttle at all, and neither path does more than check that.
//
// Counts are per process unless a UsageLedger is given (PostgreSQL: storage/
// postgres-store.ts), with which every process adds its counts to one table every
// SYNC_MS and reads everyone's back: the nodes of one database share one budget,
// each seeing the others' use at most SYNC_MS (plus a query) late.
import type { Principal } from '../auth/principal.js';
import { errors, type GraphError } from '../errors.js';
import type { UsageCount, UsageLedger } from '../storage/store.js';
import { SlidingWindows } from './sliding-windows.js';
import { describeWindow, type Limit, type LimitScope } from './throttle-spec.js';

/** Who is counted: derived from a verified token once, kept by the fast path's memos. */
export interface Caller {
  readonly tenantId: string;
  /** The token's appid (or azp); an application token's oid; '-' when a delegated token names none. */
  readonly appId: string;
  /** The signed-in user (delegated tokens only). */
  readonly userId: string | undefined;
}

export interface Refusal {
  readonly limit: Limit;
  readonly caller: Caller;
  readonly retryAfterSeconds: number;
}

export interface ThrottleOptions {
  /** Callers tracked at most per limit (default 10,000). */
  readonly maxTracked?: number;
  readonly now?: () => number;
  /** Counts shared with the other processes on the store; per process when absent. */
  readonly ledger?: UsageLedger | undefined;
  /** How often counts are exchanged through the ledger (default SYNC_MS). */
  readonly syncMs?: number;
  /** Told when an exchange fails (the budget is then per process until one succeeds). */
  readonly onSyncError?: (error: unknown) => void;
}

/** How often nodes exchange counts: the bound on how late one sees another's use. */
export const SYNC_MS = 100;
/** How often one process deletes counts of windows long past from the shared table. */
const PRUNE_MS = 60_000;
const APP_ID = /^[\w.:-]{1,128}$/;

export function callerOf(principal: Principal): Caller {
  const named = principal.appId !== undefined && APP_ID.test(principal.appId) ? principal.appId : undefined;
  return {
    tenantId: principal.tenantId,
    appId: named ?? (principal.delegated ? '-' : principal.objectId),
    userId: principal.delegated ? principal.objectId : undefined,
  };
}

export class Throttle {
  readonly limits: readonly Limit[];
  readonly #windows: readonly SlidingWindows[];
  readonly #now: () => number;
  readonly #ledger: UsageLedger | undefined;
  readonly #onSyncError: (error: unknown) => void;
  readonly #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> | undefined;
  #prunedAt = 0;

  constructor(limits: readonly Limit[], options: ThrottleOptions = {}) {
    if (limits.length === 0) throw new RangeError('a Throttle needs at least one limit');
    this.limits = limits;
    const maxTracked = options.maxTracked ?? 10_000;
    this.#windows = limits.map((limit) => new SlidingWindows(limit, maxTracked));
    this.#now = options.now ?? Date.now;
    this.#ledger = options.ledger;
    this.#onSyncError = options.onSyncError ?? (() => {});
    if (this.#ledger !== undefined) {
      this.#timer = setInterval(() => void this.sync(), options.syncMs ?? SYNC_MS);
      this.#timer.unref();
    }
  }

  /** Callers tracked now, per limit: never more than maxTracked each. */
  get tracked(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#windows.map((w) => [w.limit.scope, w.size]));
  }

  /**
   * Counts one request of `caller` and returns undefined, or returns the first spent
   * budget and counts nothing: a refused request costs no budget (Graph's clients retry
   * after Retry-After, and a retry must find the room the wait promised).
   */
  admit(caller: Caller, write: boolean): Refusal | undefined {
    const now = this.#now();
    let refusal: Refusal | undefined;
    for (const windows of this.#windows) {
      const key = keyOf(windows.limit.scope, caller, write);
      if (key === undefined) continue;
      const wait = windows.waitMs(key, 1, now);
      if (wait > 0) {
        const retryAfterSeconds = Math.max(1, Math.ceil(wait / 1000));
        if (refusal === undefined || retryAfterSeconds > refusal.retryAfterSeconds) refusal = { limit: windows.limit, caller, retryAfterSeconds };
      }
    }
    if (refusal !== undefined) return refusal;
    for (const windows of this.#windows) {
      const key = keyOf(windows.limit.scope, caller, write);
      if (key !== undefined) windows.take(key, 1, now);
    }
    return undefined;
  }

  /**
   * Adds this process's counts to the shared ones and reads back everyone's for the
   * callers it tracks (current and previous windows). One exchange at a time; the timer
   * calls it every SYNC_MS, tests may call it to be sure.
   */
  sync(): Promise<void> {
    if (this.#ledger === undefined) return Promise.resolve();
    this.#syncing ??= this.#exchange(this.#ledger)
      .catch((error: unknown) => this.#onSyncError(error))
      .finally(() => (this.#syncing = undefined));
    return this.#syncing;
  }

  async #exchange(ledger: UsageLedger): Promise<void> {
    const now = this.#now();
    const deltas: UsageCount[] = [];
    const keys: string[] = [];
    const sent: { windows: SlidingWindows; key: string; index: number; cur: number; prev: number }[] = [];
    let since = now;
    for (const windows of this.#windows) {
      const { scope, windowMs } = windows.limit;
      windows.prune(now);
      since = Math.min(since, (Math.floor(now / windowMs) - 1) * windowMs);
      for (const [key, counter] of windows.entries()) {
        windows.roll(counter, now);
        const shared = `${scope} ${key}`;
        keys.push(shared);
        if (counter.unsent > 0) deltas.push({ key: shared, windowStart: counter.index * windowMs, used: counter.unsent });
        if (counter.unsentPrev > 0) deltas.push({ key: shared, windowStart: (counter.index - 1) * windowMs, used: counter.unsentPrev });
        sent.push({ windows, key, index: counter.index, cur: counter.unsent, prev: counter.unsentPrev });
      }
    }
    if (keys.length === 0) return;
    const totals = await ledger.exchange(deltas, keys, since);
    // What was sent is counted in the totals now; what was admitted meanwhile is not yet.
    for (const { windows, key, index, cur, prev } of sent) {
      const counter = windows.get(key);
      if (counter === undefined) continue;
      windows.roll(counter, this.#now());
      if (counter.index === index) {
        counter.unsent -= cur;
        counter.unsentPrev -= prev;
      } else if (counter.index === index + 1) {
        counter.unsentPrev -= cur;
      }
    }
    const byScope = new Map(this.#windows.map((w) => [w.limit.scope, w]));
    for (const total of totals) {
      const space = total.key.indexOf(' ');
      const windows = byScope.get(total.key.slice(0, space) as LimitScope);
      const counter = windows?.get(total.key.slice(space + 1));
      if (windows === undefined || counter === undefined) continue;
      const start = counter.index * windows.limit.windowMs;
      if (total.windowStart === start) counter.cur = total.used + counter.unsent;
      else if (total.windowStart === start - windows.limit.windowMs) counter.prev = total.used + counter.unsentPrev;
    }
    if (now - this.#prunedAt >= PRUNE_MS) {
      this.#prunedAt = now;
      const longest = Math.max(...this.limits.map((l) => l.windowMs));
      await ledger.prune(now - 2 * longest - PRUNE_MS);
    }
  }

  /** Stops exchanging counts (the store closes after). */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#syncing;
  }
}

/** The caller's key for a limit, or undefined when the limit does not apply. */
function keyOf(scope: LimitScope, caller: Caller, write: boolean): string | undefined {
  switch (scope) {
    case 'app':
      return `${caller.tenantId} ${caller.appId}`;
    case 'write':
      return write ? `${caller.tenantId} ${caller.appId}` : undefined;
    case 'user':
      return caller.userId === undefined ? undefined : `${caller.tenantId} ${caller.userId}`;
  }
}

/** Graph's 429 for a spent budget, naming it (errors.throttled). */
export function throttledError(refusal: Refusal): GraphError {
  const { limit, caller, retryAfterSeconds } = refusal;
  const per = `per ${describeWindow(limit.windowMs)} in tenant ${caller.tenantId}`;
  switch (limit.scope) {
    case 'app':
      return errors.throttled(
        `The application '${caller.appId}' has used its ${limit.requests} requests ${per}.`,
        retryAfterSeconds,
        `Tenant_Application/ReadWrite/${caller.appId}/${caller.tenantId}`,
        'ResourceUnitLimitExceeded',
      );
    case 'write':
      return errors.throttled(
        `The application '${caller.appId}' has used its ${limit.requests} writes ${per}.`,
        retryAfterSeconds,
        `Tenant_Application/Write/${caller.appId}/${caller.tenantId}`,
        'WriteLimitExceeded',
      );
    case 'user':
      return errors.throttled(
        `The user '${caller.userId ?? ''}' has used their ${limit.requests} requests ${per}.`,
        retryAfterSeconds,
        `Tenant_User/ReadWrite/${caller.appId}/${caller.userId ?? ''}`,
        'ResourceUnitLimitExceeded',
      );
  }
}
