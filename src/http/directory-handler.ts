// The directory endpoints a client needs to create what it photographs: users,
// groups and teams, contact folders and contacts, invitations, drives — in Graph's
// shapes, with Graph's permissions (contract §7, last rows).
import { authorizeKind, authorizeOwner, type Access, type PermissionTarget } from '../auth/permissions.js';
import type { UserRef } from '../directory/directory.js';
import { errors } from '../errors.js';
import type { Contact, ContactFolder, EmailAddress, Group, Invitation, User } from '../storage/store.js';
import { allowMethods, type GraphContext, type GraphServices } from './graph-context.js';
import type { Resource } from './graph-path.js';
import { optionalString, readJsonObject, requiredString, type JsonObject } from './json-body.js';

type DirectoryResource = Exclude<Resource, { type: 'photo' }>;

export async function handleDirectory(services: GraphServices, context: GraphContext, resource: DirectoryResource): Promise<void> {
  const { directory } = services;
  const { principal, request } = context;
  const tenantId = principal.tenantId;
  const method = request.method === 'HEAD' ? 'GET' : request.method;

  /** 405, then 403 for the kind, then the owner (404), then 403 for own/other. */
  async function guard<T>(
    allowed: string[],
    target: PermissionTarget,
    find: () => Promise<T>,
    ownerOf?: (found: T) => string | undefined,
  ): Promise<T> {
    allowMethods(context, allowed);
    const access: Access = method === 'GET' ? 'read' : 'write';
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
      await guard(['GET', 'POST'], 'users', none);
      if (method === 'GET') return list(context, 'users', (await directory.listUsers(tenantId)).map(userJson));
      const body = await readJsonObject(context);
      const user = await directory.createUser(tenantId, {
        userPrincipalName: requiredString(body, 'userPrincipalName', 'microsoft.graph.user'),
        displayName: requiredString(body, 'displayName', 'microsoft.graph.user'),
        mail: optionalString(body, 'mail'),
      });
      return created(context, 'users/$entity', userJson(user));
    }
    case 'user': {
      const user = await guard(['GET', 'DELETE'], 'user', findUser(resource.user), (u) => u.id);
      if (method === 'GET') return entity(context, 'users/$entity', userJson(user));
      await directory.deleteUser(tenantId, user.id);
      // Their photo and their contacts' photos went with them.
      services.photos.forgetCached();
      return noContent(context);
    }
    case 'groups': {
      await guard(['GET', 'POST'], 'groups', none);
      if (method === 'GET') return list(context, 'groups', (await directory.listGroups(tenantId)).map(groupJson));
      const body = await readJsonObject(context);
      const displayName = requiredString(body, 'displayName', 'microsoft.graph.group');
      const group = await directory.createGroup(tenantId, {
        displayName,
        mailNickname: optionalString(body, 'mailNickname', 64) ?? displayName.replace(/[^A-Za-z0-9]/g, '').slice(0, 64),
        description: optionalString(body, 'description'),
      });
      return created(context, 'groups/$entity', groupJson(group));
    }
    case 'group': {
      const group = await guard(['GET', 'DELETE'], 'group', () => directory.findGroup(tenantId, resource.groupId));
      if (method === 'GET') return entity(context, 'groups/$entity', groupJson(group));
      await directory.deleteGroup(tenantId, group.id);
      services.photos.forgetCached();
      return noContent(context);
    }
    case 'team': {
      // PUT /groups/{id}/team creates the group's team; the other team paths only read.
      const allowed = resource.viaGroup ? ['GET', 'PUT'] : ['GET'];
      const find = async () => {
        if (resource.user) await directory.findUser(principal, resource.user);
        return method === 'PUT' ? directory.findGroup(tenantId, resource.groupId) : directory.findTeam(tenantId, resource.groupId);
      };
      const group = await guard(allowed, 'team', find);
      if (method === 'GET') return entity(context, 'teams/$entity', teamJson(group));
      return created(context, 'teams/$entity', teamJson(await directory.createTeam(group)));
    }
    case 'contactFolders':
    case 'contactFolder': {
      const { user, parent } = await guard(
        resource.type === 'contactFolders' ? ['GET', 'POST'] : ['GET'],
        'contacts',
        async () => {
          const user = await directory.findUser(principal, resource.user);
          return { user, parent: await directory.findFolderChain(user, resource.folderIds) };
        },
        (found) => found.user.id,
      );
      if (resource.type === 'contactFolder') return entity(context, 'contactFolders/$entity', folderJson(parent as ContactFolder));
      if (method === 'GET') return list(context, 'contactFolders', (await directory.listContactFolders(user, parent)).map(folderJson));
      const body = await readJsonObject(context);
      const folder = await directory.createContactFolder(user, parent, requiredString(body, 'displayName', 'microsoft.graph.contactFolder'));
      return created(context, 'contactFolders/$entity', folderJson(folder));
    }
    case 'contacts': {
      const { user, folder } = await guard(
        ['GET', 'POST'],
        'contacts',
        async () => {
          const user = await directory.findUser(principal, resource.user);
          return { user, folder: await directory.findFolderChain(user, resource.folderIds) };
        },
        (found) => found.user.id,
      );
      if (method === 'GET') return list(context, 'contacts', (await directory.listContacts(user, folder)).map(contactJson));
      const contact = await directory.createContact(user, folder, contactInput(await readJsonObject(context)));
      return created(context, 'contacts/$entity', contactJson(contact));
    }
    case 'contact': {
      const { contact } = await guard(
        ['GET'],
        'contacts',
        async () => {
          const user = await directory.findUser(principal, resource.user);
          return { user, contact: await directory.findContact(user, resource.folderIds, resource.contactId) };
        },
        (found) => found.user.id,
      );
      return entity(context, 'contacts/$entity', contactJson(contact));
    }
    case 'invitations': {
      await guard(['POST'], 'invitations', none);
      const body = await readJsonObject(context);
      const email = requiredString(body, 'invitedUserEmailAddress', 'microsoft.graph.invitation');
      if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw errors.invalidProperty('invitedUserEmailAddress', 'an email address', email);
      const redirect = requiredString(body, 'inviteRedirectUrl', 'microsoft.graph.invitation', 2048);
      const { invitation, user } = await directory.createInvitation(tenantId, email, redirect);
      return created(context, 'invitations/$entity', invitationJson(invitation, user));
    }
    case 'invitation': {
      const invitation = await guard(['GET'], 'invitations', () => directory.findInvitation(tenantId, resource.invitationId));
      const user = await directory.findUser(principal, { by: 'key', key: invitation.invitedUserId });
      return entity(context, 'invitations/$entity', invitationJson(invitation, user));
    }
    case 'drive': {
      const user = await guard(['GET'], 'drive', findUser(resource.user), (u) => u.id);
      return entity(context, 'drives/$entity', driveJson(user));
    }
  }
}

function contactInput(body: JsonObject): { displayName: string; givenName: string | null; surname: string | null; emailAddresses: EmailAddress[] } {
  const givenName = optionalString(body, 'givenName');
  const surname = optionalString(body, 'surname');
  const raw = body.emailAddresses ?? [];
  if (!Array.isArray(raw) || raw.length > 3) throw errors.invalidProperty('emailAddresses', 'an array of at most 3 emailAddress objects', raw);
  const emailAddresses = raw.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) throw errors.invalidProperty('emailAddresses', 'emailAddress objects', item);
    const { address, name } = item as Record<string, unknown>;
    if (typeof address !== 'string') throw errors.invalidProperty('emailAddresses.address', 'a string', address);
    return { address, name: typeof name === 'string' ? name : address };
  });
  const fallback = [givenName, surname].filter((n) => n !== null).join(' ') || emailAddresses[0]?.address;
  const displayName = optionalString(body, 'displayName') ?? fallback;
  if (!displayName) throw errors.missingProperty('displayName', 'microsoft.graph.contact');
  return { displayName, givenName, surname, emailAddresses };
}

function userJson(user: User): JsonObject {
  return {
    id: user.id,
    displayName: user.displayName,
    userPrincipalName: user.userPrincipalName,
    mail: user.mail,
    userType: user.userType,
  };
}

function groupJson(group: Group): JsonObject {
  return {
    id: group.id,
    displayName: group.displayName,
    mailNickname: group.mailNickname,
    description: group.description,
    groupTypes: group.hasTeam ? ['Unified'] : [],
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
  context.reply.code(status).header('content-type', 'application/json; charset=utf-8');
  return void context.reply.send(JSON.stringify(body));
}

function entity(context: GraphContext, path: string, body: JsonObject): void {
  return send(context, 200, { '@odata.context': `${context.serviceRoot}/$metadata#${path}`, ...body });
}

function created(context: GraphContext, path: string, body: JsonObject): void {
  return send(context, 201, { '@odata.context': `${context.serviceRoot}/$metadata#${path}`, ...body });
}

function list(context: GraphContext, path: string, value: JsonObject[]): void {
  return send(context, 200, { '@odata.context': `${context.serviceRoot}/$metadata#${path}`, value });
}

function noContent(context: GraphContext): void {
  return void context.reply.code(204).send();
}
