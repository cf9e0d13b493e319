// Who is calling, as read from a verified access token.

/** Entra role template ids that may change another user's photo (contract §7). */
export const ADMIN_ROLE_TEMPLATE_IDS: ReadonlySet<string> = new Set([
  '62e90394-69f5-4237-9190-012177145e10', // Global Administrator
  'fe930be7-5e62-47db-91af-98c3a49a38b1', // User Administrator
  '024906de-61e5-49c8-8572-40335f1e0e10', // People Administrator
]);

export interface Principal {
  readonly tenantId: string;
  /** The token's oid: the signed-in user (delegated) or the application's service principal. */
  readonly objectId: string;
  /** Delegated tokens carry scp; application tokens carry roles. */
  readonly delegated: boolean;
  /**
   * The application the token was issued to (appid, or azp), as signed, at most 64 characters:
   * counted by --throttle, named in the access log.
   */
  readonly appId?: string | undefined;
  /** scp or roles, lower-cased: permission names compare case-insensitively. */
  readonly permissions: ReadonlySet<string>;
  /** The token's wids name an administrator role. */
  readonly adminInToken: boolean;
  /** upn or preferred_username as signed, for a user created on first sight: not checked to be a UPN. */
  readonly userPrincipalName: string | undefined;
  /** name, without control characters. */
  readonly displayName: string | undefined;
  /** Seconds since the epoch: a cached principal is good until then. */
  readonly expiresAt: number;
  readonly notBefore: number;
}
