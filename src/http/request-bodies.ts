// Reads request bodies into memory under three bounds, so that a body costs the
// server a socket and the bytes it brings, never an upload slot or memory without end:
//  - size: at most `limit` bytes (413), judged from Content-Length before anything is
//    read, and again while reading;
//  - time: the whole body within timeoutMs and, once graceMs have passed, at least
//    minBytesPerSecond on average (408), so a body dribbled at 1 byte/s is refused
//    within seconds while a phone on a slow network gets through;
//  - memory: the bytes of all bodies in flight within one BodyBudget (503 with
//    Retry-After), reserved before reading by Content-Length when it is declared and
//    as bytes arrive when it is not, and given back when the response closes —
//    after success, error or the client going away.
// A refused body is not cut off: the refusal goes out with Connection: close and the
// rest is read and dropped within bounds (http/lingering-close.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors, type GraphError } from '../errors.js';
import { BodyBudget } from './body-budget.js';
import { BODY_GRACE_MS, BODY_MIN_BYTES_PER_SECOND, BODY_TIMEOUT_MS } from './limits.js';
import { lingeringClose } from './lingering-close.js';

export interface BodyLimits {
  /** The longest one body may take to arrive, from when the handler starts reading it. */
  readonly timeoutMs: number;
  /** The least average rate once graceMs have passed; 0 judges no rate. */
  readonly minBytesPerSecond: number;
  readonly graceMs: number;
  /** Bytes all bodies in flight may hold together. */
  readonly memoryBytes: number;
}

/** The limits of `portrait serve` without flags, but for the memory, which follows the upload queue. */
export const DEFAULT_BODY_TIMING = {
  timeoutMs: BODY_TIMEOUT_MS,
  minBytesPerSecond: BODY_MIN_BYTES_PER_SECOND,
  graceMs: BODY_GRACE_MS,
} as const;

/** When the budget is full: bodies in flight on a good network finish within a second or so. */
const RETRY_AFTER_SECONDS = 1;

export class RequestBodies {
  readonly limits: BodyLimits;
  readonly #budget: BodyBudget;

  constructor(limits: BodyLimits) {
    this.limits = limits;
    this.#budget = new BodyBudget(limits.memoryBytes);
  }

  /** Bytes held for bodies in flight now. */
  get reservedBytes(): number {
    return this.#budget.used;
  }

  /** The body, whole, as bytes; an empty buffer when the request has none. Throws a GraphError when refused. */
  async read(request: FastifyRequest, reply: FastifyReply, limit: number): Promise<Buffer> {
    const message = request.raw;
    // app.inject (a $batch's steps): the body is in memory already, held by its batch.
    const network = message.socket instanceof Socket;
    const refuse = (error: GraphError): GraphError => {
      if (network) lingeringClose(message, reply.raw);
      return error;
    };
    const declared = contentLength(message);
    if (declared !== undefined && declared > limit) throw refuse(errors.bodyTooLarge(limit));
    // Fastify hands over the raw stream (see app.ts); a request without a body has none.
    const stream = isReadable(request.body) ? request.body : undefined;
    if (stream === undefined) return Buffer.alloc(0);
    if (!network) return readInMemory(stream, limit);
    if (message.destroyed) throw errors.bodyAborted();

    const reservation = this.#reserve(reply.raw);
    if (declared !== undefined && !reservation.take(declared)) throw refuse(errors.bodyMemoryFull(RETRY_AFTER_SECONDS));
    return receive(message, reply.raw, { limit, declared, limits: this.limits, reservation });
  }

  /** Bytes taken for one request, all given back once when its response closes, however it ends. */
  #reserve(response: ServerResponse): Reservation {
    const budget = this.#budget;
    let taken = 0;
    response.once('close', () => {
      budget.give(taken);
      taken = 0;
    });
    return {
      take(bytes) {
        if (!budget.tryTake(bytes)) return false;
        taken += bytes;
        return true;
      },
    };
  }
}

interface Reservation {
  take(bytes: number): boolean;
}

interface Receipt {
  readonly limit: number;
  readonly declared: number | undefined;
  readonly limits: BodyLimits;
  readonly reservation: Reservation;
}

function receive(message: IncomingMessage, response: ServerResponse, receipt: Receipt): Promise<Buffer> {
  const { limit, declared, limits, reservation } = receipt;
  return new Promise<Buffer>((resolve, reject) => {
    const started = Date.now();
    // With a declared length, one buffer of exactly that size: the bytes held are the bytes reserved.
    const whole = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
    const chunks: Buffer[] = [];
    let received = 0;
    let timer: NodeJS.Timeout | undefined;

    const deadline = () => {
      const byRate = limits.minBytesPerSecond > 0 ? limits.graceMs + (received * 1000) / limits.minBytesPerSecond : Infinity;
      return started + Math.min(limits.timeoutMs, byRate);
    };
    // One timer, re-armed only when it fires: nothing is done per chunk.
    const arm = () => {
      timer = setTimeout(onTimer, Math.max(0, deadline() - Date.now()));
    };
    const stop = () => {
      clearTimeout(timer);
      message.off('data', onData);
      message.off('end', onEnd);
      message.off('error', onAborted);
      message.off('close', onAborted);
    };
    const refuse = (error: GraphError) => {
      stop();
      lingeringClose(message, response);
      reject(error);
    };
    function onTimer() {
      if (Date.now() < deadline()) return arm();
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const rule =
        limits.minBytesPerSecond > 0
          ? `a body must arrive within ${limits.timeoutMs / 1000} s and, after the first ${limits.graceMs / 1000} s, at ${limits.minBytesPerSecond} bytes/s on average`
          : `a body must arrive within ${limits.timeoutMs / 1000} s`;
      refuse(errors.bodyTimeout(`${received} bytes in ${seconds} s; ${rule}`));
    }
    function onData(chunk: Buffer) {
      if (received + chunk.length > limit) return refuse(errors.bodyTooLarge(limit));
      if (whole !== undefined) {
        chunk.copy(whole, received);
      } else {
        if (!reservation.take(chunk.length)) return refuse(errors.bodyMemoryFull(RETRY_AFTER_SECONDS));
        chunks.push(chunk);
      }
      received += chunk.length;
    }
    function onEnd() {
      stop();
      resolve(whole !== undefined ? whole.subarray(0, received) : Buffer.concat(chunks, received));
    }
    // The client went away before the end: nobody will read the answer.
    function onAborted() {
      stop();
      reject(errors.bodyAborted());
    }

    message.on('data', onData);
    message.once('end', onEnd);
    message.once('error', onAborted);
    message.once('close', onAborted);
    arm();
  });
}

/** A body already in memory (app.inject): only the size limit applies. */
async function readInMemory(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw errors.bodyTooLarge(limit);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Node's parser has checked the header's syntax; several lengths are refused by it too. */
function contentLength(message: IncomingMessage): number | undefined {
  const header = message.headers['content-length'];
  return header === undefined ? undefined : Number(header);
}

function isReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function';
}
