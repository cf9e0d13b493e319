// JSON request bodies of the directory endpoints: read under the body limit,
// parsed, and each member checked where it enters, naming the member that is wrong.
import { errors } from '../errors.js';
import type { GraphContext } from './graph-context.js';
import { BODY_LIMIT } from './limits.js';
import { readBody } from './read-body.js';

export type JsonObject = Record<string, unknown>;

export async function readJsonObject(context: GraphContext): Promise<JsonObject> {
  const bytes = await readBody(context.request.raw, context.request.body, BODY_LIMIT);
  let value: unknown;
  try {
    value = bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'));
  } catch {
    throw errors.badJson();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw errors.badJson();
  return value as JsonObject;
}

/** A required, non-empty string member of at most `max` characters. */
export function requiredString(body: JsonObject, name: string, type: string, max = 256): string {
  const value = body[name];
  if (value === undefined || value === null) throw errors.missingProperty(name, type);
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw errors.invalidProperty(name, `a non-empty string of at most ${max} characters`, value);
  }
  return value;
}

export function optionalString(body: JsonObject, name: string, max = 1024): string | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > max) {
    throw errors.invalidProperty(name, `a string of at most ${max} characters`, value);
  }
  return value;
}
