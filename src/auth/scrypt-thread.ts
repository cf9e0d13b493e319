// One thread of its own for the slow hash of client secrets. crypto.scrypt runs on
// libuv's pool, the 4 threads sharp decodes uploads on: a flood of wrong secrets (client
// ids are public, in every token's appid) kept all four busy with 32 MiB hashes and
// uploads went from tenths of a second to tens of seconds (issue 9). Here one worker
// thread runs scryptSync, one hash at a time; at most `queueLimit` wait behind it, and
// past that a check is refused at once instead of queueing without end.
//
// The thread starts on the first hash, holds the process open only while it hashes,
// is started again if it dies (the hash it was running fails), and close() ends it.
import { Worker } from 'node:worker_threads';
import type { ScryptCost } from './client-secrets.js';

/** What the thread is asked (auth/scrypt-worker.ts): a key of `length` bytes. */
export interface ScryptJob {
  readonly secret: string;
  readonly salt: Uint8Array;
  readonly length: number;
  readonly cost: ScryptCost;
}

export type ScryptReply = { readonly key: Uint8Array } | { readonly error: string };

/** The hash was not computed: the queue is full, or the thread was closed. Retry later. */
export class HashingUnavailable extends Error {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'HashingUnavailable';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface ScryptThreadOptions {
  /** Hashes that may wait behind the running one (default 16). */
  readonly queueLimit?: number;
  /** The worker's script; tests swap in one that misbehaves. */
  readonly script?: URL;
}

interface Pending {
  readonly job: ScryptJob;
  resolve(key: Buffer): void;
  reject(error: Error): void;
}

const DEFAULT_QUEUE_LIMIT = 16;
const SCRIPT = new URL('./scrypt-worker.js', import.meta.url);
/** Until a hash has been timed: N=2^15, r=8 takes 50–300 ms depending on the CPU and its load. */
const FIRST_ESTIMATE_MS = 200;

export class ScryptThread {
  readonly #queueLimit: number;
  readonly #script: URL;
  readonly #waiting: Pending[] = [];
  #running: (Pending & { readonly startedAt: number }) | undefined;
  #worker: Worker | undefined;
  #computed = 0;
  #averageMs = FIRST_ESTIMATE_MS;
  #closed = false;

  constructor(options: ScryptThreadOptions = {}) {
    const queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    if (!Number.isSafeInteger(queueLimit) || queueLimit < 0) throw new RangeError(`queueLimit must be a non-negative integer, got ${queueLimit}`);
    this.#queueLimit = queueLimit;
    this.#script = options.script ?? SCRIPT;
  }

  /** Hashes computed to the end on the thread, right or wrong. */
  get computed(): number {
    return this.#computed;
  }

  /** scrypt(secret, salt) on the thread; rejects with HashingUnavailable, at once, when too many wait. */
  derive(secret: string, salt: Uint8Array, length: number, cost: ScryptCost): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new HashingUnavailable('the secret hashing thread is closed', 1));
    if (this.#running !== undefined && this.#waiting.length >= this.#queueLimit) {
      return Promise.reject(new HashingUnavailable('too many client secrets are waiting to be checked', this.#retryAfterSeconds()));
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.#waiting.push({ job: { secret, salt, length, cost }, resolve, reject });
      this.#next();
    });
  }

  /** Ends the thread; hashes still waiting or running fail with HashingUnavailable. */
  async close(): Promise<void> {
    this.#closed = true;
    const stopped = new HashingUnavailable('the secret hashing thread is closed', 1);
    for (const pending of this.#waiting.splice(0)) pending.reject(stopped);
    this.#running?.reject(stopped);
    this.#running = undefined;
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  /** The time for the queue ahead of a new hash to drain, in whole seconds. */
  #retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(((this.#waiting.length + 1) * this.#averageMs) / 1000));
  }

  #next(): void {
    if (this.#running !== undefined || this.#closed) return;
    const pending = this.#waiting.shift();
    if (pending === undefined) {
      // Idle: a waiting thread must not keep the process alive (a CLI, a test, a shutdown).
      this.#worker?.unref();
      return;
    }
    let worker: Worker;
    try {
      worker = this.#worker ?? this.#start();
    } catch (error) {
      // Not expected (a missing script is reported later, as 'error'), but never lose the hash waiting.
      pending.reject(error instanceof Error ? error : new Error(String(error)));
      this.#next();
      return;
    }
    worker.ref();
    this.#running = { ...pending, startedAt: performance.now() };
    worker.postMessage(pending.job);
  }

  #start(): Worker {
    const worker = new Worker(this.#script);
    this.#worker = worker;
    worker.on('message', (reply: ScryptReply) => {
      const running = this.#running;
      if (running === undefined || worker !== this.#worker) return;
      this.#running = undefined;
      if ('key' in reply) {
        this.#computed++;
        // A running mean over the last few hashes: enough for a Retry-After.
        this.#averageMs += (performance.now() - running.startedAt - this.#averageMs) / 4;
        running.resolve(Buffer.from(reply.key.buffer, reply.key.byteOffset, reply.key.byteLength));
      } else {
        running.reject(new Error(`scrypt failed: ${reply.error}`));
      }
      this.#next();
    });
    // An exception inside the thread (or a script that cannot load) ends it: 'error', then 'exit'.
    let failure: unknown;
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', (code) => {
      if (worker !== this.#worker) return; // closed, or already replaced
      this.#worker = undefined;
      const running = this.#running;
      this.#running = undefined;
      const why = failure instanceof Error ? failure.message : `exit code ${code}`;
      running?.reject(new Error(`the secret hashing thread stopped while checking a secret (${why})`, { cause: failure }));
      // The next hash, if any, starts a new thread.
      this.#next();
    });
    return worker;
  }
}
