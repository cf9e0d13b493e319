// `portrait import`: loads a directory from one JSON document (format in the
// README). Ids not given are derived from names, so running the same document
// twice changes nothing the second time.
import { errors } from '../errors.js';
import { ConflictError, type Contact, type ContactFolder, type SaveResult, type Store, type User } from '../storage/store.js';
import { guestUserPrincipalName } from './guest-user-principal-name.js';
import { driveIdFor, GUID_PATTERN, idFromName } from './ids.js';
import { userPrincipalNameProblem } from './user-principal-name.js';

export class ImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportError';
  }
}

export type ImportCounts = Record<SaveResult, number>;

type Json = Record<string, unknown>;

export async function importDocument(store: Store, tenantId: string, document: unknown): Promise<ImportCounts> {
  const counts: ImportCounts = { created: 0, updated: 0, unchanged: 0 };
  const count = (result: SaveResult) => void counts[result]++;
  checkMembers(document, '', 'document');
  const root = object(document, 'the document');
  await store.ensureTenant(tenantId);

  for (const [i, item] of array(root.users, 'users').entries()) {
    const at = `users[${i}]`;
    const json = object(item, at);
    const upn = userPrincipalName(json.userPrincipalName, `${at}.userPrincipalName`);
    const user = await saveUser(store, count, at, {
      tenantId,
      id: id(json.id, `${at}.id`) ?? (await store.getUserByUpn(tenantId, upn))?.id ?? idFromName(tenantId, 'user', upn.toLowerCase()),
      userPrincipalName: upn,
      displayName: optional(json.displayName, `${at}.displayName`) ?? upn.split('@')[0] ?? upn,
      mail: optional(json.mail, `${at}.mail`) ?? null,
      userType: json.userType === 'Guest' ? 'Guest' : 'Member',
      isAdmin: json.admin === true,
    });
    await importContacts(store, count, user, null, json.contacts, `${at}.contacts`);
    await importFolders(store, count, user, null, json.contactFolders, `${at}.contactFolders`);
  }

  for (const [i, item] of array(root.groups, 'groups').entries()) {
    const at = `groups[${i}]`;
    const json = object(item, at);
    const displayName = string(json.displayName, `${at}.displayName`);
    const mailNickname = optional(json.mailNickname, `${at}.mailNickname`) ?? displayName.replace(/[^A-Za-z0-9]/g, '');
    count(
      await store.saveGroup({
        tenantId,
        id: id(json.id, `${at}.id`) ?? idFromName(tenantId, 'group', mailNickname.toLowerCase()),
        displayName,
        mailNickname,
        description: optional(json.description, `${at}.description`) ?? null,
        unified: json.team === true || groupTypes(json.groupTypes, `${at}.groupTypes`),
        hasTeam: json.team === true,
      }),
    );
  }

  for (const [i, item] of array(root.invitations, 'invitations').entries()) {
    const at = `invitations[${i}]`;
    const json = object(item, at);
    const email = string(json.invitedUserEmailAddress, `${at}.invitedUserEmailAddress`);
    const invited = json.invitedUser === undefined ? {} : object(json.invitedUser, `${at}.invitedUser`);
    const upn = guestUserPrincipalName(tenantId, email);
    const guest = await saveUser(store, count, `${at}.invitedUser`, {
      tenantId,
      id: id(invited.id, `${at}.invitedUser.id`) ?? (await store.getUserByUpn(tenantId, upn))?.id ?? idFromName(tenantId, 'user', upn.toLowerCase()),
      userPrincipalName: upn,
      displayName: optional(invited.displayName, `${at}.invitedUser.displayName`) ?? email,
      mail: email,
      userType: 'Guest',
      isAdmin: false,
    });
    count(
      await store.saveInvitation({
        tenantId,
        id: id(json.id, `${at}.id`) ?? idFromName(tenantId, 'invitation', email.toLowerCase()),
        invitedUserId: guest.id,
        invitedUserEmailAddress: email,
        inviteRedirectUrl: optional(json.inviteRedirectUrl, `${at}.inviteRedirectUrl`) ?? 'https://myapps.microsoft.com',
      }),
    );
    await importContacts(store, count, guest, null, invited.contacts, `${at}.invitedUser.contacts`);
  }
  return counts;
}

/**
 * A user without an id in the document is whoever has its userPrincipalName already (say, one
 * a token created), so importing merges by name; one whose id is given must own the name.
 */
async function saveUser(store: Store, count: (r: SaveResult) => void, at: string, input: Omit<User, 'driveId'>): Promise<User> {
  const user: User = { ...input, driveId: driveIdFor(input.id) };
  try {
    count(await store.saveUser(user));
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const owner = await store.getUserByUpn(input.tenantId, input.userPrincipalName);
    throw new ImportError(
      `${at}: userPrincipalName '${input.userPrincipalName}' belongs to another user (id ${owner?.id ?? 'unknown'}) than id ${input.id}`,
    );
  }
  return user;
}

async function importFolders(
  store: Store,
  count: (r: SaveResult) => void,
  user: User,
  parent: ContactFolder | null,
  value: unknown,
  path: string,
): Promise<void> {
  for (const [i, item] of array(value, path).entries()) {
    const at = `${path}[${i}]`;
    const json = object(item, at);
    const displayName = string(json.displayName, `${at}.displayName`);
    const folder: ContactFolder = {
      tenantId: user.tenantId,
      id: id(json.id, `${at}.id`) ?? idFromName(user.tenantId, 'folder', user.id, parent?.id ?? '', displayName),
      userId: user.id,
      parentFolderId: parent?.id ?? null,
      displayName,
    };
    count(await store.saveContactFolder(folder));
    await importContacts(store, count, user, folder, json.contacts, `${at}.contacts`);
    await importFolders(store, count, user, folder, json.childFolders, `${at}.childFolders`);
  }
}

async function importContacts(
  store: Store,
  count: (r: SaveResult) => void,
  user: User,
  folder: ContactFolder | null,
  value: unknown,
  path: string,
): Promise<void> {
  for (const [i, item] of array(value, path).entries()) {
    const at = `${path}[${i}]`;
    const json = object(item, at);
    const emails = array(json.emailAddresses, `${at}.emailAddresses`).map((e, j) => {
      const email = object(e, `${at}.emailAddresses[${j}]`);
      const address = string(email.address, `${at}.emailAddresses[${j}].address`);
      return { address, name: optional(email.name, `${at}.emailAddresses[${j}].name`) ?? address };
    });
    const givenName = optional(json.givenName, `${at}.givenName`) ?? null;
    const surname = optional(json.surname, `${at}.surname`) ?? null;
    const displayName =
      optional(json.displayName, `${at}.displayName`) ??
      ([givenName, surname].filter(Boolean).join(' ') || emails[0]?.address);
    if (!displayName) throw new ImportError(`${at} needs a displayName, a name or an email address`);
    const contact: Contact = {
      tenantId: user.tenantId,
      id: id(json.id, `${at}.id`) ?? idFromName(user.tenantId, 'contact', user.id, folder?.id ?? '', displayName),
      userId: user.id,
      folderId: folder?.id ?? null,
      displayName,
      givenName,
      surname,
      emailAddresses: emails,
    };
    count(await store.saveContact(contact));
  }
}

/**
 * The members each object may have, and which of them hold objects (arrays of them, except
 * invitedUser). The whole document is checked before anything is saved: a misspelled member
 * ("usres") is refused rather than quietly ignored, which would import nothing, or half.
 */
const SHAPES = {
  document: { users: 'user', groups: 'group', invitations: 'invitation' },
  user: {
    id: null, userPrincipalName: null, displayName: null, mail: null, userType: null, admin: null,
    contacts: 'contact', contactFolders: 'contactFolder',
  },
  group: { id: null, displayName: null, mailNickname: null, description: null, groupTypes: null, team: null },
  invitation: { id: null, invitedUserEmailAddress: null, invitedUser: 'invitedUser', inviteRedirectUrl: null },
  invitedUser: { id: null, displayName: null, contacts: 'contact' },
  contactFolder: { id: null, displayName: null, contacts: 'contact', childFolders: 'contactFolder' },
  contact: { id: null, displayName: null, givenName: null, surname: null, emailAddresses: 'emailAddress' },
  emailAddress: { address: null, name: null },
} as const satisfies Record<string, Record<string, string | null>>;

type Shape = keyof typeof SHAPES;

/** `at` is where the object is ('' for the document itself), as the messages of the import name it. */
function checkMembers(value: unknown, at: string, shape: Shape): void {
  const json = object(value, at || 'the document');
  const members: Record<string, Shape | null> = SHAPES[shape];
  for (const [key, member] of Object.entries(json)) {
    if (!Object.hasOwn(members, key)) {
      throw new ImportError(`${at || 'the document'} has an unknown member '${key.slice(0, 64)}' (it may have: ${Object.keys(members).join(', ')})`);
    }
    const inner = members[key];
    const path = at === '' ? key : `${at}.${key}`;
    if (inner === null || inner === undefined || member === undefined) continue;
    if (inner === 'invitedUser') checkMembers(member, path, inner);
    else for (const [i, item] of array(member, path).entries()) checkMembers(item, `${path}[${i}]`, inner);
  }
}

/** ["Unified"] (a Microsoft 365 group) or none, as POST /groups takes them. */
function groupTypes(value: unknown, path: string): boolean {
  const types = array(value, path);
  if (types.length > 1 || types.some((type) => type !== 'Unified')) throw new ImportError(`${path} may only be ["Unified"] or []`);
  return types.length === 1;
}

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ImportError(`${path} must be an object`);
  return value as Json;
}

function array(value: unknown, path: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ImportError(`${path} must be an array`);
  return value;
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ImportError(`${path} must be a non-empty string`);
  // PostgreSQL text cannot hold U+0000: refused here on every store, as request bodies refuse it.
  if (value.includes('\u0000')) throw new ImportError(`${path} must not contain U+0000 (NUL) characters`);
  return value;
}

/** The same check, and the same words, as POST /users. */
function userPrincipalName(value: unknown, path: string): string {
  const upn = string(value, path);
  const problem = userPrincipalNameProblem(upn);
  if (problem !== undefined) throw new ImportError(`${path}: ${errors.invalidUserPrincipalName(problem).message}`);
  return upn;
}

function optional(value: unknown, path: string): string | undefined {
  return value === undefined || value === null ? undefined : string(value, path);
}

function id(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !GUID_PATTERN.test(value)) throw new ImportError(`${path} must be a GUID`);
  return value.toLowerCase();
}
