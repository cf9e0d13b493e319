// Authorization codes and refresh tokens of the built-in issuer's sign-in (OAuth 2.0
// authorization code grant with PKCE, RFC 6749 §4.1 and RFC 7636). A code or a refresh
// token is 256 random bits given to the client; the store keeps only its SHA-256, and
// takes it out as it is redeemed, in one statement: used once, on whichever node.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { OAuthGrant, Store } from '../storage/store.js';

/** RFC 6749 §4.1.2 recommends at most ten minutes; a browser redeems its code within seconds. */
const CODE_TTL_MS = 5 * 60 * 1000;
/** What Entra gives a single-page app's refresh token: 24 hours, and a new one at each use. */
const REFRESH_TTL_MS = 24 * 60 * 60 * 1000;

/** RFC 7636 §4.1: 43 to 128 characters of the unreserved set. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/**
 * 32 bytes in base64url: 43 characters. An S256 challenge (the SHA-256 of the verifier) and
 * every code and refresh token this issues have this shape.
 */
const BASE64URL_32_BYTES = /^[A-Za-z0-9\-_]{43}$/;

export interface CodeRequest {
  readonly tenantId: string;
  readonly clientId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly nonce: string | null;
}

export interface CodeRedemption {
  readonly tenantId: string;
  readonly clientId: string;
  readonly redirectUri: string | undefined;
  readonly codeVerifier: string | undefined;
}

/** Why a grant was not honoured; the token endpoint words it (all are OAuth's invalid_grant). */
export type GrantRefusal = 'unknown' | 'another client' | 'redirect_uri differs' | 'code_verifier missing' | 'code_verifier wrong';

export type Redeemed = { readonly ok: true; readonly grant: OAuthGrant } | { readonly ok: false; readonly why: GrantRefusal };

export function isCodeChallenge(value: string): boolean {
  return BASE64URL_32_BYTES.test(value);
}

export class AuthorizationGrants {
  readonly #store: Pick<Store, 'saveOAuthGrant' | 'takeOAuthGrant'>;
  readonly #now: () => number;

  constructor(store: Pick<Store, 'saveOAuthGrant' | 'takeOAuthGrant'>, options: { readonly now?: () => number } = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
  }

  /** A new code for what the person agreed to; only its hash is kept. */
  async issueCode(request: CodeRequest): Promise<string> {
    const code = newSecretValue();
    await this.#store.saveOAuthGrant({
      grantHash: hashOf(code),
      kind: 'code',
      tenantId: request.tenantId,
      clientId: request.clientId,
      userId: request.userId,
      scopes: request.scopes,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      nonce: request.nonce,
      expiresAt: this.#now() + CODE_TTL_MS,
    });
    return code;
  }

  /**
   * Takes the code (whatever follows, it is spent: a wrong verifier cannot be retried) and
   * checks that the client, the redirect URI and the PKCE verifier are those it was issued for.
   */
  async redeemCode(code: string, redemption: CodeRedemption): Promise<Redeemed> {
    const grant = await this.#take(code, 'code', redemption.tenantId);
    if (grant === undefined) return { ok: false, why: 'unknown' };
    if (grant.clientId !== redemption.clientId) return { ok: false, why: 'another client' };
    if (grant.redirectUri !== redemption.redirectUri) return { ok: false, why: 'redirect_uri differs' };
    if (redemption.codeVerifier === undefined) return { ok: false, why: 'code_verifier missing' };
    if (!CODE_VERIFIER.test(redemption.codeVerifier) || !sameText(challengeOf(redemption.codeVerifier), grant.codeChallenge ?? '')) {
      return { ok: false, why: 'code_verifier wrong' };
    }
    return { ok: true, grant };
  }

  /** A new refresh token for the same person, client and permissions. */
  async issueRefresh(grant: Pick<OAuthGrant, 'tenantId' | 'clientId' | 'userId' | 'scopes'>): Promise<string> {
    const token = newSecretValue();
    await this.#store.saveOAuthGrant({
      grantHash: hashOf(token),
      kind: 'refresh',
      tenantId: grant.tenantId,
      clientId: grant.clientId,
      userId: grant.userId,
      scopes: grant.scopes,
      redirectUri: null,
      codeChallenge: null,
      nonce: null,
      expiresAt: this.#now() + REFRESH_TTL_MS,
    });
    return token;
  }

  /** Takes the refresh token: the client gets a new one with its tokens (rotation). */
  async redeemRefresh(token: string, tenantId: string, clientId: string): Promise<Redeemed> {
    const grant = await this.#take(token, 'refresh', tenantId);
    if (grant === undefined) return { ok: false, why: 'unknown' };
    if (grant.clientId !== clientId) return { ok: false, why: 'another client' };
    return { ok: true, grant };
  }

  async #take(value: string, kind: OAuthGrant['kind'], tenantId: string): Promise<OAuthGrant | undefined> {
    // Values are 43 base64url characters: anything else was never issued, and is not looked up.
    if (!BASE64URL_32_BYTES.test(value)) return undefined;
    const grant = await this.#store.takeOAuthGrant(hashOf(value), this.#now());
    return grant?.kind === kind && grant.tenantId === tenantId ? grant : undefined;
  }
}

function newSecretValue(): string {
  return randomBytes(32).toString('base64url');
}

function hashOf(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** RFC 7636 §4.2, S256: BASE64URL(SHA256(ASCII(code_verifier))). */
function challengeOf(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
