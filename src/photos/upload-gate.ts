// Bounds the uploads decoded at once. Image decoding is the expensive part of the
// service; past `concurrency` uploads wait in a queue of `queueLimit`, and past
// that a client gets 429 with Retry-After instead of the process running out of
// memory. An upload's body is read before it asks for a slot (http/request-bodies.ts
// bounds how long that may take and the bytes all bodies hold), so a slow client
// costs a socket, never a slot.
import { errors } from '../errors.js';

export interface UploadGateOptions {
  readonly concurrency: number;
  readonly queueLimit: number;
}

export class UploadGate {
  readonly #options: UploadGateOptions;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: UploadGateOptions) {
    this.#options = options;
  }

  /** Slots and queue places: the most uploads admitted at once. */
  get places(): number {
    return this.#options.concurrency + this.#options.queueLimit;
  }

  /** Uploads running now (for /metrics). */
  get active(): number {
    return this.#active;
  }

  /** Uploads waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  get concurrency(): number {
    return this.#options.concurrency;
  }

  /** Throws 429 when an upload asking now would be refused: checked before its body is read. */
  checkRoom(): void {
    if (this.#active >= this.#options.concurrency && this.#waiting.length >= this.#options.queueLimit) throw errors.tooManyRequests(1);
  }

  /** Resolves with a release function once the upload may run; throws 429 when the queue is full. */
  async enter(): Promise<() => void> {
    if (this.#active < this.#options.concurrency) {
      this.#active++;
    } else {
      if (this.#waiting.length >= this.#options.queueLimit) throw errors.tooManyRequests(1);
      // The slot is handed over by release(), so #active stays counted.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    };
  }
}
