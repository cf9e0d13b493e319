// What every Graph handler gets: the verified caller, the request and reply, and
// the base of the URLs it writes into @odata.context, and the operation it runs.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import type { Directory } from '../directory/directory.js';
import type { PhotoService } from '../photos/photo-service.js';
import type { UploadGate } from '../photos/upload-gate.js';
import type { Operation } from './graph-api.js';
import type { HotReads } from './hot-reads.js';
import type { RequestBodies } from './request-bodies.js';

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
  /** What the path and method name (http/graph-api.ts): its permission, its body schema. */
  readonly operation: Operation;
  /** The read fast path, told which photo reads it may answer next time; absent under inject. */
  readonly hotReads?: HotReads | undefined;
  /** Reads the request's body within the app's size, time and memory bounds. */
  readonly bodies: RequestBodies;
}
