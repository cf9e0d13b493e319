// The upload reference: only the work an upload cannot avoid, with sharp, in a
// process of its own and the same environment as the server — read the header,
// decode once (shrunk while loading, upright), encode the master and Graph's nine
// squares. No HTTP, no body to read, no database. Portrait's upload latency over
// this is what its own code (and the wire) costs.
//
// `node dist/bench/reference-upload.js FILE CONCURRENCY COUNT` prints JSON:
// { p50Ms, p99Ms, perSecond, seconds, count, cpuPercent } (CPU of the whole process, every thread).
import { readFileSync } from 'node:fs';
import sharp from 'sharp';

const SIZES = [48, 64, 96, 120, 240, 360, 432, 504, 648];
const MASTER_LONG_SIDE = 1296; // as render-photo: 1296 px long, but at least 648 px short when the photo has them
const MASTER_SHORT_SIDE = 648;

const [file, concurrencyText, countText] = process.argv.slice(2);
if (file === undefined || concurrencyText === undefined || countText === undefined) {
  process.stderr.write('usage: reference-upload.js FILE CONCURRENCY COUNT\n');
  process.exit(2);
}
// As the server: no libvips operation cache (it could also answer a repeat of the same bytes from memory).
sharp.cache(false);
const bytes = readFileSync(file);
const concurrency = Number(concurrencyText);
const count = Number(countText);

async function render(input: Buffer): Promise<number> {
  const meta = await sharp(input).metadata();
  const upright = (meta.orientation ?? 1) < 5;
  const width = upright ? meta.width : meta.height;
  const height = upright ? meta.height : meta.width;
  const f = Math.min(1, Math.max(MASTER_LONG_SIDE / Math.max(width, height), MASTER_SHORT_SIDE / Math.min(width, height)));
  const { data, info } = await sharp(input, { pages: 1 })
    .autoOrient()
    .resize(Math.round(width * f), Math.round(height * f), { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  const sizes = SIZES.filter((s) => s <= Math.min(info.width, info.height));
  const largest = sizes.at(-1) ?? Math.min(info.width, info.height);
  const square = await sharp(data, { raw }).resize(largest, largest, { fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
  const squareRaw = { width: largest, height: largest, channels: square.info.channels };
  const outputs = await Promise.all([
    sharp(data, { raw }).jpeg({ quality: 90 }).toBuffer(),
    ...sizes.map((s) =>
      (s === largest ? sharp(square.data, { raw: squareRaw }) : sharp(square.data, { raw: squareRaw }).resize(s, s)).jpeg({ quality: 85 }).toBuffer(),
    ),
  ]);
  return outputs.reduce((sum, b) => sum + b.length, 0);
}

await render(bytes); // warm-up, as the server gets one
const latencies: number[] = [];
let next = 0;
const started = performance.now();
const cpuBefore = process.cpuUsage();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      const t = performance.now();
      await render(bytes);
      latencies.push(performance.now() - t);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const cpuPercent = ((cpu.user + cpu.system) / 1e6 / seconds) * 100;
latencies.sort((a, b) => a - b);
const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
process.stdout.write(`${JSON.stringify({ p50Ms: percentile(50), p99Ms: percentile(99), perSecond: count / seconds, seconds, count, cpuPercent })}\n`);
