// A hashing thread (auth/scrypt-worker.ts's stand-in) that misbehaves on cue, for
// ScryptThread's tests: the secret 'die' ends the thread, 'throw' throws out of it,
// 'hold' announces itself on the BroadcastChannel HOLDING and never answers (until
// terminated); any other secret is hashed as the real thread does.
import { scryptSync } from 'node:crypto';
import { BroadcastChannel, parentPort } from 'node:worker_threads';
import { scryptOptions } from '../../src/auth/client-secrets.js';
import type { ScryptJob, ScryptReply } from '../../src/auth/scrypt-thread.js';

export const HOLDING = 'portrait-test-scrypt-holding';

parentPort?.on('message', ({ secret, salt, length, cost }: ScryptJob) => {
  if (secret === 'die') process.exit(3); // in a worker: ends this thread only
  if (secret === 'throw') throw new Error('thrown on cue');
  if (secret === 'hold') {
    const channel = new BroadcastChannel(HOLDING);
    channel.postMessage('holding');
    channel.close();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  }
  const reply: ScryptReply = { key: scryptSync(secret, salt, length, scryptOptions(cost)) };
  parentPort?.postMessage(reply);
});
