// What a store is asked for when it lists users, groups, contact folders or contacts
// one page at a time: a condition (Graph's $filter and $search, already parsed and
// checked by http/odata-query.ts), an order, where the previous page ended and how
// many to answer. Stores page by key ("keyset"), never by offset: the next page starts
// after the last object answered, so a walk neither repeats nor skips objects that
// were there all along while others are added or removed meanwhile.

/** The properties a condition may name, as the domain objects (store.ts) name them. */
export type UserProperty = 'id' | 'displayName' | 'userPrincipalName' | 'mail' | 'userType';
export type GroupProperty = 'id' | 'displayName' | 'mailNickname' | 'description' | 'unified' | 'hasTeam';
export type ContactFolderProperty = 'id' | 'displayName' | 'parentFolderId';
export type ContactProperty = 'id' | 'displayName' | 'givenName' | 'surname' | 'folderId';

/**
 * A condition on one list's objects. Text compares without regard to case, as Graph's
 * directory does; a property holding null is unequal to every text.
 */
export type Condition<P extends string = string> =
  | { readonly kind: 'and' | 'or'; readonly conditions: readonly Condition<P>[] }
  | { readonly kind: 'eq' | 'ne'; readonly property: P; readonly value: string | boolean | null }
  | { readonly kind: 'in'; readonly property: P; readonly values: readonly string[] }
  | { readonly kind: 'startsWith'; readonly property: P; readonly value: string }
  /** $search's "property:term": some word of the property starts with the term. */
  | { readonly kind: 'wordStartsWith'; readonly property: P; readonly value: string }
  /** Matches nothing (e.g. groupTypes/any(t: t eq 'DynamicMembership'): Portrait keeps no such group). */
  | { readonly kind: 'never' };

/** Where the previous page ended: its last object's sort key. */
export interface ListCursor {
  /** Present when the order is by displayName. */
  readonly displayName?: string;
  readonly id: string;
}

export interface ListQuery<P extends string = string> {
  readonly where?: Condition<P> | undefined;
  /**
   * 'id': by object id, the default — ids never change, so the walk is the steadiest.
   * 'displayName': by displayName without regard to case, then id.
   */
  readonly orderBy: 'id' | 'displayName';
  readonly descending: boolean;
  readonly after?: ListCursor | undefined;
  /** At most this many objects (1–999). */
  readonly limit: number;
  /** Also count every object the condition matches, on all pages. */
  readonly count: boolean;
}

export interface Page<T> {
  readonly items: T[];
  /** More objects follow the last one. */
  readonly more: boolean;
  /** Present when the query asked for it. */
  readonly count?: number;
}

/** The page size Graph answers when no $top is given, and the most $top may ask. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 999;

/** The cursor after `item`, for the order the query used. */
export function cursorAfter(item: { readonly id: string; readonly displayName: string }, orderBy: ListQuery['orderBy']): ListCursor {
  return orderBy === 'displayName' ? { displayName: item.displayName, id: item.id } : { id: item.id };
}
