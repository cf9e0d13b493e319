// `portrait COMMAND --help`: made from the command's own flag table (config.ts FlagTable),
// so that help cannot leave a flag out or describe one the command no longer takes.
import { envName, type FlagTable } from '../config.js';

export interface CommandHelp {
  /** The usage lines, without the leading "usage: ". */
  readonly usage: readonly string[];
  /** One sentence: what the command does. */
  readonly summary: string;
  readonly flags: FlagTable;
  /** Which flags may also come from PORTRAIT_* variables. */
  readonly environment?: 'all' | readonly string[];
  /** Lines after the flags: defaults worth knowing, exit statuses. */
  readonly notes?: readonly string[];
}

/** Exit statuses every command shares (README, "Exit statuses"). */
export const EXIT_STATUS_NOTE = 'Exit status: 0 done, 1 the command failed, 2 a bad flag, argument or variable, 3 the database cannot be opened or reached.';

export function renderHelp(help: CommandHelp): string {
  const lines = help.usage.map((line, i) => `${i === 0 ? 'usage: ' : '       '}${line}`);
  lines.push('', help.summary, '');
  const rows = Object.entries(help.flags).map(([name, spec]) => {
    const flag = `--${name}${spec.value === undefined ? '' : ` ${spec.value}`}`;
    const variable = help.environment === 'all' || help.environment?.includes(name) ? `  [${envName(name)}]` : '';
    return [flag, `${spec.description}${variable}`] as const;
  });
  rows.push(['--help', 'print this help and exit']);
  const width = Math.min(32, Math.max(...rows.map(([flag]) => flag.length)));
  lines.push('Flags:');
  for (const [flag, description] of rows) {
    lines.push(flag.length > width ? `  ${flag}\n  ${' '.repeat(width)}  ${description}` : `  ${flag.padEnd(width)}  ${description}`);
  }
  if (help.environment !== undefined) {
    lines.push('', 'A flag in [brackets] may also come from that environment variable; the flag wins. Booleans: 1, true, 0 or false; repeatable flags: a list separated by commas or spaces.');
  }
  lines.push('', ...(help.notes ?? []), EXIT_STATUS_NOTE);
  return lines.join('\n');
}
