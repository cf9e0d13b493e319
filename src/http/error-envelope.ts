// Turns every error into Graph's error envelope (contract §6), in one place. A
// GraphError carries its own code and status; Fastify's own errors are mapped;
// anything else is logged and becomes a 500 that tells nothing of the inside.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errors, GraphError } from '../errors.js';
import { BODY_LIMIT } from './limits.js';
import { lingeringClose } from './lingering-close.js';

/** Graph's innerError date: UTC, to the second, no zone. */
export function graphDate(date: Date = new Date()): string {
  return date.toISOString().slice(0, 19);
}

export function toGraphError(error: unknown): GraphError | undefined {
  if (error instanceof GraphError) return error;
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.bodyTooLarge(BODY_LIMIT);
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GraphError(400, 'BadRequest', fastifyError.message ?? 'Bad request.');
    default:
      return undefined;
  }
}

/** A visible-ASCII client-request-id of 1–128 characters is echoed; anything else is replaced (contract §8). */
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * What every answer carries besides its request ids, whoever makes it (the routes, the fast
 * path, an answer made in front of them); photo responses replace cache-control.
 */
export const STATIC_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  // Access-Control-Allow-Origin names the page's origin (http/cors.ts): a browser must not
  // answer one page from what it kept for another, nor a page from what it kept for an <img>.
  vary: 'Origin',
} as const;

/** Headers on every response, errors included. */
export function setCommonHeaders(request: FastifyRequest, reply: FastifyReply): void {
  reply.headers({
    'request-id': request.id,
    'client-request-id': clientRequestIdOf(request.headers['client-request-id'], request.id),
    ...STATIC_HEADERS,
  });
}

/** The client's request id when it is acceptable, else `requestId`. */
export function clientRequestIdOf(header: unknown, requestId: string): string {
  return typeof header === 'string' && CLIENT_REQUEST_ID.test(header) ? header : requestId;
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Errors raised before onRequest ran (a malformed URL) still get the common headers.
  if (!reply.hasHeader('request-id')) setCommonHeaders(request, reply);
  let graphError = toGraphError(error);
  if (!graphError) {
    request.log.error({ err: error, requestId: request.id }, 'unexpected error');
    graphError = errors.internal();
  }
  // A 401's reason (expired, bad signature…) is for the access log only.
  if (graphError.reason !== undefined) request.observed = { ...request.observed, reason: graphError.reason };
  const requestId = request.id;
  const clientRequestId = reply.getHeader('client-request-id') ?? requestId;
  // A 413 closes its connection (under app.inject too). Any answer sent before the body has
  // all arrived (refused, or never read) closes it after reading and dropping the rest within
  // bounds, so that a client still sending reads the answer rather than a reset.
  if (graphError.status === 413) reply.header('connection', 'close');
  if (!request.raw.complete) lingeringClose(request.raw, reply.raw);
  return reply
    .code(graphError.status)
    .headers(graphError.headers)
    .header('cache-control', 'no-store')
    .header('content-type', 'application/json')
    .send(errorBody(graphError, requestId, String(clientRequestId)));
}

/** Graph's error envelope for `error`, as sent (also inside batch responses). */
export function errorBody(error: GraphError, requestId: string, clientRequestId: string): Record<string, unknown> {
  return {
    error: {
      code: error.code,
      message: error.message,
      innerError: { date: graphDate(), 'request-id': requestId, 'client-request-id': clientRequestId },
    },
  };
}

/**
 * The same envelope and common headers, written straight on Node's response: for answers
 * made in front of Fastify (the read fast path's 429, `serve --simulate`'s faults).
 */
export function sendRawError(request: IncomingMessage, response: ServerResponse, error: GraphError): { readonly requestId: string; readonly bytes: number } {
  const requestId = randomUUID();
  const clientRequestId = clientRequestIdOf(request.headers['client-request-id'], requestId);
  const body = JSON.stringify(errorBody(error, requestId, clientRequestId));
  // Called as the request arrives, before Node has marked even a bodiless one complete.
  const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
  if (hasBody && !request.complete) lingeringClose(request, response);
  response.writeHead(error.status, {
    ...error.headers,
    'request-id': requestId,
    'client-request-id': clientRequestId,
    ...STATIC_HEADERS,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  response.end(request.method === 'HEAD' ? undefined : body);
  return { requestId, bytes: request.method === 'HEAD' ? 0 : Buffer.byteLength(body) };
}
