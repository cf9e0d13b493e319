// Portrait's own web app (src/web/, served at /) as a client of the built-in issuer: a
// first-party public client that every tenant has without `portrait app add`, as Entra's
// own apps (Graph Explorer, the Azure portal) have fixed client ids. Its one redirect URI is
// this server's own page, `${origin}/`, where origin is --public-url or the origin the
// request came to: it is computed, never taken from the request's parameters, so the code
// can only ever go back to this server (no open redirect).
import type { Application } from '../storage/store.js';

/** The web app's client id at the built-in issuer, in every tenant. */
export const WEB_APP_CLIENT_ID = '7f6e0b3c-5a1d-4c2e-9b8f-0d4a6c2e1f35';

/** What the web app asks for: the photo permissions of the permission table, and a refresh token. */
export const WEB_APP_SCOPES = [
  'openid',
  'profile',
  'offline_access',
  'https://graph.microsoft.com/User.ReadWrite.All',
  'https://graph.microsoft.com/Group.ReadWrite.All',
] as const;

/** The web app as an application of `tenantId` on the server at `origin` (no trailing slash). */
export function webAppApplication(tenantId: string, origin: string): Application {
  return {
    tenantId,
    clientId: WEB_APP_CLIENT_ID,
    displayName: 'Portrait',
    roles: [],
    // No secret: a public client, with PKCE alone.
    secretHash: '',
    redirectUris: [`${origin}/`],
    createdAt: '1970-01-01T00:00:00.000Z',
  };
}
