-- Applications registered with `portrait app add`: what the built-in issuer's token
-- endpoint authenticates by client credentials. The secret itself is never kept, only
-- a salted scrypt hash with its parameters (auth/client-secrets.ts).

CREATE TABLE applications (
  tenant_id    TEXT NOT NULL REFERENCES tenants (id),
  client_id    TEXT NOT NULL, -- a lower-case GUID
  display_name TEXT NOT NULL,
  roles        TEXT NOT NULL, -- application permissions, space-separated, as a token's scp
  secret_hash  TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, client_id)
) STRICT;
