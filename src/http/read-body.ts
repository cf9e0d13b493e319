// Reads a request body into memory with a hard limit, checked from Content-Length
// before anything is read and again while reading: a body is never buffered past
// the limit, whatever the client claims.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { errors } from '../errors.js';

export async function readBody(message: IncomingMessage, body: unknown, limit: number): Promise<Buffer> {
  const declared = message.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw errors.bodyTooLarge(limit);
  // Fastify hands over the raw stream (see app.ts); a request without a body has none.
  const stream = isReadable(body) ? body : undefined;
  if (stream === undefined) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      stream.destroy();
      throw errors.bodyTooLarge(limit);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

function isReadable(value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function';
}
