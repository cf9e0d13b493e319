// The OAuth endpoints' errors: RFC 6749 §5.2's JSON with the members Entra adds
// (error_codes, timestamp, trace_id, correlation_id), which MSAL reads into its errors.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Over } from '../auth/failure-throttle.js';
import { GUID_PATTERN } from '../directory/ids.js';

/** A client credentials request is a few hundred bytes; a code redemption about as many. */
export const FORM_LIMIT = 16 * 1024;

/** An OAuth error response: RFC 6749's `error`, Entra's AADSTS number and description. */
export class OAuthError extends Error {
  readonly status: number;
  readonly error: string;
  readonly code: number | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, error: string, code: number | undefined, description: string, headers: Record<string, string> = {}) {
    super(description);
    this.name = 'OAuthError';
    this.status = status;
    this.error = error;
    this.code = code;
    this.headers = headers;
  }
}

export const oauthErrors = {
  tenantNotFound: (tenant: string, error: 'invalid_request' | 'invalid_tenant') =>
    new OAuthError(
      400,
      error,
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    ),
  missingParameter: (name: string) =>
    new OAuthError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`),
  repeatedParameter: (name: string) =>
    new OAuthError(400, 'invalid_request', undefined, `The parameter '${name}' was sent more than once (RFC 6749 §3.2).`),
  bodyTooLarge: () => new OAuthError(400, 'invalid_request', undefined, `The request body is larger than ${FORM_LIMIT} bytes.`),
  postOnly: (method: string) =>
    new OAuthError(400, 'invalid_request', 900561, `The endpoint only accepts POST requests. Received a ${method} request.`),
  unsupportedGrant: (grant: string) =>
    new OAuthError(
      400,
      'unsupported_grant_type',
      70003,
      `The app requested an unsupported grant type '${grant}'. Portrait answers client_credentials, and authorization_code and refresh_token where people may sign in.`,
    ),
  twoClientAuthentications: () =>
    new OAuthError(400, 'invalid_request', undefined, 'The client authenticated both with HTTP Basic and in the body: use one.'),
  missingSecret: () =>
    new OAuthError(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Portrait accepts client secrets only.",
    ),
  badBasic: () =>
    new OAuthError(401, 'invalid_client', undefined, 'The Authorization header does not hold Basic client credentials.', {
      'www-authenticate': 'Basic realm="portrait"',
    }),
  unknownClient: (clientId: string, tenantId: string, basic: boolean) =>
    new OAuthError(
      401,
      'invalid_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. Register it with \`portrait app add\`.`,
      basic ? { 'www-authenticate': 'Basic realm="portrait"' } : {},
    ),
  wrongSecret: (clientId: string, basic: boolean) =>
    new OAuthError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided for application '${clientId}'. Ensure the secret being sent in the request is the one \`portrait app add\` printed.`,
      basic ? { 'www-authenticate': 'Basic realm="portrait"' } : {},
    ),
  // Entra answers a client_credentials client it throttles with 429 and Retry-After (MSAL
  // honours it: no request for that long); its body has no documented code, and AADSTS50196
  // is for sign-in loops. `temporarily_unavailable` is Entra's error for "retry later".
  // https://learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling
  tooManyWrongSecrets: (clientId: string, over: Over, retryAfterSeconds: number) =>
    new OAuthError(
      429,
      'temporarily_unavailable',
      undefined,
      `${
        over === 'client'
          ? `Too many wrong client secrets have been sent for application '${clientId}' lately`
          : over === 'address'
            ? 'Too many wrong client secrets have been sent from this address lately'
            : `Too many wrong client secrets have been sent for application '${clientId}' from this address lately`
      }: the secret was not checked. Retry after ${retryAfterSeconds} seconds, with the secret \`portrait app add\` printed.`,
      { 'retry-after': String(retryAfterSeconds) },
    ),
  secretCheckBusy: (retryAfterSeconds: number) =>
    new OAuthError(503, 'temporarily_unavailable', undefined, `Too many client secrets are waiting to be checked. Retry after ${retryAfterSeconds} seconds.`, {
      'retry-after': String(retryAfterSeconds),
    }),
  notDefaultScope: (scope: string) =>
    new OAuthError(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    ),
  invalidScope: (scope: string, why: string) =>
    new OAuthError(400, 'invalid_scope', 70011, `The provided value for the input parameter 'scope' is not valid. The scope '${scope}' is not valid: ${why}`),
  authorizeUnsupported: () =>
    new OAuthError(
      400,
      'unsupported_response_type',
      undefined,
      'Portrait signs nobody in: applications get tokens by client credentials at oauth2/v2.0/token.',
    ),
};

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body));
}

/** Entra's timestamp: "2026-11-22 10:15:30Z". */
function entraTimestamp(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function sendOAuthError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let oauthError: OAuthError;
  if (error instanceof OAuthError) {
    oauthError = error;
  } else {
    request.log.error({ err: error, requestId: request.id }, 'unexpected error at an OAuth endpoint');
    oauthError = new OAuthError(500, 'server_error', undefined, 'The server could not complete the request.');
  }
  // Which check refused the client (unknown client, wrong secret…), for the access log.
  if (oauthError.status === 401) request.observed = { ...request.observed, reason: `${oauthError.error}${oauthError.code === undefined ? '' : ` AADSTS${oauthError.code}`}` };
  const traceId = request.id;
  // MSAL sends its correlation id in the query string; other clients send the header.
  const clientRequestId = [(request.query as Record<string, unknown>)['client-request-id'], request.headers['client-request-id']].find(
    (id): id is string => typeof id === 'string' && GUID_PATTERN.test(id),
  );
  const correlationId = clientRequestId ?? traceId;
  const timestamp = entraTimestamp();
  const prefix = oauthError.code === undefined ? '' : `AADSTS${oauthError.code}: `;
  return sendJson(reply.headers(oauthError.headers), oauthError.status, {
    error: oauthError.error,
    error_description: `${prefix}${oauthError.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: oauthError.code === undefined ? [] : [oauthError.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
  });
}
