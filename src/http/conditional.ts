// Conditional requests (RFC 9110 §13): If-None-Match on reads gives 304 (weak
// comparison); If-Match and If-None-Match: * on writes become the store's
// precondition (strong comparison), so no update is lost to a race.
import type { Precondition } from '../storage/store.js';

type EntityTags = '*' | string[];

/** Parses a list of entity-tags; undefined when the header is absent or says nothing usable. */
function parseEntityTags(header: string | undefined): EntityTags | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return '*';
  const tags = header.match(/(?:W\/)?"[^"]*"/g);
  return tags ?? undefined;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** GET/HEAD: does If-None-Match match the current version (so the answer is 304)? */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  const tags = parseEntityTags(ifNoneMatch);
  if (tags === undefined) return false;
  return tags === '*' || tags.some((tag) => opaque(tag) === etag);
}

/** PUT, PATCH, DELETE: the precondition the write must hold under. */
export function writePrecondition(ifMatch: string | undefined, ifNoneMatch: string | undefined): Precondition {
  const match = parseEntityTags(ifMatch);
  const noneMatch = parseEntityTags(ifNoneMatch);
  return {
    // Strong comparison: a weak tag never matches (RFC 9110 §13.1.1).
    ...(match !== undefined && { ifMatch: match === '*' ? '*' : match.filter((tag) => !tag.startsWith('W/')) }),
    ...(noneMatch === '*' && { ifNoneMatch: '*' as const }),
  };
}
