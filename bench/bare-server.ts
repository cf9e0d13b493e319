// The bare-node reference: node:http and node:https serving the bytes Portrait
// serves, from memory, with the same headers and the same 304 — what any Node.js
// server pays before it does anything of its own (routing, auth, a database).
// Run as `node dist/bench/bare-server.js CONFIG.json`; prints its two URLs.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { BareServerConfig } from './servers.js';

interface Resource {
  readonly bytes: Buffer;
  readonly contentType: string;
}

const configFile = process.argv[2];
if (configFile === undefined) {
  process.stderr.write('usage: bare-server.js CONFIG.json\n');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configFile, 'utf8')) as BareServerConfig;
const resources = new Map<string, Resource>(
  config.files.map((f) => [f.path, { bytes: readFileSync(join(config.root, f.path)), contentType: f.contentType }]),
);

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const resource = req.method === 'GET' || req.method === 'HEAD' ? resources.get(req.url ?? '') : undefined;
  const id = randomUUID();
  res.setHeader('request-id', id);
  res.setHeader('client-request-id', id);
  res.setHeader('x-content-type-options', 'nosniff');
  if (!resource) {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.setHeader('cache-control', config.cacheControl);
  res.setHeader('etag', config.etag);
  if (req.headers['if-none-match'] === config.etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader('content-type', resource.contentType);
  res.setHeader('content-length', resource.bytes.length);
  res.end(req.method === 'HEAD' ? undefined : resource.bytes);
}

// Fastify's keep-alive timeout, so that connections live as long as with Portrait.
const KEEP_ALIVE_MS = 72_000;
const plain = http.createServer(answer);
const secure = https.createServer({ cert: readFileSync(config.certFile), key: readFileSync(config.keyFile) }, answer);
plain.keepAliveTimeout = KEEP_ALIVE_MS;
secure.keepAliveTimeout = KEEP_ALIVE_MS;

function listen(server: http.Server | https.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const [httpPort, httpsPort] = await Promise.all([listen(plain), listen(secure)]);
process.stdout.write(`listening at http://127.0.0.1:${httpPort} and https://127.0.0.1:${httpsPort}\n`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    plain.closeAllConnections();
    secure.closeAllConnections();
    plain.close();
    secure.close();
  });
}
