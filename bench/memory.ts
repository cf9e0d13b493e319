// Section "memory": what the server process holds, from /proc. Its peak RSS while
// 16 clients upload ~4 MB photos at once, and while four small files that decode
// huge (issue 9 §3) are uploaded at once; whether what it holds keeps growing over
// many uploads (after half of BENCH_LEAK_UPLOADS against after all of them, each
// after a full collection: collected.ts); and,
// with a tiny upload gate, whether excess uploads get 429 with Retry-After
// rather than the process falling over. Each on a freshly started server.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchClientFloods } from './client-floods.js';
import type { BenchContext } from './context.js';
import { expectStatus, request, type Answer } from './http.js';
import { CAMERA_PHOTO, decodeBombs, twelveMegapixelJpeg, type DecodeBomb } from './images.js';
import { held } from './collected.js';
import { memoryOf } from './proc.js';
import { startPortrait, userToken, type Portrait } from './servers.js';
import { atMost, formatMB, formatRate, ratioOf, type Row } from './table.js';

const PEAK_CLIENTS = 16;
const PEAK_ROUNDS = 3;
const PEAK_LIMIT_BYTES = 400e6;
const LEAK_CONNECTIONS = 4;
const LEAK_GROWTH = 1.1;
/** The gate of the 429 check: one upload at a time and two waiting. */
const GATE = { concurrency: 1, queue: 2 };

interface Server {
  readonly portrait: Portrait;
  readonly url: string;
  readonly headers: Record<string, string>;
}

export async function benchMemory(context: BenchContext): Promise<Row[]> {
  const folder = context.folder('memory-inputs');
  const large = await twelveMegapixelJpeg();
  const largeFile = join(folder, 'twelve-megapixel.jpg');
  writeFileSync(largeFile, large.bytes);
  const size = formatMB(large.bytes.length);
  const ordinary = await peakRss(context, largeFile, size);
  const bombs = await decodeBombs();
  const reference = `${PEAK_CLIENTS} clients uploading ${size} JPEGs: ${formatMB(ordinary.peak)}`;
  const mixed = [...bombs.overBudget, bombs.overBudget[bombs.overBudget.length - 1]!]; // the GIF twice
  const fitting = [bombs.withinBudget, bombs.withinBudget, bombs.withinBudget, bombs.withinBudget];
  return [
    ordinary.row,
    await bombPeak(context, 'memory-bombs', mixed, reference, ordinary.peak),
    await bombPeak(context, 'memory-bombs-fitting', fitting, reference, ordinary.peak),
    ...(await benchClientFloods(context)),
    await leak(context),
    await overload(context, large.bytes, size),
  ];
}

async function withServer<T>(
  context: BenchContext,
  name: string,
  args: readonly string[],
  work: (server: Server) => Promise<T>,
  collectable = false,
): Promise<T> {
  const dataDir = context.folder(name);
  const portrait = await startPortrait({ dataDir, tls: false, args, collectable });
  try {
    const { token } = await userToken(dataDir, 'bench@contoso.com');
    const server = { portrait, url: `${portrait.origin}/v1.0/me/photo/$value`, headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' } };
    return await work(server);
  } finally {
    await portrait.stop();
  }
}

async function peakRss(context: BenchContext, file: string, size: string): Promise<{ row: Row; peak: number }> {
  return withServer(context, 'memory-peak', [], async ({ portrait, url, headers }) => {
    await expectStatus(200, url, { method: 'PUT', headers, body: readFileSync(CAMERA_PHOTO) });
    const idle = memoryOf(portrait.pid);
    const amount = PEAK_CLIENTS * PEAK_ROUNDS;
    const load = await context.load.counted({ url, method: 'PUT', connections: PEAK_CLIENTS, amount, headers, bodyFile: file, timeoutSeconds: 300 });
    const { peak } = memoryOf(portrait.pid); // VmHWM: the kernel's own high-water mark
    context.log(`memory: peak RSS ${formatMB(peak)} (idle ${formatMB(idle.rss)}) over ${load.requests} uploads, ${load.failures} failed`);
    const failed = load.failures > 0 ? ` · **${load.failures} of ${load.requests} failed**` : '';
    const row = {
      section: 'memory',
      figure: `peak RSS (VmHWM) of the server, ${PEAK_CLIENTS} clients uploading ${size} JPEGs at once (${amount} uploads)`,
      portrait: `${formatMB(peak)} (${formatMB(idle.rss)} idle before)${failed}`,
      reference: '—',
      target: { text: `≤ ${formatMB(PEAK_LIMIT_BYTES)}`, met: peak <= PEAK_LIMIT_BYTES && load.failures === 0 },
    };
    return { row, peak };
  });
}

/**
 * Four decode bombs at once, each on its own connection, at the default settings (as
 * many uploads at once as they allow). Whatever the server answers (200, or 400 for
 * what its decode budget can never hold), its peak RSS must stay under the same line
 * as the ordinary uploads', and nothing may be a 5xx.
 */
async function bombPeak(context: BenchContext, name: string, sent: readonly DecodeBomb[], reference: string, ordinaryPeak: number): Promise<Row> {
  return withServer(context, name, [], async ({ portrait, url, headers }) => {
    await expectStatus(200, url, { method: 'PUT', headers, body: readFileSync(CAMERA_PHOTO) });
    const idle = memoryOf(portrait.pid);
    const started = performance.now();
    const answers = await Promise.all(
      sent.map(({ bytes }) =>
        request(url, { method: 'PUT', headers, body: bytes, timeoutMs: 300_000 }).catch((error: unknown) =>
          error instanceof Error ? error : new Error(String(error)),
        ),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const { peak } = memoryOf(portrait.pid);
    const health = await request(`${portrait.origin}/healthz`).catch(() => undefined);
    const alive = portrait.child.alive() && health?.status === 200;
    const outcomes = answers.map((a) => (a instanceof Error ? `**${a.message}**` : a.status === 200 ? '200' : `${a.status} ${errorCode(a)}`));
    const serverErrors = answers.filter((a) => a instanceof Error || a.status >= 500).length;
    const answered = counted(outcomes);
    context.log(`memory: ${sent.length} decode bombs at once: peak RSS ${formatMB(peak)} (idle ${formatMB(idle.rss)}), ${answered} in ${seconds.toFixed(1)} s`);
    const what = counted(sent.map(({ name, bytes }) => `${name} (${Math.round(bytes.length / 1000)} kB)`));
    return {
      section: 'memory',
      figure: `peak RSS (VmHWM) of the server, ${sent.length} decode bombs uploaded at once: ${what}`,
      portrait: `${formatMB(peak)} (${formatMB(idle.rss)} idle before) · ${answered} in ${seconds.toFixed(1)} s${alive ? '' : ' · **server down**'}`,
      reference,
      ratio: ratioOf(peak, ordinaryPeak),
      target: { text: `≤ ${formatMB(PEAK_LIMIT_BYTES)}, no 5xx`, met: peak <= PEAK_LIMIT_BYTES && serverErrors === 0 && alive },
    };
  });
}

/** "2 × a, b": the distinct items in order of first appearance, with their counts. */
function counted(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([item, n]) => (n > 1 ? `${n} × ${item}` : item)).join(', ');
}

/** The Graph error code of an answer, or its status alone. */
function errorCode(answer: Answer): string {
  try {
    return (JSON.parse(answer.body.toString('utf8')) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    return '';
  }
}

async function leak(context: BenchContext): Promise<Row> {
  const total = Math.round(context.settings.leakUploads);
  // Half, not a tenth: after 200 uploads the allocator's arenas (one per libuv thread) had
  // not reached their size, and native memory kept growing to about 2,000 and then levelled
  // off, with V8's heap in use flat: 1.03–1.23× over four runs (docs/performance.md, "What is
  // left"). A leak grows with every upload, so the second half shows it as the first did.
  const early = Math.max(1, Math.round(total / 2));
  return withServer(context, 'memory-leak', [], async ({ portrait, url, headers }) => {
    const spec = { url, method: 'PUT' as const, connections: LEAK_CONNECTIONS, headers, bodyFile: CAMERA_PHOTO, timeoutSeconds: 60 };
    const first = await context.load.counted({ ...spec, amount: early });
    const afterEarly = await portrait.collect();
    const rest = await context.load.counted({ ...spec, amount: total - early });
    const afterAll = await portrait.collect();
    const failures = first.failures + rest.failures;
    const ratio = ratioOf(held(afterAll), held(afterEarly));
    context.log(`memory: held ${formatMB(held(afterEarly))} after ${early} uploads (RSS ${formatMB(afterEarly.rss)}), ${formatMB(held(afterAll))} after ${total} (RSS ${formatMB(afterAll.rss)})`);
    const failed = failures > 0 ? ` · **${failures} failed**` : '';
    return {
      section: 'memory',
      figure: `what the server holds (RSS less V8's free committed heap, after a full collection) after ${total.toLocaleString('en-US')} uploads of a 640×480 photo vs after ${early.toLocaleString('en-US')} (${LEAK_CONNECTIONS} at a time)`,
      portrait: `${formatMB(held(afterAll))} after ${total.toLocaleString('en-US')} (RSS ${formatMB(afterAll.rss)}; ${formatRate(rest.perSecond, 'uploads/s')})${failed}`,
      reference: `${formatMB(held(afterEarly))} after ${early.toLocaleString('en-US')} (RSS ${formatMB(afterEarly.rss)})`,
      ratio,
      target: atMost(ratio, LEAK_GROWTH),
    };
  }, true);
}

async function overload(context: BenchContext, body: Buffer, size: string): Promise<Row> {
  const args = ['--upload-concurrency', String(GATE.concurrency), '--upload-queue', String(GATE.queue)];
  return withServer(context, 'memory-overload', args, async ({ portrait, url, headers }) => {
    // All at once, each on its own connection, as 16 clients would.
    const answers = await Promise.all(
      Array.from({ length: PEAK_CLIENTS }, () =>
        request(url, { method: 'PUT', headers, body, timeoutMs: 300_000 }).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))),
      ),
    );
    const ok = answers.filter((a): a is Answer => !(a instanceof Error) && a.status === 200).length;
    const refused = answers.filter((a): a is Answer => !(a instanceof Error) && a.status === 429);
    const withRetryAfter = refused.filter((a) => /^\d+$/.test(String(a.headers['retry-after']))).length;
    const errors = answers.filter((a) => a instanceof Error) as Error[];
    const other = answers.length - ok - refused.length - errors.length;
    const health = await request(`${portrait.origin}/healthz`).catch(() => undefined);
    const alive = portrait.child.alive() && health?.status === 200;
    context.log(`memory: ${PEAK_CLIENTS} uploads through a gate of ${GATE.concurrency}+${GATE.queue}: ${ok} × 200, ${refused.length} × 429, ${errors.length} errors ${errors.map((e) => e.message).join('; ')}`);
    const parts = [`${ok} × 200`, `${refused.length} × 429 (${withRetryAfter} with Retry-After)`];
    if (other > 0) parts.push(`**${other} other statuses**`);
    if (errors.length > 0) parts.push(`**${errors.length} connection errors**`);
    parts.push(alive ? 'server still up' : '**server down**');
    return {
      section: 'memory',
      figure: `${PEAK_CLIENTS} clients uploading ${size} at once, --upload-concurrency ${GATE.concurrency} --upload-queue ${GATE.queue}`,
      portrait: parts.join(', '),
      reference: `${GATE.concurrency + GATE.queue} admitted, the rest refused`,
      target: {
        text: 'excess → 429 + Retry-After, no crash',
        met: alive && other === 0 && errors.length === 0 && refused.length > 0 && withRetryAfter === refused.length,
      },
    };
  });
}
