// Everything Portrait writes — the database, keys, certificates, backups — is private to
// the user it runs as: files 0600, folders it creates 0700, whatever the umask and
// whatever the mode of the folder they land in. Modes are set explicitly rather than
// left to the umask, so that library use (tests, embedders) gets them too; the CLI also
// sets a umask of 077 (cli/portrait.ts) for anything SQLite creates on its own.
import { chmodSync, closeSync, constants, fchmodSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_FOLDER_MODE = 0o700;

/** Creates the folder and any missing parents 0700; a folder that already exists keeps its mode. */
export function makePrivateFolder(path: string): void {
  // Absolute and without a trailing slash, so that walking up meets the first folder made.
  const target = resolve(path);
  const first = mkdirSync(target, { recursive: true, mode: PRIVATE_FOLDER_MODE });
  if (first === undefined) return;
  // mkdir's mode is masked by the umask: set it exactly on every folder this call made.
  for (let folder = target; ; folder = dirname(folder)) {
    chmodSync(folder, PRIVATE_FOLDER_MODE);
    if (folder === resolve(first) || dirname(folder) === folder) break;
  }
}

/** Writes the file whole (a temporary file renamed over it), mode 0600 from the first byte. */
export function writePrivateFile(path: string, data: string | Uint8Array): void {
  const partial = `${path}.partial-${process.pid}`;
  rmSync(partial, { force: true });
  try {
    writeNewPrivateFile(partial, data);
    renameSync(partial, path);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

/** Creates the file 0600 with these contents; false, and nothing written, if it already exists. */
export function writeNewPrivateFile(path: string, data: string | Uint8Array): boolean {
  const fd = openNew(path);
  if (fd === undefined) return false;
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Creates an empty file 0600 unless it exists; one that exists is made private (see makePrivate). */
export function createPrivateFile(path: string): void {
  const fd = openNew(path);
  if (fd === undefined) makePrivate(path);
  else closeSync(fd);
}

/**
 * Takes group and other permissions off a file an older version (or another umask) left
 * readable; the owner's bits stay. Missing files are fine. A file owned by another user
 * (EPERM) is left as its owner set it: Portrait cannot make it private to itself anyway.
 */
export function makePrivate(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  if ((mode & 0o077) === 0) return;
  try {
    chmodSync(path, mode & 0o700);
  } catch (error) {
    if (errorCode(error) !== 'EPERM' && errorCode(error) !== 'ENOENT') throw error;
  }
}

/** O_EXCL: a new file, 0600 exactly (the open's mode is masked by the umask); undefined if it exists. */
function openNew(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, PRIVATE_FILE_MODE);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return undefined;
    throw error;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

function errorCode(error: unknown): unknown {
  return error instanceof Error && 'code' in error ? error.code : undefined;
}
