// `node dist/bench/token-flood.js [seconds]`: how long a 2.1 MB phone photo takes to
// upload (PUT …/photo/$value, one at a time) while a flood of wrong client secrets
// hits the token endpoint — from one address, then from many (127.x.y.z, each a new
// connection) — against the same uploads with no flood. The defect it measures:
// every wrong secret was a 32 MiB scrypt on the libuv pool that sharp decodes on.
// The control floods send an unknown client id instead, which is never hashed: what
// answering that many requests costs by itself on this machine.
// Not a section of `npm run bench`; a server of its own, gone when it exits.
//
// The flood runs in a child process (`token-flood.js flood …`), so the client's
// event loop is not the one timing the uploads.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, runChild, startChild } from './children.js';
import { expectStatus } from './http.js';
import { PHONE_PHOTO } from './images.js';
import { machineIsBusy } from './machine.js';
import { startPortrait, userToken } from './servers.js';

const SELF = fileURLToPath(import.meta.url);
const PORTRAIT_CLI = fileURLToPath(new URL('../src/cli/portrait.js', import.meta.url));
const FLOOD_CONNECTIONS = 32;

interface FloodReport {
  readonly requests: number;
  readonly seconds: number;
  readonly statuses: Record<string, number>;
  readonly errors: number;
}

if (process.argv[2] === 'flood') {
  const [url, body, connections, seconds, addresses] = process.argv.slice(3);
  const report = await flood(String(url), String(body), Number(connections), Number(seconds), addresses === 'many');
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  process.once('exit', killAll);
  await main(Number(process.argv[2] ?? 30));
}

async function main(floodSeconds: number): Promise<void> {
  const log = (message: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  if (machineIsBusy()) log('the machine is busy (see the load average): the numbers will be noisy');
  const dataDir = mkdtempSync(join(tmpdir(), 'portrait-token-flood-'));
  try {
    // app add refuses a folder with no Portrait data: set it up as serve's first start would.
    await runChild(process.execPath, [PORTRAIT_CLI, 'init', '--data', dataDir]);
    const added = await runChild(process.execPath, [PORTRAIT_CLI, 'app', 'add', 'Flooded', '--data', dataDir, '--roles', 'User.ReadWrite.All']);
    const tenantId = /AZURE_TENANT_ID=(\S+)/.exec(added)?.[1];
    const clientId = /AZURE_CLIENT_ID=(\S+)/.exec(added)?.[1];
    if (tenantId === undefined || clientId === undefined) throw new Error(`app add printed no ids:\n${added}`);
    const portrait = await startPortrait({ dataDir, tls: false });
    try {
      const { token } = await userToken(dataDir, 'bench@contoso.com');
      const photo = readFileSync(PHONE_PHOTO);
      const upload = async () => {
        const started = performance.now();
        await expectStatus(200, `${portrait.origin}/v1.0/me/photo/$value`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' },
          body: photo,
          timeoutMs: 600_000,
        });
        return performance.now() - started;
      };
      await upload(); // warm-up
      const quiet: number[] = [];
      for (let i = 0; i < 5; i++) quiet.push(await upload());
      log(`no flood: ${describe(quiet)}`);

      const tokenUrl = `${portrait.origin}/${tenantId}/oauth2/v2.0/token`;
      const formFor = (id: string) =>
        new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: 'not-the-secret', scope: 'https://graph.microsoft.com/.default' });
      const form = formFor(clientId);
      const floods = [
        { addresses: 'one', form, label: 'wrong secrets from one address' },
        { addresses: 'many', form, label: 'wrong secrets from many addresses' },
        { addresses: 'one', form: formFor(randomUUID()), label: 'control, an unknown client id (no hash) from one address' },
        { addresses: 'many', form: formFor(randomUUID()), label: 'control, an unknown client id (no hash) from many addresses' },
      ] as const;
      for (const { addresses, form, label } of floods) {
        const child = startChild(process.execPath, [SELF, 'flood', tokenUrl, form.toString(), String(FLOOD_CONNECTIONS), String(floodSeconds), addresses]);
        const started = performance.now();
        // Let the flood fill whatever queue it fills before the first upload.
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const flooded: number[] = [];
        do flooded.push(await upload());
        while (performance.now() - started < (floodSeconds - 2) * 1000 && child.alive());
        const exit = await child.exited;
        if (exit.code !== 0) throw new Error(`the flood failed:\n${child.output()}`);
        const report = JSON.parse(child.stdout()) as FloodReport;
        const statuses = Object.entries(report.statuses).map(([status, count]) => `${count}× ${status}`).join(', ');
        log(
          `flood of ${label} (${FLOOD_CONNECTIONS} connections, ` +
            `${(report.requests / report.seconds).toFixed(0)} token requests/s: ${statuses}${report.errors ? `, ${report.errors} errors` : ''}): ${describe(flooded)}`,
        );
      }
    } finally {
      await portrait.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function describe(ms: readonly number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `${ms.length} uploads, median ${median.toFixed(0)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(0)} ms`;
}

/** `connections` loops of POSTs for `seconds`; from 127.0.0.1 on kept-alive sockets, or each from a new 127.x.y.z. */
async function flood(url: string, body: string, connections: number, seconds: number, many: boolean): Promise<FloodReport> {
  const target = new URL(url);
  const agent = many ? undefined : new http.Agent({ keepAlive: true, maxSockets: connections });
  const statuses: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const localAddress = many ? `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}` : undefined;
      const req = http.request(
        target,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) },
          ...(agent ? { agent } : { agent: false }),
          ...(localAddress && { localAddress }),
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            requests++;
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) await one();
    }),
  );
  agent?.destroy();
  return { requests, seconds: (performance.now() - started) / 1000, statuses, errors };
}
