// What every Graph handler gets: the verified caller, the request and reply, and
// the base of the URLs it writes into @odata.context.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { Directory } from '../directory/directory.js';
import { errors } from '../errors.js';
import type { PhotoService } from '../photos/photo-service.js';
import type { UploadGate } from '../photos/upload-gate.js';

export interface GraphServices {
  readonly directory: Directory;
  readonly photos: PhotoService;
  readonly uploads: UploadGate;
}

export interface GraphContext {
  readonly principal: Principal;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  /** e.g. https://localhost:8443/v1.0 — the request's own, or the configured public URL. */
  readonly serviceRoot: string;
}

/** Answers 405 with Allow unless the method is one of `allowed` (HEAD goes with GET). */
export function allowMethods(context: GraphContext, allowed: readonly string[]): void {
  const method = context.request.method === 'HEAD' ? 'GET' : context.request.method;
  if (!allowed.includes(method)) {
    throw errors.methodNotAllowed(allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed);
  }
}
