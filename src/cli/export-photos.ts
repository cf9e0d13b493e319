// `portrait export-photos DIR`: each user's and group's largest photo, named as
// import-photos reads them (`{userPrincipalName}.jpg`, `{group id}.jpg`), so that an export
// imports back unchanged (import-photos sees the stored largest size and skips it).
// Contacts' photos are not exported: they belong to their user's mailbox, not the directory.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseFlagsWithEnvironment, UsageError, type Environment, type FlagTable } from '../config.js';
import { GUID_PATTERN } from '../directory/ids.js';
import type { ListCursor } from '../storage/list-query.js';
import { storeLocation } from '../storage/open-store.js';
import type { PhotoOwner, Store } from '../storage/store.js';
import type { CommandHelp } from './command-help.js';
import { openInstallation } from './data-folder.js';
import { Progress } from './progress.js';

const OPTIONS = {
  data: { type: 'string', value: 'DIR', description: 'the data folder serve uses (default ./data)' },
  database: { type: 'string', value: 'FILE|postgres://…', description: 'the database serve uses (default DIR/portrait.db)' },
  tenant: { type: 'string', value: 'ID', description: 'the tenant to export, a GUID (default: the data folder\'s default tenant)' },
} as const satisfies FlagTable;

export const EXPORT_PHOTOS_HELP: CommandHelp = {
  usage: ['portrait export-photos FOLDER [--data DIR] [--database URL] [--tenant ID]'],
  summary:
    'Writes each user\'s and group\'s largest photo into FOLDER as {userPrincipalName}.jpg or {group id}.jpg, which import-photos reads back unchanged. A file already equal to the photo is left as it is.',
  flags: OPTIONS,
  environment: ['data', 'database'],
};

const PAGE = 500;

export async function exportPhotosCommand(argv: readonly string[], env: Environment = {}): Promise<string> {
  const { values, positionals } = parseFlagsWithEnvironment(argv, OPTIONS, env, ['data', 'database']);
  if (positionals.length !== 1) throw new UsageError('export-photos takes one FOLDER to write into');
  if (values.tenant !== undefined && !GUID_PATTERN.test(values.tenant)) throw new UsageError(`--tenant must be a GUID, got '${values.tenant}'`);
  const folder = resolve(positionals[0] as string);
  mkdirSync(folder, { recursive: true });
  const dataDir = resolve(values.data ?? 'data');
  const { store, tenantId: defaultTenantId } = await openInstallation(dataDir, storeLocation(values.database, dataDir, 2), { issuerKey: false });
  try {
    const tenantId = values.tenant?.toLowerCase() ?? defaultTenantId;
    const progress = new Progress(Number.NaN, process.stderr);
    let written = 0;
    let unchanged = 0;
    for await (const [owner, name] of owners(store, tenantId)) {
      const content = await store.getPhotoContent(owner, 'primary');
      if (content === undefined) continue;
      const path = join(folder, `${name}.jpg`);
      if (sameFile(path, content.bytes)) {
        unchanged++;
        progress.item(`${name}.jpg`, 'unchanged');
      } else {
        writeFileSync(path, content.bytes, { mode: 0o600 });
        written++;
        progress.item(`${name}.jpg`, 'written');
      }
    }
    progress.finish();
    return `exported ${written + unchanged} photos to ${folder}: ${written} written, ${unchanged} unchanged`;
  } finally {
    await store.close();
  }
}

/** Every user (named by userPrincipalName) and group (by id), a page at a time. */
async function* owners(store: Store, tenantId: string): AsyncGenerator<[PhotoOwner, string]> {
  let after: ListCursor | undefined;
  for (;;) {
    const page = await store.queryUsers(tenantId, { orderBy: 'id', descending: false, after, limit: PAGE, count: false });
    for (const user of page.items) {
      // A name is a file name here: Entra's UPN characters never hold a slash, but a stored one is checked anyway.
      if (!/[/\\\u0000]/.test(user.userPrincipalName) && !user.userPrincipalName.startsWith('.')) {
        yield [{ tenantId, type: 'user', id: user.id }, user.userPrincipalName];
      }
    }
    if (!page.more) break;
    after = { id: (page.items.at(-1) as { id: string }).id };
  }
  after = undefined;
  for (;;) {
    const page = await store.queryGroups(tenantId, { orderBy: 'id', descending: false, after, limit: PAGE, count: false });
    for (const group of page.items) yield [{ tenantId, type: 'group', id: group.id }, group.id];
    if (!page.more) break;
    after = { id: (page.items.at(-1) as { id: string }).id };
  }
}

function sameFile(path: string, bytes: Buffer): boolean {
  try {
    return readFileSync(path).equals(bytes);
  } catch {
    return false;
  }
}
