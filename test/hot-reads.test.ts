// The read fast path (src/http/hot-reads.ts): a photo read answered before with the
// same token and URL is answered from the photo cache in front of Fastify. A client
// must never be able to tell — same status, headers and bytes — and it must never
// outlive what the route decided: the photo, the token, the directory. It sits in
// front of the server, so these tests go through a real socket (inject bypasses it).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { lookup } from 'node:dns/promises';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { issueToken } from '../src/auth/built-in-issuer.js';
import { closeOthers, listenOnAll, type Listening } from '../src/cli/listen.js';
import { createHarness, type Harness } from './helpers/harness.js';
import type { User } from '../src/storage/store.js';
import { photo, solid } from './helpers/images.js';

interface Answer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly rawPayload: Buffer;
  readonly body: string;
  json(): any;
}

/** A request over the harness's real socket, answered as a client sees it. */
async function send(
  base: string,
  method: string,
  url: string,
  headers: Record<string, string> = {},
  payload?: Buffer | string | object,
): Promise<Answer> {
  const body = payload === undefined || Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : JSON.stringify(payload);
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { ...(typeof payload === 'object' && !Buffer.isBuffer(payload) && { 'content-type': 'application/json' }), ...headers },
    ...(body !== undefined && { body }),
  });
  const rawPayload = Buffer.from(await res.arrayBuffer());
  return {
    statusCode: res.status,
    headers: Object.fromEntries(res.headers),
    rawPayload,
    body: rawPayload.toString(),
    json: () => JSON.parse(rawPayload.toString()),
  };
}

/** A GET with headers fetch will not send (Host). */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** What a client sees of an answer, less what differs on every request. */
function seen(res: Answer): { status: number; headers: Record<string, unknown>; body: string } {
  const { date: _date, 'request-id': _requestId, 'client-request-id': _clientRequestId, ...headers } = res.headers;
  return { status: res.statusCode, headers, body: res.rawPayload.toString('base64') };
}

describe('the read fast path', () => {
  let h: Harness;
  let base: string;
  let now: number | undefined;
  let auth: { authorization: string };
  let userId: string;
  const url = () => `/v1.0/users/${userId}/photos/240x240/$value`;
  const served = () => h.hotReads?.served ?? Number.NaN;

  before(async () => {
    // SQLite, as `portrait serve` has it: on a shared PostgreSQL there is no fast path.
    h = await createHarness({ database: 'sqlite', hotReadsClock: () => now ?? Date.now() });
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const alice = await h.user('alice@contoso.com');
    userId = alice.id;
    auth = { authorization: `Bearer ${await h.userToken(alice, ['User.ReadWrite', 'User.ReadBasic.All', 'Contacts.ReadWrite'])}` };
    const put = await send(base, 'PUT', '/v1.0/me/photo/$value', auth, photo('exif-org-canon-ixus.jpg'));
    assert.equal(put.statusCode, 200, put.body);
  });
  beforeEach(() => {
    now = undefined;
  });
  after(() => h.close());

  it('answers a repeated read exactly as the route did, and only the repeat', async () => {
    assert.ok(h.hotReads, 'a SQLite harness has the fast path, as portrait serve does');
    const before = served();
    const first = await send(base, 'GET', url(), auth);
    assert.equal(served(), before, 'a first read goes through the route');
    const second = await send(base, 'GET', url(), auth);
    assert.equal(served(), before + 1, 'the repeat is answered by the fast path');
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['content-type'], 'image/jpeg');
    assert.deepEqual(seen(second), seen(first));
    assert.match(second.headers['request-id'] as string, /^[0-9a-f-]{36}$/);
    assert.notEqual(second.headers['request-id'], first.headers['request-id']);
  });

  it('answers If-None-Match with the same 304, and echoes the client-request-id', async () => {
    const etag = (await send(base, 'GET', url(), auth)).headers.etag as string;
    const before = served();
    const res = await send(base, 'GET', url(), { ...auth, 'if-none-match': etag, 'client-request-id': 'picker-7' });
    assert.equal(served(), before + 1);
    assert.equal(res.statusCode, 304);
    assert.equal(res.body, '');
    assert.equal(res.headers.etag, etag);
    assert.equal(res.headers['cache-control'], 'private, no-cache');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['client-request-id'], 'picker-7');
    assert.equal(res.headers['content-length'], undefined);

    const other = await send(base, 'GET', url(), { ...auth, 'if-none-match': '"0000000000000000"' });
    assert.equal(other.statusCode, 200);
    assert.equal(other.headers.etag, etag);
  });

  it('answers a repeated metadata read with the same JSON, for the Host it was asked by', async () => {
    const meta = '/v1.0/me/photo';
    const first = await send(base, 'GET', meta, auth);
    const before = served();
    const second = await send(base, 'GET', meta, auth);
    assert.equal(served(), before + 1);
    assert.equal(first.statusCode, 200);
    assert.deepEqual(seen(second), seen(first));
    assert.equal(first.json()['@odata.context'], `${base}/v1.0/$metadata#users('${userId}')/photo/$entity`);
    assert.equal(first.json()['@odata.mediaEtag'], first.headers.etag);

    // Another Host: another @odata.context, from the route.
    const other = await rawGet(base, meta, { ...auth, host: 'photos.example.test' });
    assert.equal(other.status, 200);
    assert.equal(JSON.parse(other.body)['@odata.context'], `http://photos.example.test/v1.0/$metadata#users('${userId}')/photo/$entity`);
    assert.equal(served(), before + 1);

    // $select is answered by the route every time.
    const selected = await send(base, 'GET', `${meta}?$select=id`, auth);
    const again = await send(base, 'GET', `${meta}?$select=id`, auth);
    assert.deepEqual(again.json(), selected.json());
    assert.deepEqual(Object.keys(selected.json()).sort(), ['@odata.context', '@odata.id', '@odata.mediaContentType', '@odata.mediaEtag', 'id']);
    assert.equal(served(), before + 1);
  });

  it('serves the new photo on the very next read after an update', async () => {
    await send(base, 'GET', url(), auth);
    const old = await send(base, 'GET', url(), auth);
    await send(base, 'GET', '/v1.0/me/photo', auth);
    await send(base, 'GET', '/v1.0/me/photo', auth);
    const put = await send(base, 'PUT', '/v1.0/me/photo/$value', auth, await solid(400, 400, [[200, 30, 30]]).jpeg().toBuffer());
    assert.equal(put.statusCode, 200);
    const next = await send(base, 'GET', url(), auth);
    const nextMeta = await send(base, 'GET', '/v1.0/me/photo', auth);
    assert.equal(nextMeta.json()['@odata.mediaEtag'], put.headers.etag);
    assert.equal(next.statusCode, 200);
    assert.equal(next.headers.etag, put.headers.etag);
    assert.notEqual(next.headers.etag, old.headers.etag);
    assert.notDeepEqual(next.rawPayload, old.rawPayload);
    const stale = await send(base, 'GET', url(), { ...auth, 'if-none-match': old.headers.etag as string });
    assert.equal(stale.statusCode, 200, 'the old ETag no longer matches');
  });

  it('never lends one token\'s answer to another, even one that ends alike', async () => {
    await send(base, 'GET', url(), auth);
    await send(base, 'GET', url(), auth);
    const before = served();

    // The same signature behind another payload: the key's slot matches, the token does not.
    const [header, payload, signature] = auth.authorization.slice('Bearer '.length).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, scp: 'User.ReadWrite.All' })).toString('base64url');
    const res = await send(base, 'GET', url(), { authorization: `Bearer ${header}.${forged}.${signature}` });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'InvalidAuthenticationToken');

    // A valid token without a permission to read other users' photos.
    const bob = await h.user('bob@contoso.com');
    const bobAuth = { authorization: `Bearer ${await h.userToken(bob, ['Contacts.Read'])}` };
    const denied = await send(base, 'GET', url(), bobAuth);
    assert.equal(denied.statusCode, 403);
    assert.equal(served(), before);

    const missing = await send(base, 'GET', url());
    assert.equal(missing.statusCode, 401);
  });

  it('answers only GET: HEAD and writes take the route', async () => {
    await send(base, 'GET', url(), auth);
    const before = served();
    const head = await send(base, 'HEAD', url(), auth);
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
    const patch = await send(base, 'PATCH', url(), auth, 'x');
    assert.equal(patch.statusCode, 405);
    assert.equal(served(), before);
  });

  it('stops at the end of the directory lookups\' reuse', async () => {
    await send(base, 'GET', url(), auth);
    const before = served();
    // The directory reuses a lookup for 30 s (lookup-cache.ts); the route answers after that.
    now = Date.now() + 31_000;
    const later = await send(base, 'GET', url(), auth);
    assert.equal(later.statusCode, 200);
    assert.equal(served(), before);
  });

  it('stops at the token\'s expiry', async () => {
    const token = await issueToken(h.issuerKey, {
      tenantId: h.tenantId,
      ttlSeconds: 10,
      subject: { kind: 'user', userId, userPrincipalName: 'alice@contoso.com', displayName: 'alice', scopes: ['User.Read'], admin: false },
    });
    const shortAuth = { authorization: `Bearer ${token}` };
    await send(base, 'GET', url(), shortAuth);
    const before = served();
    now = Date.now() + 5_000;
    await send(base, 'GET', url(), shortAuth);
    assert.equal(served(), before + 1, 'within the token\'s life the fast path answers');
    now = Date.now() + 11_000;
    await send(base, 'GET', url(), shortAuth);
    assert.equal(served(), before + 1, 'past its exp the route answers (and judges it with its clock skew)');
  });

  it('forgets a deleted user at once', async () => {
    const admin = await h.user('admin@contoso.com', { admin: true });
    const adminAuth = { authorization: `Bearer ${await h.userToken(admin, ['User.ReadWrite.All'], { admin: true })}` };
    const carol = await h.user('carol@contoso.com');
    const carolAuth = { authorization: `Bearer ${await h.userToken(carol, ['User.ReadWrite'])}` };
    await send(base, 'PUT', '/v1.0/me/photo/$value', carolAuth, photo('exif-org-canon-ixus.jpg'));
    const carolUrl = `/v1.0/users/${carol.userPrincipalName}/photo/$value`;
    assert.equal((await send(base, 'GET', carolUrl, adminAuth)).statusCode, 200);
    const before = served();
    assert.equal((await send(base, 'GET', carolUrl, adminAuth)).statusCode, 200);
    assert.equal(served(), before + 1, 'the fast path knew carol');

    const removed = await send(base, 'DELETE', `/v1.0/users/${carol.id}`, adminAuth);
    assert.equal(removed.statusCode, 204);
    const gone = await send(base, 'GET', carolUrl, adminAuth);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().error.code, 'Request_ResourceNotFound');
  });

  it('leaves contacts to the route (they are always read from the store)', async () => {
    const created = await send(base, 'POST', '/v1.0/me/contacts', auth, { givenName: 'Dan' });
    assert.equal(created.statusCode, 201, created.body);
    const contactUrl = `/v1.0/me/contacts/${created.json().id}/photo/$value`;
    const put = await send(base, 'PUT', contactUrl, auth, photo('exif-org-canon-ixus.jpg'));
    assert.equal(put.statusCode, 200, put.body);
    const before = served();
    assert.equal((await send(base, 'GET', contactUrl, auth)).statusCode, 200);
    assert.equal((await send(base, 'GET', contactUrl, auth)).statusCode, 200);
    assert.equal(served(), before);
  });
});

describe('the read fast path for URLs it has not seen (a token the route has answered)', () => {
  let h: Harness;
  let base: string;
  let now: number | undefined;
  const served = () => h.hotReads?.served ?? Number.NaN;
  let reader: { authorization: string };
  let adminAuth: { authorization: string };
  const people: User[] = [];
  let nobody: string;
  let groupId: string;

  before(async () => {
    h = await createHarness({ database: 'sqlite', hotReadsClock: () => now ?? Date.now() });
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const admin = await h.user('admin@contoso.com', { admin: true });
    adminAuth = { authorization: `Bearer ${await h.userToken(admin, ['User.ReadWrite.All', 'Group.ReadWrite.All'], { admin: true })}` };
    for (const [i, colour] of [[200, 30, 30], [30, 200, 30], [30, 30, 200]].entries()) {
      const person = await h.user(`person${i}@contoso.com`);
      const put = await send(base, 'PUT', `/v1.0/users/${person.id}/photo/$value`, adminAuth, await solid(300, 300, [colour as [number, number, number]]).jpeg().toBuffer());
      assert.equal(put.statusCode, 200, put.body);
      people.push(person);
    }
    nobody = (await h.user('nophoto@contoso.com')).id;
    const group = await send(base, 'POST', '/v1.0/groups', adminAuth, { displayName: 'Pickers', mailNickname: 'pickers', mailEnabled: false, securityEnabled: true });
    assert.equal(group.statusCode, 201, group.body);
    groupId = group.json().id;
    assert.equal((await send(base, 'PUT', `/v1.0/groups/${groupId}/photo/$value`, adminAuth, photo('exif-org-canon-ixus.jpg'))).statusCode, 200);
    reader = { authorization: `Bearer ${await h.appToken(['User.Read.All', 'Group.Read.All'])}` };
    // The route answers the token's first photo read, and grants it.
    assert.equal((await send(base, 'GET', `/v1.0/users/${people[0]!.id}/photo`, reader)).statusCode, 200);
  });
  beforeEach(() => {
    now = undefined;
  });
  after(() => h.close());

  /** The same read answered by the route: with a token the fast path has never seen. */
  async function byRoute(url: string, headers: Record<string, string> = {}): Promise<Answer> {
    // Another application's token: tokens issued alike within one second are the same string.
    const token = await issueToken(h.issuerKey, {
      tenantId: h.tenantId,
      ttlSeconds: 600,
      subject: { kind: 'app', appId: randomUUID(), name: 'another', roles: ['User.Read.All', 'Group.Read.All'] },
    });
    const fresh = { authorization: `Bearer ${token}` };
    const before = served();
    const res = await send(base, 'GET', url, { ...fresh, ...headers });
    assert.equal(served(), before, `${url} went through the route`);
    return res;
  }

  it('answers the first read of another owner\'s photo and sizes exactly as the route does', async () => {
    for (const url of [
      `/v1.0/users/${people[1]!.id}/photo/$value`,
      `/beta/users/${people[2]!.id}/photos/48x48/$value`,
      `/v1.0/groups/${groupId}/photos/96x96/$value`,
      `/v1.0/groups/${groupId}/photo/$value`,
    ]) {
      const before = served();
      const fast = await send(base, 'GET', url, reader);
      assert.equal(served(), before + 1, `${url} answered by the fast path`);
      assert.equal(fast.statusCode, 200);
      assert.deepEqual(seen(fast), seen(await byRoute(url)));
    }
    // The bytes are each owner's own: three colours, three different photos.
    const bodies = new Set<string>();
    for (const person of people) bodies.add((await send(base, 'GET', `/v1.0/users/${person.id}/photo/$value`, reader)).rawPayload.toString('base64'));
    assert.equal(bodies.size, 3);
  });

  it('answers If-None-Match with the route\'s 304', async () => {
    const url = `/v1.0/users/${people[2]!.id}/photos/64x64/$value`;
    const etag = (await byRoute(url)).headers.etag as string;
    const before = served();
    const res = await send(base, 'GET', url, { ...reader, 'if-none-match': etag, 'client-request-id': 'grid-3' });
    assert.equal(served(), before + 1);
    assert.deepEqual(seen(res), seen(await byRoute(url, { 'if-none-match': etag })));
    assert.equal(res.statusCode, 304);
    assert.equal(res.headers['client-request-id'], 'grid-3');
  });

  it('leaves to the route what it cannot vouch for: no photo, no such size, no such owner, other spellings', async () => {
    const id = people[1]!.id;
    const cases: [string, number][] = [
      [`/v1.0/users/${nobody}/photo/$value`, 404],
      [`/v1.0/users/${id}/photos/47x47/$value`, 404],
      [`/v1.0/users/${id}/photos/048x48/$value`, 404],
      [`/v1.0/users/00000000-0000-0000-0000-000000000000/photo/$value`, 404],
      [`/v1.0/groups/${id}/photo/$value`, 404],
      [`/v1.0/users/${id.toUpperCase()}/photo/$value`, 200],
      [`/v1.0/users/${people[1]!.userPrincipalName}/photo/$value`, 200],
      [`/v1.0/users('${id}')/photo/$value`, 200],
      [`/v1.0/users/${id}/photo/$value?x=1`, 200],
      [`/v1.0/users/${id}/PHOTO/$value`, 200],
      [`/v1.0/users/${id}/photo/48x48/$value`, 200],
      [`/v1.0/users/${id}/photo/$value/`, 200],
      [`/v1.0/users/${id}%2Fphoto/$value`, 400],
      [`/v1.0/users/${id}/photos/48x48`, 200],
      [`/v1.0/me/photo/$value`, 400],
    ];
    for (const [url, status] of cases) {
      const before = served();
      const res = await send(base, 'GET', url, reader);
      assert.equal(served(), before, `${url} went through the route`);
      if (res.statusCode !== status) assert.fail(`${url}: ${res.statusCode} ${res.body}`);
      if (status !== 200) assert.ok(res.json().error.code, `${url} answers in Graph's envelope`);
    }
  });

  it('grants only what the token\'s permissions reach', async () => {
    // User.Read: the signed-in user's own photo, nobody else's.
    const me = people[0]!;
    const own = { authorization: `Bearer ${await h.userToken(me, ['User.Read'])}` };
    assert.equal((await send(base, 'GET', `/v1.0/me/photo`, own)).statusCode, 200);
    const before = served();
    assert.equal((await send(base, 'GET', `/v1.0/me/photos/48x48/$value`, own)).statusCode, 200);
    assert.equal((await send(base, 'GET', `/v1.0/users/${me.id}/photo/$value`, own)).statusCode, 200);
    assert.equal(served(), before + 2, 'its own photo, by /me and by id');
    const other = await send(base, 'GET', `/v1.0/users/${people[1]!.id}/photo/$value`, own);
    assert.equal(other.statusCode, 403);
    const group = await send(base, 'GET', `/v1.0/groups/${groupId}/photo/$value`, own);
    assert.equal(group.statusCode, 403);
    assert.equal(served(), before + 2);

    // An application token with users only: groups go to the route, which refuses.
    const usersOnly = { authorization: `Bearer ${await h.appToken(['User.Read.All'])}` };
    assert.equal((await send(base, 'GET', `/v1.0/users/${people[1]!.id}/photo`, usersOnly)).statusCode, 200);
    assert.equal((await send(base, 'GET', `/v1.0/groups/${groupId}/photo/$value`, usersOnly)).statusCode, 403);

    // A forged token ending in the granted token's signature.
    const [header, payload, signature] = reader.authorization.slice('Bearer '.length).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, tid: randomUUID() })).toString('base64url');
    const res = await send(base, 'GET', `/v1.0/users/${people[2]!.id}/photo/$value`, { authorization: `Bearer ${header}.${forged}.${signature}` });
    assert.equal(res.statusCode, 401);
  });

  it('serves a replaced photo and forgets a deleted one at once', async () => {
    const person = await h.user('changing@contoso.com');
    const url = `/v1.0/users/${person.id}/photo/$value`;
    assert.equal((await send(base, 'PUT', url, adminAuth, await solid(200, 200, [[9, 9, 9]]).jpeg().toBuffer())).statusCode, 200);
    const first = await send(base, 'GET', url, reader);
    const again = await send(base, 'GET', url, reader);
    assert.equal(again.headers.etag, first.headers.etag);
    const put = await send(base, 'PUT', url, adminAuth, await solid(200, 200, [[250, 250, 9]]).jpeg().toBuffer());
    const before = served();
    const next = await send(base, 'GET', url, reader);
    assert.equal(next.headers.etag, put.headers.etag);
    assert.notDeepEqual(next.rawPayload, first.rawPayload);
    assert.equal(served(), before + 1);

    assert.equal((await send(base, 'DELETE', `/v1.0/users/${person.id}/photo`, adminAuth)).statusCode, 200);
    const gone = await send(base, 'GET', url, reader);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().error.code, 'ImageNotFound');
    assert.equal((await send(base, 'PUT', url, adminAuth, await solid(200, 200, [[9, 9, 250]]).jpeg().toBuffer())).statusCode, 200);
    assert.equal((await send(base, 'DELETE', `/v1.0/users/${person.id}`, adminAuth)).statusCode, 204);
    const removed = await send(base, 'GET', url, reader);
    assert.equal(removed.statusCode, 404);
    assert.equal(removed.json().error.code, 'Request_ResourceNotFound');
  });

  it('ends with the directory lookups\' reuse, as a memo does', async () => {
    const url = `/v1.0/users/${people[1]!.id}/photos/96x96/$value`;
    now = Date.now() + 31_000;
    const before = served();
    assert.equal((await send(base, 'GET', url, reader)).statusCode, 200);
    assert.equal(served(), before, 'past the grant\'s end the route answers');
    now = undefined;
    assert.equal((await send(base, 'GET', `/v1.0/users/${people[2]!.id}/photos/96x96/$value`, reader)).statusCode, 200);
    assert.equal(served(), before, 'the route answers, and grants again');
    assert.equal((await send(base, 'GET', `/v1.0/users/${people[0]!.id}/photos/96x96/$value`, reader)).statusCode, 200);
    assert.equal(served(), before + 1);
  });
});

describe('portrait serve on a name with several addresses', () => {
  let h: Harness;
  let listening: Listening;
  before(async () => {
    h = await createHarness({ database: 'sqlite' });
    listening = await listenOnAll(h.app, 'localhost', 0);
  });
  after(async () => {
    closeOthers(listening, true);
    await h.close();
  });

  it('answers on every address of localhost, each with the fast path', async () => {
    const addresses = (await lookup('localhost', { all: true })).map((a) => a.address);
    assert.equal(listening.others.length, new Set(addresses).size - 1);
    const alice = await h.user('alice@contoso.com');
    const auth = { authorization: `Bearer ${await h.userToken(alice, ['User.ReadWrite'])}` };
    for (const address of addresses) {
      const base = `http://${address.includes(':') ? `[${address}]` : address}:${listening.port}`;
      assert.equal((await send(base, 'PUT', '/v1.0/me/photo/$value', auth, photo('exif-org-canon-ixus.jpg'))).statusCode, 200);
      const first = await send(base, 'GET', '/v1.0/me/photos/96x96/$value', auth);
      const before = h.hotReads?.served ?? Number.NaN;
      const second = await send(base, 'GET', '/v1.0/me/photos/96x96/$value', auth);
      assert.equal(h.hotReads?.served, before + 1, `the fast path on ${address}`);
      assert.equal(first.statusCode, 200);
      assert.deepEqual(seen(second), seen(first));
    }
  });
});

describe('the grants the read fast path keeps, whatever number of tokens clients bring', () => {
  it('keeps at most maxEntries tokens: the oldest one\'s first reads go back to the route, answered the same', async () => {
    const h = await createHarness({ database: 'sqlite', hotReadsMaxEntries: 2 });
    try {
      const base = await h.app.listen({ host: '127.0.0.1', port: 0 });
      const admin = await h.user('admin@contoso.com', { admin: true });
      const adminAuth = { authorization: `Bearer ${await h.userToken(admin, ['User.ReadWrite.All'], { admin: true })}` };
      const owners: string[] = [];
      for (let i = 0; i < 4; i++) {
        const owner = await h.user(`owner${i}@contoso.com`);
        assert.equal((await send(base, 'PUT', `/v1.0/users/${owner.id}/photo/$value`, adminAuth, photo('exif-org-canon-ixus.jpg'))).statusCode, 200);
        owners.push(owner.id);
      }
      // Three applications' tokens, each granted by a route read of owner 0's metadata.
      const tokens: { authorization: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const token = await issueToken(h.issuerKey, {
          tenantId: h.tenantId,
          ttlSeconds: 600,
          subject: { kind: 'app', appId: randomUUID(), name: `app ${i}`, roles: ['User.Read.All'] },
        });
        tokens.push({ authorization: `Bearer ${token}` });
        assert.equal((await send(base, 'GET', `/v1.0/users/${owners[0]}/photo`, tokens[i]!)).statusCode, 200);
      }
      const served = () => h.hotReads?.served ?? Number.NaN;
      // The newest token's first read of another owner is the fast path's; the oldest one's was let go.
      let before = served();
      const newest = await send(base, 'GET', `/v1.0/users/${owners[1]}/photo/$value`, tokens[2]!);
      assert.equal(newest.statusCode, 200);
      assert.equal(served(), before + 1, 'a kept grant answers');
      before = served();
      const oldest = await send(base, 'GET', `/v1.0/users/${owners[2]}/photo/$value`, tokens[0]!);
      assert.equal(oldest.statusCode, 200);
      assert.equal(served(), before, 'the first token\'s grant was let go: the route answered');
      assert.deepEqual(oldest.rawPayload, newest.rawPayload, 'the same photo bytes either way');
      // The route's answer granted it again, pushing out the next oldest.
      before = served();
      assert.equal((await send(base, 'GET', `/v1.0/users/${owners[3]}/photo/$value`, tokens[0]!)).statusCode, 200);
      assert.equal(served(), before + 1);
      before = served();
      assert.equal((await send(base, 'GET', `/v1.0/users/${owners[3]}/photo/$value`, tokens[1]!)).statusCode, 200);
      assert.equal(served(), before, 'the second token\'s grant went when the first came back');
    } finally {
      await h.close();
    }
  });
});
