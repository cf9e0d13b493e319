// The store for more than one machine: PostgreSQL through node-postgres. Same
// contract as the SQLite store (test/store-contract.ts). Queries are parameterised
// and named, so each connection prepares them once; bytes travel as bytea. A photo
// write takes a per-owner advisory lock, so racing conditional writes serialise and
// exactly one of them sees the old ETag.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ChangeFeed, type StoredChange, type Watcher } from './change-feed.js';
import { applyPostgresMigrations } from './postgres-migrations.js';
import type { ContactFolderProperty, ContactProperty, GroupProperty, ListQuery, Page, UserProperty } from './list-query.js';
import { CONTACTS_TABLE, FOLDERS_TABLE, GROUPS_TABLE, pageStatements, POSTGRES, USERS_TABLE, type ListTable, type Scope } from './list-query-sql.js';
import { emailAddressesJson, rolesText, toApplication, toOAuthGrant, toContact, toContent, toFolder, toGroup, toInvitation, toPhotoInfo, toUser, type Row } from './rows.js';
import {
  CHANGE_NOTICE_MS,
  ConflictError,
  preconditionHolds,
  type Application,
  EXPIRED_GRANTS_BATCH,
  GRANTS_PER_USER,
  type OAuthGrant,
  type Contact,
  type ContactFolder,
  type DeleteOutcome,
  type Dimensions,
  type Group,
  type Invitation,
  type MemberAdded,
  type NewPhoto,
  type PhotoContent,
  type PhotoInfo,
  type PhotoOwner,
  type MemberPage,
  type Precondition,
  type SaveResult,
  type Store,
  type User,
  type UsageLedger,
  type WriteOutcome,
} from './store.js';

export interface PostgresStoreOptions {
  readonly connectionString: string;
  /** Connections in this process's pool. */
  readonly poolSize?: number;
}

type Queryable = pg.Pool | pg.PoolClient;

const USER_COLUMNS = 'tenant_id, id, user_principal_name, display_name, mail, user_type, is_admin, drive_id';
const PHOTO_KEY = 'tenant_id = $1 AND owner_type = $2 AND owner_id = $3';
const MEMBER_QUERY = 'SELECT 1 AS found FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id = $3';
/** Every write transaction notifies this channel on commit; other nodes LISTEN to it. */
const CHANGES_CHANNEL = 'portrait_changes';
/** The LISTEN connection's application_name, so that an operator can tell it in pg_stat_activity. */
export const CHANGES_APPLICATION = 'portrait-changes';
/** The LISTEN connection is asked a `SELECT 1` every this many notice ticks, and given this long to answer. */
const HEARTBEAT_TICKS = 20;
const HEARTBEAT_TIMEOUT_MS = 2000;

export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #connectionString: string;
  /** Sent with this store's own notifications, so that it can tell them from other nodes'. */
  readonly #instance = randomUUID();
  readonly changes = new ChangeFeed((notice) => this.#watch(notice));
  /** --throttle's counts, shared by the nodes (migrations/postgres/003-throttle-usage.sql). */
  readonly usage: UsageLedger = {
    exchange: async (deltas, keys, since) => {
      if (deltas.length > 0) {
        // In key order, so that two nodes adding to the same rows lock them in the same order.
        const sorted = [...deltas].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.windowStart - b.windowStart));
        await this.#rows(
          'add-usage',
          `INSERT INTO throttle_usage (key, window_start, used)
           SELECT key, window_start, used FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d (key, window_start, used)
           ON CONFLICT (key, window_start) DO UPDATE SET used = throttle_usage.used + excluded.used`,
          [sorted.map((d) => d.key), sorted.map((d) => d.windowStart), sorted.map((d) => d.used)],
        );
      }
      const rows = await this.#rows(
        'read-usage',
        'SELECT key, window_start, used FROM throttle_usage WHERE key = ANY($1::text[]) AND window_start >= $2',
        [keys, since],
      );
      return rows.map((row) => ({ key: row.key as string, windowStart: Number(row.window_start), used: Number(row.used) }));
    },
    prune: async (before) => {
      await this.#rows('prune-usage', 'DELETE FROM throttle_usage WHERE window_start < $1', [before]);
    },
  };

  private constructor(pool: pg.Pool, connectionString: string) {
    this.#pool = pool;
    this.#connectionString = connectionString;
  }

  /** Connects and applies pending migrations (safe when several nodes start at once). */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10 });
    // An idle client's error (e.g. the server restarting) must not crash the process.
    pool.on('error', () => {});
    try {
      await applyPostgresMigrations(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresStore(pool, options.connectionString);
  }

  async #rows(name: string, text: string, values: unknown[], client: Queryable = this.#pool): Promise<Row[]> {
    return (await client.query({ name, text, values })).rows as Row[];
  }

  async #row(name: string, text: string, values: unknown[], client?: Queryable): Promise<Row | undefined> {
    return (await this.#rows(name, text, values, client))[0];
  }

  async ensureTenant(tenantId: string): Promise<void> {
    await this.#rows('insert-tenant', 'INSERT INTO tenants (id, created_at) VALUES ($1, now()) ON CONFLICT (id) DO NOTHING', [tenantId]);
  }

  async hasTenant(tenantId: string): Promise<boolean> {
    return (await this.#row('get-tenant', 'SELECT 1 AS found FROM tenants WHERE id = $1', [tenantId])) !== undefined;
  }

  async getSetting(key: string): Promise<string | undefined> {
    return (await this.#row('get-setting', 'SELECT value FROM settings WHERE key = $1', [key]))?.value as string | undefined;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.#rows(
      'set-setting',
      'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async claimSetting(key: string, value: string): Promise<string> {
    await this.#rows('claim-setting', 'INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
    return (await this.#row('get-setting', 'SELECT value FROM settings WHERE key = $1', [key]))?.value as string;
  }

  async saveUser(user: User): Promise<SaveResult> {
    const next: Row = {
      tenant_id: user.tenantId,
      id: user.id,
      user_principal_name: user.userPrincipalName,
      upn_key: user.userPrincipalName.toLowerCase(),
      display_name: user.displayName,
      mail: user.mail,
      user_type: user.userType,
      is_admin: user.isAdmin,
      drive_id: user.driveId,
    };
    try {
      return await this.#save('users', ['tenant_id', 'id'], next);
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === '23505') {
        throw new ConflictError('Another object with the same value for property userPrincipalName already exists.');
      }
      throw error;
    }
  }

  async getUserById(tenantId: string, id: string): Promise<User | undefined> {
    const row = await this.#row('get-user-by-id', `SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2`, [
      tenantId,
      id.toLowerCase(),
    ]);
    return row && toUser(row);
  }

  async getUserByUpn(tenantId: string, userPrincipalName: string): Promise<User | undefined> {
    const row = await this.#row('get-user-by-upn', `SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND upn_key = $2`, [
      tenantId,
      userPrincipalName.toLowerCase(),
    ]);
    return row && toUser(row);
  }

  async getUserByDrive(tenantId: string, driveId: string): Promise<User | undefined> {
    const row = await this.#row('get-user-by-drive', `SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND drive_id = $2`, [
      tenantId,
      driveId,
    ]);
    return row && toUser(row);
  }

  async listUsers(tenantId: string): Promise<User[]> {
    return (await this.#rows('list-users', `SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY upn_key`, [tenantId])).map(
      toUser,
    );
  }

  async queryUsers(tenantId: string, query: ListQuery<UserProperty>): Promise<Page<User>> {
    return this.#page(USERS_TABLE, { tenant_id: tenantId }, query, toUser, USER_COLUMNS);
  }

  async deleteUser(tenantId: string, id: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      await this.#rows(
        'delete-contact-photos-of-user',
        `DELETE FROM photos WHERE tenant_id = $1 AND owner_type = 'contact'
           AND owner_id IN (SELECT id FROM contacts WHERE tenant_id = $1 AND user_id = $2)`,
        [tenantId, id],
        client,
      );
      await this.#deleteOwnerPhoto({ tenantId, type: 'user', id }, client);
      await this.#rows('delete-user-grants', 'DELETE FROM oauth_grants WHERE tenant_id = $1 AND user_id = $2', [tenantId, id], client);
      const deleted = await this.#rows('delete-user', 'DELETE FROM users WHERE tenant_id = $1 AND id = $2 RETURNING id', [tenantId, id], client);
      return deleted.length > 0;
    });
  }

  async saveGroup(group: Group): Promise<SaveResult> {
    return this.#save('groups', ['tenant_id', 'id'], {
      tenant_id: group.tenantId,
      id: group.id,
      display_name: group.displayName,
      mail_nickname: group.mailNickname,
      description: group.description,
      unified: group.unified,
      has_team: group.hasTeam,
    });
  }

  async getGroup(tenantId: string, id: string): Promise<Group | undefined> {
    const row = await this.#row('get-group', 'SELECT * FROM groups WHERE tenant_id = $1 AND id = $2', [tenantId, id.toLowerCase()]);
    return row && toGroup(row);
  }

  async listGroups(tenantId: string): Promise<Group[]> {
    return (await this.#rows('list-groups', 'SELECT * FROM groups WHERE tenant_id = $1 ORDER BY display_name, id', [tenantId])).map(toGroup);
  }

  async queryGroups(tenantId: string, query: ListQuery<GroupProperty>): Promise<Page<Group>> {
    return this.#page(GROUPS_TABLE, { tenant_id: tenantId }, query, toGroup);
  }

  async deleteGroup(tenantId: string, id: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      await this.#deleteOwnerPhoto({ tenantId, type: 'group', id }, client);
      const deleted = await this.#rows('delete-group', 'DELETE FROM groups WHERE tenant_id = $1 AND id = $2 RETURNING id', [tenantId, id], client);
      return deleted.length > 0;
    });
  }

  async addGroupMember(tenantId: string, groupId: string, memberId: string): Promise<MemberAdded> {
    const key = [tenantId, groupId.toLowerCase(), memberId.toLowerCase()];
    try {
      // A transaction, so that other nodes hear of it (its NOTIFY) when it commits.
      return await this.#transaction(async (client): Promise<MemberAdded> => {
        const added = await this.#rows(
          'insert-member',
          `INSERT INTO group_members (tenant_id, group_id, member_id)
           SELECT $1, $2, $3
           WHERE EXISTS (SELECT 1 FROM groups WHERE tenant_id = $1 AND id = $2)
             AND EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $3)
           ON CONFLICT DO NOTHING RETURNING member_id`,
          key,
          client,
        );
        if (added.length > 0) return 'added';
        return (await this.#row('get-member', MEMBER_QUERY, key, client)) === undefined ? 'missing' : 'exists';
      });
    } catch (error) {
      // The group or the user was deleted between the check and the insert: the foreign key says so.
      if (error instanceof Error && 'code' in error && error.code === '23503') return 'missing';
      throw error;
    }
  }

  async removeGroupMember(tenantId: string, groupId: string, memberId: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      const removed = await this.#rows(
        'delete-member',
        'DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id = $3 RETURNING member_id',
        [tenantId, groupId.toLowerCase(), memberId.toLowerCase()],
        client,
      );
      return removed.length > 0;
    });
  }

  async isGroupMember(tenantId: string, groupId: string, memberId: string): Promise<boolean> {
    return (await this.#row('get-member', MEMBER_QUERY, [tenantId, groupId.toLowerCase(), memberId.toLowerCase()])) !== undefined;
  }

  async listGroupMembers(tenantId: string, groupId: string, page: MemberPage): Promise<User[]> {
    const rows = await this.#rows(
      'list-members',
      `SELECT ${USER_COLUMNS.split(', ').map((c) => `u.${c}`).join(', ')} FROM group_members m
       JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.member_id
       WHERE m.tenant_id = $1 AND m.group_id = $2 AND m.member_id > $3
       ORDER BY m.member_id LIMIT $4`,
      [tenantId, groupId.toLowerCase(), page.after?.toLowerCase() ?? '', page.limit],
    );
    return rows.map(toUser);
  }

  async listMemberOf(tenantId: string, memberId: string, page: MemberPage): Promise<Group[]> {
    const rows = await this.#rows(
      'list-member-of',
      `SELECT g.* FROM group_members m
       JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
       WHERE m.tenant_id = $1 AND m.member_id = $2 AND m.group_id > $3
       ORDER BY m.group_id LIMIT $4`,
      [tenantId, memberId.toLowerCase(), page.after?.toLowerCase() ?? '', page.limit],
    );
    return rows.map(toGroup);
  }

  async saveContactFolder(folder: ContactFolder): Promise<SaveResult> {
    return this.#save('contact_folders', ['tenant_id', 'id'], {
      tenant_id: folder.tenantId,
      id: folder.id,
      user_id: folder.userId,
      parent_folder_id: folder.parentFolderId,
      display_name: folder.displayName,
    });
  }

  async getContactFolder(tenantId: string, userId: string, id: string): Promise<ContactFolder | undefined> {
    const row = await this.#row('get-folder', 'SELECT * FROM contact_folders WHERE tenant_id = $1 AND user_id = $2 AND id = $3', [
      tenantId,
      userId,
      id.toLowerCase(),
    ]);
    return row && toFolder(row);
  }

  async listContactFolders(tenantId: string, userId: string, parentFolderId: string | null): Promise<ContactFolder[]> {
    const rows = await this.#rows(
      'list-folders',
      `SELECT * FROM contact_folders WHERE tenant_id = $1 AND user_id = $2 AND parent_folder_id IS NOT DISTINCT FROM $3
       ORDER BY display_name, id`,
      [tenantId, userId, parentFolderId],
    );
    return rows.map(toFolder);
  }

  async queryContactFolders(
    tenantId: string,
    userId: string,
    parentFolderId: string | null,
    query: ListQuery<ContactFolderProperty>,
  ): Promise<Page<ContactFolder>> {
    return this.#page(FOLDERS_TABLE, { tenant_id: tenantId, user_id: userId, parent_folder_id: parentFolderId }, query, toFolder);
  }

  async saveContact(contact: Contact): Promise<SaveResult> {
    return this.#save('contacts', ['tenant_id', 'id'], {
      tenant_id: contact.tenantId,
      id: contact.id,
      user_id: contact.userId,
      folder_id: contact.folderId,
      display_name: contact.displayName,
      given_name: contact.givenName,
      surname: contact.surname,
      email_addresses: emailAddressesJson(contact.emailAddresses),
    });
  }

  async getContact(tenantId: string, userId: string, id: string): Promise<Contact | undefined> {
    const row = await this.#row('get-contact', 'SELECT * FROM contacts WHERE tenant_id = $1 AND user_id = $2 AND id = $3', [
      tenantId,
      userId,
      id.toLowerCase(),
    ]);
    return row && toContact(row);
  }

  async listContacts(tenantId: string, userId: string, folderId: string | null): Promise<Contact[]> {
    const rows = await this.#rows(
      'list-contacts',
      `SELECT * FROM contacts WHERE tenant_id = $1 AND user_id = $2 AND folder_id IS NOT DISTINCT FROM $3
       ORDER BY display_name, id`,
      [tenantId, userId, folderId],
    );
    return rows.map(toContact);
  }

  async queryContacts(tenantId: string, userId: string, folderId: string | null, query: ListQuery<ContactProperty>): Promise<Page<Contact>> {
    return this.#page(CONTACTS_TABLE, { tenant_id: tenantId, user_id: userId, folder_id: folderId }, query, toContact);
  }

  /**
   * One page, and its count when asked. Unnamed statements: their text varies with the
   * filter's shape, and a named one would stay prepared on its connection for good. The
   * count is a second statement, so it may see a commit the page did not: Graph too
   * counts with ConsistencyLevel: eventual.
   */
  async #page<T>(list: ListTable, scope: Scope, query: ListQuery, toItem: (row: Row) => T, columns = '*'): Promise<Page<T>> {
    const { page, count } = pageStatements(POSTGRES, list, scope, query, columns);
    const rows = (await this.#pool.query(page.sql, page.params)).rows as Row[];
    const more = rows.length > query.limit;
    const items = rows.slice(0, query.limit).map(toItem);
    if (count === undefined) return { items, more };
    const n = Number(((await this.#pool.query(count.sql, count.params)).rows[0] as { n: string }).n);
    return { items, more, count: n };
  }

  async saveInvitation(invitation: Invitation): Promise<SaveResult> {
    return this.#save('invitations', ['tenant_id', 'id'], {
      tenant_id: invitation.tenantId,
      id: invitation.id,
      invited_user_id: invitation.invitedUserId,
      invited_user_email_address: invitation.invitedUserEmailAddress,
      invite_redirect_url: invitation.inviteRedirectUrl,
    });
  }

  async getInvitation(tenantId: string, id: string): Promise<Invitation | undefined> {
    const row = await this.#row('get-invitation', 'SELECT * FROM invitations WHERE tenant_id = $1 AND id = $2', [tenantId, id.toLowerCase()]);
    return row && toInvitation(row);
  }

  async saveApplication(application: Application): Promise<SaveResult> {
    // #save compares with ===, and created_at comes back as a Date: one upsert instead, which
    // touches the row only when something differs. xmax is 0 for a row this statement inserted.
    const row = await this.#row(
      'save-application',
      `INSERT INTO applications AS a (tenant_id, client_id, display_name, roles, secret_hash, created_at, redirect_uris)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, client_id) DO UPDATE
         SET display_name = excluded.display_name, roles = excluded.roles, secret_hash = excluded.secret_hash,
           created_at = excluded.created_at, redirect_uris = excluded.redirect_uris
         WHERE (a.display_name, a.roles, a.secret_hash, a.created_at, a.redirect_uris)
           IS DISTINCT FROM (excluded.display_name, excluded.roles, excluded.secret_hash, excluded.created_at, excluded.redirect_uris)
       RETURNING (xmax = 0) AS inserted`,
      [
        application.tenantId,
        application.clientId,
        application.displayName,
        rolesText(application.roles),
        application.secretHash,
        application.createdAt,
        rolesText(application.redirectUris),
      ],
    );
    return row === undefined ? 'unchanged' : row.inserted === true ? 'created' : 'updated';
  }

  async getApplication(tenantId: string, clientId: string): Promise<Application | undefined> {
    const row = await this.#row('get-application', 'SELECT * FROM applications WHERE tenant_id = $1 AND client_id = $2', [
      tenantId,
      clientId.toLowerCase(),
    ]);
    return row && toApplication(row);
  }

  async listApplications(tenantId: string | undefined): Promise<Application[]> {
    const rows =
      tenantId === undefined
        ? await this.#rows('list-all-applications', 'SELECT * FROM applications ORDER BY tenant_id, created_at, client_id', [])
        : await this.#rows('list-applications', 'SELECT * FROM applications WHERE tenant_id = $1 ORDER BY created_at, client_id', [tenantId]);
    return rows.map(toApplication);
  }

  async deleteApplication(tenantId: string, clientId: string): Promise<boolean> {
    const key = [tenantId, clientId.toLowerCase()];
    // Applications are in no cache (the token endpoint reads them on every request): no notice.
    return this.#transaction(async (client) => {
      // Its codes and refresh tokens go with it: nothing it was granted outlives it.
      await this.#rows('delete-application-grants', 'DELETE FROM oauth_grants WHERE tenant_id = $1 AND client_id = $2', key, client);
      const deleted = await this.#rows('delete-application', 'DELETE FROM applications WHERE tenant_id = $1 AND client_id = $2 RETURNING client_id', key, client);
      return deleted.length > 0;
    }, 'nothing cached');
  }

  async saveOAuthGrant(grant: OAuthGrant): Promise<void> {
    await this.#transaction(async (client) => {
      await this.#rows(
        'delete-expired-grants',
        `DELETE FROM oauth_grants WHERE grant_hash IN
           (SELECT grant_hash FROM oauth_grants WHERE expires_at < $1 LIMIT ${EXPIRED_GRANTS_BATCH})`,
        [Date.now()],
        client,
      );
      await this.#rows(
        'insert-grant',
        `INSERT INTO oauth_grants (grant_hash, kind, tenant_id, client_id, user_id, scopes, redirect_uri, code_challenge, nonce, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          grant.grantHash, grant.kind, grant.tenantId, grant.clientId, grant.userId, rolesText(grant.scopes),
          grant.redirectUri, grant.codeChallenge, grant.nonce, grant.expiresAt,
        ],
        client,
      );
      await this.#rows(
        'delete-grants-beyond',
        `DELETE FROM oauth_grants WHERE tenant_id = $1 AND user_id = $2 AND grant_hash NOT IN
           (SELECT grant_hash FROM oauth_grants WHERE tenant_id = $1 AND user_id = $2
            ORDER BY expires_at DESC LIMIT ${GRANTS_PER_USER})`,
        [grant.tenantId, grant.userId],
        client,
      );
      // Grants are in no cache: other nodes need not hear of them.
    }, 'nothing cached');
  }

  async takeOAuthGrant(grantHash: string, now: number): Promise<OAuthGrant | undefined> {
    const row = await this.#row('take-grant', 'DELETE FROM oauth_grants WHERE grant_hash = $1 RETURNING *', [grantHash]);
    return row === undefined || Number(row.expires_at) <= now ? undefined : toOAuthGrant(row);
  }

  async getPhoto(owner: PhotoOwner): Promise<PhotoInfo | undefined> {
    const row = await this.#row(
      'get-photo',
      `SELECT etag, width, height, sizes, master_width, master_height FROM photos WHERE ${PHOTO_KEY}`,
      [owner.tenantId, owner.type, owner.id],
    );
    return row && toPhotoInfo(row);
  }

  async getPhotoContent(owner: PhotoOwner, size: Dimensions | 'primary'): Promise<PhotoContent | undefined> {
    // One statement on one row of photo_content (migration 008): the bytes and the ETag
    // come from the same snapshot.
    const row =
      size === 'primary'
        ? await this.#row(
            'get-primary-content',
            `SELECT etag, width, height, bytes FROM photo_content WHERE ${PHOTO_KEY} AND is_primary`,
            [owner.tenantId, owner.type, owner.id],
          )
        : await this.#row(
            'get-size-content',
            `SELECT etag, width, height, bytes FROM photo_content WHERE ${PHOTO_KEY} AND width = $4 AND height = $5`,
            [owner.tenantId, owner.type, owner.id, size.width, size.height],
          );
    return row && toContent(row);
  }

  async getMaster(owner: PhotoOwner): Promise<PhotoContent | undefined> {
    const row = await this.#row(
      'get-master',
      `SELECT etag, master_width AS width, master_height AS height, master AS bytes FROM photos WHERE ${PHOTO_KEY}`,
      [owner.tenantId, owner.type, owner.id],
    );
    return row && toContent(row);
  }

  async putPhoto(owner: PhotoOwner, photo: NewPhoto, precondition: Precondition): Promise<WriteOutcome> {
    return this.#transaction(async (client): Promise<WriteOutcome> => {
      const current = await this.#lockOwner(owner, client);
      if (!preconditionHolds(precondition, current)) return { ok: false, reason: 'precondition', currentEtag: current };
      await this.#deleteOwnerPhoto(owner, client);
      const sizes = [...photo.sizes].sort((a, b) => a.width - b.width || a.height - b.height);
      const inserted = await this.#row(
        'insert-photo',
        `INSERT INTO photos (tenant_id, owner_type, owner_id, etag, width, height, sizes,
           master_width, master_height, master, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now()) RETURNING id`,
        [
          owner.tenantId,
          owner.type,
          owner.id,
          photo.etag,
          photo.primary.width,
          photo.primary.height,
          sizes.map((s) => `${s.width}x${s.height}`).join(','),
          photo.master.width,
          photo.master.height,
          photo.master.bytes,
        ],
        client,
      );
      // All sizes in one statement: arrays of widths, heights and bytes, unnested row by row.
      await this.#rows(
        'insert-content',
        `INSERT INTO photo_content (photo_id, tenant_id, owner_type, owner_id, width, height, is_primary, etag, bytes)
         SELECT $1, $2, $3, $4, w, h, w = $5 AND h = $6, $7, b
         FROM unnest($8::integer[], $9::integer[], $10::bytea[]) AS t (w, h, b)`,
        [
          inserted?.id,
          owner.tenantId,
          owner.type,
          owner.id,
          photo.primary.width,
          photo.primary.height,
          photo.etag,
          sizes.map((s) => s.width),
          sizes.map((s) => s.height),
          sizes.map((s) => s.bytes),
        ],
        client,
      );
      return {
        ok: true,
        info: {
          etag: photo.etag,
          primary: { width: photo.primary.width, height: photo.primary.height },
          sizes: sizes.map(({ width, height }) => ({ width, height })),
          master: { width: photo.master.width, height: photo.master.height },
        },
      };
    }, owner);
  }

  async deletePhoto(owner: PhotoOwner, precondition: Precondition): Promise<DeleteOutcome> {
    return this.#transaction(async (client): Promise<DeleteOutcome> => {
      const current = await this.#lockOwner(owner, client);
      if (!preconditionHolds(precondition, current)) return { ok: false, reason: 'precondition', currentEtag: current };
      return { ok: true, deleted: await this.#deleteOwnerPhoto(owner, client) };
    }, owner);
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    this.changes.close();
    if (!this.#pool.ended) await this.#pool.end();
  }

  /**
   * Other nodes' commits, through LISTEN/NOTIFY on one connection of its own (not the
   * pool's). A notice names the owner whose photo a transaction changed, so other nodes
   * drop just that owner; any other change drops everything. The watcher is live only
   * while that connection listens: whenever it is not — starting, lost (the server
   * restarted, pg_terminate_backend, a heartbeat unanswered), reconnecting — a commit
   * could go unheard, so caches are not trusted (every read asks the database) and are
   * dropped again once it listens, since what was missed meanwhile is unknown.
   */
  #watch(notice: (change: StoredChange) => void): Watcher {
    let listening: pg.Client | undefined;
    let connecting = false;
    let stopped = false;
    const lost = (client: pg.Client) => {
      if (listening !== client) return;
      listening = undefined;
      notice({ kind: 'elsewhere' });
    };
    const connect = async () => {
      connecting = true;
      const client = new pg.Client({ connectionString: this.#connectionString, application_name: CHANGES_APPLICATION });
      client.on('notification', (message) => {
        const change = changeOf(message.payload, this.#instance);
        if (change !== undefined) notice(change);
      });
      // An error ends the connection; 'end' handles both.
      client.on('error', () => lost(client));
      client.on('end', () => lost(client));
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGES_CHANNEL}`);
        if (stopped) throw new Error('stopped');
        listening = client;
        // Whatever was committed before LISTEN took effect went unheard.
        notice({ kind: 'elsewhere' });
      } catch {
        await client.end().catch(() => {});
      } finally {
        connecting = false;
      }
    };
    // A connection that died without a word (a network partition) is found by its heartbeat.
    let beats = 0;
    const timer = setInterval(() => {
      const client = listening;
      if (client === undefined) {
        if (!connecting && !stopped) void connect();
        return;
      }
      if (++beats % HEARTBEAT_TICKS !== 0) return;
      const unanswered = setTimeout(() => {
        lost(client);
        void client.end().catch(() => {});
      }, HEARTBEAT_TIMEOUT_MS);
      unanswered.unref();
      client.query('SELECT 1').then(
        () => clearTimeout(unanswered),
        () => clearTimeout(unanswered),
      );
    }, CHANGE_NOTICE_MS);
    timer.unref();
    void connect();
    return {
      get live() {
        return listening !== undefined;
      },
      stop: () => {
        stopped = true;
        clearInterval(timer);
        const client = listening;
        listening = undefined;
        void client?.end().catch(() => {});
      },
    };
  }

  /** Serialises writers of one owner for the rest of the transaction; returns its current ETag. */
  async #lockOwner(owner: PhotoOwner, client: pg.PoolClient): Promise<string | undefined> {
    await this.#rows('lock-owner', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
      `photo:${owner.tenantId}:${owner.type}:${owner.id}`,
    ], client);
    const row = await this.#row('get-etag', `SELECT etag FROM photos WHERE ${PHOTO_KEY}`, [owner.tenantId, owner.type, owner.id], client);
    return row?.etag as string | undefined;
  }

  async #deleteOwnerPhoto(owner: PhotoOwner, client: pg.PoolClient): Promise<boolean> {
    const rows = await this.#rows('delete-owner-photo', `DELETE FROM photos WHERE ${PHOTO_KEY} RETURNING id`, [owner.tenantId, owner.type, owner.id], client);
    return rows.length > 0;
  }

  /** Inserts, updates a changed row, or leaves an equal one alone — in one statement pair under a row lock. */
  async #save(table: string, keys: readonly string[], next: Row): Promise<SaveResult> {
    return this.#transaction(async (client) => {
      const columns = Object.keys(next);
      const where = keys.map((k, i) => `${k} = $${i + 1}`).join(' AND ');
      const existing = await this.#row(`get-${table}-for-save`, `SELECT * FROM ${table} WHERE ${where} FOR UPDATE`, keys.map((k) => next[k]), client);
      if (existing === undefined) {
        await this.#rows(
          `insert-${table}`,
          `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          columns.map((c) => next[c]),
          client,
        );
        return 'created';
      }
      if (columns.every((c) => existing[c] === next[c])) return 'unchanged';
      const sets = columns.filter((c) => !keys.includes(c));
      await this.#rows(
        `update-${table}`,
        `UPDATE ${table} SET ${sets.map((c, i) => `${c} = $${i + 1}`).join(', ')}
         WHERE ${keys.map((k, i) => `${k} = $${sets.length + i + 1}`).join(' AND ')}`,
        [...sets.map((c) => next[c]), ...keys.map((k) => next[k])],
        client,
      );
      return 'updated';
    });
  }

  /**
   * `photoOf`: the owner whose photo the transaction changes, named in its notice; absent:
   * anything may change; 'nothing cached': no notice (what it writes is kept in no cache).
   */
  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>, photoOf?: PhotoOwner | 'nothing cached'): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      // Delivered to the listening nodes when, and only if, the transaction commits.
      if (photoOf !== 'nothing cached') {
        await client.query({ name: 'notify-change', text: 'SELECT pg_notify($1, $2)', values: [CHANGES_CHANNEL, noticeOf(this.#instance, photoOf)] });
      }
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }
}

/** A notice's payload: the sending store's instance id, then the owner whose photo changed, if that is all. */
function noticeOf(instance: string, owner: PhotoOwner | undefined): string {
  return owner === undefined ? instance : [instance, owner.tenantId, owner.type, owner.id].join('\n');
}

/** What another node's notice says changed; undefined for this store's own notices. */
function changeOf(payload: string | undefined, instance: string): StoredChange | undefined {
  const [from, tenantId, type, id] = (payload ?? '').split('\n');
  if (from === instance) return undefined;
  if (tenantId !== undefined && id !== undefined && (type === 'user' || type === 'group' || type === 'contact')) {
    return { kind: 'photo-changed', owner: { tenantId, type, id } };
  }
  return { kind: 'elsewhere' };
}
