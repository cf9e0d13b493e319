// The built-in issuer's OAuth endpoints as a client sees them, over inject: the
// discovery document, the key set, the client credentials token and every error in
// the JSON MSAL reads — and the token itself, accepted by Portrait for what its
// application's roles allow. test/azure-identity.test.ts runs the real
// @azure/identity against a real server.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import sharp from 'sharp';
import { buildApp } from '../src/app.js';
import { Applications } from '../src/auth/applications.js';
import { builtInIssuer, loadOrCreateIssuerKey, type IssuerKey } from '../src/auth/built-in-issuer.js';
import { hashClientSecret, newClientSecret, verifyClientSecret } from '../src/auth/client-secrets.js';
import { createTokenVerifier, type TokenVerifier } from '../src/auth/token-verifier.js';
import { Directory } from '../src/directory/directory.js';
import { newId } from '../src/directory/ids.js';
import { renderResize, renderUpload } from '../src/imaging/render-photo.js';
import { PhotoService } from '../src/photos/photo-service.js';
import { UploadGate } from '../src/photos/upload-gate.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';

const GRAPH = 'https://graph.microsoft.com';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** Portrait's own API, as `serve --audience` adds it. */
const OWN_AUDIENCE = 'api://portrait';

interface Setup {
  readonly app: FastifyInstance;
  readonly store: SqliteStore;
  readonly issuerKey: IssuerKey;
  readonly verifier: TokenVerifier;
  readonly tenantId: string;
  readonly applications: Applications;
  close(): Promise<void>;
}

/** An app with the OAuth endpoints, on a temporary SQLite file, as `serve` builds it. */
async function setup(options: { publicUrl?: string; oauth?: boolean } = {}): Promise<Setup> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portrait-oauth-'));
  const store = new SqliteStore({ filename: join(dataDir, 'portrait.db') });
  const issuerKey = loadOrCreateIssuerKey(dataDir);
  const tenantId = newId();
  await store.ensureTenant(tenantId);
  const verifier = createTokenVerifier({
    builtInKey: issuerKey.publicKey,
    trustedIssuers: [],
    audiences: [GRAPH, OWN_AUDIENCE],
    clockSkewSeconds: 60,
  });
  const applications = new Applications(store);
  const app = buildApp({
    verifier,
    services: {
      directory: new Directory(store, { autoProvisionUsers: true }),
      photos: new PhotoService(store, { renderUpload, renderResize }, { pixelLimit: 50_000_000 }),
      uploads: new UploadGate({ concurrency: 2, queueLimit: 8 }),
    },
    publicUrl: options.publicUrl,
    ...(options.oauth === false ? {} : { oauth: { issuerKey, applications, audiences: [GRAPH, OWN_AUDIENCE] } }),
  });
  await app.ready();
  return {
    app,
    store,
    issuerKey,
    verifier,
    tenantId,
    applications,
    async close() {
      await app.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function tokenRequest(
  s: Setup,
  params: Record<string, string>,
  options: { tenant?: string; headers?: Record<string, string>; query?: string } = {},
): Promise<LightMyRequestResponse> {
  return s.app.inject({
    method: 'POST',
    url: `/${options.tenant ?? s.tenantId}/oauth2/v2.0/token${options.query ?? ''}`,
    headers: { ...FORM, ...options.headers },
    payload: new URLSearchParams(params).toString(),
  });
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** An OAuth error as Entra sends it: status, `error`, the AADSTS code first in the description and in error_codes. */
function assertOAuthError(res: LightMyRequestResponse, status: number, error: string, code: number | undefined): Record<string, unknown> {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.headers['cache-control'], 'no-store');
  const body = res.json() as Record<string, unknown>;
  assert.equal(body.error, error);
  assert.deepEqual(body.error_codes, code === undefined ? [] : [code]);
  if (code !== undefined) assert.match(String(body.error_description), new RegExp(`^AADSTS${code}: `));
  assert.match(String(body.error_description), / Trace ID: \S+ Correlation ID: \S+ Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  assert.match(String(body.timestamp), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  assert.equal(body.trace_id, res.headers['request-id'], 'trace_id is the request id');
  assert.equal(typeof body.correlation_id, 'string');
  return body;
}

describe('client secrets', () => {
  it('are 44 url-safe characters, new every time', () => {
    const secrets = new Set(Array.from({ length: 20 }, () => newClientSecret()));
    assert.equal(secrets.size, 20);
    for (const secret of secrets) assert.match(secret, /^[A-Za-z0-9_-]{44}$/);
  });

  it('are kept as salted scrypt hashes with their parameters, and verify only themselves', async () => {
    const secret = newClientSecret();
    const [first, second] = [await hashClientSecret(secret), await hashClientSecret(secret)];
    assert.match(first, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(first, second, 'each hash has its own salt');
    assert.ok(!first.includes(secret));
    assert.equal(await verifyClientSecret(secret, first), true);
    assert.equal(await verifyClientSecret(secret, second), true);
    assert.equal(await verifyClientSecret(`${secret}x`, first), false);
    assert.equal(await verifyClientSecret('', first), false);
  });

  it('never verify against a hash they cannot read, or whose cost is out of bounds', async () => {
    const secret = newClientSecret();
    const [, , , , salt, hash] = (await hashClientSecret(secret)).split('$');
    for (const stored of ['', secret, 'bcrypt$1$2$3$a$b', `scrypt$32768$8$1$${salt}`, `scrypt$1073741824$8$1$${salt}$${hash}`, `scrypt$32768$8$1$$${hash}`]) {
      assert.equal(await verifyClientSecret(secret, stored), false, stored);
    }
  });
});

describe('the OAuth endpoints', () => {
  let s: Setup;
  let clientId: string;
  let secret: string;
  before(async () => {
    s = await setup();
    const registered = await s.applications.register(s.tenantId, 'Photo sync', ['User.ReadWrite.All', 'Group.Read.All']);
    clientId = registered.application.clientId;
    secret = registered.secret;
  });
  after(() => s.close());

  it('keeps only a hash of the secret', async () => {
    const stored = await s.store.getApplication(s.tenantId, clientId);
    assert.ok(stored);
    assert.match(stored.secretHash, /^scrypt\$/);
    assert.ok(!stored.secretHash.includes(secret));
    assert.deepEqual(stored.roles, ['User.ReadWrite.All', 'Group.Read.All']);
  });

  it('describes themselves in an OpenID configuration on the request’s own origin', async () => {
    const res = await s.app.inject({ method: 'GET', url: `/${s.tenantId}/v2.0/.well-known/openid-configuration`, headers: { host: 'localhost:8443' } });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const doc = res.json() as Record<string, unknown>;
    const base = `http://localhost:8443/${s.tenantId}`;
    // What MSAL requires (authorization_endpoint, token_endpoint, issuer, jwks_uri) and checks:
    // the issuer on the authority's own origin.
    assert.equal(doc.issuer, `${base}/v2.0`);
    assert.equal(doc.authorization_endpoint, `${base}/oauth2/v2.0/authorize`);
    assert.equal(doc.token_endpoint, `${base}/oauth2/v2.0/token`);
    assert.equal(doc.jwks_uri, `${base}/discovery/v2.0/keys`);
    assert.deepEqual(doc.grant_types_supported, ['client_credentials']);
    assert.deepEqual(doc.token_endpoint_auth_methods_supported, ['client_secret_post', 'client_secret_basic']);
    assert.deepEqual(doc.id_token_signing_alg_values_supported, ['RS256']);
    assert.deepEqual(doc.scopes_supported, [`${GRAPH}/.default`, `${OWN_AUDIENCE}/.default`]);

    const upper = await s.app.inject({
      method: 'GET',
      url: `/${s.tenantId.toUpperCase()}/v2.0/.well-known/openid-configuration`,
      headers: { host: 'localhost:8443' },
    });
    assert.equal((upper.json() as { token_endpoint: string }).token_endpoint, `${base}/oauth2/v2.0/token`, 'the tenant id in lower case');
  });

  it('writes the public URL into the configuration when one is set', async () => {
    const behind = await setup({ publicUrl: 'https://photos.contoso.com' });
    try {
      const res = await behind.app.inject({ method: 'GET', url: `/${behind.tenantId}/v2.0/.well-known/openid-configuration` });
      const doc = res.json() as Record<string, string>;
      assert.equal(doc.issuer, `https://photos.contoso.com/${behind.tenantId}/v2.0`);
      assert.equal(doc.token_endpoint, `https://photos.contoso.com/${behind.tenantId}/oauth2/v2.0/token`);
    } finally {
      await behind.close();
    }
  });

  it('answers the configuration for any tenant id, so that MSAL reaches the token endpoint’s "tenant not found"; not for a name', async () => {
    const unknown = await s.app.inject({ method: 'GET', url: `/${newId()}/v2.0/.well-known/openid-configuration` });
    assert.equal(unknown.statusCode, 200);
    const named = await s.app.inject({ method: 'GET', url: '/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration' });
    assertOAuthError(named, 400, 'invalid_tenant', 90002);
    const keys = await s.app.inject({ method: 'GET', url: '/common/discovery/v2.0/keys' });
    assertOAuthError(keys, 400, 'invalid_tenant', 90002);
  });

  it('publishes the issuer’s public key, which verifies the tokens it issues', async () => {
    const res = await s.app.inject({ method: 'GET', url: `/${s.tenantId}/discovery/v2.0/keys` });
    assert.equal(res.statusCode, 200);
    const { keys } = res.json() as { keys: Record<string, string>[] };
    assert.equal(keys.length, 1);
    const [jwk] = keys;
    assert.ok(jwk);
    assert.deepEqual(Object.keys(jwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    assert.equal(jwk.kty, 'RSA');
    assert.equal(jwk.use, 'sig');
    assert.equal(jwk.kid, s.issuerKey.keyId);

    const token = await tokenRequest(s, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: `${GRAPH}/.default` });
    const accessToken = (token.json() as { access_token: string }).access_token;
    assert.equal(decodeProtectedHeader(accessToken).kid, jwk.kid);
    const { payload } = await jwtVerify(accessToken, await importJWK(jwk, 'RS256'), { issuer: builtInIssuer(s.tenantId), audience: GRAPH });
    assert.equal(payload.appid, clientId);
  });

  it('issues an application token for the registered roles, in the response MSAL expects', async () => {
    const res = await tokenRequest(s, {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
      scope: `${GRAPH}/.default`,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers.pragma, 'no-cache');
    const body = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'ext_expires_in', 'token_type']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3600);
    assert.equal(body.ext_expires_in, 3600);

    const accessToken = body.access_token as string;
    const claims = claimsOf(accessToken);
    assert.equal(claims.iss, builtInIssuer(s.tenantId));
    assert.equal(claims.aud, GRAPH);
    assert.equal(claims.tid, s.tenantId);
    assert.equal(claims.oid, clientId);
    assert.equal(claims.appid, clientId);
    assert.equal(claims.azp, clientId);
    assert.equal(claims.sub, clientId);
    assert.equal(claims.idtyp, 'app');
    assert.equal(claims.app_displayname, 'Photo sync');
    assert.deepEqual(claims.roles, ['User.ReadWrite.All', 'Group.Read.All']);
    assert.equal(claims.scp, undefined, 'an application token has roles, not scp');
    assert.equal((claims.exp as number) - (claims.iat as number), 3600);

    const principal = await s.verifier.verify(`Bearer ${accessToken}`);
    assert.equal(principal.tenantId, s.tenantId);
    assert.equal(principal.objectId, clientId);
    assert.equal(principal.delegated, false);
    assert.deepEqual([...principal.permissions].sort(), ['group.read.all', 'user.readwrite.all']);
  });

  it('lets the token do what its roles allow — upload and read another user’s photo — and nothing more', async () => {
    const res = await tokenRequest(s, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: `${GRAPH}/.default` });
    const auth = { authorization: `Bearer ${(res.json() as { access_token: string }).access_token}` };
    const created = await s.app.inject({
      method: 'POST',
      url: '/v1.0/users',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: { userPrincipalName: 'dana@contoso.com', displayName: 'Dana' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const userId = (created.json() as { id: string }).id;
    const jpeg = await sharp({ create: { width: 300, height: 300, channels: 3, background: { r: 200, g: 30, b: 30 } } }).jpeg().toBuffer();
    const put = await s.app.inject({ method: 'PUT', url: `/v1.0/users/${userId}/photo/$value`, headers: { ...auth, 'content-type': 'image/jpeg' }, payload: jpeg });
    assert.equal(put.statusCode, 200, put.body);
    const value = await s.app.inject({ method: 'GET', url: `/v1.0/users/${userId}/photo/$value`, headers: auth });
    assert.equal(value.statusCode, 200);
    const meta = await sharp(value.rawPayload).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 240);

    // Group.Read.All reads groups but does not write them (contract §7).
    const group = await s.app.inject({ method: 'POST', url: '/v1.0/groups', headers: { ...auth, 'content-type': 'application/json' }, payload: { displayName: 'Design', mailNickname: 'design' } });
    assert.equal(group.statusCode, 403, group.body);
  });

  it('takes the scope of Microsoft Graph in its other forms, and Portrait’s own audiences', async () => {
    const base = { grant_type: 'client_credentials', client_id: clientId, client_secret: secret };
    for (const [scope, audience] of [
      ['00000003-0000-0000-c000-000000000000/.default', GRAPH],
      [`${GRAPH}//.default`, GRAPH],
      [`${GRAPH}/.default openid profile offline_access`, GRAPH],
      [`${OWN_AUDIENCE}/.default`, OWN_AUDIENCE],
    ] as const) {
      const res = await tokenRequest(s, { ...base, scope });
      assert.equal(res.statusCode, 200, `${scope}: ${res.body}`);
      const accessToken = (res.json() as { access_token: string }).access_token;
      assert.equal(claimsOf(accessToken).aud, audience, scope);
      await s.verifier.verify(`Bearer ${accessToken}`);
    }
  });

  it('refuses any other scope with invalid_scope', async () => {
    const base = { grant_type: 'client_credentials', client_id: clientId, client_secret: secret };
    assertOAuthError(await tokenRequest(s, { ...base, scope: 'User.Read' }), 400, 'invalid_scope', 1002012);
    assertOAuthError(await tokenRequest(s, { ...base, scope: `${GRAPH}/User.Read` }), 400, 'invalid_scope', 1002012);
    const other = assertOAuthError(await tokenRequest(s, { ...base, scope: 'https://vault.azure.net/.default' }), 400, 'invalid_scope', 70011);
    assert.match(String(other.error_description), /https:\/\/graph\.microsoft\.com\/\.default/, 'the error names the scopes Portrait serves');
    assertOAuthError(await tokenRequest(s, { ...base, scope: `${GRAPH}/.default ${OWN_AUDIENCE}/.default` }), 400, 'invalid_scope', 70011);
    assertOAuthError(await tokenRequest(s, { ...base, scope: 'openid' }), 400, 'invalid_scope', 70011);
  });

  it('authenticates the client with HTTP Basic too (client_secret_basic), but not both ways at once', async () => {
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    const res = await tokenRequest(s, { grant_type: 'client_credentials', scope: `${GRAPH}/.default` }, { headers: { authorization: basic } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(claimsOf((res.json() as { access_token: string }).access_token).appid, clientId);

    const both = await tokenRequest(s, { grant_type: 'client_credentials', client_secret: secret, scope: `${GRAPH}/.default` }, { headers: { authorization: basic } });
    assertOAuthError(both, 400, 'invalid_request', undefined);

    const wrong = `Basic ${Buffer.from(`${clientId}:not-the-secret`).toString('base64')}`;
    const refused = await tokenRequest(s, { grant_type: 'client_credentials', scope: `${GRAPH}/.default` }, { headers: { authorization: wrong } });
    assertOAuthError(refused, 401, 'invalid_client', 7000215);
    assert.equal(refused.headers['www-authenticate'], 'Basic realm="portrait"');

    const garbled = await tokenRequest(s, { grant_type: 'client_credentials', scope: `${GRAPH}/.default` }, { headers: { authorization: 'Basic !!!' } });
    assertOAuthError(garbled, 401, 'invalid_client', undefined);
  });

  it('answers a wrong secret or an unknown client with 401 invalid_client', async () => {
    const base = { grant_type: 'client_credentials', scope: `${GRAPH}/.default` };
    const wrong = assertOAuthError(await tokenRequest(s, { ...base, client_id: clientId, client_secret: `${secret}x` }), 401, 'invalid_client', 7000215);
    assert.ok(!String(wrong.error_description).includes(secret), 'the secret is never echoed');
    const unknown = assertOAuthError(await tokenRequest(s, { ...base, client_id: newId(), client_secret: secret }), 401, 'invalid_client', 700016);
    assert.match(String(unknown.error_description), /was not found in the directory/);
    assertOAuthError(await tokenRequest(s, { ...base, client_id: 'photo-sync', client_secret: secret }), 401, 'invalid_client', 700016);
    assertOAuthError(await tokenRequest(s, { ...base, client_id: clientId }), 401, 'invalid_client', 7000218);
    // An application of one tenant is unknown in another.
    const other = newId();
    await s.store.ensureTenant(other);
    assertOAuthError(await tokenRequest(s, { ...base, client_id: clientId, client_secret: secret }, { tenant: other }), 401, 'invalid_client', 700016);
  });

  it('answers an unknown tenant with 400 invalid_request AADSTS90002', async () => {
    const params = { grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: `${GRAPH}/.default` };
    const unknown = newId();
    const body = assertOAuthError(await tokenRequest(s, params, { tenant: unknown }), 400, 'invalid_request', 90002);
    assert.match(String(body.error_description), new RegExp(`Tenant '${unknown}' not found`));
    assertOAuthError(await tokenRequest(s, params, { tenant: 'contoso.com' }), 400, 'invalid_request', 90002);
  });

  it('answers a malformed request with invalid_request or unsupported_grant_type', async () => {
    const full = { grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: `${GRAPH}/.default` };
    for (const missing of ['grant_type', 'client_id', 'scope'] as const) {
      const { [missing]: _left, ...rest } = full;
      const body = assertOAuthError(await tokenRequest(s, rest), 400, 'invalid_request', 900144);
      assert.match(String(body.error_description), new RegExp(`parameter: '${missing}'`));
    }
    assertOAuthError(await tokenRequest(s, { ...full, grant_type: 'password' }), 400, 'unsupported_grant_type', 70003);
    assertOAuthError(await tokenRequest(s, { ...full, grant_type: 'authorization_code' }), 400, 'unsupported_grant_type', 70003);

    // The parameters are read from a form only, as at Entra: JSON has none.
    const json = await s.app.inject({ method: 'POST', url: `/${s.tenantId}/oauth2/v2.0/token`, headers: { 'content-type': 'application/json' }, payload: full });
    assertOAuthError(json, 400, 'invalid_request', 900144);

    const twice = await s.app.inject({
      method: 'POST',
      url: `/${s.tenantId}/oauth2/v2.0/token`,
      headers: FORM,
      payload: `${new URLSearchParams(full).toString()}&scope=${encodeURIComponent(`${GRAPH}/.default`)}`,
    });
    assert.match(String(assertOAuthError(twice, 400, 'invalid_request', undefined).error_description), /'scope' was sent more than once/);

    const large = await tokenRequest(s, { ...full, padding: 'x'.repeat(20_000) });
    assertOAuthError(large, 400, 'invalid_request', undefined);

    const get = await s.app.inject({ method: 'GET', url: `/${s.tenantId}/oauth2/v2.0/token` });
    assertOAuthError(get, 400, 'invalid_request', 900561);
    const authorize = await s.app.inject({ method: 'GET', url: `/${s.tenantId}/oauth2/v2.0/authorize?response_type=code` });
    assertOAuthError(authorize, 400, 'unsupported_response_type', undefined);
  });

  it('echoes MSAL’s correlation id (query string or header) in its errors', async () => {
    const correlationId = newId();
    const params = { grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong', scope: `${GRAPH}/.default` };
    const viaQuery = await tokenRequest(s, params, { query: `?client-request-id=${correlationId}` });
    assert.equal(assertOAuthError(viaQuery, 401, 'invalid_client', 7000215).correlation_id, correlationId);
    const viaHeader = await tokenRequest(s, params, { headers: { 'client-request-id': correlationId } });
    assert.equal(assertOAuthError(viaHeader, 401, 'invalid_client', 7000215).correlation_id, correlationId);
    const none = assertOAuthError(await tokenRequest(s, params), 401, 'invalid_client', 7000215);
    assert.equal(none.correlation_id, none.trace_id);
    assert.match(String(none.trace_id), GUID);
  });
});

describe('an app built without OAuth options', () => {
  it('serves no token endpoint (buildApp stays as it was)', async () => {
    const s = await setup({ oauth: false });
    try {
      const res = await s.app.inject({ method: 'POST', url: `/${s.tenantId}/oauth2/v2.0/token`, headers: FORM, payload: 'grant_type=client_credentials' });
      assert.notEqual(res.statusCode, 200);
      assert.equal((res.json() as { error?: { code?: string } }).error?.code !== undefined, true, 'the Graph envelope of an unknown path');
    } finally {
      await s.close();
    }
  });
});

describe('a token endpoint whose database is down', () => {
  it('answers 500 server_error in the same OAuth JSON, telling nothing of the inside', async () => {
    const s = await setup();
    try {
      await s.store.close();
      const res = await tokenRequest(s, { grant_type: 'client_credentials', client_id: newId(), client_secret: 'x', scope: `${GRAPH}/.default` });
      const body = assertOAuthError(res, 500, 'server_error', undefined);
      assert.doesNotMatch(String(body.error_description), /database|sqlite|Error:/i);
    } finally {
      await s.close();
    }
  });
});
