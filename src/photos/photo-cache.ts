// An in-memory cache of hot photo sizes, bounded by a byte budget (least recently
// used first out), each entry with its response headers computed once per version.
//
// Correct under updates: writes through this process invalidate the owner's
// entries; a read that raced with an invalidation does not store what it read (the
// generation check below), so a stale version can never be put back after a write.
// With a store shared by several processes (PostgreSQL), the photo service also
// revalidates every hit against the stored ETag — see PhotoService.
import type { PhotoContent, PhotoOwner } from '../storage/store.js';

export interface CachedSize extends PhotoContent {
  /** Content-Type, ETag, Cache-Control and Content-Length of a 200 for these bytes. */
  readonly headers: Readonly<Record<string, string>>;
}

/** Clients keep the photo but must revalidate: nobody sees a stale photo after an update. */
export const PHOTO_CACHE_CONTROL = 'private, no-cache';

export function withHeaders(content: PhotoContent): CachedSize {
  return {
    ...content,
    headers: {
      'content-type': 'image/jpeg',
      etag: content.etag,
      'cache-control': PHOTO_CACHE_CONTROL,
      'content-length': String(content.bytes.length),
    },
  };
}

export function ownerKey(owner: PhotoOwner): string {
  return `${owner.tenantId}/${owner.type}/${owner.id}`;
}

export class PhotoCache {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, CachedSize>();
  /** Which entry keys belong to each owner, so an owner's sizes go together. */
  readonly #byOwner = new Map<string, Set<string>>();
  #bytes = 0;
  #generation = 0;
  #clears = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Read before loading from the store; pass it back to set(). */
  get generation(): number {
    return this.#generation;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** How many times clear() ran: what was derived from the directory before a change is void. */
  get clears(): number {
    return this.#clears;
  }

  get(owner: string, size: string): CachedSize | undefined {
    const key = `${owner}|${size}`;
    const entry = this.#entries.get(key);
    if (entry) {
      // Re-insert: Maps iterate in insertion order, so the first entry is the least recently used.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Stores an entry loaded at `generation`, unless anything was invalidated since. */
  set(owner: string, size: string, entry: CachedSize, generation: number): void {
    if (generation !== this.#generation || entry.bytes.length > this.#maxBytes) return;
    const key = `${owner}|${size}`;
    this.#remove(key);
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes.length;
    let keys = this.#byOwner.get(owner);
    if (!keys) this.#byOwner.set(owner, (keys = new Set()));
    keys.add(key);
    for (const [oldest] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#remove(oldest);
    }
  }

  invalidateOwner(owner: string): void {
    this.#generation++;
    for (const key of this.#byOwner.get(owner) ?? []) this.#remove(key);
  }

  clear(): void {
    this.#generation++;
    this.#clears++;
    this.#entries.clear();
    this.#byOwner.clear();
    this.#bytes = 0;
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes.length;
    const owner = key.slice(0, key.lastIndexOf('|'));
    const keys = this.#byOwner.get(owner);
    keys?.delete(key);
    if (keys?.size === 0) this.#byOwner.delete(owner);
  }
}
