// The machine a table was measured on, printed above it: numbers mean little
// without the CPU, the versions and the thread pools the server ran with.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import sharp from 'sharp';
import type { Settings } from './settings.js';

export function describeMachine(settings: Settings, env: NodeJS.ProcessEnv): string[] {
  const cpu = cpus();
  const versions = sharp.versions as Record<string, string | undefined>;
  // The servers and the reference run with the bench's environment, so sharp
  // decides the same there as here: on glibc without jemalloc it picks 1.
  const vipsConcurrency = sharp.concurrency();
  const vipsSource = env.VIPS_CONCURRENCY ? `VIPS_CONCURRENCY=${env.VIPS_CONCURRENCY}` : "sharp's default";
  const threadpool = env.UV_THREADPOOL_SIZE ? `${env.UV_THREADPOOL_SIZE} (UV_THREADPOOL_SIZE)` : '4 (unset: libuv default)';
  return [
    `- Code: ${codeVersion()}`,
    `- CPU: ${cpu[0]?.model.trim() ?? 'unknown'}, ${cpu.length} cores (${process.platform} ${process.arch}), load average before the run ${loadAverage()}`,
    `- Node ${process.version}, sharp ${versions.sharp ?? '?'}, libvips ${versions.vips ?? '?'}`,
    `- Server and upload reference: libvips concurrency ${vipsConcurrency} (${vipsSource}), libuv thread pool ${threadpool}, default --upload-concurrency ${Math.max(1, cpu.length)}`,
    `- Read load: ${settings.readLoad === 'wrk' ? `${version(settings.wrk, ['-v'], /wrk \S+/)} (1 thread)` : 'autocannon'}, ${settings.connections} connections, ${settings.seconds} s after ${settings.warmupSeconds} s of warm-up; uploads: autocannon ${autocannonVersion()}`,
    `- References: ${settings.nginx ? `${version(settings.nginx, ['-v'], /nginx\/\S+/)} (${settings.nginxWorkers} worker, sendfile, open_file_cache)` : 'nginx not installed (apt-get install nginx-light wrk)'}; bare node:http/https from memory`,
    `- Mode: ${settings.quick ? 'BENCH_QUICK=1 (smoke test: short runs, not for comparison)' : 'full'}`,
  ];
}

/** The commit measured, and whether src/ differed from it (others may be editing it). */
function codeVersion(): string {
  const git = (args: string[]) => spawnSync('git', args, { encoding: 'utf8' });
  const head = git(['log', '-1', '--format=%h %s']);
  if (head.status !== 0) return 'not a git checkout';
  const dirty = git(['status', '--porcelain', '--', 'src']).stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? ' (with uncommitted changes in src/)' : ''}`;
}

/** Whether something else keeps the CPUs busy: then every number here is noisy. */
export function machineIsBusy(): boolean {
  return (loadavg()[0] ?? 0) > cpus().length * 0.25;
}

function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/** nginx -v and wrk -v print on stderr (and wrk -v exits 1). */
function version(command: string | undefined, args: string[], pattern: RegExp): string {
  if (command === undefined) return 'not installed';
  const run = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${run.stdout}${run.stderr}`)?.[0] ?? command;
}

function autocannonVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('autocannon/package.json') as { version: string }).version;
}
