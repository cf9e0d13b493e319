// A bounded map of recent directory lookups for the photo read path, so that
// GET /users/{id}/photo/$value does not ask the store who {id} is every time.
// Entries live `ttlMs` at most: another node may delete a user, and this node must
// not go on resolving them for long. Writes never use it (see Directory.findUser).
export class LookupCache<T> {
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { value: T; expires: number }>();

  constructor(maxEntries: number, ttlMs: number) {
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  get(key: string, now = Date.now()): T | undefined {
    return this.entry(key, now)?.value;
  }

  /** The value with the time (ms) it stops being used. */
  entry(key: string, now = Date.now()): { readonly value: T; readonly expires: number } | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Stores the value; returns the time (ms) it stops being used. */
  set(key: string, value: T, now = Date.now()): number {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      // Maps iterate in insertion order: the first entry is the oldest.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    const expires = now + this.#ttlMs;
    this.#entries.set(key, { value, expires });
    return expires;
  }

  clear(): void {
    this.#entries.clear();
  }
}
