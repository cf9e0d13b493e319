// Parses a Graph path (after /v1.0 or /beta) into the resource it names. Segment
// names match case-insensitively, as Graph's do (contactFolders = contactfolders);
// ids keep their text. The grammar is contract §2.
import type { UserRef } from '../directory/directory.js';
import { errors } from '../errors.js';

/** What follows an owner: /photo, /photo/$value, /photos, /photos/{size}[/$value]. */
export type PhotoTarget =
  | { readonly op: 'metadata' }
  | { readonly op: 'value' }
  | { readonly op: 'list' }
  | { readonly op: 'size'; readonly size: string; readonly value: boolean };

export type PhotoOwnerRef =
  | { readonly kind: 'user'; readonly user: UserRef }
  | { readonly kind: 'group'; readonly groupId: string }
  | { readonly kind: 'team'; readonly groupId: string; readonly user: UserRef | undefined }
  | { readonly kind: 'contact'; readonly user: UserRef; readonly folderIds: readonly string[]; readonly contactId: string }
  /** {user}/joinedGroups/{id} (beta): the group's photo, reached only by one of its members. */
  | { readonly kind: 'joinedGroup'; readonly user: UserRef; readonly groupId: string };

export type Resource =
  | { readonly type: 'photo'; readonly owner: PhotoOwnerRef; readonly target: PhotoTarget }
  | { readonly type: 'users' }
  | { readonly type: 'user'; readonly user: UserRef }
  | { readonly type: 'groups' }
  | { readonly type: 'group'; readonly groupId: string }
  | { readonly type: 'team'; readonly groupId: string; readonly user: UserRef | undefined; readonly viaGroup: boolean }
  | { readonly type: 'contacts'; readonly user: UserRef; readonly folderIds: readonly string[] }
  | { readonly type: 'contact'; readonly user: UserRef; readonly folderIds: readonly string[]; readonly contactId: string }
  | { readonly type: 'contactFolders'; readonly user: UserRef; readonly folderIds: readonly string[] }
  | { readonly type: 'contactFolder'; readonly user: UserRef; readonly folderIds: readonly string[] }
  | { readonly type: 'invitations' }
  | { readonly type: 'invitation'; readonly invitationId: string }
  | { readonly type: 'drive'; readonly user: UserRef }
  /** /groups/{id}/members */
  | { readonly type: 'groupMembers'; readonly groupId: string }
  /** /groups/{id}/members/$ref */
  | { readonly type: 'groupMemberRefs'; readonly groupId: string }
  /** /groups/{id}/members/{memberId}/$ref */
  | { readonly type: 'groupMemberRef'; readonly groupId: string; readonly memberId: string }
  /** {user}/memberOf */
  | { readonly type: 'memberOf'; readonly user: UserRef };

export interface ParseOptions {
  /** The path came under /beta, whose user has joinedGroups (v1.0's does not). */
  readonly beta?: boolean;
}

export interface ParsedPath {
  readonly resource: Resource;
  /** The path goes through /me (or /drive, which is /me/drive): it needs a delegated token. */
  readonly usesMe: boolean;
}

/** Splits and percent-decodes a path; a malformed escape is a 400 naming the segment. */
export function splitPath(path: string): string[] {
  const raw = path.split('/').filter((segment, i, all) => segment !== '' || (i > 0 && i < all.length - 1));
  return raw.flatMap((segment) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw errors.segmentNotFound(segment);
    }
    return keyAsSegment(decoded);
  });
}

/** Collections whose members OData also addresses as `name('key')`. */
const KEYED = new Set(['users', 'groups', 'teams', 'contacts', 'contactfolders', 'childfolders', 'joinedteams', 'invitations', 'drives']);

/**
 * `users('{id}')` is `users/{id}`, as OData's key syntax (and Graph) has it; a quote in the key
 * is doubled. Only after a collection's name: a UPN such as `o'neil(x)@…` stays one segment.
 */
function keyAsSegment(segment: string): string[] {
  const match = /^([A-Za-z]+)\('((?:[^']|'')*)'\)$/.exec(segment);
  if (match === null || !KEYED.has(match[1]!.toLowerCase())) return [segment];
  return [match[1]!, match[2]!.replace(/''/g, "'")];
}

/** `segments` are the decoded segments after the version prefix. */
export function parseGraphPath(segments: readonly string[], options: ParseOptions = {}): ParsedPath {
  return new Parser(segments, options.beta ?? false).parse();
}

class Parser {
  readonly #segments: readonly string[];
  readonly #beta: boolean;
  #at = 0;
  #usesMe = false;

  constructor(segments: readonly string[], beta: boolean) {
    this.#segments = segments;
    this.#beta = beta;
  }

  parse(): ParsedPath {
    const resource = this.#root();
    return { resource, usesMe: this.#usesMe };
  }

  #next(): string | undefined {
    return this.#segments[this.#at++];
  }

  /** The next segment's name, lower-cased for matching; undefined at the end. */
  #name(): string | undefined {
    return this.#next()?.toLowerCase();
  }

  #id(): string | undefined {
    const id = this.#next();
    return id === '' ? this.#unknown() : id;
  }

  #atEnd(): boolean {
    return this.#at >= this.#segments.length;
  }

  #unknown(): never {
    const segment = this.#segments[this.#at - 1] ?? '';
    throw errors.segmentNotFound(segment);
  }

  #root(): Resource {
    switch (this.#name()) {
      case 'me':
        this.#usesMe = true;
        return this.#user({ by: 'me' });
      case 'users': {
        const key = this.#id();
        return key === undefined ? { type: 'users' } : this.#user({ by: 'key', key });
      }
      case 'groups': {
        const groupId = this.#id();
        return groupId === undefined ? { type: 'groups' } : this.#group(groupId);
      }
      case 'teams': {
        const groupId = this.#id();
        return groupId === undefined ? this.#unknown() : this.#team(groupId, undefined, false);
      }
      case 'drive':
        this.#usesMe = true;
        return this.#drive({ by: 'me' });
      case 'drives': {
        const driveId = this.#id();
        return driveId === undefined ? this.#unknown() : this.#drive({ by: 'drive', driveId });
      }
      case 'invitations': {
        const invitationId = this.#id();
        if (invitationId === undefined) return { type: 'invitations' };
        if (this.#atEnd()) return { type: 'invitation', invitationId };
        return this.#name() === 'inviteduser' ? this.#user({ by: 'invitation', invitationId }) : this.#unknown();
      }
      default:
        return this.#unknown();
    }
  }

  #user(user: UserRef): Resource {
    const name = this.#name();
    switch (name) {
      case undefined:
        return { type: 'user', user };
      case 'photo':
      case 'photos':
        return this.#photo({ kind: 'user', user }, name);
      case 'contacts':
        return this.#contacts(user, []);
      case 'contactfolders':
        return this.#folders(user, []);
      case 'drive':
        return this.#drive(user);
      case 'joinedteams': {
        const groupId = this.#id();
        return groupId === undefined ? this.#unknown() : this.#team(groupId, user, false);
      }
      case 'memberof':
        if (this.#atEnd()) return { type: 'memberOf', user };
        this.#next();
        return this.#unknown();
      case 'joinedgroups': {
        // Beta only: v1.0's user has no joinedGroups, and Graph answers its segment with 400.
        if (!this.#beta) return this.#unknown();
        const groupId = this.#id();
        if (groupId === undefined) return this.#unknown();
        const next = this.#name();
        if (next === 'photo' || next === 'photos') return this.#photo({ kind: 'joinedGroup', user, groupId }, next);
        return this.#unknown();
      }
      default:
        return this.#unknown();
    }
  }

  #group(groupId: string): Resource {
    const name = this.#name();
    switch (name) {
      case undefined:
        return { type: 'group', groupId };
      case 'photo':
      case 'photos':
        return this.#photo({ kind: 'group', groupId }, name);
      case 'team':
        return this.#team(groupId, undefined, true);
      case 'members':
        return this.#members(groupId);
      default:
        return this.#unknown();
    }
  }

  /** /groups/{id}/members, members/$ref, members/{memberId}/$ref. */
  #members(groupId: string): Resource {
    const next = this.#next();
    if (next === undefined) return { type: 'groupMembers', groupId };
    if (next.toLowerCase() === '$ref' && this.#atEnd()) return { type: 'groupMemberRefs', groupId };
    // members/{memberId} alone (the member as an entity) is not served: its segment is named.
    if (next === '' || next.toLowerCase() === '$ref' || this.#atEnd()) return this.#unknown();
    if (this.#name() !== '$ref') return this.#unknown();
    if (!this.#atEnd()) {
      this.#next();
      return this.#unknown();
    }
    return { type: 'groupMemberRef', groupId, memberId: next };
  }

  #team(groupId: string, user: UserRef | undefined, viaGroup: boolean): Resource {
    const name = this.#name();
    if (name === undefined) return { type: 'team', groupId, user, viaGroup };
    // Teams have one photo size only: Graph has no photos collection for them.
    if (name === 'photo') return this.#photo({ kind: 'team', groupId, user }, name);
    return this.#unknown();
  }

  /** /drive and /drives/{id}: the drive itself, or its root's creator (the owner). */
  #drive(user: UserRef): Resource {
    if (this.#atEnd()) return { type: 'drive', user };
    if (this.#name() !== 'root') return this.#unknown();
    if (this.#name() !== 'createdbyuser') return this.#unknown();
    const name = this.#name();
    if (name === undefined) return { type: 'user', user };
    if (name === 'photo' || name === 'photos') return this.#photo({ kind: 'user', user }, name);
    return this.#unknown();
  }

  /** After contactFolders/{id}(/childFolders/{id})*. */
  #folders(user: UserRef, parents: readonly string[]): Resource {
    const folderId = this.#id();
    if (folderId === undefined) return { type: 'contactFolders', user, folderIds: parents };
    const folderIds = [...parents, folderId];
    switch (this.#name()) {
      case undefined:
        return { type: 'contactFolder', user, folderIds };
      case 'childfolders':
        return this.#folders(user, folderIds);
      case 'contacts':
        return this.#contacts(user, folderIds);
      default:
        return this.#unknown();
    }
  }

  #contacts(user: UserRef, folderIds: readonly string[]): Resource {
    const contactId = this.#id();
    if (contactId === undefined) return { type: 'contacts', user, folderIds };
    const name = this.#name();
    if (name === undefined) return { type: 'contact', user, folderIds, contactId };
    if (name === 'photo' || name === 'photos') return this.#photo({ kind: 'contact', user, folderIds, contactId }, name);
    return this.#unknown();
  }

  #photo(owner: PhotoOwnerRef, segment: 'photo' | 'photos'): Resource {
    const singleSize = owner.kind === 'contact' || owner.kind === 'team';
    if (segment === 'photos' && owner.kind === 'contact') throw errors.unsupportedSegment(this.#odataPath());
    if (segment === 'photos' && owner.kind === 'team') throw errors.segmentNotFound('photos');
    const next = this.#next();
    let target: PhotoTarget;
    if (next === undefined) {
      target = { op: segment === 'photo' ? 'metadata' : 'list' };
    } else if (segment === 'photo' && next.toLowerCase() === '$value') {
      target = { op: 'value' };
    } else {
      // /photo/{size} is an alias of /photos/{size}, as in the v1.0 docs example.
      if (singleSize) throw errors.unsupportedSegment(this.#odataPath());
      const value = this.#atEnd() ? false : this.#name() === '$value' || this.#unknown();
      target = { op: 'size', size: next, value };
    }
    if (!this.#atEnd()) {
      this.#next();
      this.#unknown();
    }
    return { type: 'photo', owner, target };
  }

  #odataPath(): string {
    return this.#segments.join('/');
  }
}
