// Graph's $filter and $search, the part of them Portrait answers, parsed into a store
// Condition (storage/list-query.ts). The parser is small and bounded: the text's length,
// how deep parentheses nest, how many clauses and `in` values there are — so no filter
// a client writes costs more than a few hundred bound parameters and a shallow recursion.
//
//   filter  := or
//   or      := and ('or' and)*
//   and     := primary ('and' primary)*
//   primary := '(' or ')' | property ('eq' | 'ne') literal | property 'in' '(' string (',' string)* ')'
//            | 'startswith' '(' property ',' string ')' | collection '/any(' v ':' v 'eq' string ')'
//   literal := string | 'null'        string := '…' with '' for a quote
//
//   search  := clause (('AND' | 'OR') clause)*      clause := '"' property ':' text '"'
//
// https://learn.microsoft.com/graph/filter-query-parameter, /graph/search-query-parameter
import { errors } from '../errors.js';
import type { Condition } from '../storage/list-query.js';

/** A property a listing can filter on: text, or a collection whose values stand for a condition. */
export type FilterProperty =
  | { readonly kind: 'text'; readonly name: string; readonly store: string; readonly search: boolean }
  | { readonly kind: 'collection'; readonly name: string; readonly values: (value: string) => Condition };

export interface FilterSchema {
  /** For messages: 'microsoft.graph.user'. */
  readonly type: string;
  /** Graph's names (any case, as Graph matches them) → what they are. */
  readonly property: (name: string) => FilterProperty | undefined;
  /** Whether the type has the property at all (filterable or not): unknown names are another error. */
  readonly has: (name: string) => boolean;
}

export const FILTER_LIMITS = {
  length: 2048,
  depth: 8,
  clauses: 32,
  inValues: 50,
  searchLength: 1024,
  searchClauses: 10,
  literalLength: 1024,
} as const;

type Token =
  | { readonly t: 'word'; readonly v: string; readonly at: number }
  | { readonly t: 'string'; readonly v: string; readonly at: number }
  | { readonly t: 'punct'; readonly v: '(' | ')' | ',' | '/' | ':'; readonly at: number }
  | { readonly t: 'end'; readonly at: number };

const COMPARISONS = new Set(['gt', 'ge', 'lt', 'le', 'has']);
const FUNCTIONS = new Set(['endswith', 'contains', 'substringof', 'tolower', 'toupper', 'length', 'indexof', 'trim', 'concat']);

export function parseFilter(text: string, schema: FilterSchema): Condition {
  if (text.length > FILTER_LIMITS.length) throw bad(`it is ${text.length} characters long; at most ${FILTER_LIMITS.length} are allowed`);
  if (text.trim() === '') throw bad('it is empty');
  return new FilterParser(tokenize(text), schema).parse();
}

function bad(detail: string): Error {
  return errors.invalidQueryOption('$filter', detail);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if ('(),/:'.includes(c)) {
      tokens.push({ t: 'punct', v: c as '(' | ')' | ',' | '/' | ':', at: i });
      i++;
    } else if (c === "'") {
      const at = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw bad(`the string at position ${at} has no closing quote`);
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i];
        i++;
      }
      checkLiteral(value, '$filter');
      tokens.push({ t: 'string', v: value, at });
    } else if (/[A-Za-z0-9_.-]/.test(c)) {
      const at = i;
      while (i < text.length && /[A-Za-z0-9_.-]/.test(text[i]!)) i++;
      tokens.push({ t: 'word', v: text.slice(at, i), at });
    } else {
      throw bad(`syntax error at position ${i}: '${c}' is not expected`);
    }
  }
  tokens.push({ t: 'end', at: text.length });
  return tokens;
}

/** Text a store can hold: no NUL (PostgreSQL refuses it), and not long. */
function checkLiteral(value: string, option: string): void {
  if (value.includes('\u0000')) throw errors.invalidQueryOption(option, 'a string holds U+0000 (NUL)');
  if (value.length > FILTER_LIMITS.literalLength) {
    throw errors.invalidQueryOption(option, `a string is longer than ${FILTER_LIMITS.literalLength} characters`);
  }
}

class FilterParser {
  readonly #tokens: Token[];
  readonly #schema: FilterSchema;
  #at = 0;
  #clauses = 0;

  constructor(tokens: Token[], schema: FilterSchema) {
    this.#tokens = tokens;
    this.#schema = schema;
  }

  parse(): Condition {
    const condition = this.#or(0);
    const rest = this.#peek();
    if (rest.t !== 'end') throw this.#syntax(rest);
    return condition;
  }

  #peek(): Token {
    return this.#tokens[this.#at]!;
  }

  #take(): Token {
    const token = this.#tokens[this.#at]!;
    if (token.t !== 'end') this.#at++;
    return token;
  }

  #syntax(token: Token): Error {
    const what = token.t === 'end' ? 'the filter ends too early' : `'${token.t === 'string' ? `'${token.v}'` : token.v}' is not expected`;
    return bad(`syntax error at position ${token.at}: ${what}`);
  }

  #isWord(token: Token, word: string): boolean {
    return token.t === 'word' && token.v.toLowerCase() === word;
  }

  #expect(punct: '(' | ')' | ',' | '/' | ':'): void {
    const token = this.#take();
    if (token.t !== 'punct' || token.v !== punct) throw this.#syntax(token);
  }

  #or(depth: number): Condition {
    const conditions = [this.#and(depth)];
    while (this.#isWord(this.#peek(), 'or')) {
      this.#take();
      conditions.push(this.#and(depth));
    }
    return conditions.length === 1 ? conditions[0]! : { kind: 'or', conditions };
  }

  #and(depth: number): Condition {
    const conditions = [this.#primary(depth)];
    while (this.#isWord(this.#peek(), 'and')) {
      this.#take();
      conditions.push(this.#primary(depth));
    }
    return conditions.length === 1 ? conditions[0]! : { kind: 'and', conditions };
  }

  #primary(depth: number): Condition {
    const token = this.#take();
    if (token.t === 'punct' && token.v === '(') {
      if (depth + 1 > FILTER_LIMITS.depth) throw bad(`parentheses nest deeper than ${FILTER_LIMITS.depth}`);
      const inner = this.#or(depth + 1);
      this.#expect(')');
      return inner;
    }
    if (token.t !== 'word') throw this.#syntax(token);
    if (++this.#clauses > FILTER_LIMITS.clauses) throw bad(`it has more than ${FILTER_LIMITS.clauses} clauses`);
    const next = this.#peek();
    const word = token.v.toLowerCase();
    if (next.t === 'punct' && next.v === '(') {
      if (word === 'startswith') return this.#startsWith();
      if (FUNCTIONS.has(word)) {
        this.#take();
        throw this.#unsupported(this.#take());
      }
      throw bad(`'${token.v}' is not a function Portrait knows`);
    }
    if (word === 'not') throw bad("'not' is not supported");
    if (next.t === 'punct' && next.v === '/') return this.#lambda(token);
    return this.#comparison(token);
  }

  #property(token: Token): FilterProperty {
    if (token.t !== 'word') throw this.#syntax(token);
    const property = this.#schema.property(token.v);
    if (property !== undefined) return property;
    if (this.#schema.has(token.v)) throw errors.unsupportedFilter(token.v, this.#schema.type);
    throw errors.unknownQueryProperty(token.v, this.#schema.type);
  }

  #text(token: Token): Extract<FilterProperty, { kind: 'text' }> {
    const property = this.#property(token);
    if (property.kind !== 'text') throw errors.unsupportedFilter(property.name, this.#schema.type);
    return property;
  }

  /** A function or comparison Portrait does not answer, on the property it names (if it names one). */
  #unsupported(token: Token): Error {
    if (token.t !== 'word') return this.#syntax(token);
    const property = this.#property(token);
    return errors.unsupportedFilter(property.name, this.#schema.type);
  }

  #string(): string {
    const token = this.#take();
    if (token.t !== 'string') throw this.#syntax(token);
    return token.v;
  }

  #startsWith(): Condition {
    this.#expect('(');
    const property = this.#text(this.#take());
    this.#expect(',');
    const value = this.#string();
    this.#expect(')');
    return { kind: 'startsWith', property: property.store, value };
  }

  #comparison(token: Token): Condition {
    const property = this.#text(token);
    const operator = this.#take();
    if (operator.t !== 'word') throw this.#syntax(operator);
    const op = operator.v.toLowerCase();
    if (op === 'eq' || op === 'ne') {
      const literal = this.#take();
      if (literal.t === 'string') return { kind: op, property: property.store, value: literal.v };
      if (this.#isWord(literal, 'null')) return { kind: op, property: property.store, value: null };
      if (literal.t === 'word') throw bad(`${property.name} is text: compare it with a quoted string or null, not ${literal.v}`);
      throw this.#syntax(literal);
    }
    if (op === 'in') {
      this.#expect('(');
      const values = [this.#string()];
      while (this.#peek().t === 'punct' && (this.#peek() as { v: string }).v === ',') {
        this.#take();
        values.push(this.#string());
        if (values.length > FILTER_LIMITS.inValues) throw bad(`'in' lists more than ${FILTER_LIMITS.inValues} values`);
      }
      this.#expect(')');
      return { kind: 'in', property: property.store, values };
    }
    if (COMPARISONS.has(op)) throw errors.unsupportedFilter(property.name, this.#schema.type);
    throw this.#syntax(operator);
  }

  /** collection/any(v: v eq 'value') */
  #lambda(token: Token): Condition {
    const property = this.#property(token);
    this.#expect('/');
    const any = this.#take();
    if (property.kind !== 'collection' || !this.#isWord(any, 'any')) throw errors.unsupportedFilter(property.name, this.#schema.type);
    this.#expect('(');
    const variable = this.#take();
    if (variable.t !== 'word') throw this.#syntax(variable);
    this.#expect(':');
    const again = this.#take();
    if (again.t !== 'word' || again.v !== variable.v) throw this.#syntax(again);
    if (!this.#isWord(this.#take(), 'eq')) throw errors.unsupportedFilter(property.name, this.#schema.type);
    const value = this.#string();
    this.#expect(')');
    return property.values(value);
  }
}

/**
 * $search="displayName:ali" [AND|OR "mail:ali@"…]: objects with a word of the property
 * starting with the text. AND binds closer than OR, as in $filter.
 */
export function parseSearch(text: string, schema: FilterSchema): Condition {
  const fail = (detail: string) => errors.invalidQueryOption('$search', detail);
  if (text.length > FILTER_LIMITS.searchLength) throw fail(`it is ${text.length} characters long; at most ${FILTER_LIMITS.searchLength} are allowed`);
  const pattern = /\s*"([^"]*)"\s*(?:(AND|OR)(?=\s*")|$)/iy;
  const ors: Condition[][] = [[]];
  let clauses = 0;
  pattern.lastIndex = 0;
  while (pattern.lastIndex < text.length) {
    const at = pattern.lastIndex;
    const match = pattern.exec(text);
    if (match === null) throw fail(`each clause is "property:text" in double quotes, joined by AND or OR; position ${at} is not`);
    if (++clauses > FILTER_LIMITS.searchClauses) throw fail(`it has more than ${FILTER_LIMITS.searchClauses} clauses`);
    const clause = match[1] ?? '';
    const colon = clause.indexOf(':');
    if (colon <= 0) throw fail(`"${clause}" names no property: write "displayName:${clause}"`);
    const name = clause.slice(0, colon).trim();
    const value = clause.slice(colon + 1).trim();
    const property = schema.property(name);
    if (property === undefined && !schema.has(name)) throw errors.unknownQueryProperty(name, schema.type);
    if (property?.kind !== 'text' || !property.search) throw errors.invalidQueryOption('$search', `${name} cannot be searched`);
    if (value === '') throw fail(`"${clause}" has no text to search for`);
    checkLiteral(value, '$search');
    ors.at(-1)!.push({ kind: 'wordStartsWith', property: property.store, value });
    if (match[2]?.toUpperCase() === 'OR') ors.push([]);
  }
  if (clauses === 0) throw fail('it is empty');
  const groups = ors.map((ands): Condition => (ands.length === 1 ? ands[0]! : { kind: 'and', conditions: ands }));
  return groups.length === 1 ? groups[0]! : { kind: 'or', conditions: groups };
}
