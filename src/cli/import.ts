// `portrait import FILE.json`: see directory/import-document.ts and the README.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseFlagsWithEnvironment, UsageError, type Environment, type FlagTable } from '../config.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { ImportError, importDocument, type ImportCounts } from '../directory/import-document.js';
import { openStore, storeLocation } from '../storage/open-store.js';
import type { CommandHelp } from './command-help.js';
import { defaultTenant, ensureDataFolder } from './data-folder.js';

const OPTIONS = {
  data: { type: 'string', value: 'DIR', description: 'the data folder (default ./data; set up when new)' },
  database: { type: 'string', value: 'FILE|postgres://…', description: 'the database (default DIR/portrait.db)' },
  tenant: { type: 'string', value: 'ID', description: 'the tenant to import into, a GUID (default: the data folder\'s default tenant)' },
} as const satisfies FlagTable;

export const IMPORT_HELP: CommandHelp = {
  usage: ['portrait import FILE.json [--data DIR] [--database URL] [--tenant ID]'],
  summary: 'Loads users, groups, teams, contacts and invitations from a JSON document (README, "The portrait command"). Importing the same file twice changes nothing.',
  flags: OPTIONS,
  environment: ['data', 'database'],
};

export async function importCommand(argv: readonly string[], env: Environment = {}): Promise<ImportCounts> {
  const { values, positionals } = parseFlagsWithEnvironment(argv, OPTIONS, env, ['data', 'database']);
  if (positionals.length !== 1) throw new UsageError('import takes one FILE.json');
  if (values.tenant !== undefined && !GUID_PATTERN.test(values.tenant)) throw new UsageError(`--tenant must be a GUID, got '${values.tenant}'`);
  const file = resolve(positionals[0] as string);
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ImportError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const dataDir = resolve(values.data ?? 'data');
  const location = storeLocation(values.database, dataDir, 2);
  ensureDataFolder(dataDir);
  const store = await openStore(location);
  try {
    const tenantId = values.tenant?.toLowerCase() ?? (await defaultTenant(store));
    return await importDocument(store, tenantId, document);
  } finally {
    await store.close();
  }
}
