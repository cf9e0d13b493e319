// The `scope` a client asks for at sign-in (OAuth 2.0 authorization code), read as Entra ID
// reads it: OpenID Connect's scopes, and delegated permissions of one resource, named bare
// ("User.ReadWrite", Microsoft Graph's), qualified ("https://graph.microsoft.com/User.ReadWrite",
// "{audience}/Perm" for a `serve --audience`) or as `{resource}/.default`.
// https://learn.microsoft.com/entra/identity-platform/scopes-oidc
import { GRAPH_AUDIENCE } from './built-in-issuer.js';
import { DEFAULT_USER_SCOPES, DELEGATED_PERMISSIONS } from './permissions.js';

/** Microsoft Graph's application id, which also names it as a resource. */
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
/** OpenID Connect's scopes: beside a resource's /.default (client credentials) they ask for nothing. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'email', 'offline_access']);

/** What Entra gives a sign-in that names no resource: Graph, to read the user's own profile. */
const NO_RESOURCE_SCOPES = ['User.Read'];
/** A scope parameter is a few hundred characters; anything past these is no sign-in request. */
const MAX_SCOPES = 50;
const MAX_SCOPE_LENGTH = 256;

const CANONICAL = new Map([...DELEGATED_PERMISSIONS].map((name) => [name.toLowerCase(), name]));

export interface GrantedScopes {
  /** The access token's audience. */
  readonly audience: string;
  /** Its scp: delegated permissions, in their canonical spelling, each once. */
  readonly permissions: readonly string[];
  /** OpenID Connect's scopes asked for (an id_token for openid, a refresh token for offline_access). */
  readonly oidc: ReadonlySet<string>;
}

export type ScopeReading = { readonly ok: true; readonly scopes: GrantedScopes } | { readonly ok: false; readonly why: string };

/** `audiences`: those `serve --audience` added, which may be asked for beside Graph. */
export function readRequestedScopes(scope: string, audiences: readonly string[]): ScopeReading {
  const words = scope.split(/[ ]+/).filter((word) => word !== '');
  if (words.length > MAX_SCOPES) return { ok: false, why: `at most ${MAX_SCOPES} scopes may be asked for at once` };
  const oidc = new Set<string>();
  const permissions = new Set<string>();
  let audience: string | undefined;
  for (const word of words) {
    if (word.length > MAX_SCOPE_LENGTH) return { ok: false, why: `a scope is at most ${MAX_SCOPE_LENGTH} characters` };
    if (OIDC_SCOPES.has(word.toLowerCase())) {
      oidc.add(word.toLowerCase());
      continue;
    }
    const slash = word.lastIndexOf('/');
    const resource = slash < 0 ? GRAPH_AUDIENCE : resourceOf(word.slice(0, slash), audiences);
    if (resource === undefined) {
      return { ok: false, why: `'${word}' names a resource Portrait issues no tokens for (${[GRAPH_AUDIENCE, ...audiences].join(', ')})` };
    }
    if (audience !== undefined && audience !== resource) return { ok: false, why: 'the scopes name more than one resource; ask for one at a time' };
    audience = resource;
    const name = word.slice(slash + 1);
    if (name.toLowerCase() === '.default') {
      for (const permission of DEFAULT_USER_SCOPES) permissions.add(permission);
      continue;
    }
    const permission = CANONICAL.get(name.toLowerCase());
    if (permission === undefined) return { ok: false, why: `'${name}' is no delegated permission Portrait knows` };
    permissions.add(permission);
  }
  return {
    ok: true,
    scopes: {
      audience: audience ?? GRAPH_AUDIENCE,
      permissions: permissions.size === 0 ? NO_RESOURCE_SCOPES : [...permissions],
      oidc,
    },
  };
}

/** The audience a resource names: Graph (by URL or application id) or one of `audiences`. */
export function resourceOf(resource: string, audiences: readonly string[]): string | undefined {
  if (isGraphResource(resource)) return GRAPH_AUDIENCE;
  const key = trimSlashes(resource).toLowerCase();
  return audiences.find((audience) => trimSlashes(audience).toLowerCase() === key);
}

/** Microsoft Graph, by its URL or its application id (`00000003-…/.default` asks for a Graph token too). */
export function isGraphResource(resource: string): boolean {
  const key = trimSlashes(resource).toLowerCase();
  return key === GRAPH_AUDIENCE || key === GRAPH_APP_ID;
}

function trimSlashes(text: string): string {
  return text.replace(/\/+$/, '');
}

/** How granted scopes are kept in a grant (store.ts OAuthGrant.scopes): qualified, as Entra names them. */
export function keptScopes(scopes: GrantedScopes): string[] {
  return [...scopes.oidc, ...scopes.permissions.map((permission) => `${scopes.audience}/${permission}`)];
}

/** The reverse of keptScopes. */
export function grantedFromKept(kept: readonly string[]): GrantedScopes {
  const oidc = new Set<string>();
  const permissions: string[] = [];
  let audience = GRAPH_AUDIENCE;
  for (const scope of kept) {
    const slash = scope.lastIndexOf('/');
    if (slash < 0) {
      oidc.add(scope);
    } else {
      audience = scope.slice(0, slash);
      permissions.push(scope.slice(slash + 1));
    }
  }
  return { audience, permissions, oidc };
}
