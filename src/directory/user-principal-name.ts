// A user's userPrincipalName (UPN): the one check every way a name gets in goes through —
// POST /users, `portrait import`, `portrait token --user`, and a token's upn claim when
// Directory.provisionCaller creates the caller's user.
//
// Why it is strict: a path's {user-id} is an object id or a UPN, told apart by shape (ids
// are GUIDs, a UPN holds '@'), so a name that could pass for an id, or for anything but a
// name, would let one user stand in for another (issue 9).
//
// The rules are Entra ID's: the user resource's userPrincipalName ("alias@domain"; only
// A–Z a–z 0–9 ' . - _ ! # ^ ~; https://learn.microsoft.com/graph/api/resources/user#properties)
// and its username policies (one '@', at most 64 characters before it and 113 in all, no
// period just before the '@'; https://learn.microsoft.com/entra/identity/authentication/concept-sspr-policy#username-policies),
// with the local part a dot-atom (RFC 5322 §3.2.3: no leading, trailing or doubled period)
// and the domain a DNS host name (RFC 1123 §2.1). Entra's further limit of 48 characters
// after the '@' is not kept: Portrait's own domain, `{tenant id}.portrait.localhost`, has 55.
import { errors } from '../errors.js';

/**
 * Portrait's own domain for the names it makes: guests (guest-user-principal-name.ts) and
 * callers whose token names no usable UPN. `.localhost` is reserved (RFC 6761 §6.3), so no
 * real directory has it, and clients may not use it: a name Portrait makes is never taken.
 */
export const PORTRAIT_DOMAIN = 'portrait.localhost';

export const MAX_LENGTH = 113;
export const MAX_LOCAL_LENGTH = 64;

/** Who made the name: a client's names may not be in PORTRAIT_DOMAIN. */
export type NameMaker = 'client' | 'portrait';

const LOCAL_CHARACTER = /[A-Za-z0-9'._!#^~-]/;
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** The tenant's domain under PORTRAIT_DOMAIN. */
export function portraitDomain(tenantId: string): string {
  return `${tenantId}.${PORTRAIT_DOMAIN}`;
}

/** The name of a user created on first sight whose token's upn is not usable: unique by the token's (tid, oid). */
export function provisionedUserPrincipalName(tenantId: string, objectId: string): string {
  return `${objectId}@${portraitDomain(tenantId)}`;
}

/** What is wrong with the name, in words for a message; undefined when it is a valid UPN. */
export function userPrincipalNameProblem(value: string, madeBy: NameMaker = 'client'): string | undefined {
  const at = value.indexOf('@');
  if (at < 0 || at !== value.lastIndexOf('@')) return "it must be alias@domain, with one '@'";
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local === '') return "the part before '@' is empty";
  for (const character of local) {
    if (!LOCAL_CHARACTER.test(character)) {
      return `the part before '@' may hold only A–Z, a–z, 0–9 and ' . - _ ! # ^ ~, not ${shown(character)}`;
    }
  }
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return "the part before '@' may not begin or end with '.' or hold '..'";
  }
  if (local.length > MAX_LOCAL_LENGTH) return `the part before '@' has ${local.length} characters; at most ${MAX_LOCAL_LENGTH} are allowed`;
  if (!domain.split('.').every((label) => DNS_LABEL.test(label))) {
    return "the part after '@' must be a DNS name: labels of A–Z, a–z, 0–9 and '-' (not first or last), joined by '.'";
  }
  if (value.length > MAX_LENGTH) return `it has ${value.length} characters; at most ${MAX_LENGTH} are allowed`;
  const lowerDomain = domain.toLowerCase();
  if (madeBy === 'client' && (lowerDomain === PORTRAIT_DOMAIN || lowerDomain.endsWith(`.${PORTRAIT_DOMAIN}`))) {
    return `the domain ${PORTRAIT_DOMAIN} is Portrait's own, for the guests and users it names itself`;
  }
  return undefined;
}

/** Throws the catalog's 400 InvalidPropertyValue naming userPrincipalName and why, unless the name is valid. */
export function checkUserPrincipalName(value: string, madeBy: NameMaker = 'client'): void {
  const problem = userPrincipalNameProblem(value, madeBy);
  if (problem !== undefined) throw errors.invalidUserPrincipalName(problem);
}

/** A character for a message: itself when visible ASCII, else its code point (a NUL must not end up in a log line). */
function shown(character: string): string {
  return /^[!-~]$/.test(character) ? `'${character}'` : `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}
