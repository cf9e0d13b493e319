// Signing people in at the built-in issuer (OAuth 2.0 authorization code with PKCE, OpenID
// Connect), as a browser app's OIDC client does it over HTTP: the page, the choice, the code
// at the registered redirect URI, the token exchange, refresh; and what a hostile client or
// page tries: other redirect URIs, codes twice, without or with a wrong verifier, for
// another client, scopes beyond what was granted, a sign-in through a proxy.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Applications } from '../src/auth/applications.js';
import { createHarness, type Harness } from './helpers/harness.js';

const SPA = 'http://localhost:3000/auth';

interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The hidden fields of the page's form, as a browser would post them. */
function hiddenFields(html: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields.set(unescape(match[1] as string), unescape(match[2] as string));
  }
  return fields;
}

function unescape(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

describe('signing people in at the built-in issuer', () => {
  let h: Harness;
  let base: string;
  let clientId: string;
  let otherClientId: string;

  before(async () => {
    h = await createHarness({ database: 'sqlite', signIn: 'loopback' });
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const applications = new Applications(h.store);
    clientId = (await applications.register(h.tenantId, 'Photo <Web>', [], [SPA, 'https://app.contoso.com/'])).application.clientId;
    otherClientId = (await applications.register(h.tenantId, 'Other', [], [SPA])).application.clientId;
    await h.user('alice@contoso.com');
  });
  after(() => h.close());

  const authorizeUrl = (params: Record<string, string>) =>
    `${base}/${h.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams(params).toString()}`;

  function request(p: Pkce, extra: Record<string, string> = {}): Record<string, string> {
    return {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: SPA,
      scope: 'openid profile offline_access User.ReadWrite',
      state: 'st-8f2',
      nonce: 'n-8f2',
      code_challenge: p.challenge,
      code_challenge_method: 'S256',
      ...extra,
    };
  }

  /** The page, then the person's choice posted back: the answer's Location. */
  async function choose(params: Record<string, string>, who: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const page = await fetch(authorizeUrl(params), { headers });
    assert.equal(page.status, 200, await page.clone().text());
    const form = hiddenFields(await page.text());
    return fetch(authorizeUrl({}).split('?')[0] as string, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams([...form, ...Object.entries(who)]).toString(),
    });
  }

  async function codeFor(p: Pkce, who = 'alice@contoso.com', extra: Record<string, string> = {}): Promise<string> {
    const answer = await choose(request(p, extra), { username: who });
    assert.equal(answer.status, 303);
    const location = new URL(answer.headers.get('location') as string);
    assert.equal(`${location.origin}${location.pathname}`, SPA);
    assert.equal(location.searchParams.get('state'), 'st-8f2');
    return location.searchParams.get('code') as string;
  }

  async function token(form: Record<string, string>): Promise<{ status: number; body: Record<string, any> }> {
    const res = await fetch(`${base}/${h.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3000' },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  const redeem = (code: string, p: Pkce, extra: Record<string, string> = {}) =>
    token({ grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: SPA, code_verifier: p.verifier, ...extra });

  it('publishes the interactive flow in its discovery document', async () => {
    const doc = (await (await fetch(`${base}/${h.tenantId}/v2.0/.well-known/openid-configuration`)).json()) as Record<string, any>;
    assert.deepEqual(doc.response_types_supported, ['code']);
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    assert.ok(doc.grant_types_supported.includes('authorization_code') && doc.grant_types_supported.includes('refresh_token'));
    assert.equal(doc.end_session_endpoint, `${base}/${h.tenantId}/oauth2/v2.0/logout`);
    assert.ok(doc.scopes_supported.includes('openid'));
  });

  it('shows a page that says why no password is asked, with the app, the permissions and who to pick', async () => {
    const res = await fetch(authorizeUrl(request(pkce())));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /style-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /script-src|unsafe-inline/);
    assert.match(csp, /form-action 'self' http:\/\/localhost:3000/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const html = await res.text();
    assert.match(html, /<html lang="en">/);
    assert.match(html, /Sign in to Photo &#60;Web&#62;/, 'the app name, escaped');
    assert.match(html, /listens on this computer only/);
    assert.match(html, /User\.ReadWrite/);
    assert.match(html, /<label for="username">/);
    assert.match(html, /value="alice@contoso.com"/, 'Alice can be picked');
    assert.doesNotMatch(html, /<script/);
  });

  it('speaks German when the browser or ui_locales asks for it, with a link to switch', async () => {
    const german = await (await fetch(authorizeUrl(request(pkce())), { headers: { 'accept-language': 'fr;q=0.9, de-DE;q=0.8, en;q=0.1' } })).text();
    assert.match(german, /<html lang="de">/);
    assert.match(german, /Bei Photo &#60;Web&#62; anmelden/);
    assert.match(german, /<button type="submit">Anmelden<\/button>/);
    assert.match(german, /lang="en">English<\/a>/);
    const asked = await (await fetch(authorizeUrl(request(pkce(), { ui_locales: 'de' })))).text();
    assert.match(asked, /<html lang="de">/);
    const switched = /<a href="([^"]+)" lang="en">English<\/a>/.exec(asked)?.[1];
    assert.ok(switched);
    const back = await (await fetch(`${base}${unescape(switched)}`)).text();
    assert.match(back, /<html lang="en">/);
  });

  it('signs Alice in: a code at the redirect URI, then tokens that work on the Graph API', async () => {
    const p = pkce();
    const code = await codeFor(p);
    const { status, body } = await redeem(code, p);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope.split(' ').sort().join(' '), 'User.ReadWrite offline_access openid profile');
    assert.ok(body.refresh_token);

    const keys = createLocalJWKSet((await (await fetch(`${base}/${h.tenantId}/discovery/v2.0/keys`)).json()) as any);
    const id = await jwtVerify(body.id_token, keys, { issuer: `${base}/${h.tenantId}/v2.0`, audience: clientId });
    assert.equal(id.payload.nonce, 'n-8f2');
    assert.equal(id.payload.preferred_username, 'alice@contoso.com');
    assert.equal(id.payload.tid, h.tenantId);
    const alice = await h.store.getUserByUpn(h.tenantId, 'alice@contoso.com');
    assert.equal(id.payload.oid, alice?.id);

    const me = await fetch(`${base}/v1.0/me`, { headers: { authorization: `Bearer ${body.access_token}` } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as any).userPrincipalName, 'alice@contoso.com');
    const put = await fetch(`${base}/v1.0/me/photo/$value`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${body.access_token}` },
      body: (await import('./helpers/images.js')).photo('exif-org-canon-ixus.jpg'),
    });
    assert.equal(put.status, 200, await put.text());
  });

  it('a name nobody has yet makes that user; a name that is no UPN is refused on the page', async () => {
    const p = pkce();
    const code = await codeFor(p, 'bob@contoso.com');
    assert.equal((await redeem(code, p)).status, 200);
    assert.ok(await h.store.getUserByUpn(h.tenantId, 'bob@contoso.com'));
    const bad = await choose(request(pkce()), { username: 'not a name<script>' });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('location'), null, 'no code');
    const html = await bad.text();
    assert.match(html, /role="alert"/);
    assert.match(html, /userPrincipalName/);
    assert.doesNotMatch(html, /<script>/, 'what was typed comes back escaped');
  });

  it('answers in the fragment when asked (response_mode=fragment)', async () => {
    const answer = await choose(request(pkce(), { response_mode: 'fragment' }), { login: 'alice@contoso.com' });
    const location = new URL(answer.headers.get('location') as string);
    assert.equal(location.search, '');
    const fragment = new URLSearchParams(location.hash.slice(1));
    assert.ok(fragment.get('code'));
    assert.equal(fragment.get('state'), 'st-8f2');
  });

  it('a code is used once, by its client, with its redirect URI and verifier', async () => {
    const p = pkce();
    const code = await codeFor(p);
    assert.equal((await redeem(code, p)).status, 200);
    const again = await redeem(code, p);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.deepEqual(again.body.error_codes, [70008]);

    const wrong = pkce();
    const stolen = await codeFor(p);
    const guessed = await redeem(stolen, wrong);
    assert.equal(guessed.body.error, 'invalid_grant');
    assert.deepEqual(guessed.body.error_codes, [501481]);
    assert.equal((await redeem(stolen, p)).status, 400, 'a wrong verifier spends the code: no second guess');

    const noVerifier = await codeFor(p);
    assert.equal((await token({ grant_type: 'authorization_code', client_id: clientId, code: noVerifier, redirect_uri: SPA })).body.error, 'invalid_grant');

    const otherUri = await codeFor(p);
    assert.equal((await redeem(otherUri, p, { redirect_uri: 'https://app.contoso.com/' })).body.error, 'invalid_grant');

    const otherClient = await codeFor(p);
    assert.equal((await redeem(otherClient, p, { client_id: otherClientId })).body.error, 'invalid_grant');

    for (const junk of ['', 'x', 'a'.repeat(43), 'a'.repeat(5000)]) {
      assert.equal((await redeem(junk, p)).body.error, 'invalid_grant', `a code never issued: '${junk.slice(0, 10)}'`);
    }
  });

  it('refresh tokens: new tokens and a new refresh token each time, the old one spent; never more scope', async () => {
    const p = pkce();
    const first = (await redeem(await codeFor(p), p)).body;
    const refresh = { grant_type: 'refresh_token', client_id: clientId, refresh_token: first.refresh_token };
    const second = await token(refresh);
    assert.equal(second.status, 200);
    assert.notEqual(second.body.refresh_token, first.refresh_token);
    assert.equal((await token(refresh)).body.error, 'invalid_grant', 'a refresh token is used once');
    assert.equal((await token({ ...refresh, refresh_token: second.body.refresh_token, client_id: otherClientId })).body.error, 'invalid_grant');

    const p2 = pkce();
    const third = (await redeem(await codeFor(p2), p2)).body;
    const wider = await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: third.refresh_token, scope: 'User.ReadWrite.All' });
    assert.equal(wider.body.error, 'invalid_scope');
    const p3 = pkce();
    const fourth = (await redeem(await codeFor(p3), p3)).body;
    const narrower = await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: fourth.refresh_token, scope: 'User.Read' });
    assert.equal(narrower.body.error, 'invalid_scope', 'User.Read was not granted');
    const p4 = pkce();
    const fifth = (await redeem(await codeFor(p4, 'alice@contoso.com', { scope: 'openid offline_access User.ReadWrite User.ReadBasic.All' }), p4)).body;
    const less = await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: fifth.refresh_token, scope: 'User.ReadBasic.All' });
    assert.equal(less.status, 200);
    assert.equal(less.body.scope, 'User.ReadBasic.All openid offline_access');
  });

  it('a deleted person is signed out: their refresh token gives nothing', async () => {
    const p = pkce();
    const carol = (await redeem(await codeFor(p, 'carol@contoso.com'), p)).body;
    const user = await h.store.getUserByUpn(h.tenantId, 'carol@contoso.com');
    await h.directory.deleteUser(h.tenantId, user!.id);
    assert.equal((await token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: carol.refresh_token })).body.error, 'invalid_grant');
  });

  it('never sends anything to a redirect URI that is not registered exactly: a page says why', async () => {
    for (const uri of ['https://evil.example/', 'http://localhost:3000/auth/', 'http://localhost:3000/auth?x=1', 'http://localhost:3000/Auth', 'http://localhost:3000/auth/../evil']) {
      const res = await fetch(authorizeUrl(request(pkce(), { redirect_uri: uri })), { redirect: 'manual' });
      assert.equal(res.status, 400, uri);
      assert.equal(res.headers.get('location'), null, uri);
      assert.match(await res.text(), /is not registered for Photo/, uri);
    }
    const unknownClient = await fetch(authorizeUrl(request(pkce(), { client_id: '00000000-0000-0000-0000-000000000000' })), { redirect: 'manual' });
    assert.equal(unknownClient.status, 400);
    assert.match(await unknownClient.text(), /No application with client id/);
    // A POST with a redirect URI changed from the page's is checked again.
    const page = hiddenFields(await (await fetch(authorizeUrl(request(pkce())))).text());
    page.set('redirect_uri', 'https://evil.example/');
    const posted = await fetch(authorizeUrl({}).split('?')[0] as string, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([...page, ['username', 'alice@contoso.com']]).toString(),
    });
    assert.equal(posted.status, 400);
    assert.equal(posted.headers.get('location'), null);
  });

  it('what the client asks wrongly goes back to it as OAuth errors, with its state', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge: 'short' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ scope: 'openid Mail.Read' }, 'invalid_scope'],
      [{ scope: 'https://evil.example/Files.Read' }, 'invalid_scope'],
      [{ prompt: 'none' }, 'login_required'],
    ];
    for (const [extra, error] of cases) {
      const res = await fetch(authorizeUrl(request(pkce(), extra)), { redirect: 'manual' });
      assert.equal(res.status, 303, JSON.stringify(extra));
      const location = new URL(res.headers.get('location') as string);
      assert.equal(location.searchParams.get('error'), error, JSON.stringify(extra));
      assert.equal(location.searchParams.get('state'), 'st-8f2');
      assert.equal(location.searchParams.get('code'), null);
    }
    const { challenge } = pkce();
    const missing = await fetch(authorizeUrl({ ...request(pkce()), code_challenge: challenge, code_challenge_method: '' }), { redirect: 'manual' });
    assert.equal(new URL(missing.headers.get('location') as string).searchParams.get('error'), 'invalid_request');
  });

  it('refuses a parameter given twice or overlong, and a sign-in through a proxy, with a page', async () => {
    const twice = await fetch(`${authorizeUrl(request(pkce()))}&state=again`, { redirect: 'manual' });
    assert.equal(twice.status, 400);
    assert.match(await twice.text(), /given more than once/);
    const long = await fetch(authorizeUrl(request(pkce(), { state: 'x'.repeat(3000) })), { redirect: 'manual' });
    assert.equal(long.status, 400);
    // The POST the page makes is checked alike: a hand-made one cannot carry a long state back in a Location.
    const page = hiddenFields(await (await fetch(authorizeUrl(request(pkce())))).text());
    page.set('state', 's'.repeat(3000));
    const posted = await fetch(authorizeUrl({}).split('?')[0] as string, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([...page, ['username', 'alice@contoso.com']]).toString(),
    });
    assert.equal(posted.status, 400);
    assert.equal(posted.headers.get('location'), null);
    assert.match(await posted.text(), /longer than 2048 characters/);
    const proxied = await fetch(authorizeUrl(request(pkce())), { headers: { 'x-forwarded-for': '203.0.113.9' }, redirect: 'manual' });
    assert.equal(proxied.status, 403);
    assert.match(await proxied.text(), /built-in sign-in is off/);
  });

  it('the cancel link and sign-out go back only to a registered redirect URI', async () => {
    const html = await (await fetch(authorizeUrl(request(pkce())))).text();
    const cancel = new URL(unescape(/<a class="button" href="([^"]+)">Cancel<\/a>/.exec(html)?.[1] ?? ''));
    assert.equal(`${cancel.origin}${cancel.pathname}`, SPA);
    assert.equal(cancel.searchParams.get('error'), 'access_denied');
    assert.equal(cancel.searchParams.get('state'), 'st-8f2');

    const logout = (params: Record<string, string>) =>
      fetch(`${base}/${h.tenantId}/oauth2/v2.0/logout?${new URLSearchParams(params).toString()}`, { redirect: 'manual' });
    const back = await logout({ client_id: clientId, post_logout_redirect_uri: SPA });
    assert.equal(back.status, 303);
    assert.equal(back.headers.get('location'), SPA);
    const elsewhere = await logout({ client_id: clientId, post_logout_redirect_uri: 'https://evil.example/' });
    assert.equal(elsewhere.status, 200);
    assert.equal(elsewhere.headers.get('location'), null);
    assert.match(await elsewhere.text(), /You are signed out/);
  });
});

describe('signing in where others can reach Portrait', () => {
  let h: Harness;
  let base: string;
  let clientId: string;

  before(async () => {
    h = await createHarness({ database: 'sqlite', signIn: 'off' });
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    clientId = (await new Applications(h.store).register(h.tenantId, 'Web', [], [SPA])).application.clientId;
  });
  after(() => h.close());

  it('shows no sign-in form and sends no code: people sign in at the organisation’s provider', async () => {
    const params = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: SPA,
      scope: 'openid User.Read',
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    });
    const res = await fetch(`${base}/${h.tenantId}/oauth2/v2.0/authorize?${params.toString()}`, { redirect: 'manual' });
    assert.equal(res.status, 403);
    const html = await res.text();
    assert.match(html, /--dev-sign-in/);
    assert.doesNotMatch(html, /<form/);
    const posted = await fetch(`${base}/${h.tenantId}/oauth2/v2.0/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${params.toString()}&username=alice%40contoso.com`,
    });
    assert.equal(posted.status, 403);
    assert.equal(posted.headers.get('location'), null);
  });
});
