// Contract §7 (permissions) cell by cell, and the check order of §6, as a client
// sees them over HTTP: every permission a cell lists allows its operation on its
// own; a token holding everything else, or nothing, gets 403
// Authorization_RequestDenied naming the cell; and failures come in the contract's
// order: 401 → 400 path (/me with an app token) → 405 → 403 (no permission for the
// owner kind) → 404 owner → 403 (own-only or admin rule) → 404 no photo → 400 body.
//
// Paths are written as templates, e.g. /users/{bob}/photo: they name the test and
// are filled in from each describe block's own harness (see World.ids).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import sharp from 'sharp';
import { builtInIssuer, GRAPH_AUDIENCE } from '../src/auth/built-in-issuer.js';
import type { User } from '../src/storage/store.js';
import { createHarness, type Harness } from './helpers/harness.js';

// ---------------------------------------------------------------------------
// The cells of contract §7, spelled as the contract spells them.

const OWN_USER_READ = [
  'User.Read',
  'User.ReadBasic.All',
  'User.Read.All',
  'User.ReadWrite',
  'User.ReadWrite.All',
  'ProfilePhoto.Read.All',
  'ProfilePhoto.ReadWrite.All',
];
const OTHER_USER_READ_DELEGATED = [
  'User.ReadBasic.All',
  'User.Read.All',
  'User.ReadWrite.All',
  'ProfilePhoto.Read.All',
  'ProfilePhoto.ReadWrite.All',
];
const OTHER_USER_READ_APPLICATION = ['User.Read.All', 'User.ReadWrite.All', 'ProfilePhoto.Read.All', 'ProfilePhoto.ReadWrite.All'];
const OWN_USER_WRITE = ['User.ReadWrite', 'User.ReadWrite.All', 'ProfilePhoto.ReadWrite.All'];
const OTHER_USER_WRITE = ['User.ReadWrite.All', 'ProfilePhoto.ReadWrite.All'];
const GROUP_READ = ['Group.Read.All', 'Group.ReadWrite.All', 'ProfilePhoto.Read.All', 'ProfilePhoto.ReadWrite.All'];
const GROUP_WRITE = ['Group.ReadWrite.All', 'ProfilePhoto.ReadWrite.All'];
const TEAM_READ = ['Team.ReadBasic.All', 'TeamSettings.Read.All', 'TeamSettings.ReadWrite.All', 'Group.Read.All', 'Group.ReadWrite.All'];
const TEAM_WRITE = ['TeamSettings.ReadWrite.All', 'Group.ReadWrite.All'];
const CONTACT_READ = ['Contacts.Read', 'Contacts.ReadWrite'];
const CONTACT_WRITE = ['Contacts.ReadWrite'];
const USERS_WRITE = ['User.ReadWrite.All'];
const GROUPS_CREATE = ['Group.ReadWrite.All'];
const INVITE = ['User.Invite.All', 'User.ReadWrite.All'];

/** Every permission name the table uses: "everything but the cell" is drawn from these. */
const EVERY_PERMISSION = [...new Set([...OWN_USER_READ, ...GROUP_READ, ...TEAM_READ, ...CONTACT_READ, ...INVITE])];

function allBut(cell: readonly string[]): string[] {
  const excluded = new Set(cell.map((name) => name.toLowerCase()));
  return EVERY_PERMISSION.filter((name) => !excluded.has(name.toLowerCase()));
}

const GLOBAL_ADMINISTRATOR = '62e90394-69f5-4237-9190-012177145e10';
const USER_ADMINISTRATOR = 'fe930be7-5e62-47db-91af-98c3a49a38b1';
const PEOPLE_ADMINISTRATOR = '024906de-61e5-49c8-8572-40335f1e0e10';
/** Global Reader: a directory role, but not one that may change another user. */
const GLOBAL_READER = 'f2ef992c-3afb-46b9-b7cf-a126ee74c451';
const ADMIN_ROLES = ['Global Administrator', 'User Administrator', 'People Administrator'];
const OWN_CONTACTS_ONLY = ['own contacts only'];
const ME_NEEDS_DELEGATED = '/me request is only valid with delegated authentication flow.';

// ---------------------------------------------------------------------------
// The world each describe block builds on its own harness.

interface World {
  readonly h: Harness;
  /** The signed-in user of delegated tokens unless a case says otherwise. */
  readonly alice: User;
  /** An administrator in the directory, whose tokens carry no wids. */
  readonly carol: User;
  /** What the path templates' {names} stand for. */
  readonly ids: Readonly<Record<string, string>>;
  /** An application token holding every permission, for seeding photos. */
  readonly seeder: string;
}

let serial = 0;
const next = () => ++serial;

async function createWorld(): Promise<World> {
  const h = await createHarness();
  const { directory, tenantId } = h;
  const contact = (displayName: string) => ({ displayName, givenName: displayName, surname: null, emailAddresses: [] });
  const alice = await h.user('alice@contoso.com');
  const bob = await h.user('bob@contoso.com');
  const carol = await h.user('carol@contoso.com', { admin: true });
  const dave = await h.user('dave@contoso.com');
  const design = await directory.createGroup(tenantId, { displayName: 'Design', mailNickname: 'design', description: null });
  const team = await directory.createTeam(design);
  const plainGroup = await directory.createGroup(tenantId, { displayName: 'Finance', mailNickname: 'finance', description: null });
  const aliceFolder = await directory.createContactFolder(alice, undefined, 'Friends');
  const aliceContact = await directory.createContact(alice, undefined, contact('Ada'));
  const aliceFolderContact = await directory.createContact(alice, aliceFolder, contact('Grace'));
  const bobContact = await directory.createContact(bob, undefined, contact('Linus'));
  const { invitation, user: guest } = await directory.createInvitation(tenantId, 'guest@fabrikam.com', 'https://myapp.contoso.com');
  const guestContact = await directory.createContact(guest, undefined, contact('Ken'));
  return {
    h,
    alice,
    carol,
    ids: {
      alice: alice.id,
      'alice.upn': alice.userPrincipalName,
      bob: bob.id,
      'bob.upn': bob.userPrincipalName,
      'bob.drive': bob.driveId,
      /** Never gets a photo. */
      dave: dave.id,
      /** A group with a team (the team's id is the group's). */
      team: team.id,
      /** A group without a team. */
      plainGroup: plainGroup.id,
      aliceFolder: aliceFolder.id,
      aliceContact: aliceContact.id,
      aliceFolderContact: aliceFolderContact.id,
      bobContact: bobContact.id,
      invitation: invitation.id,
      guestContact: guestContact.id,
      /** Nothing has this id. */
      unknown: randomUUID(),
    },
    seeder: await h.appToken(EVERY_PERMISSION),
  };
}

/** One harness per describe block: built before its tests, closed after them. */
function useWorld(): () => World {
  let world: World | undefined;
  before(async () => {
    world = await createWorld();
  });
  after(() => world?.h.close());
  return () => {
    assert.ok(world, 'the world is built in before()');
    return world;
  };
}

/** A path template as a URL: {names} filled in, /v1.0 unless it says /beta. */
function resolve(w: World, template: string, fresh: string): string {
  const path = template.replace(/\{([\w.]+)\}/g, (_, name: string) => {
    const value = name === 'fresh' ? fresh : w.ids[name];
    assert.ok(value, `no id for {${name}} in ${template}`);
    return value;
  });
  return path.startsWith('/beta/') ? path : `/v1.0${path}`;
}

// ---------------------------------------------------------------------------
// Callers.

interface Who {
  readonly label: string;
  /** A bearer token (undefined: no Authorization header); `fresh` is the case's fresh object. */
  mint(w: World, fresh: string): Promise<string | undefined>;
}

/** A delegated token for alice (or carol); admin puts Global Administrator in its wids. */
function delegated(scp: readonly string[], options: { as?: 'alice' | 'carol'; admin?: boolean; label?: string } = {}): Who {
  const as = options.as ?? 'alice';
  const admin = options.admin ?? false;
  const prefix = as === 'carol' ? 'carol (directory admin), ' : '';
  const wids = admin ? ' + wids Global Administrator' : '';
  return {
    label: `${prefix}scp "${options.label ?? scp.join(' ')}"${wids}`,
    mint: (w) => w.h.userToken(w[as], scp, { admin }),
  };
}

function app(roles: readonly string[], label?: string): Who {
  return { label: `roles [${label ?? roles.join(', ')}]`, mint: (w) => w.h.appToken(roles) };
}

/** A token with exactly these claims (besides tid, iss, aud and times), signed by the harness's issuer. */
function signed(label: string, claims: (w: World, fresh: string) => Record<string, unknown>): Who {
  return {
    label,
    async mint(w, fresh) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ tid: w.h.tenantId, ver: '2.0', ...claims(w, fresh) })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: w.h.issuerKey.keyId })
        .setIssuer(builtInIssuer(w.h.tenantId))
        .setAudience(GRAPH_AUDIENCE)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 600)
        .sign(w.h.issuerKey.privateKey);
    },
  };
}

/** alice signed in, with these role template ids in wids. */
function aliceWithWids(scp: string, wids: readonly string[], roles: string): Who {
  return signed(`scp "${scp}" + wids ${roles}`, (w) => ({ oid: w.alice.id, upn: w.alice.userPrincipalName, scp, wids: [...wids] }));
}

const nobody: Who = { label: 'no token', mint: async () => undefined };

// ---------------------------------------------------------------------------
// Requests, and what must come back.

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Payload = { readonly image: true } | { readonly json: unknown } | { readonly text: string };

interface Req {
  readonly method: Method;
  /** A path template, e.g. /users/{bob}/photo. */
  readonly path: string;
  /** Said after the path in the test's name. */
  readonly note?: string;
  readonly payload?: () => Payload;
  /** The template of an owner whose photo must exist before the request, e.g. /users/{bob}. */
  readonly seed?: string;
  /** Makes an object for this request alone (a user to delete, a group to give a team): {fresh}. */
  readonly fresh?: (w: World) => Promise<string>;
}

/** A request a row of the table governs. */
interface RowRequest extends Req {
  /** The status when allowed; 404 means the photo's own ImageNotFound (an owner without a photo). */
  readonly success: 200 | 204 | 404 | '2xx';
  /** Only delegated tokens (/me, one's own contacts), or only application ones (any user's contacts). */
  readonly tokens?: 'delegated' | 'application';
}

interface Expect {
  readonly status: number | '2xx';
  readonly code?: string;
  readonly message?: string;
  /** Permission names, role names or phrases the error message must contain. */
  readonly names?: readonly string[];
}

const allowed = (status: number | '2xx'): Expect => ({ status });
const denied = (names: readonly string[]): Expect => ({ status: 403, code: 'Authorization_RequestDenied', names });
const forbidden: Expect = { status: 403, code: 'Authorization_RequestDenied' };
const ownerMissing: Expect = { status: 404, code: 'Request_ResourceNotFound' };
const noPhoto: Expect = { status: 404, code: 'ImageNotFound' };
const meNeedsDelegated: Expect = { status: 400, code: 'BadRequest', message: ME_NEEDS_DELEGATED };
const methodNotAllowed: Expect = { status: 405, code: 'Request_BadRequest' };

interface Case {
  readonly name: string;
  readonly who: Who;
  readonly req: Req;
  readonly expect: Expect;
}

function describeExpect(expect: Expect): string {
  if (expect.message === ME_NEEDS_DELEGATED) return '400 /me needs a delegated token';
  if (expect.names === ADMIN_ROLES) return '403 naming the admin roles';
  if (expect.names === OWN_CONTACTS_ONLY) return "403 'own contacts only'";
  if (expect.names) return `403 naming ${expect.names.join(', ')}`;
  return [String(expect.status), expect.code].filter((part) => part !== undefined).join(' ');
}

function caseOf(who: Who, req: Req, expect: Expect): Case {
  const request = [req.method, req.path, req.note].filter((part) => part !== undefined).join(' ');
  return { name: `${who.label}: ${request} → ${describeExpect(expect)}`, who, req, expect };
}

const IMAGE = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#c00' } }).jpeg().toBuffer();
const image = (): Payload => ({ image: true });
/** PATCH /photo with JSON: re-render at 100×100 (the master is 300×300). */
const resize = (): Payload => ({ json: { width: 100, height: 100 } });
const json = (body: Record<string, unknown>) => (): Payload => ({ json: body });

/** The name (case-insensitively) as a whole: "User.ReadWrite" is not found inside "User.ReadWrite.All". */
function mentions(name: string): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\w.])${escaped}(?!\\w|\\.\\w)`, 'i');
}

async function send(w: World, who: Who, req: Req): Promise<LightMyRequestResponse> {
  if (req.seed !== undefined) await ensurePhoto(w, resolve(w, req.seed, ''));
  const fresh = req.fresh ? await req.fresh(w) : '';
  const token = await who.mint(w, fresh);
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const payload = req.payload?.();
  let body: string | Buffer | undefined;
  if (payload && 'image' in payload) {
    headers['content-type'] = 'image/jpeg';
    body = IMAGE;
  } else if (payload) {
    headers['content-type'] = 'application/json';
    body = 'json' in payload ? JSON.stringify(payload.json) : payload.text;
  }
  const url = resolve(w, req.path, fresh);
  return w.h.app.inject({ method: req.method, url, headers, ...(body !== undefined && { payload: body }) });
}

function check(res: LightMyRequestResponse, expect: Expect, method: Method): void {
  const detail = `${res.statusCode} ${res.body}`;
  if (expect.status === '2xx') assert.ok(res.statusCode >= 200 && res.statusCode < 300, `expected 2xx, got ${detail}`);
  else assert.equal(res.statusCode, expect.status, detail);
  // A HEAD answer has no body to read the error from.
  if (expect.code === undefined || method === 'HEAD') return;
  const { error } = res.json() as { error: { code: string; message: string } };
  assert.equal(error.code, expect.code, detail);
  if (expect.message !== undefined) assert.equal(error.message, expect.message);
  if (expect.code === 'Authorization_RequestDenied') {
    assert.match(error.message, /^Insufficient privileges to complete the operation\./);
  }
  for (const name of expect.names ?? []) assert.match(error.message, mentions(name), `the message names ${name}`);
}

/** Gives the owner at `ownerUrl` a photo unless it has one (an earlier case may have deleted it). */
async function ensurePhoto(w: World, ownerUrl: string): Promise<void> {
  const authorization = `Bearer ${w.seeder}`;
  const current = await w.h.app.inject({ method: 'GET', url: `${ownerUrl}/photo`, headers: { authorization } });
  if (current.statusCode === 200) return;
  assert.equal(current.statusCode, 404, `seeding ${ownerUrl}: ${current.body}`);
  const put = await w.h.app.inject({
    method: 'PUT',
    url: `${ownerUrl}/photo/$value`,
    headers: { authorization, 'content-type': 'image/jpeg' },
    payload: IMAGE,
  });
  assert.equal(put.statusCode, 200, `seeding ${ownerUrl}: ${put.body}`);
}

function table(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    const world = useWorld();
    for (const c of cases) {
      it(c.name, async () => check(await send(world(), c.who, c.req), c.expect, c.req.method));
    }
  });
}

// ---------------------------------------------------------------------------
// The table of contract §7, with the requests each row governs.

interface Row {
  readonly cell: string;
  readonly delegated: readonly string[];
  /** Empty where the contract's application column is "—". */
  readonly application: readonly string[];
  /** Delegated access also needs an administrator role (token wids or the directory). */
  readonly adminRule?: true;
  readonly requests: readonly RowRequest[];
}

const newUser = () => {
  const n = next();
  return { json: { displayName: `New ${n}`, userPrincipalName: `new${n}@contoso.com` } };
};
const newGroup = () => {
  const n = next();
  return { json: { displayName: `Group ${n}`, mailNickname: `group${n}` } };
};
const newInvitation = () => ({
  json: { invitedUserEmailAddress: `guest${next()}@fabrikam.com`, inviteRedirectUrl: 'https://myapp.contoso.com' },
});
const freshUser = async (w: World) => (await w.h.user(`leaver${next()}@contoso.com`)).id;
const freshGroup = async (w: World) => {
  const n = next();
  return (await w.h.directory.createGroup(w.h.tenantId, { displayName: `Team ${n}`, mailNickname: `team${n}`, description: null })).id;
};

const ROWS: readonly Row[] = [
  {
    cell: 'own user photo, read',
    delegated: OWN_USER_READ,
    application: [],
    requests: [
      { method: 'GET', path: '/me/photo', seed: '/users/{alice}', success: 200 },
      { method: 'HEAD', path: '/users/{alice.upn}/photo/$value', seed: '/users/{alice}', success: 200 },
      { method: 'GET', path: '/me/drive/root/createdByUser/photos', seed: '/users/{alice}', success: 200 },
    ],
  },
  {
    cell: "other user's photo, read",
    delegated: OTHER_USER_READ_DELEGATED,
    application: OTHER_USER_READ_APPLICATION,
    requests: [
      { method: 'GET', path: '/users/{bob}/photo', seed: '/users/{bob}', success: 200 },
      { method: 'GET', path: '/users/{bob.upn}/photos/48x48/$value', seed: '/users/{bob}', success: 200 },
      { method: 'GET', path: '/drives/{bob.drive}/root/createdByUser/photo', seed: '/users/{bob}', success: 200 },
      // The guest never gets a photo: allowed shows as the photo's own 404.
      { method: 'GET', path: '/beta/invitations/{invitation}/invitedUser/photo', note: '(no photo)', success: 404 },
    ],
  },
  {
    cell: 'own user photo, write/delete',
    delegated: OWN_USER_WRITE,
    application: [],
    requests: [
      { method: 'PUT', path: '/me/photo/$value', payload: image, success: 200 },
      { method: 'PATCH', path: '/users/{alice.upn}/photo/$value', payload: image, success: 200 },
      { method: 'PATCH', path: '/users/{alice}/photo', note: '(JSON)', payload: resize, seed: '/users/{alice}', success: 200 },
      { method: 'DELETE', path: '/me/photo', seed: '/users/{alice}', success: 200 },
    ],
  },
  {
    cell: "other user's photo, write/delete",
    delegated: OTHER_USER_WRITE,
    application: OTHER_USER_WRITE,
    adminRule: true,
    requests: [
      { method: 'PUT', path: '/users/{bob}/photo/$value', payload: image, success: 200 },
      {
        method: 'PATCH',
        path: '/invitations/{invitation}/invitedUser/photo',
        note: '(JSON)',
        payload: resize,
        seed: '/invitations/{invitation}/invitedUser',
        success: 200,
      },
      { method: 'DELETE', path: '/users/{bob.upn}/photo/$value', seed: '/users/{bob}', success: 200 },
    ],
  },
  {
    cell: 'group photo, read',
    delegated: GROUP_READ,
    application: GROUP_READ,
    requests: [
      { method: 'GET', path: '/groups/{plainGroup}/photo', seed: '/groups/{plainGroup}', success: 200 },
      { method: 'GET', path: '/beta/groups/{plainGroup}/photos', success: 200 },
    ],
  },
  {
    cell: 'group photo, write/delete',
    delegated: GROUP_WRITE,
    application: GROUP_WRITE,
    requests: [
      { method: 'PUT', path: '/groups/{plainGroup}/photo/$value', payload: image, success: 200 },
      { method: 'PATCH', path: '/groups/{plainGroup}/photo', note: '(JSON)', payload: resize, seed: '/groups/{plainGroup}', success: 200 },
      { method: 'DELETE', path: '/groups/{plainGroup}/photo', seed: '/groups/{plainGroup}', success: 200 },
    ],
  },
  {
    cell: 'team photo, read',
    delegated: TEAM_READ,
    application: TEAM_READ,
    requests: [
      { method: 'GET', path: '/teams/{team}/photo', seed: '/groups/{team}', success: 200 },
      { method: 'GET', path: '/groups/{team}/team/photo/$value', seed: '/groups/{team}', success: 200 },
      { method: 'GET', path: '/users/{bob}/joinedTeams/{team}/photo', seed: '/groups/{team}', success: 200 },
      { method: 'GET', path: '/me/joinedTeams/{team}/photo', seed: '/groups/{team}', success: 200, tokens: 'delegated' },
    ],
  },
  {
    cell: 'team photo, write',
    delegated: TEAM_WRITE,
    application: TEAM_WRITE,
    requests: [
      // Graph documents 204 for a team photo upload (contract §3).
      { method: 'PUT', path: '/teams/{team}/photo/$value', payload: image, success: 204 },
      { method: 'PUT', path: '/groups/{team}/team/photo/$value', payload: image, success: 204 },
      { method: 'PATCH', path: '/teams/{team}/photo', note: '(JSON)', payload: resize, seed: '/groups/{team}', success: 200 },
    ],
  },
  {
    cell: 'contact photo, read',
    delegated: CONTACT_READ,
    application: CONTACT_READ,
    requests: [
      { method: 'GET', path: '/me/contacts/{aliceContact}/photo', seed: '/users/{alice}/contacts/{aliceContact}', success: 200, tokens: 'delegated' },
      {
        method: 'GET',
        path: '/users/{alice}/contactFolders/{aliceFolder}/contacts/{aliceFolderContact}/photo/$value',
        seed: '/users/{alice}/contacts/{aliceFolderContact}',
        success: 200,
        tokens: 'delegated',
      },
      {
        method: 'GET',
        path: '/users/{bob}/contacts/{bobContact}/photo',
        seed: '/users/{bob}/contacts/{bobContact}',
        success: 200,
        tokens: 'application',
      },
      {
        method: 'GET',
        path: '/invitations/{invitation}/invitedUser/contacts/{guestContact}/photo',
        note: '(no photo)',
        success: 404,
        tokens: 'application',
      },
    ],
  },
  {
    cell: 'contact photo, write',
    delegated: CONTACT_WRITE,
    application: CONTACT_WRITE,
    requests: [
      { method: 'PUT', path: '/me/contacts/{aliceContact}/photo/$value', payload: image, success: 200, tokens: 'delegated' },
      {
        method: 'PATCH',
        path: '/me/contactFolders/{aliceFolder}/contacts/{aliceFolderContact}/photo',
        note: '(JSON)',
        payload: resize,
        seed: '/users/{alice}/contacts/{aliceFolderContact}',
        success: 200,
        tokens: 'delegated',
      },
      { method: 'PUT', path: '/users/{bob}/contacts/{bobContact}/photo/$value', payload: image, success: 200, tokens: 'application' },
      {
        method: 'PATCH',
        path: '/invitations/{invitation}/invitedUser/contacts/{guestContact}/photo/$value',
        payload: image,
        success: 200,
        tokens: 'application',
      },
    ],
  },
  {
    cell: 'create/delete users',
    delegated: USERS_WRITE,
    application: USERS_WRITE,
    adminRule: true,
    requests: [
      { method: 'POST', path: '/users', payload: newUser, success: '2xx' },
      { method: 'DELETE', path: '/users/{fresh}', fresh: freshUser, success: '2xx' },
    ],
  },
  {
    cell: 'create groups/teams',
    delegated: GROUPS_CREATE,
    application: GROUPS_CREATE,
    requests: [
      { method: 'POST', path: '/groups', payload: newGroup, success: '2xx' },
      { method: 'PUT', path: '/groups/{fresh}/team', fresh: freshGroup, success: '2xx' },
    ],
  },
  {
    cell: 'create contacts/folders',
    delegated: CONTACT_WRITE,
    application: CONTACT_WRITE,
    requests: [
      { method: 'POST', path: '/me/contacts', payload: json({ givenName: 'Pavel', surname: 'Bansky' }), success: '2xx', tokens: 'delegated' },
      { method: 'POST', path: '/me/contactFolders', payload: json({ displayName: 'Work' }), success: '2xx', tokens: 'delegated' },
      {
        method: 'POST',
        path: '/me/contactFolders/{aliceFolder}/childFolders',
        payload: json({ displayName: 'Close friends' }),
        success: '2xx',
        tokens: 'delegated',
      },
      {
        method: 'POST',
        path: '/users/{alice}/contactFolders/{aliceFolder}/contacts',
        payload: json({ displayName: 'Margaret' }),
        success: '2xx',
        tokens: 'delegated',
      },
      { method: 'POST', path: '/users/{bob}/contacts', payload: json({ displayName: 'Dennis' }), success: '2xx', tokens: 'application' },
      { method: 'POST', path: '/users/{bob.upn}/contactFolders', payload: json({ displayName: 'Suppliers' }), success: '2xx', tokens: 'application' },
      {
        method: 'POST',
        path: '/invitations/{invitation}/invitedUser/contacts',
        payload: json({ displayName: 'Barbara' }),
        success: '2xx',
        tokens: 'application',
      },
    ],
  },
  {
    cell: 'create invitations',
    delegated: INVITE,
    application: INVITE,
    requests: [{ method: 'POST', path: '/invitations', payload: newInvitation, success: '2xx' }],
  },
];

/** Each listed permission alone → allowed; everything else at once, or nothing → 403 naming the cell. */
function casesFor(row: Row): Case[] {
  const cases: Case[] = [];
  const admin = row.adminRule === true;
  for (const req of row.requests) {
    const ok = req.success === 404 ? noPhoto : allowed(req.success);
    if (req.tokens !== 'application') {
      for (const name of row.delegated) cases.push(caseOf(delegated([name], { admin }), req, ok));
      if (admin) {
        for (const name of row.delegated) cases.push(caseOf(delegated([name]), req, denied(ADMIN_ROLES)));
        for (const name of row.delegated) cases.push(caseOf(delegated([name], { as: 'carol' }), req, ok));
      }
      cases.push(caseOf(delegated(allBut(row.delegated), { admin, label: 'every other permission' }), req, denied(row.delegated)));
      cases.push(caseOf(delegated([]), req, denied(row.delegated)));
    }
    if (req.tokens !== 'delegated' && row.application.length > 0) {
      for (const name of row.application) cases.push(caseOf(app([name]), req, ok));
      cases.push(caseOf(app(allBut(row.application), 'every other permission'), req, denied(row.application)));
      cases.push(caseOf(app([]), req, denied(row.application)));
    }
  }
  return cases;
}

for (const row of ROWS) table(`contract §7: ${row.cell}`, casesFor(row));

// ---------------------------------------------------------------------------
// The rules beside the table.

const getMyPhoto: Req = { method: 'GET', path: '/me/photo', seed: '/users/{alice}' };
const putMyPhoto: Req = { method: 'PUT', path: '/me/photo/$value', payload: image };
const getOtherPhoto: Req = { method: 'GET', path: '/users/{bob}/photo', seed: '/users/{bob}' };
const putOtherPhoto: Req = { method: 'PUT', path: '/users/{bob}/photo/$value', payload: image };
const getGroupPhoto: Req = { method: 'GET', path: '/groups/{plainGroup}/photo', seed: '/groups/{plainGroup}' };
const getOtherContact: Req = { method: 'GET', path: '/users/{bob}/contacts/{bobContact}/photo', seed: '/users/{bob}/contacts/{bobContact}' };
const putOtherContact: Req = { method: 'PUT', path: '/users/{bob}/contacts/{bobContact}/photo/$value', payload: image };
const deleteSelf: Req = {
  method: 'DELETE',
  path: '/users/{fresh}',
  note: '(the caller itself)',
  fresh: async (w) => (await w.h.user(`self${next()}@contoso.com`)).id,
};
/** The user being deleted, signed in. */
const asFresh = (label: string, claims: Record<string, unknown>) =>
  signed(`the user being deleted, ${label}`, (_w, fresh) => ({ oid: fresh, ...claims }));

table('another user is changed only by an administrator (token wids or the directory)', [
  caseOf(aliceWithWids('ProfilePhoto.ReadWrite.All', [GLOBAL_ADMINISTRATOR], 'Global Administrator'), putOtherPhoto, allowed(200)),
  caseOf(aliceWithWids('ProfilePhoto.ReadWrite.All', [USER_ADMINISTRATOR], 'User Administrator'), putOtherPhoto, allowed(200)),
  caseOf(aliceWithWids('User.ReadWrite.All', [PEOPLE_ADMINISTRATOR], 'People Administrator'), putOtherPhoto, allowed(200)),
  caseOf(
    aliceWithWids('User.ReadWrite.All', [GLOBAL_READER, PEOPLE_ADMINISTRATOR], 'Global Reader, People Administrator'),
    putOtherPhoto,
    allowed(200),
  ),
  caseOf(aliceWithWids('User.ReadWrite.All', [GLOBAL_READER], 'Global Reader (not an admin role)'), putOtherPhoto, denied(ADMIN_ROLES)),
  caseOf(aliceWithWids('User.ReadWrite.All', [], '[]'), putOtherPhoto, denied(ADMIN_ROLES)),
  // An admin role adds nothing to a permission that does not cover other users.
  caseOf(delegated(['User.ReadWrite'], { admin: true }), putOtherPhoto, denied(OTHER_USER_WRITE)),
  caseOf(delegated(['User.ReadBasic.All', 'User.Read.All'], { admin: true }), putOtherPhoto, denied(OTHER_USER_WRITE)),
  caseOf(delegated(['User.ReadWrite'], { as: 'carol' }), putOtherPhoto, denied(OTHER_USER_WRITE)),
  caseOf(delegated(['ProfilePhoto.Read.All'], { as: 'carol' }), putOtherPhoto, denied(OTHER_USER_WRITE)),
  // Reading another user's photo needs no admin role.
  caseOf(delegated(['User.ReadBasic.All']), getOtherPhoto, allowed(200)),
  // "create/delete users: User.ReadWrite.All + admin role" holds for one's own account too.
  caseOf(asFresh('scp "User.ReadWrite.All", no admin role', { scp: 'User.ReadWrite.All' }), deleteSelf, denied(ADMIN_ROLES)),
  caseOf(
    asFresh('scp "User.ReadWrite.All" + wids Global Administrator', { scp: 'User.ReadWrite.All', wids: [GLOBAL_ADMINISTRATOR] }),
    deleteSelf,
    allowed('2xx'),
  ),
]);

table("delegated tokens reach the signed-in user's own contacts only", [
  caseOf(delegated(['Contacts.Read']), getOtherContact, denied(OWN_CONTACTS_ONLY)),
  caseOf(delegated(['Contacts.ReadWrite']), getOtherContact, denied(OWN_CONTACTS_ONLY)),
  caseOf(delegated(['Contacts.ReadWrite']), putOtherContact, denied(OWN_CONTACTS_ONLY)),
  caseOf(delegated(['Contacts.ReadWrite'], { admin: true }), putOtherContact, denied(OWN_CONTACTS_ONLY)),
  caseOf(delegated(['Contacts.ReadWrite'], { as: 'carol' }), putOtherContact, denied(OWN_CONTACTS_ONLY)),
  caseOf(
    delegated(['Contacts.ReadWrite']),
    {
      method: 'PATCH',
      path: '/users/{bob}/contacts/{bobContact}/photo',
      note: '(JSON)',
      payload: resize,
      seed: '/users/{bob}/contacts/{bobContact}',
    },
    denied(OWN_CONTACTS_ONLY),
  ),
  caseOf(
    delegated(['Contacts.Read']),
    { method: 'GET', path: '/invitations/{invitation}/invitedUser/contacts/{guestContact}/photo' },
    denied(OWN_CONTACTS_ONLY),
  ),
  caseOf(
    delegated(['Contacts.ReadWrite']),
    { method: 'POST', path: '/users/{bob}/contacts', payload: json({ displayName: 'Eve' }) },
    denied(OWN_CONTACTS_ONLY),
  ),
  caseOf(
    delegated(['Contacts.ReadWrite']),
    { method: 'POST', path: '/users/{bob}/contactFolders', payload: json({ displayName: 'Spies' }) },
    denied(OWN_CONTACTS_ONLY),
  ),
  // The same contact is any application's to read and write.
  caseOf(app(['Contacts.Read']), getOtherContact, allowed(200)),
  caseOf(app(['Contacts.ReadWrite']), putOtherContact, allowed(200)),
]);

/** scp and roles both present: scp makes the token delegated, and its roles count for nothing. */
const scpAndRoles = signed('scp "User.Read" with roles [ProfilePhoto.ReadWrite.All, User.ReadWrite.All, Contacts.Read]', (w) => ({
  oid: w.alice.id,
  upn: w.alice.userPrincipalName,
  scp: 'User.Read',
  roles: ['ProfilePhoto.ReadWrite.All', 'User.ReadWrite.All', 'Contacts.Read'],
}));
/** Neither scp nor roles: not delegated, and no permission at all. */
const neither = signed('neither scp nor roles', () => ({ oid: randomUUID() }));

table('scp and roles are separate', [
  // Delegated-only names as application roles allow nothing.
  caseOf(app(['User.ReadWrite']), putOtherPhoto, denied(OTHER_USER_WRITE)),
  caseOf(app(['User.ReadWrite']), getOtherPhoto, denied(OTHER_USER_READ_APPLICATION)),
  caseOf(app(['User.Read']), getOtherPhoto, denied(OTHER_USER_READ_APPLICATION)),
  caseOf(app(['User.ReadBasic.All']), getOtherPhoto, denied(OTHER_USER_READ_APPLICATION)),
  caseOf(scpAndRoles, getMyPhoto, allowed(200)),
  caseOf(scpAndRoles, putOtherPhoto, denied(OTHER_USER_WRITE)),
  caseOf(scpAndRoles, getOtherPhoto, denied(OTHER_USER_READ_DELEGATED)),
  caseOf(scpAndRoles, getOtherContact, denied(CONTACT_READ)),
  caseOf(neither, getOtherPhoto, forbidden),
  caseOf(neither, putOtherPhoto, forbidden),
  caseOf(neither, getGroupPhoto, forbidden),
  caseOf(neither, getOtherContact, forbidden),
  caseOf(neither, { method: 'POST', path: '/groups', payload: newGroup }, forbidden),
  // Without scp the token is not delegated, so /me is a 400 before any 403.
  caseOf(neither, getMyPhoto, meNeedsDelegated),
]);

table('permission names compare case-insensitively', [
  caseOf(delegated(['USER.READ']), getMyPhoto, allowed(200)),
  caseOf(delegated(['user.readwrite']), putMyPhoto, allowed(200)),
  caseOf(delegated(['user.readwrite.all'], { admin: true }), putOtherPhoto, allowed(200)),
  caseOf(delegated(['profilephoto.READWRITE.all'], { as: 'carol' }), putOtherPhoto, allowed(200)),
  caseOf(delegated(['contacts.READWRITE']), { method: 'PUT', path: '/me/contacts/{aliceContact}/photo/$value', payload: image }, allowed(200)),
  caseOf(app(['PROFILEPHOTO.READ.ALL']), getOtherPhoto, allowed(200)),
  caseOf(app(['group.read.all']), getGroupPhoto, allowed(200)),
  caseOf(app(['group.readwrite.all']), { method: 'PUT', path: '/groups/{plainGroup}/photo/$value', payload: image }, allowed(200)),
  caseOf(app(['teamsettings.readwrite.all']), { method: 'PUT', path: '/teams/{team}/photo/$value', payload: image }, allowed(204)),
  caseOf(app(['CONTACTS.read']), getOtherContact, allowed(200)),
  caseOf(app(['user.invite.all']), { method: 'POST', path: '/invitations', payload: newInvitation }, allowed('2xx')),
]);

table('/me needs a delegated token', [
  ...(
    [
      getMyPhoto,
      { method: 'GET', path: '/beta/me/photo/$value' },
      { method: 'GET', path: '/me/photos' },
      putMyPhoto,
      { method: 'DELETE', path: '/me/photo' },
      { method: 'GET', path: '/me/contacts/{aliceContact}/photo' },
      { method: 'GET', path: '/me/contactFolders/{aliceFolder}/contacts/{aliceFolderContact}/photo' },
      { method: 'GET', path: '/me/joinedTeams/{team}/photo' },
      { method: 'GET', path: '/drive/root/createdByUser/photo' },
      { method: 'GET', path: '/me/drive/root/createdByUser/photo' },
      { method: 'POST', path: '/me/contacts', payload: json({ displayName: 'Nope' }) },
    ] satisfies Req[]
  ).map((req) => caseOf(app(EVERY_PERMISSION, 'every permission'), req, meNeedsDelegated)),
  // The 400 for the path comes before the 403 for the missing permission.
  caseOf(app([]), getMyPhoto, meNeedsDelegated),
]);

// ---------------------------------------------------------------------------
// Contract §6: the first failing check wins.

const getUnknownGroup: Req = { method: 'GET', path: '/groups/{unknown}/photo' };
const getUnknownUser: Req = { method: 'GET', path: '/users/{unknown}/photo' };
const putUnknownUser: Req = { method: 'PUT', path: '/users/{unknown}/photo/$value', payload: image };
const getUnknownTeam: Req = { method: 'GET', path: '/teams/{unknown}/photo' };
const getUnknownUsersContact: Req = { method: 'GET', path: '/users/{unknown}/contacts/{unknown}/photo' };
const getDavesPhoto: Req = { method: 'GET', path: '/users/{dave}/photo', note: '(no photo)' };

table('contract §6: 401 → 400 path → 405 → 403 kind → 404 owner → 403 own/admin → 404 photo → 400 body', [
  // 401 before anything else.
  caseOf(nobody, getUnknownUser, { status: 401, code: 'InvalidAuthenticationToken' }),
  caseOf(nobody, { method: 'GET', path: '/bogus' }, { status: 401, code: 'InvalidAuthenticationToken' }),
  // 400 path before 405 and 403.
  caseOf(
    delegated([]),
    { method: 'GET', path: '/users/{bob}/photoz' },
    { status: 400, code: 'BadRequest', message: "Resource not found for the segment 'photoz'." },
  ),
  caseOf(app([]), { method: 'DELETE', path: '/me/photo' }, meNeedsDelegated),
  // 405 before 403.
  caseOf(delegated([]), { method: 'DELETE', path: '/teams/{team}/photo' }, methodNotAllowed),
  caseOf(app([]), { method: 'DELETE', path: '/users/{bob}/contacts/{bobContact}/photo' }, methodNotAllowed),
  caseOf(app([]), { method: 'POST', path: '/users/{bob}/photo' }, methodNotAllowed),
  // 403 (no permission for the owner kind) before 404 owner.
  caseOf(app(['User.Read.All']), getUnknownGroup, denied(GROUP_READ)),
  caseOf(app(['Group.Read.All']), getUnknownGroup, ownerMissing),
  caseOf(delegated(['User.ReadWrite.All', 'Contacts.ReadWrite']), getUnknownGroup, denied(GROUP_READ)),
  caseOf(delegated(['Group.Read.All']), getUnknownGroup, ownerMissing),
  caseOf(app(['Group.Read.All']), getUnknownUser, denied(OTHER_USER_READ_APPLICATION)),
  caseOf(app(['User.Read.All']), getUnknownUser, ownerMissing),
  caseOf(delegated(['User.ReadBasic.All']), putUnknownUser, denied(OTHER_USER_WRITE)),
  caseOf(delegated(['User.ReadBasic.All']), putOtherPhoto, denied(OTHER_USER_WRITE)),
  caseOf(delegated(['Contacts.ReadWrite', 'ProfilePhoto.ReadWrite.All']), getUnknownTeam, denied(TEAM_READ)),
  caseOf(delegated(['Group.ReadWrite.All']), getUnknownTeam, ownerMissing),
  caseOf(app(['Team.ReadBasic.All']), { method: 'GET', path: '/teams/{plainGroup}/photo', note: '(a group without a team)' }, ownerMissing),
  caseOf(app(['User.ReadWrite.All']), getUnknownUsersContact, denied(CONTACT_READ)),
  caseOf(app(['Contacts.Read']), getUnknownUsersContact, ownerMissing),
  caseOf(delegated(['User.ReadWrite']), { method: 'POST', path: '/users', payload: newUser }, denied(USERS_WRITE)),
  // 404 owner before 403 (own-only or admin rule).
  caseOf(delegated(['User.ReadWrite']), putUnknownUser, ownerMissing),
  caseOf(delegated(['User.ReadWrite']), putOtherPhoto, denied(OTHER_USER_WRITE)),
  caseOf(delegated(['User.ReadWrite.All']), putUnknownUser, ownerMissing),
  caseOf(delegated(['User.ReadWrite.All']), putOtherPhoto, denied(ADMIN_ROLES)),
  caseOf(delegated(['User.Read']), getUnknownUser, ownerMissing),
  caseOf(delegated(['User.Read']), getOtherPhoto, denied(OTHER_USER_READ_DELEGATED)),
  caseOf(delegated(['Contacts.Read']), getUnknownUsersContact, ownerMissing),
  caseOf(delegated(['Contacts.Read']), { method: 'GET', path: '/users/{bob}/contacts/{unknown}/photo' }, ownerMissing),
  caseOf(delegated(['Contacts.Read']), getOtherContact, denied(OWN_CONTACTS_ONLY)),
  caseOf(
    delegated(['Contacts.ReadWrite']),
    { method: 'PUT', path: '/users/{bob}/contactFolders/{unknown}/contacts/{bobContact}/photo/$value', payload: image },
    ownerMissing,
  ),
  caseOf(delegated(['User.ReadWrite.All']), { method: 'DELETE', path: '/users/{unknown}' }, ownerMissing),
  caseOf(delegated(['User.ReadWrite.All']), { method: 'DELETE', path: '/users/{dave}' }, denied(ADMIN_ROLES)),
  // 403 before 404 no photo (dave never has one).
  caseOf(app(['Group.ReadWrite.All']), getDavesPhoto, denied(OTHER_USER_READ_APPLICATION)),
  caseOf(app(['User.Read.All']), getDavesPhoto, noPhoto),
  caseOf(delegated(['User.ReadWrite']), { method: 'DELETE', path: '/users/{dave}/photo', note: '(no photo)' }, denied(OTHER_USER_WRITE)),
  // 403 and 404 owner before the body is looked at.
  caseOf(
    delegated(['User.Read']),
    { method: 'PUT', path: '/me/photo/$value', note: '(not an image)', payload: () => ({ text: 'not an image' }) },
    denied(OWN_USER_WRITE),
  ),
  caseOf(
    delegated(['User.Read']),
    { method: 'PATCH', path: '/me/photo', note: '(bad JSON)', payload: () => ({ text: '{"width":' }), seed: '/users/{alice}' },
    denied(OWN_USER_WRITE),
  ),
  caseOf(
    app(['ProfilePhoto.ReadWrite.All']),
    { method: 'PUT', path: '/users/{unknown}/photo/$value', note: '(not an image)', payload: () => ({ text: 'not an image' }) },
    ownerMissing,
  ),
]);

// ---------------------------------------------------------------------------
// Which row a request falls in: read = GET/HEAD, write = uploads and PATCH JSON,
// delete uses the write row; TEAM paths use team rows, /groups/{id}/photo group
// rows, createdByUser and invitedUser their user's rows (contract §7).

type Suffix = Pick<Req, 'method' | 'path' | 'payload' | 'note'>;

const READS: readonly Suffix[] = [
  { method: 'GET', path: '/photo' },
  { method: 'HEAD', path: '/photo' },
  { method: 'GET', path: '/photo/$value' },
  { method: 'HEAD', path: '/photo/$value' },
];
const SIZE_READS: readonly Suffix[] = [
  { method: 'GET', path: '/photos' },
  { method: 'GET', path: '/photos/48x48' },
  { method: 'HEAD', path: '/photos/48X48/$value' },
  { method: 'GET', path: '/photo/48x48/$value' },
];
const WRITES: readonly Suffix[] = [
  { method: 'PUT', path: '/photo/$value', payload: image },
  { method: 'PATCH', path: '/photo/$value', payload: image },
  { method: 'PATCH', path: '/photo', note: '(JSON)', payload: resize },
];
const DELETES: readonly Suffix[] = [
  { method: 'DELETE', path: '/photo' },
  { method: 'DELETE', path: '/photo/$value' },
];

/** A read permission reads by every read method, and every write method is refused naming the write cell. */
function readOnly(
  who: Who,
  owner: string,
  seed: string,
  methods: { readonly reads: readonly Suffix[]; readonly writes: readonly Suffix[]; readonly writeCell: readonly string[] },
): Case[] {
  const req = (suffix: Suffix): Req => ({ ...suffix, path: `${owner}${suffix.path}`, seed });
  return [
    ...methods.reads.map((suffix) => caseOf(who, req(suffix), allowed(200))),
    ...methods.writes.map((suffix) => caseOf(who, req(suffix), denied(methods.writeCell))),
  ];
}

table('read is GET/HEAD; write is uploads and PATCH JSON; delete uses the write row', [
  ...readOnly(app(['ProfilePhoto.Read.All']), '/users/{bob}', '/users/{bob}', {
    reads: [...READS, ...SIZE_READS],
    writes: [...WRITES, ...DELETES],
    writeCell: OTHER_USER_WRITE,
  }),
  ...readOnly(delegated(['User.Read']), '/me', '/users/{alice}', {
    reads: [...READS, ...SIZE_READS],
    writes: [...WRITES, ...DELETES],
    writeCell: OWN_USER_WRITE,
  }),
  ...readOnly(delegated(['Group.Read.All']), '/groups/{plainGroup}', '/groups/{plainGroup}', {
    reads: [...READS, ...SIZE_READS],
    writes: [...WRITES, ...DELETES],
    writeCell: GROUP_WRITE,
  }),
  ...readOnly(app(['TeamSettings.Read.All']), '/teams/{team}', '/groups/{team}', { reads: READS, writes: WRITES, writeCell: TEAM_WRITE }),
  ...readOnly(app(['Contacts.Read']), '/users/{bob}/contacts/{bobContact}', '/users/{bob}/contacts/{bobContact}', {
    reads: READS,
    writes: WRITES,
    writeCell: CONTACT_WRITE,
  }),
]);

const teamGet = (path: string): Req => ({ method: 'GET', path, seed: '/groups/{team}' });
const teamPut = (path: string): Req => ({ method: 'PUT', path, payload: image });

table('each path form uses its own row, though team and group reach one photo', [
  caseOf(app(['ProfilePhoto.ReadWrite.All']), teamGet('/groups/{team}/photo'), allowed(200)),
  caseOf(app(['ProfilePhoto.ReadWrite.All']), teamPut('/groups/{team}/photo/$value'), allowed(200)),
  caseOf(app(['ProfilePhoto.ReadWrite.All']), teamGet('/teams/{team}/photo'), denied(TEAM_READ)),
  caseOf(app(['ProfilePhoto.ReadWrite.All']), teamPut('/teams/{team}/photo/$value'), denied(TEAM_WRITE)),
  caseOf(delegated(['ProfilePhoto.Read.All']), teamGet('/groups/{team}/team/photo'), denied(TEAM_READ)),
  caseOf(app(['Team.ReadBasic.All']), teamGet('/teams/{team}/photo'), allowed(200)),
  caseOf(app(['Team.ReadBasic.All']), teamGet('/groups/{team}/team/photo'), allowed(200)),
  caseOf(app(['Team.ReadBasic.All']), teamGet('/groups/{team}/photo'), denied(GROUP_READ)),
  caseOf(delegated(['TeamSettings.ReadWrite.All']), teamPut('/groups/{team}/team/photo/$value'), allowed(204)),
  caseOf(delegated(['TeamSettings.ReadWrite.All']), teamPut('/groups/{team}/photo/$value'), denied(GROUP_WRITE)),
  caseOf(app(['TeamSettings.ReadWrite.All']), { method: 'DELETE', path: '/groups/{team}/photo', seed: '/groups/{team}' }, denied(GROUP_WRITE)),
  // Photo permissions do not create teams.
  caseOf(
    app(['TeamSettings.ReadWrite.All', 'ProfilePhoto.ReadWrite.All']),
    { method: 'PUT', path: '/groups/{plainGroup}/team' },
    denied(GROUPS_CREATE),
  ),
  // createdByUser and invitedUser are users: the user rows apply, not drive or invitation permissions.
  caseOf(delegated(['User.Read']), { method: 'GET', path: '/users/{alice}/drive/root/createdByUser/photo', seed: '/users/{alice}' }, allowed(200)),
  caseOf(
    delegated(['User.Read']),
    { method: 'GET', path: '/drives/{bob.drive}/root/createdByUser/photo', seed: '/users/{bob}' },
    denied(OTHER_USER_READ_DELEGATED),
  ),
  caseOf(
    delegated(['User.ReadWrite']),
    { method: 'PUT', path: '/users/{bob}/drive/root/createdByUser/photo/$value', payload: image },
    denied(OTHER_USER_WRITE),
  ),
  caseOf(delegated(['User.ReadWrite']), { method: 'PUT', path: '/drive/root/createdByUser/photo/$value', payload: image }, allowed(200)),
  caseOf(app(['User.Invite.All']), { method: 'GET', path: '/invitations/{invitation}/invitedUser/photo' }, denied(OTHER_USER_READ_APPLICATION)),
  caseOf(app(['User.Read.All']), { method: 'GET', path: '/invitations/{invitation}/invitedUser/photo', note: '(no photo)' }, noPhoto),
]);
