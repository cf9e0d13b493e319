// Permission names an operator types (`portrait app add --roles`, `portrait token
// --scopes/--roles`), checked against the names the permission table knows: a typo
// would otherwise make an application or a token that every request refuses with 403,
// far from the mistake. Compared case-insensitively, as the permission check itself does
// (permissions.ts), and returned as Graph spells them.
import { APPLICATION_PERMISSIONS, DELEGATED_PERMISSIONS } from './permissions.js';

export type PermissionKind = 'role' | 'scope';

export type NameCheck =
  | { readonly ok: true; readonly names: readonly string[] }
  /** `closest`: the known name fewest edits away, for "did you mean". */
  | { readonly ok: false; readonly unknown: string; readonly closest: string };

/** Roles are application permissions; scopes are delegated ones. */
function knownPermissions(kind: PermissionKind): readonly string[] {
  return kind === 'role' ? APPLICATION_NAMES : DELEGATED_NAMES;
}

/** Application permissions checked outside the table: GET /metrics's (http/metrics-route.ts, METRICS_PERMISSION). */
const OUTSIDE_THE_TABLE = ['Reports.Read.All'];
const APPLICATION_NAMES: readonly string[] = [...new Set([...APPLICATION_PERMISSIONS, ...OUTSIDE_THE_TABLE])].sort();

/** Sorted, so that a tie in "did you mean" goes the same way every time. */
const DELEGATED_NAMES: readonly string[] = [...DELEGATED_PERMISSIONS].sort();

/** The names as Graph spells them, in the order given, each once; or the first unknown one. */
export function checkPermissionNames(names: readonly string[], kind: PermissionKind): NameCheck {
  const known = knownPermissions(kind);
  const byLowerCase = new Map(known.map((name) => [name.toLowerCase(), name]));
  const checked: string[] = [];
  for (const name of names) {
    const canonical = byLowerCase.get(name.toLowerCase());
    if (canonical === undefined) return { ok: false, unknown: name, closest: closestName(name, known) };
    if (!checked.includes(canonical)) checked.push(canonical);
  }
  return { ok: true, names: checked };
}

/** "unknown role 'User.ReadWrite.Al' in --roles; did you mean 'User.ReadWrite.All'?" — the name cut to 64 characters. */
export function unknownNameMessage(check: { readonly unknown: string; readonly closest: string }, kind: PermissionKind, flag: string): string {
  const shown = check.unknown.length > 64 ? `${check.unknown.slice(0, 64)}…` : check.unknown;
  return `unknown ${kind} '${shown}' in ${flag}; did you mean '${check.closest}'?`;
}

/** The known name with the smallest case-insensitive edit distance; the first such in sort order on a tie. */
function closestName(name: string, known: readonly string[]): string {
  // Long input is cut: the suggestion only has to be close, and the distance costs length².
  const typed = name.slice(0, 64).toLowerCase();
  let best = known[0] ?? '';
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(typed, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
