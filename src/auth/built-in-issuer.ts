// The built-in token issuer: an RSA key kept in the data folder, and access tokens
// with the claims Entra ID puts in its own (iss, aud, tid, oid, upn, scp or roles,
// wids, iat, nbf, exp), so that Portrait is usable before any real identity
// provider is wired in. https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { makePrivate, writeNewPrivateFile } from '../private-files.js';
import { ADMIN_ROLE_TEMPLATE_IDS } from './principal.js';

/** Tokens Portrait issues name this issuer, followed by the tenant id and "/v2.0". */
export const BUILT_IN_ISSUER_PREFIX = 'https://portrait.localhost/';
/** The audience of tokens for Microsoft Graph (v1 form), accepted by default. */
export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';
const GLOBAL_ADMINISTRATOR = [...ADMIN_ROLE_TEMPLATE_IDS][0] as string;

export function builtInIssuer(tenantId: string): string {
  return `${BUILT_IN_ISSUER_PREFIX}${tenantId}/v2.0`;
}

export interface IssuerKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The JWK thumbprint-like id sent as `kid`. */
  readonly keyId: string;
}

/** The file in the data folder that holds the issuer's private key. */
export function issuerKeyFile(dataDir: string): string {
  return join(dataDir, 'issuer-key.pem');
}

/** Reads the issuer's key from the data folder, creating it on first use. */
export function loadOrCreateIssuerKey(dataDir: string): IssuerKey {
  const path = issuerKeyFile(dataDir);
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // Not written if another process created it meanwhile; then we read theirs.
    writeNewPrivateFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  } else {
    makePrivate(path); // an older version, or a looser umask, may have left it readable
  }
  const privateKey = createPrivateKey(readFileSync(path));
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** The `kid` tokens signed with this key name: a digest of the public key, so any process can tell it. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 22);
}

export type TokenSubject =
  | {
      readonly kind: 'user';
      readonly userId: string;
      readonly userPrincipalName: string;
      readonly displayName: string;
      readonly scopes: readonly string[];
      readonly admin: boolean;
      /** The client the person signed in to (its client id), as azp and appid; none for `portrait token`. */
      readonly appId?: string;
    }
  | { readonly kind: 'app'; readonly appId: string; readonly name: string; readonly roles: readonly string[] };

export interface TokenRequest {
  readonly tenantId: string;
  readonly subject: TokenSubject;
  readonly ttlSeconds: number;
  readonly audience?: string;
}

export async function issueToken(key: IssuerKey, request: TokenRequest): Promise<string> {
  const { subject } = request;
  const claims: Record<string, unknown> = { tid: request.tenantId, ver: '2.0' };
  if (subject.kind === 'user') {
    Object.assign(claims, {
      oid: subject.userId,
      upn: subject.userPrincipalName,
      preferred_username: subject.userPrincipalName,
      name: subject.displayName,
      scp: subject.scopes.join(' '),
      idtyp: 'user',
    });
    if (subject.admin) claims.wids = [GLOBAL_ADMINISTRATOR];
    if (subject.appId !== undefined) Object.assign(claims, { appid: subject.appId, azp: subject.appId });
  } else {
    Object.assign(claims, {
      oid: subject.appId,
      appid: subject.appId,
      azp: subject.appId,
      app_displayname: subject.name,
      roles: [...subject.roles],
      idtyp: 'app',
    });
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.keyId })
    .setIssuer(builtInIssuer(request.tenantId))
    .setAudience(request.audience ?? GRAPH_AUDIENCE)
    .setSubject(subject.kind === 'user' ? subject.userId : subject.appId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + request.ttlSeconds)
    .sign(key.privateKey);
}

export interface IdTokenRequest {
  /** The issuer the discovery document names (the server's origin, then /{tenant}/v2.0). */
  readonly issuer: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly user: { readonly id: string; readonly userPrincipalName: string; readonly displayName: string };
  readonly nonce: string | null;
  readonly ttlSeconds: number;
}

/**
 * An OpenID Connect id_token for a person signed in at the built-in issuer's page: who they
 * are, for the client (aud) that asked, with its nonce. Signed with the same key as access
 * tokens (the discovery document's jwks_uri). https://openid.net/specs/openid-connect-core-1_0.html#IDToken
 */
export async function issueIdToken(key: IssuerKey, request: IdTokenRequest): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    tid: request.tenantId,
    oid: request.user.id,
    preferred_username: request.user.userPrincipalName,
    name: request.user.displayName,
    ver: '2.0',
    auth_time: now,
  };
  if (request.nonce !== null) claims.nonce = request.nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.keyId })
    .setIssuer(request.issuer)
    .setAudience(request.clientId)
    .setSubject(request.user.id)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + request.ttlSeconds)
    .sign(key.privateKey);
}
