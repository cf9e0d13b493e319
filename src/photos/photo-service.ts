// The photo service: read, upload, resize and delete one owner's photo. It knows
// nothing of HTTP; it turns images into versions (imaging/) and writes each
// version whole, under the caller's precondition, in one store transaction.
import { randomBytes } from 'node:crypto';
import { errors } from '../errors.js';
import type { MemoryReservations, RenderedPhoto, RenderOptions } from '../imaging/render-photo.js';
import {
  preconditionHolds,
  type Dimensions,
  type NewPhoto,
  type PhotoInfo,
  type PhotoOwner,
  type Precondition,
  type Store,
  type WriteOutcome,
} from '../storage/store.js';
import type { StoredChange } from '../storage/change-feed.js';
import { ownerKey, withHeaders, type CachedSize, type PhotoCache } from './photo-cache.js';
import { parseResizeRequest } from './resize-request.js';

export interface Renderer {
  renderUpload(bytes: Buffer, options: RenderOptions): Promise<RenderedPhoto>;
  renderResize(master: Buffer, width: number, height: number): Promise<RenderedPhoto>;
}

export interface PhotoServiceOptions {
  readonly pixelLimit: number;
  /** Memory all uploads decode in (photos/decode-budget.ts); absent: no bound but the upload gate's. */
  readonly decodeMemory?: MemoryReservations | undefined;
  /**
   * Hot sizes in memory; absent: every read goes to the store. A hit is served as it is
   * while the store's change feed is live (it hears every other process's commit and
   * drops what they change); otherwise it is checked against the stored ETag first.
   */
  readonly cache?: PhotoCache | undefined;
  /** Told how long each upload and resize took, and its render (for /metrics: metrics/portrait-metrics.ts). */
  readonly timings?: PhotoTimings | undefined;
}

export interface PhotoTimings {
  /** Decoding, sanitizing and rendering every size, in seconds. */
  rendered(kind: 'upload' | 'resize', seconds: number): void;
  /** The whole operation: render and store write, whatever its outcome. */
  written(kind: 'upload' | 'resize', seconds: number): void;
}

/** A strong ETag, quoted: 16 upper-case hex digits, new for every version (contract §3.1). */
/** Resizes retried when another write lands between reading and writing, before giving up with 412. */
const MAX_RESIZE_ATTEMPTS = 3;

export function newEtag(): string {
  return `"${randomBytes(8).toString('hex').toUpperCase()}"`;
}

// Graph's label for JSON answers, as http/odata-json.ts sends it (photos do not import http).
const JSON_CONTENT_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

/** How a size is named in the cache: 'primary' or '240x240'. */
export function sizeKeyOf(size: Dimensions | 'primary'): string {
  return size === 'primary' ? 'primary' : `${size.width}x${size.height}`;
}

export class PhotoService {
  readonly #store: Store;
  readonly #renderer: Renderer;
  readonly #options: PhotoServiceOptions;

  constructor(store: Store, renderer: Renderer, options: PhotoServiceOptions) {
    this.#store = store;
    this.#renderer = renderer;
    this.#options = options;
    const cache = options.cache;
    // Changes this service did not make: the directory removed an owner (and its photos),
    // or another process committed. The cache must not outlive them.
    if (cache) store.changes.subscribe((change) => forget(cache, change));
  }

  async info(owner: PhotoOwner): Promise<PhotoInfo> {
    const info = await this.#store.getPhoto(owner);
    if (!info) throw errors.imageNotFound();
    return info;
  }

  /** The current version's metadata, or undefined when there is no photo. */
  find(owner: PhotoOwner): Promise<PhotoInfo | undefined> {
    return this.#store.getPhoto(owner);
  }

  /** One size's bytes with their ETag and response headers — the read hot path. */
  content(owner: PhotoOwner, size: Dimensions | 'primary'): Promise<CachedSize> {
    return this.#cached(owner, sizeKeyOf(size), async () => {
      const content = await this.#store.getPhotoContent(owner, size);
      if (!content) throw errors.imageNotFound();
      return withHeaders(content);
    });
  }

  /**
   * The current version's metadata as a JSON answer, cached with the owner's sizes (so
   * dropped with them on every write) under `variant`, which names everything `render`
   * puts in it besides the version (the @odata.context, say).
   */
  metadataJson(owner: PhotoOwner, variant: string, render: (info: PhotoInfo) => string): Promise<CachedSize> {
    return this.#cached(owner, variant, async () => {
      const info = await this.info(owner);
      return withHeaders({ ...info.primary, etag: info.etag, bytes: Buffer.from(render(info)) }, JSON_CONTENT_TYPE);
    });
  }

  /** From the cache (checked with the store while changes might go unheard), else loaded and offered to it. */
  async #cached(owner: PhotoOwner, cacheKey: string, load: () => Promise<CachedSize>): Promise<CachedSize> {
    const cache = this.#options.cache;
    const key = ownerKey(owner);
    if (cache) {
      const hit = cache.get(key, cacheKey);
      if (hit && this.#store.changes.live) return hit;
      if (hit && (await this.#store.getPhoto(owner))?.etag === hit.etag) return hit;
    }
    const generation = cache?.generation ?? 0;
    const entry = await load();
    // The cache's own copy when it keeps it: the object a memo of the fast path checks for.
    return cache?.set(key, cacheKey, entry, generation) ?? entry;
  }

  /**
   * A cached size that may be served as it is, without asking the store: undefined on a
   * miss, and always while the store's change feed is not live (a commit of another
   * process could go unheard: see Store.changes).
   */
  trustedHit(ownerKey: string, sizeKey: string): CachedSize | undefined {
    if (!this.#store.changes.live) return undefined;
    return this.#options.cache?.get(ownerKey, sizeKey);
  }

  /**
   * A size answered within the caller's turn, for the read fast path's first reads of an
   * owner (http/hot-reads.ts): a trusted hit, else the store's own answer when it reads
   * synchronously (SQLite), offered to the cache as content() would. Undefined when the
   * owner has no such size, or when the store can answer only asynchronously: the route
   * answers then.
   */
  contentNow(owner: PhotoOwner, size: Dimensions | 'primary', sizeKey: string): CachedSize | undefined {
    const key = ownerKey(owner);
    const hit = this.trustedHit(key, sizeKey);
    if (hit !== undefined || this.#store.readPhotoContentNow === undefined) return hit;
    const cache = this.#options.cache;
    // Nothing can be invalidated between reading the generation and the store: one turn.
    const generation = cache?.generation ?? 0;
    const content = this.#store.readPhotoContentNow(owner, size);
    if (content === undefined) return undefined;
    const entry = withHeaders(content);
    return cache?.set(key, sizeKey, entry, generation) ?? entry;
  }

  /** Whether trustedHit can ever answer: there is a cache (whether it may, the change feed says per read). */
  get hasCache(): boolean {
    return this.#options.cache !== undefined;
  }

  /** Whether contentNow can answer a miss: the store reads synchronously. */
  get readsNow(): boolean {
    return this.#store.readPhotoContentNow !== undefined;
  }

  /** Decodes, sanitizes and renders the upload, then replaces the photo with it. */
  async upload(owner: PhotoOwner, bytes: Buffer, precondition: Precondition): Promise<PhotoInfo> {
    const started = performance.now();
    try {
      const rendered = await this.#timed('upload', () =>
        this.#renderer.renderUpload(bytes, { pixelLimit: this.#options.pixelLimit, memory: this.#options.decodeMemory }),
      );
      return await this.#write(owner, rendered, precondition);
    } finally {
      this.#options.timings?.written('upload', (performance.now() - started) / 1000);
    }
  }

  /**
   * A bulk import's upload (`portrait import-photos`), which changes nothing when the photo
   * is the one stored, so that an import run again skips what it did: the file is the stored
   * largest size itself (what `export-photos` writes), or it renders to the stored master
   * (the pipeline is deterministic: the same bytes make the same JPEG).
   */
  async importPhoto(owner: PhotoOwner, bytes: Buffer): Promise<'written' | 'unchanged'> {
    const largest = await this.#store.getPhotoContent(owner, 'primary');
    if (largest !== undefined && largest.bytes.equals(bytes)) return 'unchanged';
    const rendered = await this.#timed('upload', () =>
      this.#renderer.renderUpload(bytes, { pixelLimit: this.#options.pixelLimit, memory: this.#options.decodeMemory }),
    );
    const master = largest === undefined ? undefined : await this.#store.getMaster(owner);
    if (master !== undefined && master.bytes.equals(rendered.master.bytes)) return 'unchanged';
    await this.#write(owner, rendered, {});
    return 'written';
  }

  /** Times a render for the metrics; imaging/ knows nothing of them. */
  async #timed(kind: 'upload' | 'resize', render: () => Promise<RenderedPhoto>): Promise<RenderedPhoto> {
    const started = performance.now();
    try {
      return await render();
    } finally {
      this.#options.timings?.rendered(kind, (performance.now() - started) / 1000);
    }
  }

  /**
   * PATCH /photo {"width","height"}: re-renders the kept master at W×H. The new
   * version is written only over the version it was rendered from; if another write
   * lands meanwhile, a client precondition makes it a 412, otherwise the newer
   * version is resized instead (a few times at most).
   */
  async resize(owner: PhotoOwner, body: unknown, precondition: Precondition): Promise<PhotoInfo> {
    const started = performance.now();
    try {
      return await this.#resize(owner, body, precondition);
    } finally {
      this.#options.timings?.written('resize', (performance.now() - started) / 1000);
    }
  }

  async #resize(owner: PhotoOwner, body: unknown, precondition: Precondition): Promise<PhotoInfo> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.info(owner);
      if (!preconditionHolds(precondition, current.etag)) throw errors.preconditionFailed(current.etag);
      const { width, height } = parseResizeRequest(body, current);
      if (width === current.primary.width && height === current.primary.height) return current;
      const master = await this.#store.getMaster(owner);
      if (!master) throw errors.imageNotFound();
      if (master.etag === current.etag) {
        const rendered = await this.#timed('resize', () => this.#renderer.renderResize(master.bytes, width, height));
        const outcome = await this.#put(owner, rendered, { ifMatch: [current.etag] });
        if (outcome.ok) return outcome.info;
        if (outcome.currentEtag === undefined) throw errors.imageNotFound();
        if (precondition.ifMatch !== undefined || attempt >= MAX_RESIZE_ATTEMPTS) throw errors.preconditionFailed(outcome.currentEtag);
      } else if (precondition.ifMatch !== undefined || attempt >= MAX_RESIZE_ATTEMPTS) {
        throw errors.preconditionFailed(master.etag);
      }
    }
  }

  async delete(owner: PhotoOwner, precondition: Precondition): Promise<void> {
    const outcome = await this.#store.deletePhoto(owner, precondition);
    this.#changed(owner);
    // No photo is a 404 before it is a 412 (contract §6 order).
    if (!outcome.ok) throw outcome.currentEtag === undefined ? errors.imageNotFound() : errors.preconditionFailed(outcome.currentEtag);
    if (!outcome.deleted) throw errors.imageNotFound();
  }

  async #write(owner: PhotoOwner, rendered: RenderedPhoto, precondition: Precondition): Promise<PhotoInfo> {
    const outcome = await this.#put(owner, rendered, precondition);
    if (!outcome.ok) throw errors.preconditionFailed(outcome.currentEtag);
    return outcome.info;
  }

  async #put(owner: PhotoOwner, rendered: RenderedPhoto, precondition: Precondition): Promise<WriteOutcome> {
    const photo: NewPhoto = { etag: newEtag(), primary: rendered.primary, master: rendered.master, sizes: rendered.sizes };
    try {
      return await this.#store.putPhoto(owner, photo, precondition);
    } finally {
      // Also when the write failed: whatever was cached may be older than the store now.
      this.#changed(owner);
    }
  }

  /** Every cache of the owner's photo hears of it, this service's own included (see the constructor). */
  #changed(owner: PhotoOwner): void {
    this.#store.changes.publish({ kind: 'photo-changed', owner });
  }
}

/** Drops what a change may have made stale. */
function forget(cache: PhotoCache, change: StoredChange): void {
  switch (change.kind) {
    case 'photo-changed':
      return cache.invalidateOwner(ownerKey(change.owner));
    case 'group-changed':
    // Not the photo, but who may read it through joinedGroups: the fast path's memos of those
    // reads are kept only while the cached object is, so they go back through the route.
    case 'members-changed':
      return cache.invalidateOwner(ownerKey({ tenantId: change.tenantId, type: 'group', id: change.groupId }));
    case 'user-removed':
    // Their contacts' photos went too, and the cache does not know which owners those were.
    case 'elsewhere':
      return cache.clear();
  }
}
