// Browser apps: a page on another origin calls the API as Graph lets it (CORS). Preflights are
// answered without a token; answers, errors and the read fast path carry the page's origin and
// expose the headers a Graph client reads; `--cors-origin` allows only the origins it names.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadServeConfig, UsageError } from '../src/config.js';
import { CORS_MAX_AGE_SECONDS, CorsPolicy } from '../src/http/cors.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { photo } from './helpers/images.js';

const PAGE = 'https://app.contoso.com';

async function call(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
  return fetch(`${base}${path}`, { method, headers, ...(body && { body }) });
}

function preflight(base: string, path: string, origin: string, method = 'PUT', requestHeaders = 'authorization,content-type'): Promise<Response> {
  return call(base, 'OPTIONS', path, {
    origin,
    'access-control-request-method': method,
    'access-control-request-headers': requestHeaders,
  });
}

describe('CORS: any origin (the default)', () => {
  let h: Harness;
  let base: string;
  let auth: Record<string, string>;
  let userId: string;

  before(async () => {
    // SQLite, so that the read fast path is there as in `portrait serve`.
    h = await createHarness({ database: 'sqlite' });
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const alice = await h.user('alice@contoso.com');
    userId = alice.id;
    auth = { authorization: `Bearer ${await h.userToken(alice, ['User.ReadWrite', 'User.ReadBasic.All'])}` };
  });
  after(() => h.close());

  it('answers a preflight with no token: 204, the origin, methods, headers and how long to keep it', async () => {
    const res = await preflight(base, '/v1.0/me/photo/$value', PAGE);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), PAGE);
    const methods = res.headers.get('access-control-allow-methods')?.split(', ');
    assert.deepEqual(methods, ['GET', 'PUT', 'PATCH', 'POST', 'DELETE']);
    const allowed = res.headers.get('access-control-allow-headers')?.toLowerCase().split(', ') ?? [];
    for (const name of ['authorization', 'content-type', 'client-request-id', 'if-match', 'if-none-match', 'workbook-session-id', 'consistencylevel', 'sdkversion']) {
      assert.ok(allowed.includes(name), `${name} may be sent`);
    }
    assert.equal(res.headers.get('access-control-max-age'), String(CORS_MAX_AGE_SECONDS));
    assert.equal(res.headers.get('access-control-allow-credentials'), null, 'never with credentials');
    assert.equal(await res.text(), '');
  });

  it('answers preflights for the OAuth endpoints and the batch too', async () => {
    for (const path of ['/v1.0/$batch', `/${h.tenantId}/oauth2/v2.0/token`, '/v1.0/users?$top=5']) {
      const res = await preflight(base, path, 'http://localhost:3000', 'POST', 'content-type');
      assert.equal(res.status, 204, path);
      assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000', path);
    }
  });

  it('an OPTIONS that is no preflight is an API request like any other: it needs a token', async () => {
    const res = await call(base, 'OPTIONS', '/v1.0/me/photo', { origin: PAGE });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'InvalidAuthenticationToken');
  });

  it('an upload, its read and the fast path carry the origin and expose what Graph clients read', async () => {
    const page = { origin: PAGE };
    const put = await call(base, 'PUT', '/v1.0/me/photo/$value', { ...auth, ...page, 'content-type': 'image/jpeg' }, photo('exif-org-canon-ixus.jpg'));
    assert.equal(put.status, 200, await put.text());
    assert.equal(put.headers.get('access-control-allow-origin'), PAGE);
    const url = `/v1.0/users/${userId}/photos/96x96/$value`;
    const served = h.hotReads?.served ?? Number.NaN;
    const first = await call(base, 'GET', url, { ...auth, ...page });
    const second = await call(base, 'GET', url, { ...auth, ...page });
    assert.equal(h.hotReads?.served, served + 1, 'the second read was answered by the fast path');
    for (const res of [first, second]) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('access-control-allow-origin'), PAGE);
      const exposed = res.headers.get('access-control-expose-headers')?.toLowerCase().split(', ') ?? [];
      for (const name of ['etag', 'request-id', 'client-request-id', 'retry-after', 'location']) assert.ok(exposed.includes(name), name);
      assert.equal(res.headers.get('vary'), 'Origin');
      assert.equal(res.headers.get('access-control-allow-credentials'), null);
    }
    // A page elsewhere reading the same photo with the same token is answered for its own origin.
    const other = await call(base, 'GET', url, { ...auth, origin: 'http://localhost:5173' });
    assert.equal(other.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    // No Origin (a program, an <img>): no CORS headers, but the answer still varies on Origin.
    const plain = await call(base, 'GET', url, auth);
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
    assert.equal(plain.headers.get('vary'), 'Origin');
  });

  it('errors carry the origin, so the page can read why', async () => {
    const res = await call(base, 'GET', '/v1.0/me/photo', { origin: PAGE });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('access-control-allow-origin'), PAGE);
  });

  it('never echoes "null", an origin that is not one, or an overlong one', async () => {
    for (const origin of ['null', 'file://', 'javascript:alert(1)', `https://${'a'.repeat(600)}.com`, 'https://app.contoso.com/path']) {
      const res = await preflight(base, '/v1.0/me/photo', origin);
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin.slice(0, 40));
      const actual = await call(base, 'GET', '/v1.0/me/photo', { ...auth, origin });
      assert.equal(actual.headers.get('access-control-allow-origin'), null, origin.slice(0, 40));
    }
  });
});

describe('CORS: --cors-origin allows only the origins named', () => {
  let h: Harness;
  let base: string;
  let auth: Record<string, string>;

  before(async () => {
    const config = loadServeConfig(['--cors-origin', 'https://App.Contoso.com', '--cors-origin', 'http://localhost:3000/']);
    assert.deepEqual(config.corsOrigins, ['https://app.contoso.com', 'http://localhost:3000']);
    h = await createHarness({ database: 'sqlite', cors: new CorsPolicy(config.corsOrigins) });
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const bob = await h.user('bob@contoso.com');
    auth = { authorization: `Bearer ${await h.userToken(bob, ['User.ReadWrite'])}` };
  });
  after(() => h.close());

  it('answers the origins named, in any case, and no other', async () => {
    for (const origin of [PAGE, 'https://APP.contoso.com', 'http://localhost:3000']) {
      const res = await preflight(base, '/v1.0/me/photo/$value', origin);
      assert.equal(res.headers.get('access-control-allow-origin'), origin);
    }
    for (const origin of ['https://evil.example', 'http://localhost:3001', 'https://app.contoso.com.evil.example']) {
      const res = await preflight(base, '/v1.0/me/photo/$value', origin);
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
      const actual = await call(base, 'GET', '/v1.0/me/photo', { ...auth, origin });
      assert.equal(actual.headers.get('access-control-allow-origin'), null, origin);
    }
  });

  it('refuses a flag value that is not an origin, naming it', () => {
    for (const value of ['app.contoso.com', 'https://app.contoso.com/spa', 'https://app.contoso.com:443', 'null', 'ftp:']) {
      assert.throws(() => loadServeConfig(['--cors-origin', value]), (error: unknown) => error instanceof UsageError && error.message.includes(`'${value}'`), value);
    }
    assert.equal(loadServeConfig(['--cors-origin', '*']).corsOrigins, 'any');
    assert.equal(loadServeConfig([]).corsOrigins, 'any');
  });
});
