// The Store contract: one suite that every implementation runs (SQLite now,
// PostgreSQL next), through the Store interface only — never SQL. The shape
// follows undici's test/cache-interceptor/cache-store-test-utils.js: a factory
// opens a fresh, empty store for each test, and the suite says what any store
// must do with it.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import {
  ConflictError,
  type Application,
  GRANTS_PER_USER,
  type OAuthGrant,
  type Contact,
  type ContactFolder,
  type Dimensions,
  type Group,
  type Invitation,
  type NewPhoto,
  type PhotoContent,
  type PhotoInfo,
  type PhotoOwner,
  type Store,
  type User,
} from '../src/storage/store.js';
import { cursorAfter, type Condition, type ListCursor, type ListQuery, type Page, type UserProperty } from '../src/storage/list-query.js';

export interface OpenedStore {
  /** A fresh store with no data in it. */
  readonly store: Store;
  /** Closes the store and opens a new one on the same data; for stores that persist. */
  readonly reopen?: () => Promise<Store>;
  /** Closes whichever store is open (the reopened one too) and removes the data. */
  readonly cleanup: () => Promise<void>;
}

export type OpenStore = () => Promise<OpenedStore>;

/** `skip`: why this store can't be tested here (e.g. no PostgreSQL server); the suite says so. */
export function storeContract(name: string, open: OpenStore, options: { skip?: string | undefined } = {}): void {
  describe(name, { skip: options.skip ?? false }, () => {
    /** Opens a fresh store for one test and registers its cleanup. */
    async function setup(t: TestContext): Promise<OpenedStore> {
      const opened = await open();
      t.after(() => opened.cleanup());
      return opened;
    }

    /** A fresh store with one tenant recorded in it. */
    async function setupTenant(t: TestContext): Promise<{ store: Store; tenantId: string }> {
      const { store } = await setup(t);
      const tenantId = randomUUID();
      await store.ensureTenant(tenantId);
      return { store, tenantId };
    }

    describe('tenants and settings', () => {
      it('claims a setting once: the first value stays, later claims read it back', async (t) => {
        const { store } = await setup(t);
        const claims = await Promise.all(['a', 'b', 'c', 'd'].map((v) => store.claimSetting('claimed', v)));
        const first = claims[0];
        assert.ok(first !== undefined && claims.every((c) => c === first), `claims disagree: ${claims.join(', ')}`);
        assert.equal(await store.getSetting('claimed'), first);
        await store.setSetting('claimed', 'z');
        assert.equal(await store.claimSetting('claimed', 'y'), 'z');
      });

      it('answers undefined for a setting never set', async (t) => {
        const { store } = await setup(t);
        assert.equal(await store.getSetting('no-such-setting'), undefined);
      });

      it('keeps a setting, and a second set overwrites it', async (t) => {
        const { store } = await setup(t);
        await store.setSetting('issuer', 'first');
        assert.equal(await store.getSetting('issuer'), 'first');
        await store.setSetting('issuer', 'second');
        assert.equal(await store.getSetting('issuer'), 'second');
        await store.setSetting('empty', '');
        assert.equal(await store.getSetting('empty'), '');
        assert.equal(await store.getSetting('issuer'), 'second', 'setting one key leaves another alone');
      });

      it('records a tenant idempotently', async (t) => {
        const { store } = await setup(t);
        const tenantId = randomUUID();
        await store.ensureTenant(tenantId);
        await store.ensureTenant(tenantId);
        const alice = user(tenantId, 'alice@contoso.com');
        assert.equal(await store.saveUser(alice), 'created');
        await store.ensureTenant(tenantId);
        assert.deepEqual(await store.getUserById(tenantId, alice.id), alice, 'a repeated ensureTenant keeps the tenant’s data');
      });

      it('knows which tenants were recorded', async (t) => {
        const { store } = await setup(t);
        const tenantId = randomUUID();
        assert.equal(await store.hasTenant(tenantId), false);
        await store.ensureTenant(tenantId);
        assert.equal(await store.hasTenant(tenantId), true);
        assert.equal(await store.hasTenant(randomUUID()), false, 'another tenant is still unknown');
      });

      it('answers ping while open', async (t) => {
        const { store } = await setup(t);
        await store.ping();
      });
    });

    describe('users', () => {
      it('saves a user: created, then unchanged, then updated when a field changes', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com', { mail: null, isAdmin: true, userType: 'Guest' });
        assert.equal(await store.saveUser(alice), 'created');
        assert.deepEqual(await store.getUserById(tenantId, alice.id), alice);
        assert.equal(await store.saveUser({ ...alice }), 'unchanged');

        const renamed = { ...alice, displayName: 'Alice Renamed' };
        assert.equal(await store.saveUser(renamed), 'updated');
        assert.deepEqual(await store.getUserById(tenantId, alice.id), renamed);
        assert.equal(await store.saveUser(renamed), 'unchanged');

        for (const change of [
          { mail: 'alice@contoso.com' },
          { isAdmin: false },
          { userType: 'Member' as const },
          { driveId: `b!${randomUUID()}` },
          { userPrincipalName: 'Alice@Contoso.com' },
        ]) {
          const next: User = { ...(await store.getUserById(tenantId, alice.id))!, ...change };
          assert.equal(await store.saveUser(next), 'updated', `changing ${Object.keys(change).join()}`);
          assert.deepEqual(await store.getUserById(tenantId, alice.id), next);
        }
      });

      it('finds a user by id, case-insensitively, and never by userPrincipalName', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'Alice.Smith@Contoso.com');
        await store.saveUser(alice);
        assert.deepEqual(await store.getUserById(tenantId, alice.id), alice);
        assert.deepEqual(await store.getUserById(tenantId, alice.id.toUpperCase()), alice, 'by id in upper case');
        assert.equal(await store.getUserById(tenantId, 'Alice.Smith@Contoso.com'), undefined, 'a UPN is no id');
        assert.equal(await store.getUserById(tenantId, 'alice.smith@contoso.com'), undefined);
        assert.equal(await store.getUserById(tenantId, randomUUID()), undefined);
      });

      it('finds a user by userPrincipalName, case-insensitively, and never by id', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'Alice.Smith@Contoso.com');
        await store.saveUser(alice);
        assert.deepEqual(await store.getUserByUpn(tenantId, 'Alice.Smith@Contoso.com'), alice);
        assert.deepEqual(await store.getUserByUpn(tenantId, 'alice.smith@contoso.com'), alice);
        assert.deepEqual(await store.getUserByUpn(tenantId, 'ALICE.SMITH@CONTOSO.COM'), alice);
        const found = await store.getUserByUpn(tenantId, 'alice.smith@contoso.com');
        assert.equal(found?.userPrincipalName, 'Alice.Smith@Contoso.com', 'the UPN keeps the case it was saved with');
        assert.equal(await store.getUserByUpn(tenantId, alice.id), undefined, 'an id is no UPN');
        assert.equal(await store.getUserByUpn(tenantId, alice.id.toUpperCase()), undefined);
        assert.equal(await store.getUserByUpn(tenantId, 'bob@contoso.com'), undefined);
      });

      it('a name equal to another user’s id never stands in for that user (issue 9)', async (t) => {
        // The directory refuses such a name (directory/user-principal-name.ts); the store
        // takes what it is given, so each lookup must keep to its own column whatever is kept.
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        await store.saveUser(alice);
        const squatter = user(tenantId, alice.id.toUpperCase());
        await store.saveUser(squatter);
        // Two rows now match "id = alice.id OR upn_key = alice.id"; each lookup must find exactly its own.
        for (let i = 0; i < 5; i++) {
          assert.deepEqual(await store.getUserById(tenantId, alice.id), alice, 'by id: alice, every time');
          assert.deepEqual(await store.getUserByUpn(tenantId, alice.id), squatter, 'by name: the holder of the name');
        }
        await assert.rejects(store.saveUser(user(tenantId, alice.id)), ConflictError, 'the name is still unique, in any case');
        assert.deepEqual(await store.getUserById(tenantId, squatter.id), squatter);
        assert.deepEqual(await store.getUserByUpn(tenantId, 'alice@contoso.com'), alice);
      });

      it('throws ConflictError when another user has the UPN, in any case, and changes nothing', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        await store.saveUser(alice);
        const impostor = user(tenantId, 'ALICE@contoso.com');
        await assert.rejects(store.saveUser(impostor), ConflictError);
        assert.equal(await store.getUserById(tenantId, impostor.id), undefined, 'the conflicting user is not created');
        assert.deepEqual(await store.getUserByUpn(tenantId, 'alice@contoso.com'), alice, 'the owner of the UPN is untouched');

        const bob = user(tenantId, 'bob@contoso.com');
        assert.equal(await store.saveUser(bob), 'created');
        await assert.rejects(store.saveUser({ ...bob, userPrincipalName: 'Alice@Contoso.com' }), ConflictError);
        assert.deepEqual(await store.getUserById(tenantId, bob.id), bob, 'a rejected update leaves the user as it was');
        assert.deepEqual(sortById(await store.listUsers(tenantId)), sortById([alice, bob]));
      });

      it('finds a user by drive', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        const bob = user(tenantId, 'bob@contoso.com');
        await store.saveUser(alice);
        await store.saveUser(bob);
        assert.deepEqual(await store.getUserByDrive(tenantId, alice.driveId), alice);
        assert.deepEqual(await store.getUserByDrive(tenantId, bob.driveId), bob);
        assert.equal(await store.getUserByDrive(tenantId, 'b!no-such-drive'), undefined);
      });

      it('lists a tenant’s users', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        assert.deepEqual(await store.listUsers(tenantId), []);
        const users = ['carol@contoso.com', 'alice@contoso.com', 'Bob@contoso.com'].map((upn) => user(tenantId, upn));
        for (const u of users) await store.saveUser(u);
        assert.deepEqual(sortById(await store.listUsers(tenantId)), sortById(users));
      });

      it('deletes a user with their folders, contacts, photo and their contacts’ photos, and nothing else', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        const bob = user(tenantId, 'bob@contoso.com');
        await store.saveUser(alice);
        await store.saveUser(bob);

        const top = folder(tenantId, alice.id, null, 'Friends');
        const nested = folder(tenantId, alice.id, top.id, 'Close friends');
        await store.saveContactFolder(top);
        await store.saveContactFolder(nested);
        const inDefault = contact(tenantId, alice.id, null, 'Dana');
        const inTop = contact(tenantId, alice.id, top.id, 'Erin');
        const inNested = contact(tenantId, alice.id, nested.id, 'Frank');
        const bobsContact = contact(tenantId, bob.id, null, 'Grace');
        for (const c of [inDefault, inTop, inNested, bobsContact]) await store.saveContact(c);
        const group = groupOf(tenantId, 'Engineering');
        await store.saveGroup(group);

        const alicePhoto = owner(tenantId, 'user', alice.id);
        const alicesContactPhotos = [inDefault, inTop, inNested].map((c) => owner(tenantId, 'contact', c.id));
        const survivors = [owner(tenantId, 'user', bob.id), owner(tenantId, 'contact', bobsContact.id), owner(tenantId, 'group', group.id)];
        for (const o of [alicePhoto, ...alicesContactPhotos, ...survivors]) {
          assert.equal((await store.putPhoto(o, newPhoto(etagOf('p')), {})).ok, true);
        }

        assert.equal(await store.deleteUser(tenantId, alice.id), true);

        assert.equal(await store.getUserById(tenantId, alice.id), undefined);
        assert.equal(await store.getUserByUpn(tenantId, 'alice@contoso.com'), undefined);
        assert.equal(await store.getUserByDrive(tenantId, alice.driveId), undefined);
        assert.deepEqual(await store.listUsers(tenantId), [bob]);
        assert.equal(await store.getContactFolder(tenantId, alice.id, top.id), undefined);
        assert.equal(await store.getContactFolder(tenantId, alice.id, nested.id), undefined);
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, null), []);
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, top.id), []);
        for (const c of [inDefault, inTop, inNested]) {
          assert.equal(await store.getContact(tenantId, alice.id, c.id), undefined, `contact ${c.displayName}`);
        }
        assert.deepEqual(await store.listContacts(tenantId, alice.id, null), []);
        assert.deepEqual(await store.listContacts(tenantId, alice.id, top.id), []);
        for (const o of [alicePhoto, ...alicesContactPhotos]) {
          assert.equal(await store.getPhoto(o), undefined, `${o.type} ${o.id} photo`);
          assert.equal(await store.getPhotoContent(o, 'primary'), undefined, `${o.type} ${o.id} primary bytes`);
          assert.equal(await store.getMaster(o), undefined, `${o.type} ${o.id} master`);
        }

        assert.deepEqual(await store.getContact(tenantId, bob.id, bobsContact.id), bobsContact);
        assert.deepEqual(await store.getGroup(tenantId, group.id), group);
        for (const o of survivors) await assertPhotoWhole(store, o, etagOf('p'));

        assert.equal(await store.deleteUser(tenantId, alice.id), false, 'a second delete finds nothing');
        assert.equal(await store.deleteUser(tenantId, randomUUID()), false);

        // The same id again starts empty: nothing of the deleted user comes back.
        assert.equal(await store.saveUser(alice), 'created');
        assert.equal(await store.getPhoto(alicePhoto), undefined);
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, null), []);
        assert.deepEqual(await store.listContacts(tenantId, alice.id, null), []);
      });

      it('keeps tenants apart: the same ids and UPN in two tenants never meet', async (t) => {
        const { store } = await setup(t);
        const [a, b] = [randomUUID(), randomUUID()];
        await store.ensureTenant(a);
        await store.ensureTenant(b);
        const id = randomUUID();
        const driveId = `b!${randomUUID()}`;
        const inA = user(a, 'alice@contoso.com', { id, driveId, displayName: 'Alice in A' });
        const inB = user(b, 'alice@contoso.com', { id, driveId, displayName: 'Alice in B' });
        assert.equal(await store.saveUser(inA), 'created');
        assert.equal(await store.saveUser(inB), 'created', 'the same id and UPN in another tenant is no conflict');
        assert.deepEqual(await store.getUserById(a, id), inA);
        assert.deepEqual(await store.getUserById(b, id), inB);
        assert.deepEqual(await store.getUserByUpn(b, 'ALICE@contoso.com'), inB);
        assert.deepEqual(await store.getUserByDrive(a, driveId), inA);
        assert.deepEqual(await store.listUsers(a), [inA]);
        assert.deepEqual(await store.listUsers(b), [inB]);
        const other = randomUUID();
        await store.ensureTenant(other);
        assert.deepEqual(await store.listUsers(other), []);
        assert.equal(await store.getUserById(other, id), undefined);
        assert.equal(await store.getUserByDrive(other, driveId), undefined);

        const groupId = randomUUID();
        const gA = groupOf(a, 'Group in A', { id: groupId });
        const gB = groupOf(b, 'Group in B', { id: groupId });
        await store.saveGroup(gA);
        await store.saveGroup(gB);
        assert.deepEqual(await store.getGroup(a, groupId), gA);
        assert.deepEqual(await store.getGroup(b, groupId), gB);
        assert.deepEqual(await store.listGroups(a), [gA]);

        const folderId = randomUUID();
        const contactId = randomUUID();
        const fA = folder(a, id, null, 'Folder in A', { id: folderId });
        const fB = folder(b, id, null, 'Folder in B', { id: folderId });
        const cA = contact(a, id, folderId, 'Contact in A', { id: contactId });
        const cB = contact(b, id, folderId, 'Contact in B', { id: contactId });
        for (const f of [fA, fB]) assert.equal(await store.saveContactFolder(f), 'created');
        for (const c of [cA, cB]) assert.equal(await store.saveContact(c), 'created');
        assert.deepEqual(await store.getContactFolder(a, id, folderId), fA);
        assert.deepEqual(await store.getContactFolder(b, id, folderId), fB);
        assert.deepEqual(await store.listContactFolders(a, id, null), [fA]);
        assert.deepEqual(await store.getContact(b, id, contactId), cB);
        assert.deepEqual(await store.listContacts(a, id, folderId), [cA]);

        const invitationId = randomUUID();
        const iA = invitation(a, id, { id: invitationId });
        const iB = invitation(b, id, { id: invitationId, inviteRedirectUrl: 'https://b.example/' });
        assert.equal(await store.saveInvitation(iA), 'created');
        assert.equal(await store.saveInvitation(iB), 'created');
        assert.deepEqual(await store.getInvitation(a, invitationId), iA);
        assert.deepEqual(await store.getInvitation(b, invitationId), iB);

        // Photos: the same owner id in two tenants, and as two owner types, are four photos.
        await store.putPhoto(owner(a, 'user', id), newPhoto(etagOf('user-a')), {});
        await store.putPhoto(owner(b, 'user', id), newPhoto(etagOf('user-b')), {});
        await store.putPhoto(owner(a, 'group', id), newPhoto(etagOf('group-a')), {});
        assert.equal(await store.getPhoto(owner(b, 'group', id)), undefined);
        assert.equal(await store.getPhoto(owner(a, 'contact', id)), undefined);
        await assertPhotoWhole(store, owner(a, 'user', id), etagOf('user-a'));
        await assertPhotoWhole(store, owner(b, 'user', id), etagOf('user-b'));
        await assertPhotoWhole(store, owner(a, 'group', id), etagOf('group-a'));

        // Deleting in one tenant leaves the other whole.
        assert.equal(await store.deleteUser(a, id), true);
        assert.equal(await store.getUserById(a, id), undefined);
        assert.deepEqual(await store.getUserById(b, id), inB);
        assert.deepEqual(await store.getContactFolder(b, id, folderId), fB);
        assert.deepEqual(await store.getContact(b, id, contactId), cB);
        await assertPhotoWhole(store, owner(b, 'user', id), etagOf('user-b'));
        await assertPhotoWhole(store, owner(a, 'group', id), etagOf('group-a'));
        assert.equal(await store.deleteGroup(b, groupId), true);
        assert.deepEqual(await store.getGroup(a, groupId), gA);
      });
    });

    describe('groups', () => {
      it('saves, gets, lists and deletes groups', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        assert.deepEqual(await store.listGroups(tenantId), []);
        const team = groupOf(tenantId, 'Engineering', { unified: true, hasTeam: true, description: null });
        const plain = groupOf(tenantId, 'Accounting', { hasTeam: false, description: 'Counts things' });
        assert.equal(await store.saveGroup(team), 'created');
        assert.equal(await store.saveGroup(plain), 'created');
        assert.equal(await store.saveGroup({ ...team }), 'unchanged');
        assert.deepEqual(await store.getGroup(tenantId, team.id), team);
        assert.deepEqual(await store.getGroup(tenantId, plain.id), plain);
        assert.equal(await store.getGroup(tenantId, randomUUID()), undefined);

        for (const change of [{ displayName: 'Eng' }, { mailNickname: 'eng' }, { description: 'Builds' }, { hasTeam: false }, { unified: false }]) {
          const next: Group = { ...(await store.getGroup(tenantId, team.id))!, ...change };
          assert.equal(await store.saveGroup(next), 'updated', `changing ${Object.keys(change).join()}`);
          assert.deepEqual(await store.getGroup(tenantId, team.id), next);
        }
        const updated = (await store.getGroup(tenantId, team.id))!;
        assert.deepEqual(sortById(await store.listGroups(tenantId)), sortById([updated, plain]));

        assert.equal(await store.deleteGroup(tenantId, team.id), true);
        assert.equal(await store.getGroup(tenantId, team.id), undefined);
        assert.deepEqual(await store.listGroups(tenantId), [plain]);
        assert.equal(await store.deleteGroup(tenantId, team.id), false, 'a second delete finds nothing');
      });

      it('deletes a group’s photo with the group', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const group = groupOf(tenantId, 'Engineering');
        const other = groupOf(tenantId, 'Accounting');
        await store.saveGroup(group);
        await store.saveGroup(other);
        await store.putPhoto(owner(tenantId, 'group', group.id), newPhoto(etagOf('g')), {});
        await store.putPhoto(owner(tenantId, 'group', other.id), newPhoto(etagOf('o')), {});
        assert.equal(await store.deleteGroup(tenantId, group.id), true);
        const gone = owner(tenantId, 'group', group.id);
        assert.equal(await store.getPhoto(gone), undefined);
        assert.equal(await store.getPhotoContent(gone, 'primary'), undefined);
        assert.equal(await store.getMaster(gone), undefined);
        await assertPhotoWhole(store, owner(tenantId, 'group', other.id), etagOf('o'));
        // The same id again starts without a photo.
        await store.saveGroup(group);
        assert.equal(await store.getPhoto(gone), undefined);
      });
    });

    describe('group membership', () => {
      it('adds, finds, lists and removes members; a second add says the member exists', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const group = groupOf(tenantId, 'Design');
        const other = groupOf(tenantId, 'Sales');
        const [ann, bob] = [user(tenantId, 'ann@contoso.com'), user(tenantId, 'bob@contoso.com')];
        for (const g of [group, other]) await store.saveGroup(g);
        for (const u of [ann, bob]) await store.saveUser(u);
        const page = { limit: 10 };
        assert.deepEqual(await store.listGroupMembers(tenantId, group.id, page), []);
        assert.equal(await store.addGroupMember(tenantId, group.id, ann.id), 'added');
        // Ids match case-insensitively, as everywhere in the store.
        assert.equal(await store.addGroupMember(tenantId, group.id.toUpperCase(), ann.id.toUpperCase()), 'exists');
        assert.equal(await store.addGroupMember(tenantId, group.id, bob.id), 'added');
        assert.equal(await store.addGroupMember(tenantId, other.id, bob.id), 'added');
        assert.equal(await store.isGroupMember(tenantId, group.id, ann.id), true);
        assert.equal(await store.isGroupMember(tenantId, other.id.toUpperCase(), bob.id.toUpperCase()), true);
        assert.equal(await store.isGroupMember(tenantId, other.id, ann.id), false);
        assert.deepEqual(await store.listGroupMembers(tenantId, group.id, page), sortById([ann, bob]));
        assert.deepEqual(await store.listMemberOf(tenantId, bob.id, page), sortById([group, other]));
        assert.deepEqual(await store.listMemberOf(tenantId, ann.id, page), [group]);

        assert.equal(await store.removeGroupMember(tenantId, group.id, ann.id.toUpperCase()), true);
        assert.equal(await store.removeGroupMember(tenantId, group.id, ann.id), false, 'a second remove finds nothing');
        assert.equal(await store.isGroupMember(tenantId, group.id, ann.id), false);
        assert.deepEqual(await store.listGroupMembers(tenantId, group.id, page), [bob]);
        assert.deepEqual(await store.listMemberOf(tenantId, ann.id, page), []);
      });

      it('adds nothing for a group or user that is not there, or is in another tenant', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const elsewhere = randomUUID();
        await store.ensureTenant(elsewhere);
        const group = groupOf(tenantId, 'Design');
        const ann = user(tenantId, 'ann@contoso.com');
        const theirGroup = groupOf(elsewhere, 'Design');
        const theirUser = user(elsewhere, 'ann@contoso.com');
        for (const g of [group, theirGroup]) await store.saveGroup(g);
        for (const u of [ann, theirUser]) await store.saveUser(u);
        assert.equal(await store.addGroupMember(tenantId, group.id, randomUUID()), 'missing');
        assert.equal(await store.addGroupMember(tenantId, randomUUID(), ann.id), 'missing');
        assert.equal(await store.addGroupMember(tenantId, group.id, theirUser.id), 'missing', 'a user of another tenant');
        assert.equal(await store.addGroupMember(tenantId, theirGroup.id, ann.id), 'missing', 'a group of another tenant');
        assert.equal(await store.addGroupMember(elsewhere, group.id, ann.id), 'missing', 'both, asked from another tenant');
        assert.deepEqual(await store.listGroupMembers(tenantId, group.id, { limit: 10 }), []);
        assert.deepEqual(await store.listGroupMembers(elsewhere, theirGroup.id, { limit: 10 }), []);
        // The same ids in the other tenant are other objects.
        assert.equal(await store.addGroupMember(tenantId, group.id, ann.id), 'added');
        assert.equal(await store.isGroupMember(elsewhere, group.id, ann.id), false);
        assert.deepEqual(await store.listMemberOf(elsewhere, ann.id, { limit: 10 }), []);
      });

      it('pages members and groups by id: each page after the last id of the one before', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const group = groupOf(tenantId, 'Everyone');
        await store.saveGroup(group);
        const users = Array.from({ length: 7 }, (_, i) => user(tenantId, `u${i}@contoso.com`));
        const groups = Array.from({ length: 5 }, (_, i) => groupOf(tenantId, `g${i}`));
        for (const u of users) {
          await store.saveUser(u);
          assert.equal(await store.addGroupMember(tenantId, group.id, u.id), 'added');
        }
        for (const g of groups) {
          await store.saveGroup(g);
          assert.equal(await store.addGroupMember(tenantId, g.id, users[0]!.id), 'added');
        }
        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listGroupMembers(tenantId, group.id, { after, limit: 3 });
          if (page.length === 0) break;
          assert.ok(page.length <= 3);
          pages.push(page.map((u) => u.id));
          after = page.at(-1)!.id;
        }
        assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
        assert.deepEqual(pages.flat(), sortById(users).map((u) => u.id));
        const first = await store.listMemberOf(tenantId, users[0]!.id, { limit: 4 });
        const rest = await store.listMemberOf(tenantId, users[0]!.id, { after: first.at(-1)!.id, limit: 4 });
        assert.deepEqual([...first, ...rest], sortById([group, ...groups]));
      });

      it('removes memberships with their user or their group, and a new object of the same id starts with none', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const [design, sales] = [groupOf(tenantId, 'Design'), groupOf(tenantId, 'Sales')];
        const [ann, bob] = [user(tenantId, 'ann@contoso.com'), user(tenantId, 'bob@contoso.com')];
        for (const g of [design, sales]) await store.saveGroup(g);
        for (const u of [ann, bob]) await store.saveUser(u);
        for (const g of [design, sales]) for (const u of [ann, bob]) await store.addGroupMember(tenantId, g.id, u.id);

        assert.equal(await store.deleteUser(tenantId, ann.id), true);
        assert.deepEqual(await store.listGroupMembers(tenantId, design.id, { limit: 10 }), [bob]);
        assert.equal(await store.deleteGroup(tenantId, design.id), true);
        assert.deepEqual(await store.listMemberOf(tenantId, bob.id, { limit: 10 }), [sales]);

        await store.saveUser(ann);
        await store.saveGroup(design);
        assert.deepEqual(await store.listMemberOf(tenantId, ann.id, { limit: 10 }), []);
        assert.deepEqual(await store.listGroupMembers(tenantId, design.id, { limit: 10 }), []);
        assert.equal(await store.isGroupMember(tenantId, sales.id, ann.id), false);
      });

      it('adds a member once when many add it at once', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const group = groupOf(tenantId, 'Design');
        const ann = user(tenantId, 'ann@contoso.com');
        await store.saveGroup(group);
        await store.saveUser(ann);
        const outcomes = await Promise.all(Array.from({ length: 8 }, () => store.addGroupMember(tenantId, group.id, ann.id)));
        assert.deepEqual(outcomes.filter((o) => o === 'added'), ['added']);
        assert.ok(outcomes.every((o) => o === 'added' || o === 'exists'), outcomes.join());
      });
    });

    describe('contact folders and contacts', () => {
      it('keeps a chain of nested folders and lists them by parent, null for the top', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        const bob = user(tenantId, 'bob@contoso.com');
        await store.saveUser(alice);
        await store.saveUser(bob);
        const work = folder(tenantId, alice.id, null, 'Work');
        const home = folder(tenantId, alice.id, null, 'Home');
        const team = folder(tenantId, alice.id, work.id, 'Team');
        const leads = folder(tenantId, alice.id, team.id, 'Leads');
        const bobs = folder(tenantId, bob.id, null, 'Bob’s');
        for (const f of [work, home, team, leads, bobs]) assert.equal(await store.saveContactFolder(f), 'created');
        assert.equal(await store.saveContactFolder({ ...team }), 'unchanged');

        assert.deepEqual(sortById(await store.listContactFolders(tenantId, alice.id, null)), sortById([work, home]));
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, work.id), [team]);
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, team.id), [leads]);
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, leads.id), []);
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, home.id), []);
        assert.deepEqual(await store.listContactFolders(tenantId, bob.id, null), [bobs]);

        // Walk up from the deepest folder to the top.
        const chain: string[] = [];
        let at: ContactFolder | undefined = await store.getContactFolder(tenantId, alice.id, leads.id);
        while (at !== undefined) {
          chain.push(at.displayName);
          at = at.parentFolderId === null ? undefined : await store.getContactFolder(tenantId, alice.id, at.parentFolderId);
        }
        assert.deepEqual(chain, ['Leads', 'Team', 'Work']);
        assert.equal(await store.getContactFolder(tenantId, alice.id, randomUUID()), undefined);

        // Moving a folder is an update, and the listings follow.
        const moved = { ...leads, parentFolderId: home.id, displayName: 'Family' };
        assert.equal(await store.saveContactFolder(moved), 'updated');
        assert.deepEqual(await store.getContactFolder(tenantId, alice.id, leads.id), moved);
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, team.id), []);
        assert.deepEqual(await store.listContactFolders(tenantId, alice.id, home.id), [moved]);
        const toTop = { ...moved, parentFolderId: null };
        assert.equal(await store.saveContactFolder(toTop), 'updated');
        assert.deepEqual(sortById(await store.listContactFolders(tenantId, alice.id, null)), sortById([work, home, toTop]));
      });

      it('keeps contacts by folder, null for the default folder, with their email addresses', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        await store.saveUser(alice);
        const friends = folder(tenantId, alice.id, null, 'Friends');
        await store.saveContactFolder(friends);
        const dana = contact(tenantId, alice.id, null, 'Dana Scully', {
          givenName: 'Dana',
          surname: 'Scully',
          emailAddresses: [
            { address: 'dana@fbi.example', name: 'Dana Scully' },
            { address: 'DScully@Example.org', name: 'Dana (home) — “ü”' },
          ],
        });
        const erin = contact(tenantId, alice.id, null, 'Erin', { givenName: null, surname: null, emailAddresses: [] });
        const frank = contact(tenantId, alice.id, friends.id, 'Frank');
        for (const c of [dana, erin, frank]) assert.equal(await store.saveContact(c), 'created');
        assert.equal(await store.saveContact({ ...dana, emailAddresses: [...dana.emailAddresses] }), 'unchanged');

        assert.deepEqual(await store.getContact(tenantId, alice.id, dana.id), dana);
        assert.deepEqual(await store.getContact(tenantId, alice.id, erin.id), erin);
        assert.deepEqual(sortById(await store.listContacts(tenantId, alice.id, null)), sortById([dana, erin]));
        assert.deepEqual(await store.listContacts(tenantId, alice.id, friends.id), [frank]);
        assert.deepEqual(await store.listContacts(tenantId, alice.id, randomUUID()), []);
        assert.equal(await store.getContact(tenantId, alice.id, randomUUID()), undefined);

        // Email addresses in another order are a change; so is a move to a folder.
        const reordered: Contact = { ...dana, emailAddresses: [...dana.emailAddresses].reverse() };
        assert.equal(await store.saveContact(reordered), 'updated');
        assert.deepEqual(await store.getContact(tenantId, alice.id, dana.id), reordered);
        const moved: Contact = { ...reordered, folderId: friends.id };
        assert.equal(await store.saveContact(moved), 'updated');
        assert.deepEqual(await store.listContacts(tenantId, alice.id, null), [erin]);
        assert.deepEqual(sortById(await store.listContacts(tenantId, alice.id, friends.id)), sortById([frank, moved]));
      });
      it('saves equal email addresses as unchanged, whatever order the caller built their keys in', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        await store.saveUser(alice);
        const dana = contact(tenantId, alice.id, null, 'Dana', {
          emailAddresses: [{ address: 'dana@example.com', name: 'Dana' }],
        });
        assert.equal(await store.saveContact(dana), 'created');
        // The same values, as a JSON parser or another code path might build them.
        const sameValues = dana.emailAddresses.map(({ address, name }) => ({ name, address }));
        assert.equal(await store.saveContact({ ...dana, emailAddresses: sameValues }), 'unchanged');
      });
    });

    describe('invitations', () => {
      it('saves and gets an invitation: created, unchanged, updated', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const guest = user(tenantId, 'guest_fabrikam.com#EXT#@contoso.com', { userType: 'Guest' });
        await store.saveUser(guest);
        const sent = invitation(tenantId, guest.id);
        assert.equal(await store.saveInvitation(sent), 'created');
        assert.deepEqual(await store.getInvitation(tenantId, sent.id), sent);
        assert.equal(await store.saveInvitation({ ...sent }), 'unchanged');
        const redirected = { ...sent, inviteRedirectUrl: 'https://myapps.example/welcome' };
        assert.equal(await store.saveInvitation(redirected), 'updated');
        assert.deepEqual(await store.getInvitation(tenantId, sent.id), redirected);
        assert.equal(await store.getInvitation(tenantId, randomUUID()), undefined);
      });
    });

    describe('applications', () => {
      it('saves and gets an application: created, unchanged, updated when a field changes', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const reports = application(tenantId, 'Reports', { roles: ['User.ReadWrite.All', 'Group.Read.All'] });
        assert.equal(await store.saveApplication(reports), 'created');
        assert.deepEqual(await store.getApplication(tenantId, reports.clientId), reports);
        assert.equal(await store.saveApplication({ ...reports, roles: [...reports.roles] }), 'unchanged');

        for (const change of [
          { displayName: 'Reports v2' },
          { roles: ['Group.Read.All', 'User.ReadWrite.All'] },
          { roles: ['User.Read.All'] },
          { secretHash: `scrypt$32768$8$1$${randomBytes(16).toString('base64url')}$${randomBytes(32).toString('base64url')}` },
          { createdAt: '2030-01-02T03:04:05.678Z' },
          { redirectUris: ['http://localhost:3000/', 'https://app.contoso.com/auth?x=1'] },
          { redirectUris: ['https://app.contoso.com/auth?x=1'] },
        ]) {
          const next: Application = { ...(await store.getApplication(tenantId, reports.clientId))!, ...change };
          assert.equal(await store.saveApplication(next), 'updated', `changing ${Object.keys(change).join()}`);
          assert.deepEqual(await store.getApplication(tenantId, reports.clientId), next);
          assert.equal(await store.saveApplication(next), 'unchanged', `saving ${Object.keys(change).join()} again`);
        }
      });

      it('finds an application by client id in any case, and nothing for an unknown one', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const reports = application(tenantId, 'Reports');
        await store.saveApplication(reports);
        assert.deepEqual(await store.getApplication(tenantId, reports.clientId.toUpperCase()), reports);
        assert.equal(await store.getApplication(tenantId, randomUUID()), undefined);
      });

      it('keeps tenants apart: the same client id in two tenants is two applications', async (t) => {
        const { store } = await setup(t);
        const [a, b] = [randomUUID(), randomUUID()];
        await store.ensureTenant(a);
        await store.ensureTenant(b);
        const clientId = randomUUID();
        const inA = application(a, 'In A', { clientId, roles: ['User.Read.All'] });
        const inB = application(b, 'In B', { clientId, roles: ['Group.ReadWrite.All'] });
        assert.equal(await store.saveApplication(inA), 'created');
        assert.equal(await store.saveApplication(inB), 'created');
        assert.deepEqual(await store.getApplication(a, clientId), inA);
        assert.deepEqual(await store.getApplication(b, clientId), inB);
        const other = randomUUID();
        await store.ensureTenant(other);
        assert.equal(await store.getApplication(other, clientId), undefined);
      });

      it('lists a tenant\'s applications oldest first, or every tenant\'s; removes one by client id in any case', async (t) => {
        const { store } = await setup(t);
        const [a, b] = [randomUUID(), randomUUID()];
        await store.ensureTenant(a);
        await store.ensureTenant(b);
        const first = application(a, 'First', { createdAt: '2030-01-01T00:00:00.000Z' });
        const second = application(a, 'Second', { createdAt: '2030-01-02T00:00:00.000Z' });
        const elsewhere = application(b, 'Elsewhere');
        for (const app of [second, elsewhere, first]) await store.saveApplication(app);
        assert.deepEqual(await store.listApplications(a), [first, second]);
        assert.deepEqual(await store.listApplications(b), [elsewhere]);
        const all = await store.listApplications(undefined);
        for (const app of [first, second, elsewhere]) assert.ok(all.some((listed) => listed.clientId === app.clientId), app.displayName);
        const tenantsInOrder = all.map((listed) => listed.tenantId);
        assert.deepEqual(tenantsInOrder, [...tenantsInOrder].sort(), 'grouped by tenant');

        assert.equal(await store.deleteApplication(a, first.clientId.toUpperCase()), true);
        assert.equal(await store.getApplication(a, first.clientId), undefined);
        assert.equal(await store.deleteApplication(a, first.clientId), false, 'gone already');
        assert.equal(await store.deleteApplication(a, elsewhere.clientId), false, 'another tenant\'s is not removed');
        assert.deepEqual(await store.listApplications(a), [second]);
        assert.deepEqual(await store.listApplications(b), [elsewhere]);
      });
    });

    describe('OAuth grants', () => {
      const grant = (tenantId: string, userId: string, overrides: Partial<OAuthGrant> = {}): OAuthGrant => ({
        grantHash: randomBytes(32).toString('base64url'),
        kind: 'code',
        tenantId,
        clientId: randomUUID(),
        userId,
        scopes: ['User.ReadWrite', 'openid'],
        redirectUri: 'http://localhost:3000/',
        codeChallenge: randomBytes(32).toString('base64url'),
        nonce: 'n-0S6_WzA2Mj',
        expiresAt: Date.now() + 60_000,
        ...overrides,
      });

      it('a removed application takes its codes and refresh tokens with it, and no other application\'s', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const app = application(tenantId, 'Signs people in');
        await store.saveApplication(app);
        const userId = randomUUID();
        const code = grant(tenantId, userId, { clientId: app.clientId });
        const refresh = grant(tenantId, userId, { clientId: app.clientId, kind: 'refresh', redirectUri: null, codeChallenge: null, nonce: null });
        const another = grant(tenantId, userId);
        for (const g of [code, refresh, another]) await store.saveOAuthGrant(g);
        assert.equal(await store.deleteApplication(tenantId, app.clientId), true);
        assert.equal(await store.takeOAuthGrant(code.grantHash, Date.now()), undefined);
        assert.equal(await store.takeOAuthGrant(refresh.grantHash, Date.now()), undefined);
        assert.deepEqual(await store.takeOAuthGrant(another.grantHash, Date.now()), another);
      });

      it('gives a grant back once, whole, and never again', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const code = grant(tenantId, randomUUID());
        const refresh = grant(tenantId, code.userId, { kind: 'refresh', redirectUri: null, codeChallenge: null, nonce: null });
        await store.saveOAuthGrant(code);
        await store.saveOAuthGrant(refresh);
        assert.deepEqual(await store.takeOAuthGrant(code.grantHash, Date.now()), code);
        assert.equal(await store.takeOAuthGrant(code.grantHash, Date.now()), undefined, 'a code is used once');
        assert.deepEqual(await store.takeOAuthGrant(refresh.grantHash, Date.now()), refresh);
        assert.equal(await store.takeOAuthGrant(randomBytes(32).toString('base64url'), Date.now()), undefined);
      });

      it('gives one redemption of a grant to one of many at once', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const code = grant(tenantId, randomUUID());
        await store.saveOAuthGrant(code);
        const taken = await Promise.all(Array.from({ length: 8 }, () => store.takeOAuthGrant(code.grantHash, Date.now())));
        assert.equal(taken.filter((g) => g !== undefined).length, 1);
      });

      it('gives nothing for an expired grant, and removes expired grants as new ones come', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const old = grant(tenantId, randomUUID(), { expiresAt: Date.now() - 1 });
        const later = grant(tenantId, randomUUID(), { expiresAt: Date.now() + 1000 });
        await store.saveOAuthGrant(later);
        assert.equal(await store.takeOAuthGrant(later.grantHash, later.expiresAt), undefined, 'expired at its expiry');
        await store.saveOAuthGrant(old);
        await store.saveOAuthGrant(grant(tenantId, randomUUID()));
        assert.equal(await store.takeOAuthGrant(old.grantHash, 0), undefined, 'removed when the next grant was saved');
      });

      it(`keeps at most ${GRANTS_PER_USER} grants a user, dropping those that expire first`, async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const userId = randomUUID();
        const now = Date.now();
        const grants = Array.from({ length: GRANTS_PER_USER + 3 }, (_, i) => grant(tenantId, userId, { expiresAt: now + 60_000 + i }));
        for (const g of grants) await store.saveOAuthGrant(g);
        const other = grant(tenantId, randomUUID());
        await store.saveOAuthGrant(other);
        const kept = [];
        for (const g of grants) if ((await store.takeOAuthGrant(g.grantHash, now)) !== undefined) kept.push(g);
        assert.deepEqual(kept, grants.slice(3));
        assert.ok(await store.takeOAuthGrant(other.grantHash, now), "another user's grant is not touched");
      });

      it("deleting a user removes the user's grants", async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        await store.saveUser(alice);
        const code = grant(tenantId, alice.id);
        await store.saveOAuthGrant(code);
        assert.equal(await store.deleteUser(tenantId, alice.id), true);
        assert.equal(await store.takeOAuthGrant(code.grantHash, Date.now()), undefined);
      });
    });

    describe('photos', () => {
      it('has no photo, bytes or master for an owner never given one', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const nobody = owner(tenantId, 'user', randomUUID());
        assert.equal(await store.getPhoto(nobody), undefined);
        assert.equal(await store.getPhotoContent(nobody, 'primary'), undefined);
        assert.equal(await store.getPhotoContent(nobody, { width: 48, height: 48 }), undefined);
        assert.equal(await store.getMaster(nobody), undefined);
      });

      it('puts a photo and gives back its metadata, every size’s bytes and the master', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const me = owner(tenantId, 'user', randomUUID());
        const etag = etagOf('first');
        const photo = newPhoto(etag);
        const expectedInfo: PhotoInfo = { etag, primary: PRIMARY, sizes: SIZES_ORDERED, master: MASTER };

        const outcome = await store.putPhoto(me, photo, {});
        assert.deepEqual(outcome, { ok: true, info: expectedInfo });
        assert.deepEqual(await store.getPhoto(me), expectedInfo, 'sizes ordered by width, then height');

        const primary = await store.getPhotoContent(me, 'primary');
        assert.deepEqual(primary, content(etag, PRIMARY, sizeBytes(photo, PRIMARY)));
        for (const size of photo.sizes) {
          const got = await store.getPhotoContent(me, { width: size.width, height: size.height });
          assert.deepEqual(got, content(etag, size, size.bytes), `size ${size.width}x${size.height}`);
        }
        assert.deepEqual(await store.getMaster(me), content(etag, MASTER, photo.master.bytes));

        assert.equal(await store.getPhotoContent(me, { width: 500, height: 500 }), undefined, 'a size it lacks');
        assert.equal(await store.getPhotoContent(me, { width: 64, height: 64 }), undefined, 'a width it has, not that height');
        assert.equal(await store.getPhotoContent(me, { width: MASTER.width, height: MASTER.height }), undefined, 'the master is not a size');
      });

      it('keeps large binary bytes exactly', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const me = owner(tenantId, 'group', randomUUID());
        const big = randomBytes(300_000);
        const small = Buffer.from([0x00, 0x00, 0xff, 0xd8, 0x00]);
        const masterBytes = randomBytes(1_000_000);
        const photo: NewPhoto = {
          etag: etagOf('big'),
          primary: { width: 648, height: 648 },
          master: { width: 2000, height: 1000, bytes: masterBytes },
          sizes: [
            { width: 648, height: 648, bytes: big },
            { width: 1, height: 1, bytes: small },
          ],
        };
        assert.equal((await store.putPhoto(me, photo, {})).ok, true);
        assert.deepEqual((await store.getPhotoContent(me, 'primary'))?.bytes, big);
        assert.deepEqual((await store.getPhotoContent(me, { width: 1, height: 1 }))?.bytes, small);
        assert.deepEqual((await store.getMaster(me))?.bytes, masterBytes);
      });

      it('replaces every size on a second put: sizes the new version lacks are gone', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const me = owner(tenantId, 'contact', randomUUID());
        await store.putPhoto(me, newPhoto(etagOf('old')), {});

        const fewer = [{ width: 48, height: 48 }, { width: 240, height: 180 }];
        const etag = etagOf('new');
        const replacement = newPhoto(etag, fewer, { width: 240, height: 180 }, { width: 240, height: 180 });
        const outcome = await store.putPhoto(me, replacement, {});
        const expectedInfo: PhotoInfo = {
          etag,
          primary: { width: 240, height: 180 },
          sizes: fewer,
          master: { width: 240, height: 180 },
        };
        assert.deepEqual(outcome, { ok: true, info: expectedInfo });
        assert.deepEqual(await store.getPhoto(me), expectedInfo);
        await assertPhotoWhole(store, me, etag);
        for (const old of SIZES) {
          if (fewer.some((s) => s.width === old.width && s.height === old.height)) continue;
          assert.equal(await store.getPhotoContent(me, old), undefined, `old size ${old.width}x${old.height} is gone`);
        }
        assert.deepEqual((await store.getPhotoContent(me, { width: 48, height: 48 }))?.bytes, bytesOf(etag, '48x48'));
      });

      it('a put that fails partway rejects and changes nothing: the previous version stays whole', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const me = owner(tenantId, 'user', randomUUID());
        // The largest size twice: the old version is deleted, the new row and every other
        // size written, then photo_content's unique size index refuses the last one. Only a transaction
        // around all of it undoes the rest.
        const failing = (etag: string): NewPhoto => {
          const photo = newPhoto(etag);
          return { ...photo, sizes: [...photo.sizes, { width: 120, height: 90, bytes: bytesOf(etag, 'again') }] };
        };

        await assert.rejects(store.putPhoto(me, failing(etagOf('x')), {}));
        assert.equal(await store.getPhoto(me), undefined, 'a failed first put leaves no photo');
        assert.equal(await store.getPhotoContent(me, 'primary'), undefined);
        for (const size of SIZES) assert.equal(await store.getPhotoContent(me, size), undefined);
        assert.equal(await store.getMaster(me), undefined);

        await store.putPhoto(me, newPhoto(etagOf('a')), {});
        await assert.rejects(store.putPhoto(me, failing(etagOf('b')), {}));
        await assert.rejects(store.putPhoto(me, failing(etagOf('c')), { ifMatch: [etagOf('a')] }));
        assert.deepEqual(await store.getPhoto(me), { etag: etagOf('a'), primary: PRIMARY, sizes: SIZES_ORDERED, master: MASTER });
        // Every size's bytes, the primary and the master are version a's, as before.
        await assertPhotoWhole(store, me, etagOf('a'));

        assert.equal((await store.putPhoto(me, newPhoto(etagOf('d')), { ifMatch: [etagOf('a')] })).ok, true, 'the next put is taken');
        await assertPhotoWhole(store, me, etagOf('d'));
      });

      describe('preconditions on put', () => {
        it('without a photo: If-Match fails (a list or *), If-None-Match: * succeeds', async (t) => {
          const { store, tenantId } = await setupTenant(t);
          const me = owner(tenantId, 'user', randomUUID());
          const refused = { ok: false, reason: 'precondition', currentEtag: undefined };
          assert.deepEqual(await store.putPhoto(me, newPhoto(etagOf('a')), { ifMatch: [etagOf('x')] }), refused);
          assert.deepEqual(await store.putPhoto(me, newPhoto(etagOf('a')), { ifMatch: '*' }), refused);
          assert.equal(await store.getPhoto(me), undefined, 'a refused put writes nothing');
          assert.equal(await store.getPhotoContent(me, 'primary'), undefined);
          assert.equal(await store.getMaster(me), undefined);

          const created = await store.putPhoto(me, newPhoto(etagOf('a')), { ifNoneMatch: '*' });
          assert.equal(created.ok, true);
          await assertPhotoWhole(store, me, etagOf('a'));
        });

        it('with a photo: If-Match on a current ETag or * succeeds; another ETag or If-None-Match: * fails and changes nothing', async (t) => {
          const { store, tenantId } = await setupTenant(t);
          const me = owner(tenantId, 'user', randomUUID());
          await store.putPhoto(me, newPhoto(etagOf('a')), {});
          const refusedA = { ok: false, reason: 'precondition', currentEtag: etagOf('a') };

          assert.deepEqual(await store.putPhoto(me, newPhoto(etagOf('b')), { ifMatch: [etagOf('x')] }), refusedA);
          assert.deepEqual(await store.putPhoto(me, newPhoto(etagOf('b')), { ifNoneMatch: '*' }), refusedA);
          assert.deepEqual(
            await store.putPhoto(me, newPhoto(etagOf('b')), { ifMatch: [etagOf('a')], ifNoneMatch: '*' }),
            refusedA,
            'If-None-Match: * fails on an existing photo even when If-Match holds',
          );
          // A weak or unquoted spelling of the current ETag is not the strong ETag.
          assert.deepEqual(await store.putPhoto(me, newPhoto(etagOf('b')), { ifMatch: [`W/${etagOf('a')}`] }), refusedA);
          await assertPhotoWhole(store, me, etagOf('a'));
          assert.deepEqual((await store.getPhoto(me))?.sizes, SIZES_ORDERED);

          const matched = await store.putPhoto(me, newPhoto(etagOf('b')), { ifMatch: [etagOf('x'), etagOf('a')] });
          assert.equal(matched.ok, true, 'If-Match holds when any listed ETag is current');
          await assertPhotoWhole(store, me, etagOf('b'));

          const any = await store.putPhoto(me, newPhoto(etagOf('c')), { ifMatch: '*' });
          assert.equal(any.ok, true, 'If-Match: * holds when a photo exists');
          await assertPhotoWhole(store, me, etagOf('c'));

          const stale = await store.putPhoto(me, newPhoto(etagOf('d')), { ifMatch: [etagOf('a')] });
          assert.deepEqual(stale, { ok: false, reason: 'precondition', currentEtag: etagOf('c') }, 'an ETag that was current once is stale now');
          await assertPhotoWhole(store, me, etagOf('c'));
        });
      });

      describe('delete', () => {
        it('deletes a photo: deleted true, then nothing is left; a second delete says deleted false', async (t) => {
          const { store, tenantId } = await setupTenant(t);
          const me = owner(tenantId, 'user', randomUUID());
          assert.deepEqual(await store.deletePhoto(me, {}), { ok: true, deleted: false }, 'nothing to delete');
          await store.putPhoto(me, newPhoto(etagOf('a')), {});
          assert.deepEqual(await store.deletePhoto(me, {}), { ok: true, deleted: true });
          assert.equal(await store.getPhoto(me), undefined);
          assert.equal(await store.getPhotoContent(me, 'primary'), undefined);
          for (const size of SIZES) assert.equal(await store.getPhotoContent(me, size), undefined);
          assert.equal(await store.getMaster(me), undefined);
          assert.deepEqual(await store.deletePhoto(me, {}), { ok: true, deleted: false });

          // A new photo after a delete starts clean.
          const fresh = newPhoto(etagOf('b'), [{ width: 48, height: 48 }], { width: 48, height: 48 });
          await store.putPhoto(me, fresh, { ifNoneMatch: '*' });
          assert.deepEqual((await store.getPhoto(me))?.sizes, [{ width: 48, height: 48 }]);
          await assertPhotoWhole(store, me, etagOf('b'));
        });

        it('honours preconditions on delete', async (t) => {
          const { store, tenantId } = await setupTenant(t);
          const me = owner(tenantId, 'user', randomUUID());
          const refusedNone = { ok: false, reason: 'precondition', currentEtag: undefined };
          assert.deepEqual(await store.deletePhoto(me, { ifMatch: '*' }), refusedNone);
          assert.deepEqual(await store.deletePhoto(me, { ifMatch: [etagOf('a')] }), refusedNone);
          assert.deepEqual(await store.deletePhoto(me, { ifNoneMatch: '*' }), { ok: true, deleted: false });

          await store.putPhoto(me, newPhoto(etagOf('a')), {});
          const refusedA = { ok: false, reason: 'precondition', currentEtag: etagOf('a') };
          assert.deepEqual(await store.deletePhoto(me, { ifMatch: [etagOf('x')] }), refusedA);
          assert.deepEqual(await store.deletePhoto(me, { ifNoneMatch: '*' }), refusedA);
          await assertPhotoWhole(store, me, etagOf('a'));

          assert.deepEqual(await store.deletePhoto(me, { ifMatch: [etagOf('x'), etagOf('a')] }), { ok: true, deleted: true });
          assert.equal(await store.getPhoto(me), undefined);

          await store.putPhoto(me, newPhoto(etagOf('b')), {});
          assert.deepEqual(await store.deletePhoto(me, { ifMatch: '*' }), { ok: true, deleted: true });
          assert.equal(await store.getPhoto(me), undefined);
        });
      });

      describe('atomicity under concurrency', () => {
        it('16 concurrent puts leave one version whole, and no read ever mixes versions', async (t) => {
          const { store, tenantId } = await setupTenant(t);
          const me = owner(tenantId, 'user', randomUUID());
          const etags = Array.from({ length: 16 }, (_, i) => etagOf(`v${i}`));
          // Readers run among the writers: each answer must be one version's, whole.
          const reads: Promise<PhotoContent | undefined>[] = [];
          const writes = etags.map((etag) => {
            reads.push(store.getPhotoContent(me, 'primary'), store.getPhotoContent(me, { width: 48, height: 48 }), store.getMaster(me));
            return store.putPhoto(me, newPhoto(etag), {});
          });
          const outcomes = await Promise.all(writes);
          for (const [i, outcome] of outcomes.entries()) {
            assert.equal(outcome.ok, true, `put ${i}`);
            if (outcome.ok) assert.equal(outcome.info.etag, etags[i]);
          }
          for (const read of await Promise.all(reads)) {
            if (read === undefined) continue;
            assert.ok(etags.includes(read.etag), `a read saw an ETag nobody wrote: ${read.etag}`);
            assert.equal(versionOf(read.bytes), read.etag, 'a read’s bytes belong to the version its ETag names');
          }

          const info = await store.getPhoto(me);
          assert.ok(info !== undefined);
          assert.ok(etags.includes(info.etag), `the winner is one of the writers: ${info.etag}`);
          assert.deepEqual(info.sizes, SIZES_ORDERED);
          await assertPhotoWhole(store, me, info.etag);
        });

        it('16 concurrent puts with If-Match on the same ETag: exactly one succeeds', async (t) => {
          const { store, tenantId } = await setupTenant(t);
          const me = owner(tenantId, 'user', randomUUID());
          const initial = etagOf('initial');
          await store.putPhoto(me, newPhoto(initial), {});
          const etags = Array.from({ length: 16 }, (_, i) => etagOf(`racer${i}`));
          const outcomes = await Promise.all(etags.map((etag) => store.putPhoto(me, newPhoto(etag), { ifMatch: [initial] })));

          const winners = outcomes.flatMap((o, i) => (o.ok ? [etags[i]] : []));
          assert.equal(winners.length, 1, `exactly one conditional put wins, not ${winners.length}`);
          const winner = winners[0]!;
          for (const o of outcomes) {
            if (o.ok) continue;
            assert.deepEqual(o, { ok: false, reason: 'precondition', currentEtag: winner }, 'losers see the winner’s ETag');
          }
          await assertPhotoWhole(store, me, winner);
        });

        it('16 concurrent creates with If-None-Match: * — exactly one succeeds', async (t) => {
          const { store, tenantId } = await setupTenant(t);
          const me = owner(tenantId, 'group', randomUUID());
          const etags = Array.from({ length: 16 }, (_, i) => etagOf(`creator${i}`));
          const outcomes = await Promise.all(etags.map((etag) => store.putPhoto(me, newPhoto(etag), { ifNoneMatch: '*' })));
          const winners = outcomes.flatMap((o, i) => (o.ok ? [etags[i]] : []));
          assert.equal(winners.length, 1, `exactly one create wins, not ${winners.length}`);
          const winner = winners[0]!;
          for (const o of outcomes) {
            if (o.ok) continue;
            assert.deepEqual(o, { ok: false, reason: 'precondition', currentEtag: winner });
          }
          await assertPhotoWhole(store, me, winner);
        });

        it('16 concurrent conditional deletes on the same ETag: exactly one deletes', async (t) => {
          const { store, tenantId } = await setupTenant(t);
          const me = owner(tenantId, 'user', randomUUID());
          await store.putPhoto(me, newPhoto(etagOf('doomed')), {});
          const outcomes = await Promise.all(
            Array.from({ length: 16 }, () => store.deletePhoto(me, { ifMatch: [etagOf('doomed')] })),
          );
          assert.equal(outcomes.filter((o) => o.ok && o.deleted).length, 1);
          for (const o of outcomes) {
            if (o.ok) continue;
            assert.deepEqual(o, { ok: false, reason: 'precondition', currentEtag: undefined });
          }
          assert.equal(await store.getPhoto(me), undefined);
        });
      });
    });

    describe('paged listings (issue 11)', () => {
      type Named = { readonly id: string; readonly displayName: string };
      const byId = (a: Named, b: Named) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      const byName = (a: Named, b: Named) => {
        const [x, y] = [a.displayName.toLowerCase(), b.displayName.toLowerCase()];
        return x < y ? -1 : x > y ? 1 : byId(a, b);
      };
      const base = { orderBy: 'id', descending: false, limit: 100, count: false } as const satisfies ListQuery;

      /** Every page of a listing, following each page's last object, as the HTTP layer does. */
      async function walk<T extends Named>(fetch: (query: ListQuery<never>) => Promise<Page<T>>, query: ListQuery, between?: () => Promise<void>): Promise<{ items: T[]; pages: number }> {
        const items: T[] = [];
        let after: ListCursor | undefined;
        let pages = 0;
        for (;;) {
          const page = await fetch({ ...query, after } as ListQuery<never>);
          assert.ok(page.items.length <= query.limit, 'a page holds at most limit objects');
          items.push(...page.items);
          pages++;
          const last = page.items.at(-1);
          if (!page.more || last === undefined) return { items, pages };
          after = cursorAfter(last, query.orderBy);
          await between?.();
          assert.ok(pages < 500, 'the walk ends');
        }
      }

      it('pages users by id: limit per page, more while objects follow, every user once', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const users = Array.from({ length: 25 }, (_, i) => user(tenantId, `u${i}@contoso.com`));
        for (const u of users) await store.saveUser(u);
        const first = await store.queryUsers(tenantId, { ...base, limit: 10 });
        assert.equal(first.items.length, 10);
        assert.equal(first.more, true);
        assert.equal(first.count, undefined);
        const { items, pages } = await walk((q) => store.queryUsers(tenantId, q), { ...base, limit: 10 });
        assert.equal(pages, 3);
        assert.deepEqual(items, [...users].sort(byId));
        const exact = await store.queryUsers(tenantId, { ...base, limit: 25 });
        assert.equal(exact.more, false, 'no more when the page ends exactly at the last');
        assert.deepEqual(await store.queryUsers(randomUUID(), base), { items: [], more: false });
      });

      it('orders by displayName without regard to case, ties by id, either way', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const names = ['bravo', 'Alpha', 'alpha', 'Charlie', 'ALPHA', 'delta', 'Bravo', 'echo', 'alpha'];
        const groups = names.map((name) => groupOf(tenantId, name));
        for (const g of groups) await store.saveGroup(g);
        const up = await walk((q) => store.queryGroups(tenantId, q), { ...base, orderBy: 'displayName', limit: 2 });
        assert.deepEqual(up.items.map((g) => g.id), [...groups].sort(byName).map((g) => g.id));
        const down = await walk((q) => store.queryGroups(tenantId, q), { ...base, orderBy: 'displayName', descending: true, limit: 4 });
        assert.deepEqual(down.items.map((g) => g.id), [...groups].sort(byName).reverse().map((g) => g.id));
      });

      it('keeps working while objects are added before, inside and after the pages read', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const first = Array.from({ length: 30 }, (_, i) => user(tenantId, `p${i}@contoso.com`, { displayName: `Person ${String(i).padStart(2, '0')}` }));
        for (const u of first) await store.saveUser(u);
        for (const orderBy of ['id', 'displayName'] as const) {
          let n = 0;
          const add = async () => {
            for (const name of ['Aaron', 'Person 15b', 'Zed']) await store.saveUser(user(tenantId, `x${orderBy}${n++}@contoso.com`, { displayName: name }));
          };
          const { items } = await walk((q) => store.queryUsers(tenantId, q), { ...base, orderBy, limit: 7 }, add);
          const ids = items.map((u) => u.id);
          assert.equal(new Set(ids).size, ids.length, `${orderBy}: nobody twice`);
          for (const u of first) assert.ok(ids.includes(u.id), `${orderBy}: ${u.displayName} seen`);
        }
      });

      it('filters: eq and in without regard to case, ne keeps nulls, null, startsWith takes % and _ literally, and/or, never', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const ann = user(tenantId, 'ann@contoso.com', { displayName: 'Ann Lee', mail: null });
        const bob = user(tenantId, 'bob@contoso.com', { displayName: "Bob O'Neil", userType: 'Guest' });
        const pct = user(tenantId, 'pct@contoso.com', { displayName: '100% Sure' });
        const und = user(tenantId, 'und@contoso.com', { displayName: 'a_b' });
        const axb = user(tenantId, 'axb@contoso.com', { displayName: 'axb' });
        for (const u of [ann, bob, pct, und, axb]) await store.saveUser(u);
        const find = async (where: Condition<UserProperty>) => (await store.queryUsers(tenantId, { ...base, where })).items.map((u) => u.displayName).sort();
        assert.deepEqual(await find({ kind: 'eq', property: 'displayName', value: 'ANN LEE' }), ['Ann Lee']);
        assert.deepEqual(await find({ kind: 'eq', property: 'userPrincipalName', value: 'BOB@contoso.COM' }), ["Bob O'Neil"]);
        assert.deepEqual(await find({ kind: 'eq', property: 'id', value: bob.id.toUpperCase() }), ["Bob O'Neil"]);
        assert.deepEqual(await find({ kind: 'eq', property: 'displayName', value: "bob o'neil" }), ["Bob O'Neil"]);
        assert.deepEqual(await find({ kind: 'eq', property: 'mail', value: null }), ['Ann Lee']);
        assert.deepEqual(await find({ kind: 'ne', property: 'mail', value: 'bob@contoso.com' }), ['100% Sure', 'Ann Lee', 'a_b', 'axb']);
        assert.deepEqual(await find({ kind: 'ne', property: 'mail', value: null }), ["100% Sure", "Bob O'Neil", 'a_b', 'axb']);
        assert.deepEqual(await find({ kind: 'in', property: 'userType', values: ['guest', 'nobody'] }), ["Bob O'Neil"]);
        assert.deepEqual(await find({ kind: 'in', property: 'userType', values: [] }), []);
        assert.deepEqual(await find({ kind: 'startsWith', property: 'displayName', value: '100%' }), ['100% Sure']);
        assert.deepEqual(await find({ kind: 'startsWith', property: 'displayName', value: '1%' }), []);
        assert.deepEqual(await find({ kind: 'startsWith', property: 'displayName', value: 'a_' }), ['a_b']);
        assert.deepEqual(await find({ kind: 'wordStartsWith', property: 'displayName', value: 'neil' }), ["Bob O'Neil"]);
        assert.deepEqual(await find({ kind: 'wordStartsWith', property: 'displayName', value: 'lee' }), ['Ann Lee']);
        assert.deepEqual(await find({ kind: 'wordStartsWith', property: 'displayName', value: 'b' }), ["Bob O'Neil", 'a_b']);
        assert.deepEqual(
          await find({ kind: 'or', conditions: [{ kind: 'and', conditions: [{ kind: 'startsWith', property: 'displayName', value: 'a' }, { kind: 'ne', property: 'displayName', value: 'axb' }] }, { kind: 'eq', property: 'userType', value: 'Guest' }] }),
          ['Ann Lee', "Bob O'Neil", 'a_b'],
        );
        assert.deepEqual(await find({ kind: 'never' }), []);
        // A quote, a comment or a statement in a value is only text to compare with.
        assert.deepEqual(await find({ kind: 'eq', property: 'displayName', value: "x' OR '1'='1" }), []);
        assert.deepEqual(await find({ kind: 'startsWith', property: 'displayName', value: "'; DROP TABLE users; --" }), []);
        assert.equal((await store.queryUsers(tenantId, base)).items.length, 5);
      });

      it('filters groups by whether they have a team', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const plain = groupOf(tenantId, 'Plain');
        const teamed = groupOf(tenantId, 'Teamed', { hasTeam: true });
        await store.saveGroup(plain);
        await store.saveGroup(teamed);
        const find = async (value: boolean) => (await store.queryGroups(tenantId, { ...base, where: { kind: 'eq', property: 'hasTeam', value } })).items;
        assert.deepEqual(await find(true), [teamed]);
        assert.deepEqual(await find(false), [plain]);
      });

      it('counts every match, whatever the page and where it starts', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const users = Array.from({ length: 12 }, (_, i) => user(tenantId, `c${i}@contoso.com`, { displayName: i < 8 ? `Match ${i}` : `Other ${i}` }));
        for (const u of users) await store.saveUser(u);
        const where: Condition<UserProperty> = { kind: 'startsWith', property: 'displayName', value: 'match' };
        const first = await store.queryUsers(tenantId, { ...base, where, limit: 3, count: true });
        assert.equal(first.count, 8);
        const later = await store.queryUsers(tenantId, { ...base, where, limit: 3, count: true, after: cursorAfter(first.items.at(-1)!, 'id') });
        assert.equal(later.count, 8);
        assert.equal(later.items.length, 3);
      });

      it('lists a user’s contact folders by parent and contacts by folder, and nothing of another user or tenant', async (t) => {
        const { store, tenantId } = await setupTenant(t);
        const alice = user(tenantId, 'alice@contoso.com');
        const bob = user(tenantId, 'bob@contoso.com');
        await store.saveUser(alice);
        await store.saveUser(bob);
        const top = folder(tenantId, alice.id, null, 'Top');
        const children = Array.from({ length: 5 }, (_, i) => folder(tenantId, alice.id, top.id, `Child ${i}`));
        const bobs = folder(tenantId, bob.id, null, 'Bob’s');
        for (const f of [top, ...children, bobs]) await store.saveContactFolder(f);
        const inTop = Array.from({ length: 6 }, (_, i) => contact(tenantId, alice.id, top.id, `Deep ${i}`, { surname: i % 2 ? 'Odd' : null }));
        const inDefault = contact(tenantId, alice.id, null, 'Default');
        for (const c of [...inTop, inDefault, contact(tenantId, bob.id, null, 'Bob’s contact')]) await store.saveContact(c);

        const folders = await walk((q) => store.queryContactFolders(tenantId, alice.id, top.id, q), { ...base, orderBy: 'displayName', limit: 2 });
        assert.deepEqual(folders.items, [...children].sort(byName));
        assert.deepEqual((await store.queryContactFolders(tenantId, alice.id, null, base)).items, [top]);
        assert.deepEqual((await store.queryContactFolders(tenantId, bob.id, null, base)).items, [bobs]);
        assert.deepEqual((await store.queryContactFolders(randomUUID(), alice.id, null, base)).items, []);

        const contacts = await walk((q) => store.queryContacts(tenantId, alice.id, top.id, q), { ...base, limit: 4 });
        assert.deepEqual(contacts.items, [...inTop].sort(byId));
        assert.deepEqual((await store.queryContacts(tenantId, alice.id, null, base)).items, [inDefault]);
        const odd = await store.queryContacts(tenantId, alice.id, top.id, { ...base, where: { kind: 'eq', property: 'surname', value: 'odd' }, count: true });
        assert.equal(odd.count, 3);
        const named = await store.queryContacts(tenantId, alice.id, top.id, { ...base, where: { kind: 'eq', property: 'folderId', value: top.id } });
        assert.equal(named.items.length, 6);
      });
    });

    describe('lifetime', () => {
      it('keeps everything written across close and reopen', async (t) => {
        const { store, reopen } = await setup(t);
        if (reopen === undefined) {
          t.skip('this store does not persist');
          return;
        }
        const tenantId = randomUUID();
        await store.ensureTenant(tenantId);
        await store.setSetting('key', 'value');
        const alice = user(tenantId, 'Alice@contoso.com', { isAdmin: true });
        await store.saveUser(alice);
        const group = groupOf(tenantId, 'Engineering', { hasTeam: true });
        await store.saveGroup(group);
        const friends = folder(tenantId, alice.id, null, 'Friends');
        await store.saveContactFolder(friends);
        const dana = contact(tenantId, alice.id, friends.id, 'Dana');
        await store.saveContact(dana);
        const sent = invitation(tenantId, alice.id);
        await store.saveInvitation(sent);
        const reports = application(tenantId, 'Reports');
        await store.saveApplication(reports);
        const me = owner(tenantId, 'user', alice.id);
        await store.putPhoto(me, newPhoto(etagOf('kept')), {});
        const gone = owner(tenantId, 'group', group.id);
        await store.putPhoto(gone, newPhoto(etagOf('gone')), {});
        await store.deletePhoto(gone, {});

        const again = await reopen();
        assert.equal(await again.getSetting('key'), 'value');
        assert.deepEqual(await again.getUserByUpn(tenantId, 'alice@CONTOSO.com'), alice);
        assert.deepEqual(await again.getUserByDrive(tenantId, alice.driveId), alice);
        assert.deepEqual(await again.listUsers(tenantId), [alice]);
        assert.deepEqual(await again.getGroup(tenantId, group.id), group);
        assert.deepEqual(await again.listContactFolders(tenantId, alice.id, null), [friends]);
        assert.deepEqual(await again.listContacts(tenantId, alice.id, friends.id), [dana]);
        assert.deepEqual(await again.getInvitation(tenantId, sent.id), sent);
        assert.deepEqual(await again.getApplication(tenantId, reports.clientId), reports);
        assert.equal(await again.hasTenant(tenantId), true);
        assert.deepEqual(await again.getPhoto(me), { etag: etagOf('kept'), primary: PRIMARY, sizes: SIZES_ORDERED, master: MASTER });
        await assertPhotoWhole(again, me, etagOf('kept'));
        assert.equal(await again.getPhoto(gone), undefined, 'a delete persists too');
        // Saves after a reopen compare with what was kept.
        assert.equal(await again.saveUser(alice), 'unchanged');
        assert.equal(await again.saveContact(dana), 'unchanged');
        assert.equal(await again.saveApplication(reports), 'unchanged');
        await again.ensureTenant(tenantId);
      });

      it('closes twice without harm', async (t) => {
        const { store } = await setup(t);
        await store.close();
        await store.close();
      });
    });
  });
}

// ---- fixtures ---------------------------------------------------------------

/** Given out of order on purpose; the store answers them by width, then height. */
const SIZES: readonly Dimensions[] = [
  { width: 96, height: 96 },
  { width: 48, height: 48 },
  { width: 64, height: 48 },
  { width: 48, height: 64 },
  { width: 120, height: 90 },
  { width: 120, height: 80 },
];
const SIZES_ORDERED: readonly Dimensions[] = [
  { width: 48, height: 48 },
  { width: 48, height: 64 },
  { width: 64, height: 48 },
  { width: 96, height: 96 },
  { width: 120, height: 80 },
  { width: 120, height: 90 },
];
const PRIMARY: Dimensions = { width: 96, height: 96 };
const MASTER: Dimensions = { width: 400, height: 300 };

function etagOf(label: string): string {
  return `"${label}"`;
}

/**
 * Fake image bytes that say which version and size they are, so a test can tell
 * whose bytes it got. Binary on purpose: NUL and high bytes must survive.
 */
function bytesOf(etag: string, part: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0xff, 0x89]), Buffer.from(`${etag}|${part}`, 'utf8')]);
}

function versionOf(bytes: Buffer): string {
  return bytes.subarray(3).toString('utf8').split('|')[0] ?? '';
}

function newPhoto(
  etag: string,
  sizes: readonly Dimensions[] = SIZES,
  primary: Dimensions = PRIMARY,
  master: Dimensions = MASTER,
): NewPhoto {
  return {
    etag,
    primary,
    master: { ...master, bytes: bytesOf(etag, 'master') },
    sizes: sizes.map(({ width, height }) => ({ width, height, bytes: bytesOf(etag, `${width}x${height}`) })),
  };
}

function sizeBytes(photo: NewPhoto, size: Dimensions): Buffer {
  const found = photo.sizes.find((s) => s.width === size.width && s.height === size.height);
  assert.ok(found, `the photo has size ${size.width}x${size.height}`);
  return found.bytes;
}

function content(etag: string, size: Dimensions, bytes: Buffer): PhotoContent {
  return { etag, width: size.width, height: size.height, bytes };
}

/** The photo is the version `etag` names, whole: its metadata, every size, the primary and the master agree. */
async function assertPhotoWhole(store: Store, who: PhotoOwner, etag: string): Promise<void> {
  const where = `${who.type} ${who.id}`;
  const info = await store.getPhoto(who);
  assert.ok(info !== undefined, `${where} has a photo`);
  assert.equal(info.etag, etag, `${where} photo ETag`);
  for (const size of info.sizes) {
    const got = await store.getPhotoContent(who, size);
    assert.deepEqual(got, content(etag, size, bytesOf(etag, `${size.width}x${size.height}`)), `${where} size ${size.width}x${size.height}`);
  }
  const primary = await store.getPhotoContent(who, 'primary');
  assert.deepEqual(primary, content(etag, info.primary, bytesOf(etag, `${info.primary.width}x${info.primary.height}`)), `${where} primary`);
  assert.deepEqual(await store.getMaster(who), content(etag, info.master, bytesOf(etag, 'master')), `${where} master`);
}

function owner(tenantId: string, type: PhotoOwner['type'], id: string): PhotoOwner {
  return { tenantId, type, id };
}

function user(tenantId: string, userPrincipalName: string, overrides: Partial<User> = {}): User {
  return {
    tenantId,
    id: randomUUID(),
    userPrincipalName,
    displayName: userPrincipalName.split('@')[0] ?? userPrincipalName,
    mail: userPrincipalName.toLowerCase(),
    userType: 'Member',
    isAdmin: false,
    driveId: `b!${randomUUID()}`,
    ...overrides,
  };
}

function groupOf(tenantId: string, displayName: string, overrides: Partial<Group> = {}): Group {
  return {
    tenantId,
    id: randomUUID(),
    displayName,
    mailNickname: displayName.toLowerCase().replace(/\W+/g, ''),
    description: `The ${displayName} group`,
    unified: false,
    hasTeam: false,
    ...overrides,
  };
}

function folder(
  tenantId: string,
  userId: string,
  parentFolderId: string | null,
  displayName: string,
  overrides: Partial<ContactFolder> = {},
): ContactFolder {
  return { tenantId, id: randomUUID(), userId, parentFolderId, displayName, ...overrides };
}

function contact(
  tenantId: string,
  userId: string,
  folderId: string | null,
  displayName: string,
  overrides: Partial<Contact> = {},
): Contact {
  return {
    tenantId,
    id: randomUUID(),
    userId,
    folderId,
    displayName,
    givenName: displayName.split(' ')[0] ?? null,
    surname: null,
    emailAddresses: [{ address: `${displayName.toLowerCase().replace(/\W+/g, '.')}@example.com`, name: displayName }],
    ...overrides,
  };
}

function invitation(tenantId: string, invitedUserId: string, overrides: Partial<Invitation> = {}): Invitation {
  return {
    tenantId,
    id: randomUUID(),
    invitedUserId,
    invitedUserEmailAddress: 'guest@fabrikam.com',
    inviteRedirectUrl: 'https://myapps.microsoft.com',
    ...overrides,
  };
}

function application(tenantId: string, displayName: string, overrides: Partial<Application> = {}): Application {
  return {
    tenantId,
    clientId: randomUUID(),
    displayName,
    roles: ['User.ReadWrite.All'],
    // The store keeps whatever hash it is given; this one has the shape client-secrets.ts writes.
    secretHash: `scrypt$32768$8$1$${randomBytes(16).toString('base64url')}$${randomBytes(32).toString('base64url')}`,
    redirectUris: [],
    createdAt: new Date().toISOString(),
    ...overrides,
  };
}

function sortById<T extends { readonly id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
