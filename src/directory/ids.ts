// Object ids: lower-case GUIDs, random for objects created through the API and
// name-based (RFC 9562 version 5) where the same input must give the same id —
// an import run twice, an application named twice.
import { createHash, randomUUID } from 'node:crypto';

export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function newId(): string {
  return randomUUID();
}

/** A version-5 style UUID from a name: stable across runs and machines. */
export function idFromName(...parts: readonly string[]): string {
  const hash = createHash('sha1').update(`portrait:${parts.join('\u0000')}`).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Each user has one drive; its id is derived from the user's, in OneDrive's "b!…" shape. */
export function driveIdFor(userId: string): string {
  return `b!${createHash('sha256').update(`drive:${userId}`).digest('base64url').slice(0, 32)}`;
}
