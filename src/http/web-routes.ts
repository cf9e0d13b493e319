// The web app (issue 10 §3), served by the same server as the API, whose only way to
// change anything is that API:
//
//   GET /                          index.html (no-cache: it names the assets' current hash)
//   GET /assets/{hash}/{name}      the scripts and the stylesheet, immutable for a year
//   GET /web/config.json           where the page signs people in, and as which client
//
// Every page answer carries a Content-Security-Policy without inline scripts or styles:
// the page runs only the server's own files and talks only to this origin and, when people
// sign in elsewhere (--web-authority), to that identity provider.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import { sendError } from './error-envelope.js';
import type { WebAssets } from './web-assets.js';
import { notModified } from './conditional.js';

export interface WebAppOptions {
  readonly assets: WebAssets;
  /** The tenant people sign in to at the built-in issuer (serve's default tenant). */
  readonly tenantId: string;
  /** The client id the page signs in as: Portrait's own at the built-in issuer, or --web-client-id. */
  readonly clientId: string;
  /** The OpenID Connect issuer URL people sign in at; the built-in issuer's (on the request's origin) when absent. */
  readonly authority?: string | undefined;
  /** The scopes the page asks for. */
  readonly scopes: readonly string[];
  /** Written in place of the request's origin (serve --public-url). */
  readonly publicUrl?: string | undefined;
}

/** A year: the longest a cache is asked to keep anything (RFC 9111 §5.2.2.1 advises no more). */
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function webSecurityPolicy(authority: string | undefined): string {
  const external = authority === undefined ? '' : ` ${new URL(authority).origin}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // Photos are fetched with the token and shown as blob: URLs; the favicon is an empty data: URL.
    "img-src 'self' blob: data:",
    `connect-src 'self'${external}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export function registerWebRoutes(app: FastifyInstance, options: WebAppOptions): void {
  const { assets } = options;
  const policy = webSecurityPolicy(options.authority);
  const origin = (request: FastifyRequest) => options.publicUrl ?? `${request.protocol}://${request.host}`;

  function pageHeaders(reply: FastifyReply): FastifyReply {
    return reply
      .header('content-security-policy', policy)
      .header('x-frame-options', 'DENY')
      // The sign-in code arrives in the page's query: no request of the page may carry it on.
      .header('referrer-policy', 'no-referrer');
  }

  app.get('/', async function webApp(_request, reply) {
    return pageHeaders(reply).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(assets.index);
  });

  app.get('/assets/:version/:name', async function webAsset(request, reply) {
    const { version, name } = request.params as { version: string; name: string };
    const asset = assets.get(version, name);
    // An old hash is no longer served: its files would be cached as immutable under a name they no longer have.
    if (asset === undefined) return sendError(errors.outsideApi(), request, reply);
    pageHeaders(reply).header('content-type', asset.type).header('cache-control', IMMUTABLE).header('etag', asset.etag);
    if (notModified(request.headers['if-none-match'], asset.etag)) return reply.code(304).send();
    return reply.send(asset.body);
  });

  app.get('/web/config.json', async function webConfig(request, reply) {
    const authority = options.authority ?? `${origin(request)}/${options.tenantId}/v2.0`;
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(JSON.stringify({ authority, clientId: options.clientId, tenantId: options.tenantId, scopes: options.scopes, builtIn: options.authority === undefined }));
  });
}
