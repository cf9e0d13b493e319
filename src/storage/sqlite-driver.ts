// The SQLite driver: better-sqlite3, in the build that is safe on the running Node.js.
//
// better-sqlite3 12 wraps its objects with V8's node::ObjectWrap. On Node.js 24 the
// destructor of such a wrap aborts the process ("Assertion failed: (env) != nullptr" in
// RemoveEnvironmentCleanupHook) when a statement is collected outside an environment: at
// every exit, and during some collections while serving. 13 is built on Node-API and
// ships prebuilt binaries, but needs Node.js 22 (on 20 it crashes). Both are optional
// dependencies (13 under the alias better-sqlite3-napi, which npm skips on Node.js 20 for
// its engines field, so 20 installs with no engine warning; 12 is compiled at install, and
// a machine on 22 or 24 without a compiler still installs) and the
// one for this Node.js is loaded; the other is never touched. Their APIs are the same.
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The package loaded on this Node.js: Node-API 13 from 22 on, 12 on 20. */
export const SQLITE_DRIVER = NODE_MAJOR >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

function load(): typeof BetterSqlite3 {
  try {
    return createRequire(import.meta.url)(SQLITE_DRIVER) as typeof BetterSqlite3;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_DLOPEN_FAILED') throw error;
    throw new Error(
      `${SQLITE_DRIVER} could not be loaded on Node.js ${process.versions.node} (${String(code)}): ` +
        (NODE_MAJOR >= 22 ? 'run npm install again with this Node.js' : 'it is compiled at npm install and needs python3, make and a C++ compiler'),
      { cause: error },
    );
  }
}

const Database = load();
export default Database;
