// The read fast path. A GET of a photo's bytes or metadata that this process has answered
// before, with the same token and the same URL, is answered again straight from
// the photo cache, in front of Fastify: the token, the path, the permission check
// and the owner's resolution were all decided the first time, and none of them can
// change while the memo holds (see below).
//
// Why: a cached read through the route cost about 55 µs of one core where bare
// Node.js serving the same bytes costs about 25 µs (docs/performance.md, "read"):
// Fastify's request, reply and hooks, then the async handler chain, token cache, path
// parsing, permission unions and owner lookup. People pickers and galleries ask for
// the same photos with the same token over and over.
//
// A memo is (Authorization header, URL, Host) → (owner, cached answer), kept only while
// - the token is unexpired (its exp, the verifier's own cache bound);
// - the directory lookups behind the owner's resolution are reusable (lookup-cache.ts:
//   the same bound the route itself keeps to, never longer);
// - the photo cache holds, as a trusted hit (photo-service.ts: only while the store's
//   change feed hears every other process's commit), the very object the route
//   answered with. A write through this process or a change notice from another drops
//   the owner's entries, and a user or group deleted clears them all, so any of them
//   sends the next read back through the route.
// Anything else — another method, another header that matters, a miss — goes
// through the route, which answers and may remember it for next time.
//
// A URL never read before with a token can be answered too (issue 12 §2: reads spread
// over 100,000 owners are mostly first reads, and the route cost several times the
// read): once the route has answered a photo read for a token, what it decided about the
// caller — the token is valid until its exp, and which photos its permissions reach — is
// kept as a grant, as long as a memo would be. A later GET of any user's or group's photo
// bytes in the plain spelling (http/photo-read-url.ts) with that token is answered from a
// trusted cache hit or, on a store that reads synchronously, straight from the store,
// which is the truth: a photo there means its owner exists (photos go with their owner,
// in one transaction). No photo, another spelling, a permission the grant does not hold:
// the route answers, with its own errors.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PHOTO_CACHE_CONTROL, type CachedSize } from '../photos/photo-cache.js';
import type { PhotoService } from '../photos/photo-service.js';
import type { AccessLog, Observed } from './access-log.js';
import { notModified } from './conditional.js';
import { throttledError, type Caller, type Throttle } from '../traffic/throttle.js';
import { authorizeKind, authorizeOwner, type PermissionTarget } from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';
import type { PhotoOwner } from '../storage/store.js';
import { clientRequestIdOf, sendRawError, STATIC_HEADERS } from './error-envelope.js';
import { parsePhotoReadUrl } from './photo-read-url.js';

/** What the route answered a read with, and for how long it may be answered again. */
export interface ReadAnswered {
  /** The whole header: the memo's key holds only its end (see memoKey). */
  readonly authorization: string;
  readonly url: string;
  /** The Host header: a metadata answer's @odata.context is built from it. */
  readonly host: string | undefined;
  readonly ownerKey: string;
  /** The answer's key in the photo cache: a size ('240x240', 'primary') or a JSON variant. */
  readonly cacheKey: string;
  /** ms since the epoch: the earlier of the token's exp and the lookups' reuse limit. */
  readonly until: number;
  /** Whom `serve --throttle` counts the read against (traffic/throttle.ts): the token's, made once. */
  readonly caller: Caller;
  /** The route's access-log fields (operation, tenant, caller), logged again for every answer. */
  readonly observed?: Observed | undefined;
}

interface Memo extends ReadAnswered {
  /** The cached object the answer was made from: served only while the cache still holds it. */
  readonly source: CachedSize;
  /** What is sent: the cached object itself, or (metadata) it made for this request's service root. */
  readonly answer: CachedSize;
  readonly headers: HeaderLists;
}

/**
 * The response headers of a 200 and of a 304, as flat [name, value, …] lists whose first
 * two values (the request ids) are filled in per request: a header object built per
 * response showed up in the profile at several times the rest of the fast path.
 */
interface HeaderLists {
  readonly ok: readonly string[];
  readonly notModified: readonly string[];
}

/** What the route decided about a token when it answered a photo read with it. */
export interface CallerAnswered {
  readonly authorization: string;
  readonly principal: Principal;
  /** ms since the epoch: as a memo's (ReadAnswered.until). */
  readonly until: number;
  readonly caller: Caller;
  /** The token's access-log fields (tenant, caller, app); the route is named per URL. */
  readonly observed?: Observed | undefined;
}

interface Grant {
  readonly authorization: string;
  readonly tenantId: string;
  /** The signed-in user (delegated tokens): /me, and the user whose photo is their own. */
  readonly userId: string | undefined;
  readonly until: number;
  readonly caller: Caller;
  readonly observed: Observed | undefined;
  /** Whose photos the token's permissions reach, as the route's checks decide (auth/permissions.ts). */
  readonly ownUser: boolean;
  readonly otherUsers: boolean;
  readonly groups: boolean;
}

export interface HotReadsOptions {
  /** Memos kept at most (the oldest goes first); each is about the size of its token. */
  readonly maxEntries?: number;
  /** The clock (ms since the epoch) memos expire by; tests move it. */
  readonly now?: () => number;
}

export class HotReads {
  readonly #photos: PhotoService;
  readonly #maxEntries: number;
  readonly #memos = new Map<string, Memo>();
  /** By the end of the token, as memos are keyed (memoKey); at most maxEntries. */
  readonly #grants = new Map<string, Grant>();
  /** The one copy of each remembered token, with how many memos use it. */
  readonly #tokens = new Map<string, { readonly value: string; memos: number }>();
  readonly #now: () => number;
  /** `serve --throttle`'s budgets, when on: the fast path counts what it answers too. */
  #throttle: Throttle | undefined;
  #open = true;
  #served = 0;

  constructor(photos: PhotoService, options: HotReadsOptions = {}) {
    this.#photos = photos;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Counts every read answered here against the caller's budgets, refusing with 429 when spent. */
  useThrottle(throttle: Throttle | undefined): void {
    this.#throttle = throttle;
  }

  /** How many requests the fast path answered (for tests and diagnostics). */
  get served(): number {
    return this.#served;
  }

  /** How many memos are kept (for tests and diagnostics). */
  get size(): number {
    return this.#memos.size;
  }

  /**
   * Called by the route after it answered a read with `answer`, made from the cached
   * `source`. Kept only when the cache holds that very source (a full cache may not have
   * let it in): a memo of anything else would never be used. And only for what a client
   * cannot inflate: no query string (those are answered by the route every time), and a
   * URL, Host and token of ordinary length — so memos are few bytes each, and at most
   * maxEntries of them, whatever clients send.
   */
  remember(answered: ReadAnswered, source: CachedSize, answer: CachedSize = source): void {
    const { url, host, authorization } = answered;
    if (url.includes('?') || url.length > MAX_URL || (host?.length ?? 0) > MAX_HOST || authorization.length > MAX_AUTHORIZATION) return;
    if (answered.until <= this.#now() || this.#photos.trustedHit(answered.ownerKey, answered.cacheKey) !== source) return;
    const key = memoKey(authorization, url);
    this.#forget(key);
    if (this.#memos.size >= this.#maxEntries) {
      // Maps iterate in insertion order: the first memo is the oldest.
      const oldest = this.#memos.keys().next();
      if (!oldest.done) this.#forget(oldest.value);
    }
    // One copy of a token for all its memos: a token's many URLs must not each hold it.
    const token = this.#tokens.get(authorization) ?? { value: authorization, memos: 0 };
    token.memos++;
    this.#tokens.set(authorization, token);
    this.#memos.set(key, { ...answered, authorization: token.value, source, answer, headers: { ok: headerList(answer, true), notModified: headerList(answer, false) } });
  }

  /**
   * Called by the route after it answered a photo read with this token: any user's or
   * group's photo bytes the token may read can be answered here from now on, until `until`.
   * Kept only for a token of ordinary length, and for at most maxEntries tokens.
   */
  rememberCaller(answered: CallerAnswered): void {
    const { authorization, principal, until } = answered;
    if (authorization.length > MAX_AUTHORIZATION || until <= this.#now()) return;
    const key = authorization.slice(-TOKEN_END);
    this.#grants.delete(key);
    if (this.#grants.size >= this.#maxEntries) {
      const oldest = this.#grants.keys().next();
      if (!oldest.done) this.#grants.delete(oldest.value);
    }
    this.#grants.set(key, {
      authorization,
      tenantId: principal.tenantId,
      userId: principal.delegated ? principal.objectId : undefined,
      until,
      caller: answered.caller,
      observed: answered.observed,
      ownUser: principal.delegated && mayRead(principal, 'userPhoto', true),
      otherUsers: mayRead(principal, 'userPhoto', false),
      groups: mayRead(principal, 'groupPhoto', false),
    });
  }

  #forget(key: string): void {
    const memo = this.#memos.get(key);
    if (memo === undefined) return;
    this.#memos.delete(key);
    const token = this.#tokens.get(memo.authorization);
    if (token !== undefined && --token.memos === 0) this.#tokens.delete(memo.authorization);
  }

  /**
   * Answers the request and returns true, or returns false and leaves it untouched for
   * Fastify. The status, headers and body are the route's (setCommonHeaders, then the
   * photo's: see photo-handler.ts); test/hot-reads.test.ts holds them equal. A page's CORS
   * headers were set on the response before (app.ts).
   */
  serve(request: IncomingMessage, response: ServerResponse, access?: AccessLog, startedMs = 0): boolean {
    if (request.method !== 'GET' || !this.#open) return false;
    const { authorization } = request.headers;
    const url = request.url as string;
    if (authorization === undefined) return false;
    const key = memoKey(authorization, url);
    const memo = this.#memos.get(key);
    if (memo === undefined) return this.#serveGranted(request, response, authorization, url, access, startedMs);
    if (memo.authorization !== authorization || memo.host !== request.headers.host) return false;
    if (memo.until <= this.#now()) {
      this.#forget(key);
      return false;
    }
    // Another object is another version (or a reload): the route answers, and remembers it.
    if (this.#photos.trustedHit(memo.ownerKey, memo.cacheKey) !== memo.source) return false;
    this.#send(request, response, memo.answer, memo.headers, memo.caller, memo.observed?.route ?? FAST_PATH_ROUTE, memo.observed, access, startedMs);
    return true;
  }

  /** A first read of a URL, with a token the route has answered a photo read for (rememberCaller). */
  #serveGranted(
    request: IncomingMessage,
    response: ServerResponse,
    authorization: string,
    url: string,
    access: AccessLog | undefined,
    startedMs: number,
  ): boolean {
    const grant = this.#grants.get(authorization.slice(-TOKEN_END));
    if (grant === undefined || grant.authorization !== authorization) return false;
    if (grant.until <= this.#now()) {
      this.#grants.delete(authorization.slice(-TOKEN_END));
      return false;
    }
    const read = parsePhotoReadUrl(url);
    if (read === undefined) return false;
    const id = read.id === 'me' ? grant.userId : read.id;
    if (id === undefined) return false;
    const allowed = read.kind === 'group' ? grant.groups : id === grant.userId ? grant.ownUser : grant.otherUsers;
    if (!allowed) return false;
    const owner: PhotoOwner = { tenantId: grant.tenantId, type: read.kind, id };
    const answer = this.#photos.contentNow(owner, read.size, read.sizeKey);
    if (answer === undefined) return false;
    this.#send(request, response, answer, undefined, grant.caller, read.route, grant.observed, access, startedMs);
    return true;
  }

  /**
   * Sends `answer` as the route would (a 200, or a 304 for a matching If-None-Match),
   * counted against the caller's budgets first, with the same access line and count.
   * `lists`: a memo's headers, made once; without them they are made for this answer.
   */
  #send(
    request: IncomingMessage,
    response: ServerResponse,
    answer: CachedSize,
    lists: HeaderLists | undefined,
    caller: Caller,
    route: string,
    observed: Observed | undefined,
    access: AccessLog | undefined,
    startedMs: number,
  ): void {
    const url = request.url as string;
    this.#served++;
    if (this.#throttle !== undefined) {
      const refusal = this.#throttle.admit(caller, false);
      if (refusal !== undefined) {
        const sent = sendRawError(request, response, throttledError(refusal));
        access?.finished('GET', url, 429, sent.bytes, performance.now() - startedMs, sent.requestId, route, observed);
        return;
      }
    }
    const requestId = randomUUID();
    const fresh = !notModified(request.headers['if-none-match'], answer.etag);
    const made = lists === undefined ? undefined : fresh ? lists.ok : lists.notModified;
    const headers = made === undefined ? headerList(answer, fresh) : made.slice();
    headers[1] = requestId;
    headers[3] = clientRequestIdOf(request.headers['client-request-id'], requestId);
    response.writeHead(fresh ? 200 : 304, headers);
    response.end(fresh ? answer.bytes : undefined);
    // The same line and count as the route's (access-log.ts), with the route's fields.
    access?.finished('GET', url, fresh ? 200 : 304, fresh ? answer.bytes.length : 0, performance.now() - startedMs, requestId, route, observed);
  }

  /** From now on everything goes to Fastify, which answers 503 while the server closes. */
  close(): void {
    this.#open = false;
    this.#memos.clear();
    this.#grants.clear();
    this.#tokens.clear();
  }
}

const FAST_PATH_ROUTE = 'fast-path';

/**
 * The route's headers for an answer, a 200's (`fresh`) or a 304's: setCommonHeaders, then
 * the photo's (photo-handler.ts). Values 1 and 3, the request ids, are left empty.
 */
function headerList(answer: CachedSize, fresh: boolean): string[] {
  const headers = ['request-id', '', 'client-request-id', '', 'x-content-type-options', STATIC_HEADERS['x-content-type-options'], 'vary', STATIC_HEADERS.vary];
  if (fresh) for (const name in answer.headers) headers.push(name, answer.headers[name] as string);
  else headers.push('cache-control', PHOTO_CACHE_CONTROL, 'etag', answer.etag);
  return headers;
}

/** Whether the route's two permission checks (photo-handler.ts) let the principal read such a photo. */
function mayRead(principal: Principal, target: PermissionTarget, isOwn: boolean): boolean {
  return (
    authorizeKind(principal, target, 'read').allowed &&
    authorizeOwner(principal, target, 'read', { isOwn, callerIsAdmin: false }).allowed
  );
}

/** Longer URLs, Hosts and tokens are answered by the route every time, never remembered. */
const MAX_URL = 1024;
const MAX_HOST = 255;
const MAX_AUTHORIZATION = 8 * 1024;

const TOKEN_END = 32;

/**
 * The URL and the end of the Authorization header: hashing a whole ~1 kB token for every
 * read cost more than the rest of the fast path (V8 hashes a new string character by
 * character). The end of a JWT is its signature, which sets tokens apart; a memo is used
 * only when its whole header is equal, so two tokens that end alike merely share a slot.
 * A header value never holds a line feed (Node.js rejects it): the key is unambiguous.
 */
function memoKey(authorization: string, url: string): string {
  return `${url}\n${authorization.slice(-TOKEN_END)}`;
}

