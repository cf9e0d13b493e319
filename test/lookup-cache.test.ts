// Directory lookups cached for photo reads: bounded, short-lived, and forgotten
// when this node deletes what they point to.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LookupCache } from '../src/directory/lookup-cache.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { photo } from './helpers/images.js';

describe('LookupCache', () => {
  it('forgets an entry after its time to live', () => {
    const cache = new LookupCache<string>(10, 1000);
    cache.set('k', 'v', 0);
    assert.equal(cache.get('k', 999), 'v');
    assert.equal(cache.get('k', 1000), undefined);
  });

  it('holds at most its number of entries, dropping the oldest', () => {
    const cache = new LookupCache<number>(2, 1000);
    cache.set('a', 1, 0);
    cache.set('b', 2, 0);
    cache.set('c', 3, 0);
    assert.equal(cache.get('a', 1), undefined);
    assert.equal(cache.get('b', 1), 2);
    assert.equal(cache.get('c', 1), 3);
  });
});

describe('photo reads after a delete on this node', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness();
  });
  after(() => h.close());

  it('a deleted user is unknown at once, though their photo was just read', async () => {
    const auth = { authorization: `Bearer ${await h.appToken(['User.ReadWrite.All', 'Group.ReadWrite.All'])}` };
    const bob = await h.user('bob@contoso.com');
    const put = await h.app.inject({ method: 'PUT', url: `/v1.0/users/${bob.id}/photo/$value`, headers: auth, payload: photo('Canon_40D.jpg') });
    assert.equal(put.statusCode, 200);
    for (const path of [bob.id, 'bob@contoso.com']) {
      const read = await h.app.inject({ method: 'GET', url: `/v1.0/users/${path}/photo/$value`, headers: auth });
      assert.equal(read.statusCode, 200);
    }
    const del = await h.app.inject({ method: 'DELETE', url: `/v1.0/users/${bob.id}`, headers: auth });
    assert.equal(del.statusCode, 204);
    for (const path of [bob.id, 'bob@contoso.com']) {
      const read = await h.app.inject({ method: 'GET', url: `/v1.0/users/${path}/photo/$value`, headers: auth });
      assert.equal(read.statusCode, 404);
      assert.equal(read.json().error.code, 'Request_ResourceNotFound');
    }
  });

  it('a deleted group is unknown at once, through its team too', async () => {
    const auth = { authorization: `Bearer ${await h.appToken(['Group.ReadWrite.All'])}` };
    const created = await h.app.inject({ method: 'POST', url: '/v1.0/groups', headers: auth, payload: { displayName: 'Design' } });
    const id = created.json().id as string;
    assert.equal((await h.app.inject({ method: 'PUT', url: `/v1.0/groups/${id}/team`, headers: auth, payload: {} })).statusCode, 201);
    assert.equal((await h.app.inject({ method: 'PUT', url: `/v1.0/groups/${id}/photo/$value`, headers: auth, payload: photo('Nikon_D70.jpg') })).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'GET', url: `/v1.0/teams/${id}/photo/$value`, headers: auth })).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'DELETE', url: `/v1.0/groups/${id}`, headers: auth })).statusCode, 204);
    for (const url of [`/v1.0/groups/${id}/photo/$value`, `/v1.0/teams/${id}/photo/$value`]) {
      const read = await h.app.inject({ method: 'GET', url, headers: auth });
      assert.equal(read.statusCode, 404, url);
      assert.equal(read.json().error.code, 'Request_ResourceNotFound');
    }
  });
});
