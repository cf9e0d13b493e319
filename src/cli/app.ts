// `portrait app add | list | remove | rotate-secret`: the applications registered for
// the client credentials grant. `add` and `rotate-secret` print the tenant id, client id
// and secret — the secret this once only, since Portrait keeps just a slow hash of it. The
// lines are the variables @azure/identity's EnvironmentCredential reads, so they can go
// into a .env file. `list` never shows a secret: there is none to show.
import { resolve } from 'node:path';
import { Applications } from '../auth/applications.js';
import { checkPermissionNames, unknownNameMessage } from '../auth/permission-names.js';
import { redirectUriProblem, REDIRECT_URIS_PER_APP } from '../auth/redirect-uris.js';
import { parseFlagsWithEnvironment, UsageError, type Environment, type FlagTable } from '../config.js';
import { GUID_PATTERN } from '../directory/ids.js';
import { storeLocation } from '../storage/open-store.js';
import type { Application } from '../storage/store.js';
import type { CommandHelp } from './command-help.js';
import { openInstallation } from './data-folder.js';

const OPTIONS = {
  data: { type: 'string', value: 'DIR', description: 'the data folder serve uses (default ./data)' },
  database: { type: 'string', value: 'FILE|postgres://…', description: 'the database serve uses (default DIR/portrait.db)' },
  tenant: { type: 'string', value: 'ID', description: 'the tenant (a GUID): add registers in it, the others look only in it (default: the data folder\'s default tenant for add, every tenant for the others)' },
  roles: { type: 'string', value: '"ROLE …"', description: 'add: the application permissions its tokens carry, e.g. "User.ReadWrite.All Group.Read.All"' },
  'redirect-uri': { type: 'string', multiple: true, value: 'URI', description: 'add: where codes may be sent when it signs people in (repeatable); such an app needs no --roles' },
} as const satisfies FlagTable;

export const APP_HELP: CommandHelp = {
  usage: [
    'portrait app add NAME (--roles "User.ReadWrite.All …" | --redirect-uri URI…) [--data DIR] [--database URL] [--tenant ID]',
    'portrait app list [--data DIR] [--database URL] [--tenant ID]',
    'portrait app remove NAME|CLIENT_ID [--data DIR] [--database URL] [--tenant ID]',
    'portrait app rotate-secret NAME|CLIENT_ID [--data DIR] [--database URL] [--tenant ID]',
  ],
  summary:
    'Registers, lists and removes the applications that get tokens by client credentials, and gives one a new secret. ' +
    'A secret is printed once, by add or rotate-secret; a removed application or a replaced secret gets no more tokens, ' +
    'and tokens it already holds last until they expire (an hour).',
  flags: OPTIONS,
  environment: ['data', 'database'],
};

/** Entra's limit for an application's displayName. */
const NAME_LIMIT = 256;
const SUBCOMMANDS = ['add', 'list', 'remove', 'rotate-secret'];

/** An application that cannot be found, or a name that fits several: one line, exit 1. */
export class ApplicationNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApplicationNotFoundError';
  }
}

export async function app(argv: readonly string[], env: Environment = {}): Promise<string> {
  const [subcommand, ...rest] = argv;
  if (subcommand === undefined || !SUBCOMMANDS.includes(subcommand)) {
    throw new UsageError(
      subcommand === undefined
        ? 'missing subcommand: app add NAME --roles "User.ReadWrite.All …", app list, app remove NAME, or app rotate-secret NAME'
        : `unknown app subcommand '${subcommand}'; try add, list, remove or rotate-secret`,
    );
  }
  const { values, positionals } = parseFlagsWithEnvironment(rest, OPTIONS, env, ['data', 'database']);
  if (values.tenant !== undefined && !GUID_PATTERN.test(values.tenant)) throw new UsageError(`--tenant must be a GUID, got '${values.tenant}'`);
  for (const flag of ['roles', 'redirect-uri'] as const) {
    if (subcommand !== 'add' && values[flag] !== undefined) throw new UsageError(`--${flag} is for app add; app ${subcommand} takes none`);
  }
  const [target, extra] = positionals;
  if (subcommand === 'list') {
    if (target !== undefined) throw new UsageError(`unexpected argument '${target}'`);
  } else {
    if (target === undefined) throw new UsageError(subcommand === 'add' ? "app add needs the application's NAME" : `app ${subcommand} needs the application's NAME or CLIENT_ID`);
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  }
  const redirectUris = subcommand === 'add' ? redirectUrisFlag(values['redirect-uri'] ?? []) : [];
  // An app that signs people in (a browser app) needs no application permissions of its own.
  if (subcommand === 'add' && values.roles === undefined && redirectUris.length === 0) {
    throw new UsageError('--roles (application permissions, e.g. --roles "User.ReadWrite.All") or --redirect-uri (to sign people in) is required');
  }
  const roles = subcommand === 'add' && values.roles !== undefined ? rolesFlag(values.roles) : [];
  const displayName = subcommand === 'add' ? nameArgument(target as string) : '';

  const dataDir = resolve(values.data ?? 'data');
  const { store, tenantId: defaultTenantId } = await openInstallation(dataDir, storeLocation(values.database, dataDir, 2), { issuerKey: false });
  const applications = new Applications(store);
  const tenantId = values.tenant?.toLowerCase();
  try {
    switch (subcommand) {
      case 'add': {
        const { application, secret } = await applications.register(tenantId ?? defaultTenantId, displayName, roles, redirectUris);
        const headline = [
          `Registered application '${application.displayName}'${roles.length > 0 ? ` with roles ${application.roles.join(' ')}` : ''}.`,
          ...application.redirectUris.map((uri) => `It signs people in with codes sent to ${uri} only.`),
        ].join('\n');
        return credentials(headline, application, secret, 'run `portrait app rotate-secret`');
      }
      case 'list':
        return listing(await applications.list(tenantId));
      case 'remove': {
        const application = await findOne(applications, tenantId, target as string);
        await applications.remove(application);
        return (
          `Removed application '${application.displayName}' (client id ${application.clientId}) from tenant ${application.tenantId}. ` +
          'Its secret gets no more tokens; tokens it already holds last until they expire.'
        );
      }
      default: {
        const { application, secret } = await applications.rotateSecret(await findOne(applications, tenantId, target as string));
        return credentials(`A new client secret for application '${application.displayName}'; the old one gets no more tokens.`, application, secret, 'rotate it again');
      }
    }
  } finally {
    await store.close();
  }
}

function nameArgument(name: string): string {
  const displayName = name.trim();
  if (displayName === '' || displayName.length > NAME_LIMIT || /[\u0000-\u001f\u007f]/.test(displayName)) {
    throw new UsageError(`NAME must be 1 to ${NAME_LIMIT} printable characters, got ${JSON.stringify(name)}`);
  }
  return displayName;
}

function rolesFlag(text: string): readonly string[] {
  const names = text.split(/[\s,]+/).filter((role) => role !== '');
  if (names.length === 0) throw new UsageError('--roles must name at least one permission, e.g. "User.ReadWrite.All"');
  const checked = checkPermissionNames(names, 'role');
  if (!checked.ok) throw new UsageError(unknownNameMessage(checked, 'role', '--roles'));
  return checked.names;
}

function redirectUrisFlag(uris: readonly string[]): readonly string[] {
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem !== undefined) throw new UsageError(`--redirect-uri ${JSON.stringify(uri.slice(0, 300))} cannot be a redirect URI: ${problem}`);
  }
  if (uris.length > REDIRECT_URIS_PER_APP) throw new UsageError(`an application has at most ${REDIRECT_URIS_PER_APP} redirect URIs`);
  return [...new Set(uris)];
}

function credentials(headline: string, application: Application, secret: string, ifLost: string): string {
  return [
    headline,
    `AZURE_TENANT_ID=${application.tenantId}`,
    `AZURE_CLIENT_ID=${application.clientId}`,
    `AZURE_CLIENT_SECRET=${secret}`,
    `The client secret is shown only this once: Portrait keeps just a hash of it. If it is lost, ${ifLost}.`,
  ].join('\n');
}

/** The one application with this client id or display name; several of one name must be told apart by client id. */
async function findOne(applications: Applications, tenantId: string | undefined, nameOrClientId: string): Promise<Application> {
  const all = await applications.list(tenantId);
  const byId = GUID_PATTERN.test(nameOrClientId) ? all.filter((a) => a.clientId === nameOrClientId.toLowerCase()) : [];
  const found = byId.length > 0 ? byId : all.filter((a) => a.displayName === nameOrClientId.trim());
  const where = tenantId === undefined ? '' : ` in tenant ${tenantId}`;
  if (found.length === 0) {
    throw new ApplicationNotFoundError(`no application is named or has the client id '${nameOrClientId}'${where}: \`portrait app list\` shows them`);
  }
  if (found.length > 1) {
    throw new ApplicationNotFoundError(`${found.length} applications are named '${nameOrClientId}'${where}: give the client id of one (${found.map((a) => a.clientId).join(', ')})`);
  }
  return found[0] as Application;
}

/** A table a person reads, one application a line; no secret, as none is kept. */
function listing(applications: readonly Application[]): string {
  if (applications.length === 0) return 'No applications are registered: `portrait app add NAME --roles "User.ReadWrite.All"` registers one.';
  const rows = [
    ['NAME', 'CLIENT ID', 'TENANT', 'CREATED', 'ROLES'],
    ...applications.map((a) => [a.displayName, a.clientId, a.tenantId, a.createdAt, a.roles.join(' ')]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}
