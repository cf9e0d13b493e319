// The embedded store: one SQLite file through better-sqlite3, in WAL mode so that
// readers never wait for a writer. Every statement is prepared once; every photo
// write is one transaction (a reader sees the old version or the new one, whole).
import type BetterSqlite3 from 'better-sqlite3';
import Database from './sqlite-driver.js';
import { emailAddressesJson, rolesText, toApplication, toOAuthGrant, toContact, toContent, toFolder, toGroup, toInvitation, toPhotoInfo, toUser, type Row } from './rows.js';
import { ChangeFeed, type StoredChange, type Watcher } from './change-feed.js';
import { preparePrivateSqliteFile } from './private-sqlite-file.js';
import { applyMigrations } from './sqlite-migrations.js';
import { contentReads, TurnReads, type ContentRead } from './sqlite-photo-reads.js';
import type { ContactFolderProperty, ContactProperty, GroupProperty, ListQuery, Page, UserProperty } from './list-query.js';
import { CONTACTS_TABLE, FOLDERS_TABLE, GROUPS_TABLE, pageStatements, SQLITE, USERS_TABLE, type ListTable, type Scope } from './list-query-sql.js';
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
  type WriteOutcome,
} from './store.js';


export interface SqliteStoreOptions {
  /** A file path, or ':memory:' for tests that need no file. */
  readonly filename: string;
}

/** As large as this SQLite build allows (SQLITE_MAX_MMAP_SIZE clamps it): see the constructor. */
const MMAP_SIZE = 4294967296;

export class SqliteStore implements Store {
  readonly #db: BetterSqlite3.Database;
  readonly #filename: string;
  readonly #sql: ReturnType<typeof prepareStatements>;
  /** The route's photo reads, on the store's connection. */
  readonly #readContent: ContentRead;
  /** The read path's (readPhotoContentNow), opened at its first read; none for ':memory:'. */
  #turnReads: TurnReads | undefined;
  readonly changes = new ChangeFeed(
    (notice) => this.#watch(notice),
    () => this.#turnReads?.end(),
  );

  constructor(options: SqliteStoreOptions) {
    this.#filename = options.filename;
    // 0600 before SQLite opens it, whoever builds the store: -wal and -shm follow its mode.
    preparePrivateSqliteFile(options.filename, { create: true });
    this.#db = new Database(options.filename);
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash; only power loss can drop the last commits.
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.pragma('busy_timeout = 5000');
    // Reads of a large store (100,000 photos is about 2 GB) go through memory-mapped pages
    // and a 64 MiB page cache instead of a pread per page into SQLite's default 2 MiB. The
    // map is as large as this SQLite build allows (SQLITE_MAX_MMAP_SIZE, just under 2 GiB:
    // a larger request is clamped to it); pages beyond it are read with pread.
    this.#db.pragma(`mmap_size = ${MMAP_SIZE}`);
    this.#db.pragma('cache_size = -65536');
    applyMigrations(this.#db);
    this.#sql = prepareStatements(this.#db);
    this.#readContent = contentReads(this.#db);
  }

  async ensureTenant(tenantId: string): Promise<void> {
    this.#sql.insertTenant.run(tenantId, new Date().toISOString());
  }

  async hasTenant(tenantId: string): Promise<boolean> {
    return this.#sql.getTenant.get(tenantId) !== undefined;
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = this.#sql.getSetting.get(key) as { value: string } | undefined;
    return row?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.#sql.setSetting.run(key, value);
  }

  async claimSetting(key: string, value: string): Promise<string> {
    this.#sql.claimSetting.run(key, value);
    return (this.#sql.getSetting.get(key) as { value: string }).value;
  }

  async saveUser(user: User): Promise<SaveResult> {
    const existing = this.#sql.getUserById.get(user.tenantId, user.id) as Row | undefined;
    const next = {
      tenant_id: user.tenantId,
      id: user.id,
      user_principal_name: user.userPrincipalName,
      upn_key: user.userPrincipalName.toLowerCase(),
      display_name: user.displayName,
      mail: user.mail,
      user_type: user.userType,
      is_admin: user.isAdmin ? 1 : 0,
      drive_id: user.driveId,
    };
    try {
      return save(existing, next, this.#sql.insertUser, this.#sql.updateUser);
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError(`Another object with the same value for property userPrincipalName already exists.`);
      }
      throw error;
    }
  }

  async getUserById(tenantId: string, id: string): Promise<User | undefined> {
    const row = this.#sql.getUserById.get(tenantId, id.toLowerCase()) as Row | undefined;
    return row && toUser(row);
  }

  async getUserByUpn(tenantId: string, userPrincipalName: string): Promise<User | undefined> {
    const row = this.#sql.getUserByUpn.get(tenantId, userPrincipalName.toLowerCase()) as Row | undefined;
    return row && toUser(row);
  }

  async getUserByDrive(tenantId: string, driveId: string): Promise<User | undefined> {
    const row = this.#sql.getUserByDrive.get(tenantId, driveId) as Row | undefined;
    return row && toUser(row);
  }

  async listUsers(tenantId: string): Promise<User[]> {
    return (this.#sql.listUsers.all(tenantId) as Row[]).map(toUser);
  }

  async queryUsers(tenantId: string, query: ListQuery<UserProperty>): Promise<Page<User>> {
    return this.#page(USERS_TABLE, { tenant_id: tenantId }, query, toUser, USER_COLUMNS);
  }

  async deleteUser(tenantId: string, id: string): Promise<boolean> {
    return this.#db.transaction(() => {
      this.#sql.deleteContactPhotosOfUser.run({ tenant_id: tenantId, user_id: id });
      this.#sql.deleteOwnerPhoto.run(tenantId, 'user', id);
      this.#sql.deleteUserGrants.run(tenantId, id);
      return this.#sql.deleteUser.run(tenantId, id).changes > 0;
    })();
  }

  async saveGroup(group: Group): Promise<SaveResult> {
    const existing = this.#sql.getGroup.get(group.tenantId, group.id) as Row | undefined;
    return save(
      existing,
      {
        tenant_id: group.tenantId,
        id: group.id,
        display_name: group.displayName,
        mail_nickname: group.mailNickname,
        description: group.description,
        unified: group.unified ? 1 : 0,
        has_team: group.hasTeam ? 1 : 0,
      },
      this.#sql.insertGroup,
      this.#sql.updateGroup,
    );
  }

  async getGroup(tenantId: string, id: string): Promise<Group | undefined> {
    const row = this.#sql.getGroup.get(tenantId, id.toLowerCase()) as Row | undefined;
    return row && toGroup(row);
  }

  async listGroups(tenantId: string): Promise<Group[]> {
    return (this.#sql.listGroups.all(tenantId) as Row[]).map(toGroup);
  }

  async queryGroups(tenantId: string, query: ListQuery<GroupProperty>): Promise<Page<Group>> {
    return this.#page(GROUPS_TABLE, { tenant_id: tenantId }, query, toGroup);
  }

  async deleteGroup(tenantId: string, id: string): Promise<boolean> {
    return this.#db.transaction(() => {
      this.#sql.deleteOwnerPhoto.run(tenantId, 'group', id);
      return this.#sql.deleteGroup.run(tenantId, id).changes > 0;
    })();
  }

  async addGroupMember(tenantId: string, groupId: string, memberId: string): Promise<MemberAdded> {
    const key = { tenant_id: tenantId, group_id: groupId.toLowerCase(), member_id: memberId.toLowerCase() };
    return this.#db.transaction((): MemberAdded => {
      if (this.#sql.insertMember.run(key).changes > 0) return 'added';
      return this.#sql.getMember.get(key) === undefined ? 'missing' : 'exists';
    })();
  }

  async removeGroupMember(tenantId: string, groupId: string, memberId: string): Promise<boolean> {
    return this.#sql.deleteMember.run({ tenant_id: tenantId, group_id: groupId.toLowerCase(), member_id: memberId.toLowerCase() }).changes > 0;
  }

  async isGroupMember(tenantId: string, groupId: string, memberId: string): Promise<boolean> {
    return this.#sql.getMember.get({ tenant_id: tenantId, group_id: groupId.toLowerCase(), member_id: memberId.toLowerCase() }) !== undefined;
  }

  async listGroupMembers(tenantId: string, groupId: string, page: MemberPage): Promise<User[]> {
    const rows = this.#sql.listMembers.all({ tenant_id: tenantId, group_id: groupId.toLowerCase(), after: page.after?.toLowerCase() ?? '', limit: page.limit });
    return (rows as Row[]).map(toUser);
  }

  async listMemberOf(tenantId: string, memberId: string, page: MemberPage): Promise<Group[]> {
    const rows = this.#sql.listMemberOf.all({ tenant_id: tenantId, member_id: memberId.toLowerCase(), after: page.after?.toLowerCase() ?? '', limit: page.limit });
    return (rows as Row[]).map(toGroup);
  }

  async saveContactFolder(folder: ContactFolder): Promise<SaveResult> {
    const existing = this.#sql.getFolder.get(folder.tenantId, folder.userId, folder.id) as Row | undefined;
    return save(
      existing,
      {
        tenant_id: folder.tenantId,
        id: folder.id,
        user_id: folder.userId,
        parent_folder_id: folder.parentFolderId,
        display_name: folder.displayName,
      },
      this.#sql.insertFolder,
      this.#sql.updateFolder,
    );
  }

  async getContactFolder(tenantId: string, userId: string, id: string): Promise<ContactFolder | undefined> {
    const row = this.#sql.getFolder.get(tenantId, userId, id.toLowerCase()) as Row | undefined;
    return row && toFolder(row);
  }

  async listContactFolders(tenantId: string, userId: string, parentFolderId: string | null): Promise<ContactFolder[]> {
    return (this.#sql.listFolders.all(tenantId, userId, parentFolderId) as Row[]).map(toFolder);
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
    const existing = this.#sql.getContact.get(contact.tenantId, contact.userId, contact.id) as Row | undefined;
    return save(
      existing,
      {
        tenant_id: contact.tenantId,
        id: contact.id,
        user_id: contact.userId,
        folder_id: contact.folderId,
        display_name: contact.displayName,
        given_name: contact.givenName,
        surname: contact.surname,
        email_addresses: emailAddressesJson(contact.emailAddresses),
      },
      this.#sql.insertContact,
      this.#sql.updateContact,
    );
  }

  async getContact(tenantId: string, userId: string, id: string): Promise<Contact | undefined> {
    const row = this.#sql.getContact.get(tenantId, userId, id.toLowerCase()) as Row | undefined;
    return row && toContact(row);
  }

  async listContacts(tenantId: string, userId: string, folderId: string | null): Promise<Contact[]> {
    return (this.#sql.listContacts.all(tenantId, userId, folderId) as Row[]).map(toContact);
  }

  async queryContacts(tenantId: string, userId: string, folderId: string | null, query: ListQuery<ContactProperty>): Promise<Page<Contact>> {
    return this.#page(CONTACTS_TABLE, { tenant_id: tenantId, user_id: userId, folder_id: folderId }, query, toContact);
  }

  /** One page and its count, read in one transaction so that the count is of the same snapshot. */
  #page<T>(list: ListTable, scope: Scope, query: ListQuery, toItem: (row: Row) => T, columns = '*'): Page<T> {
    const { page, count } = pageStatements(SQLITE, list, scope, query, columns);
    return this.#db.transaction((): Page<T> => {
      const rows = this.#db.prepare(page.sql).all(...page.params) as Row[];
      const more = rows.length > query.limit;
      const items = rows.slice(0, query.limit).map(toItem);
      if (count === undefined) return { items, more };
      const n = (this.#db.prepare(count.sql).get(...count.params) as { n: number }).n;
      return { items, more, count: n };
    })();
  }

  async saveInvitation(invitation: Invitation): Promise<SaveResult> {
    const existing = this.#sql.getInvitation.get(invitation.tenantId, invitation.id) as Row | undefined;
    return save(
      existing,
      {
        tenant_id: invitation.tenantId,
        id: invitation.id,
        invited_user_id: invitation.invitedUserId,
        invited_user_email_address: invitation.invitedUserEmailAddress,
        invite_redirect_url: invitation.inviteRedirectUrl,
      },
      this.#sql.insertInvitation,
      this.#sql.updateInvitation,
    );
  }

  async getInvitation(tenantId: string, id: string): Promise<Invitation | undefined> {
    const row = this.#sql.getInvitation.get(tenantId, id.toLowerCase()) as Row | undefined;
    return row && toInvitation(row);
  }

  async saveApplication(application: Application): Promise<SaveResult> {
    const existing = this.#sql.getApplication.get(application.tenantId, application.clientId) as Row | undefined;
    return save(
      existing,
      {
        tenant_id: application.tenantId,
        client_id: application.clientId,
        display_name: application.displayName,
        roles: rolesText(application.roles),
        secret_hash: application.secretHash,
        redirect_uris: rolesText(application.redirectUris),
        created_at: application.createdAt,
      },
      this.#sql.insertApplication,
      this.#sql.updateApplication,
    );
  }

  async getApplication(tenantId: string, clientId: string): Promise<Application | undefined> {
    const row = this.#sql.getApplication.get(tenantId, clientId.toLowerCase()) as Row | undefined;
    return row && toApplication(row);
  }

  async listApplications(tenantId: string | undefined): Promise<Application[]> {
    const rows = (tenantId === undefined ? this.#sql.listAllApplications.all() : this.#sql.listApplications.all(tenantId)) as Row[];
    return rows.map(toApplication);
  }

  async deleteApplication(tenantId: string, clientId: string): Promise<boolean> {
    // Its codes and refresh tokens go with it: nothing it was granted outlives it.
    return this.#db.transaction(() => {
      this.#sql.deleteApplicationGrants.run(tenantId, clientId.toLowerCase());
      return this.#sql.deleteApplication.run(tenantId, clientId.toLowerCase()).changes > 0;
    })();
  }

  async saveOAuthGrant(grant: OAuthGrant): Promise<void> {
    this.#db.transaction(() => {
      this.#sql.deleteExpiredGrants.run(Date.now());
      this.#sql.insertGrant.run({
        grant_hash: grant.grantHash,
        kind: grant.kind,
        tenant_id: grant.tenantId,
        client_id: grant.clientId,
        user_id: grant.userId,
        scopes: rolesText(grant.scopes),
        redirect_uri: grant.redirectUri,
        code_challenge: grant.codeChallenge,
        nonce: grant.nonce,
        expires_at: grant.expiresAt,
      });
      this.#sql.deleteGrantsBeyond.run({ tenant_id: grant.tenantId, user_id: grant.userId });
    })();
  }

  async takeOAuthGrant(grantHash: string, now: number): Promise<OAuthGrant | undefined> {
    const row = this.#sql.takeGrant.get(grantHash) as Row | undefined;
    return row === undefined || Number(row.expires_at) <= now ? undefined : toOAuthGrant(row);
  }

  async getPhoto(owner: PhotoOwner): Promise<PhotoInfo | undefined> {
    const row = this.#sql.getPhoto.get(owner.tenantId, owner.type, owner.id) as Row | undefined;
    return row && toPhotoInfo(row);
  }

  async getPhotoContent(owner: PhotoOwner, size: Dimensions | 'primary'): Promise<PhotoContent | undefined> {
    return this.#readContent(owner, size);
  }

  /**
   * The read path's read, on its own connection, one read transaction per event-loop turn
   * (sqlite-photo-reads.ts); the change feed makes it let go of its snapshot at every change.
   */
  readPhotoContentNow(owner: PhotoOwner, size: Dimensions | 'primary'): PhotoContent | undefined {
    if (this.#turnReads !== undefined) return this.#turnReads.read(owner, size);
    // An in-memory database is this connection's alone: a second one would be another database.
    if (this.#db.memory || !this.#db.open) return this.#readContent(owner, size);
    this.#turnReads = new TurnReads(this.#filename, MMAP_SIZE);
    return this.#turnReads.read(owner, size);
  }

  async getMaster(owner: PhotoOwner): Promise<PhotoContent | undefined> {
    const row = this.#sql.getMaster.get(owner.tenantId, owner.type, owner.id) as Row | undefined;
    return row && toContent(row);
  }

  async putPhoto(owner: PhotoOwner, photo: NewPhoto, precondition: Precondition): Promise<WriteOutcome> {
    // IMMEDIATE takes the write lock before the precondition is read, so two racing
    // conditional writes cannot both see the old ETag.
    return this.#db
      .transaction((): WriteOutcome => {
        const current = this.#currentEtag(owner);
        if (!preconditionHolds(precondition, current)) {
          return { ok: false, reason: 'precondition', currentEtag: current };
        }
        this.#sql.deleteOwnerPhoto.run(owner.tenantId, owner.type, owner.id);
        const sizes = [...photo.sizes].sort(bySize);
        const { lastInsertRowid } = this.#sql.insertPhoto.run({
          tenant_id: owner.tenantId,
          owner_type: owner.type,
          owner_id: owner.id,
          etag: photo.etag,
          width: photo.primary.width,
          height: photo.primary.height,
          sizes: sizes.map((s) => `${s.width}x${s.height}`).join(','),
          master_width: photo.master.width,
          master_height: photo.master.height,
          master: photo.master.bytes,
          updated_at: new Date().toISOString(),
        });
        for (const size of sizes) {
          this.#sql.insertContent.run({
            photo_id: lastInsertRowid,
            tenant_id: owner.tenantId,
            owner_type: owner.type,
            owner_id: owner.id,
            width: size.width,
            height: size.height,
            is_primary: size.width === photo.primary.width && size.height === photo.primary.height ? 1 : 0,
            etag: photo.etag,
            bytes: size.bytes,
          });
        }
        return {
          ok: true,
          info: {
            etag: photo.etag,
            primary: { width: photo.primary.width, height: photo.primary.height },
            sizes: sizes.map(({ width, height }) => ({ width, height })),
            master: { width: photo.master.width, height: photo.master.height },
          },
        };
      })
      .immediate();
  }

  async deletePhoto(owner: PhotoOwner, precondition: Precondition): Promise<DeleteOutcome> {
    return this.#db
      .transaction((): DeleteOutcome => {
        const current = this.#currentEtag(owner);
        if (!preconditionHolds(precondition, current)) {
          return { ok: false, reason: 'precondition', currentEtag: current };
        }
        const { changes } = this.#sql.deleteOwnerPhoto.run(owner.tenantId, owner.type, owner.id);
        return { ok: true, deleted: changes > 0 };
      })
      .immediate();
  }

  async ping(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.changes.close();
    this.#turnReads?.close();
    if (this.#db.open) this.#db.close();
  }

  /**
   * Other processes' commits: SQLite's data_version changes on this connection when
   * any other connection (another `portrait serve`, `portrait import`) has committed,
   * and never for this connection's own commits. Reading it is one pragma on memory
   * already mapped, so it is polled; a file watch would miss writes through the WAL.
   */
  #watch(notice: (change: StoredChange) => void): Watcher {
    const version = this.#db.prepare('PRAGMA data_version').pluck();
    let seen = version.get() as number;
    const timer = setInterval(() => {
      if (!this.#db.open) return;
      const now = version.get() as number;
      if (now === seen) return;
      seen = now;
      notice({ kind: 'elsewhere' });
    }, CHANGE_NOTICE_MS);
    // A watcher must not keep a process alive that has nothing else to do.
    timer.unref();
    // Polling cannot miss a commit: it is always live, to within CHANGE_NOTICE_MS.
    return { live: true, stop: () => clearInterval(timer) };
  }

  #currentEtag(owner: PhotoOwner): string | undefined {
    const row = this.#sql.getEtag.get(owner.tenantId, owner.type, owner.id) as { etag: string } | undefined;
    return row?.etag;
  }
}

const USER_COLUMNS = 'tenant_id, id, user_principal_name, display_name, mail, user_type, is_admin, drive_id';

function prepareStatements(db: BetterSqlite3.Database) {
  const userColumns = USER_COLUMNS;
  const photoKey = 'tenant_id = ? AND owner_type = ? AND owner_id = ?';
  return {
    insertTenant: db.prepare('INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING'),
    getTenant: db.prepare('SELECT 1 FROM tenants WHERE id = ?'),
    getSetting: db.prepare('SELECT value FROM settings WHERE key = ?'),
    claimSetting: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
    setSetting: db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),

    getUserById: db.prepare(`SELECT ${userColumns}, upn_key FROM users WHERE tenant_id = ? AND id = ?`),
    getUserByUpn: db.prepare(`SELECT ${userColumns} FROM users WHERE tenant_id = ? AND upn_key = ?`),
    getUserByDrive: db.prepare(`SELECT ${userColumns} FROM users WHERE tenant_id = ? AND drive_id = ?`),
    listUsers: db.prepare(`SELECT ${userColumns} FROM users WHERE tenant_id = ? ORDER BY upn_key`),
    insertUser: db.prepare(
      `INSERT INTO users (${userColumns}, upn_key)
       VALUES (@tenant_id, @id, @user_principal_name, @display_name, @mail, @user_type, @is_admin, @drive_id, @upn_key)`,
    ),
    updateUser: db.prepare(
      `UPDATE users SET user_principal_name = @user_principal_name, upn_key = @upn_key, display_name = @display_name,
         mail = @mail, user_type = @user_type, is_admin = @is_admin, drive_id = @drive_id
       WHERE tenant_id = @tenant_id AND id = @id`,
    ),
    deleteUser: db.prepare('DELETE FROM users WHERE tenant_id = ? AND id = ?'),
    deleteContactPhotosOfUser: db.prepare(
      `DELETE FROM photos WHERE tenant_id = @tenant_id AND owner_type = 'contact'
         AND owner_id IN (SELECT id FROM contacts WHERE tenant_id = @tenant_id AND user_id = @user_id)`,
    ),

    getGroup: db.prepare('SELECT * FROM groups WHERE tenant_id = ? AND id = ?'),
    listGroups: db.prepare('SELECT * FROM groups WHERE tenant_id = ? ORDER BY display_name, id'),
    insertGroup: db.prepare(
      `INSERT INTO groups (tenant_id, id, display_name, mail_nickname, description, unified, has_team)
       VALUES (@tenant_id, @id, @display_name, @mail_nickname, @description, @unified, @has_team)`,
    ),
    updateGroup: db.prepare(
      `UPDATE groups SET display_name = @display_name, mail_nickname = @mail_nickname,
         description = @description, unified = @unified, has_team = @has_team
       WHERE tenant_id = @tenant_id AND id = @id`,
    ),
    deleteGroup: db.prepare('DELETE FROM groups WHERE tenant_id = ? AND id = ?'),

    // Inserted only when the group and the user are both in the tenant (the foreign keys
    // would refuse it anyway; this way a missing one is an answer, not an exception).
    insertMember: db.prepare(
      `INSERT INTO group_members (tenant_id, group_id, member_id)
       SELECT @tenant_id, @group_id, @member_id
       WHERE EXISTS (SELECT 1 FROM groups WHERE tenant_id = @tenant_id AND id = @group_id)
         AND EXISTS (SELECT 1 FROM users WHERE tenant_id = @tenant_id AND id = @member_id)
       ON CONFLICT DO NOTHING`,
    ),
    getMember: db.prepare(
      'SELECT 1 FROM group_members WHERE tenant_id = @tenant_id AND group_id = @group_id AND member_id = @member_id',
    ),
    deleteMember: db.prepare(
      'DELETE FROM group_members WHERE tenant_id = @tenant_id AND group_id = @group_id AND member_id = @member_id',
    ),
    listMembers: db.prepare(
      `SELECT ${userColumns.split(', ').map((c) => `u.${c}`).join(', ')} FROM group_members m
       JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.member_id
       WHERE m.tenant_id = @tenant_id AND m.group_id = @group_id AND m.member_id > @after
       ORDER BY m.member_id LIMIT @limit`,
    ),
    listMemberOf: db.prepare(
      `SELECT g.* FROM group_members m
       JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
       WHERE m.tenant_id = @tenant_id AND m.member_id = @member_id AND m.group_id > @after
       ORDER BY m.group_id LIMIT @limit`,
    ),

    getFolder: db.prepare('SELECT * FROM contact_folders WHERE tenant_id = ? AND user_id = ? AND id = ?'),
    listFolders: db.prepare(
      `SELECT * FROM contact_folders WHERE tenant_id = ? AND user_id = ? AND parent_folder_id IS ?
       ORDER BY display_name, id`,
    ),
    insertFolder: db.prepare(
      `INSERT INTO contact_folders (tenant_id, id, user_id, parent_folder_id, display_name)
       VALUES (@tenant_id, @id, @user_id, @parent_folder_id, @display_name)`,
    ),
    updateFolder: db.prepare(
      `UPDATE contact_folders SET user_id = @user_id, parent_folder_id = @parent_folder_id,
         display_name = @display_name
       WHERE tenant_id = @tenant_id AND id = @id`,
    ),

    getContact: db.prepare('SELECT * FROM contacts WHERE tenant_id = ? AND user_id = ? AND id = ?'),
    listContacts: db.prepare(
      'SELECT * FROM contacts WHERE tenant_id = ? AND user_id = ? AND folder_id IS ? ORDER BY display_name, id',
    ),
    insertContact: db.prepare(
      `INSERT INTO contacts (tenant_id, id, user_id, folder_id, display_name, given_name, surname, email_addresses)
       VALUES (@tenant_id, @id, @user_id, @folder_id, @display_name, @given_name, @surname, @email_addresses)`,
    ),
    updateContact: db.prepare(
      `UPDATE contacts SET user_id = @user_id, folder_id = @folder_id, display_name = @display_name,
         given_name = @given_name, surname = @surname, email_addresses = @email_addresses
       WHERE tenant_id = @tenant_id AND id = @id`,
    ),

    getInvitation: db.prepare('SELECT * FROM invitations WHERE tenant_id = ? AND id = ?'),
    insertInvitation: db.prepare(
      `INSERT INTO invitations (tenant_id, id, invited_user_id, invited_user_email_address, invite_redirect_url)
       VALUES (@tenant_id, @id, @invited_user_id, @invited_user_email_address, @invite_redirect_url)`,
    ),
    updateInvitation: db.prepare(
      `UPDATE invitations SET invited_user_id = @invited_user_id,
         invited_user_email_address = @invited_user_email_address, invite_redirect_url = @invite_redirect_url
       WHERE tenant_id = @tenant_id AND id = @id`,
    ),

    getApplication: db.prepare('SELECT * FROM applications WHERE tenant_id = ? AND client_id = ?'),
    listApplications: db.prepare('SELECT * FROM applications WHERE tenant_id = ? ORDER BY created_at, client_id'),
    listAllApplications: db.prepare('SELECT * FROM applications ORDER BY tenant_id, created_at, client_id'),
    deleteApplication: db.prepare('DELETE FROM applications WHERE tenant_id = ? AND client_id = ?'),
    insertApplication: db.prepare(
      `INSERT INTO applications (tenant_id, client_id, display_name, roles, secret_hash, redirect_uris, created_at)
       VALUES (@tenant_id, @client_id, @display_name, @roles, @secret_hash, @redirect_uris, @created_at)`,
    ),
    updateApplication: db.prepare(
      `UPDATE applications SET display_name = @display_name, roles = @roles, secret_hash = @secret_hash,
         redirect_uris = @redirect_uris, created_at = @created_at
       WHERE tenant_id = @tenant_id AND client_id = @client_id`,
    ),

    insertGrant: db.prepare(
      `INSERT INTO oauth_grants (grant_hash, kind, tenant_id, client_id, user_id, scopes, redirect_uri, code_challenge, nonce, expires_at)
       VALUES (@grant_hash, @kind, @tenant_id, @client_id, @user_id, @scopes, @redirect_uri, @code_challenge, @nonce, @expires_at)`,
    ),
    deleteExpiredGrants: db.prepare(
      `DELETE FROM oauth_grants WHERE grant_hash IN
         (SELECT grant_hash FROM oauth_grants WHERE expires_at < ? LIMIT ${EXPIRED_GRANTS_BATCH})`,
    ),
    deleteGrantsBeyond: db.prepare(
      `DELETE FROM oauth_grants WHERE tenant_id = @tenant_id AND user_id = @user_id AND grant_hash NOT IN
         (SELECT grant_hash FROM oauth_grants WHERE tenant_id = @tenant_id AND user_id = @user_id
          ORDER BY expires_at DESC LIMIT ${GRANTS_PER_USER})`,
    ),
    takeGrant: db.prepare('DELETE FROM oauth_grants WHERE grant_hash = ? RETURNING *'),
    deleteUserGrants: db.prepare('DELETE FROM oauth_grants WHERE tenant_id = ? AND user_id = ?'),
    deleteApplicationGrants: db.prepare('DELETE FROM oauth_grants WHERE tenant_id = ? AND client_id = ?'),

    getEtag: db.prepare(`SELECT etag FROM photos WHERE ${photoKey}`),
    getPhoto: db.prepare(
      `SELECT etag, width, height, sizes, master_width, master_height FROM photos WHERE ${photoKey}`,
    ),
    getMaster: db.prepare(
      `SELECT etag, master_width AS width, master_height AS height, master AS bytes FROM photos WHERE ${photoKey}`,
    ),
    deleteOwnerPhoto: db.prepare(`DELETE FROM photos WHERE ${photoKey}`),
    insertPhoto: db.prepare(
      `INSERT INTO photos (tenant_id, owner_type, owner_id, etag, width, height, sizes,
         master_width, master_height, master, updated_at)
       VALUES (@tenant_id, @owner_type, @owner_id, @etag, @width, @height, @sizes,
         @master_width, @master_height, @master, @updated_at)`,
    ),
    insertContent: db.prepare(
      `INSERT INTO photo_content (photo_id, tenant_id, owner_type, owner_id, width, height, is_primary, etag, bytes)
       VALUES (@photo_id, @tenant_id, @owner_type, @owner_id, @width, @height, @is_primary, @etag, @bytes)`,
    ),
  };
}

/** Inserts a new row, updates a changed one, leaves an equal one alone. */
function save(existing: Row | undefined, next: Row, insert: BetterSqlite3.Statement, update: BetterSqlite3.Statement): SaveResult {
  if (existing === undefined) {
    insert.run(next);
    return 'created';
  }
  const changed = Object.keys(next).some((key) => existing[key] !== next[key]);
  if (!changed) return 'unchanged';
  update.run(next);
  return 'updated';
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function bySize(a: Dimensions, b: Dimensions): number {
  return a.width - b.width || a.height - b.height;
}
