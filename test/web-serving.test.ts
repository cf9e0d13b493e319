// The web app's files as a client sees them from a real `portrait serve`: the page with a
// Content-Security-Policy and no inline script, its assets under one content hash with a
// year of immutable caching, the sign-in configuration, and the hostile side: unknown and
// old hashes, unknown names, path traversal (plain, encoded, doubly encoded, backslashes).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpsServer, type HttpsServer } from './helpers/graph-clients.js';
import { WEB_APP_CLIENT_ID } from '../src/auth/web-app-client.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One request with the path sent exactly as written (no normalising of '..'). */
function get(server: HttpsServer, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(server.origin), { path, method, headers, ca: server.ca, servername: 'localhost', agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('the web app is served with long caching, a strict CSP and nothing outside its files', () => {
  let dataDir: string;
  let server: HttpsServer;
  let page: string;
  let assets: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portrait-web-'));
    server = await startHttpsServer(dataDir);
    const answer = await get(server, '/');
    page = answer.body.toString('utf8');
    assets = /src="(\/assets\/[0-9a-f]{12})\/app\.js"/.exec(page)?.[1] ?? '';
    assert.ok(assets, page);
  });

  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('/ is the page: HTML, no-cache, a CSP without inline script, framing refused', async () => {
    const answer = await get(server, '/');
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^text\/html; charset=utf-8/);
    assert.equal(answer.headers['cache-control'], 'no-cache');
    const csp = String(answer.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /base-uri 'none'/);
    assert.equal(answer.headers['x-frame-options'], 'DENY');
    assert.equal(answer.headers['referrer-policy'], 'no-referrer');
    // No inline script or style, and nothing from another host.
    assert.doesNotMatch(page, /<script(?![^>]*\bsrc=)[^>]*>/);
    assert.doesNotMatch(page, /<style|\sstyle=/);
    assert.doesNotMatch(page, /(src|href)="(https?:)?\/\//);
    assert.match(page, /<html lang="en">/);
  });

  it('assets are under the hash of their bytes, immutable for a year, with an ETag and 304', async () => {
    for (const name of ['app.js', 'auth.js', 'crop.js', 'graph.js', 'i18n.js', 'people.js', 'strings-en.js', 'strings-de.js', 'style.css']) {
      const answer = await get(server, `${assets}/${name}`);
      assert.equal(answer.status, 200, name);
      assert.equal(answer.headers['cache-control'], 'public, max-age=31536000, immutable', name);
      assert.match(String(answer.headers['content-type']), name.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
      const again = await get(server, `${assets}/${name}`, { 'if-none-match': String(answer.headers.etag) });
      assert.equal(again.status, 304, name);
      // As a proxy or another cache may ask: a weak tag, or one of several.
      for (const tags of [`W/${String(answer.headers.etag)}`, `"other", ${String(answer.headers.etag)}`]) {
        assert.equal((await get(server, `${assets}/${name}`, { 'if-none-match': tags })).status, 304, `${name}: ${tags}`);
      }
      assert.equal((await get(server, `${assets}/${name}`, { 'if-none-match': '"other"' })).status, 200, name);
      // Nothing the page runs is fetched from another host.
      assert.doesNotMatch(answer.body.toString('utf8'), /(import|from)\s*\(?\s*['"]https?:/, name);
    }
  });

  it('the configuration names this server’s built-in issuer and the web app’s own client id', async () => {
    const answer = await get(server, '/web/config.json');
    assert.equal(answer.status, 200);
    const config = JSON.parse(answer.body.toString('utf8'));
    assert.equal(config.clientId, WEB_APP_CLIENT_ID);
    assert.match(config.authority, new RegExp(`^${server.origin}/[0-9a-f-]{36}/v2\\.0$`));
    assert.equal(config.builtIn, true);
    assert.ok(config.scopes.includes('openid'));
    const discovery = await get(server, `${new URL(config.authority).pathname}/.well-known/openid-configuration`);
    assert.equal(discovery.status, 200);
  });

  it('unknown names, other hashes and traversal are 404 in Graph’s envelope, never a file', async () => {
    const hash = assets.split('/')[2] as string;
    const attempts = [
      `${assets}/nope.js`,
      `${assets}/index.html`,
      `${assets}/../../package.json`,
      `/assets/../package.json`,
      `/assets/${hash}/..%2f..%2fpackage.json`,
      `/assets/${hash}/%2e%2e%2f%2e%2e%2fpackage.json`,
      `/assets/${hash}/%252e%252e%252fpackage.json`,
      `/assets/${hash}/..\\..\\package.json`,
      `/assets/${hash}/%2e%2e/%2e%2e/%2e%2e/package.json`,
      `/assets/000000000000/app.js`,
      `/assets/${hash}/app.js%00.css`,
      `/assets/${hash}/strings-en.js/`,
      `/assets/${hash}`,
      `/src/web/app.js`,
      `/web/../package.json`,
    ];
    for (const path of attempts) {
      const answer = await get(server, path);
      assert.ok(answer.status === 404 || answer.status === 400, `${path}: ${answer.status}`);
      assert.match(String(answer.headers['content-type']), /^application\/json/, path);
      const body = answer.body.toString('utf8');
      assert.equal(typeof JSON.parse(body).error.code, 'string', path);
      assert.doesNotMatch(body, /"name": ?"portrait"|devDependencies/, path);
    }
  });

  it('only GET and HEAD: other methods at / are Graph’s 404', async () => {
    const head = await get(server, '/', {}, 'HEAD');
    assert.equal(head.status, 200);
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const answer = await get(server, '/', {}, method);
      assert.equal(answer.status, 404, method);
      assert.match(String(answer.headers['content-type']), /^application\/json/);
    }
  });

  it('the Graph API is unchanged beside it', async () => {
    const answer = await get(server, '/v1.0/me/photo');
    assert.equal(answer.status, 401);
    assert.equal(JSON.parse(answer.body.toString('utf8')).error.code, 'InvalidAuthenticationToken');
  });

  it('the web app’s client sends codes to this server’s own page only: any other redirect URI is refused as a page', async () => {
    const config = JSON.parse((await get(server, '/web/config.json')).body.toString('utf8'));
    const tenant = new URL(config.authority).pathname.split('/')[1] as string;
    const authorize = (redirectUri: string, headers: Record<string, string> = {}) => {
      const query = new URLSearchParams({
        client_id: WEB_APP_CLIENT_ID,
        response_type: 'code',
        redirect_uri: redirectUri,
        scope: 'openid User.ReadWrite',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        state: 's',
      });
      return get(server, `/${tenant}/oauth2/v2.0/authorize?${query}`, headers);
    };
    const own = await authorize(`${server.origin}/`);
    assert.equal(own.status, 200, own.body.toString('utf8'));
    const port = new URL(server.origin).port;
    for (const uri of [
      'https://evil.example/',
      `${server.origin}`,
      `${server.origin}/evil`,
      `${server.origin}/?x=1`,
      `${server.origin}//evil.example/`,
      `https://localhost:${port}@evil.example/`,
      `http://localhost:${port}/`,
    ]) {
      const answer = await authorize(uri);
      assert.equal(answer.status, 400, uri);
      assert.equal(answer.headers.location, undefined, uri);
      assert.match(answer.body.toString('utf8'), /is not registered for Portrait/, uri);
    }
    // A foreign name pointed at this server (DNS rebinding) is not this server's own origin.
    for (const host of [`evil.example:${port}`, 'evil.example']) {
      const forged = await authorize(`https://${host}/`, { host });
      assert.equal(forged.status, 400, host);
      assert.equal(forged.headers.location, undefined);
    }
    // 127.0.0.1 is one of this server's names: its own page there is accepted.
    const loopback = await authorize(`https://127.0.0.1:${port}/`, { host: `127.0.0.1:${port}` });
    assert.equal(loopback.status, 200);
  });

  it('the web app’s client has no secret: a token request with one is refused', async () => {
    const config = JSON.parse((await get(server, '/web/config.json')).body.toString('utf8'));
    const tenant = new URL(config.authority).pathname.split('/')[1] as string;
    const body = new URLSearchParams({ grant_type: 'authorization_code', client_id: WEB_APP_CLIENT_ID, client_secret: 'guess', code: 'x', redirect_uri: `${server.origin}/`, code_verifier: 'v'.repeat(43) }).toString();
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = httpsRequest(new URL(`${server.origin}/${tenant}/oauth2/v2.0/token`), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, ca: server.ca, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.once('error', reject);
      req.end(body);
    });
    assert.equal(answer.status, 401, answer.body.toString('utf8'));
    assert.equal(JSON.parse(answer.body.toString('utf8')).error, 'invalid_client');
  });
});

describe('serve’s web app flags', () => {
  it('--web-client-id and --web-authority come together, the authority an http(s) URL', async () => {
    const { loadServeConfig, UsageError } = await import('../src/config.js');
    const config = loadServeConfig(['--web-client-id', 'abc', '--web-authority', 'https://login.example.com/t/v2.0/']);
    assert.deepEqual(config.webSignIn, { clientId: 'abc', authority: 'https://login.example.com/t/v2.0' });
    assert.equal(loadServeConfig([]).webSignIn, undefined);
    for (const [argv, message] of [
      [['--web-client-id', 'abc'], /--web-client-id needs --web-authority/],
      [['--web-authority', 'https://login.example.com/'], /--web-authority needs --web-client-id/],
      [['--web-client-id', 'abc', '--web-authority', 'javascript:alert(1)'], /--web-authority must be an http\(s\) URL/],
      [['--web-client-id', 'a b', '--web-authority', 'https://login.example.com/'], /--web-client-id must be 1 to 256 visible characters/],
    ] as const) {
      assert.throws(() => loadServeConfig([...argv]), (error: unknown) => error instanceof UsageError && message.test(error.message));
    }
    assert.deepEqual(loadServeConfig(['--web-scope', 'openid api://portrait/.default']).webScopes, ['openid', 'api://portrait/.default']);
  });
});
