// What Portrait exposes on GET /metrics (docs/operations.md, "Metrics" says what to alert
// on). Counted where it happens: requests by the access log (both paths), uploads and
// renders by the photo service, store calls by one wrapper (timed-store.ts). Read from
// their owners when scraped: the photo cache, the upload gate, the decode budget, the
// body budget, the process. Nothing in photos/ or imaging/ knows of this file.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Store } from '../storage/store.js';
import { MetricsRegistry, type Counter, type Histogram } from './metrics-registry.js';
import { timedStore } from './timed-store.js';

/** Request latency, seconds: a fast-path read takes tens of µs, an upload up to seconds. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Renders and uploads: 50 ms for a small photo to 10 s for the largest the budget admits. */
const RENDER_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** One store call: a cached SQLite page in µs, a PostgreSQL round trip in ms. */
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const EVENT_LOOP_RESOLUTION_MS = 10;

/** What the metrics read when scraped; each is optional, as a test app may lack it. */
export interface MetricSources {
  readonly photoCache?: { readonly hits: number; readonly misses: number; readonly bytes: number; readonly entries: number } | undefined;
  readonly uploads?: { readonly active: number; readonly waiting: number; readonly concurrency: number } | undefined;
  readonly decodeBudget?: { readonly inUse: number; readonly waiting: number; readonly limit: number } | undefined;
  readonly bodies?: { readonly reservedBytes: number; readonly limits: { readonly memoryBytes: number } } | undefined;
  readonly fastPath?: { readonly served: number; readonly size: number } | undefined;
}

export type PhotoWork = 'upload' | 'resize';

export class PortraitMetrics {
  readonly registry = new MetricsRegistry();
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #requestSeconds: Histogram<'route' | 'method'>;
  readonly #photoSeconds: Histogram<'kind'>;
  readonly #renderSeconds: Histogram<'kind'>;
  readonly #storeSeconds: Histogram<'method'>;
  readonly #eventLoop: IntervalHistogram;
  #sources: MetricSources = {};

  constructor() {
    const r = this.registry;
    this.#requests = r.counter('portrait_http_requests_total', 'Requests answered, by route template or Graph operation, method and status.', ['route', 'method', 'status']);
    this.#requestSeconds = r.histogram('portrait_http_request_duration_seconds', 'Time from request to answer, by route and method.', REQUEST_BUCKETS, ['route', 'method']);
    this.#photoSeconds = r.histogram('portrait_photo_write_duration_seconds', 'A whole upload or resize in the photo service: render and store write.', RENDER_BUCKETS, ['kind']);
    this.#renderSeconds = r.histogram('portrait_photo_render_duration_seconds', 'Decoding, sanitizing and rendering every size of an upload or resize.', RENDER_BUCKETS, ['kind']);
    this.#storeSeconds = r.histogram('portrait_store_duration_seconds', 'One call of the store (SQLite or PostgreSQL), by method.', STORE_BUCKETS, ['method']);

    const cacheLookups = r.counter('portrait_photo_cache_lookups_total', 'Photo cache lookups, by result (hit or miss).', ['result']);
    const cacheBytes = r.gauge('portrait_photo_cache_bytes', 'Bytes of photo sizes held in the cache.');
    const cacheEntries = r.gauge('portrait_photo_cache_entries', 'Photo sizes (and metadata answers) held in the cache.');
    const fastPath = r.counter('portrait_fast_path_reads_total', 'Reads answered by the read fast path, before routing (included in the request counts).');
    const memos = r.gauge('portrait_fast_path_memos', 'Reads the fast path remembers (at most 10,000).');
    const uploadsActive = r.gauge('portrait_upload_slots_in_use', 'Uploads decoding now (of --upload-concurrency).');
    const uploadSlots = r.gauge('portrait_upload_slots', 'Uploads that may decode at once (--upload-concurrency).');
    const uploadsWaiting = r.gauge('portrait_upload_queue_depth', 'Uploads waiting for a slot (past --upload-queue: 429).');
    const decodeInUse = r.gauge('portrait_decode_memory_in_use_bytes', 'Decode memory reserved by renders now.');
    const decodeLimit = r.gauge('portrait_decode_memory_limit_bytes', 'The decode memory budget (--decode-memory-mb).');
    const decodeWaiting = r.gauge('portrait_decode_queue_depth', 'Uploads waiting for decode memory.');
    const bodyBytes = r.gauge('portrait_body_memory_in_use_bytes', 'Bytes held for request bodies in flight.');
    const bodyLimit = r.gauge('portrait_body_memory_limit_bytes', 'The request body budget (--body-memory-mb).');
    const rss = r.gauge('process_resident_memory_bytes', 'Resident set size.');
    const heapUsed = r.gauge('nodejs_heap_used_bytes', 'V8 heap in use.');
    const heapTotal = r.gauge('nodejs_heap_total_bytes', 'V8 heap allocated.');
    const external = r.gauge('nodejs_external_memory_bytes', 'Memory outside the V8 heap held by JavaScript objects (Buffers: photo bytes).');
    const cpu = r.counter('process_cpu_seconds_total', 'User and system CPU time.');
    const started = r.gauge('process_start_time_seconds', 'When the process started, seconds since the epoch.');
    const lag = r.gauge('nodejs_eventloop_delay_seconds', 'Event loop delay since the previous scrape, by statistic (p50, p99, max).', ['stat']);

    // 10 ms resolution: a timer every 10 ms costs nothing measurable and sees any stall worth alerting on.
    this.#eventLoop = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.#eventLoop.enable();
    const startedAt = (Date.now() - performance.now()) / 1000;

    r.onCollect(() => {
      const s = this.#sources;
      if (s.photoCache) {
        cacheLookups.set({ result: 'hit' }, s.photoCache.hits);
        cacheLookups.set({ result: 'miss' }, s.photoCache.misses);
        cacheBytes.set(undefined, s.photoCache.bytes);
        cacheEntries.set(undefined, s.photoCache.entries);
      }
      if (s.fastPath) {
        fastPath.set(undefined, s.fastPath.served);
        memos.set(undefined, s.fastPath.size);
      }
      if (s.uploads) {
        uploadsActive.set(undefined, s.uploads.active);
        uploadSlots.set(undefined, s.uploads.concurrency);
        uploadsWaiting.set(undefined, s.uploads.waiting);
      }
      if (s.decodeBudget) {
        decodeInUse.set(undefined, s.decodeBudget.inUse);
        decodeLimit.set(undefined, s.decodeBudget.limit);
        decodeWaiting.set(undefined, s.decodeBudget.waiting);
      }
      if (s.bodies) {
        bodyBytes.set(undefined, s.bodies.reservedBytes);
        bodyLimit.set(undefined, s.bodies.limits.memoryBytes);
      }
      const memory = process.memoryUsage();
      rss.set(undefined, memory.rss);
      heapUsed.set(undefined, memory.heapUsed);
      heapTotal.set(undefined, memory.heapTotal);
      external.set(undefined, memory.external);
      const usage = process.cpuUsage();
      cpu.set(undefined, (usage.user + usage.system) / 1e6);
      started.set(undefined, Math.round(startedAt));
      // Over the time since the previous scrape (then reset). Each sample is the whole time
      // between two ticks of the timer, the resolution included: that is taken off, so an idle
      // loop shows about 0. With no sample yet, 0 rather than the histogram's initial extremes.
      const seen = this.#eventLoop.count > 0;
      const delay = (nanoseconds: number) => (seen ? Math.max(0, nanoseconds / 1e9 - EVENT_LOOP_RESOLUTION_MS / 1000) : 0);
      lag.set({ stat: 'p50' }, delay(this.#eventLoop.percentile(50)));
      lag.set({ stat: 'p99' }, delay(this.#eventLoop.percentile(99)));
      lag.set({ stat: 'max' }, delay(this.#eventLoop.max));
      this.#eventLoop.reset();
    });
  }

  /** Adds what the scrape reads; called by whoever owns each (cli/serve.ts, buildApp). */
  watch(sources: MetricSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  /** The store, with every call timed. */
  timeStore(store: Store): Store {
    return timedStore(store, this.#storeSeconds);
  }

  /** For the photo service: how long its uploads and resizes took, and their renders. */
  readonly photoTimings = {
    rendered: (kind: PhotoWork, seconds: number) => this.#renderSeconds.observe({ kind }, seconds),
    written: (kind: PhotoWork, seconds: number) => this.#photoSeconds.observe({ kind }, seconds),
  };

  /** Called once per answered request (http/access-log.ts). */
  requestFinished(route: string, method: string, status: number, seconds: number): void {
    this.#requests.inc({ route, method, status: statusLabel(status) });
    this.#requestSeconds.observe({ route, method }, seconds);
  }

  expose(): string {
    return this.registry.expose();
  }

  close(): void {
    this.#eventLoop.disable();
  }
}

/** The status as a label: 100–599 as sent; anything else would be a bug, and is one series. */
const STATUS_LABELS = Array.from({ length: 600 }, (_, i) => String(i));
function statusLabel(status: number): string {
  return STATUS_LABELS[status] ?? 'other';
}

