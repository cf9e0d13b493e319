// How Graph labels its JSON answers: OData's minimal metadata, streaming, numbers as JSON
// numbers, and the OData version (https://learn.microsoft.com/graph/use-the-api; OData
// JSON Format 4.01 §3, §4.5). Error answers stay plain application/json, as Graph's are.
import type { GraphContext } from './graph-context.js';

export const GRAPH_JSON_CONTENT_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
export const ODATA_VERSION = '4.0';

/** Sends a JSON answer as Graph labels it (Cache-Control is the app's default, no-store). */
export function sendGraphJson(context: GraphContext, status: number, body: unknown): void {
  context.reply.code(status).header('content-type', GRAPH_JSON_CONTENT_TYPE).header('odata-version', ODATA_VERSION);
  return void context.reply.send(JSON.stringify(body));
}
