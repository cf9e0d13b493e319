// Where an application's authorization codes may be sent: registered with
// `portrait app add --redirect-uri`, and then matched exactly (RFC 6749 §3.1.2, OAuth 2.0
// Security BCP §4.1): no prefixes, no wildcards, so that no code is ever sent elsewhere.
// The rules are Entra ID's for a single-page app's redirect URIs.
// https://learn.microsoft.com/entra/identity-platform/reply-url

/** Entra's limit for one redirect URI. */
const REDIRECT_URI_LIMIT = 256;
/** Redirect URIs one application may have. */
export const REDIRECT_URIS_PER_APP = 20;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Why `uri` cannot be a redirect URI, or undefined when it can. */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > REDIRECT_URI_LIMIT) return `it is longer than ${REDIRECT_URI_LIMIT} characters`;
  if (/[\s*]/.test(uri)) return 'it holds a space or a wildcard';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'it is not an absolute URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    return 'it must use https, or http on localhost, 127.0.0.1 or [::1]';
  }
  if (url.hash !== '' || uri.includes('#')) return 'it must not have a fragment';
  if (url.username !== '' || url.password !== '') return 'it must not hold a user name or password';
  return undefined;
}
