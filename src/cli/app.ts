// `portrait app add NAME --roles "…"`: registers an application for the client
// credentials grant and prints its tenant id, client id and secret — the secret this
// once only, since Portrait keeps just a slow hash of it. The lines are the variables
// @azure/identity's EnvironmentCredential reads, so they can go into a .env file.
import { resolve } from 'node:path';
import { Applications } from '../auth/applications.js';
import { redirectUriProblem, REDIRECT_URIS_PER_APP } from '../auth/redirect-uris.js';
import { parseFlags, UsageError } from '../config.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { openStore, storeLocation } from '../storage/open-store.js';
import { defaultTenant, ensureDataFolder } from './data-folder.js';

const OPTIONS = {
  data: { type: 'string' },
  database: { type: 'string' },
  tenant: { type: 'string' },
  roles: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
} as const;

/** Entra's limit for an application's displayName. */
const NAME_LIMIT = 256;

export async function app(argv: readonly string[]): Promise<string> {
  const [subcommand, ...rest] = argv;
  if (subcommand !== 'add') {
    throw new UsageError(
      subcommand === undefined ? 'missing subcommand: app add NAME --roles "User.ReadWrite.All …"' : `unknown app subcommand '${subcommand}'; try app add`,
    );
  }
  const { values, positionals } = parseFlags(rest, OPTIONS);
  const [name, extra] = positionals;
  if (name === undefined) throw new UsageError('app add needs the application\'s NAME');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const displayName = name.trim();
  if (displayName === '' || displayName.length > NAME_LIMIT || /[\u0000-\u001f\u007f]/.test(displayName)) {
    throw new UsageError(`NAME must be 1 to ${NAME_LIMIT} printable characters, got ${JSON.stringify(name)}`);
  }
  const redirectUris = values['redirect-uri'] ?? [];
  for (const uri of redirectUris) {
    const problem = redirectUriProblem(uri);
    if (problem !== undefined) throw new UsageError(`--redirect-uri ${JSON.stringify(uri.slice(0, 300))} cannot be a redirect URI: ${problem}`);
  }
  if (redirectUris.length > REDIRECT_URIS_PER_APP) throw new UsageError(`an application has at most ${REDIRECT_URIS_PER_APP} redirect URIs`);
  // An app that signs people in (a browser app) needs no application permissions of its own.
  if (values.roles === undefined && redirectUris.length === 0) {
    throw new UsageError('--roles (application permissions, e.g. --roles "User.ReadWrite.All") or --redirect-uri (to sign people in) is required');
  }
  const roles = (values.roles ?? '').split(/[\s,]+/).filter((role) => role !== '');
  if (values.roles !== undefined && roles.length === 0) throw new UsageError('--roles must name at least one permission, e.g. "User.ReadWrite.All"');
  if (values.tenant !== undefined && !GUID_PATTERN.test(values.tenant)) throw new UsageError(`--tenant must be a GUID, got '${values.tenant}'`);

  const dataDir = resolve(values.data ?? 'data');
  ensureDataFolder(dataDir);
  const store = await openStore(storeLocation(values.database, dataDir, 2));
  try {
    const tenantId = values.tenant?.toLowerCase() ?? (await defaultTenant(store));
    const { application, secret } = await new Applications(store).register(tenantId, displayName, roles, [...new Set(redirectUris)]);
    return [
      `Registered application '${application.displayName}'${roles.length > 0 ? ` with roles ${application.roles.join(' ')}` : ''}.`,
      ...application.redirectUris.map((uri) => `It signs people in with codes sent to ${uri} only.`),
      `AZURE_TENANT_ID=${application.tenantId}`,
      `AZURE_CLIENT_ID=${application.clientId}`,
      `AZURE_CLIENT_SECRET=${secret}`,
      'The client secret is shown only this once: Portrait keeps just a hash of it. If it is lost, add another application.',
    ].join('\n');
  } finally {
    await store.close();
  }
}
