// buildApp(services) → a Fastify instance serving the Graph photo API. Nothing
// happens on import; main (cli/serve.ts) opens the store and listens, tests build
// their own app around a temporary store.
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TokenVerifier } from './auth/token-verifier.js';
import { errors } from './errors.js';
import { sendError, setCommonHeaders } from './http/error-envelope.js';
import type { GraphServices } from './http/graph-context.js';
import { GRAPH_VERSIONS, registerGraphRoutes } from './http/graph-routes.js';
import { recordRoutes, registerOpenApiRoutes } from './http/openapi.js';
import { registerOAuthRoutes, type OAuthOptions } from './http/oauth-routes.js';
import { CorsPolicy } from './http/cors.js';
import { AccessLog, type LineSink } from './http/access-log.js';
import { HotReads } from './http/hot-reads.js';
import { registerMetricsRoute } from './http/metrics-route.js';
import { registerWebRoutes, type WebAppOptions } from './http/web-routes.js';
import type { PortraitMetrics } from './metrics/portrait-metrics.js';
import { defaultBodyMemoryBytes } from './http/limits.js';
import { DEFAULT_BODY_TIMING, RequestBodies } from './http/request-bodies.js';
import type { FaultSimulator } from './traffic/fault-simulator.js';
import type { Throttle } from './traffic/throttle.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Another server for this app (same TLS, same fast path), to listen on another address. */
    newServer(): HttpServer | HttpsServer;
  }
}

/** The route label of an answer `serve --simulate` made up (its access line and metrics). */
const SIMULATED_ROUTE = 'simulated';

/** Fastify's default, which it would have set on a server it made itself. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;

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
  /**
   * The read fast path (http/hot-reads.ts): by default one is made whenever the photo
   * cache can be trusted (one process on the store); false turns it off.
   */
  readonly hotReads?: HotReads | false | undefined;
  /**
   * Reads every request body within size, time and memory bounds (one memory budget for
   * all of them); by default `portrait serve`'s defaults, the budget sized to the upload queue.
   */
  readonly bodies?: RequestBodies | undefined;
  /** Which pages may call the API from a browser (http/cors.ts); any origin by default. */
  readonly cors?: CorsPolicy | undefined;
  /** `serve --throttle`: Graph-like budgets per application, user and tenant; none when absent. */
  readonly throttle?: Throttle | undefined;
  /** `serve --simulate`: faults and latency on purpose, in front of everything; none when absent. */
  readonly faults?: FaultSimulator | undefined;
  /** Counts every request (both paths) and serves GET /metrics to a token with Reports.Read.All; none when absent. */
  readonly metrics?: PortraitMetrics | undefined;
  /** The web app at / (http/web-routes.ts), as `portrait serve` serves it; not served when absent. */
  readonly web?: Omit<WebAppOptions, 'publicUrl'> | undefined;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const { photos } = options.services;
  const bodies =
    options.bodies ?? new RequestBodies({ ...DEFAULT_BODY_TIMING, memoryBytes: defaultBodyMemoryBytes(options.services.uploads.places) });
  const hotReads =
    options.hotReads === false ? undefined : (options.hotReads ?? (photos.hasCache || photos.readsNow ? new HotReads(photos) : undefined));
  const cors = options.cors ?? new CorsPolicy('any');
  hotReads?.useThrottle(options.throttle);
  const { faults } = options;
  let route: (request: IncomingMessage, response: ServerResponse) => void = () => {
    throw new Error('Fastify has not made its server yet');
  };
  const app = Fastify({
    logger: options.logger ?? false,
    // No child logger per request (pino builds one even when nothing is logged): errors
    // are logged with their request id by the error envelope itself.
    childLoggerFactory: (logger) => logger,
    // Fastify's two lines per request give way to one access line (http/access-log.ts),
    // written the same way by the read fast path.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    // Graph segment names are case-insensitive; ids and $value keep their text.
    routerOptions: { caseSensitive: false, ignoreDuplicateSlashes: false },
    // Bodies are read by the handlers, after authentication, within their own bounds (http/request-bodies.ts).
    bodyLimit: Number.MAX_SAFE_INTEGER,
    return503OnClosing: true,
    // A path with a malformed percent-escape never reaches a route: answer it in Graph's envelope too.
    frameworkErrors: (error, request, reply) => {
      const url = request.raw.url ?? '';
      const bad = url.split('?', 1)[0]?.split('/').find((segment) => !isDecodable(segment));
      void sendError(error.code === 'FST_ERR_BAD_URL' ? errors.segmentNotFound(bad ?? url) : error, request, reply);
    },
    // The server Fastify would make, with the read fast path in front of it.
    serverFactory: (handler) => {
      route = handler;
      return newServer();
    },
  }) as unknown as FastifyInstance;

  function newServer(): HttpServer | HttpsServer {
    // A photo read answered before with the same token and URL is answered from the
    // photo cache and never reaches Fastify (http/hot-reads.ts).
    const answer = (request: IncomingMessage, response: ServerResponse) => {
      if (!hotReads?.serve(request, response, access, performance.now())) route(request, response);
    };
    // Simulated faults (serve --simulate) come first, as from a proxy in front; a simulated
    // answer gets its access line and count like any other. Without them this costs nothing.
    const inFront =
      faults === undefined
        ? answer
        : (request: IncomingMessage, response: ServerResponse) => {
            const started = performance.now();
            faults.handle(request, response, () => answer(request, response), (sent) =>
              access.finished(request.method ?? 'GET', request.url ?? '/', response.statusCode, sent.bytes, performance.now() - started, sent.requestId, SIMULATED_ROUTE, null),
            );
          };
    // A page's request (browsers send Origin) gets its CORS headers here, once, whoever
    // answers it: a simulated fault, the fast path or the routes.
    const listener = (request: IncomingMessage, response: ServerResponse) => {
      const { origin } = request.headers;
      if (origin !== undefined) setRawHeaders(response, cors.actualHeaders(origin));
      inFront(request, response);
    };
    const server = options.https
      ? createHttpsServer({ cert: options.https.cert, key: options.https.key }, listener)
      : createHttpServer(listener);
    // What Fastify sets on a server it makes itself: its keep-alive, no request timeout.
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.requestTimeout = 0;
    return server;
  }
  // Given a server factory, Fastify listens on the first address of a name only (cli/listen.ts).
  app.decorate('newServer', newServer);

  const access = new AccessLog(app.log, options.metrics, pinoDefaultStream(options.logger));
  options.metrics?.watch({ uploads: options.services.uploads, bodies, fastPath: hotReads });
  app.decorateRequest('observed', null);
  // After the answer is sent: one access line and one count per request (the fast path
  // writes its own, in hot-reads.ts). A callback hook: it runs on every request.
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const bodyless = request.method === 'HEAD' || status === 304 || status === 204;
    const bytes = bodyless ? 0 : Number(reply.getHeader('content-length') ?? 0) || 0;
    const route = request.observed?.route ?? request.routeOptions.url ?? 'unmatched';
    access.finished(request.method, request.url, status, bytes, reply.elapsedTime, request.id, route, request.observed);
    done();
  });
  app.addHook('preClose', (done) => {
    hotReads?.close();
    done();
  });

  // Every route, as registered, for openapi.json: what is served is what is published.
  const routes = recordRoutes(app);

  // The body's Content-Type is never trusted (the JS client sends application/json
  // with image bytes): every body reaches the handler as a raw stream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  // A callback hook, not an async one: this runs on every request, the hot path included.
  app.addHook('onRequest', (request, reply, done) => {
    setCommonHeaders(request, reply);
    const { origin } = request.headers;
    if (origin === undefined) return done();
    // A browser's preflight is answered here, before any token, on every path alike
    // (http/cors.ts); an OPTIONS that is none goes on to the routes like any request.
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined;
    // The server's listener set an actual answer's headers already; inject() has no listener.
    if (!preflight && reply.raw.hasHeader('access-control-allow-origin')) return done();
    const headers = preflight ? cors.preflightHeaders(origin) : cors.actualHeaders(origin);
    for (let i = 0; i < headers.length; i += 2) reply.header(headers[i] as string, headers[i + 1]);
    if (preflight) return void reply.code(204).send();
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

  registerGraphRoutes(app, { verifier: options.verifier, services: options.services, publicUrl: options.publicUrl, hotReads, bodies, throttle: options.throttle });
  if (options.oauth) registerOAuthRoutes(app, { ...options.oauth, publicUrl: options.publicUrl }, bodies);
  registerOpenApiRoutes(app, routes, GRAPH_VERSIONS);
  if (options.metrics) registerMetricsRoute(app, { verifier: options.verifier, metrics: options.metrics });
  if (options.web) registerWebRoutes(app, { ...options.web, publicUrl: options.publicUrl });
  return app;
}

/** [name, value, …] onto a response not yet sent: writeHead merges them with its own. */
function setRawHeaders(response: ServerResponse, headers: readonly string[]): void {
  for (let i = 0; i < headers.length; i += 2) response.setHeader(headers[i] as string, headers[i + 1] as string);
}

function isDecodable(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

/**
 * The stream of a logger configured with a level and a stream only (as `serve` does): it
 * gets pino's default line, which the access log can then write itself (http/access-log.ts).
 */
function pinoDefaultStream(logger: FastifyServerOptions['logger']): LineSink | undefined {
  if (typeof logger !== 'object' || logger === null || !('stream' in logger)) return undefined;
  const plain = Object.keys(logger).every((key) => key === 'level' || key === 'stream');
  const stream = logger.stream as Partial<LineSink> | undefined;
  return plain && typeof stream?.write === 'function' ? (stream as LineSink) : undefined;
}
