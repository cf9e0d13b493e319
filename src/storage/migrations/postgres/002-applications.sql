-- Applications registered with `portrait app add` (the SQLite twin is migrations/sqlite/002-applications.sql).
-- The secret itself is never kept, only a salted scrypt hash with its parameters.

CREATE TABLE applications (
  tenant_id    text NOT NULL REFERENCES tenants (id),
  client_id    text NOT NULL, -- a lower-case GUID
  display_name text NOT NULL,
  roles        text NOT NULL, -- application permissions, space-separated, as a token's scp
  secret_hash  text NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, client_id)
);
