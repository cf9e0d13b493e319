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
import type { Application } from '../storage/store.js';
import { GRAPH_AUDIENCE, issueToken, type IssuerKey } from '../auth/built-in-issuer.js';
import { ClientSecretVerifier } from '../auth/client-secret-verifier.js';
import { isGraphResource, OIDC_SCOPES, resourceOf } from '../auth/requested-scopes.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { OAuthError, oauthErrors, sendJson, sendOAuthError } from './oauth-errors.js';
import { clientCredentials, readForm } from './oauth-form.js';
import { registerSignInRoutes, type SignInOptions } from './sign-in-routes.js';
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
  /** People signing in (authorization code with PKCE, http/sign-in-routes.ts); absent: applications only. */
  readonly signIn?: SignInOptions | undefined;
}

const DEFAULT_TTL_SECONDS = 3600;

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
  const signIn = options.signIn !== undefined;

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
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic', ...(signIn ? ['none'] : [])],
      grant_types_supported: ['client_credentials', ...(signIn ? ['authorization_code', 'refresh_token'] : [])],
      response_types_supported: signIn ? ['code'] : [],
      ...(signIn && {
        response_modes_supported: ['query', 'fragment'],
        code_challenge_methods_supported: ['S256'],
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      }),
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: [
        ...(signIn ? [...OIDC_SCOPES] : []),
        `${GRAPH_AUDIENCE}/.default`,
        ...audiences.filter((a) => !isGraphResource(a)).map((a) => `${a}/.default`),
      ],
      claims_supported: [
        'iss', 'aud', 'sub', 'tid', 'oid', 'appid', 'azp', 'app_displayname', 'roles', 'idtyp', 'ver', 'iat', 'nbf', 'exp',
        ...(signIn ? ['scp', 'upn', 'preferred_username', 'name', 'nonce', 'auth_time'] : []),
      ],
    });
  });

  app.get('/:tenant/discovery/v2.0/keys', { errorHandler }, async function signingKeys(request, reply) {
    tenantOf(request, 'invalid_tenant');
    const { n, e } = issuerKey.publicKey.export({ format: 'jwk' });
    return sendJson(reply, 200, { keys: [{ kty: 'RSA', use: 'sig', alg: 'RS256', kid: issuerKey.keyId, n, e }] });
  });

  const redeemDelegated =
    options.signIn === undefined
      ? undefined
      : registerSignInRoutes(app, { issuerKey, applications, audiences, ttlSeconds, origin }, options.signIn, bodies);
  if (redeemDelegated === undefined) {
    app.route({
      method: ['GET', 'POST'],
      url: '/:tenant/oauth2/v2.0/authorize',
      errorHandler,
      handler: async function authorize() {
        throw oauthErrors.authorizeUnsupported();
      },
    });
  }

  /** A client's secret, checked on the hashing thread within the throttle's budgets; throws when it is not right. */
  async function verifySecret(request: FastifyRequest, tenantId: string, application: Application, secret: string, basic: boolean): Promise<void> {
    // request.ip is the socket's address (Portrait trusts no proxy header); a socket closed already has none.
    const check = await secretVerifier.verify(application, secret, request.ip || 'unknown');
    switch (check.result) {
      case 'right':
        return;
      case 'wrong':
        throw oauthErrors.wrongSecret(application.clientId, basic);
      case 'throttled':
        // info, not warn (serve's default level): a flood would otherwise write a line per request.
        request.log.info({ requestId: request.id, tenantId, clientId: application.clientId, ip: request.ip, over: check.over }, 'wrong client secrets throttled');
        throw oauthErrors.tooManyWrongSecrets(application.clientId, check.over, check.retryAfterSeconds);
      case 'busy':
        throw oauthErrors.secretCheckBusy(check.retryAfterSeconds);
    }
  }

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
    const client = clientCredentials(request, form);
    if ((grantType === 'authorization_code' || grantType === 'refresh_token') && redeemDelegated !== undefined) {
      const context = {
        tenantId,
        form,
        clientId: client.id,
        secret: client.secret,
        verifySecret: (application: Application, secret: string) => verifySecret(request, tenantId, application, secret, client.basic),
      };
      return redeemDelegated(context, grantType, request, reply);
    }
    if (grantType !== 'client_credentials') throw oauthErrors.unsupportedGrant(grantType);

    if (client.id === undefined) throw oauthErrors.missingParameter('client_id');
    if (client.secret === undefined) throw oauthErrors.missingSecret();
    const scope = form.get('scope');
    if (scope === undefined) throw oauthErrors.missingParameter('scope');
    const audience = audienceOf(scope, audiences);

    const application = GUID_PATTERN.test(client.id) ? await applications.find(tenantId, client.id.toLowerCase()) : undefined;
    if (application === undefined) throw oauthErrors.unknownClient(client.id, tenantId, client.basic);
    await verifySecret(request, tenantId, application, client.secret, client.basic);
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

/** The token's audience for a client credentials scope: one resource's `/.default`. */
function audienceOf(scope: string, audiences: readonly string[]): string {
  const resources = scope.split(' ').filter((s) => s !== '' && !OIDC_SCOPES.has(s.toLowerCase()));
  const [only] = resources;
  if (only === undefined) throw oauthErrors.invalidScope(scope, 'it names no resource; ask for https://graph.microsoft.com/.default.');
  if (resources.length > 1) throw oauthErrors.invalidScope(scope, 'a client credentials token is for one resource.');
  if (!only.toLowerCase().endsWith('/.default')) throw oauthErrors.notDefaultScope(only);
  const audience = resourceOf(only.slice(0, -'/.default'.length), audiences);
  if (audience !== undefined) return audience;
  throw oauthErrors.invalidScope(
    only,
    `Portrait issues tokens for ${[`${GRAPH_AUDIENCE}/.default`, ...audiences.filter((a) => !isGraphResource(a)).map((a) => `${a}/.default`)].join(', ')}.`,
  );
}
