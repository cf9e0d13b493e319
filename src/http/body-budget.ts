// One budget for the bytes of every request body in flight, shared by all body
// readers of an app (http/request-bodies.ts): a body is admitted only if its bytes
// fit, so that many large bodies at once are refused (503) instead of growing the
// process until it dies. Nothing waits here; a full budget answers at once.

export class BodyBudget {
  readonly capacity: number;
  #used = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`);
    this.capacity = capacity;
  }

  /** Bytes taken and not yet given back. */
  get used(): number {
    return this.#used;
  }

  /** Takes `bytes` if they fit and answers true; takes nothing and answers false if not. */
  tryTake(bytes: number): boolean {
    if (this.#used + bytes > this.capacity) return false;
    this.#used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#used -= bytes;
    if (this.#used < 0) throw new Error(`body budget: gave back ${-this.#used} bytes more than were taken`);
  }
}
