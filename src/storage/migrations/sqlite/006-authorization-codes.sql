-- Signing people in (OAuth 2.0 authorization code with PKCE, auth/authorization-grants.ts).
-- An application may name the redirect URIs its codes go to, space-separated (a URI has
-- no spaces); none means it signs nobody in.
ALTER TABLE applications ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';

-- Authorization codes and refresh tokens: kept only as a SHA-256 of the random value (the
-- value is 256 random bits, so no salt or slow hash is needed), each used once (deleted as
-- it is redeemed), and in a table, not in memory, so that any node redeems what another issued.
CREATE TABLE oauth_grants (
  grant_hash     TEXT NOT NULL PRIMARY KEY, -- base64url SHA-256 of the code or refresh token
  kind           TEXT NOT NULL CHECK (kind IN ('code', 'refresh')),
  tenant_id      TEXT NOT NULL REFERENCES tenants (id),
  client_id      TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  scopes         TEXT NOT NULL, -- delegated permissions, space-separated, as a token's scp
  redirect_uri   TEXT,          -- a code's, which its redemption must repeat
  code_challenge TEXT,          -- a code's PKCE S256 challenge
  nonce          TEXT,          -- a code's OpenID Connect nonce, for its id_token
  expires_at     INTEGER NOT NULL -- ms since the epoch
) STRICT;
CREATE INDEX oauth_grants_expiry ON oauth_grants (expires_at);
CREATE INDEX oauth_grants_user ON oauth_grants (tenant_id, user_id);
