// Row ↔ object mapping shared by the SQL stores: both name their columns alike.
import type { Application, Contact, ContactFolder, Dimensions, EmailAddress, Group, Invitation, OAuthGrant, PhotoContent, PhotoInfo, User } from './store.js';

export type Row = Record<string, unknown>;

/** SQLite answers 1/0 where PostgreSQL answers true/false. */
function flag(value: unknown): boolean {
  return value === 1 || value === true;
}

export function toUser(row: Row): User {
  return {
    tenantId: row.tenant_id as string,
    id: row.id as string,
    userPrincipalName: row.user_principal_name as string,
    displayName: row.display_name as string,
    mail: row.mail as string | null,
    userType: row.user_type as User['userType'],
    isAdmin: flag(row.is_admin),
    driveId: row.drive_id as string,
  };
}

export function toGroup(row: Row): Group {
  return {
    tenantId: row.tenant_id as string,
    id: row.id as string,
    displayName: row.display_name as string,
    mailNickname: row.mail_nickname as string,
    description: row.description as string | null,
    unified: flag(row.unified),
    hasTeam: flag(row.has_team),
  };
}

export function toFolder(row: Row): ContactFolder {
  return {
    tenantId: row.tenant_id as string,
    id: row.id as string,
    userId: row.user_id as string,
    parentFolderId: row.parent_folder_id as string | null,
    displayName: row.display_name as string,
  };
}

export function toContact(row: Row): Contact {
  return {
    tenantId: row.tenant_id as string,
    id: row.id as string,
    userId: row.user_id as string,
    folderId: row.folder_id as string | null,
    displayName: row.display_name as string,
    givenName: row.given_name as string | null,
    surname: row.surname as string | null,
    emailAddresses: JSON.parse(row.email_addresses as string) as Contact['emailAddresses'],
  };
}

export function toInvitation(row: Row): Invitation {
  return {
    tenantId: row.tenant_id as string,
    id: row.id as string,
    invitedUserId: row.invited_user_id as string,
    invitedUserEmailAddress: row.invited_user_email_address as string,
    inviteRedirectUrl: row.invite_redirect_url as string,
  };
}

export function toApplication(row: Row): Application {
  // PostgreSQL answers a timestamptz as a Date, SQLite keeps the ISO text it was given.
  const createdAt = row.created_at instanceof Date ? row.created_at.toISOString() : (row.created_at as string);
  return {
    tenantId: row.tenant_id as string,
    clientId: row.client_id as string,
    displayName: row.display_name as string,
    roles: rolesOf(row.roles as string),
    secretHash: row.secret_hash as string,
    redirectUris: rolesOf((row.redirect_uris as string | undefined) ?? ''),
    createdAt,
  };
}

export function toOAuthGrant(row: Row): OAuthGrant {
  return {
    grantHash: row.grant_hash as string,
    kind: row.kind as OAuthGrant['kind'],
    tenantId: row.tenant_id as string,
    clientId: row.client_id as string,
    userId: row.user_id as string,
    scopes: rolesOf(row.scopes as string),
    redirectUri: (row.redirect_uri as string | null) ?? null,
    codeChallenge: (row.code_challenge as string | null) ?? null,
    nonce: (row.nonce as string | null) ?? null,
    // PostgreSQL's bigint arrives as a string.
    expiresAt: Number(row.expires_at),
  };
}

/** Roles are kept space-separated, like a token's scp. */
export function rolesText(roles: readonly string[]): string {
  return roles.join(' ');
}

function rolesOf(text: string): string[] {
  return text.split(' ').filter((role) => role !== '');
}

export function toPhotoInfo(row: Row): PhotoInfo {
  return {
    etag: row.etag as string,
    primary: { width: row.width as number, height: row.height as number },
    sizes: parseSizes(row.sizes as string),
    master: { width: row.master_width as number, height: row.master_height as number },
  };
}

/** Stored as JSON text with a fixed key order, so equal addresses compare equal as text. */
export function emailAddressesJson(addresses: readonly EmailAddress[]): string {
  return JSON.stringify(addresses.map(({ address, name }) => ({ address, name })));
}

function parseSizes(text: string): Dimensions[] {
  if (text === '') return [];
  return text.split(',').map((size) => {
    const [width, height] = size.split('x').map(Number);
    return { width: width ?? 0, height: height ?? 0 };
  });
}

export function toContent(row: Row): PhotoContent {
  return {
    etag: row.etag as string,
    width: Number(row.width),
    height: Number(row.height),
    bytes: row.bytes as Buffer,
  };
}
