// The autocannon load generator as a process of its own:
// `node dist/bench/autocannon-process.js '<LoadSpec as JSON>'` prints a LoadResult as JSON.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './load.js';

const specText = process.argv[2];
if (specText === undefined) {
  process.stderr.write("usage: autocannon-process.js '<LoadSpec JSON>'\n");
  process.exit(2);
}
const spec = JSON.parse(specText) as LoadSpec;
const paths = spec.pathsFile === undefined ? undefined : readFileSync(spec.pathsFile, 'utf8').split('\n').filter((p) => p !== '');

const options: autocannon.Options = {
  url: spec.url,
  method: spec.method ?? 'GET',
  connections: spec.connections,
  timeout: spec.timeoutSeconds ?? 10,
  headers: { ...spec.headers },
  tlsOptions: { rejectUnauthorized: false },
  // autocannon ends a run on its next sample: at the default 1 s, a run of 2.1 s would last 3.
  sampleInt: 10,
};
if (spec.amount !== undefined) options.amount = spec.amount;
else options.duration = spec.seconds ?? 10;
if (spec.bodyFile !== undefined) options.body = readFileSync(spec.bodyFile);
if (paths !== undefined) {
  options.requests = [{ setupRequest: (request) => ({ ...request, path: paths[Math.floor(Math.random() * paths.length)] ?? '/' }) }];
}

const result = await autocannon(options);
const statuses = Object.fromEntries(Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]));
const report: LoadResult = {
  tool: 'autocannon',
  requests: result.requests.total,
  seconds: result.duration,
  perSecond: result.requests.total / result.duration,
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  failures: result['4xx'] + result['5xx'] + result.errors + result.timeouts,
  statuses,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
