// The web app in a real Chromium (Debian's, driven by playwright-core: no browser is
// downloaded) against a real `portrait serve`: a person signs in at the built-in issuer,
// uploads a real photo through the file input, crops it with the keyboard (turn, zoom,
// move), saves, and the photo the API then serves is that square; the page in German has
// no English left; deleting asks first; a bad file is a sentence, not JSON; an
// administrator sets and removes someone else's photo. axe-core runs on every state and
// finds nothing serious or critical. Skipped, saying why, without Chromium (.ci/run installs it).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { WEB_DIR } from '../src/http/web-assets.js';
import { call, startHttpsServer, type HttpsServer } from './helpers/graph-clients.js';
import { meanAbsoluteDifference, PHOTOS_DIR } from './helpers/images.js';
import { runCli } from './helpers/server-process.js';

const CHROMIUM = [process.env.PORTRAIT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (path): path is string => path !== undefined && path !== '' && existsSync(path),
);
const AXE_SOURCE = readFileSync(fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url)), 'utf8');
/** Landscape and asymmetric (600×450): a turn shows in the pixels. */
const PHOTO = join(PHOTOS_DIR, 'orientation-landscape_1.jpg');

// eslint-style any: the tables are plain modules of the page, read as they are.
type Strings = Record<string, any>;
const load = async (name: string): Promise<Strings> => ((await import(pathToFileURL(join(WEB_DIR, name)).href)) as { default: Strings }).default;

/** axe-core in the page: the serious and critical violations, as "rule: target" lines. */
async function axe(page: Page, state: string): Promise<void> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (an
  // injected <script> would be refused, rightly): the CSP stays on for everything else.
  if (!(await page.evaluate<boolean>("'axe' in window"))) await page.evaluate(AXE_SOURCE);
  const results = (await page.evaluate('axe.run(document)')) as { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] };
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(bad, [], `axe on ${state}`);
}

async function signIn(page: Page, server: HttpsServer, upn: string): Promise<void> {
  await page.goto(`${server.origin}/`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.origin}/**/oauth2/v2.0/authorize?**`);
  await page.getByLabel('User principal name').fill(upn);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${server.origin}/`);
}

function tokenOf(page: Page): Promise<string> {
  return page.evaluate<string>("JSON.parse(sessionStorage.getItem('portrait.tokens') ?? '{}').access");
}

describe('the web app in Chromium', { skip: CHROMIUM ? false : 'no Chromium here (apt-get install chromium, or PORTRAIT_CHROMIUM)', timeout: 120_000 }, () => {
  let dataDir: string;
  let server: HttpsServer;
  let browser: Browser;
  let en: Strings;
  let de: Strings;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portrait-web-app-'));
    const document = join(dataDir, 'people.json');
    writeFileSync(
      document,
      JSON.stringify({
        users: [
          { userPrincipalName: 'ada@contoso.com', displayName: 'Ada Admin', admin: true },
          { userPrincipalName: 'alice@contoso.com', displayName: 'Alice Adams' },
          { userPrincipalName: 'bob@contoso.com', displayName: 'Bob Brown' },
          // Enough for a second page of ten.
          ...Array.from({ length: 10 }, (_, i) => ({ userPrincipalName: `zed${i}@contoso.com`, displayName: `Zed ${String(i).padStart(2, '0')}` })),
        ],
        groups: [{ displayName: 'Photo Club', mailNickname: 'photoclub' }],
      }),
    );
    const imported = await runCli(['import', document, '--data', dataDir]);
    assert.equal(imported.code, 0, imported.stderr);
    server = await startHttpsServer(dataDir);
    browser = await chromium.launch({ executablePath: CHROMIUM as string, args: ['--no-sandbox'] });
    [en, de] = await Promise.all([load('strings-en.js'), load('strings-de.js')]);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let context: BrowserContext;
  after(async () => context?.close());

  it('both languages have every string, and German uses Microsoft 365’s words', () => {
    assert.deepEqual(Object.keys(de).sort(), Object.keys(en).sort());
    assert.equal(de.save, 'Speichern');
    assert.equal(de.cancel, 'Abbrechen');
    assert.equal(de.delete, 'Löschen');
    assert.equal(de.changeHeading, 'Foto ändern');
    assert.equal(de.navPeople, 'Personen und Gruppen');
    assert.equal(de.signIn, 'Anmelden');
    assert.equal(de.signOut, 'Abmelden');
    assert.match(de.myPhotoHeading, /Profilfoto/);
  });

  it('a person signs in, crops a photo with the keyboard, saves it, sees it in German, and deletes it', async () => {
    context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    page.on('console', (message) => message.type() === 'error' && failures.push(message.text()));

    await page.goto(`${server.origin}/`);
    await page.getByRole('heading', { name: en.welcomeHeading }).waitFor();
    await page.getByText(en.devNote).waitFor();
    await axe(page, 'signed out');

    await signIn(page, server, 'alice@contoso.com');
    await page.getByRole('heading', { name: en.myPhotoHeading, level: 1 }).waitFor();
    await page.getByText(en.noPhoto).waitFor();
    assert.equal(await page.evaluate<string>('document.activeElement?.id'), 'main', 'focus goes to the content after signing in');
    assert.equal(await page.getByRole('link', { name: en.navPeople }).count(), 0, 'no administrator: no People and groups');
    await axe(page, 'My photo, no photo');

    // Choose the file, then keyboard only: Tab to the crop, turn it, zoom twice, move right.
    await page.getByLabel(en.chooseFile).setInputFiles(PHOTO);
    await page.getByRole('heading', { name: en.editorHeading }).waitFor();
    assert.equal(await page.evaluate<string>('document.activeElement?.id'), 'editor-heading');
    await axe(page, 'crop open');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement?.id'), 'crop');
    const before = await page.getAttribute('#crop', 'data-crop');
    for (const key of ['r', '+', '+', 'ArrowDown', 'ArrowDown']) await page.keyboard.press(key);
    const crop = (await page.getAttribute('#crop', 'data-crop')) as string;
    assert.notEqual(crop, before);
    const [x, y, side, turn] = crop.split(',').map(Number) as [number, number, number, number];
    assert.equal(turn, 90);
    assert.equal(await page.inputValue('#zoom'), '1.5');
    // The previews are drawn from the crop.
    const preview = await page.evaluate<number>("document.getElementById('preview-96').toDataURL().length");
    assert.ok(preview > 1000);

    await page.getByRole('button', { name: en.save }).click();
    await page.getByRole('status').getByText(en.saved).waitFor();
    await page.getByRole('img', { name: en.photoAlt.replaceAll('{size}', '96') }).waitFor();
    await axe(page, 'My photo, with a photo');

    // The photo the API serves is the square that was cut: the turned photo's region.
    const token = await tokenOf(page);
    const served = await call(server, token, 'GET', '/me/photo/$value');
    assert.equal(served.status, 200);
    const meta = await sharp(served.body).metadata();
    assert.equal(meta.width, meta.height);
    const region = { left: Math.round(x), top: Math.round(y), width: Math.round(side), height: Math.round(side) };
    const expected = await sharp(PHOTO).rotate(90).extract(region).resize(64, 64).png().toBuffer();
    const unturned = await sharp(PHOTO).extract({ ...region, left: 75, top: 0 }).resize(64, 64).png().toBuffer();
    const got = await sharp(served.body).resize(64, 64).png().toBuffer();
    const near = await meanAbsoluteDifference(got, expected);
    const far = await meanAbsoluteDifference(got, unturned);
    assert.ok(near < 10 && far > near * 2, `difference from the crop ${near.toFixed(1)}, from the photo not turned ${far.toFixed(1)}`);

    // German: every string on the page is the German one; no English string is left.
    await page.getByRole('button', { name: 'Deutsch' }).click();
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    const shown = await page.evaluate<{ key: string; values: Record<string, unknown>; text: string }[]>(
      "[...document.querySelectorAll('[data-i18n]')].map((e) => ({ key: e.dataset.i18n, values: JSON.parse(e.dataset.i18nValues ?? '{}'), text: e.textContent }))",
    );
    for (const { key, values, text } of shown) {
      const want = (de[key] as string).replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''));
      assert.equal(text, want, key);
    }
    const body = await page.evaluate<string>('document.body.innerText');
    for (const [key, text] of Object.entries(en)) {
      if (text === de[key] || text.includes('{')) continue;
      assert.ok(!body.includes(text), `English '${text}' (${key}) on the German page`);
    }
    await axe(page, 'German');

    // Delete asks first; Escape keeps the photo; then it is deleted.
    await page.getByRole('button', { name: de.deletePhoto }).click();
    const dialog = page.getByRole('dialog', { name: de.confirmDeleteTitle });
    await dialog.waitFor();
    assert.equal(await page.evaluate<string>('document.activeElement?.id'), 'confirm-no', 'the safe answer has the focus');
    await axe(page, 'delete confirmation');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await call(server, token, 'GET', '/me/photo/$value')).status, 200);
    await page.getByRole('button', { name: de.deletePhoto }).click();
    await dialog.getByRole('button', { name: de.delete }).click();
    await page.getByRole('status').getByText(de.deleted).waitFor();
    await page.getByText(de.noPhoto).waitFor();
    const gone = await call(server, token, 'GET', '/me/photo/$value');
    assert.equal(gone.status, 404);
    assert.equal(gone.json().error.code, 'ImageNotFound');

    // A file that is no photo: the server's error as a sentence, in German, never JSON.
    await page.getByLabel(de.chooseFile).setInputFiles({ name: 'not-a-photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a JPEG at all') });
    await page.getByText(de.heicNote).waitFor();
    await page.getByRole('button', { name: de.save }).click();
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: /\S/ }).waitFor();
    const sentence = (await alert.textContent()) ?? '';
    assert.ok([de.errInvalid, de.errFormat].includes(sentence), sentence);
    assert.doesNotMatch(sentence, /[{}"]/);
    await axe(page, 'an error shown');
    // The browser's own lines for a 404 (a size of no photo yet) and the 400 are no failure of the page.
    assert.deepEqual(failures.filter((f) => !/status of (400|404)/.test(f)), []);
    await context.close();
  });

  it('an administrator finds a person without a photo, sets one, and removes it', async () => {
    context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB' });
    const page = await context.newPage();
    await signIn(page, server, 'ada@contoso.com');
    await page.getByRole('link', { name: en.navPeople }).click();
    await page.getByRole('heading', { name: en.peopleHeading, level: 1 }).waitFor();
    await page.getByRole('cell', { name: 'Bob Brown', exact: true }).waitFor();
    await axe(page, 'People and groups');

    // Thirteen people, ten a page, by name: Next and Previous follow @odata.nextLink.
    const rows = () => page.locator('#results tbody tr').count();
    assert.equal(await rows(), 10);
    assert.equal(await page.getByRole('button', { name: en.previousPage }).isDisabled(), true);
    await page.getByRole('button', { name: en.nextPage }).click();
    await page.getByText(en.pageNumber.replace('{number}', '2')).waitFor();
    assert.equal(await rows(), 3);
    assert.equal(await page.getByRole('button', { name: en.nextPage }).isDisabled(), true);
    await page.getByRole('button', { name: en.previousPage }).click();
    await page.getByText(en.pageNumber.replace('{number}', '1')).waitFor();
    assert.equal(await rows(), 10);

    // Groups are searched the same way.
    await page.getByRole('radio', { name: en.kindGroups }).check();
    await page.getByLabel(en.searchLabel).fill('photo');
    await page.getByRole('button', { name: en.search }).click();
    await page.getByRole('cell', { name: 'Photo Club', exact: true }).waitFor();
    assert.equal(await rows(), 1);
    await page.getByRole('radio', { name: en.kindUsers }).check();

    await page.getByLabel(en.searchLabel).fill('bob');
    await page.getByRole('button', { name: en.search }).click();
    await page.waitForFunction("document.querySelectorAll('#results tbody tr').length === 1");
    const row = page.getByRole('row', { name: /Bob Brown/ });
    await row.getByText(en.none).waitFor();

    await page.getByLabel(en.choosePhotoFor.replace('{name}', 'Bob Brown')).setInputFiles(PHOTO);
    await page.getByRole('heading', { name: en.editorHeadingFor.replace('{name}', 'Bob Brown') }).waitFor();
    await page.getByRole('button', { name: en.save }).click();
    await page.getByRole('status').getByText(en.saved).waitFor();
    await page.getByRole('img', { name: en.photoOf.replace('{name}', 'Bob Brown') }).waitFor();
    const token = await tokenOf(page);
    const set = await call(server, token, 'GET', '/users/bob@contoso.com/photo/$value');
    assert.equal(set.status, 200);
    assert.equal((await sharp(set.body).metadata()).width, (await sharp(set.body).metadata()).height);

    await page.getByRole('button', { name: en.removePhotoOf.replace('{name}', 'Bob Brown') }).click();
    await page.getByRole('dialog').getByRole('button', { name: en.delete }).click();
    await page.getByRole('status').getByText(en.deleted).waitFor();
    await page.getByRole('row', { name: /Bob Brown/ }).getByText(en.none).waitFor();
    assert.equal((await call(server, token, 'GET', '/users/bob@contoso.com/photo/$value')).status, 404);
    await axe(page, 'People and groups after removing');
    await context.close();
  });
});

/** A port free right now, for a server whose URL must be known before it starts. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}

// Issue 10 §2: where people sign in at the organisation's own OpenID Connect provider, the web
// app is its client (--web-client-id, --web-authority). Process A plays that provider (its
// built-in issuer, with B's page registered as a redirect URI); process B trusts A's tokens
// (--issuer ISSUER=JWKS) and serves the web app.
describe('the web app signs in at the organisation’s provider (a second Portrait)', { skip: CHROMIUM ? false : 'no Chromium here', timeout: 120_000 }, () => {
  let dirA: string;
  let dirB: string;
  let a: HttpsServer;
  let b: HttpsServer;
  let browser: Browser;

  before(async () => {
    dirA = mkdtempSync(join(tmpdir(), 'portrait-provider-'));
    dirB = mkdtempSync(join(tmpdir(), 'portrait-web-b-'));
    a = await startHttpsServer(dirA);
    const portB = await freePort();
    const added = await runCli(['app', 'add', 'Portrait B', '--redirect-uri', `https://localhost:${portB}/`, '--data', dirA]);
    assert.equal(added.code, 0, added.stderr);
    const tenantA = /AZURE_TENANT_ID=(\S+)/.exec(added.stdout)?.[1] as string;
    const clientId = /AZURE_CLIENT_ID=(\S+)/.exec(added.stdout)?.[1] as string;
    b = await startHttpsServer(
      dirB,
      [
        '--port', String(portB),
        // A's tokens name the built-in issuer's iss; B tells them from its own by A's keys.
        '--issuer', `https://portrait.localhost/{tenantid}/v2.0=${a.origin}/${tenantA}/discovery/v2.0/keys`,
        '--web-client-id', clientId,
        '--web-authority', `${a.origin}/${tenantA}/v2.0`,
      ],
      // B fetches A's keys over HTTPS: it trusts A's self-signed certificate as a user's would be trusted.
      { NODE_EXTRA_CA_CERTS: a.certPath },
    );
    assert.match(b.output(), /web app: +https:\/\/localhost:\d+\/ \(people sign in at https:\/\/localhost:\d+\/[0-9a-f-]{36}\/v2\.0\)/);
    browser = await chromium.launch({ executablePath: CHROMIUM as string, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await b?.stop();
    await a?.stop();
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  });

  it('Chromium signs in to B’s web app at A’s page, and B’s API accepts A’s token', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    const en = await load('strings-en.js');
    await page.goto(`${b.origin}/`);
    const csp = (await page.request.get(`${b.origin}/`)).headers()['content-security-policy'] ?? '';
    assert.match(csp, new RegExp(`connect-src 'self' ${a.origin}(;|$)`));
    // Not the built-in issuer: the page does not say that nobody is asked for a password.
    await page.getByRole('button', { name: en.signIn }).waitFor();
    assert.equal(await page.getByText(en.devNote).isVisible(), false);
    await page.getByRole('button', { name: en.signIn }).click();
    await page.waitForURL(`${a.origin}/**/oauth2/v2.0/authorize?**`);
    await page.getByRole('heading', { name: 'Sign in to Portrait B' }).waitFor();
    await page.getByLabel('User principal name').fill('carol@contoso.com');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${b.origin}/`);
    await page.getByRole('heading', { name: en.myPhotoHeading, level: 1 }).waitFor();
    await page.getByText(en.signedInAs.replace('{name}', 'carol@contoso.com')).waitFor();
    await page.getByText(en.noPhoto).waitFor();

    await page.getByLabel(en.chooseFile).setInputFiles(PHOTO);
    await page.getByRole('button', { name: en.save }).click();
    await page.getByRole('status').getByText(en.saved).waitFor();
    const token = await tokenOf(page);
    const me = await call(b, token, 'GET', '/me');
    assert.equal(me.status, 200, me.body.toString('utf8'));
    assert.equal(me.json().userPrincipalName, 'carol@contoso.com');
    assert.equal((await call(b, token, 'GET', '/me/photo/$value')).status, 200);
    // A's token is B's only: A has no photo for carol.
    assert.equal((await call(a, token, 'GET', '/me/photo/$value')).status, 404);
    // B's own issuer still counts beside the trusted one that names the same iss (told apart by kid).
    const own = await runCli(['token', '--data', dirB, '--user', 'dave@contoso.com']);
    assert.equal(own.code, 0, own.stderr);
    assert.equal((await call(b, own.stdout.trim(), 'GET', '/me')).status, 200);
    // B's token at A: A's key does not sign it, and A trusts no other.
    assert.equal((await call(a, own.stdout.trim(), 'GET', '/me')).status, 401);
    assert.deepEqual(failures, []);
    await context.close();
  });
});
