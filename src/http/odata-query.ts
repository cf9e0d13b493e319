// The OData query options of a directory listing (GET /users, /groups, {user}/contacts,
// {user}/contactFolders, …/childFolders, …/contacts): $top, $skiptoken, $select, $filter,
// $orderby, $count and $search, as Graph takes them, read into a store ListQuery.
//
// - Option names match without regard to case and, as OData 4.01 and Graph's beta allow,
//   with or without their '$' (`top=5` is `$top=5`) (Portrait: on v1.0 too). The same option
//   twice is a 400.
// - Any other '$' option ($skip, $expand, $format, $foo…) is a 400 naming it, as Graph
//   answers $skip on /users: never silently ignored. Names without '$' that are no OData
//   option are custom options and are ignored, as OData says a service may.
// - $search, and $count on directory objects (users, groups), need `ConsistencyLevel:
//   eventual`, as Graph requires; a nextLink carries that on (its $skiptoken was made by a
//   request that sent it).
// https://learn.microsoft.com/graph/query-parameters, /graph/paging, /graph/aad-advanced-queries
import type { IncomingHttpHeaders } from 'node:http';
import { errors } from '../errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Condition, type ListCursor, type ListQuery } from '../storage/list-query.js';
import { parseFilter, parseSearch, type FilterSchema } from './odata-filter.js';
import { decodeSkipToken, listingFingerprint } from './skip-token.js';

export interface ListSchema extends FilterSchema {
  /** Graph's properties of the type that Portrait answers, in answer order: what $select may name. */
  readonly properties: readonly string[];
  /** Outlook's types (contacts, folders) answer their id whatever $select says; directory objects do not. */
  readonly keepsId: boolean;
  /** Directory objects (users, groups): $search and $count need ConsistencyLevel: eventual, and $search works. */
  readonly directoryObject: boolean;
}

export interface ListOptions {
  readonly query: ListQuery;
  /** The properties to answer, canonical names in answer order; undefined: all. */
  readonly select: readonly string[] | undefined;
  /** The $skiptoken of the next page is bound to this. */
  readonly fingerprint: string;
  /** The options a nextLink repeats (all but $skiptoken), as a query string: '$top=5&$filter=…' or ''. */
  readonly carried: string;
}

const SUPPORTED = ['select', 'filter', 'top', 'skiptoken', 'orderby', 'count', 'search'] as const;
type Supported = (typeof SUPPORTED)[number];
/** OData's other system query options: '$' optional, so `skip=1` is refused like `$skip=1`. */
const OTHER_SYSTEM = new Set(['skip', 'expand', 'format', 'apply', 'compute', 'levels', 'deltatoken', 'index', 'schemaversion', 'id']);
const MAX_SELECT_LENGTH = 1024;
const SELECT_ALL = '*';

/**
 * `rawQuery` is the URL's query string (after '?', possibly empty); `listing` names the list
 * itself (e.g. its user and folder), so that its skiptokens fit no other list.
 */
export function parseListOptions(rawQuery: string, headers: IncomingHttpHeaders, schema: ListSchema, listing: unknown): ListOptions {
  const given = new Map<Supported, { name: string; value: string }>();
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    if (name === '') continue;
    const lower = name.toLowerCase();
    const base = lower.startsWith('$') ? lower.slice(1) : lower;
    if ((SUPPORTED as readonly string[]).includes(base)) {
      const option = base as Supported;
      if (given.has(option)) throw errors.invalidQueryOption(`$${option}`, 'it is given more than once');
      given.set(option, { name, value });
    } else if (lower.startsWith('$') || OTHER_SYSTEM.has(base)) {
      throw errors.unsupportedQueryOption(name);
    }
  }
  const value = (option: Supported) => given.get(option)?.value;

  const top = parseTop(value('top'));
  const { orderBy, descending } = parseOrderBy(value('orderby'), schema);
  const count = parseCount(value('count'));
  const select = parseSelect(value('select'), schema);
  const filterText = value('filter');
  const searchText = value('search');
  const filter = filterText === undefined ? undefined : parseFilter(filterText, schema);
  let search: Condition | undefined;
  if (searchText !== undefined) {
    if (!schema.directoryObject) throw errors.unsupportedQueryOption(given.get('search')!.name);
    search = parseSearch(searchText, schema);
  }
  const where = filter && search ? { kind: 'and', conditions: [filter, search] } as const : (filter ?? search);

  const fingerprint = listingFingerprint({ listing, where: where ?? null, orderBy, descending });
  const skiptoken = value('skiptoken');
  let after: ListCursor | undefined;
  if (skiptoken !== undefined) {
    after = decodeSkipToken(skiptoken, fingerprint, orderBy === 'displayName');
  } else if (schema.directoryObject && !isEventual(headers)) {
    // The first page decides; its nextLink's $skiptoken shows the header was sent.
    if (searchText !== undefined) throw errors.eventualConsistencyRequired('$search');
    if (count) throw errors.eventualConsistencyRequired('$count');
  }

  const carried = [...given.entries()]
    .filter(([option]) => option !== 'skiptoken')
    .map(([option, { value: text }]) => `$${option}=${encodeURIComponent(text)}`)
    .join('&');
  return { query: { where, orderBy, descending, after, limit: top, count }, select, fingerprint, carried };
}

function isEventual(headers: IncomingHttpHeaders): boolean {
  const header = headers.consistencylevel;
  const values = Array.isArray(header) ? header : [header];
  return values.some((v) => v?.trim().toLowerCase() === 'eventual');
}

/** $top of any listing: 1 to 999, in Graph's words when it is not. */
export function parseTop(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PAGE_SIZE;
  const n = /^\s*\d{1,6}\s*$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE_SIZE)) throw errors.invalidPageSize(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  return n;
}

/**
 * The query options of a listing that pages by $top and $skiptoken only (members, memberOf):
 * any other system query option is refused by name, as parseListOptions refuses those it
 * does not answer, never ignored.
 */
export function pageOptionsOnly(rawQuery: string): { readonly top: string | undefined; readonly skiptoken: string | undefined } {
  const found: { top?: string; skiptoken?: string } = {};
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    const lower = name.toLowerCase();
    const base = lower.startsWith('$') ? lower.slice(1) : lower;
    if (base === 'top' || base === 'skiptoken') {
      if (found[base] !== undefined) throw errors.invalidQueryOption(`$${base}`, 'it is given more than once');
      found[base] = value;
    } else if (lower.startsWith('$') || OTHER_SYSTEM.has(base) || (SUPPORTED as readonly string[]).includes(base)) {
      throw errors.unsupportedQueryOption(name);
    }
  }
  return { top: found.top, skiptoken: found.skiptoken };
}

function parseCount(text: string | undefined): boolean {
  if (text === undefined) return false;
  const value = text.trim().toLowerCase();
  if (value !== 'true' && value !== 'false') throw errors.invalidQueryOption('$count', `it must be true or false; got '${text.slice(0, 40)}'`);
  return value === 'true';
}

function parseOrderBy(text: string | undefined, schema: ListSchema): { orderBy: ListQuery['orderBy']; descending: boolean } {
  if (text === undefined) return { orderBy: 'id', descending: false };
  const match = /^\s*([A-Za-z_][\w.]*)(?:\s+(asc|desc))?\s*$/i.exec(text);
  if (match === null) throw errors.invalidQueryOption('$orderby', 'Portrait sorts by displayName only, ascending or descending (`displayName desc`)');
  const [, name = '', direction] = match;
  if (!schema.has(name)) throw errors.unknownQueryProperty(name, schema.type);
  if (name.toLowerCase() !== 'displayname') {
    throw errors.invalidQueryOption('$orderby', `Portrait sorts by displayName only, not by ${name}`);
  }
  return { orderBy: 'displayName', descending: direction?.toLowerCase() === 'desc' };
}

function parseSelect(text: string | undefined, schema: ListSchema): readonly string[] | undefined {
  if (text === undefined) return undefined;
  if (text.length > MAX_SELECT_LENGTH) throw errors.invalidQueryOption('$select', `it is longer than ${MAX_SELECT_LENGTH} characters`);
  const names = text.split(',').map((name) => name.trim());
  if (names.some((name) => name === '')) throw errors.invalidQueryOption('$select', 'it names an empty property');
  if (names.includes(SELECT_ALL)) return undefined;
  const chosen = new Set<string>();
  for (const name of names) {
    const canonical = schema.properties.find((p) => p.toLowerCase() === name.toLowerCase());
    if (canonical === undefined) throw errors.unknownQueryProperty(name, schema.type);
    chosen.add(canonical);
  }
  if (schema.keepsId) chosen.add('id');
  return schema.properties.filter((p) => chosen.has(p));
}
