// What a bench run does and how long, read once from the command line and the
// environment (`npm run bench -- read upload`, BENCH_QUICK=1, BENCH_SECONDS=…,
// BENCH_POSTGRES_URL=…) and passed down; nothing else in bench/ reads process.env.
import { execFileSync } from 'node:child_process';

export const SECTIONS = ['read', 'upload', 'memory', 'scale', 'nodes'] as const;
export type Section = (typeof SECTIONS)[number];

export type LoadGenerator = 'wrk' | 'autocannon';

export interface Settings {
  readonly sections: readonly Section[];
  readonly quick: boolean;
  /** Length of each measured read run. */
  readonly seconds: number;
  /** Unmeasured run before each measured read run (JIT, TLS sessions, page cache). */
  readonly warmupSeconds: number;
  /** Connections of the read runs. */
  readonly connections: number;
  /** Uploads per connection in each upload run: c=1 makes this many, c=4 four times as many. */
  readonly uploadsPerConnection: number;
  /** Uploads of the leak check; RSS is compared after a tenth of them and after all. */
  readonly leakUploads: number;
  /** Users with photos in the large store of the scale section (the small one has 100). */
  readonly scaleUsers: number;
  /** Writes through one node, each followed by polling the other, in each cross-node run of the nodes section. */
  readonly nodeRounds: number;
  /**
   * The PostgreSQL server of the nodes section (any database on it: the section makes its
   * own scratch database there and drops it). Whether it answers is found out when the
   * section runs; when it does not, the PostgreSQL rows are skipped.
   */
  readonly postgres: string;
  /** wrk when installed (a C client: the references are not capped by the client), else autocannon. */
  readonly readLoad: LoadGenerator;
  readonly nginxWorkers: number;
  /** Absolute paths of the external references, undefined when not installed. */
  readonly nginx: string | undefined;
  readonly wrk: string | undefined;
}

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

export function loadSettings(argv: readonly string[], env: NodeJS.ProcessEnv): Settings {
  const sections = parseSections(argv);
  const quick = env.BENCH_QUICK === '1';
  const wrk = which('wrk');
  const requested = env.BENCH_LOADGEN;
  if (requested !== undefined && requested !== 'wrk' && requested !== 'autocannon') {
    throw new SettingsError(`BENCH_LOADGEN must be wrk or autocannon, got '${requested}'`);
  }
  if (requested === 'wrk' && wrk === undefined) throw new SettingsError('BENCH_LOADGEN=wrk but wrk is not installed (apt-get install wrk)');
  return Object.freeze({
    sections,
    quick,
    seconds: positive(env, 'BENCH_SECONDS', quick ? 2 : 10),
    warmupSeconds: quick ? 0.5 : 2,
    connections: positive(env, 'BENCH_CONNECTIONS', 50),
    uploadsPerConnection: positive(env, 'BENCH_UPLOADS', quick ? 2 : 8),
    leakUploads: positive(env, 'BENCH_LEAK_UPLOADS', quick ? 400 : 4000),
    scaleUsers: positive(env, 'BENCH_SCALE_USERS', quick ? 10_000 : 100_000),
    nodeRounds: positive(env, 'BENCH_NODE_ROUNDS', quick ? 30 : 200),
    postgres: env.BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    readLoad: requested ?? (wrk === undefined ? 'autocannon' : 'wrk'),
    nginxWorkers: positive(env, 'BENCH_NGINX_WORKERS', 1),
    nginx: which('nginx'),
    wrk,
  });
}

function parseSections(argv: readonly string[]): Section[] {
  if (argv.length === 0 || (argv.length === 1 && argv[0] === 'all')) return [...SECTIONS];
  return argv.map((name) => {
    const section = SECTIONS.find((s) => s === name);
    if (!section) throw new SettingsError(`unknown section '${name}': use ${SECTIONS.join(', ')} or all`);
    return section;
  });
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new SettingsError(`${name} must be a positive number, got '${text}'`);
  return value;
}

/** The absolute path of a command on PATH or in the sbin folders Debian puts nginx in. */
function which(command: string): string | undefined {
  const path = `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/local/sbin`;
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { env: { ...process.env, PATH: path }, encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
