// What a bench server holds after a full collection: collect-on-signal.ts, loaded into
// it by startPortrait({ collectable: true }), does the collecting and writes the answer.
import { existsSync, readFileSync, rmSync } from 'node:fs';

/** A file: URL, as --import takes it. */
const PRELOAD = new URL('./collect-on-signal.js', import.meta.url).href;
const TIMEOUT_MS = 10_000;
const POLL_MS = 50;

export interface Collected {
  /** Resident set size after the collection, bytes. */
  readonly rss: number;
  /** V8's heap as committed after it (what it keeps for new objects as well). */
  readonly heapTotal: number;
  /** V8's heap in use after it: what JavaScript still holds. */
  readonly heapUsed: number;
}

/**
 * What the process holds: its RSS, less the part of V8's heap that is committed but free.
 * Why not RSS alone: V8 grows its young generation to the allocation rate it sees, once
 * and up to a fixed bound (committed heap 34 → 51 MB after some thousands of reads with
 * 14 KB query strings, at a moment that varied from run to run by 20,000 reads), and that
 * step was most of the RSS growth the memory section measured (docs/performance.md, "What
 * clients send"). What JavaScript keeps shows in the heap in use, what native code keeps in
 * the rest of RSS.
 */
export function held(memory: Collected): number {
  return memory.rss - memory.heapTotal + memory.heapUsed;
}

/** The node flags and environment that make a server collectable; `file` is where it answers. */
export function collectableServer(file: string): { nodeArgs: string[]; env: Record<string, string> } {
  return { nodeArgs: ['--expose-gc', '--import', PRELOAD], env: { PORTRAIT_BENCH_COLLECTED: file } };
}

/** Asks the server with `pid` for a full collection and reads what it holds afterwards. */
export async function collect(pid: number, file: string): Promise<Collected> {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + TIMEOUT_MS;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`the server (pid ${pid}) did not report its memory after a collection within ${TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return JSON.parse(readFileSync(file, 'utf8')) as Collected;
}
