// Who a user is (issue 9, section 1): an object id is found by id alone and a
// userPrincipalName by name alone, so no name can stand in for someone's id; a UPN must
// look like one (Entra's rules), in POST /users as in a token's claims; and a caller
// created on first sight is the token's (tid, oid), never another object found by name.
// As a client sees it, on the store PORTRAIT_TEST_STORE selects.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { issueToken } from '../src/auth/built-in-issuer.js';
import type { User } from '../src/storage/store.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { pixelAt, solid } from './helpers/images.js';

const RED = [220, 30, 30] as const;
const BLUE = [30, 30, 220] as const;
const OWN_SCOPES = ['User.ReadWrite', 'User.ReadBasic.All'];
const ADMIN_ROLES = ['User.ReadWrite.All'];
const INVALID = (why: string) => `The property 'userPrincipalName' is invalid: ${why}.`;
const NOT_ALIAS_AT_DOMAIN = INVALID("it must be alias@domain, with one '@'");

let h: Harness;
let red: Buffer;
let blue: Buffer;

before(async () => {
  h = await createHarness();
  red = await solid(96, 96, [RED]).jpeg().toBuffer();
  blue = await solid(96, 96, [BLUE]).jpeg().toBuffer();
});
after(() => h.close());

function call(method: 'GET' | 'POST' | 'PUT', url: string, token: string, payload?: Buffer | object): Promise<LightMyRequestResponse> {
  return h.app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${token}`,
      ...(payload !== undefined && { 'content-type': Buffer.isBuffer(payload) ? 'image/jpeg' : 'application/json' }),
    },
    ...(payload !== undefined && { payload: Buffer.isBuffer(payload) ? payload : JSON.stringify(payload) }),
  });
}

/** A delegated token with exactly this oid and these name claims (upn, preferred_username, name). */
function tokenFor(oid: string, upn: string, name = 'Someone', scopes: readonly string[] = OWN_SCOPES): Promise<string> {
  return issueToken(h.issuerKey, {
    tenantId: h.tenantId,
    ttlSeconds: 600,
    subject: { kind: 'user', userId: oid, userPrincipalName: upn, displayName: name, scopes, admin: false },
  });
}

async function me(token: string): Promise<{ id: string; userPrincipalName: string; displayName: string }> {
  const res = await call('GET', '/v1.0/me', token);
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

/** The colour of the photo a path serves, or its status when there is none. */
async function photoColour(url: string, token: string): Promise<'red' | 'blue' | number> {
  const res = await call('GET', url, token);
  if (res.statusCode !== 200) return res.statusCode;
  const [r, , b] = await pixelAt(res.rawPayload, 48, 48);
  return r > b ? 'red' : 'blue';
}

async function putPhoto(url: string, token: string, image: Buffer): Promise<void> {
  const res = await call('PUT', url, token, image);
  assert.equal(res.statusCode, 200, `PUT ${url}: ${res.body}`);
}

function assertInvalidName(res: LightMyRequestResponse, message: string): void {
  assert.equal(res.statusCode, 400, res.body);
  assert.deepEqual(
    { code: res.json().error.code, message: res.json().error.message },
    { code: 'InvalidPropertyValue', message },
  );
}

async function userIds(): Promise<string[]> {
  return (await h.store.listUsers(h.tenantId)).map((u) => u.id).sort();
}

describe('an admin cannot squat a user’s id with a userPrincipalName', () => {
  let alice: User;
  let aliceToken: string;
  let admin: string;

  before(async () => {
    alice = await h.user(`alice.${randomUUID().slice(0, 8)}@contoso.com`);
    aliceToken = await h.userToken(alice, OWN_SCOPES);
    admin = await h.appToken(ADMIN_ROLES);
  });

  it('POST /users with alice’s id as the name (any case) → 400 InvalidPropertyValue; nothing is created', async () => {
    const before = await userIds();
    for (const name of [alice.id, alice.id.toUpperCase()]) {
      assertInvalidName(await call('POST', '/v1.0/users', admin, { userPrincipalName: name, displayName: 'Squatter' }), NOT_ALIAS_AT_DOMAIN);
    }
    assert.deepEqual(await userIds(), before);
  });

  it('alice’s /me, her photo by id and her own PUT /me/photo are hers', async () => {
    await putPhoto('/v1.0/me/photo/$value', aliceToken, red);
    const aliceMe = await me(aliceToken);
    assert.equal(aliceMe.id, alice.id);
    assert.equal(aliceMe.userPrincipalName, alice.userPrincipalName);
    assert.equal(await photoColour('/v1.0/me/photo/$value', aliceToken), 'red');
    for (const url of [`/v1.0/users/${alice.id}/photo/$value`, `/v1.0/users/${alice.id.toUpperCase()}/photo/$value`]) {
      assert.equal(await photoColour(url, admin), 'red', url);
      assert.equal(await photoColour(url, aliceToken), 'red', url);
    }
  });
});

describe('a name that already holds someone’s id (kept from before) never answers for them', () => {
  // A database written before names were checked may hold such a user: the lookups
  // alone must keep ids and names apart (the store contract checks them too).
  let alice: User;
  let squatter: User;
  let aliceToken: string;
  let admin: string;

  before(async () => {
    alice = await h.user(`alice.${randomUUID().slice(0, 8)}@contoso.com`);
    const squatterId = randomUUID();
    squatter = { ...alice, id: squatterId, userPrincipalName: alice.id, displayName: 'Squatter', driveId: `b!${randomUUID()}` };
    await h.store.saveUser(squatter);
    aliceToken = await h.userToken(alice, OWN_SCOPES);
    admin = await h.appToken(ADMIN_ROLES);
    await putPhoto(`/v1.0/users/${squatter.id}/photo/$value`, admin, blue);
  });

  it('alice’s /me is alice, every time; her own PUT /me/photo is allowed and hers', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await me(aliceToken)).id, alice.id);
    await putPhoto('/v1.0/me/photo/$value', aliceToken, red);
    for (let i = 0; i < 5; i++) {
      assert.equal(await photoColour(`/v1.0/users/${alice.id}/photo/$value`, admin), 'red');
      assert.equal(await photoColour('/v1.0/me/photo/$value', aliceToken), 'red');
    }
    assert.equal(await photoColour(`/v1.0/users/${squatter.id}/photo/$value`, admin), 'blue', 'the squatter’s photo is untouched');
  });
});

describe('a token’s name claims never reach another user', () => {
  it('a new oid whose upn is bob’s id (bob not signed in yet) gets its own object; bob’s first /me is bob', async () => {
    const bobId = randomUUID();
    const eveId = randomUUID();
    const eve = await tokenFor(eveId, bobId, 'Eve');
    assert.equal((await me(eve)).id, eveId);
    await putPhoto('/v1.0/me/photo/$value', eve, blue);

    const bob = await tokenFor(bobId, 'bob.first@contoso.com', 'Bob');
    const bobMe = await me(bob);
    assert.deepEqual(bobMe, { ...bobMe, id: bobId, userPrincipalName: 'bob.first@contoso.com', displayName: 'Bob' });
    const eveMe = await me(eve);
    assert.deepEqual(eveMe, { ...eveMe, id: eveId, userPrincipalName: `${eveId}@${h.tenantId}.portrait.localhost`, displayName: 'Eve' });
    assert.equal(await photoColour('/v1.0/me/photo/$value', bob), 404, 'eve’s photo is not bob’s');
    await putPhoto('/v1.0/me/photo/$value', bob, red);
    assert.equal(await photoColour('/v1.0/me/photo/$value', eve), 'blue', 'bob’s upload is not eve’s');
    assert.equal(await photoColour(`/v1.0/users/${bobId}/photo/$value`, eve), 'red');
    assert.equal(await photoColour(`/v1.0/users/${eveId}/photo/$value`, bob), 'blue');
  });

  it('a upn that is no UPN, or holds a NUL, gives the caller their own object; the name loses its control characters', async () => {
    for (const upn of ['not a name', 'eve', 'eve@contoso.com@evil.example', 'eve\u0000@contoso.com', `x@${h.tenantId}.portrait.localhost`, '']) {
      const oid = randomUUID();
      const caller = await me(await tokenFor(oid, upn, 'Eve\u0000 the\u0007 Eavesdropper\u0000'));
      assert.deepEqual(
        caller,
        { ...caller, id: oid, userPrincipalName: `${oid}@${h.tenantId}.portrait.localhost`, displayName: 'Eve the Eavesdropper' },
        JSON.stringify(upn),
      );
    }
  });

  it('a upn held by another user (any case) gives a new object, not theirs, and none of their rights', async () => {
    const carol = await h.user(`carol.${randomUUID().slice(0, 8)}@contoso.com`, { admin: true });
    const dave = await h.user(`dave.${randomUUID().slice(0, 8)}@contoso.com`);
    const admin = await h.appToken(ADMIN_ROLES);
    await putPhoto(`/v1.0/users/${carol.id}/photo/$value`, admin, red);
    for (const upn of [carol.userPrincipalName, carol.userPrincipalName.toUpperCase()]) {
      const oid = randomUUID();
      const mallory = await tokenFor(oid, upn, 'Mallory', ['User.ReadWrite.All']);
      const caller = await me(mallory);
      assert.deepEqual(caller, { ...caller, id: oid, userPrincipalName: `${oid}@${h.tenantId}.portrait.localhost` });
      assert.equal(await photoColour('/v1.0/me/photo/$value', mallory), 404, 'carol’s photo is not hers');
      const write = await call('PUT', `/v1.0/users/${dave.id}/photo/$value`, mallory, blue);
      assert.equal(write.statusCode, 403, `carol is an administrator; mallory, named like her, is not: ${write.body}`);
    }
    const carolMe = await me(await h.userToken(carol, OWN_SCOPES));
    assert.equal(carolMe.id, carol.id);
    assert.equal(carolMe.userPrincipalName, carol.userPrincipalName);
    assert.equal(await photoColour(`/v1.0/users/${carol.id}/photo/$value`, admin), 'red');
  });

  it('a caller’s first requests at once make one user, under the name the token gives', async () => {
    for (let round = 0; round < 3; round++) {
      const oid = randomUUID();
      const upn = `burst.${oid.slice(0, 8)}@contoso.com`;
      const token = await tokenFor(oid, upn);
      const answers = await Promise.all(Array.from({ length: 8 }, () => me(token)));
      assert.deepEqual(new Set(answers.map((a) => `${a.id} ${a.userPrincipalName}`)), new Set([`${oid} ${upn}`]));
      assert.equal((await me(token)).userPrincipalName, upn);
    }
  });

  it('a valid upn nobody holds is the new user’s name, found by it in any case', async () => {
    const oid = randomUUID();
    const upn = `O'Neil.${oid.slice(0, 8)}@Contoso.com`;
    assert.equal((await me(await tokenFor(oid, upn))).userPrincipalName, upn);
    const byName = await call('GET', `/v1.0/users/${encodeURIComponent(upn.toLowerCase())}`, await h.appToken(ADMIN_ROLES));
    assert.equal(byName.statusCode, 200, byName.body);
    assert.equal(byName.json().id, oid);
  });
});

describe('POST /users checks the userPrincipalName by Entra’s rules', () => {
  let admin: string;
  before(async () => {
    admin = await h.appToken(ADMIN_ROLES);
  });
  const create = (userPrincipalName: string) => call('POST', '/v1.0/users', admin, { userPrincipalName, displayName: 'Test' });

  it('refuses what is no UPN with 400 InvalidPropertyValue saying why; nothing is created', async () => {
    const before = await userIds();
    const cases: [string, string][] = [
      ['alice', "it must be alias@domain, with one '@'"],
      ['alice@contoso.com@fabrikam.com', "it must be alias@domain, with one '@'"],
      ['@contoso.com', "the part before '@' is empty"],
      ['alice+tag@contoso.com', "the part before '@' may hold only A–Z, a–z, 0–9 and ' . - _ ! # ^ ~, not '+'"],
      ['al ice@contoso.com', "the part before '@' may hold only A–Z, a–z, 0–9 and ' . - _ ! # ^ ~, not U+0020"],
      // A NUL is refused before the name is read, as in any JSON string (nul-characters.test.ts).
      ['al\u0007ice@contoso.com', "the part before '@' may hold only A–Z, a–z, 0–9 and ' . - _ ! # ^ ~, not U+0007"],
      ['élise@contoso.com', "the part before '@' may hold only A–Z, a–z, 0–9 and ' . - _ ! # ^ ~, not U+00E9"],
      ['.alice@contoso.com', "the part before '@' may not begin or end with '.' or hold '..'"],
      ['alice.@contoso.com', "the part before '@' may not begin or end with '.' or hold '..'"],
      ['al..ice@contoso.com', "the part before '@' may not begin or end with '.' or hold '..'"],
      [`${'a'.repeat(65)}@contoso.com`, "the part before '@' has 65 characters; at most 64 are allowed"],
      ...['alice@', 'alice@contoso..com', 'alice@-contoso.com', 'alice@contoso_x.com', 'alice@contoso.com.', 'alice@contöso.com'].map(
        (name): [string, string] => [name, "the part after '@' must be a DNS name: labels of A–Z, a–z, 0–9 and '-' (not first or last), joined by '.'"],
      ),
      [`${'a'.repeat(64)}@${'b'.repeat(50)}.com`, 'it has 119 characters; at most 113 are allowed'],
      ...['alice@portrait.localhost', `erin_fabrikam.com#EXT#@${h.tenantId}.Portrait.Localhost`].map(
        (name): [string, string] => [name, "the domain portrait.localhost is Portrait's own, for the guests and users it names itself"],
      ),
    ];
    for (const [name, why] of cases) assertInvalidName(await create(name), INVALID(why));
    assert.deepEqual(await userIds(), before);
  });

  it('takes valid edge cases, and finds them by name in any case', async () => {
    const tag = randomUUID().slice(0, 8);
    for (const name of [
      `o'brien.${tag}@contoso.com`,
      `a!#^~-_z.${tag}@sub.contoso.co.uk`,
      `erin_fabrikam.com#EXT#.${tag}@contoso.onmicrosoft.com`,
      `${tag}${'x'.repeat(56)}@contoso.com`,
      `${tag}${'y'.repeat(56)}@${'d'.repeat(44)}.com`,
      `${tag}@localhost`,
    ]) {
      const res = await create(name);
      assert.equal(res.statusCode, 201, `${name}: ${res.body}`);
      assert.equal(res.json().userPrincipalName, name);
      const found = await call('GET', `/v1.0/users/${encodeURIComponent(name.toUpperCase())}`, admin);
      assert.equal(found.statusCode, 200, `${name}: ${found.body}`);
      assert.equal(found.json().id, res.json().id);
    }
  });
});

describe('guests invited by email get a valid name of their own', () => {
  let admin: string;
  before(async () => {
    admin = await h.appToken(ADMIN_ROLES);
  });

  async function invite(email: string): Promise<{ id: string; userPrincipalName: string }> {
    const res = await call('POST', '/v1.0/invitations', admin, { invitedUserEmailAddress: email, inviteRedirectUrl: 'https://myapp.contoso.com' });
    assert.equal(res.statusCode, 201, `${email}: ${res.body}`);
    const guest = await call('GET', `/v1.0/users/${res.json().invitedUser.id}`, admin);
    assert.equal(guest.statusCode, 200, guest.body);
    return guest.json();
  }

  it('keeps Entra’s form for an ordinary address, found by it; the same address (any case) is the same guest', async () => {
    const tag = randomUUID().slice(0, 8);
    const guest = await invite(`erin.${tag}@fabrikam.com`);
    assert.equal(guest.userPrincipalName, `erin.${tag}_fabrikam.com#EXT#@${h.tenantId}.portrait.localhost`);
    const byName = await call('GET', `/v1.0/users/${encodeURIComponent(guest.userPrincipalName)}`, admin);
    assert.equal(byName.json().id, guest.id);
    assert.equal((await invite(`Erin.${tag}@Fabrikam.com`)).id, guest.id);
  });

  it('maps what a UPN refuses, and two addresses never share a guest', async () => {
    const tag = randomUUID().slice(0, 8);
    const pairs = [
      [`a_${tag}@x.com`, `a@${tag}_x.com`], // both were a_…_x.com#EXT#
      [`a+${tag}@x.com`, `a_${tag}@x.com`],
      [`.${tag}@x.com`, `_${tag}@x.com`],
      [`${'l'.repeat(60)}${tag}@x.com`, `${'l'.repeat(60)}${tag}@y.com`],
    ];
    for (const [one, other] of pairs) {
      const [a, b] = [await invite(one as string), await invite(other as string)];
      assert.notEqual(a.id, b.id, `${one} and ${other}`);
      for (const guest of [a, b]) {
        assert.match(guest.userPrincipalName, new RegExp(`#EXT#@${h.tenantId}\\.portrait\\.localhost$`));
        assert.ok(guest.userPrincipalName.length <= 113, guest.userPrincipalName);
      }
      assert.equal((await invite(one as string)).id, a.id, `${one} again is the same guest`);
    }
  });
});
