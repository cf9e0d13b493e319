// A person signs in to a browser app with @azure/msal-browser against a real `portrait
// serve`, in a real Chromium: the README's snippet is the app, served from another origin
// (http://localhost:PORT), so that discovery, the sign-in page, the code at the redirect URI,
// the token exchange (a CORS POST) and the Graph call (a CORS preflight) all happen as they
// would for a real app. Debian's chromium, driven by playwright-core: no browser is
// downloaded. Skipped, saying why, on a machine without one (.ci/run installs it).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { readmeSnippet, startHttpsServer, type HttpsServer } from './helpers/graph-clients.js';
import { runCli } from './helpers/server-process.js';

/** Debian's chromium, or the one PORTRAIT_CHROMIUM names. */
const CHROMIUM = [process.env.PORTRAIT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (path): path is string => path !== undefined && path !== '' && existsSync(path),
);
const SPA_DIR = fileURLToPath(new URL('../../test/fixtures/spa/', import.meta.url));
const MSAL_BUNDLE = fileURLToPath(new URL('../../node_modules/@azure/msal-browser/lib/msal-browser.min.js', import.meta.url));

describe('a browser app signs a person in with MSAL.js (Chromium)', { skip: CHROMIUM ? false : 'no Chromium here (apt-get install chromium, or PORTRAIT_CHROMIUM)', timeout: 120_000 }, () => {
  let dataDir: string;
  let portrait: HttpsServer;
  let spa: Server;
  let spaOrigin: string;
  let browser: Browser;
  let app = '';

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portrait-browser-'));
    portrait = await startHttpsServer(dataDir);
    assert.match(portrait.output(), /sign-in: +https:\/\/localhost:\d+\/[0-9a-f-]{36}\/oauth2\/v2\.0\/authorize, no password \(this machine only\)/);
    // The app's own origin, as a developer's dev server would be.
    spa = createServer((request, response) => {
      const path = (request.url ?? '/').split('?', 1)[0];
      const [type, body] =
        path === '/' ? ['text/html', readFileSync(join(SPA_DIR, 'index.html'))]
        : path === '/msal-browser.min.js' ? ['text/javascript', readFileSync(MSAL_BUNDLE)]
        : path === '/app.js' ? ['text/javascript', app]
        : ['text/plain', 'not found'];
      response.writeHead(type === 'text/plain' ? 404 : 200, { 'content-type': `${type}; charset=utf-8` }).end(body);
    });
    await new Promise<void>((resolve) => spa.listen(0, '127.0.0.1', resolve));
    spaOrigin = `http://localhost:${(spa.address() as AddressInfo).port}`;

    const added = await runCli(['app', 'add', 'Photo web', '--redirect-uri', `${spaOrigin}/`, '--data', dataDir]);
    assert.equal(added.code, 0, added.stderr);
    const tenantId = /AZURE_TENANT_ID=(\S+)/.exec(added.stdout)?.[1];
    const clientId = /AZURE_CLIENT_ID=(\S+)/.exec(added.stdout)?.[1];
    assert.ok(tenantId && clientId, added.stdout);
    // The README's snippet as written, but for this server, tenant and application.
    const snippet = await readmeSnippet('<!-- snippet: msal-browser ');
    assert.match(snippet, /'https:\/\/localhost:8443'/);
    app = snippet.replace("'https://localhost:8443'", `'${portrait.origin}'`).replace('TENANT_ID', tenantId).replace('CLIENT_ID', clientId);

    // As root (CI, containers) Chromium's sandbox cannot start.
    browser = await chromium.launch({ executablePath: CHROMIUM as string, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => spa?.close(resolve));
    await portrait?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs in on the Portrait page, comes back with a code, and calls /me with the token', async () => {
    // The self-signed certificate is trusted as a developer's browser would be told to.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    await page.goto(`${spaOrigin}/`);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.waitForURL(`${portrait.origin}/**/oauth2/v2.0/authorize?**`);
    await page.getByRole('heading', { name: 'Sign in to Photo web' }).waitFor();
    assert.match(await page.textContent('body') ?? '', /listens on this computer only/);
    await page.getByLabel('User principal name').fill('alice@contoso.com');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    await page.waitForURL(`${spaOrigin}/**`);
    await page.getByText('Signed in as alice@contoso.com').waitFor({ timeout: 20_000 });
    assert.deepEqual(failures, []);
    await context.close();
  });

  it('the page is German for a German browser', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'de-DE' });
    const page = await context.newPage();
    await page.goto(`${spaOrigin}/`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Bei Photo web anmelden' }).waitFor();
    await page.getByLabel('Benutzerprinzipalname').fill('bob@contoso.com');
    await page.getByRole('button', { name: 'Anmelden', exact: true }).click();
    await page.getByText('Signed in as bob@contoso.com').waitFor({ timeout: 20_000 });
    await context.close();
  });
});
