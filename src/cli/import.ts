// `portrait import FILE.json`: see directory/import-document.ts and the README.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseFlags, UsageError } from '../config.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { ImportError, importDocument, type ImportCounts } from '../directory/import-document.js';
import { openStore, storeLocation } from '../storage/open-store.js';
import { defaultTenant, ensureDataFolder } from './data-folder.js';

const OPTIONS = { data: { type: 'string' }, tenant: { type: 'string' }, database: { type: 'string' } } as const;

export async function importCommand(argv: readonly string[]): Promise<ImportCounts> {
  const { values, positionals } = parseFlags(argv, OPTIONS);
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
  ensureDataFolder(dataDir);
  const store = await openStore(storeLocation(values.database, dataDir, 2));
  try {
    const tenantId = values.tenant?.toLowerCase() ?? (await defaultTenant(store));
    return await importDocument(store, tenantId, document);
  } finally {
    await store.close();
  }
}
