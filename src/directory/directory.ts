// The directory: tenants, users, groups and their teams, contact folders and
// contacts, invitations and drives. It finds the objects a Graph path names
// (404 Request_ResourceNotFound when one is missing or in another tenant) and
// creates the ones a client needs before it can photograph them.
import type { Principal } from '../auth/principal.js';
import { errors } from '../errors.js';
import type { ContactFolderProperty, ContactProperty, GroupProperty, ListQuery, Page, UserProperty } from '../storage/list-query.js';
import type { Contact, ContactFolder, EmailAddress, Group, Invitation, MemberPage, Store, User } from '../storage/store.js';
import { ConflictError } from '../storage/store.js';
import { guestUserPrincipalName } from './guest-user-principal-name.js';
import { driveIdFor, GUID_PATTERN, newId } from './ids.js';
import { LookupCache } from './lookup-cache.js';
import { checkUserPrincipalName, provisionedUserPrincipalName, userPrincipalNameProblem } from './user-principal-name.js';

/** How a path reaches a user. */
export type UserRef =
  | { readonly by: 'me' }
  | { readonly by: 'key'; readonly key: string }
  | { readonly by: 'drive'; readonly driveId: string }
  | { readonly by: 'invitation'; readonly invitationId: string };

export interface DirectoryOptions {
  /** Create a user the first time a valid delegated token names it. */
  readonly autoProvisionUsers: boolean;
  /** How long a cached lookup may be used by photo reads; 0 turns the cache off. */
  readonly lookupTtlMs?: number;
}

/** Reads may use a recent lookup; writes and directory answers always ask the store. */
export interface Lookup {
  readonly cached?: boolean;
  /**
   * Written by a cached lookup: until when (ms since the epoch) everything it found may be
   * reused without asking the store, 0 when part of it was not cached at all. Lets the
   * read fast path (http/hot-reads.ts) keep a resolution exactly as long as the caches do.
   */
  reusableUntil?: number;
}

/** Notes on a cached lookup that what it found may be reused until `until` at most (0: not at all). */
export function reusableUntil(lookup: Lookup, until: number): void {
  if (lookup.cached) lookup.reusableUntil = Math.min(lookup.reusableUntil ?? Infinity, until);
}

export interface NewUser {
  readonly userPrincipalName: string;
  readonly displayName: string;
  readonly mail?: string | null;
  readonly userType?: User['userType'];
  readonly isAdmin?: boolean;
  readonly id?: string;
}

export class Directory {
  readonly #store: Store;
  readonly #options: DirectoryOptions;
  /** Callers already seen by this process: provisioning costs a query only once. */
  readonly #seenCallers = new Set<string>();
  readonly #users: LookupCache<User> | undefined;
  readonly #groups: LookupCache<Group> | undefined;
  /** Whether a user is a member of a group (joinedGroups photo reads), keyed by tenant, user and group. */
  readonly #memberships: LookupCache<boolean> | undefined;

  constructor(store: Store, options: DirectoryOptions) {
    this.#store = store;
    this.#options = options;
    const ttl = options.lookupTtlMs ?? 30_000;
    this.#users = ttl > 0 ? new LookupCache(100_000, ttl) : undefined;
    this.#groups = ttl > 0 ? new LookupCache(100_000, ttl) : undefined;
    this.#memberships = ttl > 0 ? new LookupCache(100_000, ttl) : undefined;
    // Every change to users and groups, this process's and others', reaches these caches
    // through the store's feed: whoever makes a change publishes it, nobody else clears.
    store.changes.subscribe((change) => {
      switch (change.kind) {
        case 'photo-changed':
          return;
        case 'members-changed':
          return this.#memberships?.clear();
        case 'group-changed':
          // The group (and its memberships) changed or went.
          this.#memberships?.clear();
          return this.#groups?.clear();
        case 'user-removed':
        case 'elsewhere':
          // A caller seen before may be gone now: provision them again on their next request.
          this.#seenCallers.clear();
          this.#users?.clear();
          // Their memberships went with them (or, elsewhere, anyone's may have changed).
          this.#memberships?.clear();
          // Another process may also have changed groups.
          if (change.kind === 'elsewhere') this.#groups?.clear();
          return;
      }
    });
  }

  /**
   * Creates the signed-in user from the token's claims the first time it is seen. The user
   * is the token's (tid, oid) — its id is the oid — and never another object found by name:
   * when the upn claim is no valid UPN, or another object holds it, the caller gets Portrait's
   * own name for them (provisionedUserPrincipalName), which no client can take.
   */
  async provisionCaller(principal: Principal): Promise<void> {
    if (!principal.delegated || !this.#options.autoProvisionUsers) return;
    const { tenantId, objectId } = principal;
    const key = `${tenantId}/${objectId}`;
    if (this.#seenCallers.has(key)) return;
    if (!(await this.#store.getUserById(tenantId, objectId))) {
      const ownName = provisionedUserPrincipalName(tenantId, objectId);
      const claimed = principal.userPrincipalName;
      const name = claimed !== undefined && userPrincipalNameProblem(claimed) === undefined ? claimed : ownName;
      for (const userPrincipalName of new Set([name, ownName])) {
        try {
          await this.#saveNewUser(tenantId, { id: objectId, userPrincipalName, displayName: principal.displayName ?? userPrincipalName });
          break;
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
          // Another request of this caller made them meanwhile (on PostgreSQL the id's clash reads as a conflict too).
          if (await this.#store.getUserById(tenantId, objectId)) break;
          if (userPrincipalName === ownName) throw error;
        }
      }
    }
    this.#seenCallers.add(key);
  }

  /** Whether the caller may act as an administrator: by token, or by directory role. */
  async callerIsAdmin(principal: Principal): Promise<boolean> {
    if (principal.adminInToken) return true;
    const caller = await this.#store.getUserById(principal.tenantId, principal.objectId);
    return caller?.isAdmin ?? false;
  }

  async findUser(principal: Principal, ref: UserRef, lookup: Lookup = {}): Promise<User> {
    const tenantId = principal.tenantId;
    // Keys from the path ('me' is the token's; findInvitation checks an invitation's).
    if (ref.by === 'key') refuseUnstorable(ref.key);
    if (ref.by === 'drive') refuseUnstorable(ref.driveId);
    switch (ref.by) {
      case 'me':
        // The token's oid, a GUID (auth/token-verifier.ts): looked up by id, never by name.
        return this.#found(await this.#user(tenantId, principal.objectId, lookup), principal.objectId);
      case 'key':
        return this.#found(await this.#user(tenantId, ref.key, lookup), ref.key);
      case 'drive':
        reusableUntil(lookup, 0);
        return this.#found(await this.#store.getUserByDrive(tenantId, ref.driveId), ref.driveId);
      case 'invitation': {
        reusableUntil(lookup, 0);
        const invitation = await this.findInvitation(tenantId, ref.invitationId);
        return this.#found(await this.#store.getUserById(tenantId, invitation.invitedUserId), invitation.invitedUserId);
      }
    }
  }

  async findGroup(tenantId: string, id: string, lookup: Lookup = {}): Promise<Group> {
    refuseUnstorable(id);
    return this.#found(await this.#group(tenantId, id, lookup), id);
  }

  /** A team is a group that has one; its id is the group's. */
  async findTeam(tenantId: string, groupId: string, lookup: Lookup = {}): Promise<Group> {
    refuseUnstorable(groupId);
    const group = await this.#group(tenantId, groupId, lookup);
    return this.#found(group?.hasTeam ? group : undefined, groupId);
  }

  /**
   * {user}/joinedGroups/{id}: the group, when the user is a member of it. A group the user
   * is not in is as unknown as one that does not exist (404), as Graph answers.
   */
  async findJoinedGroup(principal: Principal, ref: UserRef, groupId: string, lookup: Lookup = {}): Promise<Group> {
    const user = await this.findUser(principal, ref, lookup);
    const group = await this.findGroup(principal.tenantId, groupId, lookup);
    if (!(await this.#isMember(principal.tenantId, group.id, user.id, lookup))) throw errors.resourceNotFound(groupId);
    return group;
  }

  /** POST /groups/{id}/members/$ref: the user becomes a member; 400 when they are one already. */
  async addGroupMember(group: Group, user: User): Promise<void> {
    let outcome;
    try {
      outcome = await this.#store.addGroupMember(group.tenantId, group.id, user.id);
    } finally {
      // Every cache of the group's memberships hears of it, in this process and (through the
      // store's own notice) in the others.
      this.#store.changes.publish({ kind: 'members-changed', tenantId: group.tenantId, groupId: group.id });
    }
    if (outcome === 'exists') throw errors.memberExists();
    // The group or the user was deleted since they were looked up.
    if (outcome === 'missing') throw errors.resourceNotFound(user.id);
  }

  /** DELETE /groups/{id}/members/{memberId}/$ref: 404 when the object is no member of the group. */
  async removeGroupMember(group: Group, memberId: string): Promise<void> {
    refuseUnstorable(memberId);
    let removed;
    try {
      removed = await this.#store.removeGroupMember(group.tenantId, group.id, memberId);
    } finally {
      this.#store.changes.publish({ kind: 'members-changed', tenantId: group.tenantId, groupId: group.id });
    }
    if (!removed) throw errors.resourceNotFound(memberId);
  }

  listGroupMembers(group: Group, page: MemberPage): Promise<User[]> {
    return this.#store.listGroupMembers(group.tenantId, group.id, page);
  }

  listMemberOf(user: User, page: MemberPage): Promise<Group[]> {
    return this.#store.listMemberOf(user.tenantId, user.id, page);
  }

  /**
   * Walks a folder chain: each folder must sit in the one before it. The first may be any of
   * the user's folders, at any depth: Outlook addresses every folder as contactFolders/{id}.
   */
  async findFolderChain(user: User, folderIds: readonly string[]): Promise<ContactFolder | undefined> {
    let parent: ContactFolder | undefined;
    for (const id of folderIds) {
      refuseUnstorable(id);
      const folder = await this.#store.getContactFolder(user.tenantId, user.id, id);
      if (!folder || (parent !== undefined && folder.parentFolderId !== parent.id)) throw errors.resourceNotFound(id);
      parent = folder;
    }
    return parent;
  }

  /** A contact reached through a folder chain (empty: the default Contacts folder, or any folder). */
  async findContact(user: User, folderIds: readonly string[], contactId: string): Promise<Contact> {
    const folder = await this.findFolderChain(user, folderIds);
    refuseUnstorable(contactId);
    const contact = await this.#store.getContact(user.tenantId, user.id, contactId);
    // /contacts/{id} reaches a contact in any folder, as in Outlook; a folder path must hold it.
    if (!contact || (folder !== undefined && contact.folderId !== folder.id)) throw errors.resourceNotFound(contactId);
    return contact;
  }

  async findInvitation(tenantId: string, id: string): Promise<Invitation> {
    refuseUnstorable(id);
    return this.#found(await this.#store.getInvitation(tenantId, id), id);
  }

  /** One page of a listing (storage/list-query.ts); directory answers always ask the store. */
  queryUsers(tenantId: string, query: ListQuery<UserProperty>): Promise<Page<User>> {
    return this.#store.queryUsers(tenantId, query);
  }

  queryGroups(tenantId: string, query: ListQuery<GroupProperty>): Promise<Page<Group>> {
    return this.#store.queryGroups(tenantId, query);
  }

  queryContactFolders(user: User, parent: ContactFolder | undefined, query: ListQuery<ContactFolderProperty>): Promise<Page<ContactFolder>> {
    return this.#store.queryContactFolders(user.tenantId, user.id, parent?.id ?? null, query);
  }

  queryContacts(user: User, folder: ContactFolder | undefined, query: ListQuery<ContactProperty>): Promise<Page<Contact>> {
    return this.#store.queryContacts(user.tenantId, user.id, folder?.id ?? null, query);
  }

  /**
   * Who signs in at the built-in issuer's page (http/sign-in-routes.ts): the user with this
   * userPrincipalName, made when nobody has it yet, as `portrait token --user` does. A name
   * that is no valid UPN is the same 400 as POST /users gives.
   */
  async signInUser(tenantId: string, userPrincipalName: string): Promise<User> {
    checkUserPrincipalName(userPrincipalName);
    const existing = await this.#store.getUserByUpn(tenantId, userPrincipalName);
    if (existing !== undefined) return existing;
    try {
      return await this.#saveNewUser(tenantId, { userPrincipalName, displayName: userPrincipalName.split('@')[0] ?? userPrincipalName });
    } catch (error) {
      // Made by another sign-in meanwhile.
      const made = error instanceof ConflictError ? await this.#store.getUserByUpn(tenantId, userPrincipalName) : undefined;
      if (made === undefined) throw error;
      return made;
    }
  }

  /** A user by id, or undefined: whether the person a refresh token names is still there. */
  userById(tenantId: string, id: string): Promise<User | undefined> {
    return this.#store.getUserById(tenantId, id);
  }

  /** A user named by a client (POST /users, `portrait token --user`): the name must be a valid UPN. */
  async createUser(tenantId: string, input: NewUser): Promise<User> {
    checkUserPrincipalName(input.userPrincipalName);
    try {
      return await this.#saveNewUser(tenantId, input);
    } catch (error) {
      if (error instanceof ConflictError) throw errors.conflict(error.message);
      throw error;
    }
  }

  /** Saves a new user whose name was checked; throws the store's ConflictError when the name is taken. */
  async #saveNewUser(tenantId: string, input: NewUser): Promise<User> {
    await this.#store.ensureTenant(tenantId);
    const id = (input.id ?? newId()).toLowerCase();
    const user: User = {
      tenantId,
      id,
      userPrincipalName: input.userPrincipalName,
      displayName: input.displayName,
      mail: input.mail ?? null,
      userType: input.userType ?? 'Member',
      isAdmin: input.isAdmin ?? false,
      driveId: driveIdFor(id),
    };
    await this.#store.saveUser(user);
    return user;
  }

  /** Removes the user with their contacts, folders and every photo among them. */
  async deleteUser(tenantId: string, id: string): Promise<void> {
    try {
      if (!(await this.#store.deleteUser(tenantId, id))) throw errors.resourceNotFound(id);
    } finally {
      // Also when it failed: the store may have changed anyway.
      this.#store.changes.publish({ kind: 'user-removed', tenantId, userId: id });
    }
  }

  async createGroup(
    tenantId: string,
    input: { displayName: string; mailNickname: string; description: string | null; unified?: boolean },
  ): Promise<Group> {
    await this.#store.ensureTenant(tenantId);
    const group: Group = { tenantId, id: newId(), ...input, unified: input.unified ?? false, hasTeam: false };
    await this.#store.saveGroup(group);
    return group;
  }

  async deleteGroup(tenantId: string, id: string): Promise<void> {
    try {
      if (!(await this.#store.deleteGroup(tenantId, id))) throw errors.resourceNotFound(id);
    } finally {
      this.#store.changes.publish({ kind: 'group-changed', tenantId, groupId: id });
    }
  }

  /** PUT /groups/{id}/team: the group gets a team (again: no change). */
  async createTeam(group: Group): Promise<Group> {
    const team = { ...group, unified: true, hasTeam: true };
    try {
      await this.#store.saveGroup(team);
    } finally {
      this.#store.changes.publish({ kind: 'group-changed', tenantId: group.tenantId, groupId: group.id });
    }
    return team;
  }

  async createContactFolder(user: User, parent: ContactFolder | undefined, displayName: string): Promise<ContactFolder> {
    const folder: ContactFolder = {
      tenantId: user.tenantId,
      id: newId(),
      userId: user.id,
      parentFolderId: parent?.id ?? null,
      displayName,
    };
    await this.#store.saveContactFolder(folder);
    return folder;
  }

  async createContact(
    user: User,
    folder: ContactFolder | undefined,
    input: { displayName: string; givenName: string | null; surname: string | null; emailAddresses: EmailAddress[] },
  ): Promise<Contact> {
    const contact: Contact = { tenantId: user.tenantId, id: newId(), userId: user.id, folderId: folder?.id ?? null, ...input };
    await this.#store.saveContact(contact);
    return contact;
  }

  /** POST /invitations: a guest user for the address (reused if it exists), and the invitation. */
  async createInvitation(tenantId: string, email: string, redirectUrl: string): Promise<{ invitation: Invitation; user: User }> {
    const upn = guestUserPrincipalName(tenantId, email);
    checkUserPrincipalName(upn, 'portrait');
    let user = await this.#store.getUserByUpn(tenantId, upn);
    if (!user) {
      try {
        user = await this.#saveNewUser(tenantId, { userPrincipalName: upn, displayName: email, mail: email, userType: 'Guest' });
      } catch (error) {
        // An invitation for the same address made the guest meanwhile: it is this one's too.
        user = error instanceof ConflictError ? await this.#store.getUserByUpn(tenantId, upn) : undefined;
        if (!user) throw error;
      }
    }
    const invitation: Invitation = {
      tenantId,
      id: newId(),
      invitedUserId: user.id,
      invitedUserEmailAddress: email,
      inviteRedirectUrl: redirectUrl,
    };
    await this.#store.saveInvitation(invitation);
    return { invitation, user };
  }

  async #user(tenantId: string, key: string, lookup: Lookup): Promise<User | undefined> {
    if (!lookup.cached || !this.#users || !this.#store.changes.live) {
      reusableUntil(lookup, 0);
      return this.#lookUpUser(tenantId, key);
    }
    const cacheKey = `${tenantId}|${key.toLowerCase()}`;
    const hit = this.#users.entry(cacheKey);
    if (hit) {
      reusableUntil(lookup, hit.expires);
      return hit.value;
    }
    const user = await this.#lookUpUser(tenantId, key);
    reusableUntil(lookup, user ? this.#users.set(cacheKey, user) : 0);
    return user;
  }

  /**
   * A path's {user-id}: an object id or a userPrincipalName, told apart by shape — ids are
   * GUIDs and a UPN holds '@' — so an id is only ever found by id, a name only by name.
   */
  #lookUpUser(tenantId: string, key: string): Promise<User | undefined> {
    return GUID_PATTERN.test(key) ? this.#store.getUserById(tenantId, key) : this.#store.getUserByUpn(tenantId, key);
  }

  async #group(tenantId: string, id: string, lookup: Lookup): Promise<Group | undefined> {
    if (!lookup.cached || !this.#groups || !this.#store.changes.live) {
      reusableUntil(lookup, 0);
      return this.#store.getGroup(tenantId, id);
    }
    const cacheKey = `${tenantId}|${id.toLowerCase()}`;
    const hit = this.#groups.entry(cacheKey);
    if (hit) {
      reusableUntil(lookup, hit.expires);
      return hit.value;
    }
    const group = await this.#store.getGroup(tenantId, id);
    reusableUntil(lookup, group ? this.#groups.set(cacheKey, group) : 0);
    return group;
  }

  /** Asked of the store for writes and directory answers; reads may use a recent answer. */
  async #isMember(tenantId: string, groupId: string, userId: string, lookup: Lookup): Promise<boolean> {
    if (!lookup.cached || !this.#memberships || !this.#store.changes.live) {
      reusableUntil(lookup, 0);
      return this.#store.isGroupMember(tenantId, groupId, userId);
    }
    // Ids from the store: lower-case already, and no client text in the key.
    const cacheKey = `${tenantId}|${userId}|${groupId}`;
    const hit = this.#memberships.entry(cacheKey);
    if (hit) {
      reusableUntil(lookup, hit.expires);
      return hit.value;
    }
    const member = await this.#store.isGroupMember(tenantId, groupId, userId);
    // Only a membership is reused: a read that is refused (404) asks again next time.
    reusableUntil(lookup, member ? this.#memberships.set(cacheKey, member) : 0);
    return member;
  }

  #found<T>(value: T | undefined, id: string): T {
    if (value === undefined) throw errors.resourceNotFound(id);
    return value;
  }
}

/**
 * A key from a path holding U+0000 names nothing: no object has one (request bodies and
 * imports refuse it), and PostgreSQL text cannot even be asked for it. The same 404 as any
 * unknown id, on every store, and no store sees the key.
 */
function refuseUnstorable(key: string): void {
  if (key.includes('\u0000')) throw errors.resourceNotFound(key);
}
