// The core round trip a client makes: put a photo, read its metadata, bytes and
// sizes, revalidate, delete — over Fastify's inject, with real images.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { createHarness, type Harness } from './helpers/harness.js';
import { photo } from './helpers/images.js';

describe('a user photo round trip', () => {
  let h: Harness;
  let auth: { authorization: string };
  let userId: string;
  before(async () => {
    h = await createHarness();
    const alice = await h.user('alice@contoso.com');
    userId = alice.id;
    auth = { authorization: `Bearer ${await h.userToken(alice, ['User.ReadWrite'])}` };
  });
  after(() => h.close());

  it('has no photo at first: 404 ImageNotFound in the Graph envelope', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo', headers: { ...auth, 'client-request-id': 'abc-123' } });
    assert.equal(res.statusCode, 404);
    const body = res.json();
    assert.equal(body.error.code, 'ImageNotFound');
    assert.equal(body.error.message, "The photo wasn't found.");
    assert.equal(body.error.innerError['client-request-id'], 'abc-123');
    assert.equal(body.error.innerError['request-id'], res.headers['request-id']);
    assert.match(body.error.innerError.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });

  it('takes a JPEG sent as application/json (the JS client default) and serves it back resized', async () => {
    const put = await h.app.inject({
      method: 'PUT',
      url: '/v1.0/me/photo/$value',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: photo('exif-org-nikon-e950.jpg'),
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(put.body, '');
    const etag = put.headers.etag as string;
    assert.match(etag, /^"[0-9A-F]{16}"$/);

    const meta = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo', headers: auth });
    assert.equal(meta.statusCode, 200);
    assert.deepEqual(meta.json(), {
      '@odata.context': `http://localhost:80/v1.0/$metadata#users('${userId}')/photo/$entity`,
      '@odata.id': `http://localhost:80/v1.0/users('${userId}')/photo`,
      '@odata.mediaContentType': 'image/jpeg',
      '@odata.mediaEtag': etag,
      id: '504X504',
      width: 504,
      height: 504,
    });
    assert.equal(meta.headers['cache-control'], 'private, no-cache');

    const value = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo/$value', headers: auth });
    assert.equal(value.statusCode, 200);
    assert.equal(value.headers['content-type'], 'image/jpeg');
    assert.equal(value.headers.etag, etag);
    const info = await sharp(value.rawPayload).metadata();
    assert.equal(info.format, 'jpeg');
    assert.equal(info.width, 504);
    assert.equal(info.height, 504);

    const notModified = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo/$value', headers: { ...auth, 'if-none-match': etag } });
    assert.equal(notModified.statusCode, 304);
    assert.equal(notModified.body, '');
  });

  it('lists the sizes and serves each one', async () => {
    const list = await h.app.inject({ method: 'GET', url: `/v1.0/users/${userId}/photos`, headers: auth });
    assert.equal(list.statusCode, 200, list.body);
    const ids = list.json().value.map((p: { id: string }) => p.id);
    assert.deepEqual(ids, ['48X48', '64X64', '96X96', '120X120', '240X240', '360X360', '432X432', '504X504']);
    const small = await h.app.inject({ method: 'GET', url: `/v1.0/users/${userId}/photos/48x48/$value`, headers: auth });
    assert.equal(small.statusCode, 200);
    const meta = await sharp(small.rawPayload).metadata();
    assert.equal(meta.width, 48);
    const missing = await h.app.inject({ method: 'GET', url: `/v1.0/users/${userId}/photos/648x648`, headers: auth });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'ImageNotFound');
  });

  it('deletes it', async () => {
    const del = await h.app.inject({ method: 'DELETE', url: '/v1.0/me/photo', headers: auth });
    assert.equal(del.statusCode, 200);
    const gone = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo/$value', headers: auth });
    assert.equal(gone.statusCode, 404);
  });
});
