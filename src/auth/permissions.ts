// The permission table of contract §7, and the pure decision made from it.
// Checked in two steps, because Graph answers "no permission for this kind of
// owner" before it looks the owner up, and "not yours" only after (contract §6).
import type { Principal } from './principal.js';

export type PermissionTarget =
  | 'userPhoto'
  | 'groupPhoto'
  | 'teamPhoto'
  | 'contactPhoto'
  | 'user'
  | 'users'
  | 'group'
  | 'groups'
  | 'team'
  | 'contacts'
  | 'invitations'
  | 'drive'
  | 'groupMembers'
  | 'memberOf';

export type Access = 'read' | 'write';

interface Cell {
  /** Delegated permissions that cover the signed-in user's own object. */
  readonly own: readonly string[];
  /** Delegated permissions that cover somebody else's object. */
  readonly other: readonly string[];
  /** Delegated access also needs an administrator role: to somebody else's object, or to any. */
  readonly adminFor?: 'other' | 'all';
  /** Delegated access to somebody else's object is never allowed (contacts). */
  readonly ownOnly?: true;
  readonly application: readonly string[];
}

const USER_READ_OWN = ['User.Read', 'User.ReadBasic.All', 'User.Read.All', 'User.ReadWrite', 'User.ReadWrite.All'];
const USER_READ_OTHER = ['User.ReadBasic.All', 'User.Read.All', 'User.ReadWrite.All'];
const PHOTO_READ = ['ProfilePhoto.Read.All', 'ProfilePhoto.ReadWrite.All'];
const GROUP_READ = ['Group.Read.All', 'Group.ReadWrite.All'];
// Graph's "List photos" (group-list-photos) lets Group.ReadBasic.All read a group's photos.
const GROUP_PHOTO_READ = ['Group.ReadBasic.All', ...GROUP_READ];
// Membership, as Graph's group-list-members, group-post-members and user-list-memberof list them.
const MEMBERS_READ = ['GroupMember.Read.All', 'GroupMember.ReadWrite.All', ...GROUP_READ, 'Directory.Read.All', 'Directory.ReadWrite.All'];
const MEMBERS_WRITE = ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'];
const MEMBER_OF_OTHER = ['User.Read.All', 'User.ReadWrite.All', ...MEMBERS_READ];
const TEAM_READ = ['Team.ReadBasic.All', 'TeamSettings.Read.All', 'TeamSettings.ReadWrite.All', ...GROUP_READ];
const CONTACTS_READ = ['Contacts.Read', 'Contacts.ReadWrite'];
const FILES_READ = ['Files.Read', 'Files.ReadWrite', 'Files.Read.All', 'Files.ReadWrite.All'];
const FILES_READ_ALL = ['Files.Read.All', 'Files.ReadWrite.All', 'Sites.Read.All', 'Sites.ReadWrite.All'];

function same(delegated: readonly string[], application: readonly string[] = delegated): Cell {
  return { own: delegated, other: delegated, application };
}

const TABLE: Record<PermissionTarget, Record<Access, Cell>> = {
  userPhoto: {
    read: {
      own: [...USER_READ_OWN, ...PHOTO_READ],
      other: [...USER_READ_OTHER, ...PHOTO_READ],
      application: ['User.Read.All', 'User.ReadWrite.All', ...PHOTO_READ],
    },
    write: {
      own: ['User.ReadWrite', 'User.ReadWrite.All', 'ProfilePhoto.ReadWrite.All'],
      other: ['User.ReadWrite.All', 'ProfilePhoto.ReadWrite.All'],
      adminFor: 'other',
      application: ['User.ReadWrite.All', 'ProfilePhoto.ReadWrite.All'],
    },
  },
  groupPhoto: {
    read: same([...GROUP_PHOTO_READ, ...PHOTO_READ]),
    write: same(['Group.ReadWrite.All', 'ProfilePhoto.ReadWrite.All']),
  },
  teamPhoto: {
    read: same(TEAM_READ),
    write: same(['TeamSettings.ReadWrite.All', 'Group.ReadWrite.All']),
  },
  contactPhoto: {
    read: { own: CONTACTS_READ, other: [], ownOnly: true, application: CONTACTS_READ },
    write: { own: ['Contacts.ReadWrite'], other: [], ownOnly: true, application: ['Contacts.ReadWrite'] },
  },
  // The directory endpoints that let a client create what it photographs.
  user: {
    read: { own: USER_READ_OWN, other: USER_READ_OTHER, application: ['User.Read.All', 'User.ReadWrite.All'] },
    // Deleting a user, even yourself, takes an administrator (contract §7: "+ admin role").
    write: {
      own: ['User.ReadWrite.All'],
      other: ['User.ReadWrite.All'],
      adminFor: 'all',
      application: ['User.ReadWrite.All'],
    },
  },
  users: {
    read: same(USER_READ_OTHER, ['User.Read.All', 'User.ReadWrite.All']),
    write: { own: [], other: ['User.ReadWrite.All'], adminFor: 'all', application: ['User.ReadWrite.All'] },
  },
  group: { read: same(GROUP_READ), write: same(['Group.ReadWrite.All']) },
  groups: { read: same(GROUP_READ), write: same(['Group.ReadWrite.All']) },
  team: { read: same(TEAM_READ), write: same(['Group.ReadWrite.All']) },
  contacts: {
    read: { own: CONTACTS_READ, other: [], ownOnly: true, application: CONTACTS_READ },
    write: { own: ['Contacts.ReadWrite'], other: [], ownOnly: true, application: ['Contacts.ReadWrite'] },
  },
  invitations: {
    read: same(['User.Invite.All', 'User.ReadWrite.All']),
    write: same(['User.Invite.All', 'User.ReadWrite.All']),
  },
  drive: {
    read: { own: FILES_READ, other: FILES_READ_ALL, application: FILES_READ_ALL },
    write: { own: [], other: [], application: [] },
  },
  // Adding or removing a member with a delegated token also takes an administrator role, as
  // Graph's needs a role (or group ownership, which Portrait does not keep).
  groupMembers: {
    read: same(MEMBERS_READ),
    write: { own: MEMBERS_WRITE, other: MEMBERS_WRITE, adminFor: 'all', application: MEMBERS_WRITE },
  },
  // {user}/memberOf: User.Read covers your own groups.
  memberOf: {
    read: { own: ['User.Read', 'User.ReadWrite', ...MEMBER_OF_OTHER], other: MEMBER_OF_OTHER, application: MEMBER_OF_OTHER },
    write: { own: [], other: [], application: [] },
  },
};

/** Every delegated permission the table names: those a person may be given at sign-in. */
export const DELEGATED_PERMISSIONS: ReadonlySet<string> = new Set(
  Object.values(TABLE).flatMap((cells) => Object.values(cells).flatMap((cell: Cell) => [...cell.own, ...cell.other])),
);

/**
 * What a person's token carries when nothing narrower is asked for (`portrait token`, a
 * `/.default` sign-in): enough to put, get and delete their own photo and their contacts'.
 */
export const DEFAULT_USER_SCOPES: readonly string[] = ['User.ReadWrite', 'User.ReadBasic.All', 'Contacts.ReadWrite'];

export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly missing: string };

const ALLOWED: Decision = { allowed: true };

function holdsAny(principal: Principal, names: readonly string[]): boolean {
  return names.some((name) => principal.permissions.has(name.toLowerCase()));
}

function requires(names: readonly string[]): Decision {
  return { allowed: false, missing: `Requires one of: ${names.join(', ')}.` };
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

/** Step one, before the owner is looked up: could any permission the caller holds fit? */
export function authorizeKind(principal: Principal, target: PermissionTarget, access: Access): Decision {
  const cell = TABLE[target][access];
  const names = principal.delegated ? union(cell.own, cell.other) : cell.application;
  if (names.length === 0) {
    return { allowed: false, missing: `This operation is not available to ${principal.delegated ? 'delegated' : 'application'} tokens.` };
  }
  return holdsAny(principal, names) ? ALLOWED : requires(names);
}

export interface OwnerFacts {
  /** The object belongs to the caller (a delegated caller's own user or contact). */
  readonly isOwn: boolean;
  /** The caller holds an administrator role, by token (wids) or in the directory. */
  readonly callerIsAdmin: boolean;
}

/** Step two, once the owner is known: the exact cell for own or somebody else's object. */
export function authorizeOwner(
  principal: Principal,
  target: PermissionTarget,
  access: Access,
  facts: OwnerFacts,
): Decision {
  const cell = TABLE[target][access];
  if (!principal.delegated) return holdsAny(principal, cell.application) ? ALLOWED : requires(cell.application);
  if (facts.isOwn) {
    if (!holdsAny(principal, cell.own)) return requires(cell.own);
    return cell.adminFor === 'all' && !facts.callerIsAdmin ? adminRequired(cell.own) : ALLOWED;
  }
  if (cell.ownOnly) return { allowed: false, missing: 'Delegated access covers the signed-in user\'s own contacts only.' };
  if (!holdsAny(principal, cell.other)) return requires(cell.other);
  return cell.adminFor !== undefined && !facts.callerIsAdmin ? adminRequired(cell.other) : ALLOWED;
}

function adminRequired(names: readonly string[]): Decision {
  return {
    allowed: false,
    missing: `This also requires the Global Administrator, User Administrator or People Administrator role, with one of: ${names.join(', ')}.`,
  };
}

/** The table cell, for documents (openapi.json): which permissions allow the operation. */
export function permissionsOf(target: PermissionTarget, access: Access): {
  readonly delegatedOwn: readonly string[];
  readonly delegatedOther: readonly string[];
  readonly application: readonly string[];
  readonly adminRole?: 'for another user’s object' | 'always';
  readonly ownOnly?: true;
} {
  const cell = TABLE[target][access];
  return {
    delegatedOwn: cell.own,
    delegatedOther: cell.other,
    application: cell.application,
    ...(cell.adminFor === 'other' && { adminRole: 'for another user’s object' as const }),
    ...(cell.adminFor === 'all' && { adminRole: 'always' as const }),
    ...(cell.ownOnly && { ownOnly: true as const }),
  };
}

/** Every permission an application token's `roles` can usefully hold, as Graph spells them. */
export const APPLICATION_PERMISSIONS: readonly string[] = namesIn((cell) => cell.application);


function namesIn(pick: (cell: Cell) => readonly string[]): string[] {
  const names = Object.values(TABLE).flatMap((byAccess) => Object.values(byAccess).flatMap(pick));
  return [...new Set(names)].sort();
}
