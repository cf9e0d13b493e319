// The store interface: everything Portrait keeps, behind one contract that every
// implementation (SQLite now, PostgreSQL next) passes — see test/store-contract.ts.
// Methods are async so that a networked store fits the same shape.
import type { ChangeFeed } from './change-feed.js';
import type { ContactFolderProperty, ContactProperty, GroupProperty, ListQuery, Page, UserProperty } from './list-query.js';

export interface User {
  readonly tenantId: string;
  readonly id: string;
  readonly userPrincipalName: string;
  readonly displayName: string;
  readonly mail: string | null;
  readonly userType: 'Member' | 'Guest';
  /** Holds a Global, User or People Administrator role in the directory. */
  readonly isAdmin: boolean;
  readonly driveId: string;
}

export interface Group {
  readonly tenantId: string;
  readonly id: string;
  readonly displayName: string;
  readonly mailNickname: string;
  readonly description: string | null;
  /** groupTypes ["Unified"]: a Microsoft 365 group (every group with a team is one). */
  readonly unified: boolean;
  readonly hasTeam: boolean;
}

export interface ContactFolder {
  readonly tenantId: string;
  readonly id: string;
  readonly userId: string;
  /** null for a folder at the top of the user's mailbox. */
  readonly parentFolderId: string | null;
  readonly displayName: string;
}

export interface EmailAddress {
  readonly address: string;
  readonly name: string;
}

export interface Contact {
  readonly tenantId: string;
  readonly id: string;
  readonly userId: string;
  /** null for a contact in the user's default Contacts folder. */
  readonly folderId: string | null;
  readonly displayName: string;
  readonly givenName: string | null;
  readonly surname: string | null;
  readonly emailAddresses: readonly EmailAddress[];
}

export interface Invitation {
  readonly tenantId: string;
  readonly id: string;
  readonly invitedUserId: string;
  readonly invitedUserEmailAddress: string;
  readonly inviteRedirectUrl: string;
}

/** An application registered for client credentials (`portrait app add`). */
export interface Application {
  readonly tenantId: string;
  /** A lower-case GUID: the token's appid, and the client_id the application sends. */
  readonly clientId: string;
  readonly displayName: string;
  /** Application permissions its tokens carry in `roles`. */
  readonly roles: readonly string[];
  /** A salted slow hash of the client secret with its parameters; never the secret. */
  readonly secretHash: string;
  /** Where its authorization codes may be sent, exactly; none: it signs nobody in. */
  readonly redirectUris: readonly string[];
  /** ISO 8601, to the millisecond. */
  readonly createdAt: string;
}

/** Whose photo: teams use their group's photo, so there are three kinds. */
export type OwnerType = 'user' | 'group' | 'contact';

export interface PhotoOwner {
  readonly tenantId: string;
  readonly type: OwnerType;
  readonly id: string;
}

export interface Dimensions {
  readonly width: number;
  readonly height: number;
}

/** A photo version as described by its metadata, without bytes. */
export interface PhotoInfo {
  readonly etag: string;
  /** The size `/photo` describes: the largest square after an upload, W×H after a resize. */
  readonly primary: Dimensions;
  /** Every size this version has, ordered by width then height. */
  readonly sizes: readonly Dimensions[];
  readonly master: Dimensions;
}

export interface PhotoContent {
  readonly etag: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: Buffer;
}

export interface RenderedSize extends Dimensions {
  readonly bytes: Buffer;
}

/** A complete new version: written whole or not at all. */
export interface NewPhoto {
  readonly etag: string;
  readonly primary: Dimensions;
  readonly master: RenderedSize;
  readonly sizes: readonly RenderedSize[];
}

/**
 * A write's precondition, checked inside the write's transaction so that no
 * concurrent update is lost (RFC 9110 §13.1.1, §13.1.2).
 */
export interface Precondition {
  /** Strong ETags (quoted) one of which must be current, or '*' for "a photo exists". */
  readonly ifMatch?: readonly string[] | '*';
  /** '*' means "only if there is no photo". */
  readonly ifNoneMatch?: '*';
}

export type WriteOutcome =
  | { readonly ok: true; readonly info: PhotoInfo }
  | { readonly ok: false; readonly reason: 'precondition'; readonly currentEtag: string | undefined };

export type DeleteOutcome =
  | { readonly ok: true; readonly deleted: boolean }
  | { readonly ok: false; readonly reason: 'precondition'; readonly currentEtag: string | undefined };

/** What a save did: import reports it, and running an import twice must change nothing. */
export type SaveResult = 'created' | 'updated' | 'unchanged';

/**
 * An authorization code or a refresh token (auth/authorization-grants.ts), as kept: only
 * the hash of its value, so that what the store holds cannot be redeemed.
 */
export interface OAuthGrant {
  /** base64url SHA-256 of the code or token. */
  readonly grantHash: string;
  readonly kind: 'code' | 'refresh';
  readonly tenantId: string;
  readonly clientId: string;
  readonly userId: string;
  /** The delegated permissions its tokens carry. */
  readonly scopes: readonly string[];
  /** A code's redirect_uri, which its redemption must repeat. */
  readonly redirectUri: string | null;
  /** A code's PKCE S256 code_challenge. */
  readonly codeChallenge: string | null;
  /** A code's OpenID Connect nonce, echoed in its id_token. */
  readonly nonce: string | null;
  /** ms since the epoch. */
  readonly expiresAt: number;
}

/** Grants one user keeps at most: the oldest go first (a sign-in loop cannot fill the table). */
export const GRANTS_PER_USER = 50;
/** Expired grants removed with each new one: more than are made, so the table never grows with them. */
export const EXPIRED_GRANTS_BATCH = 100;

/** A page of a group's members (or a user's groups) by id: at most `limit` whose ids come after `after`. */
export interface MemberPage {
  /** The last id of the previous page (exclusive); absent for the first page. */
  readonly after?: string | undefined;
  readonly limit: number;
}

/** What adding a member did: 'missing' when the group or the user is not in the tenant. */
export type MemberAdded = 'added' | 'exists' | 'missing';

/** Thrown by a store when a unique name is taken (a user's userPrincipalName). */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** A caller's requests in one window of a limit (traffic/throttle.ts): the key names limit and caller. */
export interface UsageCount {
  readonly key: string;
  /** The window's start, ms since the epoch (a multiple of its length). */
  readonly windowStart: number;
  readonly used: number;
}

/** Request counts shared by every process on one database, so that they share one budget. */
export interface UsageLedger {
  /** Adds `deltas` to the shared counts, then reads every count of `keys` for windows from `since` on. */
  exchange(deltas: readonly UsageCount[], keys: readonly string[], since: number): Promise<UsageCount[]>;
  /** Deletes the counts of windows that began before `before`. */
  prune(before: number): Promise<void>;
}

export interface Store {
  /**
   * Shared request counts for --throttle; only where several nodes share the database
   * (PostgreSQL). SQLite processes count on their own: a write there would tell every
   * other process on the file that something changed (PRAGMA data_version), and they
   * would drop their caches ten times a second.
   */
  readonly usage?: UsageLedger | undefined;
  /**
   * Changes to what this store holds, for the caches kept in front of it: the domain
   * objects publish their own changes here, and the store publishes other processes'
   * commits (the photo they changed, or `elsewhere`) within CHANGE_NOTICE_MS while
   * anyone listens. `changes.live` says whether it can vouch for hearing all of them.
   */
  readonly changes: ChangeFeed;
  /** Records a tenant; idempotent. */
  ensureTenant(tenantId: string): Promise<void>;
  /** Whether the tenant was recorded (ids are lower-case GUIDs). */
  hasTenant(tenantId: string): Promise<boolean>;
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  /** Sets the key only if it has no value yet; resolves to the value it has now (first writer wins). */
  claimSetting(key: string, value: string): Promise<string>;

  /** Insert or update by id. Throws ConflictError when another user has the UPN. */
  saveUser(user: User): Promise<SaveResult>;
  /**
   * By object id alone, case-insensitively; never by userPrincipalName. A user is found by id
   * or by name, never by "either": with both in one lookup, a name equal to another user's id
   * made that name's holder answer for the id (issue 9).
   */
  getUserById(tenantId: string, id: string): Promise<User | undefined>;
  /** By userPrincipalName alone, case-insensitively; never by id. */
  getUserByUpn(tenantId: string, userPrincipalName: string): Promise<User | undefined>;
  getUserByDrive(tenantId: string, driveId: string): Promise<User | undefined>;
  listUsers(tenantId: string): Promise<User[]>;
  /** One page of the tenant's users (list-query.ts): keyset paging, never a whole table. */
  queryUsers(tenantId: string, query: ListQuery<UserProperty>): Promise<Page<User>>;
  /** Removes the user with their folders, contacts, grants and every photo among them. */
  deleteUser(tenantId: string, id: string): Promise<boolean>;

  saveGroup(group: Group): Promise<SaveResult>;
  getGroup(tenantId: string, id: string): Promise<Group | undefined>;
  listGroups(tenantId: string): Promise<Group[]>;
  queryGroups(tenantId: string, query: ListQuery<GroupProperty>): Promise<Page<Group>>;
  deleteGroup(tenantId: string, id: string): Promise<boolean>;

  /**
   * Group membership: members are users of the group's tenant. A membership goes with its
   * group or its user (deleteGroup, deleteUser). Ids match case-insensitively.
   */
  addGroupMember(tenantId: string, groupId: string, memberId: string): Promise<MemberAdded>;
  /** Whether there was such a membership to remove. */
  removeGroupMember(tenantId: string, groupId: string, memberId: string): Promise<boolean>;
  isGroupMember(tenantId: string, groupId: string, memberId: string): Promise<boolean>;
  /** The group's members, ordered by id. */
  listGroupMembers(tenantId: string, groupId: string, page: MemberPage): Promise<User[]>;
  /** The groups the user is a member of, ordered by id. */
  listMemberOf(tenantId: string, memberId: string, page: MemberPage): Promise<Group[]>;

  saveContactFolder(folder: ContactFolder): Promise<SaveResult>;
  getContactFolder(tenantId: string, userId: string, id: string): Promise<ContactFolder | undefined>;
  listContactFolders(tenantId: string, userId: string, parentFolderId: string | null): Promise<ContactFolder[]>;
  queryContactFolders(tenantId: string, userId: string, parentFolderId: string | null, query: ListQuery<ContactFolderProperty>): Promise<Page<ContactFolder>>;

  saveContact(contact: Contact): Promise<SaveResult>;
  getContact(tenantId: string, userId: string, id: string): Promise<Contact | undefined>;
  listContacts(tenantId: string, userId: string, folderId: string | null): Promise<Contact[]>;
  queryContacts(tenantId: string, userId: string, folderId: string | null, query: ListQuery<ContactProperty>): Promise<Page<Contact>>;

  saveInvitation(invitation: Invitation): Promise<SaveResult>;
  getInvitation(tenantId: string, id: string): Promise<Invitation | undefined>;

  /** Insert or update by tenant and client id; the tenant must have been recorded. */
  saveApplication(application: Application): Promise<SaveResult>;
  /** By client id, case-insensitively. */
  getApplication(tenantId: string, clientId: string): Promise<Application | undefined>;
  /** The tenant's applications, or every tenant's when undefined; by tenant, then oldest first. */
  listApplications(tenantId: string | undefined): Promise<Application[]>;
  /** Removes the application; false when there was none. Its client id and secret stop working at once. */
  deleteApplication(tenantId: string, clientId: string): Promise<boolean>;

  /**
   * Keeps a new grant. Expired grants are removed on the way, a batch at a time, and the
   * user's oldest beyond GRANTS_PER_USER.
   */
  saveOAuthGrant(grant: OAuthGrant): Promise<void>;
  /**
   * Removes the grant and returns it, when it exists and has not expired at `now` (ms): in
   * one statement, so that a code or refresh token is redeemed once, on one node only.
   */
  takeOAuthGrant(grantHash: string, now: number): Promise<OAuthGrant | undefined>;

  getPhoto(owner: PhotoOwner): Promise<PhotoInfo | undefined>;
  /** One size's bytes with the ETag of the version they belong to, read in one snapshot. */
  getPhotoContent(owner: PhotoOwner, size: Dimensions | 'primary'): Promise<PhotoContent | undefined>;
  /**
   * getPhotoContent answered within the caller's turn, by a store that reads synchronously
   * (SQLite): what lets the read fast path answer a cache miss in front of the routes
   * (http/hot-reads.ts). Absent where a read needs a round trip (PostgreSQL).
   */
  readPhotoContentNow?(owner: PhotoOwner, size: Dimensions | 'primary'): PhotoContent | undefined;
  getMaster(owner: PhotoOwner): Promise<PhotoContent | undefined>;
  /** Replaces the owner's photo with a new version in one transaction. */
  putPhoto(owner: PhotoOwner, photo: NewPhoto, precondition: Precondition): Promise<WriteOutcome>;
  deletePhoto(owner: PhotoOwner, precondition: Precondition): Promise<DeleteOutcome>;

  /** Resolves when the database answers (readiness probes); rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How soon a store notices another process's commit. Caches are dropped then, so no
 * process serves what another replaced or deleted more than this (plus a request) ago.
 */
export const CHANGE_NOTICE_MS = 100;

/** Whether a precondition holds for the current ETag (undefined: no photo). */
export function preconditionHolds(precondition: Precondition, currentEtag: string | undefined): boolean {
  const { ifMatch, ifNoneMatch } = precondition;
  if (ifNoneMatch === '*' && currentEtag !== undefined) return false;
  if (ifMatch === undefined) return true;
  if (currentEtag === undefined) return false;
  return ifMatch === '*' || ifMatch.includes(currentEtag);
}
