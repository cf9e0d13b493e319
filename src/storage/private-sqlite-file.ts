// A SQLite database file, made private before SQLite opens it. SQLite creates a new
// database with mode 0644 less the umask, but its -wal and -shm files with exactly the
// database file's mode (os_unix.c, findCreateFileMode and robust_open): so a database
// file that is 0600 before the first open keeps every file beside it 0600 too.
import { createPrivateFile, makePrivate } from '../private-files.js';

/** What SQLite keeps beside a database: the write-ahead log, its index, a rollback journal. */
export const SQLITE_SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/**
 * Creates the database file 0600 when `create` and it is missing; takes group and other
 * permissions off an existing one and off the files beside it that an older version, or a
 * crash under another umask, left behind (SQLite only sets the mode of a side file it creates).
 */
export function preparePrivateSqliteFile(file: string, options: { readonly create: boolean }): void {
  // ':memory:' and '' (a temporary database SQLite deletes itself) are no file of ours.
  if (file === ':memory:' || file === '') return;
  if (options.create) createPrivateFile(file);
  else makePrivate(file);
  for (const suffix of SQLITE_SIDE_FILES) makePrivate(`${file}${suffix}`);
}
