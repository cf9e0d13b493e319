// Every owner path form of contract §2, under /v1.0 and /beta, over a directory
// built through the API itself (users, groups, a team, contacts in nested folders,
// an invitation, drives): uploads, metadata with its canonical @odata.context (§3.1),
// bytes, sizes, deletes, and the 400/404/405 answers that belong to each owner kind.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import { createHarness, type Harness } from './helpers/harness.js';

type Kind = 'user' | 'group' | 'team' | 'contact';
type Caller = 'app' | 'me';
type Method = 'GET' | 'HEAD' | 'PUT' | 'PATCH' | 'POST' | 'DELETE';

const VERSIONS = ['v1.0', 'beta'] as const;
const APP_ROLES = ['User.ReadWrite.All', 'Group.ReadWrite.All', 'Contacts.ReadWrite', 'User.Invite.All', 'Files.Read.All'];
const ME_SCOPES = ['User.ReadWrite.All', 'Group.ReadWrite.All', 'Contacts.ReadWrite', 'User.Invite.All', 'TeamSettings.ReadWrite.All', 'Files.Read.All'];
const ETAG = /^"[0-9A-F]{16}"$/;

// 200×150 → sizes 48…120, /photo 120X120; 300×260 → sizes 48…240, /photo 240X240 (§4).
const FIRST = { bytes: await sharp({ create: { width: 200, height: 150, channels: 3, background: '#c82828' } }).jpeg().toBuffer(), side: 120 };
const SECOND = { bytes: await sharp({ create: { width: 300, height: 260, channels: 3, background: '#2060c0' } }).png().toBuffer(), side: 240 };

/** The objects the tests photograph, all created through the API. */
interface World {
  me: { id: string; upn: string; driveId: string };
  adele: { id: string; upn: string; driveId: string };
  guest: { id: string; upn: string; invitationId: string };
  group: string;
  team: string;
  groupWithoutTeam: string;
  contacts: {
    me: string;
    adele: string;
    guest: string;
    meInFolder: string;
    adeleInFolder: string;
    meDeep: string;
  };
  folders: { me: string; meChild: string; meGrandchild: string; adele: string };
}

interface OwnerForm {
  readonly name: string;
  readonly kind: Kind;
  readonly caller: Caller;
  path(w: World): string;
  /** The canonical OData path of the owner (§3.1). */
  context(w: World): string;
}

const userContext = (id: (w: World) => string) => (w: World) => `users('${id(w)}')`;
const contactContext = (user: (w: World) => string, contact: (w: World) => string) => (w: World) =>
  `users('${user(w)}')/contacts('${contact(w)}')`;
const meId = (w: World) => w.me.id;
const adeleId = (w: World) => w.adele.id;
const guestId = (w: World) => w.guest.id;
/** Mixed case, as a client might type it: UPNs match case-insensitively (§1). */
const mixedCase = (text: string) => [...text].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('');
/** A guest's #EXT# travels as %23EXT%23 (§1). */
const pathUpn = (upn: string) => upn.replaceAll('#', '%23');

const FORMS: readonly OwnerForm[] = [
  // USER
  { name: '/me', kind: 'user', caller: 'me', path: () => '/me', context: userContext(meId) },
  { name: '/users/{id}', kind: 'user', caller: 'app', path: (w) => `/users/${w.adele.id}`, context: userContext(adeleId) },
  { name: '/users/{ID upper-case}', kind: 'user', caller: 'app', path: (w) => `/users/${w.adele.id.toUpperCase()}`, context: userContext(adeleId) },
  { name: '/users/{upn}', kind: 'user', caller: 'app', path: (w) => `/users/${w.adele.upn}`, context: userContext(adeleId) },
  { name: '/users/{upn mixed case}', kind: 'user', caller: 'app', path: (w) => `/users/${mixedCase(w.adele.upn)}`, context: userContext(adeleId) },
  { name: '/users/{guest upn with %23EXT%23}', kind: 'user', caller: 'app', path: (w) => `/users/${pathUpn(w.guest.upn)}`, context: userContext(guestId) },
  { name: '/drive/root/createdByUser', kind: 'user', caller: 'me', path: () => '/drive/root/createdByUser', context: userContext(meId) },
  { name: '/me/drive/root/createdByUser', kind: 'user', caller: 'me', path: () => '/me/drive/root/createdByUser', context: userContext(meId) },
  { name: '/users/{id}/drive/root/createdByUser', kind: 'user', caller: 'app', path: (w) => `/users/${w.adele.id}/drive/root/createdByUser`, context: userContext(adeleId) },
  { name: '/users/{upn}/drive/root/createdByUser', kind: 'user', caller: 'app', path: (w) => `/users/${w.adele.upn}/drive/root/createdByUser`, context: userContext(adeleId) },
  { name: '/drives/{id}/root/createdByUser', kind: 'user', caller: 'app', path: (w) => `/drives/${w.adele.driveId}/root/createdByUser`, context: userContext(adeleId) },
  { name: '/drives/{my drive id}/root/createdByUser', kind: 'user', caller: 'me', path: (w) => `/drives/${w.me.driveId}/root/createdByUser`, context: userContext(meId) },
  { name: '/invitations/{id}/invitedUser', kind: 'user', caller: 'app', path: (w) => `/invitations/${w.guest.invitationId}/invitedUser`, context: userContext(guestId) },
  // GROUP
  { name: '/groups/{id}', kind: 'group', caller: 'app', path: (w) => `/groups/${w.group}`, context: (w) => `groups('${w.group}')` },
  { name: '/groups/{ID upper-case}', kind: 'group', caller: 'app', path: (w) => `/groups/${w.group.toUpperCase()}`, context: (w) => `groups('${w.group}')` },
  { name: '/groups/{id} (delegated)', kind: 'group', caller: 'me', path: (w) => `/groups/${w.groupWithoutTeam}`, context: (w) => `groups('${w.groupWithoutTeam}')` },
  // TEAM
  { name: '/teams/{id}', kind: 'team', caller: 'app', path: (w) => `/teams/${w.team}`, context: (w) => `teams('${w.team}')` },
  { name: '/teams/{ID upper-case}', kind: 'team', caller: 'app', path: (w) => `/teams/${w.team.toUpperCase()}`, context: (w) => `teams('${w.team}')` },
  { name: '/groups/{id}/team', kind: 'team', caller: 'app', path: (w) => `/groups/${w.team}/team`, context: (w) => `teams('${w.team}')` },
  { name: '/me/joinedTeams/{id}', kind: 'team', caller: 'me', path: (w) => `/me/joinedTeams/${w.team}`, context: (w) => `teams('${w.team}')` },
  { name: '/users/{id}/joinedTeams/{id}', kind: 'team', caller: 'app', path: (w) => `/users/${w.adele.id}/joinedTeams/${w.team}`, context: (w) => `teams('${w.team}')` },
  { name: '/users/{upn}/joinedTeams/{id}', kind: 'team', caller: 'app', path: (w) => `/users/${w.adele.upn}/joinedTeams/${w.team}`, context: (w) => `teams('${w.team}')` },
  // CONTACT
  { name: '/me/contacts/{id}', kind: 'contact', caller: 'me', path: (w) => `/me/contacts/${w.contacts.me}`, context: contactContext(meId, (w) => w.contacts.me) },
  { name: '/users/{id}/contacts/{id}', kind: 'contact', caller: 'app', path: (w) => `/users/${w.adele.id}/contacts/${w.contacts.adele}`, context: contactContext(adeleId, (w) => w.contacts.adele) },
  { name: '/users/{upn}/contacts/{id}', kind: 'contact', caller: 'app', path: (w) => `/users/${w.adele.upn}/contacts/${w.contacts.adele}`, context: contactContext(adeleId, (w) => w.contacts.adele) },
  {
    name: '/users/{ID}/contacts/{ID} (upper-case ids)',
    kind: 'contact',
    caller: 'app',
    path: (w) => `/users/${w.adele.id.toUpperCase()}/contacts/${w.contacts.adele.toUpperCase()}`,
    context: contactContext(adeleId, (w) => w.contacts.adele),
  },
  {
    name: '/me/contactFolders/{id}/contacts/{id}',
    kind: 'contact',
    caller: 'me',
    path: (w) => `/me/contactFolders/${w.folders.me}/contacts/${w.contacts.meInFolder}`,
    context: contactContext(meId, (w) => w.contacts.meInFolder),
  },
  {
    name: '/me/contactfolders/{id}/contacts/{id} (lower-cased)',
    kind: 'contact',
    caller: 'me',
    path: (w) => `/me/contactfolders/${w.folders.me}/contacts/${w.contacts.meInFolder}`,
    context: contactContext(meId, (w) => w.contacts.meInFolder),
  },
  {
    name: '/users/{id}/contactFolders/{id}/contacts/{id}',
    kind: 'contact',
    caller: 'app',
    path: (w) => `/users/${w.adele.id}/contactFolders/${w.folders.adele}/contacts/${w.contacts.adeleInFolder}`,
    context: contactContext(adeleId, (w) => w.contacts.adeleInFolder),
  },
  {
    name: '/users/{upn}/contactfolders/{id}/contacts/{id}',
    kind: 'contact',
    caller: 'app',
    path: (w) => `/users/${w.adele.upn}/contactfolders/${w.folders.adele}/contacts/${w.contacts.adeleInFolder}`,
    context: contactContext(adeleId, (w) => w.contacts.adeleInFolder),
  },
  {
    name: '/me/contactFolders/{id}/childFolders/{id}/childFolders/{id}/contacts/{id}',
    kind: 'contact',
    caller: 'me',
    path: (w) => `/me/contactFolders/${w.folders.me}/childFolders/${w.folders.meChild}/childFolders/${w.folders.meGrandchild}/contacts/${w.contacts.meDeep}`,
    context: contactContext(meId, (w) => w.contacts.meDeep),
  },
  {
    name: '/users/{id}/contactfolders/{id}/childfolders/{id}/childfolders/{id}/contacts/{id} (app, lower-cased)',
    kind: 'contact',
    caller: 'app',
    path: (w) => `/users/${w.me.id}/contactfolders/${w.folders.me}/childfolders/${w.folders.meChild}/childfolders/${w.folders.meGrandchild}/contacts/${w.contacts.meDeep}`,
    context: contactContext(meId, (w) => w.contacts.meDeep),
  },
  {
    name: '/me/contacts/{id of a contact in a nested folder}',
    kind: 'contact',
    caller: 'me',
    path: (w) => `/me/contacts/${w.contacts.meDeep}`,
    context: contactContext(meId, (w) => w.contacts.meDeep),
  },
  {
    name: '/invitations/{id}/invitedUser/contacts/{id}',
    kind: 'contact',
    caller: 'app',
    path: (w) => `/invitations/${w.guest.invitationId}/invitedUser/contacts/${w.contacts.guest}`,
    context: contactContext(guestId, (w) => w.contacts.guest),
  },
  {
    name: '/users/{guest upn}/contacts/{id}',
    kind: 'contact',
    caller: 'app',
    path: (w) => `/users/${pathUpn(w.guest.upn)}/contacts/${w.contacts.guest}`,
    context: contactContext(guestId, (w) => w.contacts.guest),
  },
];

interface Call {
  readonly token: string | undefined;
  readonly payload?: Buffer | string | object;
  readonly headers?: Record<string, string>;
}

function client(h: () => Harness) {
  return (method: Method, url: string, { token, payload, headers = {} }: Call): Promise<LightMyRequestResponse> =>
    h().app.inject({
      method,
      url,
      headers: { ...(token !== undefined && { authorization: `Bearer ${token}` }), ...headers },
      ...(payload !== undefined && { payload }),
    });
}

function assertGraphError(res: LightMyRequestResponse, status: number, code: string, message?: string | RegExp): void {
  assert.equal(res.statusCode, status, `${res.statusCode} ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, code, res.body);
  if (typeof message === 'string') assert.equal(body.error.message, message);
  else if (message) assert.match(body.error.message, message);
}

function notFoundMessage(id: string): string {
  return `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`;
}

function allowSet(res: LightMyRequestResponse): string[] {
  return String(res.headers.allow ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '')
    .sort();
}

async function dimensions(bytes: Buffer): Promise<{ format: string | undefined; width: number | undefined; height: number | undefined }> {
  const meta = await sharp(bytes).metadata();
  return { format: meta.format, width: meta.width, height: meta.height };
}

/** Builds the directory of World through the API, as a client would. */
async function buildWorld(h: Harness): Promise<{ world: World; tokens: Record<Caller, string> }> {
  const appToken = await h.appToken(APP_ROLES);
  const call = client(() => h);
  const created = async (url: string, body: object, token = appToken): Promise<Record<string, unknown>> => {
    const res = await call('POST', `/v1.0${url}`, { token, payload: body });
    assert.equal(res.statusCode, 201, `POST ${url}: ${res.body}`);
    return res.json() as Record<string, unknown>;
  };
  const id = (body: Record<string, unknown>) => body.id as string;

  const meUser = await created('/users', { userPrincipalName: 'megan.bowen@contoso.com', displayName: 'Megan Bowen' });
  const adele = await created('/users', { userPrincipalName: 'Adele.Vance@contoso.com', displayName: 'Adele Vance' });
  const me = await h.store.getUserById(h.tenantId, id(meUser));
  assert.ok(me);
  const meToken = await h.userToken(me, ME_SCOPES, { admin: true });

  const group = id(await created('/groups', { displayName: 'Retail' }));
  const groupWithoutTeam = id(await created('/groups', { displayName: 'Finance' }));
  const team = id(await created('/groups', { displayName: 'Mark 8 Project Team' }));
  const teamRes = await call('PUT', `/v1.0/groups/${team}/team`, { token: appToken, payload: {} });
  assert.equal(teamRes.statusCode, 201, teamRes.body);
  assert.equal(teamRes.json().id, team);

  const invitation = await created('/invitations', {
    invitedUserEmailAddress: 'lynne@fabrikam.com',
    inviteRedirectUrl: 'https://myapp.contoso.com',
  });
  const guestId = (invitation.invitedUser as { id: string }).id;
  const guestRes = await call('GET', `/v1.0/users/${guestId}`, { token: appToken });
  assert.equal(guestRes.statusCode, 200, guestRes.body);
  const guestUpn = guestRes.json().userPrincipalName as string;
  assert.match(guestUpn, /#EXT#/);
  assert.equal(guestRes.json().userType, 'Guest');

  const contact = (given: string) => ({ givenName: given, surname: 'Contact', emailAddresses: [{ address: `${given}@example.com` }] });
  const folderMe = id(await created('/me/contactFolders', { displayName: 'Suppliers' }, meToken));
  const folderMeChild = id(await created(`/me/contactFolders/${folderMe}/childFolders`, { displayName: 'Europe' }, meToken));
  const folderMeGrandchild = id(
    await created(`/me/contactFolders/${folderMe}/childFolders/${folderMeChild}/childFolders`, { displayName: 'Nordics' }, meToken),
  );
  const folderAdele = id(await created(`/users/${adele.id as string}/contactFolders`, { displayName: 'Family' }));

  const driveOf = async (url: string, token: string): Promise<string> => {
    const res = await call('GET', `/v1.0${url}`, { token });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().id as string;
  };

  const world: World = {
    me: { id: id(meUser), upn: meUser.userPrincipalName as string, driveId: await driveOf('/me/drive', meToken) },
    adele: { id: id(adele), upn: adele.userPrincipalName as string, driveId: await driveOf(`/users/${id(adele)}/drive`, appToken) },
    guest: { id: guestId, upn: guestUpn, invitationId: id(invitation) },
    group,
    team,
    groupWithoutTeam,
    contacts: {
      me: id(await created('/me/contacts', contact('pavel'), meToken)),
      adele: id(await created(`/users/${id(adele)}/contacts`, contact('isaiah'))),
      guest: id(await created(`/invitations/${id(invitation)}/invitedUser/contacts`, contact('joni'))),
      meInFolder: id(await created(`/me/contactFolders/${folderMe}/contacts`, contact('nestor'), meToken)),
      adeleInFolder: id(await created(`/users/${id(adele)}/contactFolders/${folderAdele}/contacts`, contact('grady'))),
      meDeep: id(
        await created(
          `/me/contactFolders/${folderMe}/childFolders/${folderMeChild}/childFolders/${folderMeGrandchild}/contacts`,
          contact('lidia'),
          meToken,
        ),
      ),
    },
    folders: { me: folderMe, meChild: folderMeChild, meGrandchild: folderMeGrandchild, adele: folderAdele },
  };
  return { world, tokens: { app: appToken, me: meToken } };
}

describe('every owner path form of contract §2, under /v1.0 and /beta', () => {
  let h: Harness;
  let w: World;
  let tokens: Record<Caller, string>;
  const call = client(() => h);
  before(async () => {
    h = await createHarness();
    ({ world: w, tokens } = await buildWorld(h));
  });
  after(() => h.close());

  for (const version of VERSIONS) {
    for (const form of FORMS) {
      it(`${version}${form.name}: upload, metadata, bytes, sizes, delete`, async () => {
        const token = tokens[form.caller];
        const base = `/${version}${form.path(w)}`;
        const context = (suffix: string) => `http://localhost:80/${version}/$metadata#${form.context(w)}${suffix}`;
        const canonical = (suffix: string) => `http://localhost:80/${version}/${form.context(w)}${suffix}`;
        const uploadStatus = form.kind === 'team' ? 204 : 200;

        // PUT photo/$value: 200 (team 204), empty body, an ETag.
        const put = await call('PUT', `${base}/photo/$value`, { token, payload: FIRST.bytes, headers: { 'content-type': 'image/jpeg' } });
        assert.equal(put.statusCode, uploadStatus, put.body);
        assert.equal(put.body, '');
        const etag = String(put.headers.etag);
        assert.match(etag, ETAG);

        const meta = await call('GET', `${base}/photo`, { token });
        assert.equal(meta.statusCode, 200, meta.body);
        assert.match(String(meta.headers['content-type']), /^application\/json/);
        assert.equal(meta.headers.etag, etag);
        assert.deepEqual(meta.json(), {
          '@odata.context': context('/photo/$entity'),
          // Graph's canonical URL of the photo (profilephoto-get's examples), whichever path form was used.
          '@odata.id': canonical('/photo'),
          '@odata.mediaContentType': 'image/jpeg',
          '@odata.mediaEtag': etag,
          id: `${FIRST.side}X${FIRST.side}`,
          width: FIRST.side,
          height: FIRST.side,
        });

        const value = await call('GET', `${base}/photo/$value`, { token });
        assert.equal(value.statusCode, 200, value.body);
        assert.equal(value.headers['content-type'], 'image/jpeg');
        assert.equal(value.headers.etag, etag);
        assert.deepEqual(await dimensions(value.rawPayload), { format: 'jpeg', width: FIRST.side, height: FIRST.side });

        // PATCH photo/$value replaces it: a new ETag, the new image's sizes.
        const patch = await call('PATCH', `${base}/photo/$value`, { token, payload: SECOND.bytes });
        assert.equal(patch.statusCode, uploadStatus, patch.body);
        assert.equal(patch.body, '');
        const etag2 = String(patch.headers.etag);
        assert.match(etag2, ETAG);
        assert.notEqual(etag2, etag);
        const meta2 = await call('GET', `${base}/photo`, { token });
        assert.equal(meta2.json()['@odata.mediaEtag'], etag2);
        assert.equal(meta2.json().id, `${SECOND.side}X${SECOND.side}`);
        const value2 = await call('GET', `${base}/photo/$value`, { token });
        assert.deepEqual(await dimensions(value2.rawPayload), { format: 'jpeg', width: SECOND.side, height: SECOND.side });

        if (form.kind === 'user' || form.kind === 'group') {
          const list = await call('GET', `${base}/photos`, { token });
          assert.equal(list.statusCode, 200, list.body);
          const standard = [48, 64, 96, 120, 240];
          assert.deepEqual(list.json(), {
            '@odata.context': context('/photos'),
            value: standard.map((s) => ({
              '@odata.mediaContentType': 'image/jpeg',
              '@odata.mediaEtag': etag2,
              id: `${s}X${s}`,
              width: s,
              height: s,
            })),
          });
          for (const size of ['48x48', '48X48']) {
            const one = await call('GET', `${base}/photos/${size}`, { token });
            assert.equal(one.statusCode, 200, one.body);
            assert.equal(one.headers.etag, etag2);
            assert.deepEqual(one.json(), {
              '@odata.context': context('/photos/$entity'),
              '@odata.id': canonical("/photos('48X48')"),
              '@odata.mediaContentType': 'image/jpeg',
              '@odata.mediaEtag': etag2,
              id: '48X48',
              width: 48,
              height: 48,
            });
            const bytes = await call('GET', `${base}/photos/${size}/$value`, { token });
            assert.equal(bytes.statusCode, 200, bytes.body);
            assert.equal(bytes.headers['content-type'], 'image/jpeg');
            assert.equal(bytes.headers.etag, etag2);
            assert.deepEqual(await dimensions(bytes.rawPayload), { format: 'jpeg', width: 48, height: 48 });
          }
          const absent = await call('GET', `${base}/photos/648x648`, { token });
          assertGraphError(absent, 404, 'ImageNotFound', "The photo wasn't found.");

          const del = await call('DELETE', `${base}/photo`, { token });
          assert.equal(del.statusCode, 200, del.body);
          assert.equal(del.body, '');
          assertGraphError(await call('GET', `${base}/photo`, { token }), 404, 'ImageNotFound', "The photo wasn't found.");
          assertGraphError(await call('GET', `${base}/photo/$value`, { token }), 404, 'ImageNotFound');
          const empty = await call('GET', `${base}/photos`, { token });
          assert.equal(empty.statusCode, 200, empty.body);
          assert.deepEqual(empty.json(), { '@odata.context': context('/photos'), value: [] });
          return;
        }

        // TEAM and CONTACT: one size only, no photos collection, no DELETE.
        if (form.kind === 'contact') {
          for (const suffix of ['/photos', '/photos/48x48', '/photos/48x48/$value', '/photo/48x48']) {
            const res = await call('GET', `${base}${suffix}`, { token });
            assertGraphError(res, 400, 'BadRequest', /^Unsupported segment type\. ODataQuery: /);
          }
        } else {
          for (const suffix of ['/photos', '/photos/48x48']) {
            const res = await call('GET', `${base}${suffix}`, { token });
            assertGraphError(res, 400, 'BadRequest', "Resource not found for the segment 'photos'.");
          }
        }
        for (const [suffix, allowed] of [
          ['/photo', ['GET', 'HEAD', 'PATCH']],
          ['/photo/$value', ['GET', 'HEAD', 'PATCH', 'PUT']],
        ] as const) {
          const del = await call('DELETE', `${base}${suffix}`, { token });
          assertGraphError(del, 405, 'Request_BadRequest', 'Specified HTTP method is not allowed for the request target.');
          assert.deepEqual(allowSet(del), [...allowed]);
        }
        const still = await call('GET', `${base}/photo`, { token });
        assert.equal(still.statusCode, 200);
        assert.equal(still.json()['@odata.mediaEtag'], etag2);
      });
    }
  }
});

describe('one owner, many paths: the same photo whichever form reaches it', () => {
  let h: Harness;
  let w: World;
  let tokens: Record<Caller, string>;
  const call = client(() => h);
  before(async () => {
    h = await createHarness();
    ({ world: w, tokens } = await buildWorld(h));
  });
  after(() => h.close());

  /** Uploads through one form, then every other form of that owner reads the same version. */
  async function sameEverywhere(writer: OwnerForm, readers: readonly OwnerForm[]): Promise<void> {
    const put = await call('PUT', `/v1.0${writer.path(w)}/photo/$value`, { token: tokens[writer.caller], payload: FIRST.bytes });
    assert.ok(put.statusCode === 200 || put.statusCode === 204, put.body);
    const etag = String(put.headers.etag);
    const bytes = (await call('GET', `/v1.0${writer.path(w)}/photo/$value`, { token: tokens[writer.caller] })).rawPayload;
    for (const reader of readers) {
      for (const version of VERSIONS) {
        const meta = await call('GET', `/${version}${reader.path(w)}/photo`, { token: tokens[reader.caller] });
        assert.equal(meta.statusCode, 200, `${reader.name}: ${meta.body}`);
        assert.equal(meta.json()['@odata.mediaEtag'], etag, reader.name);
        assert.equal(meta.json()['@odata.context'], `http://localhost:80/${version}/$metadata#${reader.context(w)}/photo/$entity`);
        const value = await call('GET', `/${version}${reader.path(w)}/photo/$value`, { token: tokens[reader.caller] });
        assert.equal(value.headers.etag, etag, reader.name);
        assert.ok(value.rawPayload.equals(bytes), `${reader.name}: same bytes`);
      }
    }
  }
  const forms = (predicate: (f: OwnerForm) => boolean) => FORMS.filter(predicate);

  it('the signed-in user: /me, /users/{id|upn}, every createdByUser form', async () => {
    const me: OwnerForm = { name: '/me', kind: 'user', caller: 'me', path: () => '/me', context: userContext(meId) };
    const readers: OwnerForm[] = [
      ...forms((f) => f.kind === 'user' && f.caller === 'me'),
      { name: '/users/{my id}', kind: 'user', caller: 'app', path: (x) => `/users/${x.me.id}`, context: userContext(meId) },
      { name: '/users/{my UPN}', kind: 'user', caller: 'app', path: (x) => `/users/${x.me.upn.toUpperCase()}`, context: userContext(meId) },
      { name: '/users/{my id}/drive/…', kind: 'user', caller: 'app', path: (x) => `/users/${x.me.id}/drive/root/createdByUser`, context: userContext(meId) },
    ];
    await sameEverywhere(me, readers);
  });

  it('another user: by id, by UPN in any case, through its drive', async () => {
    const [writer, ...readers] = forms((f) => f.kind === 'user' && f.context(w) === `users('${w.adele.id}')`);
    assert.ok(writer);
    await sameEverywhere(writer, readers);
  });

  it('the guest: /invitations/{id}/invitedUser and /users/{guest UPN}', async () => {
    const [writer, ...readers] = forms((f) => f.kind === 'user' && f.context(w) === `users('${w.guest.id}')`);
    assert.ok(writer);
    assert.equal(readers.length, 1);
    await sameEverywhere(writer, readers);
  });

  it('a contact in nested folders: by its folder chain, by /contacts/{id}, by the app', async () => {
    const [writer, ...readers] = forms((f) => f.kind === 'contact' && f.context(w).endsWith(`contacts('${w.contacts.meDeep}')`));
    assert.ok(writer);
    assert.equal(readers.length, 2);
    await sameEverywhere(writer, readers);
  });

  it('segment names match in any case (§1): odd-cased paths reach the same photo', async () => {
    const cases: readonly [Caller, (x: World) => string, (x: World) => string][] = [
      ['me', () => '/me', () => '/ME'],
      ['me', () => '/me', () => '/Drive/Root/CreatedByUser'],
      ['app', (x) => `/users/${x.adele.id}`, (x) => `/Users/${x.adele.id}`],
      ['app', (x) => `/users/${x.adele.id}`, (x) => `/DRIVES/${x.adele.driveId}/ROOT/CREATEDBYUSER`],
      ['app', (x) => `/invitations/${x.guest.invitationId}/invitedUser`, (x) => `/Invitations/${x.guest.invitationId}/InvitedUser`],
      ['app', (x) => `/groups/${x.team}`, (x) => `/GROUPS/${x.team}/TEAM`],
      ['app', (x) => `/groups/${x.team}`, (x) => `/Users/${x.adele.id}/JoinedTeams/${x.team}`],
      [
        'me',
        (x) => `/me/contacts/${x.contacts.meDeep}`,
        (x) => `/Me/ContactFolders/${x.folders.me}/ChildFolders/${x.folders.meChild}/CHILDFOLDERS/${x.folders.meGrandchild}/Contacts/${x.contacts.meDeep}`,
      ],
    ];
    for (const [caller, writer, reader] of cases) {
      const token = tokens[caller];
      const put = await call('PUT', `/v1.0${writer(w)}/photo/$value`, { token, payload: SECOND.bytes });
      assert.equal(put.statusCode, 200, put.body);
      for (const suffix of ['/Photo', '/PHOTO/$VALUE', '/photo/$Value']) {
        const res = await call('GET', `/v1.0${reader(w)}${suffix}`, { token });
        assert.equal(res.statusCode, 200, `${reader(w)}${suffix}: ${res.body}`);
        assert.equal(res.headers.etag, put.headers.etag, `${reader(w)}${suffix}`);
      }
    }
    const sizes = await call('GET', `/v1.0/Users/${w.adele.id}/Photos/48X48/$Value`, { token: tokens.app });
    assert.equal(sizes.statusCode, 200, sizes.body);
    assert.deepEqual(await dimensions(sizes.rawPayload), { format: 'jpeg', width: 48, height: 48 });
  });

  it("a team's photo is its group's photo: same ETag, bytes and sizes, whichever side writes", async () => {
    const group: OwnerForm = { name: '/groups/{team id}', kind: 'group', caller: 'app', path: (x) => `/groups/${x.team}`, context: (x) => `groups('${x.team}')` };
    const teams = forms((f) => f.kind === 'team');
    const [teamWriter] = teams;
    assert.ok(teamWriter);
    await sameEverywhere(teamWriter, [group, ...teams]);
    await sameEverywhere(group, teams);

    // The group lists the sizes the team photo got; the team describes the largest.
    const list = await call('GET', `/v1.0/groups/${w.team}/photos`, { token: tokens.app });
    assert.deepEqual(
      list.json().value.map((s: { id: string }) => s.id),
      ['48X48', '64X64', '96X96', '120X120'],
    );
    // PATCH /photo with JSON on a team answers its metadata (200), and the group follows.
    const resized = await call('PATCH', `/v1.0/teams/${w.team}/photo`, { token: tokens.app, payload: { width: 100, height: 80 } });
    assert.equal(resized.statusCode, 200, resized.body);
    assert.equal(resized.json()['@odata.context'], `http://localhost:80/v1.0/$metadata#teams('${w.team}')/photo/$entity`);
    assert.equal(resized.json().id, '100X80');
    const groupMeta = await call('GET', `/v1.0/groups/${w.team}/photo`, { token: tokens.app });
    assert.equal(groupMeta.json().id, '100X80');
    assert.equal(groupMeta.json()['@odata.mediaEtag'], resized.json()['@odata.mediaEtag']);

    // Deleting the group's photo removes the team's.
    assert.equal((await call('DELETE', `/v1.0/groups/${w.team}/photo`, { token: tokens.app })).statusCode, 200);
    assertGraphError(await call('GET', `/v1.0/teams/${w.team}/photo`, { token: tokens.app }), 404, 'ImageNotFound');
  });
});

describe('owners that are not there: 404 Request_ResourceNotFound', () => {
  let h: Harness;
  let w: World;
  let tokens: Record<Caller, string>;
  let otherTenant: string;
  let otherToken: string;
  let eve: { id: string; driveId: string };
  const call = client(() => h);
  before(async () => {
    h = await createHarness();
    ({ world: w, tokens } = await buildWorld(h));
    otherTenant = randomUUID();
    const eveUser = await h.user('eve@fabrikam.com', { tenantId: otherTenant });
    eve = { id: eveUser.id, driveId: eveUser.driveId };
    otherToken = await h.appToken(APP_ROLES, otherTenant);
  });
  after(() => h.close());

  const unknown = '00000000-0000-4000-8000-000000000000';
  const chains: readonly { name: string; path: (w: World) => string; missing: (w: World) => string }[] = [
    {
      name: 'a grandchild folder skipping its parent',
      path: (x) => `/me/contactFolders/${x.folders.me}/childFolders/${x.folders.meGrandchild}/contacts/${x.contacts.meDeep}`,
      missing: (x) => x.folders.meGrandchild,
    },
    {
      name: 'a contact under a folder that holds it only further down',
      path: (x) => `/me/contactFolders/${x.folders.me}/contacts/${x.contacts.meDeep}`,
      missing: (x) => x.contacts.meDeep,
    },
    {
      name: 'a contact under the wrong child folder',
      path: (x) => `/me/contactFolders/${x.folders.me}/childFolders/${x.folders.meChild}/contacts/${x.contacts.meDeep}`,
      missing: (x) => x.contacts.meDeep,
    },
    {
      name: 'a default-folder contact under a folder',
      path: (x) => `/me/contactFolders/${x.folders.me}/contacts/${x.contacts.me}`,
      missing: (x) => x.contacts.me,
    },
    {
      name: 'an unknown folder',
      path: (x) => `/me/contactFolders/${unknown}/contacts/${x.contacts.meInFolder}`,
      missing: () => unknown,
    },
    {
      name: "another user's folder",
      path: (x) => `/me/contactFolders/${x.folders.adele}/contacts/${x.contacts.adeleInFolder}`,
      missing: (x) => x.folders.adele,
    },
    {
      name: "another user's contact through /me",
      path: (x) => `/me/contacts/${x.contacts.adele}`,
      missing: (x) => x.contacts.adele,
    },
    { name: 'an unknown contact', path: () => `/me/contacts/${unknown}`, missing: () => unknown },
  ];
  it('a folder at any depth is contactFolders/{id}, and its chain goes on from there (issue 11)', async () => {
    // Outlook addresses every folder of a mailbox as contactFolders/{id}; the chain after it must still be real.
    for (const path of [
      `/me/contactFolders/${w.folders.meChild}/childFolders/${w.folders.meGrandchild}/contacts/${w.contacts.meDeep}`,
      `/me/contactFolders/${w.folders.meGrandchild}/contacts/${w.contacts.meDeep}`,
    ]) {
      const res = await call('PUT', `/v1.0${path}/photo/$value`, { token: tokens.me, payload: FIRST.bytes });
      assert.equal(res.statusCode, 200, `${path}: ${res.body}`);
    }
  });

  for (const chain of chains) {
    it(`a folder chain that isn't real: ${chain.name}`, async () => {
      for (const version of VERSIONS) {
        for (const [method, suffix] of [
          ['GET', '/photo'],
          ['PUT', '/photo/$value'],
        ] as const) {
          const res = await call(method, `/${version}${chain.path(w)}${suffix}`, {
            token: tokens.me,
            ...(method === 'PUT' && { payload: FIRST.bytes }),
          });
          assertGraphError(res, 404, 'Request_ResourceNotFound', notFoundMessage(chain.missing(w)));
        }
      }
    });
  }

  it('unknown users, groups, teams, drives and invitations', async () => {
    const cases: readonly [string, string][] = [
      [`/users/${unknown}`, unknown],
      ['/users/nobody@contoso.com', 'nobody@contoso.com'],
      [`/groups/${unknown}`, unknown],
      [`/teams/${unknown}`, unknown],
      [`/groups/${unknown}/team`, unknown],
      [`/teams/${w.groupWithoutTeam}`, w.groupWithoutTeam], // a group without a team has no team photo
      [`/groups/${w.groupWithoutTeam}/team`, w.groupWithoutTeam],
      [`/users/${w.adele.id}/joinedTeams/${w.groupWithoutTeam}`, w.groupWithoutTeam],
      [`/users/${unknown}/joinedTeams/${w.team}`, unknown],
      [`/drives/b!${'x'.repeat(32)}/root/createdByUser`, `b!${'x'.repeat(32)}`],
      [`/invitations/${unknown}/invitedUser`, unknown],
      [`/invitations/${unknown}/invitedUser/contacts/${w.contacts.guest}`, unknown],
      [`/users/${w.adele.id}/contacts/${unknown}`, unknown],
    ];
    for (const [path, missing] of cases) {
      for (const version of VERSIONS) {
        const res = await call('GET', `/${version}${path}/photo`, { token: tokens.app });
        assertGraphError(res, 404, 'Request_ResourceNotFound', notFoundMessage(missing));
      }
    }
  });

  it("another tenant's app sees none of this tenant's owners, and cannot write to them", async () => {
    // Give every owner a photo first, so a leak would show as a 200.
    const owned = FORMS.filter((f) => f.caller === 'app');
    for (const form of owned) {
      const put = await call('PUT', `/v1.0${form.path(w)}/photo/$value`, { token: tokens.app, payload: FIRST.bytes });
      assert.ok(put.statusCode === 200 || put.statusCode === 204, `${form.name}: ${put.body}`);
    }
    for (const form of owned) {
      const before = (await call('GET', `/v1.0${form.path(w)}/photo`, { token: tokens.app })).json()['@odata.mediaEtag'];
      for (const version of VERSIONS) {
        const url = `/${version}${form.path(w)}/photo`;
        for (const [method, suffix, payload] of [
          ['GET', '', undefined],
          ['GET', '/$value', undefined],
          ['PUT', '/$value', SECOND.bytes],
          ['PATCH', '', { width: 48, height: 48 }],
        ] as const) {
          const res = await call(method, `${url}${suffix}`, { token: otherToken, ...(payload !== undefined && { payload }) });
          assertGraphError(res, 404, 'Request_ResourceNotFound', /^Resource '.+' does not exist/);
        }
        if (form.kind === 'user' || form.kind === 'group') {
          assertGraphError(await call('DELETE', url, { token: otherToken }), 404, 'Request_ResourceNotFound');
          assertGraphError(await call('GET', `/${version}${form.path(w)}/photos`, { token: otherToken }), 404, 'Request_ResourceNotFound');
        }
      }
      const unchanged = await call('GET', `/v1.0${form.path(w)}/photo`, { token: tokens.app });
      assert.equal(unchanged.statusCode, 200, `${form.name}: ${unchanged.body}`);
      assert.equal(unchanged.json()['@odata.mediaEtag'], before, `${form.name} unchanged`);
    }
  });

  it("this tenant cannot reach another tenant's user, by id, UPN or drive", async () => {
    for (const [path, missing] of [
      [`/users/${eve.id}`, eve.id],
      ['/users/eve@fabrikam.com', 'eve@fabrikam.com'],
      [`/drives/${eve.driveId}/root/createdByUser`, eve.driveId],
    ] as const) {
      for (const [method, suffix] of [
        ['GET', '/photo'],
        ['PUT', '/photo/$value'],
      ] as const) {
        const res = await call(method, `/v1.0${path}${suffix}`, { token: tokens.app, ...(method === 'PUT' && { payload: FIRST.bytes }) });
        assertGraphError(res, 404, 'Request_ResourceNotFound', notFoundMessage(missing));
      }
    }
    // Eve's own tenant still sees her, with no photo: nothing was written by the other tenant.
    const own = await call('GET', `/v1.0/users/${eve.id}/photo`, { token: otherToken });
    assertGraphError(own, 404, 'ImageNotFound');
  });
});
