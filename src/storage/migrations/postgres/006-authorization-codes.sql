-- Signing people in (the SQLite twin is migrations/sqlite/006-authorization-codes.sql).
ALTER TABLE applications ADD COLUMN redirect_uris text NOT NULL DEFAULT '';

CREATE TABLE oauth_grants (
  grant_hash     text NOT NULL PRIMARY KEY, -- base64url SHA-256 of the code or refresh token
  kind           text NOT NULL CHECK (kind IN ('code', 'refresh')),
  tenant_id      text NOT NULL REFERENCES tenants (id),
  client_id      text NOT NULL,
  user_id        text NOT NULL,
  scopes         text NOT NULL,
  redirect_uri   text,
  code_challenge text,
  nonce          text,
  expires_at     bigint NOT NULL -- ms since the epoch
);
CREATE INDEX oauth_grants_expiry ON oauth_grants (expires_at);
CREATE INDEX oauth_grants_user ON oauth_grants (tenant_id, user_id);
