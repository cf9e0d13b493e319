// Drives load from its own process, so that the client never shares an event
// loop with the bench or the server: wrk (C, when installed) for timed read runs,
// autocannon (autocannon-process.ts) for anything with a body or a fixed count.
// Both report the same LoadResult.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChild } from './children.js';
import type { LoadGenerator } from './settings.js';
import { parseWrkReport, wrkArguments, wrkScript, type WrkScripts } from './wrk.js';

const AUTOCANNON_PROCESS = fileURLToPath(new URL('./autocannon-process.js', import.meta.url));

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  /** How long (a timed run); ignored when amount is given. */
  readonly seconds?: number;
  /** How many requests in all (autocannon only). */
  readonly amount?: number;
  readonly method?: 'GET' | 'PUT';
  readonly headers?: Readonly<Record<string, string>>;
  /** The request body, read from this file. */
  readonly bodyFile?: string;
  /** One URL path a line; each request takes one at random (the host is the url's). */
  readonly pathsFile?: string;
  readonly timeoutSeconds?: number;
}

export interface LoadResult {
  readonly tool: LoadGenerator;
  /** Answers received, whatever their status. */
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** 4xx and 5xx answers, socket errors and timeouts. */
  readonly failures: number;
  /** Answers by status, where the tool counts them (autocannon). */
  readonly statuses?: Readonly<Record<string, number>>;
}

/**
 * Of several timed runs of one server, the one in the middle by `by` (the read and scale
 * sections measure in rounds so that a few disturbed seconds cost one round, not the row).
 */
export function medianRun<T extends { readonly load: LoadResult }>(runs: readonly T[], by: (load: LoadResult) => number): T {
  const sorted = [...runs].sort((a, b) => by(a.load) - by(b.load));
  const median = sorted[Math.floor(sorted.length / 2)];
  if (median === undefined) throw new Error('no runs to take the median of');
  return median;
}

export interface LoadDriver {
  /** A timed run with the settings' generator (or the one named). */
  timed(spec: LoadSpec, generator?: LoadGenerator): Promise<LoadResult>;
  /** A fixed number of requests (autocannon). */
  counted(spec: LoadSpec & { readonly amount: number }): Promise<LoadResult>;
}

export function loadDriver(options: { readonly generator: LoadGenerator; readonly wrk: string | undefined; readonly workDir: string }): LoadDriver {
  const scripts: WrkScripts = { report: join(options.workDir, 'wrk-report.lua'), randomPaths: join(options.workDir, 'wrk-random-paths.lua') };
  writeFileSync(scripts.report, wrkScript(false));
  writeFileSync(scripts.randomPaths, wrkScript(true));
  return {
    timed(spec, generator = options.generator) {
      if (generator === 'wrk' && options.wrk !== undefined && spec.method !== 'PUT' && spec.amount === undefined) {
        return runWrk(options.wrk, scripts, spec);
      }
      return runAutocannon(spec);
    },
    counted: runAutocannon,
  };
}

async function runWrk(wrk: string, scripts: WrkScripts, spec: LoadSpec): Promise<LoadResult> {
  const stdout = await runChild(wrk, wrkArguments(scripts, spec));
  return parseWrkReport(stdout);
}

async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  const stdout = await runChild(process.execPath, [AUTOCANNON_PROCESS, JSON.stringify(spec)]);
  return JSON.parse(stdout) as LoadResult;
}
