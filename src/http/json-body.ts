// JSON request bodies: read under the body limit, parsed, and checked against the
// operation's own request schema (http/graph-api.ts) — the schema published in
// openapi.json — so that every error names the member that is wrong.
import { errors } from '../errors.js';
import { validateBody } from './body-schema.js';
import type { GraphContext } from './graph-context.js';
import { SCHEMAS } from './graph-api.js';
import { BODY_LIMIT } from './limits.js';
import { JSON_DEPTH_LIMIT, parseJson } from './parse-json.js';

export type JsonObject = Record<string, unknown>;

/** The body as a JSON object that satisfies the operation's request schema; an empty body is {}. */
export async function readJsonBody(context: GraphContext): Promise<JsonObject> {
  const bytes = await context.bodies.read(context.request, context.reply, BODY_LIMIT);
  const value = bytes.length === 0 ? {} : parseJsonBody(bytes);
  const request = context.operation.request;
  if (request?.kind !== 'json') throw new Error(`${context.request.method} ${context.request.url} takes no JSON body`);
  validateBody(SCHEMAS[request.schema], value, request.graphType ?? request.schema);
  return value as JsonObject;
}

/** A JSON body as a value; 400 when it is not JSON or nests too deep. */
export function parseJsonBody(bytes: Buffer): unknown {
  const parsed = parseJson(bytes);
  if (parsed.ok) return parsed.value;
  throw parsed.tooDeep ? errors.jsonTooDeep(JSON_DEPTH_LIMIT) : errors.badJson();
}

/** A member the schema allows to be absent or null, as a string or null. */
export function textOrNull(body: JsonObject, name: string): string | null {
  const value = Object.hasOwn(body, name) ? body[name] : undefined;
  return typeof value === 'string' ? value : null;
}
