-- Portrait's first schema, PostgreSQL dialect (the SQLite twin is migrations/sqlite/001-initial.sql).
-- Ids are lower-case GUIDs; names Graph matches case-insensitively keep a lower-cased key beside them.

CREATE TABLE settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE tenants (
  id         text PRIMARY KEY,
  created_at timestamptz NOT NULL
);

CREATE TABLE users (
  tenant_id           text NOT NULL REFERENCES tenants (id),
  id                  text NOT NULL,
  user_principal_name text NOT NULL,
  upn_key             text NOT NULL,
  display_name        text NOT NULL,
  mail                text,
  user_type           text NOT NULL CHECK (user_type IN ('Member', 'Guest')),
  is_admin            boolean NOT NULL,
  drive_id            text NOT NULL,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, upn_key),
  UNIQUE (tenant_id, drive_id)
);

CREATE TABLE groups (
  tenant_id     text NOT NULL REFERENCES tenants (id),
  id            text NOT NULL,
  display_name  text NOT NULL,
  mail_nickname text NOT NULL,
  description   text,
  has_team      boolean NOT NULL,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE contact_folders (
  tenant_id        text NOT NULL,
  id               text NOT NULL,
  user_id          text NOT NULL,
  parent_folder_id text,
  display_name     text NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX contact_folders_by_parent ON contact_folders (tenant_id, user_id, parent_folder_id);

CREATE TABLE contacts (
  tenant_id       text NOT NULL,
  id              text NOT NULL,
  user_id         text NOT NULL,
  folder_id       text,
  display_name    text NOT NULL,
  given_name      text,
  surname         text,
  email_addresses text NOT NULL, -- JSON array of {address, name}, kept as text like SQLite's
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX contacts_by_folder ON contacts (tenant_id, user_id, folder_id);

CREATE TABLE invitations (
  tenant_id                  text NOT NULL,
  id                         text NOT NULL,
  invited_user_id            text NOT NULL,
  invited_user_email_address text NOT NULL,
  invite_redirect_url        text NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, invited_user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- One row per owner: the current version. A replacement deletes the row (its sizes go
-- with it) and inserts the new one in one transaction, so a reader sees one version whole.
CREATE TABLE photos (
  id            bigserial PRIMARY KEY,
  tenant_id     text NOT NULL,
  owner_type    text NOT NULL CHECK (owner_type IN ('user', 'group', 'contact')),
  owner_id      text NOT NULL,
  etag          text NOT NULL,
  width         integer NOT NULL,
  height        integer NOT NULL,
  sizes         text NOT NULL, -- "48x48,64x64,…", ordered by width then height
  master_width  integer NOT NULL,
  master_height integer NOT NULL,
  master        bytea NOT NULL,
  updated_at    timestamptz NOT NULL,
  UNIQUE (tenant_id, owner_type, owner_id)
);

CREATE TABLE photo_sizes (
  photo_id bigint NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
  width    integer NOT NULL,
  height   integer NOT NULL,
  bytes    bytea NOT NULL,
  PRIMARY KEY (photo_id, width, height)
);
