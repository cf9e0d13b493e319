// The body of the secret-hashing thread (auth/scrypt-thread.ts): one scrypt at a time,
// synchronously on this thread, so that it never takes a thread of libuv's pool, where
// sharp decodes images. Runs only as a worker; it exports nothing.
import { scryptSync } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { scryptOptions } from './client-secrets.js';
import type { ScryptJob, ScryptReply } from './scrypt-thread.js';

if (parentPort === null) throw new Error('scrypt-worker.js runs as a worker thread (auth/scrypt-thread.ts), not on its own');
const port = parentPort;

port.on('message', ({ secret, salt, length, cost }: ScryptJob) => {
  let reply: ScryptReply;
  try {
    const key = scryptSync(secret, salt, length, scryptOptions(cost));
    reply = { key };
  } catch (error) {
    reply = { error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
