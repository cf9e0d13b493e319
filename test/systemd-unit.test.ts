// contrib/portrait.service, the unit docs/operations.md tells operators to install, is one
// systemd accepts: `systemd-analyze verify` on a copy whose ExecStart names this machine's
// node and this checkout's CLI (verify insists that the binary exists). Skipped only when
// systemd-analyze is not installed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PORTRAIT_CLI } from './helpers/server-process.js';

const UNIT = new URL('../../contrib/portrait.service', import.meta.url);
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

describe('the systemd unit', () => {
  const unit = readFileSync(UNIT, 'utf8');

  it('serves as the docs say: the CLI from /opt/portrait, data in its state folder, hardened', () => {
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1];
    assert.ok(execStart?.startsWith('/usr/bin/node /opt/portrait/dist/src/cli/portrait.js serve --data /var/lib/portrait'), execStart);
    for (const line of ['StateDirectory=portrait', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'ProtectHome=yes', 'KillSignal=SIGTERM']) {
      assert.ok(unit.split('\n').includes(line), `has ${line}`);
    }
  });

  it('passes systemd-analyze verify', { skip: existsSync(SYSTEMD_ANALYZE) ? false : `${SYSTEMD_ANALYZE} is not installed` }, async (t) => {
    const folder = mkdtempSync(join(tmpdir(), 'portrait-unit-'));
    t.after(() => rmSync(folder, { recursive: true, force: true }));
    const path = join(folder, 'portrait.service');
    writeFileSync(path, unit.replace('/usr/bin/node /opt/portrait/dist/src/cli/portrait.js', `${process.execPath} ${PORTRAIT_CLI}`));
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(SYSTEMD_ANALYZE, ['verify', path], { encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      });
    });
    assert.equal(result.code, 0, result.output);
    // verify exits 0 on some warnings: any line naming the unit file is a complaint about it.
    const complaints = result.output.split('\n').filter((line) => line.includes('portrait.service'));
    assert.deepEqual(complaints, [], result.output);
  });
});
