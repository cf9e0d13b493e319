// Group membership in Graph's shapes: a group's members (users), adding one by reference
// (POST members/$ref with {"@odata.id": …/directoryObjects/{id}}) and removing one
// (DELETE members/{id}/$ref), and a user's groups (memberOf), with Graph's permissions
// (auth/permissions.ts: groupMembers, memberOf). Listings are pages of 100 by default and
// at most 999 ($top), as Graph's are, each linked to the next by @odata.nextLink, so that
// no request reads or sends a whole large group.
// Graph: https://learn.microsoft.com/graph/api/group-post-members,
// group-delete-members, group-list-members, user-list-memberof.
import { authorizeKind, authorizeOwner } from '../auth/permissions.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { errors } from '../errors.js';
import { DEFAULT_PAGE_SIZE } from '../storage/list-query.js';
import type { Group, User } from '../storage/store.js';
import { groupJson, userJson } from './directory-handler.js';
import type { GraphContext, GraphServices } from './graph-context.js';
import type { Resource } from './graph-path.js';
import { readJsonBody, type JsonObject } from './json-body.js';
import { sendGraphJson } from './odata-json.js';
import { pageOptionsOnly, parseTop } from './odata-query.js';

export type MembershipResource = Extract<Resource, { type: 'groupMembers' | 'groupMemberRefs' | 'groupMemberRef' | 'memberOf' }>;

export function isMembershipResource(resource: Resource): resource is MembershipResource {
  return resource.type === 'groupMembers' || resource.type === 'groupMemberRefs' || resource.type === 'groupMemberRef' || resource.type === 'memberOf';
}


/** The service whose URLs a reference may use besides this service's own. */
const GRAPH_ROOT = 'https://graph.microsoft.com/';

export async function handleMembership(services: GraphServices, context: GraphContext, resource: MembershipResource): Promise<void> {
  const { directory } = services;
  const { principal, request } = context;
  const tenantId = principal.tenantId;
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const { target, access } = context.operation.permission;

  // 403 for the kind, before anything is looked up (contract §6).
  const kind = authorizeKind(principal, target, access);
  if (!kind.allowed) throw errors.forbidden(kind.missing);
  // The query is read before the lookups, so a bad $top is a 400 whatever the ids are.
  const page = method === 'GET' ? pageOf(context) : undefined;

  /** 403 for own/other once the object is known; writes with a delegated token take an admin role. */
  async function authorizeFor(isOwn: boolean): Promise<void> {
    const needsAdmin = principal.delegated && access === 'write';
    const decision = authorizeOwner(principal, target, access, {
      isOwn,
      callerIsAdmin: needsAdmin && (await directory.callerIsAdmin(principal)),
    });
    if (!decision.allowed) throw errors.forbidden(decision.missing);
  }

  if (resource.type === 'memberOf') {
    const user = await directory.findUser(principal, resource.user);
    await authorizeFor(principal.delegated && user.id === principal.objectId);
    const groups = await directory.listMemberOf(user, { after: page?.after, limit: (page?.top ?? DEFAULT_PAGE_SIZE) + 1 });
    return sendPage(context, groups, page, (group) => ({ '@odata.type': '#microsoft.graph.group', ...groupJson(group) }));
  }

  const group = await directory.findGroup(tenantId, resource.groupId);
  await authorizeFor(false);
  switch (resource.type) {
    case 'groupMembers':
    case 'groupMemberRefs': {
      if (method === 'POST') return addMember(services, context, group);
      const members = await directory.listGroupMembers(group, { after: page?.after, limit: (page?.top ?? DEFAULT_PAGE_SIZE) + 1 });
      if (resource.type === 'groupMembers') {
        return sendPage(context, members, page, (user) => ({ '@odata.type': '#microsoft.graph.user', ...userJson(user) }));
      }
      return sendPage(context, members, page, (user) => ({ '@odata.id': `${context.serviceRoot}/directoryObjects/${user.id}` }), 'Collection($ref)');
    }
    case 'groupMemberRef':
      // A path id that is no GUID names no member: 404, as any unknown id in a path.
      if (!GUID_PATTERN.test(resource.memberId)) throw errors.resourceNotFound(resource.memberId);
      await directory.removeGroupMember(group, resource.memberId);
      return void context.reply.code(204).send();
  }
}

async function addMember(services: GraphServices, context: GraphContext, group: Group): Promise<void> {
  const { directory } = services;
  const { principal } = context;
  const body = await readJsonBody(context);
  const reference = body['@odata.id'] as string; // the schema (memberReference) requires a string
  const memberId = memberIdOf(reference, context.serviceRoot);
  let user: User;
  try {
    user = await directory.findUser(principal, { by: 'key', key: memberId });
  } catch (error) {
    // Portrait's groups have users as members; a group named here is refused by name, not "not found".
    const isGroup = await directory.findGroup(principal.tenantId, memberId).then(
      () => true,
      () => false,
    );
    if (isGroup) throw errors.invalidProperty('@odata.id', 'the URL of a user: Portrait’s groups have users as members', reference);
    throw error;
  }
  await directory.addGroupMember(group, user);
  return void context.reply.code(204).send();
}

/**
 * The object id in a reference: https://graph.microsoft.com/{v1.0|beta}/directoryObjects/{id}
 * (or …/users/{id}), or the same under this service's own root — nothing else, so that a
 * reference can never point Portrait at another host or into another path.
 */
export function memberIdOf(reference: string, serviceRoot: string): string {
  const expected = 'https://graph.microsoft.com/v1.0/directoryObjects/{id}, or the same under this service’s root';
  let url: URL;
  try {
    url = new URL(reference);
  } catch {
    throw errors.invalidProperty('@odata.id', expected, reference);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw errors.invalidProperty('@odata.id', expected, reference);
  }
  const ownRoot = `${serviceRoot.slice(0, serviceRoot.lastIndexOf('/'))}/`;
  const root = [GRAPH_ROOT, ownRoot].find((r) => url.href.startsWith(r));
  if (root === undefined) throw errors.invalidProperty('@odata.id', expected, reference);
  const [version, collection, id, ...rest] = url.href.slice(root.length).split('/');
  const versionOk = version?.toLowerCase() === 'v1.0' || version?.toLowerCase() === 'beta';
  const collectionOk = collection?.toLowerCase() === 'directoryobjects' || collection?.toLowerCase() === 'users';
  if (!versionOk || !collectionOk || id === undefined || id === '' || rest.length > 0) {
    throw errors.invalidProperty('@odata.id', expected, reference);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(id);
  } catch {
    decoded = id;
  }
  if (!GUID_PATTERN.test(decoded)) throw errors.invalidObjectIdentifier(decoded.length > 64 ? `${decoded.slice(0, 64)}…` : decoded);
  return decoded.toLowerCase();
}

interface PageQuery {
  readonly top: number;
  /** The id the previous page ended with ($skiptoken). */
  readonly after: string | undefined;
}

/**
 * $top (1 to 999) and $skiptoken (the last id of the page before, as this service wrote it);
 * any other query option is refused by name (odata-query.ts), never ignored.
 */
function pageOf(context: GraphContext): PageQuery {
  const url = context.request.url;
  const question = url.indexOf('?');
  const { top, skiptoken } = pageOptionsOnly(question < 0 ? '' : url.slice(question + 1));
  if (skiptoken !== undefined && !GUID_PATTERN.test(skiptoken)) {
    throw errors.invalidQueryOption('$skiptoken', 'it is not one this listing gave out; follow @odata.nextLink as it is');
  }
  return { top: parseTop(top), after: skiptoken?.toLowerCase() };
}

/**
 * One page: `items` holds up to top + 1, the extra one only saying that there is a next page,
 * whose link repeats the request's path and $top and carries the last id shown.
 */
function sendPage<T extends { readonly id: string }>(
  context: GraphContext,
  items: readonly T[],
  page: PageQuery | undefined,
  json: (item: T) => JsonObject,
  contextPath = 'directoryObjects',
): void {
  const top = page?.top ?? DEFAULT_PAGE_SIZE;
  const shown = items.slice(0, top);
  const body: JsonObject = { '@odata.context': `${context.serviceRoot}/$metadata#${contextPath}` };
  const last = shown.at(-1);
  if (items.length > top && last !== undefined) {
    const path = (context.request.url.split('?', 1)[0] as string).replace(/^\/[^/]+/, '');
    const query = new URLSearchParams();
    if (top !== DEFAULT_PAGE_SIZE) query.set('$top', String(top));
    query.set('$skiptoken', last.id);
    body['@odata.nextLink'] = `${context.serviceRoot}${path}?${query.toString().replaceAll('%24', '$')}`;
  }
  body.value = shown.map(json);
  sendGraphJson(context, 200, body);
}
