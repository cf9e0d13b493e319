// `portrait` started the way a user with a permissive shell starts it: under a given
// umask (sh -c 'umask 000; exec "$0" "$@"' node portrait.js …), so that tests see which
// modes Portrait gives its files whatever the umask. `serve` is read by its banner, as a
// user reads it: the URL and the certificate to trust.
import { spawn, type ChildProcess } from 'node:child_process';
import { completion, PORTRAIT_CLI, type CliResult, type Exit } from './server-process.js';

function spawnUnderUmask(umask: string, args: readonly string[]): ChildProcess {
  return spawn('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, process.execPath, PORTRAIT_CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Servers still running when the test process exits are killed. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs `portrait ARGS…` under the umask to completion (killed after timeoutMs). */
export function runUnderUmask(umask: string, args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  return completion(spawnUnderUmask(umask, args), timeoutMs);
}

/** Like runUnderUmask, and fails with its output unless it exits 0; resolves to stdout. */
export async function runOkUnderUmask(umask: string, args: readonly string[]): Promise<string> {
  const result = await runUnderUmask(umask, args);
  if (result.code !== 0) throw new Error(`portrait ${args.join(' ')} exited ${result.code ?? result.signal}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

export interface ServingProcess {
  /** https://HOST:PORT (or http://), as printed. */
  readonly origin: string;
  readonly port: number;
  /** The certificate serve tells clients to trust; undefined without TLS. */
  readonly certPath: string | undefined;
  output(): string;
  /** SIGTERM; resolves when it has exited. */
  stop(): Promise<Exit>;
  /** SIGKILL (a crash); resolves when it is gone. */
  kill(): Promise<Exit>;
}

const BANNER = /Portrait is serving Microsoft Graph photos at (https?:\/\/\S+?):(\d+)\/v1\.0[\s\S]*?\n {2}get a token:[^\n]*\n/;

/** Starts `portrait serve ARGS…` under the umask; resolves once its whole banner is printed. */
export async function serveUnderUmask(umask: string, args: readonly string[], timeoutMs = 20_000): Promise<ServingProcess> {
  const child = spawnUnderUmask(umask, ['serve', ...args]);
  running.add(child);
  let output = '';
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const banner = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no banner within ${timeoutMs} ms: ${output}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = BANNER.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${exit.code ?? exit.signal}) before serving: ${output}`));
    });
  }).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw error;
  });
  const certPath = /certificate: (\S+)/.exec(banner[0])?.[1];
  const signal = async (name: NodeJS.Signals): Promise<Exit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    return exited;
  };
  return {
    origin: `${banner[1]}:${banner[2]}`,
    port: Number(banner[2]),
    certPath,
    output: () => output,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}
