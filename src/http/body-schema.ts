// The JSON Schema subset Portrait's request bodies are written in, and the one
// validator that checks bodies against them. The same schemas are published in
// /v1.0/openapi.json (http/openapi.ts), so what the document says is what is
// checked. Errors come from the catalog and name the first member that is wrong.
import { errors } from '../errors.js';

type JsonType = 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'null';

export interface JsonSchema {
  readonly type?: JsonType | readonly JsonType[];
  readonly title?: string;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  /** false: members not in `properties` nor matching `patternProperties` are refused. */
  readonly additionalProperties?: boolean | JsonSchema;
  readonly patternProperties?: Readonly<Record<string, JsonSchema>>;
  readonly items?: JsonSchema;
  readonly maxItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly default?: unknown;
  readonly readOnly?: boolean;
  readonly contentEncoding?: string;
  readonly contentMediaType?: string;
  readonly $ref?: string;
  readonly oneOf?: readonly JsonSchema[];
  readonly examples?: readonly unknown[];
}

/**
 * Checks `value` (a parsed JSON body) against an object schema. `typeName` is the Graph
 * type the messages name ('microsoft.graph.user'). Throws the catalog's 400s.
 */
export function validateBody(schema: JsonSchema, value: unknown, typeName: string): void {
  if (!isObject(value)) throw errors.badJson();
  checkObject(schema, value, '', typeName);
}

function checkObject(schema: JsonSchema, value: Record<string, unknown>, path: string, typeName: string): void {
  for (const name of schema.required ?? []) {
    const member = ownMember(value, name);
    if (member === undefined || member === null) throw errors.missingProperty(path + name, typeName);
  }
  for (const [name, member] of Object.entries(value)) {
    const memberSchema = ownMember(schema.properties ?? {}, name) ?? patternSchema(schema, name);
    if (memberSchema === undefined) {
      if (schema.additionalProperties === false) throw errors.unknownProperty(path + name, typeName);
      continue;
    }
    checkValue(memberSchema, member, path + name, typeName);
  }
}

/**
 * A member by a name the client chose: its own, never one every object inherits. Otherwise
 * 'toString', 'constructor' or '__proto__' would find Object.prototype's and pass as known.
 */
function ownMember<T>(object: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

function patternSchema(schema: JsonSchema, name: string): JsonSchema | undefined {
  for (const [pattern, patternSchema] of Object.entries(schema.patternProperties ?? {})) {
    if (new RegExp(pattern, 'u').test(name)) return patternSchema;
  }
  return undefined;
}

function checkValue(schema: JsonSchema, value: unknown, path: string, typeName: string): void {
  const fail = () => errors.invalidProperty(path, describe(schema), value);
  if (schema.const !== undefined && value !== schema.const) throw fail();
  if (schema.enum !== undefined && !schema.enum.includes(value)) throw fail();
  const types = schema.type === undefined ? undefined : ([] as JsonType[]).concat(schema.type);
  if (types !== undefined && !types.some((type) => hasType(value, type))) throw fail();
  if (typeof value === 'string') {
    // PostgreSQL text cannot hold U+0000, so no store may be given one; refused on every store alike.
    if (value.includes('\u0000')) throw errors.invalidProperty(path, 'text without U+0000 (NUL) characters', value);
    if (schema.minLength !== undefined && value.length < schema.minLength) throw fail();
    if (schema.maxLength !== undefined && value.length > schema.maxLength) throw fail();
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) throw fail();
  } else if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) throw fail();
    if (schema.maximum !== undefined && value > schema.maximum) throw fail();
  } else if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) throw fail();
    if (schema.items !== undefined) {
      for (const item of value) {
        if (schema.items.type === 'object' && !isObject(item)) throw fail();
        checkValue(schema.items, item, path, typeName);
      }
    }
  } else if (isObject(value) && schema.properties !== undefined) {
    checkObject(schema, value, `${path}.`, typeName);
  }
}

function hasType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      return typeof value === type;
  }
}

/** What a value of `schema` is, for messages: "an integer from 1 to 648". */
export function describe(schema: JsonSchema): string {
  if (schema.const !== undefined) return `'${String(schema.const)}'`;
  if (schema.enum !== undefined) return `one of ${schema.enum.map((v) => `'${String(v)}'`).join(', ')}`;
  const type = ([] as JsonType[]).concat(schema.type ?? []).find((t) => t !== 'null');
  switch (type) {
    case 'integer':
      if (schema.minimum !== undefined && schema.maximum !== undefined) return `an integer from ${schema.minimum} to ${schema.maximum}`;
      return 'an integer';
    case 'string':
      if (schema.format === 'email') return 'an email address';
      if (schema.maxLength === undefined) return 'a string';
      return `${(schema.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string'} of at most ${schema.maxLength} characters`;
    case 'array': {
      const item = schema.items?.title === undefined ? 'items' : `${schema.items.title} objects`;
      return schema.maxItems === undefined ? `an array of ${item}` : `an array of at most ${schema.maxItems} ${item}`;
    }
    case 'object':
      return schema.title === undefined ? 'an object' : `a ${schema.title} object`;
    default:
      return type === undefined ? 'a value' : `a ${type}`;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
