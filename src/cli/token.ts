// `portrait token`: prints one access token from the built-in issuer, and nothing
// else on stdout, so that `TOKEN=$(npx portrait token --user …)` just works.
import { resolve } from 'node:path';
import { issueToken, loadOrCreateIssuerKey, type TokenSubject } from '../auth/built-in-issuer.js';
import { DEFAULT_USER_SCOPES } from '../auth/permissions.js';
import { parseFlags, UsageError } from '../config.js';
import { Directory } from '../directory/directory.js';
import { GUID_PATTERN, idFromName } from '../directory/ids.js';
import { userPrincipalNameProblem } from '../directory/user-principal-name.js';
import { openStore, storeLocation } from '../storage/open-store.js';
import { defaultTenant, ensureDataFolder } from './data-folder.js';

const OPTIONS = {
  data: { type: 'string' },
  tenant: { type: 'string' },
  user: { type: 'string' },
  scopes: { type: 'string' },
  admin: { type: 'boolean' },
  app: { type: 'string' },
  roles: { type: 'string' },
  ttl: { type: 'string' },
  database: { type: 'string' },
} as const;

export async function token(argv: readonly string[]): Promise<string> {
  const { values, positionals } = parseFlags(argv, OPTIONS);
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

  const dataDir = resolve(values.data ?? 'data');
  ensureDataFolder(dataDir);
  const store = await openStore(storeLocation(values.database, dataDir, 2));
  try {
    const tenantId = values.tenant?.toLowerCase() ?? (await defaultTenant(store));
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
        scopes: values.scopes ? words(values.scopes) : DEFAULT_USER_SCOPES,
        admin: values.admin ?? false,
      };
    } else {
      const name = values.app as string;
      subject = { kind: 'app', appId: idFromName(tenantId, 'app', name), name, roles: words(values.roles as string) };
    }
    return await issueToken(loadOrCreateIssuerKey(dataDir), { tenantId, subject, ttlSeconds });
  } finally {
    await store.close();
  }
}

function words(text: string): string[] {
  return text.split(/[\s,]+/).filter((w) => w !== '');
}

/** 90s, 30m, 1h, 7d — at most 30 days. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match?.[2] ?? ''] ?? 1;
  const seconds = match ? Number(match[1]) * unit : NaN;
  if (!(seconds >= 1 && seconds <= 30 * 86400)) throw new UsageError(`--ttl must be like 90s, 30m, 1h or 7d (at most 30d), got '${text}'`);
  return seconds;
}
