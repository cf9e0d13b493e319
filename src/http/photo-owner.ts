// Resolves the owner a photo path names to the photo it reaches: a team's photo
// is its group's (and so is a joinedGroup's), a createdByUser's or invitedUser's is that user's.
import type { Principal } from '../auth/principal.js';
import { reusableUntil, type Directory, type Lookup } from '../directory/directory.js';
import type { PhotoOwner } from '../storage/store.js';
import type { PhotoOwnerRef } from './graph-path.js';

export interface ResolvedOwner {
  readonly owner: PhotoOwner;
  /** The caller's own user or contact (delegated tokens only). */
  readonly isOwn: boolean;
  /** The canonical OData path of the owner, e.g. users('…') or users('…')/contacts('…'). */
  readonly context: string;
}

/** `lookup.cached`: a read may use recent lookups; a write always asks the store. */
export async function resolvePhotoOwner(
  directory: Directory,
  principal: Principal,
  ref: PhotoOwnerRef,
  lookup: Lookup,
): Promise<ResolvedOwner> {
  const tenantId = principal.tenantId;
  switch (ref.kind) {
    case 'user': {
      const user = await directory.findUser(principal, ref.user, lookup);
      return {
        owner: { tenantId, type: 'user', id: user.id },
        isOwn: principal.delegated && user.id === principal.objectId,
        context: `users('${user.id}')`,
      };
    }
    case 'group': {
      const group = await directory.findGroup(tenantId, ref.groupId, lookup);
      return { owner: { tenantId, type: 'group', id: group.id }, isOwn: false, context: `groups('${group.id}')` };
    }
    case 'team': {
      // joinedTeams/{id} needs its user to exist, but ignores membership (contract §2).
      if (ref.user) await directory.findUser(principal, ref.user, lookup);
      const team = await directory.findTeam(tenantId, ref.groupId, lookup);
      return { owner: { tenantId, type: 'group', id: team.id }, isOwn: false, context: `teams('${team.id}')` };
    }
    case 'joinedGroup': {
      // Only a member reaches the group this way (404 otherwise); the photo is the group's own.
      const group = await directory.findJoinedGroup(principal, ref.user, ref.groupId, lookup);
      return { owner: { tenantId, type: 'group', id: group.id }, isOwn: false, context: `groups('${group.id}')` };
    }
    case 'contact': {
      // Contacts are always read from the store: nothing about this resolution is reusable.
      reusableUntil(lookup, 0);
      const user = await directory.findUser(principal, ref.user, lookup);
      const contact = await directory.findContact(user, ref.folderIds, ref.contactId);
      return {
        owner: { tenantId, type: 'contact', id: contact.id },
        isOwn: principal.delegated && user.id === principal.objectId,
        context: `users('${user.id}')/contacts('${contact.id}')`,
      };
    }
  }
}
