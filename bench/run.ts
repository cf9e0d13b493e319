// `npm run bench [-- read|upload|memory|scale|nodes …]`: runs the sections asked for
// (all by default) against real processes and prints one Markdown table with
// the machine above it. Progress goes to stderr, the table to stdout. Every
// process, temporary folder and scratch database is gone when it exits, however
// it exits.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll } from './children.js';
import type { BenchContext } from './context.js';
import { loadDriver } from './load.js';
import { describeMachine, machineIsBusy } from './machine.js';
import { benchMemory } from './memory.js';
import { benchNodes } from './nodes.js';
import { dropScratchDatabases } from './postgres.js';
import { benchRead } from './read.js';
import { benchScale } from './scale.js';
import { loadSettings, SECTIONS, SettingsError, type Section } from './settings.js';
import { markdownTable, type Row } from './table.js';
import { benchUpload } from './upload.js';

const SECTION_RUNNERS: Record<Section, (context: BenchContext) => Promise<Row[]>> = {
  read: benchRead,
  upload: benchUpload,
  memory: benchMemory,
  scale: benchScale,
  nodes: benchNodes,
};

async function main(): Promise<number> {
  const settings = loadSettings(process.argv.slice(2), process.env);
  const machine = describeMachine(settings, process.env); // before the load average is ours
  const root = mkdtempSync(join(tmpdir(), 'portrait-bench-'));
  // nginx's workers run as another user (nobody) when the bench runs as root: let them through.
  chmodSync(root, 0o711);
  const cleanUp = () => {
    killAll();
    dropScratchDatabases();
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}, stopping\n`);
      process.exit(130);
    });
  }

  const log = (message: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  const context: BenchContext = {
    settings,
    load: loadDriver({ generator: settings.readLoad, wrk: settings.wrk, workDir: root }),
    folder(name) {
      const folder = join(root, name);
      mkdirSync(folder, { recursive: true });
      return folder;
    },
    log,
  };
  if (machineIsBusy()) log('the machine is busy (see the load average): the numbers will be noisy');
  if (!settings.nginx) log('nginx is not installed: its rows are skipped (apt-get install nginx-light wrk)');
  if (settings.readLoad !== 'wrk') log('wrk is not installed: reads are driven by autocannon (apt-get install wrk)');

  const rows: Row[] = [];
  let failed = false;
  for (const section of settings.sections) {
    log(`${section}: starting`);
    const started = performance.now();
    try {
      rows.push(...(await SECTION_RUNNERS[section](context)));
    } catch (error) {
      failed = true;
      const message = error instanceof Error ? error.message : String(error);
      log(`${section} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
      rows.push({ section, figure: '**the section failed**', portrait: message.split('\n')[0] ?? message, reference: '—' });
    }
    log(`${section}: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }

  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  process.stdout.write(
    [
      `### Portrait benchmark, ${date} UTC (\`npm run bench${settings.sections.length === SECTIONS.length ? '' : ` -- ${settings.sections.join(' ')}`}\`)`,
      '',
      ...machine,
      '',
      markdownTable(rows),
      '',
    ].join('\n'),
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof SettingsError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(error instanceof SettingsError ? 2 : 1);
  },
);
