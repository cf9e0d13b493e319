// The Graph API under /v1.0 and /beta: one catch-all route per version, because
// Graph paths nest without bound (childFolders/{id}/childFolders/…) and match
// segment names case-insensitively. Every request is authenticated first (401),
// then its path is parsed (400), then its method checked against the route's
// operations (405, from http/graph-api.ts), then a handler takes it.
import { GRAPH_METHODS } from './methods.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { errors } from '../errors.js';
import { observedPrincipal } from './access-log.js';
import { BatchOrigins, registerBatchRoute } from './batch-route.js';
import { methodsOf, operationOf, routeKeyOf } from './graph-api.js';
import { handleDirectory } from './directory-handler.js';
import type { GraphServices } from './graph-context.js';
import { parseGraphPath, splitPath } from './graph-path.js';
import type { HotReads } from './hot-reads.js';
import { handleMembership, isMembershipResource } from './membership-handler.js';
import { handlePhoto } from './photo-handler.js';
import type { RequestBodies } from './request-bodies.js';
import { callerOf, throttledError, type Throttle } from '../traffic/throttle.js';

export const GRAPH_VERSIONS = ['v1.0', 'beta'] as const;

export interface GraphRoutesOptions {
  readonly verifier: TokenVerifier;
  readonly services: GraphServices;
  /** A public URL to write into @odata.context instead of the request's own host. */
  readonly publicUrl: string | undefined;
  /** The read fast path, when the server has one (buildApp). */
  readonly hotReads?: HotReads | undefined;
  /** The app's one body reader: its memory budget is shared by every body. */
  readonly bodies: RequestBodies;
  /** `serve --throttle`'s budgets; absent when throttling is off. */
  readonly throttle?: Throttle | undefined;
}

/** What Graph's write quota counts (https://learn.microsoft.com/graph/throttling-limits). */
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function registerGraphRoutes(app: FastifyInstance, options: GraphRoutesOptions): void {
  const { verifier, services, bodies, throttle } = options;
  const origins = new BatchOrigins();
  registerBatchRoute(app, { verifier, origins, versions: GRAPH_VERSIONS, publicUrl: options.publicUrl, bodies });
  for (const version of GRAPH_VERSIONS) {
    app.route({
      method: [...GRAPH_METHODS],
      url: `/${version}/*`,
      // HEAD is answered by this handler too (Node drops the body).
      exposeHeadRoute: false,
      handler: async function graphRequest(request: FastifyRequest, reply: FastifyReply) {
        const principal = await verifier.verify(request.headers.authorization);
        const observed = observedPrincipal(principal);
        request.observed = observed;
        const path = request.url.split('?', 1)[0] as string;
        const parsed = parseGraphPath(splitPath(path).slice(1), { beta: version === 'beta' });
        const route = routeKeyOf(parsed.resource);
        // The operation, not the URL, labels its metrics (a bounded set of names), a throttled
        // answer's too, as the fast path labels its own.
        observed.route = route;
        // Counted once the caller is known, before anything is looked up for it, as Graph
        // does: a $batch's requests each on their own (they come through here).
        if (throttle !== undefined) {
          const refusal = throttle.admit(callerOf(principal), WRITES.has(request.method));
          if (refusal !== undefined) throw throttledError(refusal);
        }
        await services.directory.provisionCaller(principal);
        if (parsed.usesMe && !principal.delegated) throw errors.meNeedsDelegated();
        const operation = operationOf(route, request.method === 'HEAD' ? 'GET' : request.method);
        if (operation === undefined) {
          const allowed = methodsOf(route);
          throw errors.methodNotAllowed(allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed);
        }
        const batchOrigin = origins.originOf(request);
        const origin = options.publicUrl ?? batchOrigin ?? `${request.protocol}://${request.host}`;
        // A batch's step never came through the server, so the fast path could not answer it again.
        const hotReads = batchOrigin === undefined ? options.hotReads : undefined;
        const context = { principal, request, reply, serviceRoot: `${origin}/${version}`, operation, hotReads, bodies };
        const { resource } = parsed;
        if (resource.type === 'photo') await handlePhoto(services, context, resource.owner, resource.target);
        else if (isMembershipResource(resource)) await handleMembership(services, context, resource);
        else await handleDirectory(services, context, resource);
        return reply;
      },
    });
  }
}
