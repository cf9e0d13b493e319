// http/tick-shape.ts: after `portrait serve` has started and answered requests, the
// property definitions in process.nextTick's object literal are still monomorphic, as
// in a bare node:http server. Without the tick object it keeps, they turn megamorphic at
// the first connection (the weakly held map is collected during startup), and every
// response then pays 3–4 µs in V8's runtime. Read from V8 itself (%DebugPrint).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { PORTRAIT_CLI } from './helpers/server-process.js';

const PRINTER = fileURLToPath(new URL('./helpers/print-tick-feedback.js', import.meta.url));
const SERVING = /Portrait is serving Microsoft Graph photos at (http:\/\/\S+?)\/v1\.0/;
/** "slot #52 DefineKeyedOwnPropertyInLiteral MEGAMORPHIC" */
const LITERAL_SLOT = /slot #\d+ DefineKeyedOwnPropertyInLiteral (\w+)/g;

const folder = mkdtempSync(join(tmpdir(), 'portrait-tick-shape-'));
after(() => rmSync(folder, { recursive: true, force: true }));

/** Polls the file until `pattern` is in it. */
async function waitFor(file: string, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await delay(20)) {
    const match = pattern.exec(readFileSync(file, 'utf8'));
    if (match) return match;
  }
  throw new Error(`no ${what} within 20 s:\n${readFileSync(file, 'utf8').slice(-4000)}`);
}

it("keeps nextTick's object literal monomorphic in a serving process", async () => {
  // V8 prints through C's stdout, which can lose what it writes to a non-blocking pipe:
  // the server writes to a file instead.
  const outputFile = join(folder, 'output.txt');
  const output = openSync(outputFile, 'w');
  const args = ['--allow-natives-syntax', '--import', PRINTER, PORTRAIT_CLI, 'serve', '--data', join(folder, 'data')];
  args.push('--host', '127.0.0.1', '--port', '0', '--no-tls', '--log-level', 'silent');
  const child = spawn(process.execPath, args, { stdio: ['ignore', output, output] });
  closeSync(output);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const origin = (await waitFor(outputFile, SERVING, 'URL'))[1];
    // Enough responses (five or so ticks each) for nextTick to have its feedback.
    for (let i = 0; i < 200; i++) {
      const response = await fetch(`${origin}/`);
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    }
    child.kill('SIGUSR2');
    await waitFor(outputFile, /tick feedback printed/, 'feedback');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const text = readFileSync(outputFile, 'utf8');
  const states = [...text.matchAll(LITERAL_SLOT)].map((match) => match[1]);
  // { [async_id_symbol], [trigger_async_id_symbol], callback, args }: one slot each, and
  // one more on Node.js 24 ([async_context_frame]).
  assert.ok(states.length >= 4, `nextTick's literal slots not found in:\n${text.slice(-4000)}`);
  assert.deepEqual(states, states.map(() => 'MONOMORPHIC'));
});
