#!/usr/bin/env node
// The `portrait` command: serve | token | import | migrate-store | backup. The only place that exits.
import { UsageError } from '../config.js';
import { ImportError } from '../directory/import-document.js';
import { StoreCopyError } from '../storage/store-copy.js';
import { backup, BackupError } from './backup.js';
import { importCommand } from './import.js';
import { migrateStore } from './migrate-store.js';
import { serve } from './serve.js';
import { token } from './token.js';

const USAGE = `usage: portrait serve [--data DIR] [--host H] [--port P] [--tls-cert FILE --tls-key FILE | --no-tls] [--database FILE]
       portrait token [--data DIR] [--tenant ID] (--user UPN [--scopes "User.ReadWrite …"] [--admin] | --app NAME --roles "User.ReadWrite.All …") [--ttl 1h]
       portrait import FILE.json [--data DIR] [--tenant ID]
       portrait migrate-store --from FILE|postgres://… --to FILE|postgres://… [--force] [--progress]
       portrait backup --to FILE [--data DIR | --database FILE] [--force] [--progress]`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await serve(rest);
      return 0;
    case 'token':
      process.stdout.write(`${await token(rest)}\n`);
      return 0;
    case 'import': {
      const counts = await importCommand(rest);
      process.stdout.write(`imported: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged\n`);
      return 0;
    }
    case 'migrate-store':
      process.stdout.write(`${await migrateStore(rest)}\n`);
      return 0;
    case 'backup':
      process.stdout.write(`${await backup(rest)}\n`);
      return 0;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      throw new UsageError(command === undefined ? 'missing command: serve, token, import, migrate-store or backup' : `unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`portrait: ${error.message}\n`);
      process.exit(2);
    }
    if (error instanceof ImportError) {
      process.stderr.write(`portrait import: ${error.message}\n`);
      process.exit(1);
    }
    if (error instanceof StoreCopyError) {
      process.stderr.write(`portrait migrate-store: ${error.message}\n`);
      process.exit(1);
    }
    if (error instanceof BackupError) {
      process.stderr.write(`portrait backup: ${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`portrait: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
