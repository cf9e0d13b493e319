// `node dist/bench/decode-memory.js`: what rendering one upload adds to peak RSS, by how
// the image is encoded, beside what the decode budget reserves for it (the estimate of
// src/imaging/decode-memory.ts, read from a real renderUpload). Each image is rendered
// in a fresh process, after a small warm-up render, with the server's sharp settings;
// the figure is the growth of VmHWM over the render. Not part of `npm run bench` (about
// two minutes): run it after upgrading sharp or libvips, and keep every estimate above
// its measurement. Prints a Markdown table; docs/performance.md ("Adversarial memory").
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { renderUpload } from '../src/imaging/render-photo.js';
import { buildHeif, gridDescriptor, ispe } from '../test/helpers/heif-boxes.js';
import { PHOTOS_DIR, photo } from '../test/helpers/images.js';
import { PHONE_PHOTO } from './images.js';

const MiB = 1024 * 1024;

interface Case {
  readonly name: string;
  readonly make: () => Promise<Buffer>;
}

/** Flat colour: the smallest files of each kind; JPEG, PNG, GIF and AVIF decoders hold the same for any content. */
function flat(width: number, height: number, channels: 3 | 4 = 3): Sharp {
  return sharp({ create: { width, height, channels, background: { r: 40, g: 120, b: 200, alpha: 1 } }, limitInputPixels: false });
}

/** A smooth gradient: libwebp holds far less for a flat lossless or alpha image (30–60 MiB) than for this. */
function gradient(width: number, height: number, channels: 3 | 4 = 3): Sharp {
  const corners = Buffer.from(Array.from({ length: 4 * 4 * channels }, (_, i) => (i * 37) % 256));
  return sharp(corners, { raw: { width: 4, height: 4, channels }, limitInputPixels: false }).resize(width, height, { kernel: 'linear' });
}

const CASES: readonly Case[] = [
  { name: '4608×1976 phone JPEG (fixture)', make: async () => readFileSync(PHONE_PHOTO) },
  { name: '8000×6000 baseline JPEG 4:2:0', make: () => flat(8000, 6000).jpeg().toBuffer() },
  { name: '8000×6000 baseline JPEG 4:2:0, EXIF orientation 6', make: () => flat(8000, 6000).jpeg().withMetadata({ orientation: 6 }).toBuffer() },
  { name: '7000×7000 progressive JPEG 4:2:0', make: () => flat(7000, 7000).jpeg({ progressive: true }).toBuffer() },
  { name: '7000×7000 progressive JPEG 4:4:4', make: () => flat(7000, 7000).jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer() },
  {
    name: '7000×7000 progressive JPEG 4:4:4, EXIF orientation 6',
    make: () => flat(7000, 7000).jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).withMetadata({ orientation: 6 }).toBuffer(),
  },
  { name: '7000×7000 PNG 8-bit RGB', make: () => flat(7000, 7000).png().toBuffer() },
  { name: '7000×7000 PNG 16-bit RGBA', make: () => flat(7000, 7000, 4).toColourspace('rgb16').png().toBuffer() },
  { name: '16384×3000 PNG 8-bit RGB', make: () => flat(16384, 3000).png().toBuffer() },
  { name: '16384×64 PNG 16-bit RGBA', make: () => flat(16384, 64, 4).toColourspace('rgb16').png().toBuffer() },
  { name: '16384×3000 GIF', make: () => flat(16384, 3000).gif().toBuffer() },
  { name: '7000×7000 interlaced PNG 8-bit RGB', make: () => flat(7000, 7000).png({ progressive: true }).toBuffer() },
  { name: '7000×7000 interlaced PNG 16-bit RGBA', make: () => flat(7000, 7000, 4).toColourspace('rgb16').png({ progressive: true }).toBuffer() },
  { name: '7000×7000 GIF', make: () => flat(7000, 7000).gif().toBuffer() },
  { name: '7000×7000 WebP, lossy (gradient)', make: () => gradient(7000, 7000).webp().toBuffer() },
  { name: '7000×7000 WebP, lossy with alpha (gradient)', make: () => gradient(7000, 7000, 4).webp().toBuffer() },
  { name: '7000×7000 WebP, lossless (gradient)', make: () => gradient(7000, 7000).webp({ lossless: true }).toBuffer() },
  { name: '4000×3000 AVIF 8-bit', make: () => flat(4000, 3000).avif({ effort: 0 }).toBuffer() },
  { name: '4000×3000 AVIF 10-bit', make: () => flat(4000, 3000).avif({ effort: 0, bitdepth: 10 }).toBuffer() },
  { name: '3024×4032 iPhone HEIC, 8-bit, 48 tiles (fixture)', make: async () => readFileSync(join(PHOTOS_DIR, 'heic-mobile-iphone_13_pro_max.HEIC')) },
  { name: '3600×2700 HEIC, 10-bit, 36 tiles', make: async () => heifGrid('heic-made-landscape-10bit.heic', 6, 6) },
];

/** A rows × columns grid whose every tile is the one coded 600×450 image of a fixture (its hvcC and data). */
function heifGrid(fixture: string, rows: number, columns: number): Buffer {
  const file = photo(fixture);
  const hvcC = file.indexOf('hvcC', 0, 'latin1') - 4;
  const mdat = file.indexOf('mdat', 0, 'latin1') - 4;
  const tile = { hvcC: file.subarray(hvcC, hvcC + file.readUInt32BE(hvcC)), data: file.subarray(mdat + 8) };
  const ids = Array.from({ length: rows * columns }, (_, i) => i + 1);
  return buildHeif({
    primary: 1000,
    items: [
      { id: 1000, type: 'grid', data: gridDescriptor(rows, columns, columns * 600, rows * 450), properties: [ispe(columns * 600, rows * 450)] },
      ...ids.map((id) => ({ id, type: 'hvc1', data: tile.data, hidden: true, properties: [tile.hvcC, ispe(600, 450)] })),
    ],
    references: [{ type: 'dimg', from: 1000, to: ids }],
  });
}

/** In the child: one render, what it reserved and how much the peak RSS grew, as JSON on stdout. */
async function measureOne(file: string): Promise<void> {
  sharp.concurrency(1); // as serve.ts
  sharp.cache(false);
  const bytes = readFileSync(file);
  let reserved = 0;
  const memory = { limit: Number.MAX_SAFE_INTEGER, reserve: async (need: number) => ((reserved = need), () => undefined) };
  await renderUpload(await flat(64, 64).png().toBuffer(), { pixelLimit: 50_000_000 }); // sharp's one-time costs
  const before = peakRss();
  await renderUpload(bytes, { pixelLimit: 50_000_000, memory });
  process.stdout.write(JSON.stringify({ growth: peakRss() - before, reserved }));
}

function peakRss(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error('no VmHWM in /proc/self/status');
  return Number(match[1]) * 1024;
}

async function main(): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'portrait-decode-memory-'));
  const self = fileURLToPath(import.meta.url);
  const rows = ['| Image | File | Peak RSS growth | Reserved (estimate) | Estimate ÷ growth |', '| --- | --- | --- | --- | --- |'];
  try {
    for (const { name, make } of CASES.filter((c) => !process.env.BENCH_CASES || c.name.includes(process.env.BENCH_CASES))) {
      const bytes = await make();
      const file = join(folder, 'image');
      writeFileSync(file, bytes);
      const output = execFileSync(process.execPath, [self, '--one', file], { encoding: 'utf8' });
      const { growth, reserved } = JSON.parse(output) as { growth: number; reserved: number };
      const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;
      const size = bytes.length >= 1e6 ? `${(bytes.length / 1e6).toFixed(1)} MB` : `${Math.round(bytes.length / 1000)} kB`;
      const row = `| ${name} | ${size} | ${mib(growth)} | ${mib(reserved)} | ${(reserved / growth).toFixed(2)}× |`;
      process.stderr.write(`${row}\n`);
      rows.push(row);
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

if (process.argv[2] === '--one' && process.argv[3] !== undefined) await measureOne(process.argv[3]);
else await main();
