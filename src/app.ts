// buildApp(services) → a Fastify instance serving the Graph photo API. Nothing
// happens on import; main (cli/serve.ts) opens the store and listens, tests build
// their own app around a temporary store.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TokenVerifier } from './auth/token-verifier.js';
import { errors } from './errors.js';
import { sendError, setCommonHeaders } from './http/error-envelope.js';
import type { GraphServices } from './http/graph-context.js';
import { GRAPH_VERSIONS, registerGraphRoutes } from './http/graph-routes.js';
import { recordRoutes, registerOpenApiRoutes } from './http/openapi.js';
import { registerOAuthRoutes, type OAuthOptions } from './http/oauth-routes.js';

export interface AppOptions {
  readonly verifier: TokenVerifier;
  readonly services: GraphServices;
  readonly publicUrl?: string | undefined;
  readonly logger?: FastifyServerOptions['logger'];
  readonly https?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** Readiness: resolves when the database answers (migrations ran when the store opened). */
  readonly ready?: () => Promise<void>;
  /**
   * The built-in issuer's OAuth endpoints (/{tenant}/oauth2/v2.0/token and discovery), for
   * applications registered with `portrait app add`; not served when absent.
   */
  readonly oauth?: Omit<OAuthOptions, 'publicUrl'> | undefined;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    // No child logger per request (pino builds one even when nothing is logged): errors
    // are logged with their request id by the error envelope itself.
    childLoggerFactory: (logger) => logger,
    genReqId: () => randomUUID(),
    // Graph segment names are case-insensitive; ids and $value keep their text.
    routerOptions: { caseSensitive: false, ignoreDuplicateSlashes: false },
    // Bodies are read by the handlers, after authentication, with their own limit.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    return503OnClosing: true,
    // A path with a malformed percent-escape never reaches a route: answer it in Graph's envelope too.
    frameworkErrors: (error, request, reply) => {
      const url = request.raw.url ?? '';
      const bad = url.split('?', 1)[0]?.split('/').find((segment) => !isDecodable(segment));
      void sendError(error.code === 'FST_ERR_BAD_URL' ? errors.segmentNotFound(bad ?? url) : error, request, reply);
    },
    ...(options.https && { https: { cert: options.https.cert, key: options.https.key } }),
  }) as unknown as FastifyInstance;

  // Every route, as registered, for openapi.json: what is served is what is published.
  const routes = recordRoutes(app);

  // The body's Content-Type is never trusted (the JS client sends application/json
  // with image bytes): every body reaches the handler as a raw stream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  // A callback hook, not an async one: this runs on every request, the hot path included.
  app.addHook('onRequest', (request, reply, done) => {
    setCommonHeaders(request, reply);
    done();
  });

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(errors.outsideApi(), request, reply));

  // For load balancers: unauthenticated, and they tell nothing of any tenant.
  app.get('/healthz', async (_request, reply) => reply.header('content-type', 'application/json').send('{"status":"ok"}'));
  app.get('/readyz', async (request, reply) => {
    try {
      await options.ready?.();
      return reply.header('content-type', 'application/json').send('{"status":"ready"}');
    } catch (error) {
      request.log.warn({ err: error }, 'not ready');
      return reply.code(503).header('content-type', 'application/json').send('{"status":"unavailable"}');
    }
  });

  registerGraphRoutes(app, { verifier: options.verifier, services: options.services, publicUrl: options.publicUrl });
  if (options.oauth) registerOAuthRoutes(app, { ...options.oauth, publicUrl: options.publicUrl });
  registerOpenApiRoutes(app, routes, GRAPH_VERSIONS);
  return app;
}

function isDecodable(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}
