// The directory's listings as Graph answers them: one page at a time (100 objects unless
// $top says otherwise, up to 999), an @odata.nextLink with an opaque $skiptoken while more
// follow, @odata.count when asked, and only the $select-ed properties. What each listing's
// type has, and what of it can be filtered, searched and selected, is here; the query
// options themselves are read by odata-query.ts and paged by the store.
import type { Condition, ListQuery, Page } from '../storage/list-query.js';
import { cursorAfter } from '../storage/list-query.js';
import type { FilterProperty } from './odata-filter.js';
import type { GraphContext } from './graph-context.js';
import type { JsonObject } from './json-body.js';
import { parseListOptions, type ListSchema } from './odata-query.js';
import { encodeSkipToken } from './skip-token.js';
import { sendGraphJson } from './odata-json.js';

const text = (name: string, store: string, search = true): FilterProperty => ({ kind: 'text', name, store, search });

function schema(type: string, properties: readonly string[], filterable: readonly FilterProperty[], options: { keepsId: boolean; directoryObject: boolean }): ListSchema {
  const byName = new Map(filterable.map((p) => [p.name.toLowerCase(), p]));
  const known = new Set(properties.map((p) => p.toLowerCase()));
  return {
    type,
    properties,
    ...options,
    property: (name) => byName.get(name.toLowerCase()),
    has: (name) => known.has(name.toLowerCase()),
  };
}

/** groupTypes (Unified) and resourceProvisioningOptions (Team): flags kept on the group. */
const flagCollection = (name: string, value: string, property: 'unified' | 'hasTeam'): FilterProperty => ({
  kind: 'collection',
  name,
  values: (given): Condition => (given.toLowerCase() === value.toLowerCase() ? { kind: 'eq', property, value: true } : { kind: 'never' }),
});

export const USER_LIST = schema(
  'microsoft.graph.user',
  ['id', 'displayName', 'userPrincipalName', 'mail', 'userType'],
  [text('id', 'id', false), text('displayName', 'displayName'), text('userPrincipalName', 'userPrincipalName'), text('mail', 'mail'), text('userType', 'userType', false)],
  { keepsId: false, directoryObject: true },
);

export const GROUP_LIST = schema(
  'microsoft.graph.group',
  ['id', 'displayName', 'mailNickname', 'description', 'groupTypes', 'resourceProvisioningOptions'],
  [
    text('id', 'id', false),
    text('displayName', 'displayName'),
    text('mailNickname', 'mailNickname'),
    text('description', 'description'),
    flagCollection('groupTypes', 'Unified', 'unified'),
    flagCollection('resourceProvisioningOptions', 'Team', 'hasTeam'),
  ],
  { keepsId: false, directoryObject: true },
);

export const FOLDER_LIST = schema(
  'microsoft.graph.contactFolder',
  ['id', 'displayName', 'parentFolderId'],
  [text('id', 'id'), text('displayName', 'displayName'), text('parentFolderId', 'parentFolderId')],
  { keepsId: true, directoryObject: false },
);

export const CONTACT_LIST = schema(
  'microsoft.graph.contact',
  ['id', 'displayName', 'givenName', 'surname', 'emailAddresses', 'parentFolderId'],
  [text('id', 'id'), text('displayName', 'displayName'), text('givenName', 'givenName'), text('surname', 'surname'), text('parentFolderId', 'folderId')],
  { keepsId: true, directoryObject: false },
);

export interface ListAnswer<T> {
  readonly schema: ListSchema;
  /** The @odata.context after '#': 'users', 'contacts', … */
  readonly contextPath: string;
  /** Names the list among others of its kind (whose contacts, which folder): its skiptokens fit it alone. */
  readonly listing: unknown;
  readonly fetch: (query: ListQuery<never>) => Promise<Page<T>>;
  readonly toJson: (item: T) => JsonObject;
}

/** Answers one page of a listing. */
export async function answerList<T extends { readonly id: string; readonly displayName: string }>(context: GraphContext, answer: ListAnswer<T>): Promise<void> {
  const { request, serviceRoot } = context;
  const [path = '', rawQuery = ''] = splitUrl(request.url);
  const options = parseListOptions(rawQuery, request.headers, answer.schema, answer.listing);
  const page = await answer.fetch(options.query as ListQuery<never>);
  const select = options.select;
  const value = page.items.map((item) => project(answer.toJson(item), select));
  const body: JsonObject = { '@odata.context': `${serviceRoot}/$metadata#${answer.contextPath}${select ? `(${select.join(',')})` : ''}` };
  if (page.count !== undefined) body['@odata.count'] = page.count;
  const last = page.items.at(-1);
  if (page.more && last !== undefined) {
    const token = encodeSkipToken(options.fingerprint, cursorAfter(last, options.query.orderBy));
    // The path as the client wrote it after the version (users('…') forms included).
    const after = path.slice(path.indexOf('/', 1));
    body['@odata.nextLink'] = `${serviceRoot}${after}?${options.carried === '' ? '' : `${options.carried}&`}$skiptoken=${token}`;
  }
  body.value = value;
  sendGraphJson(context, 200, body);
}

function splitUrl(url: string): [string, string] {
  const at = url.indexOf('?');
  return at === -1 ? [url, ''] : [url.slice(0, at), url.slice(at + 1)];
}

function project(item: JsonObject, select: readonly string[] | undefined): JsonObject {
  if (select === undefined) return item;
  const chosen: JsonObject = {};
  for (const name of select) chosen[name] = item[name] ?? null;
  return chosen;
}
