// The built-in issuer's OAuth 2.0 / OpenID Connect endpoints, in the shapes of Entra
// ID's v2.0 endpoints, enough for MSAL — and so @azure/identity's ClientSecretCredential
// with `authorityHost` set to Portrait — to get an application token by client credentials:
//
//   GET  /{tenant}/v2.0/.well-known/openid-configuration   where MSAL finds the others
//   GET  /{tenant}/discovery/v2.0/keys                      the issuer's public key (JWKS)
//   POST /{tenant}/oauth2/v2.0/token                        grant_type=client_credentials
//
// Failures are OAuth's error JSON (RFC 6749 §5.2) with the members Entra adds
// (error_codes, timestamp, trace_id, correlation_id), which MSAL reads into its errors.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Applications } from '../auth/applications.js';
import { GRAPH_AUDIENCE, issueToken, type IssuerKey } from '../auth/built-in-issuer.js';
import { ClientSecretVerifier } from '../auth/client-secret-verifier.js';
import type { Over } from '../auth/failure-throttle.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { GraphError } from '../errors.js';
import type { RequestBodies } from './request-bodies.js';

export interface OAuthOptions {
  readonly issuerKey: IssuerKey;
  readonly applications: Applications;
  /** Audiences a token may also be asked for, as `{audience}/.default` (serve's --audience). */
  readonly audiences?: readonly string[];
  /** Lifetime of the tokens issued (default one hour, as Entra's). */
  readonly tokenTtlSeconds?: number;
  /** The public URL written into the discovery document instead of the request's own origin. */
  readonly publicUrl?: string | undefined;
  /**
   * Checks client secrets: throttled, on a hashing thread of its own (auth/client-secret-verifier.ts).
   * One with the defaults is made when not given; either way it is closed with the app.
   */
  readonly secretVerifier?: ClientSecretVerifier;
}

/** Microsoft Graph's application id: `00000003-…/.default` asks for a Graph token too. */
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
/** Ignored beside a resource's /.default, as Entra does: they ask for no access token. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
/** A client credentials request is a few hundred bytes. */
const FORM_LIMIT = 16 * 1024;
const DEFAULT_TTL_SECONDS = 3600;

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

const oauthErrors = {
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
      `The app requested an unsupported grant type '${grant}'. Portrait issues tokens by client_credentials only.`,
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

export function registerOAuthRoutes(app: FastifyInstance, options: OAuthOptions, bodies: RequestBodies): void {
  const { issuerKey, applications } = options;
  const secretVerifier = options.secretVerifier ?? new ClientSecretVerifier();
  // After in-flight requests have finished: the hashing thread must not outlive the app.
  app.addHook('onClose', async () => {
    await secretVerifier.close();
  });
  const ttlSeconds = options.tokenTtlSeconds ?? DEFAULT_TTL_SECONDS;
  const audiences = options.audiences ?? [];
  const origin = (request: FastifyRequest) => options.publicUrl ?? `${request.protocol}://${request.host}`;

  /** The path's tenant, lower-cased: a GUID (Entra also takes domain names; Portrait's tenants have none). */
  function tenantOf(request: FastifyRequest, error: 'invalid_request' | 'invalid_tenant'): string {
    const { tenant } = request.params as { tenant: string };
    if (!GUID_PATTERN.test(tenant)) throw oauthErrors.tenantNotFound(tenant, error);
    return tenant.toLowerCase();
  }

  const errorHandler = (error: FastifyError | OAuthError, request: FastifyRequest, reply: FastifyReply) =>
    sendOAuthError(error, request, reply);

  // Discovery answers for any tenant id, known or not: MSAL then reaches the token endpoint,
  // whose "tenant not found" reads better than MSAL's endpoints_resolution_error.
  app.get('/:tenant/v2.0/.well-known/openid-configuration', { errorHandler }, async function openIdConfiguration(request, reply) {
    const tenantId = tenantOf(request, 'invalid_tenant');
    const base = `${origin(request)}/${tenantId}`;
    return sendJson(reply, 200, {
      // MSAL requires the issuer to be on the authority's own origin (its issuer validation);
      // the tokens name the built-in issuer, as Entra's v1 access tokens name sts.windows.net
      // while its v2.0 document names login.microsoftonline.com.
      issuer: `${base}/v2.0`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: [`${GRAPH_AUDIENCE}/.default`, ...audiences.filter((a) => !isGraph(a)).map((a) => `${a}/.default`)],
      claims_supported: ['iss', 'aud', 'sub', 'tid', 'oid', 'appid', 'azp', 'app_displayname', 'roles', 'idtyp', 'ver', 'iat', 'nbf', 'exp'],
    });
  });

  app.get('/:tenant/discovery/v2.0/keys', { errorHandler }, async function signingKeys(request, reply) {
    tenantOf(request, 'invalid_tenant');
    const { n, e } = issuerKey.publicKey.export({ format: 'jwk' });
    return sendJson(reply, 200, { keys: [{ kty: 'RSA', use: 'sig', alg: 'RS256', kid: issuerKey.keyId, n, e }] });
  });

  app.route({
    method: ['GET', 'POST'],
    url: '/:tenant/oauth2/v2.0/authorize',
    errorHandler,
    handler: async function authorize() {
      throw oauthErrors.authorizeUnsupported();
    },
  });

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'],
    url: '/:tenant/oauth2/v2.0/token',
    exposeHeadRoute: false,
    errorHandler,
    handler: async function tokenNotPost(request) {
      throw oauthErrors.postOnly(request.method);
    },
  });

  app.post('/:tenant/oauth2/v2.0/token', { errorHandler }, async function token(request, reply) {
    const tenantId = tenantOf(request, 'invalid_request');
    if (!(await applications.tenantExists(tenantId))) throw oauthErrors.tenantNotFound(tenantId, 'invalid_request');
    const form = await readForm(request, reply, bodies);
    const grantType = form.get('grant_type');
    if (grantType === undefined) throw oauthErrors.missingParameter('grant_type');
    if (grantType !== 'client_credentials') throw oauthErrors.unsupportedGrant(grantType);

    const client = clientCredentials(request, form);
    if (client.id === undefined) throw oauthErrors.missingParameter('client_id');
    if (client.secret === undefined) throw oauthErrors.missingSecret();
    const scope = form.get('scope');
    if (scope === undefined) throw oauthErrors.missingParameter('scope');
    const audience = audienceOf(scope, audiences);

    const application = GUID_PATTERN.test(client.id) ? await applications.find(tenantId, client.id.toLowerCase()) : undefined;
    if (application === undefined) throw oauthErrors.unknownClient(client.id, tenantId, client.basic);
    // request.ip is the socket's address (Portrait trusts no proxy header); a socket closed already has none.
    const check = await secretVerifier.verify(application, client.secret, request.ip || 'unknown');
    switch (check.result) {
      case 'right':
        break;
      case 'wrong':
        throw oauthErrors.wrongSecret(client.id, client.basic);
      case 'throttled':
        // info, not warn (serve's default level): a flood would otherwise write a line per request.
        request.log.info({ requestId: request.id, tenantId, clientId: application.clientId, ip: request.ip, over: check.over }, 'wrong client secrets throttled');
        throw oauthErrors.tooManyWrongSecrets(client.id, check.over, check.retryAfterSeconds);
      case 'busy':
        throw oauthErrors.secretCheckBusy(check.retryAfterSeconds);
    }
    const accessToken = await issueToken(issuerKey, {
      tenantId,
      subject: { kind: 'app', appId: application.clientId, name: application.displayName, roles: application.roles },
      ttlSeconds,
      audience,
    });
    request.log.info({ requestId: request.id, tenantId, clientId: application.clientId, audience }, 'issued an application token');
    // RFC 6749 §5.1: no caching of a response that carries a token.
    reply.header('pragma', 'no-cache');
    return sendJson(reply, 200, { token_type: 'Bearer', expires_in: ttlSeconds, ext_expires_in: ttlSeconds, access_token: accessToken });
  });
}

/** The body's parameters; each may appear once. Any other Content-Type reads as no parameters, as at Entra. */
async function readForm(request: FastifyRequest, reply: FastifyReply, bodies: RequestBodies): Promise<Map<string, string>> {
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

interface ClientCredentials {
  readonly id: string | undefined;
  readonly secret: string | undefined;
  /** Sent with HTTP Basic (client_secret_basic) rather than in the body (client_secret_post). */
  readonly basic: boolean;
}

/** RFC 6749 §2.3.1: in the body, or as HTTP Basic with both parts form-encoded; never both. */
function clientCredentials(request: FastifyRequest, form: ReadonlyMap<string, string>): ClientCredentials {
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

/** The token's audience for a client credentials scope: one resource's `/.default`. */
function audienceOf(scope: string, audiences: readonly string[]): string {
  const resources = scope.split(' ').filter((s) => s !== '' && !OIDC_SCOPES.has(s.toLowerCase()));
  const [only] = resources;
  if (only === undefined) throw oauthErrors.invalidScope(scope, 'it names no resource; ask for https://graph.microsoft.com/.default.');
  if (resources.length > 1) throw oauthErrors.invalidScope(scope, 'a client credentials token is for one resource.');
  if (!only.toLowerCase().endsWith('/.default')) throw oauthErrors.notDefaultScope(only);
  const resource = trimSlashes(only.slice(0, -'/.default'.length));
  if (isGraph(resource)) return GRAPH_AUDIENCE;
  const own = audiences.find((audience) => trimSlashes(audience).toLowerCase() === resource.toLowerCase());
  if (own !== undefined) return own;
  throw oauthErrors.invalidScope(
    only,
    `Portrait issues tokens for ${[`${GRAPH_AUDIENCE}/.default`, ...audiences.filter((a) => !isGraph(a)).map((a) => `${a}/.default`)].join(', ')}.`,
  );
}

function isGraph(resource: string): boolean {
  const key = trimSlashes(resource).toLowerCase();
  return key === GRAPH_AUDIENCE || key === GRAPH_APP_ID;
}

function trimSlashes(text: string): string {
  return text.replace(/\/+$/, '');
}

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body));
}

/** Entra's timestamp: "2026-11-22 10:15:30Z". */
function entraTimestamp(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

function sendOAuthError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
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
