// Where `portrait serve` writes its log: stdout, with the lines of one turn of the event
// loop joined into one write. pino's default destination hands every write to a libuv
// thread (fs.write); with an access line per request that was a write, and a thread
// hand-off, per request: about 25 µs of CPU per fast-path read, half its cost. Joined,
// and written as a stream write (a pipe or journald's socket: one direct syscall), a line
// costs a few µs (docs/performance.md, "Access log"). Nothing waits longer than the turn.

/** Joined lines written at once past this, without waiting for the turn to end. */
const FLUSH_BYTES = 64 * 1024;

export interface LogStream {
  write(line: string): void;
  /** Writes what is pending now (before exit). */
  flush(): void;
}

export function joinedStdout(out: NodeJS.WritableStream = process.stdout): LogStream {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    out.write(text);
  };
  return {
    write(line) {
      pending += line;
      if (pending.length >= FLUSH_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
