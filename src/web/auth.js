// Signing in: the authorization code flow with PKCE (S256), as a public OpenID Connect
// client, written here with WebCrypto instead of a library (nothing to bundle, nothing
// loaded from elsewhere). Where people sign in and as which client comes from
// /web/config.json: the built-in issuer of this server, or the organisation's provider.
// The verifier and state live in sessionStorage for the round trip; the tokens in
// sessionStorage too, so that a reload keeps the person signed in but a closed tab does not.

const PENDING = 'portrait.pending';
const TOKENS = 'portrait.tokens';
/** The administrator roles that may change others' photos (contract §7): Global, User and People Administrator. */
const ADMIN_ROLES = ['62e90394-69f5-4237-9190-012177145e10', 'fe930be7-5e62-47db-91af-98c3a49a38b1', '024906de-61e5-49c8-8572-40335f1e0e10'];
/** Refresh a little before the access token expires. */
const EARLY_SECONDS = 60;

let config;
let discovery;

function base64url(bytes) {
  let text = '';
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomText(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function fetchJson(url, init) {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error_description ?? body.error ?? `HTTP ${response.status}`);
  return body;
}

export async function loadConfig() {
  config ??= await fetchJson('/web/config.json');
  discovery ??= await fetchJson(`${config.authority}/.well-known/openid-configuration`);
  return config;
}

/** This page, where the code comes back: the server's origin and "/", exactly as registered. */
function redirectUri() {
  return `${location.origin}/`;
}

/** Leaves for the sign-in page; the promise never resolves. */
export async function signIn(uiLocale) {
  await loadConfig();
  const verifier = randomText();
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = randomText(16);
  const nonce = randomText(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, nonce, hash: location.hash }));
  const url = new URL(discovery.authorization_endpoint);
  const parameters = {
    client_id: config.clientId,
    response_type: 'code',
    response_mode: 'query',
    redirect_uri: redirectUri(),
    scope: config.scopes.join(' '),
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ui_locales: uiLocale,
  };
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  location.assign(url.toString());
  return new Promise(() => {});
}

async function tokenRequest(form) {
  const body = new URLSearchParams({ client_id: config.clientId, ...form });
  const answer = await fetchJson(discovery.token_endpoint, { method: 'POST', body });
  const tokens = {
    access: answer.access_token,
    refresh: answer.refresh_token,
    expiresAt: Date.now() / 1000 + Number(answer.expires_in ?? 3600),
  };
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  return tokens;
}

/**
 * When the page is the redirect back from the sign-in page: redeems the code and cleans the
 * URL. Returns the hash the person was at before signing in, or throws the provider's reason.
 */
export async function completeSignIn() {
  const query = new URLSearchParams(location.search);
  if (!query.has('code') && !query.has('error')) return undefined;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', `/${pending?.hash ?? ''}`);
  if (query.has('error')) throw new Error(query.get('error_description') ?? query.get('error'));
  // A code this tab did not ask for (another tab's, or a forged link) is not redeemed.
  if (pending === null || query.get('state') !== pending.state) throw new Error('state mismatch');
  await loadConfig();
  await tokenRequest({ grant_type: 'authorization_code', code: query.get('code'), redirect_uri: redirectUri(), code_verifier: pending.verifier });
  return pending.hash;
}

function kept() {
  return JSON.parse(sessionStorage.getItem(TOKENS) ?? 'null');
}

export function signedIn() {
  return kept() !== null;
}

/** A usable access token, refreshed when it is about to expire; undefined when signed out. */
export async function accessToken() {
  const tokens = kept();
  if (tokens === null) return undefined;
  if (tokens.expiresAt - EARLY_SECONDS > Date.now() / 1000) return tokens.access;
  if (tokens.refresh === undefined) return undefined;
  // A refresh token is used once: calls that need a token meanwhile wait for the same refresh,
  // instead of spending it again (the second would fail and sign the person out).
  refreshing ??= refresh(tokens.refresh).finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

let refreshing;

async function refresh(token) {
  await loadConfig();
  try {
    return (await tokenRequest({ grant_type: 'refresh_token', refresh_token: token })).access;
  } catch {
    forget();
    return undefined;
  }
}

/**
 * What the token says of the person: name, user principal name, and whether an
 * administrator role is among its wids (then People and groups is shown; the API decides
 * anyway). Read only to shape the page, never trusted for anything.
 */
export function claims() {
  const tokens = kept();
  if (tokens === null) return {};
  try {
    const part = tokens.access.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    const payload = JSON.parse(json);
    return {
      name: payload.name,
      userPrincipalName: payload.upn ?? payload.preferred_username,
      admin: Array.isArray(payload.wids) && payload.wids.some((id) => ADMIN_ROLES.includes(String(id).toLowerCase())),
    };
  } catch {
    return {};
  }
}

export function forget() {
  sessionStorage.removeItem(TOKENS);
}

/** Forgets the tokens and, when the provider has one, goes by its end-session endpoint back here. */
export async function signOut() {
  forget();
  await loadConfig();
  if (discovery.end_session_endpoint === undefined) return;
  const url = new URL(discovery.end_session_endpoint);
  url.searchParams.set('client_id', config.clientId);
  url.searchParams.set('post_logout_redirect_uri', redirectUri());
  location.assign(url.toString());
}

export function isBuiltIn() {
  return config?.builtIn === true;
}
