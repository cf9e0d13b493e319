// `portrait migrate-store --from A --to B [--force] [--progress]`: moves a whole
// installation between SQLite and PostgreSQL (either way) with storage/store-copy.ts,
// and prints one summary line once the copy is verified and committed.
import { existsSync, realpathSync, rmSync } from 'node:fs';
import { parseFlags, UsageError, type FlagTable } from '../config.js';
import type { CommandHelp } from './command-help.js';
import { describeLocation, storeLocation, type StoreLocation } from '../storage/open-store.js';
import { copyStore, openTables, StoreCopyError, type CopyProgress, type TableAccess, type TableSummary } from '../storage/store-copy.js';

const OPTIONS = {
  from: { type: 'string', value: 'FILE|sqlite:FILE|postgres://…', description: 'the database to copy from (read in one snapshot: stop the server first)' },
  to: { type: 'string', value: 'FILE|sqlite:FILE|postgres://…', description: 'the database to copy into, in one transaction' },
  force: { type: 'boolean', description: 'replace what the target holds' },
  progress: { type: 'boolean', description: 'print rows copied on stderr (on by default when stderr is a terminal)' },
} as const satisfies FlagTable;

export const MIGRATE_STORE_HELP: CommandHelp = {
  usage: ['portrait migrate-store --from FILE|sqlite:FILE|postgres://… --to FILE|sqlite:FILE|postgres://… [--force] [--progress]'],
  summary: 'Copies a whole installation between SQLite and PostgreSQL, either way, and commits only once every table matches the source.',
  flags: OPTIONS,
};

/** Runs the copy; resolves to the summary line for stdout. */
export async function migrateStore(argv: readonly string[]): Promise<string> {
  const { values, positionals } = parseFlags(argv, OPTIONS);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.from) throw new UsageError('--from is required: a SQLite file, sqlite: URL or postgres:// URL to copy from');
  if (!values.to) throw new UsageError('--to is required: a SQLite file, sqlite: URL or postgres:// URL to copy into');
  // The data folder plays no part: both flags always name a database.
  const from = location('--from', values.from);
  const to = location('--to', values.to);
  if (sameDatabase(from, to)) throw new UsageError('--to must name another database than --from');
  // Opening a missing SQLite source would create an empty one and "copy" nothing.
  if (from.kind === 'sqlite' && !existsSync(from.file)) throw new StoreCopyError(`--from ${from.file} does not exist`);

  const createdTarget = to.kind === 'sqlite' && !existsSync(to.file);
  const showProgress = values.progress === true || process.stderr.isTTY === true;
  let source: TableAccess | undefined;
  let target: TableAccess | undefined;
  let copied = false;
  try {
    source = await openTables(from, { create: false });
    target = await openTables(to, { create: true });
    const summaries = await copyStore(source, target, {
      force: values.force === true,
      ...(showProgress ? { onProgress: progressPrinter() } : {}),
    });
    copied = true;
    return describeCopy(summaries);
  } finally {
    await target?.close();
    await source?.close();
    // A target this command created and could not fill goes away again: "untouched".
    if (!copied && createdTarget && to.kind === 'sqlite') {
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${to.file}${suffix}`, { force: true });
    }
  }
}

/** `copied 2 tenants, 5 users, …, 7 photos (63 sizes); verified` */
function describeCopy(summaries: readonly TableSummary[]): string {
  const rows = (table: string) => summaries.find((summary) => summary.table === table)?.rows ?? 0;
  return (
    `copied ${rows('tenants')} tenants, ${rows('users')} users, ${rows('groups')} groups, ` +
    `${rows('contact_folders')} contact folders, ${rows('contacts')} contacts, ${rows('invitations')} invitations, ` +
    `${rows('settings')} settings, ${rows('photos')} photos (${rows('photo_content')} sizes)` +
    // Named only when there are any, so that installations without them read as before.
    `${rows('applications') > 0 ? `, ${rows('applications')} applications` : ''}; verified`
  );
}

/** `photos: 1200/5000` on stderr at most once a second, and when a table is done. */
function progressPrinter(): (progress: CopyProgress) => void {
  let last = 0;
  return ({ phase, table, done, total }) => {
    const now = Date.now();
    if (done < total && now - last < 1000) return;
    last = now;
    process.stderr.write(`${phase === 'verify' ? 'verify ' : ''}${table}: ${done}/${total}\n`);
  };
}

function location(flag: string, value: string): StoreLocation {
  const parsed = storeLocation(value, '.', 1, flag);
  if (parsed.kind === 'postgres' && !URL.canParse(parsed.url)) throw new UsageError(`${flag} is not a valid postgres:// URL`);
  return parsed;
}

function sameDatabase(a: StoreLocation, b: StoreLocation): boolean {
  if (a.kind === 'postgres' || b.kind === 'postgres') return a.kind === b.kind && describeLocation(a) === describeLocation(b);
  if (a.file === b.file) return true;
  // The same file under two names (a symlink, a relative path through one).
  return existsSync(a.file) && existsSync(b.file) && realpathSync(a.file) === realpathSync(b.file);
}
