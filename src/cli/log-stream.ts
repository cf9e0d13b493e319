// Where `portrait serve` writes its log: stdout, with the lines of FLUSH_MS joined into
// one write. pino's default destination hands every write to a libuv thread (fs.write);
// with an access line per request that was a write, and a thread hand-off, per request:
// about 25 µs of CPU per fast-path read, half its cost. Joined per turn of the event loop
// and written as a stream write (a pipe or journald's socket: one direct syscall), a line
// cost a few µs; joined per FLUSH_MS instead, a busy server makes a few dozen writes a
// second whatever its request rate, which took another ~6 µs off each fast-path read
// (docs/performance.md, "Access log"). Nothing waits longer than FLUSH_MS, and what is
// pending when the process exits, however it exits, is written first.

/** Joined lines written at once past this, without waiting for the timer. */
const FLUSH_BYTES = 64 * 1024;
/** How long a line may wait for others: short next to any log shipper's own batching. */
const FLUSH_MS = 20;

export interface LogStream {
  write(line: string): void;
  /** Writes what is pending now (before exit). */
  flush(): void;
}

export function joinedStdout(out: NodeJS.WritableStream = process.stdout): LogStream {
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending === '') return;
    const text = pending;
    pending = '';
    out.write(text);
  };
  // stdout to a file, a pipe or a socket writes synchronously on Linux (Node.js, "A note
  // on process I/O"): what an exit handler writes is not lost, after an uncaught exception too.
  process.once('exit', flush);
  return {
    write(line) {
      pending += line;
      if (pending.length >= FLUSH_BYTES) flush();
      // Unreferenced: a pending line never keeps the process alive, the exit handler writes it.
      else timer ??= setTimeout(flush, FLUSH_MS).unref();
    },
    flush,
  };
}
