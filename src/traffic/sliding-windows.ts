// Request counts per caller for one limit, in sliding windows: the count of the current
// fixed window (aligned to the epoch) plus the previous window's count weighted by how
// much of it still lies within the last WINDOW. It is smooth like a token bucket — no
// burst of twice the limit across a window's edge — yet it is made of plain per-window
// sums, which nodes can add up in a shared table (throttle.ts, UsageLedger).
//
// The map is bounded: at most maxTracked callers, the least recently seen dropped first
// (an eighth at a time, as auth/failure-throttle.ts does), so that a client with many
// tokens cannot grow it. A caller dropped that way starts again with a full budget.
import type { Limit } from './throttle-spec.js';

export interface Counter {
  /** The window `cur` counts: floor(time / windowMs). */
  index: number;
  /** Used in window `index`: everyone's as last heard (shared) plus this process's since. */
  cur: number;
  /** Used in window `index - 1`. */
  prev: number;
  /** This process's part of cur and prev not yet added to the shared counts. */
  unsent: number;
  unsentPrev: number;
  /** When this process last admitted or refused a request of the caller (ms). */
  touched: number;
}

export class SlidingWindows {
  readonly limit: Limit;
  readonly #maxTracked: number;
  readonly #counters = new Map<string, Counter>();

  constructor(limit: Limit, maxTracked: number) {
    this.limit = limit;
    this.#maxTracked = maxTracked;
  }

  get size(): number {
    return this.#counters.size;
  }

  entries(): IterableIterator<[string, Counter]> {
    return this.#counters.entries();
  }

  get(key: string): Counter | undefined {
    return this.#counters.get(key);
  }

  /**
   * How long until `cost` more fits in the caller's window, 0 when it fits now. Tracks
   * the caller (most recently seen) either way.
   */
  waitMs(key: string, cost: number, now: number): number {
    const counter = this.#touch(key, now);
    const { requests, windowMs } = this.limit;
    const elapsed = (now - counter.index * windowMs) / windowMs;
    if (counter.prev * (1 - elapsed) + counter.cur + cost <= requests) return 0;
    // Within this window, the previous one's weight falls until the sum fits…
    const room = requests - counter.cur - cost;
    if (room >= 0 && counter.prev > 0) return Math.max(1, Math.ceil((1 - room / counter.prev - elapsed) * windowMs));
    // …or this window's count must itself slide out, in the next one.
    const next = counter.cur > 0 ? Math.max(0, 1 - (requests - cost) / counter.cur) : 0;
    return Math.max(1, Math.ceil((1 - elapsed + next) * windowMs));
  }

  /** Counts `cost` against the caller (waitMs said it fits). */
  take(key: string, cost: number, now: number): void {
    const counter = this.#touch(key, now);
    counter.cur += cost;
    counter.unsent += cost;
  }

  /** Brings the counter to the window `now` falls in. */
  roll(counter: Counter, now: number): void {
    const index = Math.floor(now / this.limit.windowMs);
    if (index <= counter.index) return; // a clock stepping back keeps the window it had
    if (index === counter.index + 1) {
      counter.prev = counter.cur;
      counter.unsentPrev = counter.unsent;
    } else {
      counter.prev = 0;
      counter.unsentPrev = 0;
    }
    counter.cur = 0;
    counter.unsent = 0;
    counter.index = index;
  }

  #touch(key: string, now: number): Counter {
    let counter = this.#counters.get(key);
    if (counter === undefined) {
      counter = { index: Math.floor(now / this.limit.windowMs), cur: 0, prev: 0, unsent: 0, unsentPrev: 0, touched: now };
    } else {
      this.#counters.delete(key);
      this.roll(counter, now);
      counter.touched = now;
    }
    this.#counters.set(key, counter);
    if (this.#counters.size > this.#maxTracked) {
      // An eighth at a time: V8 keeps deleted slots at the front of a Map until it rehashes.
      let excess = this.#counters.size - this.#maxTracked + Math.floor(this.#maxTracked / 8);
      for (const oldest of this.#counters.keys()) {
        if (excess-- <= 0) break;
        this.#counters.delete(oldest);
      }
    }
    return counter;
  }

  /** Forgets callers not seen for two windows: their counts no longer matter. */
  prune(now: number): void {
    for (const [key, counter] of this.#counters) {
      if (now - counter.touched > 2 * this.limit.windowMs) this.#counters.delete(key);
    }
  }
}
