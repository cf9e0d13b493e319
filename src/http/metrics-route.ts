// GET /metrics: the Prometheus exposition (metrics/portrait-metrics.ts), on the main port
// to a token that may read reports, or on a port of its own (`serve --metrics-port`)
// to whoever can reach that port.
//
// Which token: Graph's own permission for service-wide usage figures is Reports.Read.All
// (https://learn.microsoft.com/graph/permissions-reference#reportsreadall). An application
// token carrying it may scrape; a delegated one only with an administrator role in its
// wids too, as Graph's reports ask of users. Prometheus gets such a token itself, by
// client credentials (oauth2 in its scrape config) from the built-in issuer or Entra ID:
// docs/operations.md, "Metrics".
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { errors } from '../errors.js';
import { EXPOSITION_CONTENT_TYPE } from '../metrics/metrics-registry.js';
import type { PortraitMetrics } from '../metrics/portrait-metrics.js';
import { observedPrincipal } from './access-log.js';

export const METRICS_PERMISSION = 'Reports.Read.All';

export interface MetricsRouteOptions {
  readonly verifier: TokenVerifier;
  readonly metrics: PortraitMetrics;
}

export function registerMetricsRoute(app: FastifyInstance, options: MetricsRouteOptions): void {
  app.get('/metrics', async function metrics(request, reply) {
    const principal = await options.verifier.verify(request.headers.authorization);
    request.observed = { ...observedPrincipal(principal), route: '/metrics' };
    const granted = principal.permissions.has(METRICS_PERMISSION.toLowerCase());
    if (!granted || (principal.delegated && !principal.adminInToken)) {
      throw errors.forbidden(
        principal.delegated
          ? `Reading metrics needs the ${METRICS_PERMISSION} permission and an administrator role.`
          : `Reading metrics needs the ${METRICS_PERMISSION} application permission.`,
      );
    }
    return reply.header('content-type', EXPOSITION_CONTENT_TYPE).send(options.metrics.expose());
  });
}

/**
 * The separate listener of `--metrics-port`: plain HTTP, no token, GET /metrics only.
 * Bind it where only the scraper reaches (loopback by default, `--metrics-host`).
 */
export async function listenForMetrics(metrics: PortraitMetrics, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?', 1)[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Only /metrics is served here.\n');
    } else if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('GET /metrics\n');
    } else {
      const body = metrics.expose();
      response.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      response.end(request.method === 'HEAD' ? undefined : body);
    }
  });
  // A scraper keeps one connection; anything slower than this is not a scraper.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
