// Puts `serve --simulate`'s decisions (fault-plan.ts) on the wire, in front of the read
// fast path and Fastify (app.ts), as a proxy would: a simulated fault is answered before
// the token is even read. Every answer it touched says so in `x-portrait-simulated`
// (`429`, `503`, `504`, and `latency=NNNms` when it was delayed), so that nobody takes a
// simulated failure for a real one; a simulated 429 or 503 carries Retry-After.
//
// A delayed request holds a timer and its socket, nothing else: its body is not read
// while it waits. At most maxDelayed wait at once; past that, requests are answered at
// once (and marked `latency=skipped`), so a flood cannot pile up timers without bound.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors, type GraphError } from '../errors.js';
import { sendRawError } from '../http/error-envelope.js';
import type { FaultPlan } from './fault-plan.js';
import type { FaultStatus } from './fault-spec.js';

export const SIMULATED_HEADER = 'x-portrait-simulated';
/** Delayed requests waiting at once, by default. */
export const MAX_DELAYED = 1000;

export class FaultSimulator {
  readonly plan: FaultPlan;
  readonly #maxDelayed: number;
  #delayed = 0;

  constructor(plan: FaultPlan, options: { readonly maxDelayed?: number } = {}) {
    this.plan = plan;
    this.#maxDelayed = options.maxDelayed ?? MAX_DELAYED;
  }

  /** Answers (then tells `answered` what it sent), delays or passes on (`next`) the request. */
  handle(
    request: IncomingMessage,
    response: ServerResponse,
    next: () => void,
    answered: (sent: { readonly requestId: string; readonly bytes: number }) => void = () => {},
  ): void {
    const url = request.url ?? '/';
    const query = url.indexOf('?');
    const decision = this.plan.decide(request.method ?? 'GET', query === -1 ? url : url.slice(0, query));
    if (decision === undefined) return next();
    const marks: string[] = decision.status === undefined ? [] : [String(decision.status)];
    const finish = () => {
      if (marks.length > 0) response.setHeader(SIMULATED_HEADER, marks.join(', '));
      if (decision.status === undefined) next();
      else answered(sendRawError(request, response, simulated(decision.status, decision.retryAfterSeconds)));
    };
    if (decision.latencyMs === 0) return finish();
    if (this.#delayed >= this.#maxDelayed) {
      marks.push('latency=skipped');
      return finish();
    }
    marks.push(`latency=${decision.latencyMs}ms`);
    this.#delayed++;
    let waiting = true;
    const release = () => {
      if (!waiting) return false;
      waiting = false;
      this.#delayed--;
      return true;
    };
    // A client that goes away stops the wait: no answer is made for nobody.
    const gone = () => {
      clearTimeout(timer);
      release();
    };
    const timer = setTimeout(() => {
      response.off('close', gone);
      if (release()) finish();
    }, decision.latencyMs);
    response.once('close', gone);
  }
}

function simulated(status: FaultStatus, retryAfterSeconds: number): GraphError {
  switch (status) {
    case 429:
      return errors.simulatedThrottling(retryAfterSeconds);
    case 503:
      return errors.simulatedUnavailable(retryAfterSeconds);
    case 504:
      return errors.simulatedGatewayTimeout();
  }
}
