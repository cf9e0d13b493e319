// Listens on every address of the configured host, as Fastify does on its own:
// localhost is ::1 and 127.0.0.1 on most machines, and a client may use either (the
// certificate names both). Fastify binds only the first address when the app brings
// its own server (app.ts puts the read fast path in front of Fastify), so the others
// get servers of their own from the same app.
import { lookup } from 'node:dns/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';

/** The service could not listen: one line for the operator (`portrait serve: …`, exit 1). */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

export interface Listening {
  readonly port: number;
  /** The servers of the other addresses, to close with the app. */
  readonly others: readonly Server[];
}

export async function listenOnAll(app: FastifyInstance, host: string, port: number): Promise<Listening> {
  let addresses = [host];
  if (!isIP(host)) {
    try {
      addresses = [...new Set((await lookup(host, { all: true })).map((a) => a.address))];
    } catch (error) {
      throw new ListenError(`cannot listen on ${host}: ${reason(error)}`);
    }
  }
  const [first = host, ...rest] = addresses;
  // Fastify logs its addresses as http:// when it did not make the server itself.
  const secure = app.server instanceof TlsServer;
  const listenTextResolver = (address: string) => `Server listening at ${secure ? address.replace(/^http:/, 'https:') : address}`;
  try {
    await app.listen({ host: first, port, listenTextResolver });
  } catch (error) {
    throw new ListenError(`cannot listen on ${first.includes(':') ? `[${first}]` : first}:${port}: ${reason(error)}`);
  }
  const bound = (app.server.address() as AddressInfo).port;
  const others: Server[] = [];
  for (const address of rest) {
    const server = app.newServer() as Server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address, port: bound }, resolve);
      });
      others.push(server);
    } catch (error) {
      // An address family the machine has switched off (no IPv6, say): serve the others,
      // as Fastify does.
      app.log.warn({ err: error, address }, 'not listening on this address');
    }
  }
  return { port: bound, others };
}

function reason(error: unknown): string {
  switch ((error as { code?: unknown }).code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'EADDRINUSE':
      return 'the port is in use (another portrait serve?)';
    case 'EACCES':
      return 'permission denied (ports under 1024 need privileges)';
    case 'EADDRNOTAVAIL':
      return 'this machine has no such address';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/** Stops the other servers: no new connections, idle ones closed, in-flight ones finish. */
export function closeOthers(listening: Listening, force: boolean): void {
  for (const server of listening.others) {
    server.close();
    if (force) server.closeAllConnections();
    else server.closeIdleConnections();
  }
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '::0']);

/** Whether the host means every address of the machine. */
export function isWildcard(host: string): boolean {
  return WILDCARDS.has(host);
}

/**
 * A URL that reaches the server from this machine: https://0.0.0.0:8443 is where it
 * listens, not an address to send requests to, so a wildcard becomes localhost (which
 * the self-signed certificate names).
 */
export function localUrl(secure: boolean, host: string, port: number): string {
  const name = isWildcard(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `${secure ? 'https' : 'http'}://${name}:${port}`;
}

/** How other machines reach a server listening on every address: by this machine's name. */
export function remoteUrl(secure: boolean, port: number): string {
  return `${secure ? 'https' : 'http'}://${hostname()}:${port}`;
}
