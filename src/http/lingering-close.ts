// Closes the connection of a request refused before its body has arrived, the way
// RFC 9112 §9.6 asks (a "staged close") and nginx's lingering_close does: the
// refusal goes out with Connection: close, the server half-closes after it, and the
// rest of the body is read and dropped — never kept — until it ends, for at most
// LINGER_MS and LINGER_BYTES; then the socket is closed.
//
// Closing at once with request bytes unread makes the kernel answer them with a
// reset, and a client still sending (fetch, curl --data-binary, the Graph client's
// putStream) sees EPIPE or ECONNRESET instead of the 413, 408 or 503 it was sent.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { LINGER_BYTES, LINGER_MS } from './limits.js';

export interface LingerBounds {
  readonly ms: number;
  readonly bytes: number;
}

const lingering = new WeakSet<IncomingMessage>();

/**
 * Call before the response is sent. A request not on a real socket (app.inject: a
 * $batch's steps) is left alone; one whose body has all arrived needs only the header;
 * calling twice does nothing more.
 */
export function lingeringClose(
  request: IncomingMessage,
  response: ServerResponse,
  bounds: LingerBounds = { ms: LINGER_MS, bytes: LINGER_BYTES },
): void {
  const socket = request.socket;
  if (!(socket instanceof Socket) || lingering.has(request)) return;
  lingering.add(request);
  if (!response.headersSent) response.setHeader('connection', 'close');
  if (request.complete || socket.destroyed) return;

  const close = () => socket.destroy();
  const timer = setTimeout(close, bounds.ms);
  // A client that has gone quiet must not keep the process alive at exit.
  timer.unref();
  socket.once('close', () => clearTimeout(timer));

  // Node closes the socket of a Connection: close response as soon as the response is
  // flushed (its http server calls socket.destroySoon()). While the body still arrives,
  // only half-close: the client reads the response and its end, and may stop sending.
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = () => {
    if (request.complete) destroySoon();
    else socket.end();
  };

  let dropped = 0;
  request.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > bounds.bytes) close();
  });
  // The body has all arrived: close once the response is out (now, if it already is).
  request.once('end', () => {
    if (response.writableFinished) destroySoon();
  });
  // The client went away: nothing is left to do, and nobody else listens.
  request.on('error', () => {});
  request.resume();
}
