// A ListQuery (list-query.ts) as SQL for either store: the WHERE, ORDER BY and LIMIT of
// one page, and the count. Every value a client sent is a bound parameter, never text
// in the statement; property names come from fixed column maps, never from the client.
// Both dialects compare text by lower() on both sides, so each store is consistent with
// itself (SQLite's lower() folds ASCII only, PostgreSQL's all of Unicode): a page's end
// and the next page's start are compared by the same database that ordered them.
import type { Condition, ListQuery } from './list-query.js';

export interface Dialect {
  /** A placeholder for the next parameter: '?' (SQLite) or '$n' (PostgreSQL). */
  placeholder(index: number): string;
  /** How the database takes a boolean parameter. */
  boolean(value: boolean): unknown;
  /** The sort key of a text column: PostgreSQL orders it byte by byte, like SQLite. */
  sortKey(expression: string): string;
}

export const SQLITE: Dialect = {
  placeholder: () => '?',
  boolean: (value) => (value ? 1 : 0),
  sortKey: (expression) => `lower(${expression})`,
};

export const POSTGRES: Dialect = {
  placeholder: (index) => `$${index}`,
  boolean: (value) => value,
  sortKey: (expression) => `(lower(${expression}) COLLATE "C")`,
};

export interface ListTable {
  readonly table: string;
  /** Property → column, and whether the column is text or boolean. */
  readonly columns: Readonly<Record<string, ListColumn>>;
}

interface ListColumn {
  readonly column: string;
  readonly type: 'text' | 'boolean';
  /**
   * Stored lower-cased already (by String.prototype.toLowerCase, as the value here is): eq and
   * in compare the bare column, so its primary key or unique index finds the rows.
   */
  readonly folded?: true;
}

export const USERS_TABLE: ListTable = {
  table: 'users',
  columns: {
    id: { column: 'id', type: 'text', folded: true },
    displayName: { column: 'display_name', type: 'text' },
    userPrincipalName: { column: 'upn_key', type: 'text', folded: true },
    mail: { column: 'mail', type: 'text' },
    userType: { column: 'user_type', type: 'text' },
  },
};

export const GROUPS_TABLE: ListTable = {
  table: 'groups',
  columns: {
    id: { column: 'id', type: 'text', folded: true },
    displayName: { column: 'display_name', type: 'text' },
    mailNickname: { column: 'mail_nickname', type: 'text' },
    description: { column: 'description', type: 'text' },
    unified: { column: 'unified', type: 'boolean' },
    hasTeam: { column: 'has_team', type: 'boolean' },
  },
};

export const FOLDERS_TABLE: ListTable = {
  table: 'contact_folders',
  columns: {
    id: { column: 'id', type: 'text' },
    displayName: { column: 'display_name', type: 'text' },
    parentFolderId: { column: 'parent_folder_id', type: 'text' },
  },
};

export const CONTACTS_TABLE: ListTable = {
  table: 'contacts',
  columns: {
    id: { column: 'id', type: 'text' },
    displayName: { column: 'display_name', type: 'text' },
    givenName: { column: 'given_name', type: 'text' },
    surname: { column: 'surname', type: 'text' },
    folderId: { column: 'folder_id', type: 'text' },
  },
};

/** One list's scope: the conditions every row of it meets, e.g. its tenant. Columns are the store's own. */
export interface Scope {
  /** Column → value; null is matched with IS NULL. */
  readonly [column: string]: string | null;
}

export interface PageStatements {
  readonly page: { readonly sql: string; readonly params: unknown[] };
  readonly count: { readonly sql: string; readonly params: unknown[] } | undefined;
}

/** The statements of one page (limit + 1 rows: the extra one says whether more follow) and its count. */
export function pageStatements(dialect: Dialect, list: ListTable, scope: Scope, query: ListQuery, columns = '*'): PageStatements {
  const built = new Builder(dialect, list);
  const filters = [built.scope(scope)];
  if (query.where) filters.push(built.condition(query.where));
  const countWhere = filters.join(' AND ');
  const countParams = [...built.params];

  const name = dialect.sortKey('display_name');
  const keys = query.orderBy === 'displayName' ? [name, 'id'] : ['id'];
  const direction = query.descending ? 'DESC' : 'ASC';
  if (query.after) {
    const beyond = query.descending ? '<' : '>';
    if (query.orderBy === 'displayName') {
      // (name, id) beyond the cursor, written so that the name's part is a range on the
      // (name, id) index in both databases (SQLite does not range-scan an expression index
      // by a row value): the page starts there instead of scanning from the tenant's first name.
      // Each placeholder its own parameter: SQLite's '?' are positional.
      const cursorName = () => dialect.sortKey(built.param(query.after?.displayName ?? ''));
      const from = `${name} ${beyond}= ${cursorName()}`;
      filters.push(`${from} AND (${name} ${beyond} ${cursorName()} OR id ${beyond} ${built.param(query.after.id)})`);
    } else {
      filters.push(`id ${beyond} ${built.param(query.after.id)}`);
    }
  }
  const limit = built.param(query.limit + 1);
  const page = {
    sql: `SELECT ${columns} FROM ${list.table} WHERE ${filters.join(' AND ')} ORDER BY ${keys.map((k) => `${k} ${direction}`).join(', ')} LIMIT ${limit}`,
    params: built.params,
  };
  const count = query.count ? { sql: `SELECT count(*) AS n FROM ${list.table} WHERE ${countWhere}`, params: countParams } : undefined;
  return { page, count };
}

class Builder {
  readonly params: unknown[] = [];
  readonly #dialect: Dialect;
  readonly #list: ListTable;

  constructor(dialect: Dialect, list: ListTable) {
    this.#dialect = dialect;
    this.#list = list;
  }

  param(value: unknown): string {
    this.params.push(value);
    return this.#dialect.placeholder(this.params.length);
  }

  scope(scope: Scope): string {
    return Object.entries(scope)
      .map(([column, value]) => (value === null ? `${column} IS NULL` : `${column} = ${this.param(value)}`))
      .join(' AND ');
  }

  condition(condition: Condition): string {
    switch (condition.kind) {
      case 'and':
      case 'or':
        return `(${condition.conditions.map((c) => this.condition(c)).join(` ${condition.kind.toUpperCase()} `)})`;
      case 'never':
        return '(1 = 0)';
      case 'eq':
      case 'ne': {
        const { column, type, folded } = this.#column(condition.property);
        const { value } = condition;
        if (value === null) return `(${column} IS ${condition.kind === 'eq' ? '' : 'NOT '}NULL)`;
        if (type === 'boolean') {
          if (typeof value !== 'boolean') return condition.kind === 'eq' ? '(1 = 0)' : '(1 = 1)';
          return `(${column} ${condition.kind === 'eq' ? '=' : '<>'} ${this.param(this.#dialect.boolean(value))})`;
        }
        if (typeof value !== 'string') return condition.kind === 'eq' ? '(1 = 0)' : `(1 = 1)`;
        const equal = folded ? `${column} = ${this.param(value.toLowerCase())}` : `lower(${column}) = lower(${this.param(value)})`;
        // OData: null ne 'x' is true.
        return condition.kind === 'eq' ? `(${equal})` : `(${column} IS NULL OR NOT (${equal}))`;
      }
      case 'in': {
        const { column, folded } = this.#text(condition.property);
        if (condition.values.length === 0) return '(1 = 0)';
        if (folded) return `(${column} IN (${condition.values.map((v) => this.param(v.toLowerCase())).join(', ')}))`;
        return `(lower(${column}) IN (${condition.values.map((v) => `lower(${this.param(v)})`).join(', ')}))`;
      }
      case 'startsWith': {
        const { column } = this.#text(condition.property);
        return `(lower(${column}) LIKE lower(${this.param(likePrefix(condition.value))}) ESCAPE '\\')`;
      }
      case 'wordStartsWith': {
        const { column } = this.#text(condition.property);
        const prefix = likePrefix(condition.value);
        const patterns = [prefix, ...WORD_SEPARATORS.map((separator) => `%${likePrefix(separator).slice(0, -1)}${prefix}`)];
        return `(${patterns.map((pattern) => `lower(${column}) LIKE lower(${this.param(pattern)}) ESCAPE '\\'`).join(' OR ')})`;
      }
    }
  }

  #column(property: string): ListColumn {
    const column = Object.hasOwn(this.#list.columns, property) ? this.#list.columns[property] : undefined;
    // The HTTP layer names only known properties; anything else is a bug, not a client's error.
    if (column === undefined) throw new Error(`${this.#list.table} has no listable property '${property}'`);
    return column;
  }

  #text(property: string): ListColumn {
    const column = this.#column(property);
    if (column.type !== 'text') throw new Error(`${this.#list.table}.${property} is not text`);
    return column;
  }
}

/** What starts a word for $search, as Graph tokenizes names and addresses: "O'Neil", "ana-maria", "a.b@contoso.com". */
const WORD_SEPARATORS = [' ', '-', '.', '_', '@', "'"];

/** A LIKE pattern matching text that starts with `value`: its %, _ and \ are taken literally. */
function likePrefix(value: string): string {
  return `${value.replace(/[\\%_]/g, '\\$&')}%`;
}
