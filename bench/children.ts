// Every process the bench starts goes through here, so that none outlives it:
// servers are stopped when their section ends, and whatever is still running
// is killed when the bench exits, however it exits.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Running children, each with the signal that ends it at once when the bench exits. */
const live = new Map<ChildProcess, NodeJS.Signals>();
const OUTPUT_TAIL = 64 * 1024;
/**
 * stdout kept for stdout() and waitFor: its beginning, where banners and reports are. A
 * server logs an access line per request (about 300 B), so a read run would otherwise
 * pile up hundreds of MB here.
 */
const STDOUT_KEPT = 1024 * 1024;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Child {
  readonly pid: number;
  /** performance.now() when it was spawned. */
  readonly spawnedAt: number;
  readonly exited: Promise<Exit>;
  /** Whether it is still running. */
  alive(): boolean;
  /** Everything it wrote on stdout. */
  stdout(): string;
  /** The tail of what it wrote on stdout and stderr, for error messages. */
  output(): string;
  /** Resolves with the first match of `pattern` in its stdout, and when it came (performance.now()). */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<{ match: RegExpExecArray; at: number }>;
  /** `signal` (SIGTERM), then SIGKILL after `timeoutMs`; resolves once it has exited. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

export interface ChildOptions extends SpawnOptions {
  /**
   * What ends it when the bench exits (SIGKILL). nginx needs SIGTERM: its master
   * then stops its workers, which a SIGKILL to the master would leave running.
   */
  readonly exitSignal?: NodeJS.Signals;
}

export function startChild(command: string, args: readonly string[], options: ChildOptions = {}): Child {
  const spawnedAt = performance.now();
  const { exitSignal = 'SIGKILL', ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let spawnError = '';
  child.on('error', (error) => {
    spawnError = error.message; // ENOENT and the like; without a listener it would crash the bench
  });
  if (child.pid === undefined) throw new Error(`could not start ${command} ${spawnError}`.trim());
  live.set(child, exitSignal);
  let output = '';
  let stdout = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    if (stdout.length < STDOUT_KEPT) stdout += chunk.toString('utf8');
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    for (const listener of listeners) listener();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
  });
  let running = true;
  const exited = new Promise<Exit>((resolve) => {
    // 'close', not 'exit': by then everything it wrote has been read.
    child.once('close', (code, signal) => {
      running = false;
      live.delete(child);
      for (const listener of listeners) listener();
      resolve({ code, signal });
    });
  });
  const name = `${command.split('/').at(-1)} ${args.slice(0, 2).join(' ')}`;

  return {
    pid: child.pid,
    spawnedAt,
    exited,
    alive: () => running,
    stdout: () => stdout,
    output: () => output,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stdout);
          if (match) return done(() => resolve({ match, at: performance.now() }));
          if (!running) done(() => reject(new Error(`${name} exited before printing ${pattern}:\n${output}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms:\n${output}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (running) child.kill(signal);
      const force = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const exit = await exited;
      clearTimeout(force);
      return exit;
    },
  };
}

/** Runs a command to its end and resolves with its stdout; rejects on a non-zero exit. */
export async function runChild(command: string, args: readonly string[], options: ChildOptions = {}): Promise<string> {
  const child = startChild(command, args, options);
  const exit = await child.exited;
  if (exit.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${exit.code ?? exit.signal}):\n${child.output()}`);
  return child.stdout();
}

/** Ends everything still running, at once: for the exit of the bench. */
export function killAll(): void {
  for (const [child, signal] of live) child.kill(signal);
}
