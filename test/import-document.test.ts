// `portrait import` after people have used the server: a user a token created is merged by its
// userPrincipalName, not collided with; a misspelled member is refused, not read as "nothing".
// On the store the suite runs on (PORTRAIT_TEST_STORE), through the same function the CLI calls.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { issueToken } from '../src/auth/built-in-issuer.js';
import { ImportError, importDocument } from '../src/directory/import-document.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { solid } from './helpers/images.js';

describe('portrait import into a directory in use', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness();
  });
  after(() => h.close());

  /** What the README's walkthrough does: a token for a new person, who then sets a photo. */
  async function signedInWithPhoto(upn: string): Promise<string> {
    const oid = randomUUID();
    const token = await issueToken(h.issuerKey, {
      tenantId: h.tenantId,
      ttlSeconds: 600,
      subject: { kind: 'user', userId: oid, userPrincipalName: upn, displayName: upn, scopes: ['User.ReadWrite'], admin: false },
    });
    const put = await h.app.inject({
      method: 'PUT',
      url: '/v1.0/me/photo/$value',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' },
      payload: await solid(300, 300, [[200, 120, 40]]).jpeg().toBuffer(),
    });
    assert.equal(put.statusCode, 200, put.body);
    return oid;
  }

  it('merges a document user with the user a token created under the same name, keeping its id and photo', async () => {
    const oid = await signedInWithPhoto('alice@contoso.com');
    const counts = await importDocument(h.store, h.tenantId, {
      users: [{ userPrincipalName: 'Alice@Contoso.com', displayName: 'Alice Smith', contacts: [{ displayName: 'Bob' }] }],
    });
    assert.deepEqual(counts, { created: 1, updated: 1, unchanged: 0 }, 'Alice updated, her contact created');
    const alice = await h.store.getUserByUpn(h.tenantId, 'alice@contoso.com');
    assert.equal(alice?.id, oid, 'the same user, not a second one');
    assert.equal(alice?.displayName, 'Alice Smith');
    assert.equal((await h.store.listUsers(h.tenantId)).filter((u) => u.userPrincipalName.toLowerCase() === 'alice@contoso.com').length, 1);

    const token = await h.appToken(['User.Read.All']);
    const read = await h.app.inject({ url: `/v1.0/users/${oid}/photo/$value`, headers: { authorization: `Bearer ${token}` } });
    assert.equal(read.statusCode, 200, 'her photo is still there');

    const again = await importDocument(h.store, h.tenantId, {
      users: [{ userPrincipalName: 'Alice@Contoso.com', displayName: 'Alice Smith', contacts: [{ displayName: 'Bob' }] }],
    });
    assert.deepEqual(again, { created: 0, updated: 0, unchanged: 2 }, 'a second run changes nothing');
  });

  it('a user whose given id differs from the owner of its name is a one-line error naming both', async () => {
    const oid = await signedInWithPhoto('carol@contoso.com');
    const other = randomUUID();
    await assert.rejects(
      importDocument(h.store, h.tenantId, { users: [{ id: other, userPrincipalName: 'carol@contoso.com' }] }),
      (error: unknown) =>
        error instanceof ImportError &&
        error.message === `users[0]: userPrincipalName 'carol@contoso.com' belongs to another user (id ${oid}) than id ${other}`,
    );
    assert.equal((await h.store.getUserByUpn(h.tenantId, 'carol@contoso.com'))?.id, oid, 'Carol is untouched');
  });

  it('refuses a misspelled member anywhere in the document instead of importing nothing', async () => {
    const cases: [unknown, string][] = [
      [{ usres: [{ userPrincipalName: 'dan@contoso.com' }] }, "the document has an unknown member 'usres'"],
      [{ users: [{ userPrincipalName: 'dan@contoso.com', displayname: 'Dan' }] }, "users[0] has an unknown member 'displayname'"],
      [{ groups: [{ displayName: 'Design', teams: true }] }, "groups[0] has an unknown member 'teams'"],
      [
        { users: [{ userPrincipalName: 'dan@contoso.com', contactFolders: [{ displayName: 'F', childFolder: [] }] }] },
        "users[0].contactFolders[0] has an unknown member 'childFolder'",
      ],
      [
        { invitations: [{ invitedUserEmailAddress: 'e@fabrikam.com', invitedUser: { contact: [] } }] },
        "invitations[0].invitedUser has an unknown member 'contact'",
      ],
    ];
    for (const [document, start] of cases) {
      await assert.rejects(
        importDocument(h.store, h.tenantId, document),
        (error: unknown) => error instanceof ImportError && error.message.startsWith(start) && error.message.includes('(it may have: '),
        start,
      );
    }
    assert.equal(await h.store.getUserByUpn(h.tenantId, 'dan@contoso.com'), undefined, 'nothing before the bad member was saved');
  });

  it('takes groupTypes as POST /groups does: ["Unified"] or none, anything else refused', async () => {
    const counts = await importDocument(h.store, h.tenantId, { groups: [{ displayName: 'Marketing', mailNickname: 'marketing', groupTypes: ['Unified'] }] });
    assert.equal(counts.created, 1);
    const marketing = (await h.store.listGroups(h.tenantId)).find((g) => g.mailNickname === 'marketing');
    assert.equal(marketing?.unified, true);
    for (const groupTypes of ['Unified', ['unified'], ['DynamicMembership'], ['Unified', 'Unified'], [7]]) {
      await assert.rejects(
        importDocument(h.store, h.tenantId, { groups: [{ displayName: 'Sales', mailNickname: 'sales', groupTypes }] }),
        (error: unknown) => error instanceof ImportError && /^groups\[0\]\.groupTypes (must be an array|may only be \["Unified"\] or \[\])$/.test(error.message),
        JSON.stringify(groupTypes),
      );
    }
    assert.equal((await h.store.listGroups(h.tenantId)).find((g) => g.mailNickname === 'sales'), undefined, 'nothing saved');
  });
});
