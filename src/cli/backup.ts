// `portrait backup --to FILE [--data DIR | --database FILE] [--compact] [--force] [--progress]`:
// a consistent copy of the live SQLite database while the server keeps running,
// through SQLite's online backup API (https://www.sqlite.org/backup.html), or with
// --compact through VACUUM INTO: the same snapshot rewritten without free pages, as a
// store that an upgrade (migration 008) or many deletions left larger than its data.
//
// The backup API restarts whenever another connection writes between two of its
// steps, so under steady writes it might never finish. Holding one read transaction
// on the source for the whole backup pins a WAL snapshot instead: writers go on, the
// backup never restarts, and it holds exactly what was committed when it began.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from '../storage/sqlite-driver.js';
import { parseFlagsWithEnvironment, UsageError, type Environment, type FlagTable } from '../config.js';
import type { CommandHelp } from './command-help.js';
import { createPrivateFile } from '../private-files.js';
import { storeLocation } from '../storage/open-store.js';

/** A backup that cannot or must not go ahead; the CLI prints the message and exits 1. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

const OPTIONS = {
  to: { type: 'string', value: 'FILE', description: 'the backup file to write, in a folder that exists' },
  data: { type: 'string', value: 'DIR', description: 'the data folder whose portrait.db is backed up (default ./data)' },
  database: { type: 'string', value: 'FILE', description: 'the SQLite database to back up instead (default DIR/portrait.db)' },
  compact: { type: 'boolean', description: 'write the copy without free pages (VACUUM INTO): smaller, no progress shown' },
  force: { type: 'boolean', description: 'replace FILE when it exists' },
  progress: { type: 'boolean', description: 'print pages copied on stderr (on by default when stderr is a terminal)' },
} as const satisfies FlagTable;

export const BACKUP_HELP: CommandHelp = {
  usage: ['portrait backup --to FILE [--data DIR | --database FILE] [--compact] [--force] [--progress]'],
  summary: 'Copies the live SQLite database while serve keeps running, from one snapshot, checks its integrity and writes it as one file. PostgreSQL: use pg_dump.',
  flags: OPTIONS,
  environment: ['data', 'database'],
};

/** Pages copied per step: about 4 MB with SQLite's default page size. */
const PAGES_PER_STEP = 1000;

/** Makes the backup; resolves to the summary line for stdout. */
export async function backup(argv: readonly string[], env: Environment = {}): Promise<string> {
  const { values, positionals } = parseFlagsWithEnvironment(argv, OPTIONS, env, ['data', 'database']);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.to) throw new UsageError('--to is required: the file to write the backup to');
  const source = storeLocation(values.database, resolve(values.data ?? 'data'));
  if (source.kind === 'postgres') {
    throw new UsageError('backup copies a SQLite database; back up PostgreSQL with pg_dump (see the README)');
  }
  const file = resolve(values.to);
  if (file === source.file) throw new UsageError('--to must name another file than the database');
  if (!existsSync(source.file)) throw new BackupError(`no database at ${source.file}`);
  if (existsSync(file) && values.force !== true) throw new BackupError(`${file} exists; --force replaces it`);
  if (!existsSync(dirname(file))) throw new BackupError(`--to ${file}: the folder ${dirname(file)} does not exist; create it first`);

  // Written beside FILE under another name, checked, then renamed over it: FILE is
  // never a half-written backup, and a failure leaves an existing one as it was.
  const partial = `${file}.partial-${process.pid}`;
  try {
    // Made 0600 before SQLite writes a page into it; the rename keeps the mode, so FILE is private.
    createPrivateFile(partial);
    const pages =
      values.compact === true
        ? compactCopy(source.file, partial)
        : await copyPages(source.file, partial, values.progress === true || process.stderr.isTTY === true);
    const contents = finish(partial);
    // A leftover -wal beside FILE would be replayed onto the new backup when it is opened.
    for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
    renameSync(partial, file);
    return `backed up ${source.file} to ${file}: ${contents}, ${pages} pages; integrity ok`;
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${partial}${suffix}`, { force: true });
  }
}

/** Copies the database page by page from one read snapshot; returns the page count. */
async function copyPages(sourceFile: string, destination: string, showProgress: boolean): Promise<number> {
  // Read-only: a backup must not migrate, checkpoint or otherwise touch the live file.
  const db = new Database(sourceFile, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN');
    // The snapshot starts at the first read; this one also checks it is Portrait's database.
    checkPortraitDatabase(db, sourceFile);
    let last = 0;
    const { totalPages } = await db.backup(destination, {
      progress: ({ totalPages: total, remainingPages }) => {
        if (showProgress && Date.now() - last >= 1000) {
          last = Date.now();
          process.stderr.write(`backup: ${total - remainingPages}/${total} pages\n`);
        }
        return PAGES_PER_STEP;
      },
    });
    if (showProgress) process.stderr.write(`backup: ${totalPages}/${totalPages} pages\n`);
    db.exec('COMMIT');
    return totalPages;
  } finally {
    db.close();
  }
}

/**
 * Writes the database from one read snapshot into `destination` (empty) without free
 * pages, in one statement: VACUUM INTO reads through the WAL, as any reader, and leaves
 * the source untouched. Returns the copy's page count.
 */
function compactCopy(sourceFile: string, destination: string): number {
  const db = new Database(sourceFile, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    checkPortraitDatabase(db, sourceFile);
    db.prepare('VACUUM INTO ?').run(destination);
  } finally {
    db.close();
  }
  const copy = new Database(destination, { readonly: true, fileMustExist: true });
  try {
    return copy.pragma('page_count', { simple: true }) as number;
  } finally {
    copy.close();
  }
}

/** Any other file, SQLite or not, is refused with the same one line. */
function checkPortraitDatabase(db: InstanceType<typeof Database>, file: string): void {
  let tables: unknown;
  try {
    tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('users', 'photos')").pluck().get();
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'SQLITE_NOTADB') throw new BackupError(`${file} is not a Portrait database`);
    throw error;
  }
  if (tables !== 2) throw new BackupError(`${file} is not a Portrait database`);
}

/** Makes the copy one self-contained file (no WAL beside it), checks it, and says what it holds. */
function finish(file: string): string {
  const db = new Database(file, { fileMustExist: true });
  try {
    // The copy inherits WAL mode from the live file; a rollback journal needs no -wal to be read.
    db.pragma('journal_mode = DELETE');
    const problems = db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
    if (problems.length !== 1 || problems[0]?.integrity_check !== 'ok') {
      throw new BackupError(`the backup failed its integrity check: ${problems.map((p) => p.integrity_check).join('; ')}`);
    }
    const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    return `${count('tenants')} tenants, ${count('users')} users, ${count('groups')} groups, ${count('photos')} photos`;
  } finally {
    db.close();
  }
}
