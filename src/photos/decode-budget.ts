// The memory all uploads may decode in at once (issue 9 §3). Each upload reserves what
// its header says its render will take (imaging/decode-memory.ts) before decoding and
// gives it back when done, so that a few small files which decode huge wait for each
// other instead of taking the process past its memory together. Reservations are
// granted in arrival order: a large one is never starved by a stream of small ones.
// A wait is bounded in count and in time; past either the client gets 503 with
// Retry-After. What can never fit is refused before it waits (render-photo.ts).
import { errors } from '../errors.js';
import type { MemoryReservations } from '../imaging/render-photo.js';

export interface DecodeBudgetOptions {
  /** Bytes all renders may hold at once. */
  readonly bytes: number;
  /** Uploads that may wait for memory at once; more get 503. */
  readonly queueLimit?: number;
  /** How long an upload may wait for memory before it gets 503. */
  readonly maxWaitMs?: number;
}

// Waiting uploads already hold an upload slot and their body (--upload-concurrency bounds
// them), so the queue is a second line of defence, not the usual limit.
const DEFAULT_QUEUE_LIMIT = 64;
// Longer than the slowest whole-budget render measured (a 7000×7000 interlaced 16-bit PNG
// took 8.7 s), so a few queued bombs do not push ordinary photos out.
const DEFAULT_MAX_WAIT_MS = 30_000;
const RETRY_AFTER_SECONDS = 5;

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
}

export class DecodeBudget implements MemoryReservations {
  readonly limit: number;
  readonly #queueLimit: number;
  readonly #maxWaitMs: number;
  #inUse = 0;
  #peakInUse = 0;
  #waited = 0;
  readonly #waiting: Waiter[] = [];

  constructor(options: DecodeBudgetOptions) {
    if (!Number.isSafeInteger(options.bytes) || options.bytes <= 0) throw new RangeError(`bytes must be a positive integer, got ${options.bytes}`);
    this.limit = options.bytes;
    this.#queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    this.#maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** The most bytes ever reserved at once. */
  get peakInUse(): number {
    return this.#peakInUse;
  }

  /** Uploads waiting for memory now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Reservations that had to wait before they were granted. */
  get waited(): number {
    return this.#waited;
  }

  /**
   * Resolves with a release function once `bytes` are reserved; throws 503 when the
   * queue is full or the wait too long. `bytes` must not exceed the limit.
   */
  async reserve(bytes: number): Promise<() => void> {
    if (!(bytes >= 0 && bytes <= this.limit)) throw new RangeError(`cannot reserve ${bytes} bytes of a ${this.limit}-byte budget`);
    if (this.#waiting.length === 0 && this.#inUse + bytes <= this.limit) {
      this.#take(bytes);
    } else {
      if (this.#waiting.length >= this.#queueLimit) throw errors.decodeMemoryBusy(RETRY_AFTER_SECONDS);
      await this.#wait(bytes);
      this.#waited++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inUse -= bytes;
      this.#grantWaiting();
    };
  }

  #take(bytes: number): void {
    this.#inUse += bytes;
    this.#peakInUse = Math.max(this.#peakInUse, this.#inUse);
  }

  /** Resolves once #grantWaiting has reserved `bytes` for this waiter; rejects on timeout. */
  #wait(bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        // The head may have been what held the others back.
        this.#grantWaiting();
        reject(errors.decodeMemoryBusy(RETRY_AFTER_SECONDS));
      }, this.#maxWaitMs);
      this.#waiting.push(waiter);
    });
  }

  /** Grants waiting reservations in arrival order while the first one fits. */
  #grantWaiting(): void {
    for (let next = this.#waiting[0]; next && this.#inUse + next.bytes <= this.limit; next = this.#waiting[0]) {
      this.#waiting.shift();
      this.#take(next.bytes);
      next.grant();
    }
  }
}
