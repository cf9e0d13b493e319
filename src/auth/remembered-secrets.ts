// Client secrets the slow hash has verified lately, so that an application asking for
// tokens again is not hashed again — and still gets its token while a flood of wrong
// secrets has its client id throttled (auth/failure-throttle.ts): remembering is proof
// of the secret, so it is never throttled.
//
// Kept: HMAC-SHA256 under a key made at start and never stored, of the application's
// stored hash and the secret presented. The stored hash carries the application's own
// salt, so an entry answers only for that application and that hash: a changed or
// removed application is not recognized, since its stored hash is read first. Nothing
// here reveals a secret, even to a reader of this process's memory who lacks the key.
// Only a right secret is ever added, so a client cannot grow the map; it is bounded
// anyway, oldest dropped.
import { createHmac, randomBytes } from 'node:crypto';

export interface RememberedSecretsOptions {
  /** How long a verified secret is recognized after its last use (default one hour, a token's lifetime). */
  readonly ttlMs?: number;
  /** Secrets remembered at most (default 1,000); past it the least recently used goes. */
  readonly maxEntries?: number;
  /** The clock, in ms (tests move it). */
  readonly now?: () => number;
}

const DEFAULT_TTL_MS = 60 * 60 * 1000;
const DEFAULT_MAX_ENTRIES = 1000;

export class RememberedSecrets {
  readonly #key = randomBytes(32);
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** HMAC → when it is forgotten; in order of last use, least recent first. */
  readonly #expiries = new Map<string, number>();

  constructor(options: RememberedSecretsOptions = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    for (const [name, value] of Object.entries({ ttlMs: this.#ttlMs, maxEntries: this.#maxEntries })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#expiries.size;
  }

  /** Whether this secret was verified against this stored hash lately; a hit is remembered for longer. */
  recognizes(storedHash: string, secret: string): boolean {
    const id = this.#id(storedHash, secret);
    const expiry = this.#expiries.get(id);
    if (expiry === undefined) return false;
    this.#expiries.delete(id);
    if (expiry <= this.#now()) return false;
    this.#expiries.set(id, this.#now() + this.#ttlMs);
    return true;
  }

  /** The slow hash said this secret is the application's. */
  remember(storedHash: string, secret: string): void {
    const id = this.#id(storedHash, secret);
    this.#expiries.delete(id);
    this.#expiries.set(id, this.#now() + this.#ttlMs);
    for (const oldest of this.#expiries.keys()) {
      if (this.#expiries.size <= this.#maxEntries) break;
      this.#expiries.delete(oldest);
    }
  }

  #id(storedHash: string, secret: string): string {
    // Both parts are length-prefixed, so that no two pairs make the same input.
    return createHmac('sha256', this.#key).update(`${storedHash.length}:${storedHash}${secret.length}:${secret}`).digest('base64url');
  }
}
