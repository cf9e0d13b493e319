// JSON batching: POST /v1.0/$batch (and /beta) runs up to 20 Graph requests and
// answers them in one JSON body, as Graph does — people pickers fetch many photos
// this way. Each request runs through this same app (app.inject), so it is checked,
// authorized and answered exactly as if it had come alone, with the batch's token.
// Requests without dependsOn run concurrently; a request whose dependency failed
// (status ≥ 400) is not run and answers 424. Bytes ($value) come back base64-encoded
// with their Content-Type, JSON as JSON.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { errors } from '../errors.js';
import { observedPrincipal } from './access-log.js';
import { parseBatch, type BatchStep } from './batch-request.js';
import { clientRequestIdOf, errorBody } from './error-envelope.js';
import { BODY_LIMIT } from './limits.js';
import type { RequestBodies } from './request-bodies.js';

/** A request's answer inside the batch's `responses`. */
export interface BatchResponse {
  readonly id: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/**
 * The headers a batch response carries, spelled as Graph spells them: the JS client's
 * BatchResponseContent looks for "Content-Type" exactly to decide that a body is JSON.
 */
const RESPONSE_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['content-type', 'Content-Type'],
  ['etag', 'ETag'],
  ['cache-control', 'Cache-Control'],
  ['location', 'Location'],
  ['retry-after', 'Retry-After'],
  ['allow', 'Allow'],
  ['www-authenticate', 'WWW-Authenticate'],
];
const JSON_TYPE = /^application\/json(?:\s*;|$)/i;

/**
 * app.inject knows neither the batch's scheme nor its host, which @odata.context URLs
 * are made of: a batch lends its origin to its requests under a one-time key, sent in
 * a header only the batch knows the value of.
 */
export class BatchOrigins {
  static readonly HEADER = 'x-portrait-batch-origin';
  readonly #origins = new Map<string, string>();

  lend(origin: string): { readonly key: string; release(): void } {
    const key = randomUUID();
    this.#origins.set(key, origin);
    return { key, release: () => this.#origins.delete(key) };
  }

  /** The origin lent to this request, if it is a batch's request. */
  originOf(request: FastifyRequest): string | undefined {
    if (this.#origins.size === 0) return undefined;
    const key = request.headers[BatchOrigins.HEADER];
    return typeof key === 'string' ? this.#origins.get(key) : undefined;
  }
}

export interface BatchRouteOptions {
  readonly verifier: TokenVerifier;
  readonly origins: BatchOrigins;
  readonly versions: readonly string[];
  readonly publicUrl: string | undefined;
  readonly bodies: RequestBodies;
}

export function registerBatchRoute(app: FastifyInstance, options: BatchRouteOptions): void {
  for (const version of options.versions) {
    app.route({
      // Every method, so that GET /$batch is a Graph 405 rather than a path error.
      method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      // A static route: find-my-way prefers it to the version's catch-all.
      url: `/${version}/$batch`,
      exposeHeadRoute: false,
      handler: async function batchRequest(request: FastifyRequest, reply: FastifyReply) {
        // The batch is authenticated as a whole (401 for all of it); each request is authorized on its own.
        request.observed = observedPrincipal(await options.verifier.verify(request.headers.authorization));
        if (request.method !== 'POST') throw errors.methodNotAllowed(['POST']);
        // Graph caps a whole batch at the same 4 MB as one upload.
        const steps = parseBatch(await options.bodies.read(request, reply, BODY_LIMIT), version);
        const lease = options.origins.lend(options.publicUrl ?? `${request.protocol}://${request.host}`);
        try {
          const run = (step: BatchStep) => runStep(app, version, step, request.headers.authorization as string, lease.key);
          const responses = await runAll(steps, run);
          reply.header('content-type', 'application/json; charset=utf-8');
          return reply.send(JSON.stringify({ responses }));
        } finally {
          lease.release();
        }
      },
    });
  }
}

/** Each request once, after its dependencies; the answers in the batch's order. */
async function runAll(steps: readonly BatchStep[], run: (step: BatchStep) => Promise<BatchResponse>): Promise<BatchResponse[]> {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const answers = new Map<string, Promise<BatchResponse>>();
  // parseBatch rejected cycles, so this recursion ends.
  const answerOf = (step: BatchStep): Promise<BatchResponse> => {
    let answer = answers.get(step.id);
    if (answer === undefined) {
      answer = (async () => {
        const dependencies = await Promise.all(step.dependsOn.map((id) => answerOf(byId.get(id) as BatchStep)));
        const failed = dependencies.find((dependency) => dependency.status >= 400);
        return failed === undefined ? run(step) : failedDependency(step, failed.id);
      })();
      answers.set(step.id, answer);
    }
    return answer;
  };
  return Promise.all(steps.map(answerOf));
}

async function runStep(app: FastifyInstance, version: string, step: BatchStep, authorization: string, originKey: string): Promise<BatchResponse> {
  const response = await app.inject({
    method: step.method,
    url: `/${version}${step.path}`,
    headers: { ...step.headers, authorization, [BatchOrigins.HEADER]: originKey },
    ...(step.body !== undefined && { payload: step.body }),
  });
  const headers: Record<string, string> = {};
  for (const [name, graphName] of RESPONSE_HEADERS) {
    const value = response.headers[name];
    if (value !== undefined) headers[graphName] = String(value);
  }
  const bytes = response.rawPayload;
  if (bytes.length === 0) return { id: step.id, status: response.statusCode, headers };
  const contentType = headers['Content-Type'] ?? '';
  const body = JSON_TYPE.test(contentType) ? (JSON.parse(bytes.toString('utf8')) as unknown) : bytes.toString('base64');
  return { id: step.id, status: response.statusCode, headers, body };
}

function failedDependency(step: BatchStep, dependency: string): BatchResponse {
  const requestId = randomUUID();
  const clientRequestId = clientRequestIdOf(step.headers['client-request-id'], requestId);
  return {
    id: step.id,
    status: 424,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
    body: errorBody(errors.failedDependency(dependency), requestId, clientRequestId),
  };
}
