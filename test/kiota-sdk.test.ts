// The Microsoft Graph SDK for TypeScript (Kiota: @microsoft/msgraph-sdk with
// @microsoft/msgraph-sdk-users and @microsoft/msgraph-sdk-teams) against a real
// `portrait serve` over HTTPS. The SDK runs in its own `node` process that trusts
// Portrait's self-signed certificate through NODE_EXTRA_CA_CERTS (its fetch takes
// no CA per request); its configuration is documented API only: a
// GraphRequestAdapter with a BaseBearerTokenAuthenticationProvider over an
// AccessTokenProvider that hands a `portrait token` to the allowed hosts, and the
// adapter's baseUrl. What each call returned or threw, and what went over the
// wire, comes back as JSON: photo.content.put (application/octet-stream),
// photo.get, photos, photos.byProfilePhotoId('96x96').content.get, photo.delete, a
// team's photo.content.put (204), a contact's photo, /me (the SDK's own
// TokenToReplace rewrite), and ODataError with Graph's code for 404, 403, 405,
// 401 and 400. The README's snippet runs as written.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliToken, decode } from './helpers/server-process.js';
import {
  PHOTOS_DIR,
  bytesOf,
  call,
  errorOf,
  expectCall,
  jsonOf,
  onlyRequestOf,
  readmeSnippet,
  scriptFolder,
  startHttpsServer,
  valueOf,
  type HttpsServer,
  type ScriptFolder,
  type ScriptRun,
} from './helpers/graph-clients.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ETAG = /^"[0-9A-F]{16}"$/;
const SIZES = [48, 64, 96, 120, 240, 360, 432, 504, 648];

/** The scenario, as a user of the SDK writes it (plus the harness's step() and report()). */
const SCENARIO = String.raw`
import { readFileSync } from 'node:fs';
import { AllowedHostsValidator, BaseBearerTokenAuthenticationProvider, validateProtocol } from '@microsoft/kiota-abstractions';
import { createGraphServiceClient, GraphRequestAdapter } from '@microsoft/msgraph-sdk';
import '@microsoft/msgraph-sdk-users';
import '@microsoft/msgraph-sdk-teams';
import { report, step } from './harness.mjs';

/** Kiota's AccessTokenProvider contract, for a token one already has: only allowed hosts, only https. */
class StaticAccessTokenProvider {
  #token;
  #hosts;
  constructor(token, allowedHosts) {
    this.#token = token;
    this.#hosts = new AllowedHostsValidator(allowedHosts);
  }
  async getAuthorizationToken(url) {
    if (!url || !this.#hosts.isUrlHostValid(url)) return '';
    validateProtocol(url);
    return this.#token;
  }
  getAllowedHostsValidator() {
    return this.#hosts;
  }
}

const { PORTRAIT, APP_TOKEN, ME_TOKEN, WEAK_TOKEN, PHOTOS } = process.env;
const { adele, megan, team, contact } = JSON.parse(process.env.IDS);
const photo = (name) => new Uint8Array(readFileSync(PHOTOS + name)).buffer;

function graphFor(token, allowedHosts = ['localhost']) {
  const adapter = new GraphRequestAdapter(new BaseBearerTokenAuthenticationProvider(new StaticAccessTokenProvider(token, new Set(allowedHosts))));
  adapter.baseUrl = PORTRAIT + '/v1.0';
  return createGraphServiceClient(adapter);
}
const graph = graphFor(APP_TOKEN);
const me = graphFor(ME_TOKEN);
const weak = graphFor(WEAK_TOKEN);
const untrusted = graphFor(APP_TOKEN, ['graph.microsoft.com']);

// A user
const user = graph.users.byUserId(adele);
await step('user put', () => user.photo.content.put(photo('exif-org-canon-ixus.jpg')));
await step('user get after put', () => user.photo.get());
await step('user put by upn', () => graph.users.byUserId('adele@contoso.com').photo.content.put(photo('tests-22-canon_tags.jpg')));
await step('user get', () => user.photo.get());
await step('user photos', () => user.photos.get());
await step('user photos 96x96', () => user.photos.byProfilePhotoId('96x96').get());
await step('user photos 96x96 content', () => user.photos.byProfilePhotoId('96x96').content.get());
await step('user content', () => user.photo.content.get());
await step('user delete', () => user.photo.delete());
await step('user get after delete', () => user.photo.get());
await step('user content after delete', () => user.photo.content.get());

// No photo, no user
await step('missing get', () => graph.users.byUserId(megan).photo.get());
await step('missing size content', () => graph.users.byUserId(megan).photos.byProfilePhotoId('48x48').content.get());
await step('missing user', () => graph.users.byUserId('nobody@contoso.com').photo.get());

// A team (its group's photo)
const teamPhoto = graph.teams.byTeamId(team).photo;
await step('team put', () => teamPhoto.content.put(photo('exif-org-nikon-e950.jpg')));
await step('team get', () => teamPhoto.get());
await step('team content', () => teamPhoto.content.get());
await step('team content delete', () => teamPhoto.content.delete());

// A contact
const contactPhoto = user.contacts.byContactId(contact).photo;
await step('contact put', () => contactPhoto.content.put(photo('Pentax_K10D.jpg')));
await step('contact get', () => contactPhoto.get());
await step('contact content', () => contactPhoto.content.get());

// /me: the SDK has no me builder; its core rewrites /users/TokenToReplace to /me
const mine = me.users.byUserId('TokenToReplace');
await step('me put', () => mine.photo.content.put(photo('orientation-landscape_6.jpg')));
await step('me get', () => mine.photo.get());
await step('me photos 48x48 content', () => mine.photos.byProfilePhotoId('48x48').content.get());
await step('me delete', () => mine.photo.delete());
await step('me get after delete', () => mine.photo.get());
await step('me with an app token', () => graph.users.byUserId('TokenToReplace').photo.get());

// Permissions and trust
await step('403 app without write permission', () => weak.users.byUserId(adele).photo.content.put(photo('Canon_40D.jpg')));
await step('403 delegated user writes a team', () => me.teams.byTeamId(team).photo.content.put(photo('Canon_40D.jpg')));
await step('401 host not allowed', () => untrusted.users.byUserId(adele).photo.get());

report();
`;

interface Ids {
  readonly adele: string;
  readonly megan: string;
  readonly alice: string;
  readonly team: string;
  readonly contact: string;
}

describe('@microsoft/msgraph-sdk (Kiota) with -users and -teams against portrait serve over HTTPS', { timeout: 180_000 }, () => {
  let dataDir = '';
  let server: HttpsServer;
  let scripts: ScriptFolder;
  let run: ScriptRun;
  let ids: Ids;
  let appToken = '';
  let readmeToken = '';

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'portrait-kiota-'));
    server = await startHttpsServer(dataDir);
    scripts = await scriptFolder(server);
    let meToken: string;
    let weakToken: string;
    [appToken, meToken, weakToken, readmeToken] = await Promise.all([
      cliToken({ dataDir, app: 'kiota-tests', roles: ['User.ReadWrite.All', 'Group.ReadWrite.All', 'Contacts.ReadWrite'] }),
      cliToken({ dataDir, user: 'alice@contoso.com', scopes: ['User.ReadWrite'] }),
      cliToken({ dataDir, app: 'kiota-reader', roles: ['User.Read.All'] }),
      cliToken({ dataDir, app: 'photo-tool', roles: ['User.ReadWrite.All'] }),
    ]);

    const adele = await expectCall(server, appToken, 'POST', '/users', 201, { userPrincipalName: 'adele@contoso.com', displayName: 'Adele' });
    const megan = await expectCall(server, appToken, 'POST', '/users', 201, { userPrincipalName: 'megan@contoso.com', displayName: 'Megan' });
    const alice = await expectCall(server, appToken, 'GET', '/users/alice@contoso.com', 200);
    const group = await expectCall(server, appToken, 'POST', '/groups', 201, { displayName: 'Design', mailNickname: 'design' });
    await expectCall(server, appToken, 'PUT', `/groups/${group.id}/team`, 201, {});
    const contact = await expectCall(server, appToken, 'POST', `/users/${adele.id}/contacts`, 201, { displayName: 'Carol' });
    ids = { adele: adele.id, megan: megan.id, alice: alice.id, team: group.id, contact: contact.id };

    run = await scripts.run('kiota-scenario', SCENARIO, {
      env: { PORTRAIT: server.origin, APP_TOKEN: appToken, ME_TOKEN: meToken, WEAK_TOKEN: weakToken, PHOTOS: PHOTOS_DIR, IDS: JSON.stringify(ids) },
    });
  });

  after(async () => {
    await scripts?.remove();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function dimensions(bytes: Buffer): Promise<string> {
    const decoded = await decode(bytes);
    assert.equal(decoded.format, 'jpeg');
    return `${decoded.width}x${decoded.height}`;
  }

  function context(kind: string): string {
    return `${server.graph}/$metadata#${kind}`;
  }

  /** An ODataError as Kiota throws it: status, message, and Graph's error in errorEscaped. */
  function odataError(step: string, status: number, code: string): { message: string; errorEscaped: any } {
    const error = errorOf(run, step);
    assert.equal(error.responseStatusCode, status, `${step}: ${JSON.stringify(error)}`);
    assert.equal(error.errorEscaped?.code, code, step);
    assert.equal(error.message, error.errorEscaped?.message, `${step}: the error's message is Graph's`);
    return { message: String(error.message), errorEscaped: error.errorEscaped };
  }

  describe('users', () => {
    it('photo.content.put(ArrayBuffer): PUT $value as application/octet-stream with the token, 200 and an ETag', () => {
      const request = onlyRequestOf(run, 'user put');
      assert.equal(request.method, 'PUT');
      assert.equal(request.url, `${server.graph}/users/${ids.adele}/photo/$value`);
      assert.equal(request.headers['content-type'], 'application/octet-stream');
      assert.equal(request.headers.accept, 'application/json');
      assert.equal(request.headers.authorization, 'Bearer …');
      assert.match(request.headers.sdkversion ?? '', /graph-typescript\/.*graph-typescript-core\//);
      assert.equal(request.headers['client-request-id'], undefined, 'this SDK sends no client-request-id');
      assert.equal(request.responseHeaders?.['client-request-id'], request.responseHeaders?.['request-id'], 'so Portrait answers with its request-id');
      assert.equal(request.status, 200);
      assert.match(request.responseHeaders?.etag ?? '', ETAG);
      assert.deepEqual(valueOf(run, 'user put'), { kind: 'bytes', type: 'ArrayBuffer', base64: '' }, 'the empty 200 body');
      const meta = jsonOf(run, 'user get after put');
      assert.equal(meta.id, '432X432');
      assert.equal(meta.additionalData['@odata.mediaEtag'], request.responseHeaders?.etag);
    });

    it('byUserId(userPrincipalName) reaches the same user', () => {
      assert.equal(onlyRequestOf(run, 'user put by upn').url, `${server.graph}/users/adele%40contoso.com/photo/$value`);
      assert.equal(onlyRequestOf(run, 'user put by upn').status, 200);
      assert.equal(jsonOf(run, 'user get').id, '648X648');
    });

    it('photo.get(): a ProfilePhoto with id, width, height, and the OData annotations in additionalData', () => {
      const request = onlyRequestOf(run, 'user get');
      assert.equal(request.headers.accept, 'application/json');
      const meta = jsonOf(run, 'user get');
      assert.equal(meta.id, '648X648');
      assert.equal(meta.width, 648);
      assert.equal(meta.height, 648);
      assert.equal(meta.additionalData['@odata.context'], `${context(`users('${ids.adele}')`)}/photo/$entity`);
      assert.equal(meta.additionalData['@odata.mediaContentType'], 'image/jpeg');
      assert.match(meta.additionalData['@odata.mediaEtag'], ETAG);
    });

    it('photos.get(): the collection, every size with one ETag', () => {
      const list = jsonOf(run, 'user photos');
      assert.equal(list.additionalData['@odata.context'], `${context(`users('${ids.adele}')`)}/photos`);
      assert.deepEqual(
        list.value.map((p: { id: string }) => p.id),
        SIZES.map((s) => `${s}X${s}`),
      );
      for (const entry of list.value) assert.equal(entry.additionalData['@odata.mediaEtag'], jsonOf(run, 'user get').additionalData['@odata.mediaEtag']);
    });

    it("photos.byProfilePhotoId('96x96'): metadata and content.get() bytes, 96×96", async () => {
      assert.equal(jsonOf(run, 'user photos 96x96').id, '96X96');
      const request = onlyRequestOf(run, 'user photos 96x96 content');
      assert.equal(request.url, `${server.graph}/users/${ids.adele}/photos/96x96/$value`);
      assert.equal(request.headers.accept, 'application/octet-stream, application/json');
      assert.equal(request.responseHeaders?.['content-type'], 'image/jpeg');
      assert.equal(await dimensions(bytesOf(run, 'user photos 96x96 content')), '96x96');
    });

    it('photo.content.get(): the largest size’s JPEG', async () => {
      assert.equal(valueOf(run, 'user content').kind, 'bytes');
      assert.equal(await dimensions(bytesOf(run, 'user content')), '648x648');
    });

    it('photo.delete(): 200, then ODataError 404 ImageNotFound for the metadata and the bytes', async () => {
      assert.equal(onlyRequestOf(run, 'user delete').method, 'DELETE');
      assert.equal(onlyRequestOf(run, 'user delete').status, 200);
      assert.equal(valueOf(run, 'user delete').kind, 'undefined');
      odataError('user get after delete', 404, 'ImageNotFound');
      odataError('user content after delete', 404, 'ImageNotFound');
      assert.equal((await call(server, appToken, 'GET', `/users/${ids.adele}/photo`)).status, 404);
    });
  });

  describe('errors as ODataError', () => {
    it('no photo: 404 ImageNotFound with Graph’s message and innerError (request id, client request id, date)', () => {
      const error = odataError('missing get', 404, 'ImageNotFound');
      assert.equal(error.message, "The photo wasn't found.");
      const inner = error.errorEscaped.innerError;
      assert.match(String(inner.requestId), GUID);
      assert.match(String(inner.clientRequestId), GUID);
      assert.ok(!Number.isNaN(Date.parse(String(inner.date))), `date ${inner.date}`);
      assert.equal(onlyRequestOf(run, 'missing get').responseHeaders?.['request-id'], inner.requestId);
      odataError('missing size content', 404, 'ImageNotFound');
    });

    it('no user: 404 Request_ResourceNotFound naming it', () => {
      const error = odataError('missing user', 404, 'Request_ResourceNotFound');
      assert.match(error.message, /nobody@contoso\.com/);
    });

    it('403 Authorization_RequestDenied, the message naming the permissions that would do', () => {
      const user = odataError('403 app without write permission', 403, 'Authorization_RequestDenied');
      assert.match(user.message, /^Insufficient privileges to complete the operation\./);
      assert.match(user.message, /User\.ReadWrite\.All/);
      assert.match(user.message, /ProfilePhoto\.ReadWrite\.All/);
      const team = odataError('403 delegated user writes a team', 403, 'Authorization_RequestDenied');
      assert.match(team.message, /TeamSettings\.ReadWrite\.All/);
      assert.match(team.message, /Group\.ReadWrite\.All/);
    });

    it('a host not in allowedHosts gets no token: 401 InvalidAuthenticationToken', () => {
      assert.equal(onlyRequestOf(run, '401 host not allowed').headers.authorization, undefined);
      const error = odataError('401 host not allowed', 401, 'InvalidAuthenticationToken');
      assert.equal(error.message, 'Access token is empty.');
    });

    it('/me with an application token: 400 BadRequest', () => {
      const error = odataError('me with an app token', 400, 'BadRequest');
      assert.match(error.message, /delegated/);
    });
  });

  describe('teams, contacts and /me', () => {
    it("a team's photo.content.put(…): 204, then the team's photo (its group's)", async () => {
      const request = onlyRequestOf(run, 'team put');
      assert.equal(request.url, `${server.graph}/teams/${ids.team}/photo/$value`);
      assert.equal(request.headers['content-type'], 'application/octet-stream');
      assert.equal(request.status, 204);
      assert.equal(valueOf(run, 'team put').kind, 'undefined');
      const meta = jsonOf(run, 'team get');
      assert.equal(meta.additionalData['@odata.context'], `${context(`teams('${ids.team}')`)}/photo/$entity`);
      assert.equal(meta.id, '504X504');
      assert.equal(await dimensions(bytesOf(run, 'team content')), '504x504');
      const group = await expectCall(server, appToken, 'GET', `/groups/${ids.team}/photo`, 200);
      assert.equal(group['@odata.mediaEtag'], meta.additionalData['@odata.mediaEtag']);
    });

    it("a team's photo.content.delete(): ODataError 405 Request_BadRequest (Graph can't delete a team photo)", () => {
      odataError('team content delete', 405, 'Request_BadRequest');
    });

    it("a contact's photo: content.put, get, content.get", async () => {
      assert.equal(onlyRequestOf(run, 'contact put').url, `${server.graph}/users/${ids.adele}/contacts/${ids.contact}/photo/$value`);
      assert.equal(onlyRequestOf(run, 'contact put').status, 200);
      const meta = jsonOf(run, 'contact get');
      assert.equal(meta.additionalData['@odata.context'], `${context(`users('${ids.adele}')/contacts('${ids.contact}')`)}/photo/$entity`);
      assert.equal(meta.id, '64X64');
      assert.equal(await dimensions(bytesOf(run, 'contact content')), '64x64');
    });

    it("/me through byUserId('TokenToReplace'): put, get, a size's content, delete, then 404", async () => {
      assert.equal(onlyRequestOf(run, 'me put').url, `${server.graph}/me/photo/$value`);
      assert.equal(onlyRequestOf(run, 'me put').status, 200);
      const meta = jsonOf(run, 'me get');
      assert.equal(meta.additionalData['@odata.context'], `${context(`users('${ids.alice}')`)}/photo/$entity`);
      assert.equal(meta.id, '432X432');
      assert.equal(onlyRequestOf(run, 'me photos 48x48 content').url, `${server.graph}/me/photos/48x48/$value`);
      assert.equal(await dimensions(bytesOf(run, 'me photos 48x48 content')), '48x48');
      assert.equal(onlyRequestOf(run, 'me delete').url, `${server.graph}/me/photo`);
      assert.equal(onlyRequestOf(run, 'me delete').status, 200);
      odataError('me get after delete', 404, 'ImageNotFound');
    });
  });

  it('the README’s snippet runs as written (only the port changed) and prints the photo it set', async () => {
    const snippet = await readmeSnippet('<!-- snippet: kiota-sdk ');
    assert.match(snippet, /https:\/\/localhost:8443\/v1\.0/);
    const source = snippet.replaceAll('https://localhost:8443', server.origin);
    const readme = await scripts.run('readme-kiota', source, {
      env: { TOKEN: readmeToken },
      args: ['megan@contoso.com', join(PHOTOS_DIR, 'exif-org-nikon-e950.jpg')],
      report: false,
    });
    const printed = readme.stdout.trim().split('\n').at(-1) ?? '';
    assert.match(printed, /^504X504 "[0-9A-F]{16}"$/, readme.stdout);
    assert.equal(await dimensions(await readFile(join(scripts.dir, 'photo-96.jpg'))), '96x96');
    const check = await expectCall(server, appToken, 'GET', `/users/${ids.megan}/photo`, 200);
    assert.equal(`${check.id} ${check['@odata.mediaEtag']}`, printed);
  });
});
