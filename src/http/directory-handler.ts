// The directory endpoints a client needs to create what it photographs: users,
// groups and teams, contact folders and contacts, invitations, drives — in Graph's
// shapes, with Graph's permissions (contract §7, last rows).
import { authorizeKind, authorizeOwner } from '../auth/permissions.js';
import type { UserRef } from '../directory/directory.js';
import { errors } from '../errors.js';
import type { Contact, ContactFolder, EmailAddress, Group, Invitation, User } from '../storage/store.js';
import type { GraphContext, GraphServices } from './graph-context.js';
import type { Resource } from './graph-path.js';
import { answerList, CONTACT_LIST, FOLDER_LIST, GROUP_LIST, USER_LIST } from './directory-lists.js';
import { readJsonBody, textOrNull, type JsonObject } from './json-body.js';
import type { MembershipResource } from './membership-handler.js';
import { sendGraphJson } from './odata-json.js';

type DirectoryResource = Exclude<Resource, { type: 'photo' } | MembershipResource>;

export async function handleDirectory(services: GraphServices, context: GraphContext, resource: DirectoryResource): Promise<void> {
  const { directory } = services;
  const { principal, request } = context;
  const tenantId = principal.tenantId;
  const method = request.method === 'HEAD' ? 'GET' : request.method;

  /** 403 for the kind, then the owner (404), then 403 for own/other (the route answered 405 before). */
  async function guard<T>(find: () => Promise<T>, ownerOf?: (found: T) => string | undefined): Promise<T> {
    const { target, access } = context.operation.permission;
    const kind = authorizeKind(principal, target, access);
    if (!kind.allowed) throw errors.forbidden(kind.missing);
    const found = await find();
    const isOwn = principal.delegated && ownerOf?.(found) === principal.objectId;
    const needsAdmin = principal.delegated && access === 'write';
    const decision = authorizeOwner(principal, target, access, {
      isOwn,
      callerIsAdmin: needsAdmin && (await directory.callerIsAdmin(principal)),
    });
    if (!decision.allowed) throw errors.forbidden(decision.missing);
    return found;
  }
  const findUser = (ref: UserRef) => () => directory.findUser(principal, ref);
  const none = async () => undefined;

  switch (resource.type) {
    case 'users': {
      await guard(none);
      if (method === 'GET') {
        return answerList(context, { schema: USER_LIST, contextPath: 'users', listing: 'users', fetch: (query) => directory.queryUsers(tenantId, query), toJson: userJson });
      }
      const body = await readJsonBody(context);
      const user = await directory.createUser(tenantId, {
        userPrincipalName: body.userPrincipalName as string,
        displayName: body.displayName as string,
        mail: textOrNull(body, 'mail'),
      });
      return created(context, 'users/$entity', userJson(user));
    }
    case 'user': {
      const user = await guard(findUser(resource.user), (u) => u.id);
      if (method === 'GET') return entity(context, 'users/$entity', userJson(user));
      // Their photo and their contacts' photos go with them (the directory tells the photo cache).
      await directory.deleteUser(tenantId, user.id);
      return noContent(context);
    }
    case 'groups': {
      await guard(none);
      if (method === 'GET') {
        return answerList(context, { schema: GROUP_LIST, contextPath: 'groups', listing: 'groups', fetch: (query) => directory.queryGroups(tenantId, query), toJson: groupJson });
      }
      const body = await readJsonBody(context);
      const displayName = body.displayName as string;
      const group = await directory.createGroup(tenantId, {
        displayName,
        mailNickname: textOrNull(body, 'mailNickname') ?? displayName.replace(/[^A-Za-z0-9]/g, '').slice(0, 64),
        description: textOrNull(body, 'description'),
        unified: Array.isArray(body.groupTypes) && body.groupTypes.includes('Unified'),
      });
      return created(context, 'groups/$entity', groupJson(group));
    }
    case 'group': {
      const group = await guard(() => directory.findGroup(tenantId, resource.groupId));
      if (method === 'GET') return entity(context, 'groups/$entity', groupJson(group));
      await directory.deleteGroup(tenantId, group.id);
      return noContent(context);
    }
    case 'team': {
      // PUT /groups/{id}/team creates the group's team; the other team paths only read.
      const find = async () => {
        if (resource.user) await directory.findUser(principal, resource.user);
        return method === 'PUT' ? directory.findGroup(tenantId, resource.groupId) : directory.findTeam(tenantId, resource.groupId);
      };
      const group = await guard(find);
      if (method === 'GET') return entity(context, 'teams/$entity', teamJson(group));
      await readJsonBody(context); // team settings: checked, not kept
      return created(context, 'teams/$entity', teamJson(await directory.createTeam(group)));
    }
    case 'contactFolders':
    case 'contactFolder': {
      const { user, parent } = await guard(
        async () => {
          const user = await directory.findUser(principal, resource.user);
          return { user, parent: await directory.findFolderChain(user, resource.folderIds) };
        },
        (found) => found.user.id,
      );
      if (resource.type === 'contactFolder') return entity(context, 'contactFolders/$entity', folderJson(parent as ContactFolder));
      if (method === 'GET') {
        return answerList(context, {
          schema: FOLDER_LIST,
          contextPath: 'contactFolders',
          listing: ['contactFolders', user.id, parent?.id ?? null],
          fetch: (query) => directory.queryContactFolders(user, parent, query),
          toJson: folderJson,
        });
      }
      const body = await readJsonBody(context);
      const folder = await directory.createContactFolder(user, parent, body.displayName as string);
      return created(context, 'contactFolders/$entity', folderJson(folder));
    }
    case 'contacts': {
      const { user, folder } = await guard(
        async () => {
          const user = await directory.findUser(principal, resource.user);
          return { user, folder: await directory.findFolderChain(user, resource.folderIds) };
        },
        (found) => found.user.id,
      );
      if (method === 'GET') {
        return answerList(context, {
          schema: CONTACT_LIST,
          contextPath: 'contacts',
          listing: ['contacts', user.id, folder?.id ?? null],
          fetch: (query) => directory.queryContacts(user, folder, query),
          toJson: contactJson,
        });
      }
      const contact = await directory.createContact(user, folder, contactInput(await readJsonBody(context)));
      return created(context, 'contacts/$entity', contactJson(contact));
    }
    case 'contact': {
      const { contact } = await guard(
        async () => {
          const user = await directory.findUser(principal, resource.user);
          return { user, contact: await directory.findContact(user, resource.folderIds, resource.contactId) };
        },
        (found) => found.user.id,
      );
      return entity(context, 'contacts/$entity', contactJson(contact));
    }
    case 'invitations': {
      await guard(none);
      const body = await readJsonBody(context);
      const { invitation, user } = await directory.createInvitation(tenantId, body.invitedUserEmailAddress as string, body.inviteRedirectUrl as string);
      return created(context, 'invitations/$entity', invitationJson(invitation, user));
    }
    case 'invitation': {
      const invitation = await guard(() => directory.findInvitation(tenantId, resource.invitationId));
      const user = await directory.findUser(principal, { by: 'key', key: invitation.invitedUserId });
      return entity(context, 'invitations/$entity', invitationJson(invitation, user));
    }
    case 'drive': {
      const user = await guard(findUser(resource.user), (u) => u.id);
      return entity(context, 'drives/$entity', driveJson(user));
    }
  }
}

function contactInput(body: JsonObject): { displayName: string; givenName: string | null; surname: string | null; emailAddresses: EmailAddress[] } {
  // The request schema (contactCreate) has checked every member's type and length.
  const givenName = textOrNull(body, 'givenName');
  const surname = textOrNull(body, 'surname');
  const raw = (body.emailAddresses ?? []) as { address: string; name?: unknown }[];
  const emailAddresses = raw.map(({ address, name }) => ({ address, name: typeof name === 'string' ? name : address }));
  const fallback = [givenName, surname].filter((n) => n !== null).join(' ') || emailAddresses[0]?.address;
  const displayName = textOrNull(body, 'displayName') ?? fallback;
  if (!displayName) throw errors.missingProperty('displayName', 'microsoft.graph.contact');
  return { displayName, givenName, surname, emailAddresses };
}

export function userJson(user: User): JsonObject {
  return {
    id: user.id,
    displayName: user.displayName,
    userPrincipalName: user.userPrincipalName,
    mail: user.mail,
    userType: user.userType,
  };
}

export function groupJson(group: Group): JsonObject {
  return {
    id: group.id,
    displayName: group.displayName,
    mailNickname: group.mailNickname,
    description: group.description,
    groupTypes: group.unified ? ['Unified'] : [],
    resourceProvisioningOptions: group.hasTeam ? ['Team'] : [],
  };
}

function teamJson(group: Group): JsonObject {
  return { id: group.id, displayName: group.displayName, description: group.description, isArchived: false };
}

function folderJson(folder: ContactFolder): JsonObject {
  return { id: folder.id, displayName: folder.displayName, parentFolderId: folder.parentFolderId };
}

function contactJson(contact: Contact): JsonObject {
  return {
    id: contact.id,
    displayName: contact.displayName,
    givenName: contact.givenName,
    surname: contact.surname,
    emailAddresses: contact.emailAddresses,
    parentFolderId: contact.folderId,
  };
}

function invitationJson(invitation: Invitation, user: User): JsonObject {
  return {
    id: invitation.id,
    invitedUserEmailAddress: invitation.invitedUserEmailAddress,
    inviteRedirectUrl: invitation.inviteRedirectUrl,
    inviteRedeemUrl: invitation.inviteRedirectUrl,
    status: 'PendingAcceptance',
    invitedUser: { id: user.id },
  };
}

function driveJson(user: User): JsonObject {
  const identity = { user: { id: user.id, displayName: user.displayName } };
  return { id: user.driveId, driveType: 'business', owner: identity, root: { createdBy: identity } };
}

function send(context: GraphContext, status: number, body: JsonObject): void {
  return sendGraphJson(context, status, body);
}

function entity(context: GraphContext, path: string, body: JsonObject): void {
  return send(context, 200, { '@odata.context': `${context.serviceRoot}/$metadata#${path}`, ...body });
}

function created(context: GraphContext, path: string, body: JsonObject): void {
  return send(context, 201, { '@odata.context': `${context.serviceRoot}/$metadata#${path}`, ...body });
}

function noContent(context: GraphContext): void {
  return void context.reply.code(204).send();
}
