// Drops one scratch database, as a process of its own:
// `node dist/bench/drop-database-process.js <server URL> <name>`. The bench's exit
// handler runs it synchronously (postgres.ts), when its own event loop is done.
import { admin } from './postgres.js';

const [serverUrl, name] = process.argv.slice(2);
// Only the bench's own scratch databases, whatever the arguments say.
if (serverUrl === undefined || name === undefined || !/^portrait_bench_[0-9a-f]+$/.test(name)) {
  process.stderr.write('usage: drop-database-process.js <server URL> portrait_bench_<hex>\n');
  process.exit(2);
}
await admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
