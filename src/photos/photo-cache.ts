// An in-memory cache of hot photo sizes, bounded by a byte budget (least recently
// used first out), each entry with its response headers computed once per version.
//
// Correct under updates: every change the store's feed announces (this process's
// writes, the directory's removals, other processes' commits: storage/change-feed.ts)
// invalidates the owner's entries or all of them; a read that raced with an
// invalidation does not store what it read (the generation check below), so a stale
// version can never be put back after a write. While the store's feed cannot vouch
// that it hears every other process's commit, the photo service checks each hit
// against the stored ETag instead of trusting it — see PhotoService.
import type { PhotoContent, PhotoOwner } from '../storage/store.js';

/** A size's bytes, or another answer about the same version (its metadata JSON). */
export interface CachedSize extends PhotoContent {
  /** Content-Type, ETag, Cache-Control and Content-Length of a 200 for these bytes. */
  readonly headers: Readonly<Record<string, string>>;
}

/** Clients keep the photo but must revalidate: nobody sees a stale photo after an update. */
export const PHOTO_CACHE_CONTROL = 'private, no-cache';

export function withHeaders(content: PhotoContent, contentType = 'image/jpeg'): CachedSize {
  // Two fixed literals, no spread: a literal built with spreads defined its properties one
  // by one through V8's slow path and made new hidden classes as it went, 4–6 µs of every
  // read the store answers (docs/performance.md, "scale").
  const { etag, width, height, bytes } = content;
  const length = String(bytes.length);
  const headers = contentType.startsWith('application/json')
    ? // JSON (a version's metadata) says its OData version, as Graph's answers do.
      { 'content-type': contentType, etag, 'cache-control': PHOTO_CACHE_CONTROL, 'content-length': length, 'odata-version': '4.0' }
    : { 'content-type': contentType, etag, 'cache-control': PHOTO_CACHE_CONTROL, 'content-length': length };
  return { etag, width, height, bytes, headers };
}

const MIN_DOORKEEPER = 1024;
/** The doorkeeper's window, as a share of the entries held: see #admit. */
const DOORKEEPER_SHARE = 4;

/** The default cache: an eighth of `memory`, no less than 64 MiB and no more than 1 GiB. */
const DEFAULT_SHARE = 8;
const DEFAULT_MIN_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * The cache's size when `--cache-mb` is not given, from the memory the process may use
 * (config.ts: its cgroup's limit, else the machine's). Why not a fixed size: a cache that
 * holds an organisation's hot photos answers every read with no store read and no garbage
 * that outlives a request, while one a fraction of their size turns over, and what it
 * admits and drops costs the collector more than its hits save (docs/performance.md,
 * "scale"). A 64 MiB default kept 18,000 of 100,000 users' 3.5 kB photos on a 24 GB
 * machine. An eighth leaves the rest for the upload and decode budgets, the store's pages
 * and the other processes; the cache only grows as photos are read.
 */
export function defaultCacheBytes(memory: number): number {
  const share = Math.floor(memory / DEFAULT_SHARE / (1024 * 1024)) * 1024 * 1024;
  return Math.min(DEFAULT_MAX_BYTES, Math.max(DEFAULT_MIN_BYTES, share));
}

export function ownerKey(owner: PhotoOwner): string {
  return `${owner.tenantId}/${owner.type}/${owner.id}`;
}

/**
 * A cached size: its entry, its neighbours in least-recently-used order, and the next
 * size of the same owner. Why a chain per owner and not a Map keyed by owner and size with
 * a Set of keys per owner: a size held 352 bytes of V8 heap for those (its composite key
 * string, the owner's Set and table, two Map places), more than its entry and headers, and
 * a cache holding 100,000 owners' photos is marked whole by every major collection
 * (docs/performance.md, "scale"). The chain is short: an owner's entries are its stored
 * sizes and a metadata answer per path, all named by stored ids, never by what a client
 * sends (photo-handler.ts; test/cache-keys.test.ts holds it).
 */
interface Slot {
  /** The owner's key: one string for all the owner's slots (the chain's first one's). */
  readonly owner: string;
  readonly size: string;
  readonly entry: CachedSize;
  older: Slot | undefined;
  newer: Slot | undefined;
  /** The next size of the same owner (the chain starts at #owners' entry for the owner). */
  sibling: Slot | undefined;
}

export class PhotoCache {
  readonly #maxBytes: number;
  /** Each owner's first slot; the rest follow through `sibling`. */
  readonly #owners = new Map<string, Slot>();
  /**
   * The least-recently-used order, as a list through the slots: the next to go is #oldest.
   * Not a Map's own order: taking its first key after deleting the ones before walks
   * every deleted place V8 keeps until the table is rebuilt, which on a full cache that
   * turns over (reads spread over 100,000 owners) cost 3.6 µs per read, more than
   * SQLite's part of a miss (docs/performance.md, "scale").
   */
  #oldest: Slot | undefined;
  #newest: Slot | undefined;
  /**
   * Keys loaded once while the cache was full. Admission when full takes a second load
   * within the window (a "doorkeeper", as in TinyLFU): when reads spread over many more
   * owners than fit, each one-off read would otherwise evict a size that is read again,
   * and the churn cost more than the hits saved (docs/performance.md, "scale").
   * It holds the keys' hashes, not the keys: a Set of strings kept each missed key alive
   * until the window closed, and the young-generation collector copied and promoted them
   * all (2.3 times the bytes promoted per scavenge with reads over 100,000 owners). Two
   * keys with one hash merely let the second in early.
   */
  readonly #doorkeeper = new Set<number>();
  #count = 0;
  #bytes = 0;
  #generation = 0;
  #hits = 0;
  #misses = 0;

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

  /** Sizes held now. */
  get entries(): number {
    return this.#count;
  }

  /** Lookups that found their size, and that did not, since the start (for /metrics). */
  get hits(): number {
    return this.#hits;
  }

  get misses(): number {
    return this.#misses;
  }

  get(owner: string, size: string): CachedSize | undefined {
    const slot = this.#find(owner, size);
    if (slot === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    if (slot !== this.#newest) {
      this.#unlink(slot);
      this.#append(slot);
    }
    return slot.entry;
  }

  /**
   * Offers an entry loaded at `generation`; returns what to answer with: the cache's own
   * copy when it keeps it (see kept), else `entry`. Not kept when anything was invalidated
   * since, or when the cache is full and this is the entry's first load in a while (the
   * doorkeeper).
   */
  set(owner: string, size: string, entry: CachedSize, generation: number): CachedSize {
    if (generation !== this.#generation || entry.bytes.length > this.#maxBytes) return entry;
    if (this.#bytes + entry.bytes.length > this.#maxBytes && !this.#admit(owner, size)) return entry;
    const old = this.#find(owner, size);
    if (old !== undefined) this.#remove(old);
    const first = this.#owners.get(owner);
    const slot: Slot = { owner: first?.owner ?? owner, size, entry: kept(entry), older: undefined, newer: undefined, sibling: first };
    this.#owners.set(slot.owner, slot);
    this.#append(slot);
    this.#count++;
    this.#bytes += entry.bytes.length;
    while (this.#bytes > this.#maxBytes && this.#oldest !== undefined) this.#remove(this.#oldest);
    return slot.entry;
  }

  #admit(owner: string, size: string): boolean {
    const hash = keyHash(owner, size);
    if (this.#doorkeeper.delete(hash)) return true;
    // The window: as many first loads as a quarter of the entries the cache holds. A
    // photo read again within it is hot enough to earn a place; with reads spread evenly
    // over five times the owners that fit, a window as large as the cache let one miss in
    // eight in, a quarter of it one in thirty-six, and the hit rate is the same (no policy
    // beats chance there), while on skewed reads (Zipf 0.8 and 1.0 over 100,000 owners)
    // it hits as often or more (63.9% against 62.9%). What is let in and pushed out again
    // is what the collector has to promote and then mark: a cache that only turns over
    // must cost nothing (docs/performance.md, "scale").
    if (this.#doorkeeper.size >= Math.max(MIN_DOORKEEPER, this.#count / DOORKEEPER_SHARE)) this.#doorkeeper.clear();
    this.#doorkeeper.add(hash);
    return false;
  }

  invalidateOwner(owner: string): void {
    this.#generation++;
    for (let slot = this.#owners.get(owner); slot !== undefined; slot = slot.sibling) this.#forget(slot);
    this.#owners.delete(owner);
  }

  clear(): void {
    this.#generation++;
    this.#doorkeeper.clear();
    this.#owners.clear();
    this.#oldest = this.#newest = undefined;
    this.#count = 0;
    this.#bytes = 0;
  }

  #find(owner: string, size: string): Slot | undefined {
    let slot = this.#owners.get(owner);
    while (slot !== undefined && slot.size !== size) slot = slot.sibling;
    return slot;
  }

  /** Takes the slot out of the cache: its owner's chain, the order and the counts. */
  #remove(slot: Slot): void {
    const first = this.#owners.get(slot.owner);
    if (first === slot) {
      if (slot.sibling === undefined) this.#owners.delete(slot.owner);
      else this.#owners.set(slot.owner, slot.sibling);
    } else {
      let before = first;
      while (before !== undefined && before.sibling !== slot) before = before.sibling;
      if (before !== undefined) before.sibling = slot.sibling;
    }
    this.#forget(slot);
  }

  /** Takes the slot out of the order and the counts (its chain is the caller's). */
  #forget(slot: Slot): void {
    this.#unlink(slot);
    this.#count--;
    this.#bytes -= slot.entry.bytes.length;
  }

  /** Puts a slot that is in no list at the newest end. */
  #append(slot: Slot): void {
    slot.older = this.#newest;
    slot.newer = undefined;
    if (this.#newest) this.#newest.newer = slot;
    else this.#oldest = slot;
    this.#newest = slot;
  }

  #unlink(slot: Slot): void {
    if (slot.older) slot.older.newer = slot.newer;
    else this.#oldest = slot.newer;
    if (slot.newer) slot.newer.older = slot.older;
    else this.#newest = slot.older;
    slot.older = slot.newer = undefined;
  }
}

/** FNV-1a of the owner, a separator and the size, cut to 30 bits: a small integer to V8, kept in a Set without allocating. */
function keyHash(owner: string, size: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < owner.length; i++) hash = Math.imul(hash ^ owner.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ 0x7c, 0x01000193);
  for (let i = 0; i < size.length; i++) hash = Math.imul(hash ^ size.charCodeAt(i), 0x01000193);
  return hash >>> 2;
}

/**
 * The cache's own copy of an entry it keeps, made here and nowhere else. Why: V8 decides
 * per allocation site whether what it makes is allocated straight into the old generation
 * (pretenuring), from how much of it survived the young one. While a cache fills, every
 * answer it is offered survives, so withHeaders' literals, which make every answer, were
 * pretenured; from then on the answer of every miss, kept or not, was allocated old and
 * died there. With a cache a fifth of 100,000 owners' photos that was a major collection
 * a second, 25 ms reads at p99 and more CPU than no cache at all (docs/performance.md,
 * "scale"). What is made here is kept, and what withHeaders makes dies young.
 */
function kept(entry: CachedSize): CachedSize {
  const { etag, width, height, bytes, headers: made } = entry;
  const contentType = made['content-type'] as string;
  const length = made['content-length'] as string;
  const odataVersion = made['odata-version'];
  const headers =
    odataVersion === undefined
      ? { 'content-type': contentType, etag: made.etag as string, 'cache-control': made['cache-control'] as string, 'content-length': length }
      : { 'content-type': contentType, etag: made.etag as string, 'cache-control': made['cache-control'] as string, 'content-length': length, 'odata-version': odataVersion };
  return { etag, width, height, bytes, headers };
}
