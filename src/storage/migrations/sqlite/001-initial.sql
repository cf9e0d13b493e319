-- Portrait's first schema. Ids are lower-case GUIDs; names that Graph matches
-- case-insensitively are kept with a lower-cased key beside them.

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE tenants (
  id         TEXT PRIMARY KEY,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE users (
  tenant_id           TEXT NOT NULL REFERENCES tenants (id),
  id                  TEXT NOT NULL,
  user_principal_name TEXT NOT NULL,
  upn_key             TEXT NOT NULL,
  display_name        TEXT NOT NULL,
  mail                TEXT,
  user_type           TEXT NOT NULL CHECK (user_type IN ('Member', 'Guest')),
  is_admin            INTEGER NOT NULL,
  drive_id            TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, upn_key),
  UNIQUE (tenant_id, drive_id)
) STRICT;

CREATE TABLE groups (
  tenant_id     TEXT NOT NULL REFERENCES tenants (id),
  id            TEXT NOT NULL,
  display_name  TEXT NOT NULL,
  mail_nickname TEXT NOT NULL,
  description   TEXT,
  has_team      INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE contact_folders (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  user_id          TEXT NOT NULL,
  parent_folder_id TEXT,
  display_name     TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX contact_folders_by_parent ON contact_folders (tenant_id, user_id, parent_folder_id);

CREATE TABLE contacts (
  tenant_id       TEXT NOT NULL,
  id              TEXT NOT NULL,
  user_id         TEXT NOT NULL,
  folder_id       TEXT,
  display_name    TEXT NOT NULL,
  given_name      TEXT,
  surname         TEXT,
  email_addresses TEXT NOT NULL, -- JSON array of {address, name}
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX contacts_by_folder ON contacts (tenant_id, user_id, folder_id);

CREATE TABLE invitations (
  tenant_id                  TEXT NOT NULL,
  id                         TEXT NOT NULL,
  invited_user_id            TEXT NOT NULL,
  invited_user_email_address TEXT NOT NULL,
  invite_redirect_url        TEXT NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, invited_user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- One row per owner: the current version. Replacing a photo deletes the row (its
-- sizes go with it) and inserts the new one in the same transaction, so a reader
-- sees one version whole. `sizes` repeats the size list so metadata is one row.
CREATE TABLE photos (
  id            INTEGER PRIMARY KEY,
  tenant_id     TEXT NOT NULL,
  owner_type    TEXT NOT NULL CHECK (owner_type IN ('user', 'group', 'contact')),
  owner_id      TEXT NOT NULL,
  etag          TEXT NOT NULL,
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL,
  sizes         TEXT NOT NULL, -- "48x48,64x64,…", ordered by width then height
  master_width  INTEGER NOT NULL,
  master_height INTEGER NOT NULL,
  master        BLOB NOT NULL,
  updated_at    TEXT NOT NULL,
  UNIQUE (tenant_id, owner_type, owner_id)
) STRICT;

CREATE TABLE photo_sizes (
  photo_id INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
  width    INTEGER NOT NULL,
  height   INTEGER NOT NULL,
  bytes    BLOB NOT NULL,
  PRIMARY KEY (photo_id, width, height)
) STRICT, WITHOUT ROWID;
