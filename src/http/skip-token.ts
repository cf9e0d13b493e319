// The $skiptoken of an @odata.nextLink: opaque to clients, but only a position — the
// sort key of the last object answered — and a fingerprint of the listing it belongs
// to (which list, which condition, which order). No secret is needed: a forged token can
// only point somewhere in a listing the caller may read anyway. A token that is not one
// Portrait made, or was made for another listing, is a 400 naming $skiptoken; nothing of
// it reaches a store unchecked.
import { createHash } from 'node:crypto';
import { errors } from '../errors.js';
import type { ListCursor } from '../storage/list-query.js';

const VERSION = 1;
/** Room for the longest sort key (a 1024-character displayName, escaped, in base64). */
const MAX_TOKEN_LENGTH = 8192;
const MAX_KEY_LENGTH = 4096;

/** What a token is bound to: any change to it (another list, filter or order) makes old tokens foreign. */
export function listingFingerprint(listing: unknown): string {
  return createHash('sha256').update(JSON.stringify(listing)).digest('base64url').slice(0, 16);
}

export function encodeSkipToken(fingerprint: string, cursor: ListCursor): string {
  const fields = cursor.displayName === undefined ? [VERSION, fingerprint, cursor.id] : [VERSION, fingerprint, cursor.id, cursor.displayName];
  return Buffer.from(JSON.stringify(fields), 'utf8').toString('base64url');
}

/** The cursor in `token`, which must have been made for `fingerprint` with (or without) a displayName. */
export function decodeSkipToken(token: string, fingerprint: string, byDisplayName: boolean): ListCursor {
  const foreign = () => errors.invalidQueryOption('$skiptoken', 'it is not one this listing gave out; follow @odata.nextLink as it is');
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw foreign();
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw foreign();
  }
  if (!Array.isArray(fields) || fields[0] !== VERSION || fields[1] !== fingerprint) throw foreign();
  const [, , id, displayName] = fields as unknown[];
  if (!isKey(id)) throw foreign();
  if (byDisplayName) {
    if (fields.length !== 4 || !isKey(displayName)) throw foreign();
    return { id, displayName };
  }
  if (fields.length !== 3) throw foreign();
  return { id };
}

function isKey(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_KEY_LENGTH && !value.includes('\u0000');
}
