// Signing people in at the built-in issuer: OAuth 2.0's authorization code grant with PKCE
// (S256 only) and OpenID Connect, at Entra ID's endpoints, so that a browser app using
// @azure/msal-browser (protocolMode "OIDC") or any standard OIDC client signs a person in
// against Portrait and calls its Graph API with the token.
//
//   GET  /{tenant}/oauth2/v2.0/authorize   the sign-in page: pick or type who signs in
//   POST /{tenant}/oauth2/v2.0/authorize   that choice: a code, sent to the redirect URI
//   POST /{tenant}/oauth2/v2.0/token       grant_type=authorization_code | refresh_token
//   GET  /{tenant}/oauth2/v2.0/logout      end_session_endpoint (Portrait keeps no session)
//
// The page asks for no password, so it is on only when Portrait listens on loopback
// addresses or was started with --dev-sign-in, and says so. Elsewhere people sign in at the
// organisation's own identity provider (serve --issuer).
//
// What is never done: a code sent to a redirect URI its application did not register
// (exactly); an error redirected to one either (those are pages); a code used twice, or by
// another client, or without its PKCE verifier.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Applications } from '../auth/applications.js';
import { AuthorizationGrants, isCodeChallenge, type GrantRefusal } from '../auth/authorization-grants.js';
import { GRAPH_AUDIENCE, issueIdToken, issueToken, type IssuerKey } from '../auth/built-in-issuer.js';
import { grantedFromKept, keptScopes, readRequestedScopes, type GrantedScopes } from '../auth/requested-scopes.js';
import type { Directory } from '../directory/directory.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { GraphError } from '../errors.js';
import type { Application, User } from '../storage/store.js';
import { WEB_APP_CLIENT_ID, webAppApplication } from '../auth/web-app-client.js';
import { OAuthError, oauthErrors, sendJson } from './oauth-errors.js';
import { readForm } from './oauth-form.js';
import type { RequestBodies } from './request-bodies.js';
import {
  chooseLocale,
  failurePage,
  pageSecurityPolicy,
  signedOutPage,
  signInPage,
  strings,
  type Locale,
} from './sign-in-page.js';

/** Who may sign in at the page: nobody ('off'), or anybody, because of where Portrait listens or a flag. */
export type SignInMode = 'loopback' | 'flag' | 'off';

export interface SignInOptions {
  readonly mode: SignInMode;
  readonly directory: Directory;
  readonly grants: AuthorizationGrants;
  /**
   * The host names (lower case; IPv6 without brackets) this server is reached by (serve's
   * --host, --public-url and the loopback names): the web app's redirect URI is this
   * server's own page only on a request to one of them, so that a foreign name pointed at
   * this server (DNS rebinding) cannot have codes sent to its origin. Loopback names when absent.
   */
  readonly webAppHosts?: ReadonlySet<string> | undefined;
}

const LOOPBACK_NAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '::1']);

/** What the token endpoint hands over to redeem a code or a refresh token. */
export interface DelegatedGrantContext {
  readonly tenantId: string;
  readonly form: ReadonlyMap<string, string>;
  /** Checks a confidential client's secret (throws its OAuthError); public clients send none. */
  readonly verifySecret: (application: Application, secret: string) => Promise<void>;
  readonly secret: string | undefined;
  readonly clientId: string | undefined;
}

interface Shared {
  readonly issuerKey: IssuerKey;
  readonly applications: Applications;
  readonly audiences: readonly string[];
  readonly ttlSeconds: number;
  readonly origin: (request: FastifyRequest) => string;
}

/** People picked from at most this many on the page; others are typed. */
const PEOPLE_ON_PAGE = 50;
/** The parameters the page posts back; nothing else of the request is kept. */
const CARRIED = ['client_id', 'redirect_uri', 'response_type', 'response_mode', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'ui_locales'];
/** A parameter of a sign-in request is short; these bound what one may make Portrait hold or echo. */
const MAX_PARAMETER = 2048;

export function registerSignInRoutes(app: FastifyInstance, shared: Shared, options: SignInOptions, bodies: RequestBodies): (context: DelegatedGrantContext, grantType: string, request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const { applications } = shared;
  const { directory, grants } = options;

  /**
   * The application a client id names in the tenant: a registered one, or Portrait's own web
   * app (auth/web-app-client.ts), whose only redirect URI is this server's own page.
   */
  function findClient(request: FastifyRequest, tenantId: string, clientId: string): Promise<Application | undefined> {
    if (clientId.toLowerCase() === WEB_APP_CLIENT_ID) {
      const origin = shared.origin(request);
      const host = new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
      const own = (options.webAppHosts ?? LOOPBACK_NAMES).has(host);
      // On a name this server is not: a web app with no redirect URI, so no code is sent anywhere.
      return Promise.resolve(own ? webAppApplication(tenantId, origin) : { ...webAppApplication(tenantId, origin), redirectUris: [] });
    }
    return applications.find(tenantId, clientId.toLowerCase());
  }

  /** A refusal shown as a page: the request names no redirect URI that may be trusted with it. */
  class PageRefusal extends Error {
    constructor(
      readonly status: number,
      message: string,
      /** Retry-After, when the server's body budget was full. */
      readonly headers: Readonly<Record<string, string>> = {},
    ) {
      super(message);
    }
  }

  /** The request's parameters: each at most once, each short. */
  function parametersOf(source: Iterable<[string, string]>, locale: () => Locale): Map<string, string> {
    const parameters = new Map<string, string>();
    for (const [name, value] of source) {
      if (parameters.has(name)) throw new PageRefusal(400, strings(locale()).badRequest(`the parameter '${name.slice(0, 64)}' is given more than once`));
      if (value.length > MAX_PARAMETER) throw new PageRefusal(400, strings(locale()).badRequest(`the parameter '${name.slice(0, 64)}' is longer than ${MAX_PARAMETER} characters`));
      parameters.set(name, value);
    }
    return parameters;
  }

  interface Checked {
    readonly tenantId: string;
    readonly application: Application;
    readonly redirectUri: string;
    readonly responseMode: 'query' | 'fragment';
    readonly state: string | undefined;
  }

  /**
   * Steps 1–3 of every sign-in request, whose failures are pages: the tenant, the client and
   * its redirect URI. Only past them may anything be sent to the redirect URI.
   */
  async function checkClient(request: FastifyRequest, parameters: ReadonlyMap<string, string>, locale: Locale): Promise<Checked> {
    const s = strings(locale);
    const { tenant } = request.params as { tenant: string };
    if (!GUID_PATTERN.test(tenant) || !(await applications.tenantExists(tenant.toLowerCase()))) {
      throw new PageRefusal(400, s.tenantUnknown(tenant.slice(0, 64)));
    }
    const tenantId = tenant.toLowerCase();
    const clientId = parameters.get('client_id') ?? '';
    const application = GUID_PATTERN.test(clientId) ? await findClient(request, tenantId, clientId) : undefined;
    if (application === undefined) throw new PageRefusal(400, s.clientUnknown(clientId.slice(0, 64)));
    const redirectUri = parameters.get('redirect_uri');
    if (redirectUri === undefined) throw new PageRefusal(400, s.redirectMissing(application.displayName));
    if (!application.redirectUris.includes(redirectUri)) throw new PageRefusal(400, s.redirectUnknown(redirectUri.slice(0, 256), application.displayName));
    const mode = parameters.get('response_mode') ?? 'query';
    return { tenantId, application, redirectUri, responseMode: mode === 'fragment' ? 'fragment' : 'query', state: parameters.get('state') };
  }

  /** An answer for the client at its redirect URI, with its state, in its response mode (RFC 6749 §4.1.2). */
  function answerUrl(checked: Checked, answer: Record<string, string>): string {
    const values = new URLSearchParams(answer);
    if (checked.state !== undefined) values.set('state', checked.state);
    const target = new URL(checked.redirectUri);
    if (checked.responseMode === 'fragment') {
      target.hash = values.toString();
    } else {
      for (const [name, value] of values) target.searchParams.append(name, value);
    }
    return target.toString();
  }

  /** By 303, so that a POST becomes a GET. */
  function redirectTo(reply: FastifyReply, checked: Checked, answer: Record<string, string>): FastifyReply {
    return reply.code(303).header('location', answerUrl(checked, answer)).header('cache-control', 'no-store').send();
  }

  function queryOf(request: FastifyRequest): URLSearchParams {
    const question = request.url.indexOf('?');
    return new URLSearchParams(question === -1 ? '' : request.url.slice(question + 1));
  }

  /** Steps 4–: what the client asks for; a refusal goes back to it as OAuth's error. */
  function requestedOf(parameters: ReadonlyMap<string, string>): { ok: true; scopes: GrantedScopes; challenge: string } | { ok: false; error: string; description: string } {
    if (parameters.get('response_type') !== 'code') {
      return { ok: false, error: 'unsupported_response_type', description: 'Portrait answers response_type=code only (the authorization code grant, with PKCE).' };
    }
    const mode = parameters.get('response_mode');
    if (mode !== undefined && mode !== 'query' && mode !== 'fragment') {
      return { ok: false, error: 'invalid_request', description: `response_mode '${mode.slice(0, 32)}' is not answered: use query or fragment.` };
    }
    const challenge = parameters.get('code_challenge');
    if (challenge === undefined || parameters.get('code_challenge_method') !== 'S256' || !isCodeChallenge(challenge)) {
      return { ok: false, error: 'invalid_request', description: 'PKCE is required: a code_challenge (43 base64url characters) with code_challenge_method=S256.' };
    }
    if (parameters.get('prompt') === 'none') {
      return { ok: false, error: 'login_required', description: 'Portrait keeps no session: a person signs in on the page every time.' };
    }
    const reading = readRequestedScopes(parameters.get('scope') ?? '', shared.audiences);
    if (!reading.ok) return { ok: false, error: 'invalid_scope', description: `The scope is not valid: ${reading.why}.` };
    return { ok: true, scopes: reading.scopes, challenge };
  }

  /**
   * Whether the page may sign anybody in for this request. On loopback, only requests that
   * came from this machine and through no proxy (a proxy would bring other machines in).
   */
  function signInAllowed(request: FastifyRequest): boolean {
    if (options.mode === 'flag') return true;
    if (options.mode === 'off') return false;
    const proxied = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
    return !proxied && isLoopback(request.socket.remoteAddress ?? '');
  }

  function localeOf(request: FastifyRequest, parameters?: ReadonlyMap<string, string>): Locale {
    const accept = request.headers['accept-language'];
    return chooseLocale(parameters?.get('ui_locales'), typeof accept === 'string' ? accept : undefined);
  }

  function sendPage(reply: FastifyReply, status: number, html: string, formTarget?: string): FastifyReply {
    return reply
      .code(status)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', pageSecurityPolicy(formTarget))
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .send(html);
  }

  /** The same page in the other language: ui_locales set to it. */
  function otherLanguageHref(request: FastifyRequest, parameters: ReadonlyMap<string, string>, locale: Locale): string {
    const next = new URLSearchParams([...parameters].filter(([name]) => name !== 'ui_locales'));
    next.set('ui_locales', locale === 'en' ? 'de' : 'en');
    return `${request.url.split('?', 1)[0]}?${next.toString()}`;
  }

  async function showForm(
    request: FastifyRequest,
    reply: FastifyReply,
    parameters: ReadonlyMap<string, string>,
    checked: Checked,
    scopes: GrantedScopes,
    locale: Locale,
    retry?: { typed: string; problem: string },
  ): Promise<FastifyReply> {
    const people = await directory.queryUsers(checked.tenantId, { orderBy: 'displayName', descending: false, limit: PEOPLE_ON_PAGE, count: false });
    const cancel = answerUrl(checked, { error: 'access_denied', error_description: 'The person cancelled the sign-in.' });
    const html = signInPage({
      locale,
      appName: checked.application.displayName,
      permissions: scopes.permissions,
      redirectUri: checked.redirectUri,
      mode: options.mode === 'flag' ? 'flag' : 'loopback',
      hidden: new Map([...parameters].filter(([name]) => CARRIED.includes(name))),
      people: people.items.map((user) => ({ name: user.displayName, userPrincipalName: user.userPrincipalName })),
      typed: retry?.typed,
      problem: retry?.problem,
      cancelHref: cancel,
      otherLanguageHref: otherLanguageHref(request, parameters, locale),
    });
    return sendPage(reply, retry === undefined ? 200 : 400, html, new URL(checked.redirectUri).origin);
  }

  async function authorize(request: FastifyRequest, reply: FastifyReply, parameters: Map<string, string>, chosen?: string): Promise<FastifyReply> {
    const locale = localeOf(request, parameters);
    let checked: Checked;
    try {
      checked = await checkClient(request, parameters, locale);
      if (!signInAllowed(request)) throw new PageRefusal(403, strings(locale).signInOff);
    } catch (error) {
      if (!(error instanceof PageRefusal)) throw error;
      return sendPage(reply, error.status, failurePage(locale, error.message, otherLanguageHref(request, parameters, locale)));
    }
    const requested = requestedOf(parameters);
    if (!requested.ok) return redirectTo(reply, checked, { error: requested.error, error_description: requested.description });
    if (chosen === undefined) return showForm(request, reply, parameters, checked, requested.scopes, locale);

    let user: User;
    try {
      user = await directory.signInUser(checked.tenantId, chosen.trim());
    } catch (error) {
      if (!(error instanceof GraphError) || error.status >= 500) throw error;
      return showForm(request, reply, parameters, checked, requested.scopes, locale, { typed: chosen, problem: error.message });
    }
    const code = await grants.issueCode({
      tenantId: checked.tenantId,
      clientId: checked.application.clientId,
      userId: user.id,
      scopes: keptScopes(requested.scopes),
      redirectUri: checked.redirectUri,
      codeChallenge: requested.challenge,
      nonce: parameters.get('nonce') ?? null,
    });
    request.log.info({ requestId: request.id, tenantId: checked.tenantId, clientId: checked.application.clientId, userId: user.id }, 'signed a person in');
    return redirectTo(reply, checked, { code });
  }

  const pageErrorHandler = (error: Error, request: FastifyRequest, reply: FastifyReply) => {
    // The headers first: sendPage sends.
    if (error instanceof PageRefusal || error instanceof GraphError) {
      return sendPage(reply.headers(error.headers), error.status, failurePage(localeOf(request), error.message));
    }
    request.log.error({ err: error, requestId: request.id }, 'unexpected error at the sign-in page');
    return sendPage(reply, 500, failurePage(localeOf(request), 'The server could not complete the request.'));
  };

  app.get('/:tenant/oauth2/v2.0/authorize', { errorHandler: pageErrorHandler }, async function signInForm(request, reply) {
    return authorize(request, reply, parametersOf(queryOf(request), () => localeOf(request)));
  });

  app.post('/:tenant/oauth2/v2.0/authorize', { errorHandler: pageErrorHandler }, async function signInChoice(request, reply) {
    let form: Map<string, string>;
    try {
      form = await readForm(request, reply, bodies);
    } catch (error) {
      if (error instanceof OAuthError) throw new PageRefusal(error.status, strings(localeOf(request)).badRequest(error.message), error.headers);
      throw error;
    }
    const chosen = form.get('login') ?? form.get('username') ?? '';
    // The same checks as the page's GET: each parameter once (readForm saw to that) and short.
    const parameters = parametersOf([...form].filter(([name]) => CARRIED.includes(name)), () => localeOf(request));
    return authorize(request, reply, parameters, chosen);
  });

  // end_session_endpoint: Portrait keeps no session; back to the app when it says where, and that is its own.
  app.get('/:tenant/oauth2/v2.0/logout', { errorHandler: pageErrorHandler }, async function signOut(request, reply) {
    const query = parametersOf(queryOf(request), () => localeOf(request));
    const locale = localeOf(request, query);
    const target = query.get('post_logout_redirect_uri');
    const clientId = query.get('client_id');
    const { tenant } = request.params as { tenant: string };
    if (target !== undefined && clientId !== undefined && GUID_PATTERN.test(tenant) && GUID_PATTERN.test(clientId)) {
      const application = await findClient(request, tenant.toLowerCase(), clientId);
      if (application?.redirectUris.includes(target)) {
        const back = new URL(target);
        const state = query.get('state');
        if (state !== undefined) back.searchParams.set('state', state);
        return reply.code(303).header('location', back.toString()).header('cache-control', 'no-store').send();
      }
    }
    return sendPage(reply, 200, signedOutPage(locale));
  });

  /** The token endpoint's authorization_code and refresh_token grants. */
  return async function redeem(context, grantType, request, reply) {
    const { tenantId, form } = context;
    const clientId = context.clientId;
    if (clientId === undefined) throw oauthErrors.missingParameter('client_id');
    const application = GUID_PATTERN.test(clientId) ? await findClient(request, tenantId, clientId) : undefined;
    if (application === undefined) throw oauthErrors.unknownClient(clientId, tenantId, false);
    // A confidential client proves itself too; a public one (a browser app) has PKCE alone.
    // The web app has no secret: any secret sent for it is wrong.
    if (context.secret !== undefined) {
      if (application.clientId === WEB_APP_CLIENT_ID) throw oauthErrors.wrongSecret(application.clientId, false);
      await context.verifySecret(application, context.secret);
    }

    let redeemed;
    if (grantType === 'authorization_code') {
      const code = form.get('code');
      if (code === undefined) throw oauthErrors.missingParameter('code');
      redeemed = await grants.redeemCode(code, {
        tenantId,
        clientId: application.clientId,
        redirectUri: form.get('redirect_uri'),
        codeVerifier: form.get('code_verifier'),
      });
    } else {
      const token = form.get('refresh_token');
      if (token === undefined) throw oauthErrors.missingParameter('refresh_token');
      redeemed = await grants.redeemRefresh(token, tenantId, application.clientId);
    }
    if (!redeemed.ok) throw grantRefused(redeemed.why, grantType);
    const grant = redeemed.grant;
    const user = await directory.userById(tenantId, grant.userId);
    if (user === undefined) throw grantRefused('unknown', grantType);

    let scopes = grantedFromKept(grant.scopes);
    // A refresh may ask for less than was granted, never more (RFC 6749 §6).
    const asked = grantType === 'refresh_token' ? form.get('scope') : undefined;
    if (asked !== undefined) {
      const reading = readRequestedScopes(asked, shared.audiences);
      if (!reading.ok) throw oauthErrors.invalidScope(asked.slice(0, 256), `${reading.why}.`);
      const narrower = reading.scopes;
      const beyond = narrower.permissions.filter((p) => !scopes.permissions.includes(p));
      if (narrower.audience !== scopes.audience || beyond.length > 0) {
        throw oauthErrors.invalidScope(asked.slice(0, 256), `it asks for more than was granted (${beyond.join(', ') || narrower.audience}).`);
      }
      scopes = { audience: scopes.audience, permissions: narrower.permissions, oidc: scopes.oidc };
    }

    const accessToken = await issueToken(shared.issuerKey, {
      tenantId,
      subject: {
        kind: 'user',
        userId: user.id,
        userPrincipalName: user.userPrincipalName,
        displayName: user.displayName,
        scopes: scopes.permissions,
        admin: user.isAdmin,
        appId: application.clientId,
      },
      ttlSeconds: shared.ttlSeconds,
      audience: scopes.audience,
    });
    const answer: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: [...scopes.permissions.map((p) => (scopes.audience === GRAPH_AUDIENCE ? p : `${scopes.audience}/${p}`)), ...scopes.oidc].join(' '),
      expires_in: shared.ttlSeconds,
      ext_expires_in: shared.ttlSeconds,
      access_token: accessToken,
    };
    if (scopes.oidc.has('offline_access')) {
      answer.refresh_token = await grants.issueRefresh({ tenantId, clientId: application.clientId, userId: user.id, scopes: keptScopes(scopes) });
    }
    if (scopes.oidc.has('openid')) {
      answer.id_token = await issueIdToken(shared.issuerKey, {
        issuer: `${shared.origin(request)}/${tenantId}/v2.0`,
        tenantId,
        clientId: application.clientId,
        user,
        nonce: grantType === 'authorization_code' ? grant.nonce : null,
        ttlSeconds: shared.ttlSeconds,
      });
    }
    // MSAL's AAD protocol mode reads the account's ids from client_info (base64url JSON).
    if (form.get('client_info') === '1') {
      answer.client_info = Buffer.from(JSON.stringify({ uid: user.id, utid: tenantId })).toString('base64url');
    }
    request.log.info({ requestId: request.id, tenantId, clientId: application.clientId, userId: user.id, grantType }, 'issued a delegated token');
    reply.header('pragma', 'no-cache');
    return sendJson(reply, 200, answer);
  };
}

/** OAuth's invalid_grant, with Entra's code for each reason. */
function grantRefused(why: GrantRefusal, grantType: string): OAuthError {
  const what = grantType === 'authorization_code' ? 'authorization code' : 'refresh token';
  switch (why) {
    case 'code_verifier wrong':
    case 'code_verifier missing':
      return new OAuthError(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
    case 'redirect_uri differs':
      return new OAuthError(400, 'invalid_grant', 70000, 'The redirect_uri does not match the one the authorization code was issued for.');
    case 'another client':
      return new OAuthError(400, 'invalid_grant', 70000, `The ${what} was issued to another client.`);
    case 'unknown':
      return new OAuthError(400, 'invalid_grant', 70008, `The provided ${what} is expired, was already used, or was never issued. Sign in again.`);
  }
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
