// The one catalog of errors Portrait sends. Every failure a client can see is built
// here, with a stable Graph-style code, an HTTP status and a message; the HTTP layer
// turns a GraphError into the Graph error envelope in one place (http/error-envelope.ts).
// docs/errors.md lists the same codes for people.

export class GraphError extends Error {
  readonly code: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Why, for the access log only: never sent (a 401 tells a client no more than Graph does). */
  readonly reason: string | undefined;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}, reason?: string) {
    super(message);
    this.name = 'GraphError';
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.reason = reason;
  }
}

const AUTH_REALM = 'Bearer realm="portrait"';

export const errors = {
  // 401: no verifiable token; https://learn.microsoft.com/graph/errors. The reason
  // (expired, bad signature, unknown issuer…) goes to the access log, never to the client.
  tokenMissing: (reason = 'no bearer token') =>
    new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.', {
      'www-authenticate': AUTH_REALM,
    }, reason),
  tokenInvalid: (reason = 'invalid token') =>
    new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure.', {
      'www-authenticate': `${AUTH_REALM}, error="invalid_token"`,
    }, reason),
  tokenExpired: (reason = 'expired') =>
    new GraphError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.', {
      'www-authenticate': `${AUTH_REALM}, error="invalid_token"`,
    }, reason),

  // 403: the caller is known but not allowed; the message says what would allow it.
  forbidden: (missing: string) =>
    new GraphError(403, 'Authorization_RequestDenied', `Insufficient privileges to complete the operation. ${missing}`),

  // 400: the request's path or body.
  meNeedsDelegated: () =>
    new GraphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.'),
  segmentNotFound: (segment: string) =>
    new GraphError(400, 'BadRequest', `Resource not found for the segment '${segment}'.`),
  unsupportedSegment: (path: string) =>
    new GraphError(400, 'BadRequest', `Unsupported segment type. ODataQuery: ${path}`),
  badJson: () => new GraphError(400, 'BadRequest', 'Unable to read JSON request payload.'),
  jsonTooDeep: (limit: number) =>
    new GraphError(400, 'BadRequest', `Unable to read JSON request payload: it nests deeper than ${limit} levels.`),
  bodyAborted: () => new GraphError(400, 'BadRequest', 'The connection closed before the request body arrived whole.'),
  unknownProperty: (name: string, type: string) =>
    new GraphError(400, 'RequestBodyRead', `The property '${name}' does not exist on type '${type}'.`),
  readOnlyProperty: (name: string, allowed: string) =>
    new GraphError(400, 'ReadOnlyProperty', `The property '${name}' is read-only; only '${allowed}' may be sent.`),
  invalidProperty: (name: string, expected: string, got: unknown) =>
    new GraphError(
      400,
      'InvalidPropertyValue',
      `The property '${name}' must be ${expected}; got ${describeValue(got)}.`,
    ),
  missingProperty: (name: string, type: string) =>
    new GraphError(400, 'InvalidPropertyValue', `The property '${name}' is required on type '${type}'.`),
  // Entra's rules for the name (directory/user-principal-name.ts); `portrait import` reports the same text.
  invalidUserPrincipalName: (why: string) =>
    new GraphError(400, 'InvalidPropertyValue', `The property 'userPrincipalName' is invalid: ${why}.`),
  conflict: (message: string) => new GraphError(400, 'Request_BadRequest', message),
  // POST /groups/{id}/members/$ref: Graph's words for a member added twice, and for an id that is no GUID.
  memberExists: () =>
    new GraphError(
      400,
      'Request_BadRequest',
      "One or more added object references already exist for the following modified properties: 'members'.",
    ),
  invalidObjectIdentifier: (id: string) => new GraphError(400, 'Request_BadRequest', `Invalid object identifier '${id}'.`),
  // $top of every listing (pages of 100 by default, as Graph's), in Graph's words.
  invalidPageSize: (got: string) =>
    new GraphError(400, 'Request_UnsupportedQuery', `Invalid page size specified: '${got}'. Must be between 1 and 999 inclusive.`),
  unknownSelect: (name: string) =>
    new GraphError(400, 'BadRequest', `Could not find a property named '${name}' on type 'microsoft.graph.profilePhoto'.`),

  // 400: query options of a listing (http/odata-query.ts); https://learn.microsoft.com/graph/query-parameters
  unsupportedQueryOption: (name: string) => new GraphError(400, 'Request_BadRequest', `'${name}' is not supported by the service.`),
  invalidQueryOption: (name: string, detail: string) =>
    new GraphError(400, 'BadRequest', `The query option '${name}' is invalid: ${detail}.`),
  unknownQueryProperty: (name: string, type: string) =>
    new GraphError(400, 'BadRequest', `Could not find a property named '${name}' on type '${type}'.`),
  unsupportedFilter: (name: string, type: string) =>
    new GraphError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for property '${name}' of resource '${type}'.`),
  eventualConsistencyRequired: (option: string) =>
    new GraphError(
      400,
      'Request_UnsupportedQuery',
      `Request with ${option} query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'`,
    ),

  // 400: a JSON batch (POST /$batch) as a whole; nothing in it runs.
  invalidBatch: (detail: string) => new GraphError(400, 'BadRequest', `Invalid batch payload: ${detail}.`),
  batchTooLarge: (count: number, limit: number) =>
    new GraphError(400, 'BadRequest', `The batch has ${count} requests; at most ${limit} are allowed.`),

  // 400: the uploaded image.
  invalidImage: (reason: string) =>
    new GraphError(400, 'InvalidImage', `The image could not be decoded: ${reason}.`),
  unsupportedImageFormat: (detected: string) =>
    new GraphError(400, 'UnsupportedImageFormat', `Detected ${detected}; send JPEG, PNG, WebP, GIF, AVIF or HEIC.`),
  pixelLimitExceeded: (width: number, height: number, limit: number) =>
    new GraphError(
      400,
      'ImagePixelLimitExceeded',
      `The image is ${width}×${height} (${width * height} pixels); the limit is ${limit}.`,
    ),
  sideLimitExceeded: (width: number, height: number, limit: number) =>
    new GraphError(400, 'ImagePixelLimitExceeded', `The image is ${width}×${height}; no side may be longer than ${limit} pixels.`),
  imageTooLargeToDecode: (image: string, needBytes: number, limitBytes: number) =>
    new GraphError(
      400,
      'ImageTooLargeToDecode',
      `Decoding this ${image} would take ${mebibytes(needBytes)} of memory; the limit is ${mebibytes(limitBytes)}.`,
    ),

  // 404
  resourceNotFound: (id: string) =>
    new GraphError(
      404,
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    ),
  imageNotFound: () => new GraphError(404, 'ImageNotFound', "The photo wasn't found."),
  outsideApi: () => new GraphError(404, 'NotFound', 'No such resource.'),

  // 424: inside a batch, a request whose dependsOn names a request that failed.
  failedDependency: (dependency: string) =>
    new GraphError(424, 'FailedDependency', `The request depends on request '${dependency}', which failed.`),

  // 405, 408, 412, 413, 429, 500, 503
  methodNotAllowed: (allow: readonly string[]) =>
    new GraphError(405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.', {
      allow: allow.join(', '),
    }),
  preconditionFailed: (currentEtag: string | undefined) =>
    new GraphError(
      412,
      'resourceModified',
      currentEtag === undefined
        ? 'The photo has changed; there is no photo now.'
        : `The photo has changed; its current ETag is ${currentEtag}.`,
    ),
  bodyTimeout: (detail: string) => new GraphError(408, 'RequestTimeout', `The request body arrived too slowly: ${detail}.`),
  bodyTooLarge: (limit: number) =>
    new GraphError(413, 'RequestEntityTooLarge', `The request body exceeds the ${limit}-byte limit.`),
  tooManyRequests: (retryAfterSeconds: number) =>
    new GraphError(429, 'TooManyRequests', 'Please retry again later.', retryAfter(retryAfterSeconds)),
  // 429: `serve --throttle` — a budget of Graph's kind spent (traffic/throttle.ts); x-ms-throttle-scope
  // and x-ms-throttle-information as Graph's identity service sends them (https://learn.microsoft.com/graph/throttling-limits).
  throttled: (spent: string, retryAfterSeconds: number, scope: string, information: string) =>
    new GraphError(429, 'TooManyRequests', `Please retry again later. ${spent}`, {
      ...retryAfter(retryAfterSeconds),
      'x-ms-throttle-scope': scope,
      'x-ms-throttle-information': information,
    }),
  // `serve --simulate`: faults made on purpose (traffic/fault-simulator.ts), marked x-portrait-simulated.
  simulatedThrottling: (retryAfterSeconds: number) =>
    new GraphError(429, 'TooManyRequests', 'Simulated throttling (serve --simulate); please retry again later.', retryAfter(retryAfterSeconds)),
  simulatedUnavailable: (retryAfterSeconds: number) =>
    new GraphError(503, 'serviceNotAvailable', 'Simulated outage (serve --simulate); the service is temporarily unavailable.', retryAfter(retryAfterSeconds)),
  simulatedGatewayTimeout: () => new GraphError(504, 'gatewayTimeout', 'Simulated gateway timeout (serve --simulate).'),
  // 503: out of room for now — decoding memory taken by other uploads for longer than one may wait, or no room for another body.
  decodeMemoryBusy: (retryAfterSeconds: number) =>
    new GraphError(503, 'serviceNotAvailable', 'The server is busy decoding other images; please retry later.', retryAfter(retryAfterSeconds)),
  bodyMemoryFull: (retryAfterSeconds: number) =>
    new GraphError(503, 'serviceNotAvailable', 'The server holds as many request bodies as its memory budget allows; retry after Retry-After seconds.', retryAfter(retryAfterSeconds)),
  internal: () => new GraphError(500, 'generalException', 'An unexpected error occurred.'),
} as const;

/** Retry-After in whole seconds, at least 1 (RFC 9110 §10.2.3). */
function retryAfter(seconds: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(seconds))) };
}

/** Whole mebibytes, rounded up, so that a need over the limit never reads as equal to it. */
function mebibytes(bytes: number): string {
  return `${Math.ceil(bytes / 1048576)} MiB`;
}

const DESCRIBED_LENGTH = 40;

/** A value as the client wrote it, cut to 40 characters; no more of the value is read than that. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = preview(value, DESCRIBED_LENGTH + 1);
  return text.length > DESCRIBED_LENGTH ? `${text.slice(0, DESCRIBED_LENGTH)}…` : text;
}

/**
 * JSON text of `value`, stopped once it is `room` characters long. Each level writes a bracket
 * before it descends, so the recursion is at most `room` deep however deep the value
 * (JSON.stringify would walk all of it, and overflow the stack on deep enough input).
 */
function preview(value: unknown, room: number): string {
  if (room <= 0) return '';
  if (typeof value === 'string') return JSON.stringify(value.length > room ? value.slice(0, room) : value);
  if (Array.isArray(value)) {
    let text = '[';
    for (const item of value) {
      if (text.length >= room) return text;
      const separator = text.length > 1 ? ',' : '';
      text += separator + preview(item, room - text.length - separator.length);
    }
    return `${text}]`;
  }
  if (typeof value === 'object' && value !== null) {
    let text = '{';
    for (const name in value) {
      if (!Object.hasOwn(value, name)) continue;
      if (text.length >= room) return text;
      const separator = text.length > 1 ? ',' : '';
      text += `${separator}${preview(name, room - text.length - separator.length)}:`;
      text += preview((value as Record<string, unknown>)[name], room - text.length);
    }
    return `${text}}`;
  }
  return String(JSON.stringify(value));
}
