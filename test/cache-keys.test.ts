// What a client sends never becomes a cache key, and the code that changes a thing
// tells every cache of it. Query strings, padding and Host headers are the client's
// to choose: reads that differ only in them must not add memos or cache entries. And
// a user or group removed through the directory — not through an HTTP handler that
// remembers to clear something — is never served from a cache again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHarness, type Harness } from './helpers/harness.js';
import { photo } from './helpers/images.js';

describe('cache keys hold only what the answer depends on', () => {
  let h: Harness;
  let auth: { authorization: string };
  let userId: string;

  before(async () => {
    h = await createHarness({ database: 'sqlite' });
    const alice = await h.user('alice@contoso.com');
    userId = alice.id;
    auth = { authorization: `Bearer ${await h.userToken(alice, ['User.ReadWrite'])}` };
    const put = await h.app.inject({ method: 'PUT', url: '/v1.0/me/photo/$value', headers: auth, payload: photo('exif-org-canon-ixus.jpg') });
    assert.equal(put.statusCode, 200, put.body);
  });
  after(() => h.close());

  it('reads with ever new query strings and padding add no memo and no cache entry', async () => {
    const first = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo/$value', headers: auth });
    assert.equal(first.statusCode, 200);
    const memos = h.hotReads?.size;
    const cached = h.photoCache.bytes;
    assert.equal(typeof memos, 'number', 'a SQLite harness has the read fast path');
    const pad = 'x'.repeat(14 * 1024);
    for (let n = 0; n < 2000; n++) {
      const res = await h.app.inject({ method: 'GET', url: `/v1.0/me/photo/$value?n=${n}&pad=${pad}`, headers: auth });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers.etag, first.headers.etag);
      if (n % 500 === 0) assert.ok(res.rawPayload.equals(first.rawPayload), 'the same bytes whatever the query string');
    }
    assert.equal(h.hotReads?.size, memos, 'each query string was remembered by the read fast path');
    assert.equal(h.photoCache.bytes, cached, 'the photo cache grew with query strings');
  });

  it('metadata read through ever new Host headers is one cache entry, and each answer names its own host', async () => {
    const warm = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo', headers: { ...auth, host: 'photos.example' } });
    assert.equal(warm.statusCode, 200, warm.body);
    const cached = h.photoCache.bytes;
    for (let n = 0; n < 300; n++) {
      const host = `h${n}-${'p'.repeat(200)}.example`;
      const res = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo', headers: { ...auth, host } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as Record<string, unknown>;
      assert.equal(body['@odata.context'], `http://${host}/v1.0/$metadata#users('${userId}')/photo/$entity`);
      assert.equal(body.id, (warm.json() as Record<string, unknown>).id);
      assert.equal(res.headers['content-length'], String(res.rawPayload.length));
    }
    assert.equal(h.photoCache.bytes, cached, 'the photo cache keeps a metadata answer per Host');
  });

  // The cache chains an owner's entries and walks the chain on every read (photo-cache.ts):
  // spellings of the owner must not lengthen it.
  it('the owner spelt many ways (UPN in any case, id in upper case) adds no cache entry', async () => {
    const spellings = (n: number): string[] => {
      const upn = 'alice@contoso.com';
      const mixed = [...upn].map((c, i) => ((n >> i % 16) & 1 ? c.toUpperCase() : c)).join('');
      return [mixed, n % 2 ? userId.toUpperCase() : userId, `('${mixed}')`];
    };
    for (const tail of ['photo/$value', 'photo']) {
      const warm = await h.app.inject({ method: 'GET', url: `/v1.0/users/${userId}/${tail}`, headers: auth });
      assert.equal(warm.statusCode, 200, warm.body);
      const entries = h.photoCache.entries;
      for (let n = 0; n < 100; n++) {
        for (const owner of spellings(n)) {
          const url = owner.startsWith('(') ? `/v1.0/users${owner}/${tail}` : `/v1.0/users/${owner}/${tail}`;
          const res = await h.app.inject({ method: 'GET', url, headers: auth });
          assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
          assert.equal(res.headers.etag, warm.headers.etag);
        }
      }
      assert.equal(h.photoCache.entries, entries, `${tail}: the photo cache grew with spellings of its owner`);
    }
  });

  it('a Host that needs escaping in JSON is escaped in @odata.context, not spliced raw', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v1.0/me/photo', headers: { ...auth, host: 'a\\b' } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((res.json() as Record<string, unknown>)['@odata.context'], `http://a\\b/v1.0/$metadata#users('${userId}')/photo/$entity`);
  });
});

describe('the directory tells the photo cache what it removed', () => {
  // Over a real socket, so that the read fast path (which answers in front of the route,
  // from the photo cache) is in play, as in `portrait serve`.
  let h: Harness;
  let base: string;
  let auth: { authorization: string };

  before(async () => {
    h = await createHarness({ database: 'sqlite' });
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    auth = { authorization: `Bearer ${await h.appToken(['User.ReadWrite.All', 'Group.ReadWrite.All'])}` };
  });
  after(() => h.close());

  async function status(method: string, url: string, body?: Buffer | string): Promise<number> {
    const res = await fetch(`${base}${url}`, { method, headers: { ...auth, ...(typeof body === 'string' && { 'content-type': 'application/json' }) }, ...(body !== undefined && { body }) });
    await res.arrayBuffer();
    return res.status;
  }

  it('a user removed through the directory itself is never served from a cache again', async () => {
    const bob = await h.user('bob@contoso.com');
    const url = `/v1.0/users/${bob.id}/photo/$value`;
    assert.equal(await status('PUT', url, photo('Canon_40D.jpg')), 200);
    for (let i = 0; i < 3; i++) assert.equal(await status('GET', url), 200);

    // Not through DELETE /users/{id}: whoever removes a user, the caches hear of it.
    await h.directory.deleteUser(h.tenantId, bob.id);
    assert.equal(await status('GET', url), 404, "a removed user's photo was served from a cache");
  });

  it('a group removed through the directory itself is never served from a cache again', async () => {
    const created = await fetch(`${base}/v1.0/groups`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Cached' }),
    });
    assert.equal(created.status, 201);
    const groupId = ((await created.json()) as { id: string }).id;
    const url = `/v1.0/groups/${groupId}/photo/$value`;
    assert.equal(await status('PUT', url, photo('Nikon_D70.jpg')), 200);
    for (let i = 0; i < 3; i++) assert.equal(await status('GET', url), 200);

    await h.directory.deleteGroup(h.tenantId, groupId);
    assert.equal(await status('GET', url), 404, "a removed group's photo was served from a cache");
  });
});
