// The userPrincipalName of a guest invited by email (POST /invitations, `portrait import`):
// Entra's form, `{email with '@' as '_'}#EXT#@{tenant's domain}`
// (https://learn.microsoft.com/entra/external-id/user-properties), in the tenant's
// portrait.localhost domain. An invitation reuses the guest that has this name, so two
// different addresses must never get the same one: a guest would be merged into another.
//
// Most addresses map as they are, which keeps the names of guests made before. Any other
// address — a character a UPN refuses ('+', '&', …), a period where one may not be, a
// domain that is not a dotted DNS name, too long — maps lossily, so its name also carries
// a hash of the whole address. The two forms cannot meet: an address kept as it is ends
// in `_{domain}` with a '.' in the domain, a hashed one in `_{16 hex digits}`.
import { createHash } from 'node:crypto';
import { MAX_LENGTH, MAX_LOCAL_LENGTH, portraitDomain } from './user-principal-name.js';

const GUEST_MARK = '#EXT#';
const AS_IS = /^[A-Za-z0-9'_!#^~-][A-Za-z0-9'._!#^~-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/;
const REFUSED = /[^A-Za-z0-9'._!#^~-]/g;

export function guestUserPrincipalName(tenantId: string, email: string): string {
  const domain = portraitDomain(tenantId);
  const room = Math.min(MAX_LOCAL_LENGTH, MAX_LENGTH - domain.length - 1) - GUEST_MARK.length;
  const asIs = email.replace('@', '_');
  if (AS_IS.test(email) && !email.includes('..') && asIs.length <= room) return `${asIs}${GUEST_MARK}@${domain}`;
  // Case does not make another address (names compare case-insensitively): the hash ignores it too.
  const hash = createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 16);
  const mapped = email.replace(REFUSED, '_').replace(/^\.|(?<=\.)\./g, '_');
  return `${mapped.slice(0, room - hash.length - 1)}_${hash}${GUEST_MARK}@${domain}`;
}
