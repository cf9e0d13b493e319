// Two more adversarial memory figures of the "memory" section (issue 9 §2 and §3), each
// on a freshly started server:
// - reads whose query strings and padding are new every time: what a client sends must
//   not become a cache key or a memo, so what the server holds must hardly grow;
// - many connections each sending a 4 MiB $batch with a token that may do nothing: the
//   bytes held for bodies in flight have one global budget, past which a body gets 503.
import { connect } from 'node:net';
import { Agent, request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import type { BenchContext } from './context.js';
import { held } from './collected.js';
import { CAMERA_PHOTO } from './images.js';
import { memoryOf } from './proc.js';
import { startPortrait, userToken } from './servers.js';
import { formatMB, type Row } from './table.js';

const QUERY_READS = 10_000;
/**
 * Reads of the same kind before the first measure. Why: the first thousand such reads
 * grow V8's young generation to their allocation rate (committed heap 34 → 51 MB, RSS
 * +13–17 MB, the heap in use +0.3 MB), once; after them 20,000 more added 2 MB
 * (docs/performance.md, "What clients send"). The row asks what more reads add.
 */
const QUERY_WARM_READS = 1_000;
const QUERY_PAD = 14 * 1024;
const QUERY_CONNECTIONS = 8;
/** "A few MB": what the allocator and the collector keep, not memos (one per URL was 179 MB). */
const QUERY_GROWTH_LIMIT = 16e6;
const BATCH_CONNECTIONS = 300;
const BATCH_BODY = 4 * 1024 * 1024;
const PEAK_LIMIT_BYTES = 400e6;

export async function benchClientFloods(context: BenchContext): Promise<Row[]> {
  return [await queryFlood(context), await batchFlood(context)];
}

async function queryFlood(context: BenchContext): Promise<Row> {
  const dataDir = context.folder('memory-query-flood');
  const portrait = await startPortrait({ dataDir, tls: false, args: [], collectable: true });
  const agent = new Agent({ keepAlive: true, maxSockets: QUERY_CONNECTIONS });
  try {
    const { token } = await userToken(dataDir, 'bench@contoso.com');
    const url = `${portrait.origin}/v1.0/me/photo/$value`;
    const get = (path: string, method = 'GET', body?: Buffer) => send(agent, path, method, token, body);
    if ((await get(url, 'PUT', readFileSync(CAMERA_PHOTO))) !== 200) throw new Error('the photo upload failed');
    const pad = 'x'.repeat(QUERY_PAD);
    const flood = async (name: string, reads: number): Promise<number> => {
      let failed = 0;
      for (let i = 0; i < reads; i += QUERY_CONNECTIONS) {
        const statuses = await Promise.all(
          Array.from({ length: Math.min(QUERY_CONNECTIONS, reads - i) }, (_, j) => get(`${url}?${name}=${i + j}&pad=${pad}`)),
        );
        failed += statuses.filter((status) => status !== 200).length;
      }
      return failed;
    };
    let failed = await flood('warm', QUERY_WARM_READS);
    const before = await portrait.collect();
    failed += await flood('n', QUERY_READS);
    const after = await portrait.collect();
    const growth = held(after) - held(before);
    const detail = `RSS ${formatMB(before.rss)} → ${formatMB(after.rss)}, V8 heap committed ${formatMB(before.heapTotal)} → ${formatMB(after.heapTotal)}, in use ${formatMB(before.heapUsed)} → ${formatMB(after.heapUsed)}`;
    context.log(`memory: ${QUERY_READS} reads with new padded query strings: held ${formatMB(held(before))} → ${formatMB(held(after))} (${detail})`);
    return {
      section: 'memory',
      figure: `growth of what the server holds (RSS less V8's free committed heap, after a full collection) over ${QUERY_READS.toLocaleString('en-US')} reads of /me/photo/$value, each with a new query string of ${QUERY_PAD / 1024} KB, after ${QUERY_WARM_READS.toLocaleString('en-US')} such reads`,
      portrait: `${formatMB(growth)} (${detail})${failed > 0 ? ` · **${failed} not 200**` : ''}`,
      reference: '—',
      target: { text: `≤ ${formatMB(QUERY_GROWTH_LIMIT)}`, met: growth <= QUERY_GROWTH_LIMIT && failed === 0 },
    };
  } finally {
    agent.destroy();
    await portrait.stop();
  }
}

async function batchFlood(context: BenchContext): Promise<Row> {
  const dataDir = context.folder('memory-batch-flood');
  const portrait = await startPortrait({ dataDir, tls: false, args: [] });
  try {
    // A valid token, and no permission that any request in a batch could use.
    const { token } = await userToken(dataDir, 'nobody@contoso.com');
    const { port } = new URL(portrait.origin);
    const idle = memoryOf(portrait.pid).rss;
    const body = Buffer.alloc(BATCH_BODY, 0x20);
    body.write('{"requests":[');
    const head = `POST /v1.0/$batch HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${BATCH_BODY}\r\n\r\n`;
    const statuses = await Promise.all(Array.from({ length: BATCH_CONNECTIONS }, () => rawStatus(Number(port), head, body)));
    const { peak } = memoryOf(portrait.pid);
    const counts = new Map<string, number>();
    for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
    const answered = [...counts].map(([status, n]) => `${n} × ${status}`).join(', ');
    const alive = portrait.child.alive();
    context.log(`memory: ${BATCH_CONNECTIONS} × 4 MiB $batch at once: peak RSS ${formatMB(peak)} (idle ${formatMB(idle)}), ${answered}`);
    return {
      section: 'memory',
      figure: `peak RSS (VmHWM), ${BATCH_CONNECTIONS} connections each sending a 4 MiB $batch at once with a token that may do nothing`,
      portrait: `${formatMB(peak)} (${formatMB(idle)} idle before) · ${answered}${alive ? '' : ' · **server down**'}`,
      reference: '—',
      target: { text: `≤ ${formatMB(PEAK_LIMIT_BYTES)}, the rest 503`, met: peak <= PEAK_LIMIT_BYTES && alive && !counts.has('reset') },
    };
  } finally {
    await portrait.stop();
  }
}

function send(agent: Agent, url: string, method: string, token: string, body?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Sends the request on its own connection; resolves with the status it was answered, or 'reset'. */
function rawStatus(port: number, head: string, body: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      socket.write(body);
    });
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), 60_000);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'reset');
    });
  });
}
