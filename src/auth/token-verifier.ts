// Bearer token verification with jose: signature, iss, aud, exp and nbf (with a
// small clock skew), for the built-in issuer and any configured OIDC issuers.
// A verified token is cached until it expires, so the read path pays for one
// signature check per token, not one per request.
import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { errors } from '../errors.js';
import { BUILT_IN_ISSUER_PREFIX, builtInIssuer, keyIdOf } from './built-in-issuer.js';
import { ADMIN_ROLE_TEMPLATE_IDS, type Principal } from './principal.js';

export interface TrustedIssuer {
  /** The expected `iss`; `{tenantid}` stands for the token's tid (Entra's multi-tenant form). */
  readonly issuer: string;
  /** Where its signing keys are; discovered from the issuer's OpenID configuration when absent. */
  readonly jwksUri: string | undefined;
}

export interface TokenVerifierOptions {
  /** The built-in issuer's public key, or undefined to trust configured issuers only. */
  readonly builtInKey: KeyObject | undefined;
  readonly trustedIssuers: readonly TrustedIssuer[];
  readonly audiences: readonly string[];
  readonly clockSkewSeconds: number;
  readonly cacheSize?: number;
  readonly now?: () => number;
}

export interface TokenVerifier {
  /** Resolves to the caller, or rejects with a 401 GraphError; never anything else. */
  verify(authorization: string | undefined): Promise<Principal>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const now = options.now ?? (() => Date.now() / 1000);
  const cacheSize = options.cacheSize ?? 10_000;
  const cache = new Map<string, Principal>();
  // One key set per concrete issuer; jose's remote set caches keys and refetches on an unknown kid.
  const remoteKeys = new Map<string, JWTVerifyGetKey>();
  const builtInKeyId = options.builtInKey && keyIdOf(options.builtInKey);

  /** The key to verify with; throws 401 (with the reason for the log) when the issuer is not trusted. */
  function keyFor(payload: JWTPayload, kid: string | undefined): KeyObject | JWTVerifyGetKey {
    const { iss, tid } = payload;
    if (typeof iss !== 'string' || typeof tid !== 'string') throw errors.tokenInvalid('no iss or tid claim');
    const trusted = options.trustedIssuers.find((t) => t.issuer.replace('{tenantid}', tid) === iss);
    // Another Portrait's built-in issuer names the same iss as this one's: when it is trusted
    // explicitly (--issuer 'https://portrait.localhost/{tenantid}/v2.0=JWKS'), its tokens are
    // told from this one's own by their key id.
    if (options.builtInKey && iss.startsWith(BUILT_IN_ISSUER_PREFIX) && (trusted === undefined || kid === builtInKeyId)) {
      if (iss === builtInIssuer(tid)) return options.builtInKey;
      throw errors.tokenInvalid('unknown issuer');
    }
    if (!trusted) throw errors.tokenInvalid('unknown issuer');
    let keys = remoteKeys.get(iss);
    if (!keys) {
      keys = lazyRemoteKeys(trusted.jwksUri, iss);
      remoteKeys.set(iss, keys);
    }
    return keys;
  }

  async function verifyUncached(token: string): Promise<Principal> {
    let unverified: JWTPayload;
    let kid: string | undefined;
    try {
      unverified = decodeJwt(token);
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw errors.tokenInvalid('malformed token');
    }
    const key = keyFor(unverified, kid);
    let payload: JWTPayload;
    try {
      const verifyOptions = {
        issuer: unverified.iss as string,
        audience: [...options.audiences],
        clockTolerance: options.clockSkewSeconds,
        currentDate: new Date(now() * 1000),
        requiredClaims: ['exp', 'tid', 'oid'],
      };
      payload = (
        typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions)
      ).payload;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw errors.tokenExpired('expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'nbf') throw errors.tokenExpired('not yet valid');
      throw errors.tokenInvalid(failureReason(error));
    }
    return toPrincipal(payload);
  }

  return {
    async verify(authorization) {
      if (authorization === undefined) throw errors.tokenMissing('no Authorization header');
      const match = /^Bearer +(\S+) *$/i.exec(authorization);
      if (!match) throw errors.tokenMissing('Authorization is not Bearer');
      const token = match[1] as string;
      const cached = cache.get(token);
      if (cached) {
        const t = now();
        if (t > cached.expiresAt + options.clockSkewSeconds) {
          cache.delete(token);
          throw errors.tokenExpired('expired');
        }
        if (t >= cached.notBefore - options.clockSkewSeconds) return cached;
      }
      const principal = await verifyUncached(token);
      if (cache.size >= cacheSize) {
        // Maps iterate in insertion order: drop the oldest entry.
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      cache.set(token, principal);
      return principal;
    },
  };
}

/**
 * The name claim as text a store can keep: without control characters (PostgreSQL text
 * cannot hold U+0000) or lone surrogates, trimmed, at most 256 characters (POST /users's
 * limit); undefined when nothing is left.
 */
function displayNameClaim(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value
    .replace(/\p{Cc}/gu, '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .trim();
  return text === '' ? undefined : Array.from(text).slice(0, 256).join('');
}

/** Fetches the issuer's OpenID configuration on first use when no JWKS URL was configured. */
function lazyRemoteKeys(jwksUri: string | undefined, issuer: string): JWTVerifyGetKey {
  let keys: JWTVerifyGetKey | undefined;
  return async (header, token) => {
    if (!keys) {
      const uri = jwksUri ?? (await discoverJwksUri(issuer));
      keys = createRemoteJWKSet(new URL(uri));
    }
    return keys(header, token);
  };
}

/** Why jose refused a token, in the words an operator looks for in the log. */
function failureReason(error: unknown): string {
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'wrong audience';
    if (error.claim === 'iss') return 'unknown issuer';
    return error.reason === 'missing' ? `no ${error.claim} claim` : `bad ${error.claim} claim`;
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no signing key matches the token';
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) return 'unsupported algorithm';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'malformed token';
  // The issuer's keys could not be fetched: say so, but not the URL's answer.
  return `issuer keys unavailable (${error instanceof Error ? error.name : 'error'})`;
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const response = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(5000),
  });
  const body = (await response.json()) as { jwks_uri?: unknown };
  if (!response.ok || typeof body.jwks_uri !== 'string') throw new Error(`no jwks_uri in ${issuer}'s OpenID configuration`);
  return body.jwks_uri;
}

function toPrincipal(payload: JWTPayload): Principal {
  const { tid, oid, scp, roles, wids } = payload;
  if (typeof tid !== 'string' || !GUID.test(tid) || typeof oid !== 'string' || !GUID.test(oid)) {
    throw errors.tokenInvalid('tid or oid is not a GUID');
  }
  const delegated = typeof scp === 'string';
  const names = delegated
    ? (scp as string).split(' ')
    : Array.isArray(roles)
      ? roles.filter((r): r is string => typeof r === 'string')
      : [];
  const upn = [payload.upn, payload.preferred_username].find((v): v is string => typeof v === 'string');
  return {
    tenantId: tid.toLowerCase(),
    objectId: oid.toLowerCase(),
    appId: [payload.appid, payload.azp].find((v): v is string => typeof v === 'string')?.slice(0, 64),
    delegated,
    permissions: new Set(names.filter((n) => n !== '').map((n) => n.toLowerCase())),
    adminInToken: Array.isArray(wids) && wids.some((w) => typeof w === 'string' && ADMIN_ROLE_TEMPLATE_IDS.has(w.toLowerCase())),
    // As signed: whether it is a usable name is the directory's call (directory/user-principal-name.ts).
    userPrincipalName: upn,
    displayName: displayNameClaim(payload.name),
    expiresAt: payload.exp ?? 0,
    notBefore: payload.nbf ?? 0,
  };
}
