// JSON batching through @microsoft/microsoft-graph-client's own helpers,
// BatchRequestContent and BatchResponseContent, as its batching docs use them,
// against a real `portrait serve` over HTTPS: a people picker's photos in one
// round trip (read back as base64 from each Response), metadata as JSON,
// dependsOn with a failed dependency (424), an upload in a batch, and Graph's
// batch errors surfacing as GraphError. The README's batching snippet runs as written.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliToken, decode } from './helpers/server-process.js';
import {
  PHOTOS_DIR,
  errorOf,
  expectCall,
  jsonOf,
  onlyRequestOf,
  readmeSnippet,
  scriptFolder,
  startHttpsServer,
  type HttpsServer,
  type ScriptFolder,
  type ScriptRun,
} from './helpers/graph-clients.js';

const SCENARIO = String.raw`
import { readFileSync } from 'node:fs';
import { BatchRequestContent, BatchResponseContent, Client } from '@microsoft/microsoft-graph-client';
import { report, step } from './harness.mjs';

const { PORTRAIT, APP_TOKEN, PHOTOS } = process.env;
const { adele, megan, carol } = JSON.parse(process.env.IDS);
const client = Client.init({ baseUrl: PORTRAIT, customHosts: new Set(['localhost']), authProvider: (done) => done(null, APP_TOKEN) });
// Node's Request wants an absolute URL; BatchRequestContent keeps only its path (/v1.0/…).
const get = (path) => new Request(PORTRAIT + '/v1.0' + path, { method: 'GET' });

/** What a caller reads off each Response of a BatchResponseContent. */
async function read(batch, id) {
  const response = batch.getResponseById(id);
  const contentType = response.headers.get('Content-Type');
  const text = await response.text();
  return { status: response.status, ok: response.ok, contentType, etag: response.headers.get('ETag'), text };
}

await step('people picker', async () => {
  const content = new BatchRequestContent([
    { id: 'adele', request: get('/users/' + adele + '/photos/96x96/$value') },
    { id: 'megan', request: get('/users/' + megan + '/photos/96x96/$value') },
    { id: 'adele-meta', request: get('/users/' + adele + '/photo') },
  ]);
  const batch = new BatchResponseContent(await client.api('/$batch').post(await content.getContent()));
  return { adele: await read(batch, 'adele'), megan: await read(batch, 'megan'), meta: await read(batch, 'adele-meta') };
});

await step('dependsOn', async () => {
  const content = new BatchRequestContent([
    { id: 'resize', request: new Request(PORTRAIT + '/v1.0/users/' + megan + '/photo', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ width: 64, height: 64 }) }) },
    { id: 'after', request: get('/users/' + megan + '/photo') },
  ]);
  content.addDependency('after', 'resize');
  const body = await content.getContent();
  const batch = new BatchResponseContent(await client.api('/$batch').post(body));
  return { sent: body, resize: await read(batch, 'resize'), after: await read(batch, 'after') };
});

await step('upload with an image Request', async () => {
  const image = readFileSync(PHOTOS + 'exif-org-nikon-e950.jpg');
  const content = new BatchRequestContent([
    { id: 'put', request: new Request(PORTRAIT + '/v1.0/users/' + carol + '/photo/$value', { method: 'PUT', headers: { 'Content-Type': 'image/jpeg' }, body: image }) },
  ]);
  try {
    return { sent: await content.getContent() };
  } catch (error) {
    return { error: error.name + ': ' + error.message };
  }
});

await step('upload as Graph documents it', async () => {
  // The batch format itself: a non-JSON body is base64 with its Content-Type.
  const image = readFileSync(PHOTOS + 'exif-org-nikon-e950.jpg');
  const body = { requests: [
    { id: 'put', method: 'PUT', url: '/users/' + carol + '/photo/$value', headers: { 'Content-Type': 'image/jpeg' }, body: image.toString('base64') },
    { id: 'check', method: 'GET', url: '/users/' + carol + '/photo', dependsOn: ['put'] },
  ] };
  const batch = new BatchResponseContent(await client.api('/$batch').post(body));
  return { put: await read(batch, 'put'), check: await read(batch, 'check') };
});

await step('over twenty requests', () =>
  client.api('/$batch').post({ requests: Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/users/' + adele + '/photo' })) }),
);
await step('not a batch', () => client.api('/$batch').post({ request: [] }));

report();
`;

describe('@microsoft/microsoft-graph-client batching against portrait serve over HTTPS', { timeout: 120_000 }, () => {
  let dataDir = '';
  let server: HttpsServer;
  let scripts: ScriptFolder;
  let run: ScriptRun;
  let appToken = '';
  let ids: { adele: string; megan: string; carol: string; dave: string };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'portrait-graph-batch-'));
    server = await startHttpsServer(dataDir);
    scripts = await scriptFolder(server);
    appToken = await cliToken({ dataDir, app: 'graph-batch-tests', roles: ['User.ReadWrite.All'] });
    const create = (upn: string) => expectCall(server, appToken, 'POST', '/users', 201, { userPrincipalName: upn, displayName: upn.split('@')[0] });
    const [adele, megan, carol, dave] = await Promise.all(['adele', 'megan', 'carol', 'dave'].map((name) => create(`${name}@contoso.com`)));
    ids = { adele: adele.id, megan: megan.id, carol: carol.id, dave: dave.id };
    const image = await readFile(join(PHOTOS_DIR, 'gps-DSCN0010.jpg'));
    await expectCall(server, appToken, 'PUT', `/users/${ids.adele}/photo/$value`, 200, image);
    await expectCall(server, appToken, 'PUT', `/users/${ids.megan}/photo/$value`, 200, image);
    run = await scripts.run('graph-js-batch', SCENARIO, {
      env: { PORTRAIT: server.origin, APP_TOKEN: appToken, PHOTOS: PHOTOS_DIR, IDS: JSON.stringify(ids) },
    });
  });

  after(async () => {
    await scripts?.remove();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('a people picker’s photos in one POST /v1.0/$batch: each Response is the JPEG as base64 text, with its ETag', async () => {
    const request = onlyRequestOf(run, 'people picker');
    assert.equal(request.method, 'POST');
    assert.equal(request.url, `${server.graph}/$batch`);
    assert.equal(request.status, 200);
    const { adele, megan, meta } = jsonOf(run, 'people picker');
    for (const photo of [adele, megan]) {
      assert.equal(photo.status, 200);
      assert.equal(photo.contentType, 'image/jpeg');
      const decoded = await decode(Buffer.from(photo.text, 'base64'));
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['jpeg', 96, 96]);
    }
    assert.equal(meta.status, 200);
    assert.match(meta.contentType, /^application\/json/);
    const metadata = JSON.parse(meta.text);
    assert.equal(metadata.id, '432X432', 'a 640×480 photo');
    assert.equal(metadata['@odata.context'], `${server.graph}/$metadata#users('${ids.adele}')/photo/$entity`);
    assert.equal(adele.etag, metadata['@odata.mediaEtag']);
    const direct = await expectCall(server, appToken, 'GET', `/users/${ids.adele}/photo`, 200);
    assert.equal(direct['@odata.mediaEtag'], metadata['@odata.mediaEtag']);
  });

  it('addDependency: the client sends dependsOn, the PATCH runs first and the GET sees its result', () => {
    const { sent, resize, after } = jsonOf(run, 'dependsOn');
    assert.deepEqual(sent.requests[1].dependsOn, ['resize']);
    assert.equal(sent.requests[0].url, `/v1.0/users/${ids.megan}/photo`, 'the client keeps /v1.0 in the url; Portrait accepts it');
    assert.equal(resize.status, 200);
    assert.equal(JSON.parse(resize.text).id, '64X64');
    assert.equal(JSON.parse(after.text).id, '64X64');
  });

  it('an image Request in BatchRequestContent: on Node the client drops its body (it wants a browser FileReader) — a client limitation', () => {
    const outcome = jsonOf(run, 'upload with an image Request');
    // getRequestBody's FileReader throws, which it swallows: the request goes out with no body.
    assert.deepEqual(outcome.sent.requests[0], {
      url: `/v1.0/users/${ids.carol}/photo/$value`,
      method: 'PUT',
      headers: { 'content-type': 'image/jpeg' },
      id: 'put',
    });
  });

  it('an upload as the batch format documents it (base64 body, Content-Type): 200, and dependsOn reads the new photo', () => {
    const { put, check } = jsonOf(run, 'upload as Graph documents it');
    assert.equal(put.status, 200);
    assert.equal(check.status, 200);
    assert.equal(JSON.parse(check.text).id, '504X504');
    assert.equal(JSON.parse(check.text)['@odata.mediaEtag'], put.etag);
  });

  it('batch errors surface as GraphError 400 BadRequest with Graph’s message', () => {
    const tooMany = errorOf(run, 'over twenty requests');
    assert.equal(tooMany.statusCode, 400);
    assert.equal(tooMany.code, 'BadRequest');
    assert.match(String(tooMany.message), /at most 20/);
    const notBatch = errorOf(run, 'not a batch');
    assert.equal(notBatch.statusCode, 400);
    assert.match(String(notBatch.message), /'requests' array/);
  });

  it('the README’s batching snippet runs as written (only the port changed)', async () => {
    const snippet = await readmeSnippet('<!-- snippet: graph-js-batch ');
    assert.match(snippet, /https:\/\/localhost:8443/);
    const source = snippet.replaceAll('https://localhost:8443', server.origin);
    const readme = await scripts.run('readme-graph-batch', source, {
      env: { TOKEN: appToken, IDS: `${ids.adele},${ids.carol},${ids.dave}` },
      report: false,
    });
    const printed = readme.stdout.trim().split('\n');
    assert.equal(printed.length, 3, readme.stdout);
    assert.match(printed[0] ?? '', new RegExp(`^${ids.adele} 200 image/jpeg \\d+ bytes$`));
    assert.match(printed[1] ?? '', new RegExp(`^${ids.carol} 200 image/jpeg \\d+ bytes$`));
    assert.equal(printed[2], `${ids.dave} 404 ImageNotFound`, 'dave has no photo');
  });
});
