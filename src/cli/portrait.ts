#!/usr/bin/env node
// The `portrait` command: serve | token | app | import | migrate-store | backup. The only place that exits.
// Each command is imported when it runs: `token` need not load sharp, Fastify and pg.
import { UsageError } from '../config.js';

/** A command's own failure (not a usage error): its one-line message, exit 1. */
const COMMAND_ERRORS: Record<string, string> = {
  ImportError: 'import',
  StoreCopyError: 'migrate-store',
  BackupError: 'backup',
  ListenError: 'serve',
};

const USAGE = `usage: portrait serve [--data DIR] [--host H] [--port P] [--tls-cert FILE --tls-key FILE | --no-tls] [--database FILE]
       portrait token [--data DIR] [--tenant ID] (--user UPN [--scopes "User.ReadWrite …"] [--admin] | --app NAME --roles "User.ReadWrite.All …") [--ttl 1h]
       portrait app add NAME --roles "User.ReadWrite.All …" [--data DIR] [--database URL] [--tenant ID]
       portrait import FILE.json [--data DIR] [--tenant ID]
       portrait migrate-store --from FILE|postgres://… --to FILE|postgres://… [--force] [--progress]
       portrait backup --to FILE [--data DIR | --database FILE] [--force] [--progress]`;

async function main(argv: readonly string[]): Promise<number> {
  // Whatever the shell's umask, files made here are the user's alone: this also covers what
  // SQLite creates on its own. Portrait's own files set 0600 explicitly too (private-files.ts).
  process.umask(0o077);
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await (await import('./serve.js')).serve(rest);
      return 0;
    case 'token':
      process.stdout.write(`${await (await import('./token.js')).token(rest)}\n`);
      return 0;
    case 'app':
      process.stdout.write(`${await (await import('./app.js')).app(rest)}\n`);
      return 0;
    case 'import': {
      const counts = await (await import('./import.js')).importCommand(rest);
      process.stdout.write(`imported: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged\n`);
      return 0;
    }
    case 'migrate-store':
      process.stdout.write(`${await (await import('./migrate-store.js')).migrateStore(rest)}\n`);
      return 0;
    case 'backup':
      process.stdout.write(`${await (await import('./backup.js')).backup(rest)}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      throw new UsageError(command === undefined ? 'missing command: serve, token, app, import, migrate-store or backup' : `unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`portrait: ${error.message}\n`);
      process.exit(2);
    }
    const command = error instanceof Error ? COMMAND_ERRORS[error.name] : undefined;
    if (command !== undefined) {
      process.stderr.write(`portrait ${command}: ${(error as Error).message}\n`);
      process.exit(1);
    }
    process.stderr.write(`portrait: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
