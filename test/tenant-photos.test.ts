// The same object id in two tenants is legal — `portrait import --tenant` makes it,
// with the explicit ids of one document — and the two are different owners with different
// photos (issue 9, section 7). Every cache of a photo must tell them apart: a key without
// the tenant would serve tenant B tenant A's photo. Reads go through a real socket, so
// the read fast path (SQLite) answers them too; writes through the HTTP API, each tenant
// with its own tokens. Run with PORTRAIT_TEST_STORE=postgres as well.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createHarness, TEST_STORE, type Harness } from './helpers/harness.js';
import { decode, describeColour, matchColour, solidJpeg, type Rgb } from './helpers/server-process.js';

const SCOPES = ['User.ReadWrite.All', 'Group.ReadWrite.All'];
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const GREEN: Rgb = [0, 170, 0];
const YELLOW: Rgb = [255, 255, 0];
const COLOURS = [RED, BLUE, GREEN, YELLOW];

interface Tenant {
  readonly name: string;
  readonly id: string;
  /** Application and delegated (the user itself, an administrator) Authorization headers. */
  readonly app: string;
  readonly me: string;
}

describe(`one object id in two tenants, on ${TEST_STORE}`, () => {
  let h: Harness;
  let base: string;
  let a: Tenant;
  let b: Tenant;
  // The same ids in both tenants, as an imported document gives them.
  const userId = randomUUID();
  const groupId = randomUUID();

  before(async () => {
    h = await createHarness();
    base = `${await h.app.listen({ host: '127.0.0.1', port: 0 })}/v1.0`;
    const tenant = async (name: string, id: string): Promise<Tenant> => {
      await h.store.ensureTenant(id);
      const user = await h.directory.createUser(id, { id: userId, userPrincipalName: 'pat@contoso.com', displayName: 'Pat', isAdmin: true });
      await h.store.saveGroup({ tenantId: id, id: groupId, displayName: 'Design', mailNickname: 'design', description: null, unified: true, hasTeam: true });
      return {
        name,
        id,
        app: `Bearer ${await h.appToken(SCOPES, id)}`,
        me: `Bearer ${await h.userToken(user, SCOPES, { admin: true })}`,
      };
    };
    a = await tenant('A', h.tenantId);
    b = await tenant('B', randomUUID());
  });
  after(() => h.close());

  async function put(tenant: Tenant, path: string, colour: Rgb): Promise<string> {
    const res = await fetch(`${base}${path}`, { method: 'PUT', headers: { authorization: tenant.app }, body: await solidJpeg(colour, 300) });
    assert.ok(res.ok, `${tenant.name} PUT ${path}: ${res.status} ${await res.text()}`);
    return res.headers.get('etag') ?? '';
  }

  /**
   * Reads the photo as `tenant`, twice (the second read may come from a cache or the fast
   * path), through every read the owner has: bytes, a size's bytes and the metadata. Each
   * must be `colour` at `etag`, or 404 ImageNotFound when `etag` is undefined.
   */
  async function expectPhoto(tenant: Tenant, owner: string, expected: { etag: string; colour: Rgb } | undefined, auth = tenant.app): Promise<void> {
    const reads = owner.startsWith('/teams/') ? ['/photo/$value', '/photo'] : ['/photo/$value', '/photos/48x48/$value', '/photo'];
    for (const read of reads) {
      for (const attempt of ['first', 'again']) {
        const where = `tenant ${tenant.name} GET ${owner}${read} (${attempt})`;
        const res = await fetch(`${base}${owner}${read}`, { headers: { authorization: auth } });
        const bytes = Buffer.from(await res.arrayBuffer());
        if (expected === undefined) {
          assert.equal(res.status, 404, `${where}: ${res.status} ${res.headers.get('etag')}`);
          assert.equal(JSON.parse(bytes.toString()).error.code, 'ImageNotFound', where);
          continue;
        }
        assert.equal(res.status, 200, `${where}: ${res.status} ${bytes.toString().slice(0, 200)}`);
        assert.equal(res.headers.get('etag'), expected.etag, where);
        if (read === '/photo') {
          assert.equal(JSON.parse(bytes.toString())['@odata.mediaEtag'], expected.etag, where);
        } else {
          const { mean } = await decode(bytes);
          assert.equal(matchColour(mean, COLOURS), COLOURS.indexOf(expected.colour), `${where}: ${describeColour(mean)}`);
        }
      }
    }
  }

  it('a user’s photo: each tenant reads and writes only its own', async () => {
    const user = `/users/${userId}`;
    // A's photo read (and cached) first: B, with the same id, still has none.
    const aRed = await put(a, `${user}/photo/$value`, RED);
    await expectPhoto(a, user, { etag: aRed, colour: RED });
    await expectPhoto(b, user, undefined);
    await expectPhoto(b, '/me', undefined, b.me);

    const bBlue = await put(b, `${user}/photo/$value`, BLUE);
    assert.notEqual(bBlue, aRed);
    await expectPhoto(b, user, { etag: bBlue, colour: BLUE });
    await expectPhoto(a, user, { etag: aRed, colour: RED });
    // /me of the same object id, each tenant's token.
    await expectPhoto(a, '/me', { etag: aRed, colour: RED }, a.me);
    await expectPhoto(b, '/me', { etag: bBlue, colour: BLUE }, b.me);

    // A resize in B is B's alone.
    const resized = await fetch(`${base}${user}/photo`, {
      method: 'PATCH',
      headers: { authorization: b.app, 'content-type': 'application/json' },
      body: JSON.stringify({ width: 120, height: 120 }),
    });
    assert.equal(resized.status, 200, await resized.text());
    const bResized = resized.headers.get('etag') ?? '';
    await expectPhoto(b, user, { etag: bResized, colour: BLUE });
    await expectPhoto(a, user, { etag: aRed, colour: RED });

    // A delete in A leaves B's.
    const deleted = await fetch(`${base}${user}/photo`, { method: 'DELETE', headers: { authorization: a.app } });
    assert.equal(deleted.status, 200);
    await expectPhoto(a, user, undefined);
    await expectPhoto(b, user, { etag: bResized, colour: BLUE });
    // On SQLite the read fast path answered the repeated reads: it was under test too.
    if (h.hotReads) assert.ok(h.hotReads.served > 0, 'the fast path answered some reads');
  });

  it('a group’s photo, and its team’s: each tenant reads and writes only its own', async () => {
    const group = `/groups/${groupId}`;
    const team = `/teams/${groupId}`;
    const aGreen = await put(a, `${group}/photo/$value`, GREEN);
    await expectPhoto(a, group, { etag: aGreen, colour: GREEN });
    await expectPhoto(a, team, { etag: aGreen, colour: GREEN });
    await expectPhoto(b, group, undefined);
    await expectPhoto(b, team, undefined);

    const bYellow = await put(b, `${team}/photo/$value`, YELLOW);
    await expectPhoto(b, group, { etag: bYellow, colour: YELLOW });
    await expectPhoto(b, team, { etag: bYellow, colour: YELLOW });
    await expectPhoto(a, group, { etag: aGreen, colour: GREEN });
    await expectPhoto(a, team, { etag: aGreen, colour: GREEN });

    const aRed = await put(a, `${group}/photo/$value`, RED);
    await expectPhoto(a, team, { etag: aRed, colour: RED });
    await expectPhoto(b, team, { etag: bYellow, colour: YELLOW });
  });
});
