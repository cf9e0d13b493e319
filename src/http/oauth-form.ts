// What a client sends to the OAuth endpoints: a form body (read within the server's body
// bounds) and its client credentials, in the body or as HTTP Basic.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GraphError } from '../errors.js';
import { FORM_LIMIT, OAuthError, oauthErrors } from './oauth-errors.js';
import type { RequestBodies } from './request-bodies.js';

/** The body's parameters; each may appear once. Any other Content-Type reads as no parameters, as at Entra. */
export async function readForm(request: FastifyRequest, reply: FastifyReply, bodies: RequestBodies): Promise<Map<string, string>> {
  let body: Buffer;
  try {
    body = await bodies.read(request, reply, FORM_LIMIT);
  } catch (error) {
    if (error instanceof GraphError && error.status === 413) throw oauthErrors.bodyTooLarge();
    // Too slow (408), the server's body budget full (503 with Retry-After): the same status, in OAuth's JSON.
    if (error instanceof GraphError) {
      const code = error.status === 503 ? 'temporarily_unavailable' : 'invalid_request';
      throw new OAuthError(error.status, code, undefined, error.message, { ...error.headers });
    }
    throw error;
  }
  const type = (request.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  const form = new Map<string, string>();
  if (type !== 'application/x-www-form-urlencoded') return form;
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    if (form.has(name)) throw oauthErrors.repeatedParameter(name);
    form.set(name, value);
  }
  return form;
}

export interface ClientCredentials {
  readonly id: string | undefined;
  readonly secret: string | undefined;
  /** Sent with HTTP Basic (client_secret_basic) rather than in the body (client_secret_post). */
  readonly basic: boolean;
}

/** RFC 6749 §2.3.1: in the body, or as HTTP Basic with both parts form-encoded; never both. */
export function clientCredentials(request: FastifyRequest, form: ReadonlyMap<string, string>): ClientCredentials {
  const authorization = request.headers.authorization;
  if (authorization === undefined || !/^Basic(?: |$)/i.test(authorization)) {
    return { id: form.get('client_id'), secret: form.get('client_secret'), basic: false };
  }
  const encoded = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization)?.[1];
  const decoded = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw oauthErrors.badBasic();
  let id: string;
  let secret: string;
  try {
    id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
  } catch {
    throw oauthErrors.badBasic();
  }
  const bodyId = form.get('client_id');
  if (form.has('client_secret') || (bodyId !== undefined && bodyId.toLowerCase() !== id.toLowerCase())) {
    throw oauthErrors.twoClientAuthentications();
  }
  return { id, secret, basic: true };
}
