// The body of a JSON batch (POST /v1.0/$batch), read and checked as a whole before
// any of it runs, as Graph does: at most 20 requests, unique ids, known methods,
// URLs relative to the batch's version, bodies that are JSON or base64 with a
// Content-Type, and dependsOn naming other requests of the batch without a cycle.
// https://learn.microsoft.com/graph/json-batching
import { errors } from '../errors.js';
import { JSON_DEPTH_LIMIT, parseJson } from './parse-json.js';

export const BATCH_LIMIT = 20;

export const BATCH_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type BatchMethod = (typeof BATCH_METHODS)[number];

export interface BatchStep {
  readonly id: string;
  readonly method: BatchMethod;
  /** The path and query after the version, starting with '/': '/users/x/photo/$value'. */
  readonly path: string;
  /** Lower-cased names; the batch's own token is used, whatever a step says. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
  readonly dependsOn: readonly string[];
}

/** Headers a step may not set: the batch sets them for every step. */
const RESERVED_HEADERS = new Set(['authorization', 'host', 'content-length', 'transfer-encoding', 'connection']);
const JSON_TYPE = /^application\/json(?:\s*;|$)/i;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Visible ASCII: a client percent-encodes anything else, as on the wire. */
const URL_TEXT = /^[\x21-\x7e]+$/;

export function parseBatch(bytes: Buffer, version: string): BatchStep[] {
  // The limit holds for the batch as a whole, so a request's body nests a few levels less
  // than one sent alone; it is serialised again (parseBody) and read by that request's route.
  const parsed = parseJson(bytes);
  if (!parsed.ok) throw errors.invalidBatch(parsed.tooDeep ? `the body nests deeper than ${JSON_DEPTH_LIMIT} levels` : 'the body is not JSON');
  const payload = parsed.value;
  const requests = isObject(payload) ? payload.requests : undefined;
  if (!Array.isArray(requests)) throw errors.invalidBatch("the body must be a JSON object with a 'requests' array");
  if (requests.length === 0) throw errors.invalidBatch("'requests' is empty");
  if (requests.length > BATCH_LIMIT) throw errors.batchTooLarge(requests.length, BATCH_LIMIT);

  const steps = requests.map((request, index) => parseStep(request, index, version));
  const ids = new Set<string>();
  for (const step of steps) {
    if (ids.has(step.id)) throw errors.invalidBatch(`the id '${step.id}' is used by more than one request`);
    ids.add(step.id);
  }
  for (const step of steps) {
    for (const dependency of step.dependsOn) {
      if (dependency === step.id) throw errors.invalidBatch(`request '${step.id}' depends on itself`);
      if (!ids.has(dependency)) throw errors.invalidBatch(`request '${step.id}' depends on '${dependency}', which is not in the batch`);
    }
  }
  checkNoCycle(steps);
  return steps;
}

function parseStep(request: unknown, index: number, version: string): BatchStep {
  if (!isObject(request)) throw errors.invalidBatch(`request ${index + 1} is not an object`);
  const { id } = request;
  if (typeof id !== 'string' || id === '' || id.length > 128) {
    throw errors.invalidBatch(`request ${index + 1} needs an 'id': a string of 1 to 128 characters`);
  }
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : undefined;
  if (!BATCH_METHODS.includes(method as BatchMethod)) {
    throw errors.invalidBatch(`request '${id}' needs a 'method': one of ${BATCH_METHODS.join(', ')}`);
  }
  const headers = parseHeaders(request.headers, id);
  return {
    id,
    method: method as BatchMethod,
    path: parseUrl(request.url, id, version),
    headers,
    body: parseBody(request.body, headers['content-type'], id),
    dependsOn: parseDependsOn(request.dependsOn, id),
  };
}

/** '/users/x', 'users/x' and '/v1.0/users/x' (what the JS client sends for an absolute URL) alike. */
function parseUrl(url: unknown, id: string, version: string): string {
  if (typeof url !== 'string' || !URL_TEXT.test(url)) {
    throw errors.invalidBatch(`request '${id}' needs a 'url' relative to /${version}, in visible ASCII`);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(url)) throw errors.invalidBatch(`request '${id}' has an absolute url; give it relative to /${version}`);
  let path = url.startsWith('/') ? url : `/${url}`;
  const prefix = `/${version}/`;
  if (path.toLowerCase().startsWith(prefix.toLowerCase())) path = path.slice(prefix.length - 1);
  // app.inject resolves dot segments (and reads '\\' as '/'), which would step out of the Graph API.
  const segments = (path.split('?', 1)[0] as string).split('/');
  if (path.includes('\\') || segments.some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment))) {
    throw errors.invalidBatch(`request '${id}' has '.' or '..' segments or a backslash in its url`);
  }
  const first = segments[1]?.toLowerCase();
  if (first === '$batch') throw errors.invalidBatch(`request '${id}' is a batch; batches cannot be nested`);
  return path;
}

function parseHeaders(headers: unknown, id: string): Record<string, string> {
  if (headers === undefined || headers === null) return {};
  if (!isObject(headers)) throw errors.invalidBatch(`the 'headers' of request '${id}' must be an object of strings`);
  // Names are the client's: on a plain object '__proto__' would set the prototype, not a header.
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw errors.invalidBatch(`the header '${name}' of request '${id}' must be a string`);
    const key = name.toLowerCase();
    if (!RESERVED_HEADERS.has(key)) result[key] = value;
  }
  return result;
}

/** JSON for a JSON Content-Type; anything else (an image) is base64, as Graph wants it. */
function parseBody(body: unknown, contentType: string | undefined, id: string): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (contentType === undefined) throw errors.invalidBatch(`request '${id}' has a body but no Content-Type header`);
  if (JSON_TYPE.test(contentType)) return Buffer.from(JSON.stringify(body), 'utf8');
  if (typeof body !== 'string' || !BASE64.test(body)) {
    throw errors.invalidBatch(`the ${contentType} body of request '${id}' must be a base64 string`);
  }
  return Buffer.from(body, 'base64');
}

function parseDependsOn(dependsOn: unknown, id: string): string[] {
  if (dependsOn === undefined || dependsOn === null) return [];
  if (!Array.isArray(dependsOn) || !dependsOn.every((d): d is string => typeof d === 'string')) {
    throw errors.invalidBatch(`the 'dependsOn' of request '${id}' must be an array of request ids`);
  }
  return [...new Set(dependsOn)];
}

/** Depth-first; a request met again while its own dependencies are being walked closes a cycle. */
function checkNoCycle(steps: readonly BatchStep[]): void {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const done = new Set<string>();
  const walking = new Set<string>();
  const visit = (step: BatchStep): void => {
    if (done.has(step.id)) return;
    if (walking.has(step.id)) throw errors.invalidBatch(`request '${step.id}' depends on itself through dependsOn`);
    walking.add(step.id);
    for (const dependency of step.dependsOn) visit(byId.get(dependency) as BatchStep);
    walking.delete(step.id);
    done.add(step.id);
  };
  for (const step of steps) visit(step);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
