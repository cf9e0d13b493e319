#!/usr/bin/env node
// The `portrait` command: serve | init | token | app | import | import-photos | export-photos | migrate-store | backup. The only
// place that exits, and the only one that reads process.env (handed to each command).
// Each command is imported when it runs: `token` need not load sharp, Fastify and pg.
//
// Every failure is one line on stderr and an exit status the README lists ("Exit statuses"):
// 0 done, 1 the command failed, 2 a bad flag, argument or variable, 3 the database cannot be
// opened or reached. Never a stack: an error nobody expected says where it came from in one line.
import { readFileSync } from 'node:fs';
import { UsageError, type Environment } from '../config.js';
import { renderHelp, type CommandHelp } from './command-help.js';

/** Exit statuses of the errors commands throw on purpose; anything else is 1. */
const EXIT_STATUS: Record<string, number> = {
  UsageError: 2,
  StoreLocationError: 2,
  StoreUnavailableError: 3,
  ImportError: 1,
  StoreCopyError: 1,
  BackupError: 1,
  ListenError: 1,
  ServeError: 1,
  DataFolderError: 1,
  ApplicationNotFoundError: 1,
  PhotosFailedError: 1,
};

interface Command {
  /** One line for `portrait --help`. */
  readonly summary: string;
  readonly help: () => Promise<CommandHelp>;
  /** Runs the command; resolves to what it prints on stdout, if anything. */
  readonly run: (argv: readonly string[], env: Environment) => Promise<string | undefined>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    summary: 'serve the Graph photo API',
    help: async () => (await import('./serve.js')).SERVE_HELP,
    run: async (argv, env) => {
      await (await import('./serve.js')).serve(argv, env);
      return undefined;
    },
  },
  init: {
    summary: 'set up a data folder and database without serving',
    help: async () => (await import('./init.js')).INIT_HELP,
    run: async (argv, env) => (await import('./init.js')).init(argv, env),
  },
  token: {
    summary: 'print an access token from the built-in issuer',
    help: async () => (await import('./token.js')).TOKEN_HELP,
    run: async (argv, env) => (await import('./token.js')).token(argv, env),
  },
  app: {
    summary: 'add, list, remove applications, or rotate their secrets',
    help: async () => (await import('./app.js')).APP_HELP,
    run: async (argv, env) => (await import('./app.js')).app(argv, env),
  },
  import: {
    summary: 'load users, groups, contacts and invitations from JSON',
    help: async () => (await import('./import.js')).IMPORT_HELP,
    run: async (argv, env) => {
      const counts = await (await import('./import.js')).importCommand(argv, env);
      return `imported: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged`;
    },
  },
  'import-photos': {
    summary: 'set many photos at once from a folder or a CSV',
    help: async () => (await import('./import-photos.js')).IMPORT_PHOTOS_HELP,
    run: async (argv, env) => (await import('./import-photos.js')).importPhotosCommand(argv, env),
  },
  'export-photos': {
    summary: "write every user's and group's photo into a folder",
    help: async () => (await import('./export-photos.js')).EXPORT_PHOTOS_HELP,
    run: async (argv, env) => (await import('./export-photos.js')).exportPhotosCommand(argv, env),
  },
  'migrate-store': {
    summary: 'copy an installation between SQLite and PostgreSQL',
    help: async () => (await import('./migrate-store.js')).MIGRATE_STORE_HELP,
    run: async (argv) => (await import('./migrate-store.js')).migrateStore(argv),
  },
  backup: {
    summary: 'back up the SQLite database while serving',
    help: async () => (await import('./backup.js')).BACKUP_HELP,
    run: async (argv, env) => (await import('./backup.js')).backup(argv, env),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'usage: portrait COMMAND [flags…]',
    '',
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    '',
    "Run 'portrait COMMAND --help' for a command's flags, 'portrait --version' for the version.",
  ].join('\n');
}

function version(): string {
  // dist/src/cli/portrait.js → the package's own package.json, which npm always installs.
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return `portrait ${String(manifest.version)}`;
}

/** --help or -h before any `--` asks for help instead of running the command. */
function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

async function main(argv: readonly string[], env: Environment): Promise<string | undefined> {
  // Whatever the shell's umask, files made here are the user's alone: this also covers what
  // SQLite creates on its own. Portrait's own files set 0600 explicitly too (private-files.ts).
  process.umask(0o077);
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') return version();
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    return topic === undefined ? usage() : renderHelp(await topic.help());
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) {
    throw new UsageError(name === undefined ? `missing command: ${Object.keys(COMMANDS).join(', ')} (portrait --help)` : `unknown command '${name}' (portrait --help lists them)`);
  }
  if (asksForHelp(rest)) return renderHelp(await command.help());
  return command.run(rest, env);
}

/** One line whatever the error: its message, or for one nobody expected, where it was thrown. */
function oneLine(error: unknown): string {
  if (!(error instanceof Error)) return `unexpected failure: ${String(error).split('\n')[0]}`;
  const message = error.message.split('\n')[0] ?? '';
  if (EXIT_STATUS[error.name] !== undefined) return message;
  const where = error.stack?.split('\n').find((line) => /^\s+at /.test(line))?.trim();
  return `unexpected ${error.name}: ${message}${where === undefined ? '' : ` (${where}; please report it)`}`;
}

const [command] = process.argv.slice(2);
main(process.argv.slice(2), process.env).then(
  (output) => {
    if (output !== undefined) process.stdout.write(`${output}\n`);
    process.exit(0);
  },
  (error: unknown) => {
    const name = error instanceof Error ? error.name : '';
    const status = EXIT_STATUS[name] ?? 1;
    // A usage error names no command (it may be the command that is wrong); the others say whose failure it is.
    const prefix = status === 2 || command === undefined || COMMANDS[command] === undefined ? 'portrait' : `portrait ${command}`;
    process.stderr.write(`${prefix}: ${oneLine(error)}\n`);
    process.exit(status);
  },
);
