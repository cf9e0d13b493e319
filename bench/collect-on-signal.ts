// Loaded into a bench server (node --expose-gc --import this), never into Portrait
// itself: on SIGUSR2 it runs a full collection and writes what the process then holds
// to the file named by PORTRAIT_BENCH_COLLECTED (collected.ts reads it).
//
// Why: the memory section asks what a client can make the server keep. RSS read at an
// arbitrary moment also counts garbage the collector has not reached yet: after 10,000
// reads with 14 KB query strings the same server measured 2 to 18 MB more, and its V8
// heap after a full collection 1.5 MB more (docs/performance.md, "What clients send").
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.PORTRAIT_BENCH_COLLECTED;
const gc = (globalThis as { gc?: () => void }).gc;
if (file === undefined || gc === undefined) throw new Error('collect-on-signal needs --expose-gc and PORTRAIT_BENCH_COLLECTED');

/** How long the concurrent sweeper gets to return the freed pages before RSS is read. */
const SETTLE_MS = 500;

process.on('SIGUSR2', () => {
  // Twice: the first one's finalizers (sockets, native handles) free more for the second.
  gc();
  gc();
  setTimeout(() => {
    const { rss, heapTotal, heapUsed } = process.memoryUsage();
    writeFileSync(`${file}.tmp`, JSON.stringify({ rss, heapTotal, heapUsed }));
    renameSync(`${file}.tmp`, file);
  }, SETTLE_MS);
});
