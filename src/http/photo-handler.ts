// The photo operations of contract §3 on any owner: metadata, bytes, sizes,
// upload, resize, delete — checked in the order Graph checks (contract §6):
// (405, in graph-routes) → 403 (kind) → 404 owner → 403 (own/admin) → 429 → 404 photo → 304/412 → 413 → 400;
// while the body is read, 413, 503 or 408 (http/request-bodies.ts), and a 429 if no slot is left once it has.
import { authorizeKind, authorizeOwner } from '../auth/permissions.js';
import { errors } from '../errors.js';
import { preconditionHolds, type Dimensions, type PhotoInfo, type PhotoOwner, type Precondition } from '../storage/store.js';
import { notModified, writePrecondition } from './conditional.js';
import type { GraphContext, GraphServices } from './graph-context.js';
import type { PhotoOwnerRef, PhotoTarget } from './graph-path.js';
import { parseJsonBody } from './json-body.js';
import { BODY_LIMIT } from './limits.js';
import type { Lookup } from '../directory/directory.js';
import { GRAPH_JSON_CONTENT_TYPE, ODATA_VERSION } from './odata-json.js';
import { ownerKey, PHOTO_CACHE_CONTROL, withHeaders, type CachedSize } from '../photos/photo-cache.js';
import { sizeKeyOf } from '../photos/photo-service.js';
import { resolvePhotoOwner, type ResolvedOwner } from './photo-owner.js';
import { callerOf } from '../traffic/throttle.js';

const JPEG = 'image/jpeg';
const SELECTABLE = new Set(['id', 'width', 'height']);

export async function handlePhoto(
  services: GraphServices,
  context: GraphContext,
  ownerRef: PhotoOwnerRef,
  target: PhotoTarget,
): Promise<void> {
  const { principal, request } = context;
  // The route answered 405 already; the operation names the permission table cell.
  const { target: permission, access } = context.operation.permission;
  const kindDecision = authorizeKind(principal, permission, access);
  if (!kindDecision.allowed) throw errors.forbidden(kindDecision.missing);

  const lookup: Lookup = { cached: access === 'read' };
  const resolved = await resolvePhotoOwner(services.directory, principal, ownerRef, lookup);
  const needsAdminCheck = principal.delegated && !resolved.isOwn && access === 'write';
  const ownerDecision = authorizeOwner(principal, permission, access, {
    isOwn: resolved.isOwn,
    callerIsAdmin: needsAdminCheck && (await services.directory.callerIsAdmin(principal)),
  });
  if (!ownerDecision.allowed) throw errors.forbidden(ownerDecision.missing);

  if (access === 'read') return read(services, context, resolved, target, lookup);
  if (request.method === 'DELETE') return remove(services, context, resolved.owner);
  return write(services, context, resolved, ownerRef.kind, target);
}

async function read(
  services: GraphServices,
  context: GraphContext,
  resolved: ResolvedOwner,
  target: PhotoTarget,
  lookup: Lookup,
): Promise<void> {
  const { photos } = services;
  const { request } = context;
  const ifNoneMatch = request.headers['if-none-match'];
  switch (target.op) {
    case 'value':
    case 'size': {
      if (target.op === 'size' && !target.value) {
        const info = await photos.info(resolved.owner);
        const size = findSize(info, target.size);
        if (notModified(ifNoneMatch, info.etag)) return notModifiedReply(context, info.etag);
        const json = metadata(context, `${resolved.context}/photos/$entity`, sizePath(resolved, size), info.etag, size);
        return sendJson(context, json, info.etag);
      }
      const size = target.op === 'value' ? 'primary' : parseSize(target.size);
      return sendCached(context, await photos.content(resolved.owner, size), resolved, sizeKeyOf(size), lookup);
    }
    case 'metadata': {
      const path = `${resolved.context}/photo/$entity`;
      const idPath = `${resolved.context}/photo`;
      if (request.url.includes('?')) {
        // $select: built each time, never cached (a query string must not be a way to fill the cache).
        const info = await photos.info(resolved.owner);
        if (notModified(ifNoneMatch, info.etag)) return notModifiedReply(context, info.etag);
        return sendJson(context, metadata(context, path, idPath, info.etag, info.primary), info.etag);
      }
      // Cached with the photo's sizes, per path, WITHOUT the service root: that comes from
      // the request's Host, and what a client sends must not become a cache key.
      const variant = `json ${path}`;
      const template = await photos.metadataJson(resolved.owner, variant, (info) =>
        JSON.stringify(metadata(context, path, idPath, info.etag, info.primary, '')),
      );
      return sendCached(context, template, resolved, variant, lookup, withServiceRoot(template, context.serviceRoot));
    }
    case 'list': {
      // No photo: an empty collection rather than a 404 (contract §3).
      const info = await photos.find(resolved.owner);
      // No @odata.id per entry: OData's minimal metadata leaves it out where the context and the
      // entry's id make it (…/photos('48X48')); Graph's docs show it on single photos only.
      const value = (info?.sizes ?? []).map((size) => entry(info?.etag ?? '', size));
      const body = { '@odata.context': `${context.serviceRoot}/$metadata#${resolved.context}/photos`, value };
      if (info && notModified(ifNoneMatch, info.etag)) return notModifiedReply(context, info.etag);
      return sendJson(context, body, info?.etag);
    }
  }
}

async function write(
  services: GraphServices,
  context: GraphContext,
  resolved: ResolvedOwner,
  kind: PhotoOwnerRef['kind'],
  target: PhotoTarget,
): Promise<void> {
  const { request, reply, bodies } = context;
  const precondition = writePrecondition(request.headers['if-match'], request.headers['if-none-match']);
  // 429 before the body is read when the queue is full now (contract §6 order); the slot
  // itself is taken only once the body has arrived, so a slow client never holds one.
  services.uploads.checkRoom();
  if (target.op === 'metadata') {
    // PATCH /photo with JSON: re-render the kept master at W×H.
    const current = await services.photos.info(resolved.owner);
    checkEarly(precondition, current.etag);
    const body = parseJsonBody(await bodies.read(request, reply, BODY_LIMIT));
    const info = await withSlot(services, () => services.photos.resize(resolved.owner, body, precondition));
    const json = metadata(context, `${resolved.context}/photo/$entity`, `${resolved.context}/photo`, info.etag, info.primary);
    return sendJson(context, json, info.etag, 'no-store');
  }
  // PUT or PATCH /photo/$value: the body is the image, whatever its Content-Type says.
  checkEarly(precondition, (await services.photos.find(resolved.owner))?.etag);
  const bytes = await bodies.read(request, reply, BODY_LIMIT);
  const info = await withSlot(services, () => services.photos.upload(resolved.owner, bytes, precondition));
  // Teams answer 204, everything else 200 with an empty body (Graph's documented responses).
  reply.code(kind === 'team' ? 204 : 200).header('etag', info.etag);
  return void reply.send();
}

/** Runs an image render in an upload slot (photos/upload-gate.ts), waiting in its queue if need be. */
async function withSlot<T>(services: GraphServices, render: () => Promise<T>): Promise<T> {
  const release = await services.uploads.enter();
  try {
    return await render();
  } finally {
    release();
  }
}

async function remove(services: GraphServices, context: GraphContext, owner: PhotoOwner): Promise<void> {
  const { request, reply } = context;
  await services.photos.delete(owner, writePrecondition(request.headers['if-match'], request.headers['if-none-match']));
  return void reply.code(200).send();
}

/**
 * A cached answer (a size's bytes, or the metadata JSON), or its 304; the read fast path
 * is told it may answer this request itself next time, for as long as the lookups behind
 * the owner and the token hold.
 */
function sendCached(
  context: GraphContext,
  cached: CachedSize,
  resolved: ResolvedOwner,
  cacheKey: string,
  lookup: Lookup,
  answer: CachedSize = cached,
): void {
  const { request, reply, principal, hotReads } = context;
  const { authorization, host } = request.headers;
  if (hotReads && authorization !== undefined && lookup.reusableUntil !== undefined) {
    const until = Math.min(lookup.reusableUntil, principal.expiresAt * 1000);
    const observed = request.observed === null ? undefined : { ...request.observed };
    const caller = callerOf(principal);
    hotReads.remember({ authorization, url: request.url, host, ownerKey: ownerKey(resolved.owner), cacheKey, until, caller, observed }, cached, answer);
    hotReads.rememberCaller({ authorization, principal, until, caller, observed });
  }
  if (notModified(request.headers['if-none-match'], answer.etag)) return notModifiedReply(context, answer.etag);
  reply.headers(answer.headers);
  return void reply.send(answer.bytes);
}

/** The @odata.context's place in a cached metadata answer: right after `{"@odata.context":"`. */
const CONTEXT_AT = '{"@odata.context":"'.length;
const ODATA_ID = Buffer.from('"@odata.id":"');

/** A cached metadata answer (built with an empty service root) for this request's root, in its two URLs. */
function withServiceRoot(template: CachedSize, serviceRoot: string): CachedSize {
  const root = Buffer.from(JSON.stringify(serviceRoot).slice(1, -1));
  // The @odata.id follows the @odata.context, whose text (an owner's path of ids) holds no quote.
  const idAt = template.bytes.indexOf(ODATA_ID, CONTEXT_AT) + ODATA_ID.length;
  const bytes = Buffer.concat([
    template.bytes.subarray(0, CONTEXT_AT),
    root,
    template.bytes.subarray(CONTEXT_AT, idAt),
    root,
    template.bytes.subarray(idAt),
  ]);
  return withHeaders({ etag: template.etag, width: template.width, height: template.height, bytes }, template.headers['content-type']);
}

/** Fails fast, before the body is read; the store checks again inside the write. */
function checkEarly(precondition: Precondition, etag: string | undefined): void {
  if (!preconditionHolds(precondition, etag)) throw errors.preconditionFailed(etag);
}

/** "48x48" or "48X48"; anything else names no size there is (404, as Graph answers). */
function parseSize(text: string): Dimensions {
  const match = /^([1-9]\d{0,4})[xX]([1-9]\d{0,4})$/.exec(text);
  if (!match) throw errors.imageNotFound();
  return { width: Number(match[1]), height: Number(match[2]) };
}

function findSize(info: PhotoInfo, text: string): Dimensions {
  const wanted = parseSize(text);
  const size = info.sizes.find((s) => s.width === wanted.width && s.height === wanted.height);
  if (!size) throw errors.imageNotFound();
  return size;
}

/** One size's canonical path: photos('48X48') under its owner. */
function sizePath(resolved: ResolvedOwner, size: Dimensions): string {
  return `${resolved.context}/photos('${size.width}X${size.height}')`;
}

function entry(etag: string, size: Dimensions): Record<string, unknown> {
  return {
    '@odata.mediaContentType': JPEG,
    '@odata.mediaEtag': etag,
    id: `${size.width}X${size.height}`,
    width: size.width,
    height: size.height,
  };
}

/**
 * A photo entity's JSON. `idPath` is its canonical path, written as its @odata.id as Graph
 * does (profilephoto-get: "@odata.id": "https://graph.microsoft.com/v1.0/users('…')/photo").
 */
function metadata(
  context: GraphContext,
  path: string,
  idPath: string,
  etag: string,
  size: Dimensions,
  serviceRoot = context.serviceRoot,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    '@odata.context': `${serviceRoot}/$metadata#${path}`,
    '@odata.id': `${serviceRoot}/${idPath}`,
    ...entry(etag, size),
  };
  const select = selectQuery(context);
  if (select === undefined) return body;
  for (const name of ['id', 'width', 'height']) if (!select.has(name)) delete body[name];
  return body;
}

/** $select narrows metadata to id, width, height; other names are a 400. */
function selectQuery(context: GraphContext): Set<string> | undefined {
  const query = context.request.query as Record<string, unknown>;
  const raw = query.$select;
  if (typeof raw !== 'string') return undefined;
  const names = raw.split(',').map((n) => n.trim()).filter((n) => n !== '');
  for (const name of names) if (!SELECTABLE.has(name.toLowerCase())) throw errors.unknownSelect(name);
  return new Set(names.map((n) => n.toLowerCase()));
}

function sendJson(context: GraphContext, body: unknown, etag: string | undefined, cacheControl = PHOTO_CACHE_CONTROL): void {
  const { reply } = context;
  if (etag !== undefined) reply.header('etag', etag);
  reply.header('cache-control', cacheControl).header('content-type', GRAPH_JSON_CONTENT_TYPE).header('odata-version', ODATA_VERSION);
  return void reply.send(JSON.stringify(body));
}

function notModifiedReply(context: GraphContext, etag: string): void {
  context.reply.code(304).header('etag', etag).header('cache-control', PHOTO_CACHE_CONTROL);
  return void context.reply.send();
}
