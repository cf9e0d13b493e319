// `portrait token`: prints one access token from the built-in issuer, and nothing
// else on stdout, so that `TOKEN=$(npx portrait token --user …)` just works.
import { resolve } from 'node:path';
import { issueToken, loadOrCreateIssuerKey, type TokenSubject } from '../auth/built-in-issuer.js';
import { checkPermissionNames, unknownNameMessage, type PermissionKind } from '../auth/permission-names.js';
import { DEFAULT_USER_SCOPES } from '../auth/permissions.js';
import { parseFlagsWithEnvironment, UsageError, type Environment, type FlagTable } from '../config.js';
import { Directory } from '../directory/directory.js';
import { GUID_PATTERN, idFromName } from '../directory/ids.js';
import { userPrincipalNameProblem } from '../directory/user-principal-name.js';
import { storeLocation } from '../storage/open-store.js';
import type { CommandHelp } from './command-help.js';
import { openInstallation } from './data-folder.js';

const OPTIONS = {
  data: { type: 'string', value: 'DIR', description: 'the data folder serve uses: its issuer key signs the token (default ./data)' },
  database: { type: 'string', value: 'FILE|postgres://…', description: 'the database serve uses (default DIR/portrait.db)' },
  tenant: { type: 'string', value: 'ID', description: 'the token\'s tid, a GUID (default: the data folder\'s default tenant)' },
  user: { type: 'string', value: 'UPN', description: 'a delegated token for this user, created in the directory when new' },
  scopes: { type: 'string', value: '"SCOPE …"', description: `with --user: its delegated permissions (default "${DEFAULT_USER_SCOPES.join(' ')}")` },
  admin: { type: 'boolean', description: 'with --user: the Global Administrator role (in wids)' },
  app: { type: 'string', value: 'NAME', description: 'an application token with this name' },
  roles: { type: 'string', value: '"ROLE …"', description: 'with --app: its application permissions' },
  ttl: { type: 'string', value: 'DURATION', description: 'how long it lasts: 90s, 30m, 1h or 7d, at most 30d (default 1h)' },
} as const satisfies FlagTable;

export const TOKEN_HELP: CommandHelp = {
  usage: [
    'portrait token [--data DIR] [--tenant ID] --user UPN [--scopes "User.ReadWrite …"] [--admin] [--ttl 1h]',
    'portrait token [--data DIR] [--tenant ID] --app NAME --roles "User.ReadWrite.All …" [--ttl 1h]',
  ],
  summary:
    'Prints one access token from the built-in issuer, and nothing else, so that TOKEN=$(portrait token …) works. ' +
    'The data folder must be the one serve uses: one that holds no Portrait data is refused.',
  flags: OPTIONS,
  environment: ['data', 'database'],
};

export async function token(argv: readonly string[], env: Environment = {}): Promise<string> {
  const { values, positionals } = parseFlagsWithEnvironment(argv, OPTIONS, env, ['data', 'database']);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (Boolean(values.user) === Boolean(values.app)) throw new UsageError('give exactly one of --user UPN or --app NAME');
  if (values.app && (values.scopes || values.admin)) throw new UsageError(`${values.scopes ? '--scopes' : '--admin'} is for --user tokens; apps have --roles`);
  if (values.user && values.roles) throw new UsageError('--roles is for --app tokens; users have --scopes');
  if (values.app && !values.roles) throw new UsageError('--app needs --roles "User.ReadWrite.All …"');
  if (values.tenant !== undefined && !GUID_PATTERN.test(values.tenant)) throw new UsageError(`--tenant must be a GUID, got '${values.tenant}'`);
  // 'portrait': an existing guest (…#EXT#@….portrait.localhost) may be named; only creating one is refused below.
  const userProblem = values.user === undefined ? undefined : userPrincipalNameProblem(values.user, 'portrait');
  if (userProblem !== undefined) throw new UsageError(`--user must be a userPrincipalName like alice@contoso.com: ${userProblem}`);
  const ttlSeconds = parseTtl(values.ttl ?? '1h');
  const scopes = values.scopes === undefined ? DEFAULT_USER_SCOPES : permissionsFlag('--scopes', values.scopes, 'scope');
  const roles = values.roles === undefined ? [] : permissionsFlag('--roles', values.roles, 'role');

  const dataDir = resolve(values.data ?? 'data');
  const { store, tenantId: defaultTenantId } = await openInstallation(dataDir, storeLocation(values.database, dataDir, 2), { issuerKey: true });
  try {
    const tenantId = values.tenant?.toLowerCase() ?? defaultTenantId;
    let subject: TokenSubject;
    if (values.user) {
      const directory = new Directory(store, { autoProvisionUsers: true });
      const upn = values.user;
      const existing = await store.getUserByUpn(tenantId, upn);
      const newUserProblem = existing ? undefined : userPrincipalNameProblem(upn);
      if (newUserProblem !== undefined) throw new UsageError(`--user names no user, and cannot make one: ${newUserProblem}`);
      const user = existing ?? (await directory.createUser(tenantId, { userPrincipalName: upn, displayName: upn.split('@')[0] ?? upn }));
      subject = {
        kind: 'user',
        userId: user.id,
        userPrincipalName: user.userPrincipalName,
        displayName: user.displayName,
        scopes,
        admin: values.admin ?? false,
      };
    } else {
      const name = values.app as string;
      subject = { kind: 'app', appId: idFromName(tenantId, 'app', name), name, roles };
    }
    return await issueToken(loadOrCreateIssuerKey(dataDir), { tenantId, subject, ttlSeconds });
  } finally {
    await store.close();
  }
}

/** Known permission names, as Graph spells them; a typo is refused with the closest name. */
function permissionsFlag(flag: string, text: string, kind: PermissionKind): readonly string[] {
  const names = text.split(/[\s,]+/).filter((w) => w !== '');
  if (names.length === 0) throw new UsageError(`${flag} must name at least one permission`);
  const checked = checkPermissionNames(names, kind);
  if (!checked.ok) throw new UsageError(unknownNameMessage(checked, kind, flag));
  return checked.names;
}

/** 90s, 30m, 1h, 7d — at most 30 days. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match?.[2] ?? ''] ?? 1;
  const seconds = match ? Number(match[1]) * unit : NaN;
  if (!(seconds >= 1 && seconds <= 30 * 86400)) throw new UsageError(`--ttl must be like 90s, 30m, 1h or 7d (at most 30d), got '${text}'`);
  return seconds;
}
