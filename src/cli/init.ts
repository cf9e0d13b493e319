// `portrait init [--data DIR] [--database URL]`: sets up an installation the way `serve`
// does on its first start — the data folder, the database with its default tenant, the
// issuer's key — without serving. For a container image or a script that runs `token` or
// `app add` before the server has ever started, since those refuse a folder with no
// Portrait data (data-folder.ts, openInstallation). Running it again changes nothing.
import { resolve } from 'node:path';
import { issuerKeyFile, loadOrCreateIssuerKey } from '../auth/built-in-issuer.js';
import { parseFlagsWithEnvironment, UsageError, type Environment, type FlagTable } from '../config.js';
import { describeLocation, openStore, storeLocation } from '../storage/open-store.js';
import type { CommandHelp } from './command-help.js';
import { defaultTenant, ensureDataFolder } from './data-folder.js';

const OPTIONS = {
  data: { type: 'string', value: 'DIR', description: 'the data folder to set up (default ./data)' },
  database: { type: 'string', value: 'FILE|postgres://…', description: 'the database to set up (default DIR/portrait.db)' },
} as const satisfies FlagTable;

export const INIT_HELP: CommandHelp = {
  usage: ['portrait init [--data DIR] [--database FILE|postgres://…]'],
  summary: 'Sets up a data folder and its database as serve does on its first start (default tenant, issuer key), without serving. Running it again changes nothing.',
  flags: OPTIONS,
  environment: ['data', 'database'],
};

export async function init(argv: readonly string[], env: Environment = {}): Promise<string> {
  const { values, positionals } = parseFlagsWithEnvironment(argv, OPTIONS, env, ['data', 'database']);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const dataDir = resolve(values.data ?? 'data');
  const location = storeLocation(values.database, dataDir, 2);
  ensureDataFolder(dataDir);
  const store = await openStore(location);
  try {
    const tenantId = await defaultTenant(store);
    loadOrCreateIssuerKey(dataDir);
    return [`Portrait data is ready in ${dataDir}`, `  data:       ${describeLocation(location)}`, `  tenant:     ${tenantId}`, `  issuer key: ${issuerKeyFile(dataDir)}`].join('\n');
  } finally {
    await store.close();
  }
}
