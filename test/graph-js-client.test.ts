// @microsoft/microsoft-graph-client 3.x, used as its docs show, against a real
// `portrait serve` over HTTPS. The client runs in its own `node` process that
// trusts Portrait's self-signed certificate through NODE_EXTRA_CA_CERTS (the
// client calls Node's built-in fetch, which takes no CA per request); its only
// configuration is documented options: baseUrl, customHosts, authProvider, and
// per request header(), option(), responseType(). What each call returned or
// threw, and what went over the wire, comes back as JSON and is asserted here:
// uploads (.put(buffer) as documented — so Content-Type application/json —, with
// image/jpeg, and putStream), metadata, bytes (getStream and ARRAYBUFFER), the
// photos collection and a sized photo, delete, GraphError for 404/403/405/401/400,
// for users, groups, teams, contacts and /me. The README's snippet runs as written.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decode, cliToken } from './helpers/server-process.js';
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
  wireOf,
  type HttpsServer,
  type ScriptFolder,
  type ScriptRun,
} from './helpers/graph-clients.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ETAG = /^"[0-9A-F]{16}"$/;
const SIZES = [48, 64, 96, 120, 240, 360, 432, 504, 648];

/** The scenario, as a user of the client writes it (plus the harness's step() and report()). */
const SCENARIO = String.raw`
import { createReadStream, readFileSync } from 'node:fs';
import { Client, ResponseType } from '@microsoft/microsoft-graph-client';
import { report, step } from './harness.mjs';

const { PORTRAIT, APP_TOKEN, ME_TOKEN, WEAK_TOKEN, PHOTOS } = process.env;
const { adele, megan, group, contact } = JSON.parse(process.env.IDS);
const photo = (name) => readFileSync(PHOTOS + name);

// baseUrl is Portrait's origin (the client adds /v1.0). The client sends the token only
// over https to Graph's own hosts and to customHosts (host names, any port).
const client = Client.init({
  baseUrl: PORTRAIT,
  customHosts: new Set(['localhost']),
  authProvider: (done) => done(null, APP_TOKEN),
});
const me = Client.init({ baseUrl: PORTRAIT, customHosts: new Set(['localhost']), authProvider: (done) => done(null, ME_TOKEN) });
const weak = Client.init({ baseUrl: PORTRAIT, customHosts: new Set(['localhost']), authProvider: (done) => done(null, WEAK_TOKEN) });
const untrusted = Client.init({ baseUrl: PORTRAIT, authProvider: (done) => done(null, APP_TOKEN) });

// A user
const user = '/users/' + adele;
await step('user put(buffer)', () => client.api(user + '/photo/$value').put(photo('exif-org-canon-ixus.jpg')));
await step('user get after put(buffer)', () => client.api(user + '/photo').get());
await step('user put(buffer) image/jpeg', () =>
  client.api(user + '/photo/$value').header('Content-Type', 'image/jpeg').put(photo('exif-org-nikon-e950.jpg')),
);
await step('user get after put image/jpeg', () => client.api(user + '/photo').get());
await step('user putStream as documented', () =>
  client.api(user + '/photo/$value').putStream(createReadStream(PHOTOS + 'gps-DSCN0010.jpg')),
);
await step('user putStream duplex half', () =>
  client.api(user + '/photo/$value').option('duplex', 'half').putStream(createReadStream(PHOTOS + 'tests-22-canon_tags.jpg')),
);
await step('user get', () => client.api(user + '/photo').get());
await step('user get $value', () => client.api(user + '/photo/$value').get());
await step('user getStream', () => client.api(user + '/photo/$value').getStream());
await step('user ARRAYBUFFER', () => client.api(user + '/photo/$value').responseType(ResponseType.ARRAYBUFFER).get());
await step('user photos', () => client.api(user + '/photos').get());
await step('user photos/96x96', () => client.api(user + '/photos/96x96').get());
await step('user photos/96x96/$value', () => client.api(user + '/photos/96x96/$value').responseType(ResponseType.ARRAYBUFFER).get());
await step('user beta', () => client.api(user + '/photo').version('beta').get());
await step('user delete', () => client.api(user + '/photo').delete());
await step('user get after delete', () => client.api(user + '/photo').get());

// A user without a photo, and no user at all
await step('missing get', () => client.api('/users/' + megan + '/photo').get());
await step('missing get $value', () => client.api('/users/' + megan + '/photo/$value').get());
await step('missing ARRAYBUFFER', () => client.api('/users/' + megan + '/photo/$value').responseType(ResponseType.ARRAYBUFFER).get());
await step('missing getStream', () => client.api('/users/' + megan + '/photo/$value').getStream());
await step('missing user', () => client.api('/users/nobody@contoso.com/photo').get());

// A group, then its team (the same photo)
await step('group put(buffer)', () => client.api('/groups/' + group + '/photo/$value').put(photo('gps-DSCN0012.jpg')));
await step('group get', () => client.api('/groups/' + group + '/photo').get());
await step('group photos', () => client.api('/groups/' + group + '/photos').get());
await step('group photos/48x48/$value', () => client.api('/groups/' + group + '/photos/48x48/$value').responseType(ResponseType.ARRAYBUFFER).get());
await step('team put(buffer)', () => client.api('/teams/' + group + '/photo/$value').put(photo('exif-org-nikon-e950.jpg')));
await step('team get', () => client.api('/teams/' + group + '/photo').get());
await step('team ARRAYBUFFER via groups/{id}/team', () => client.api('/groups/' + group + '/team/photo/$value').responseType(ResponseType.ARRAYBUFFER).get());
await step('group get after team put', () => client.api('/groups/' + group + '/photo').get());
await step('team delete', () => client.api('/teams/' + group + '/photo').delete());
await step('team photos', () => client.api('/teams/' + group + '/photos').get());
await step('group delete', () => client.api('/groups/' + group + '/photo').delete());
await step('team get after group delete', () => client.api('/teams/' + group + '/photo').get());

// A contact
const contactPath = '/users/' + adele + '/contacts/' + contact;
await step('contact put(buffer)', () => client.api(contactPath + '/photo/$value').put(photo('Pentax_K10D.jpg')));
await step('contact get', () => client.api(contactPath + '/photo').get());
await step('contact ARRAYBUFFER', () => client.api(contactPath + '/photo/$value').responseType(ResponseType.ARRAYBUFFER).get());
await step('contact photos', () => client.api(contactPath + '/photos').get());
await step('contact delete', () => client.api(contactPath + '/photo').delete());

// /me, with a delegated token
await step('me put(buffer)', () => me.api('/me/photo/$value').put(photo('orientation-landscape_6.jpg')));
await step('me get', () => me.api('/me/photo').get());
await step('me ARRAYBUFFER', () => me.api('/me/photo/$value').responseType(ResponseType.ARRAYBUFFER).get());
await step('me delete', () => me.api('/me/photo').delete());
await step('me get after delete', () => me.api('/me/photo').get());
await step('me with an app token', () => client.api('/me/photo').get());

// Permissions and trust
await step('403 app without write permission', () => weak.api(user + '/photo/$value').put(photo('Canon_40D.jpg')));
await step('403 app without group permission', () => weak.api('/groups/' + group + '/photo').get());
await step('403 delegated user writes another user', () => me.api(user + '/photo/$value').put(photo('Canon_40D.jpg')));
await step('401 host not in customHosts', () => untrusted.api(user + '/photo').get());

report();
`;

interface Ids {
  readonly adele: string;
  readonly megan: string;
  readonly alice: string;
  readonly group: string;
  readonly contact: string;
}

describe('@microsoft/microsoft-graph-client 3.0.7 against portrait serve over HTTPS', { timeout: 180_000 }, () => {
  let dataDir = '';
  let server: HttpsServer;
  let scripts: ScriptFolder;
  let run: ScriptRun;
  let ids: Ids;
  let appToken = '';
  let meToken = '';

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'portrait-graph-js-'));
    server = await startHttpsServer(dataDir);
    scripts = await scriptFolder(server);
    let weakToken: string;
    [appToken, meToken, weakToken] = await Promise.all([
      cliToken({ dataDir, app: 'graph-js-tests', roles: ['User.ReadWrite.All', 'Group.ReadWrite.All', 'Contacts.ReadWrite'] }),
      cliToken({ dataDir, user: 'alice@contoso.com', scopes: ['User.ReadWrite'] }),
      cliToken({ dataDir, app: 'graph-js-reader', roles: ['User.Read.All'] }),
    ]);

    const adele = await expectCall(server, appToken, 'POST', '/users', 201, { userPrincipalName: 'adele@contoso.com', displayName: 'Adele' });
    const megan = await expectCall(server, appToken, 'POST', '/users', 201, { userPrincipalName: 'megan@contoso.com', displayName: 'Megan' });
    const alice = await expectCall(server, appToken, 'GET', '/users/alice@contoso.com', 200);
    const group = await expectCall(server, appToken, 'POST', '/groups', 201, { displayName: 'Design', mailNickname: 'design' });
    await expectCall(server, appToken, 'PUT', `/groups/${group.id}/team`, 201, {});
    const contact = await expectCall(server, appToken, 'POST', `/users/${adele.id}/contacts`, 201, { displayName: 'Carol' });
    ids = { adele: adele.id, megan: megan.id, alice: alice.id, group: group.id, contact: contact.id };

    run = await scripts.run('graph-js-scenario', SCENARIO, {
      env: {
        PORTRAIT: server.origin,
        APP_TOKEN: appToken,
        ME_TOKEN: meToken,
        WEAK_TOKEN: weakToken,
        PHOTOS: PHOTOS_DIR,
        IDS: JSON.stringify(ids),
      },
    });
  });

  after(async () => {
    await scripts?.remove();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** The JPEG's dimensions, from its bytes. */
  async function dimensions(bytes: Buffer): Promise<string> {
    const decoded = await decode(bytes);
    assert.equal(decoded.format, 'jpeg');
    return `${decoded.width}x${decoded.height}`;
  }

  function context(kind: string): string {
    return `${server.graph}/$metadata#${kind}`;
  }

  describe('users', () => {
    it('.put(buffer) exactly as the docs show: sent as application/json with the token, 200, and the photo is replaced', () => {
      const request = onlyRequestOf(run, 'user put(buffer)');
      assert.equal(request.method, 'PUT');
      assert.equal(request.url, `${server.graph}/users/${ids.adele}/photo/$value`);
      assert.equal(request.headers['content-type'], 'application/json', 'the client defaults to application/json; Portrait reads the bytes');
      assert.equal(request.headers.authorization, 'Bearer …');
      assert.match(request.headers.sdkversion ?? '', /^graph-js\/3\.0\.7/);
      assert.match(request.headers['client-request-id'] ?? '', GUID);
      assert.equal(request.status, 200);
      assert.match(request.responseHeaders?.etag ?? '', ETAG);
      // No Content-Type on the empty 200: the client hands back the (empty) body stream.
      const value = valueOf(run, 'user put(buffer)');
      if (value.kind === 'bytes') assert.equal(value.base64, '');
      else assert.equal(value.kind, 'undefined');
      const meta = jsonOf(run, 'user get after put(buffer)');
      assert.equal(meta.id, '432X432', 'a 640×480 upload gives 432×432 at most');
      assert.equal(meta['@odata.mediaEtag'], request.responseHeaders?.etag);
    });

    it('.header("Content-Type", "image/jpeg").put(buffer): sent as image/jpeg, 200, replaced', () => {
      const request = onlyRequestOf(run, 'user put(buffer) image/jpeg');
      assert.equal(request.headers['content-type'], 'image/jpeg');
      assert.equal(request.status, 200);
      assert.equal(jsonOf(run, 'user get after put image/jpeg').id, '504X504', 'an 800×600 upload gives 504×504 at most');
      assert.notEqual(jsonOf(run, 'user get after put image/jpeg')['@odata.mediaEtag'], jsonOf(run, 'user get after put(buffer)')['@odata.mediaEtag']);
    });

    it('.putStream(stream) as documented fails inside Node’s fetch before sending (it wants duplex: "half"): a client limitation', () => {
      const error = errorOf(run, 'user putStream as documented');
      assert.equal(error.type, 'GraphError');
      assert.equal(error.statusCode, -1);
      assert.match(String(error.message), /duplex/);
      assert.equal(wireOf(run, 'user putStream as documented').length, 0, 'nothing reached Portrait');
    });

    it('.option("duplex", "half").putStream(stream): sent as application/octet-stream, 200, replaced', () => {
      const request = onlyRequestOf(run, 'user putStream duplex half');
      assert.equal(request.headers['content-type'], 'application/octet-stream');
      assert.equal(request.status, 200);
      assert.equal(jsonOf(run, 'user get').id, '648X648', 'a 1600×1200 upload has every size');
    });

    it('.get() on /photo: the metadata Graph returns', () => {
      const meta = jsonOf(run, 'user get');
      assert.deepEqual(Object.keys(meta).sort(), ['@odata.context', '@odata.id', '@odata.mediaContentType', '@odata.mediaEtag', 'height', 'id', 'width']);
      assert.equal(meta['@odata.context'], `${context(`users('${ids.adele}')`)}/photo/$entity`);
      assert.equal(meta['@odata.mediaContentType'], 'image/jpeg');
      assert.match(meta['@odata.mediaEtag'], ETAG);
      assert.equal(meta.width, 648);
      assert.equal(meta.height, 648);
      assert.equal(onlyRequestOf(run, 'user get').responseHeaders?.etag, meta['@odata.mediaEtag']);
    });

    it('.get() on /photo/$value, as Graph’s docs snippet: a Blob of the 648×648 JPEG', async () => {
      assert.equal((valueOf(run, 'user get $value') as { type: string }).type, 'Blob');
      assert.equal(await dimensions(bytesOf(run, 'user get $value')), '648x648');
      assert.equal(onlyRequestOf(run, 'user get $value').responseHeaders?.['content-type'], 'image/jpeg');
    });

    it('.getStream() and .responseType(ResponseType.ARRAYBUFFER).get(): the same 648×648 JPEG', async () => {
      const streamed = bytesOf(run, 'user getStream');
      assert.deepEqual(
        { ...valueOf(run, 'user getStream'), base64: '' },
        { kind: 'bytes', type: 'ReadableStream', base64: '' },
        'getStream() resolves to a web ReadableStream on Node’s fetch',
      );
      const buffered = bytesOf(run, 'user ARRAYBUFFER');
      assert.equal(await dimensions(streamed), '648x648');
      assert.deepEqual(streamed, buffered);
      assert.deepEqual(bytesOf(run, 'user get $value'), buffered);
      const request = onlyRequestOf(run, 'user ARRAYBUFFER');
      assert.equal(request.responseHeaders?.['content-type'], 'image/jpeg');
      assert.equal(request.responseHeaders?.etag, jsonOf(run, 'user get')['@odata.mediaEtag']);
    });

    it('.get() on /photos: every Graph size, one ETag', () => {
      const list = jsonOf(run, 'user photos');
      assert.equal(list['@odata.context'], `${context(`users('${ids.adele}')`)}/photos`);
      assert.deepEqual(
        list.value.map((p: { id: string }) => p.id),
        SIZES.map((s) => `${s}X${s}`),
      );
      for (const entry of list.value) assert.equal(entry['@odata.mediaEtag'], jsonOf(run, 'user get')['@odata.mediaEtag']);
    });

    it('a sized photo: /photos/96x96 metadata and $value bytes', async () => {
      const meta = jsonOf(run, 'user photos/96x96');
      assert.equal(meta.id, '96X96');
      assert.equal(meta['@odata.context'], `${context(`users('${ids.adele}')`)}/photos/$entity`);
      assert.equal(await dimensions(bytesOf(run, 'user photos/96x96/$value')), '96x96');
    });

    it('.version("beta") reaches /beta, answered the same', () => {
      const meta = jsonOf(run, 'user beta');
      assert.equal(onlyRequestOf(run, 'user beta').url, `${server.origin}/beta/users/${ids.adele}/photo`);
      assert.equal(meta['@odata.context'], `${server.origin}/beta/$metadata#users('${ids.adele}')/photo/$entity`);
      assert.equal(meta.id, '648X648');
    });

    it('.delete(): 200, and the photo is gone (GraphError 404 ImageNotFound)', async () => {
      assert.equal(onlyRequestOf(run, 'user delete').method, 'DELETE');
      assert.equal(onlyRequestOf(run, 'user delete').status, 200);
      valueOf(run, 'user delete');
      const error = errorOf(run, 'user get after delete');
      assert.equal(error.statusCode, 404);
      assert.equal(error.code, 'ImageNotFound');
      const check = await call(server, appToken, 'GET', `/users/${ids.adele}/photo/$value`);
      assert.equal(check.status, 404);
    });
  });

  describe('errors as GraphError', () => {
    it('a missing photo: statusCode 404, code ImageNotFound, Graph’s message, request id and date', () => {
      const error = errorOf(run, 'missing get');
      assert.equal(error.type, 'GraphError');
      assert.equal(error.statusCode, 404);
      assert.equal(error.code, 'ImageNotFound');
      assert.equal(error.message, "The photo wasn't found.");
      assert.match(String(error.requestId), GUID);
      assert.ok(!Number.isNaN(Date.parse(String(error.date))), `date ${error.date}`);
      const request = onlyRequestOf(run, 'missing get');
      assert.equal(request.responseHeaders?.['request-id'], error.requestId);
      assert.equal(request.responseHeaders?.['client-request-id'], request.headers['client-request-id'], 'the client’s id is echoed');
      assert.equal(JSON.parse(String(error.body)).innerError['client-request-id'], request.headers['client-request-id']);
    });

    it('a missing photo’s bytes with .get(): the JSON error is read, code ImageNotFound', () => {
      const error = errorOf(run, 'missing get $value');
      assert.equal(error.statusCode, 404);
      assert.equal(error.code, 'ImageNotFound');
    });

    it('a missing photo’s bytes with ARRAYBUFFER or getStream: statusCode 404 (the client does not parse the body then)', () => {
      for (const name of ['missing ARRAYBUFFER', 'missing getStream']) {
        const error = errorOf(run, name);
        assert.equal(error.type, 'GraphError', name);
        assert.equal(error.statusCode, 404, name);
        assert.equal(onlyRequestOf(run, name).responseHeaders?.['content-type'], 'application/json; charset=utf-8', name);
      }
    });

    it('an unknown user: 404 Request_ResourceNotFound', () => {
      const error = errorOf(run, 'missing user');
      assert.equal(error.statusCode, 404);
      assert.equal(error.code, 'Request_ResourceNotFound');
      assert.match(String(error.message), /nobody@contoso\.com/);
    });

    it('403: Authorization_RequestDenied, the message naming the missing permissions', () => {
      const write = errorOf(run, '403 app without write permission');
      assert.equal(write.statusCode, 403);
      assert.equal(write.code, 'Authorization_RequestDenied');
      assert.match(String(write.message), /^Insufficient privileges to complete the operation\./);
      assert.match(String(write.message), /User\.ReadWrite\.All/);
      assert.match(String(write.message), /ProfilePhoto\.ReadWrite\.All/);
      const read = errorOf(run, '403 app without group permission');
      assert.equal(read.statusCode, 403);
      assert.match(String(read.message), /Group\.Read\.All/);
      const other = errorOf(run, '403 delegated user writes another user');
      assert.equal(other.statusCode, 403);
      assert.equal(other.code, 'Authorization_RequestDenied');
      assert.match(String(other.message), /User\.ReadWrite\.All/, 'User.ReadWrite covers only one’s own photo');
    });

    it('a host not in customHosts gets no token: 401 InvalidAuthenticationToken "Access token is empty."', () => {
      const request = onlyRequestOf(run, '401 host not in customHosts');
      assert.equal(request.headers.authorization, undefined, 'the client kept the token to itself');
      const error = errorOf(run, '401 host not in customHosts');
      assert.equal(error.statusCode, 401);
      assert.equal(error.code, 'InvalidAuthenticationToken');
      assert.equal(error.message, 'Access token is empty.');
    });

    it('/me with an application token: 400 BadRequest', () => {
      const error = errorOf(run, 'me with an app token');
      assert.equal(error.statusCode, 400);
      assert.equal(error.code, 'BadRequest');
      assert.match(String(error.message), /delegated/);
    });
  });

  describe('groups and teams', () => {
    it('a group: put(buffer), get(), photos, a sized $value', async () => {
      assert.equal(onlyRequestOf(run, 'group put(buffer)').status, 200);
      const meta = jsonOf(run, 'group get');
      assert.equal(meta['@odata.context'], `${context(`groups('${ids.group}')`)}/photo/$entity`);
      assert.equal(meta.id, '432X432');
      const list = jsonOf(run, 'group photos');
      assert.equal(list['@odata.context'], `${context(`groups('${ids.group}')`)}/photos`);
      assert.deepEqual(
        list.value.map((p: { id: string }) => p.id),
        SIZES.filter((s) => s <= 432).map((s) => `${s}X${s}`),
      );
      assert.equal(await dimensions(bytesOf(run, 'group photos/48x48/$value')), '48x48');
    });

    it('a team: put(buffer) answers 204 (the client resolves to undefined); it is the group’s photo', async () => {
      const request = onlyRequestOf(run, 'team put(buffer)');
      assert.equal(request.url, `${server.graph}/teams/${ids.group}/photo/$value`);
      assert.equal(request.status, 204);
      assert.equal(valueOf(run, 'team put(buffer)').kind, 'undefined');
      const team = jsonOf(run, 'team get');
      assert.equal(team['@odata.context'], `${context(`teams('${ids.group}')`)}/photo/$entity`);
      assert.equal(team.id, '504X504');
      const group = jsonOf(run, 'group get after team put');
      assert.equal(group['@odata.mediaEtag'], team['@odata.mediaEtag']);
      assert.equal(group.id, '504X504');
      assert.equal(await dimensions(bytesOf(run, 'team ARRAYBUFFER via groups/{id}/team')), '504x504');
    });

    it('a team: delete() is 405 and photos is 400 (Graph’s team photo has neither)', () => {
      const del = errorOf(run, 'team delete');
      assert.equal(del.statusCode, 405);
      assert.equal(del.code, 'Request_BadRequest');
      const photos = errorOf(run, 'team photos');
      assert.equal(photos.statusCode, 400);
      assert.equal(photos.code, 'BadRequest');
    });

    it('deleting the group’s photo removes the team’s', () => {
      assert.equal(onlyRequestOf(run, 'group delete').status, 200);
      const error = errorOf(run, 'team get after group delete');
      assert.equal(error.statusCode, 404);
      assert.equal(error.code, 'ImageNotFound');
    });
  });

  describe('contacts', () => {
    it('put(buffer), get(), ARRAYBUFFER: one size, the largest a 100×72 photo allows', async () => {
      assert.equal(onlyRequestOf(run, 'contact put(buffer)').status, 200);
      const meta = jsonOf(run, 'contact get');
      assert.equal(meta['@odata.context'], `${context(`users('${ids.adele}')/contacts('${ids.contact}')`)}/photo/$entity`);
      assert.equal(meta.id, '64X64');
      assert.equal(await dimensions(bytesOf(run, 'contact ARRAYBUFFER')), '64x64');
    });

    it('photos is 400 and delete() is 405, as on Graph', () => {
      const photos = errorOf(run, 'contact photos');
      assert.equal(photos.statusCode, 400);
      assert.equal(photos.code, 'BadRequest');
      const del = errorOf(run, 'contact delete');
      assert.equal(del.statusCode, 405);
    });
  });

  describe('/me with a delegated token', () => {
    it('put(buffer), get(), ARRAYBUFFER (upright, 432×432), delete(), then 404', async () => {
      assert.equal(onlyRequestOf(run, 'me put(buffer)').url, `${server.graph}/me/photo/$value`);
      assert.equal(onlyRequestOf(run, 'me put(buffer)').status, 200);
      const meta = jsonOf(run, 'me get');
      assert.equal(meta['@odata.context'], `${context(`users('${ids.alice}')`)}/photo/$entity`);
      assert.equal(meta.id, '432X432');
      assert.equal(await dimensions(bytesOf(run, 'me ARRAYBUFFER')), '432x432');
      assert.equal(onlyRequestOf(run, 'me delete').status, 200);
      const error = errorOf(run, 'me get after delete');
      assert.equal(error.statusCode, 404);
      assert.equal(error.code, 'ImageNotFound');
    });
  });

  it('the README’s snippet runs as written (only the port changed) and prints the photo it set', async () => {
    const snippet = await readmeSnippet('<!-- snippet: graph-js-client ');
    assert.match(snippet, /https:\/\/localhost:8443/);
    const source = snippet.replaceAll('https://localhost:8443', server.origin);
    const readme = await scripts.run('readme-graph-js', source, {
      env: { TOKEN: meToken },
      args: [join(PHOTOS_DIR, 'exif-org-nikon-e950.jpg')],
      report: false,
    });
    const printed = readme.stdout.trim().split('\n');
    assert.match(printed.at(-1) ?? '', /^504X504 "[0-9A-F]{16}"$/, readme.stdout);
    assert.equal(await dimensions(await readFile(join(scripts.dir, 'me-96.jpg'))), '96x96');
    const check = await expectCall(server, appToken, 'GET', `/users/${ids.alice}/photo`, 200);
    assert.equal(`${check.id} ${check['@odata.mediaEtag']}`, printed.at(-1));
  });
});
