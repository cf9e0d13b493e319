// JSON batching (POST /$batch) as a client sees it: many photos in one round trip,
// bytes base64-encoded with their Content-Type, JSON as JSON, uploads inside a batch,
// dependsOn with 424 for a failed dependency, each request authorized on its own,
// and the batch-level errors (401, 405, bad JSON, over 20 requests, bad ids, cycles)
// — after which nothing in the batch has run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { createHarness, type Harness } from './helpers/harness.js';
import { photo, pixelAt } from './helpers/images.js';
import { solidJpeg } from './helpers/server-process.js';

interface BatchAnswer {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: any;
}

describe('JSON batching', () => {
  let h: Harness;
  let appAuth: { authorization: string };
  let readerAuth: { authorization: string };
  let adele: string;
  let megan: string;
  let carol: string;
  let adeleEtag: string;

  before(async () => {
    h = await createHarness();
    adele = (await h.user('adele@contoso.com')).id;
    megan = (await h.user('megan@contoso.com')).id;
    carol = (await h.user('carol@contoso.com')).id;
    appAuth = { authorization: `Bearer ${await h.appToken(['User.ReadWrite.All'])}` };
    readerAuth = { authorization: `Bearer ${await h.appToken(['User.Read.All'])}` };
    const put = await h.app.inject({ method: 'PUT', url: `/v1.0/users/${adele}/photo/$value`, headers: appAuth, payload: photo('exif-org-nikon-e950.jpg') });
    assert.equal(put.statusCode, 200);
    adeleEtag = put.headers.etag as string;
  });
  after(() => h.close());

  async function batch(requests: unknown, options: { auth?: Record<string, string>; url?: string } = {}) {
    const payload = typeof requests === 'string' ? requests : JSON.stringify({ requests });
    return h.app.inject({
      method: 'POST',
      url: options.url ?? '/v1.0/$batch',
      headers: { ...(options.auth ?? appAuth), 'content-type': 'application/json' },
      payload,
    });
  }

  async function answers(requests: unknown, options: { auth?: Record<string, string>; url?: string } = {}): Promise<BatchAnswer[]> {
    const res = await batch(requests, options);
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    return res.json().responses;
  }

  const byId = (list: BatchAnswer[], id: string) => list.find((a) => a.id === id) as BatchAnswer;

  it('a people picker: several photos in one request, bytes base64 with Content-Type and ETag, a missing one as a Graph 404', async () => {
    const list = await answers([
      { id: '1', method: 'GET', url: `/users/${adele}/photo/$value` },
      { id: '2', method: 'GET', url: `/users/${megan}/photo/$value` },
      { id: '3', method: 'GET', url: `/users/${adele}/photos/48x48/$value` },
    ]);
    assert.deepEqual(list.map((a) => a.id), ['1', '2', '3']);
    const [full, missing, small] = list as [BatchAnswer, BatchAnswer, BatchAnswer];
    assert.equal(full.status, 200);
    assert.equal(full.headers['Content-Type'], 'image/jpeg');
    assert.equal(full.headers.ETag, adeleEtag);
    const bytes = Buffer.from(full.body, 'base64');
    const direct = await h.app.inject({ method: 'GET', url: `/v1.0/users/${adele}/photo/$value`, headers: appAuth });
    assert.deepEqual(bytes, direct.rawPayload, 'the same bytes as a GET of its own');
    assert.equal(missing.status, 404);
    assert.match(missing.headers['Content-Type'] ?? '', /^application\/json/);
    assert.equal(missing.body.error.code, 'ImageNotFound');
    assert.equal(missing.body.error.message, "The photo wasn't found.");
    const meta = await sharp(Buffer.from(small.body, 'base64')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 48, 48]);
  });

  it('JSON answers come back as JSON, their @odata.context on the batch’s own origin and version', async () => {
    const list = await answers(
      [
        { id: 'meta', method: 'GET', url: `/users/${adele}/photo` },
        { id: 'list', method: 'GET', url: `users/${adele}/photos` },
      ],
      { url: '/beta/$batch' },
    );
    const meta = byId(list, 'meta');
    assert.equal(meta.status, 200);
    assert.equal(meta.body['@odata.mediaEtag'], adeleEtag);
    assert.equal(meta.body.id, '504X504');
    assert.equal(meta.body['@odata.context'], `http://localhost:80/beta/$metadata#users('${adele}')/photo/$entity`);
    assert.equal(byId(list, 'list').body.value.length, 8, 'an 800×600 photo has eight of the nine sizes');
  });

  it('a request’s own headers count: If-None-Match with the current ETag answers 304 with no body', async () => {
    const [answer] = await answers([{ id: 'r', method: 'GET', url: `/users/${adele}/photo/$value`, headers: { 'If-None-Match': adeleEtag } }]);
    assert.equal(answer?.status, 304);
    assert.equal(answer?.body, undefined);
    assert.equal(answer?.headers.ETag, adeleEtag);
  });

  it('uploads inside a batch (base64 body with a Content-Type), then reads it back in order with dependsOn', async () => {
    const red = await solidJpeg([220, 20, 20], 300);
    const list = await answers([
      { id: 'read', method: 'GET', url: `/users/${carol}/photos/48x48/$value`, dependsOn: ['resize'] },
      { id: 'put', method: 'PUT', url: `/users/${carol}/photo/$value`, headers: { 'Content-Type': 'image/jpeg' }, body: red.toString('base64') },
      {
        id: 'resize',
        method: 'PATCH',
        url: `/v1.0/users/${carol}/photo`,
        headers: { 'content-type': 'application/json' },
        body: { width: 99, height: 99 },
        dependsOn: ['put'],
      },
    ]);
    assert.deepEqual(list.map((a) => [a.id, a.status]), [['read', 200], ['put', 200], ['resize', 200]]);
    assert.equal(byId(list, 'resize').body.id, '99X99');
    const pixel = await pixelAt(Buffer.from(byId(list, 'read').body, 'base64'), 24, 24);
    assert.ok(pixel[0] > 180 && pixel[1] < 70 && pixel[2] < 70, `red, got ${pixel}`);
    const meta = await h.app.inject({ method: 'GET', url: `/v1.0/users/${carol}/photo`, headers: appAuth });
    assert.equal(meta.json().id, '99X99', 'the batch changed the stored photo');
  });

  it('a failed dependency: the dependants are not run and answer 424, the independent ones run', async () => {
    const before = await h.app.inject({ method: 'GET', url: `/v1.0/users/${adele}/photo`, headers: appAuth });
    const list = await answers([
      { id: 'bad', method: 'PUT', url: `/users/${adele}/photo/$value`, headers: { 'content-type': 'image/jpeg' }, body: Buffer.from('not an image').toString('base64') },
      { id: 'delete', method: 'DELETE', url: `/users/${adele}/photo`, dependsOn: ['bad'] },
      { id: 'after-delete', method: 'GET', url: `/users/${adele}/photo`, dependsOn: ['delete'] },
      { id: 'alone', method: 'GET', url: `/users/${adele}/photo` },
    ]);
    assert.equal(byId(list, 'bad').status, 400);
    assert.equal(byId(list, 'bad').body.error.code, 'UnsupportedImageFormat');
    for (const id of ['delete', 'after-delete']) {
      const answer = byId(list, id);
      assert.equal(answer.status, 424, id);
      assert.equal(answer.body.error.code, 'FailedDependency');
      assert.match(answer.body.error.innerError['request-id'], /^[0-9a-f-]{36}$/);
    }
    assert.match(byId(list, 'delete').body.error.message, /'bad'/);
    assert.equal(byId(list, 'alone').status, 200);
    const now = await h.app.inject({ method: 'GET', url: `/v1.0/users/${adele}/photo`, headers: appAuth });
    assert.equal(now.statusCode, 200, 'the DELETE never ran');
    assert.equal(now.json()['@odata.mediaEtag'], before.json()['@odata.mediaEtag']);
  });

  it('each request is authorized on its own: a reader’s write answers 403 inside a 200 batch', async () => {
    const list = await answers(
      [
        { id: 'read', method: 'GET', url: `/users/${adele}/photo` },
        { id: 'write', method: 'DELETE', url: `/users/${adele}/photo` },
        { id: 'other', method: 'GET', url: '/groups' },
      ],
      { auth: readerAuth },
    );
    assert.equal(byId(list, 'read').status, 200);
    assert.equal(byId(list, 'write').status, 403);
    assert.equal(byId(list, 'write').body.error.code, 'Authorization_RequestDenied');
    assert.match(byId(list, 'write').body.error.message, /User\.ReadWrite\.All/);
    assert.equal(byId(list, 'other').status, 403);
  });

  it('a request’s Authorization header is ignored: the batch’s token is the one used', async () => {
    const list = await answers(
      [{ id: 'x', method: 'DELETE', url: `/users/${adele}/photo`, headers: { authorization: appAuth.authorization } }],
      { auth: readerAuth },
    );
    assert.equal(list[0]?.status, 403);
  });

  it('unknown paths and methods a path does not allow answer inside the batch, as alone', async () => {
    const list = await answers([
      { id: 'path', method: 'GET', url: '/nothing/here' },
      { id: 'method', method: 'POST', url: `/users/${adele}/photo` },
    ]);
    assert.equal(byId(list, 'path').status, 400);
    assert.equal(byId(list, 'path').body.error.code, 'BadRequest');
    assert.equal(byId(list, 'method').status, 405);
    assert.match(byId(list, 'method').headers.Allow ?? '', /PATCH/);
  });

  it('twenty requests are allowed; the route is case-insensitive like Graph’s segments', async () => {
    const twenty = Array.from({ length: 20 }, (_, i) => ({ id: `r${i}`, method: 'GET', url: `/users/${adele}/photos/${[48, 64, 96, 120][i % 4]}x${[48, 64, 96, 120][i % 4]}/$value` }));
    const list = await answers(twenty, { url: '/V1.0/$BATCH' });
    assert.equal(list.length, 20);
    assert.ok(list.every((a) => a.status === 200 && a.headers['Content-Type'] === 'image/jpeg'));
  });

  describe('errors of the batch as a whole: 4xx in Graph’s envelope, and nothing in it runs', () => {
    const bad = async (requests: unknown, status: number, message: RegExp, options: { auth?: Record<string, string> } = {}) => {
      const res = await batch(requests, options);
      assert.equal(res.statusCode, status, res.body);
      const body = res.json();
      assert.equal(body.error.code, status === 401 ? 'InvalidAuthenticationToken' : status === 413 ? 'RequestEntityTooLarge' : 'BadRequest');
      assert.match(body.error.message, message);
      assert.ok(body.error.innerError['request-id']);
      return res;
    };
    const aPut = (id: string) => ({ id, method: 'PUT', url: `/users/${megan}/photo/$value`, headers: { 'content-type': 'image/jpeg' }, body: photo('exif-org-nikon-e950.jpg').toString('base64') });

    it('no token or a bad one: 401 for the whole batch', async () => {
      await bad([aPut('1')], 401, /Access token is empty/, { auth: {} });
      await bad([aPut('1')], 401, /validation failure/, { auth: { authorization: 'Bearer nope' } });
    });

    it('not JSON, not an object with requests, or no requests: 400', async () => {
      await bad('{"requests": [', 400, /^Invalid batch payload: the body is not JSON\.$/);
      await bad('[1,2]', 400, /'requests' array/);
      await bad('{"requests": {}}', 400, /'requests' array/);
      await bad([], 400, /'requests' is empty/);
      await bad(['GET /me'], 400, /request 1 is not an object/);
    });

    it('more than twenty requests: 400 naming the limit', async () => {
      const many = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/me' }));
      await bad(many, 400, /The batch has 21 requests; at most 20 are allowed\./);
    });

    it('bad ids, methods, urls, headers and bodies name the request', async () => {
      await bad([aPut('1'), aPut('1')], 400, /the id '1' is used by more than one request/);
      await bad([aPut('1'), { method: 'GET', url: '/me' }], 400, /request 2 needs an 'id'/);
      await bad([aPut('1'), { id: 'x', method: 'TRACE', url: '/me' }], 400, /request 'x' needs a 'method'/);
      await bad([aPut('1'), { id: 'x', method: 'GET', url: 'https://graph.microsoft.com/v1.0/me' }], 400, /request 'x' has an absolute url/);
      await bad([aPut('1'), { id: 'x', method: 'GET', url: '/me photo' }], 400, /request 'x' needs a 'url'/);
      // A batch reaches the Graph API only: no stepping out of it to /healthz or the token endpoint.
      for (const url of ['/../healthz', 'me/../../healthz', '/%2E%2e/healthz', '/.%2e/x', '/./me', '/me\\..\\..\\healthz']) {
        await bad([aPut('1'), { id: 'x', method: 'GET', url }], 400, /request 'x' has '\.' or '\.\.' segments or a backslash/);
      }
      await bad([aPut('1'), { id: 'x', method: 'POST', url: '/$batch', headers: { 'content-type': 'application/json' }, body: { requests: [] } }], 400, /cannot be nested/);
      await bad([aPut('1'), { id: 'x', method: 'GET', url: '/me', headers: { 'if-none-match': 5 } }], 400, /the header 'if-none-match' of request 'x'/);
      await bad([aPut('1'), { id: 'x', method: 'PUT', url: `/users/${megan}/photo/$value`, body: 'AAAA' }], 400, /request 'x' has a body but no Content-Type header/);
      await bad([aPut('1'), { id: 'x', method: 'PUT', url: `/users/${megan}/photo/$value`, headers: { 'content-type': 'image/png' }, body: 'not base64!' }], 400, /the image\/png body of request 'x' must be a base64 string/);
    });

    it('dependsOn naming no request of the batch, itself, or making a cycle: 400', async () => {
      await bad([aPut('1'), { id: 'x', method: 'GET', url: '/me', dependsOn: ['nope'] }], 400, /request 'x' depends on 'nope', which is not in the batch/);
      await bad([aPut('1'), { id: 'x', method: 'GET', url: '/me', dependsOn: ['x'] }], 400, /request 'x' depends on itself/);
      await bad(
        [aPut('1'), { id: 'a', method: 'GET', url: '/me', dependsOn: ['b'] }, { id: 'b', method: 'GET', url: '/me', dependsOn: ['a'] }],
        400,
        /depends on itself through dependsOn/,
      );
      await bad([aPut('1'), { id: 'x', method: 'GET', url: '/me', dependsOn: 'a' }], 400, /'dependsOn' of request 'x' must be an array/);
    });

    it('a body over 4 MB: 413', async () => {
      const huge = [{ id: 'x', method: 'PUT', url: `/users/${megan}/photo/$value`, headers: { 'content-type': 'image/jpeg' }, body: Buffer.alloc(3_200_000).toString('base64') }];
      await bad(huge, 413, /exceeds the 4194304-byte limit/);
    });

    it('after all of these, the PUT that came first in each batch never ran', async () => {
      const res = await h.app.inject({ method: 'GET', url: `/v1.0/users/${megan}/photo`, headers: appAuth });
      assert.equal(res.statusCode, 404);
    });

    it('GET /$batch: 405 with Allow: POST', async () => {
      const res = await h.app.inject({ method: 'GET', url: '/v1.0/$batch', headers: appAuth });
      assert.equal(res.statusCode, 405);
      assert.equal(res.headers.allow, 'POST');
      assert.equal(res.json().error.code, 'Request_BadRequest');
    });
  });
});
