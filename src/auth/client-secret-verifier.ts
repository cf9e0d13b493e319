// How the token endpoint checks an application's client secret without letting anyone
// who knows a client id (every token's appid names it) spend the server's CPU:
//
//   1. a secret verified lately is recognized by an HMAC, without the slow hash;
//   2. otherwise the attempt is charged to the failure budgets of its client id and
//      address, and refused with a wait when they are spent (auth/failure-throttle.ts);
//   3. only then is scrypt computed, on a thread of its own with a bounded queue
//      (auth/scrypt-thread.ts), never on the libuv pool that sharp decodes images on.
import type { Application } from '../storage/store.js';
import { verifyClientSecret } from './client-secrets.js';
import { FailureThrottle, type FailureLimits, type Over } from './failure-throttle.js';
import { RememberedSecrets } from './remembered-secrets.js';
import { HashingUnavailable, ScryptThread } from './scrypt-thread.js';

export interface ClientSecretVerifierOptions {
  /** The failure budgets (auth/failure-throttle.ts has the defaults and why). */
  readonly limits?: Partial<FailureLimits>;
  /** Hashes that may wait for the hashing thread (default 16); past it, `busy`. */
  readonly queueLimit?: number;
  /** How long a verified secret is recognized without hashing, after its last use (default an hour). */
  readonly rememberMs?: number;
  /** The clock, in ms (tests move it). */
  readonly now?: () => number;
  /** The hashing thread; one is made when not given. */
  readonly thread?: ScryptThread;
}

export type SecretCheck =
  | { readonly result: 'right' }
  | { readonly result: 'wrong' }
  /** Too many wrong secrets: no hash was computed. */
  | { readonly result: 'throttled'; readonly over: Over; readonly retryAfterSeconds: number }
  /** The hashing thread's queue is full (or it is closing): no hash was computed. */
  | { readonly result: 'busy'; readonly retryAfterSeconds: number };

export class ClientSecretVerifier {
  readonly #throttle: FailureThrottle;
  readonly #remembered: RememberedSecrets;
  readonly #thread: ScryptThread;

  constructor(options: ClientSecretVerifierOptions = {}) {
    const now = options.now ?? Date.now;
    this.#throttle = new FailureThrottle(options.limits, now);
    this.#remembered = new RememberedSecrets({ now, ...(options.rememberMs !== undefined && { ttlMs: options.rememberMs }) });
    this.#thread = options.thread ?? new ScryptThread({ ...(options.queueLimit !== undefined && { queueLimit: options.queueLimit }) });
  }

  /** Slow hashes computed so far. */
  get hashesComputed(): number {
    return this.#thread.computed;
  }

  /** Keys the throttle tracks now (bounded). */
  get tracked(): FailureThrottle['tracked'] {
    return this.#throttle.tracked;
  }

  /** Whether `secret` is the application's, asked from `remoteAddress` (the socket's, request.ip). */
  async verify(application: Application, secret: string, remoteAddress: string): Promise<SecretCheck> {
    if (this.#remembered.recognizes(application.secretHash, secret)) return { result: 'right' };
    const admission = this.#throttle.admit(`${application.tenantId}/${application.clientId}`, remoteAddress);
    if (!admission.admitted) return { result: 'throttled', over: admission.over, retryAfterSeconds: admission.retryAfterSeconds };
    const { ticket } = admission;
    let right: boolean;
    try {
      right = await verifyClientSecret(secret, application.secretHash, (...args) => this.#thread.derive(...args));
    } catch (error) {
      this.#throttle.refund(ticket);
      if (error instanceof HashingUnavailable) return { result: 'busy', retryAfterSeconds: error.retryAfterSeconds };
      throw error;
    }
    if (!right) {
      this.#throttle.failed(ticket);
      return { result: 'wrong' };
    }
    this.#throttle.succeeded(ticket);
    this.#remembered.remember(application.secretHash, secret);
    return { result: 'right' };
  }

  /** Ends the hashing thread; checks still waiting answer `busy`. */
  close(): Promise<void> {
    return this.#thread.close();
  }
}
