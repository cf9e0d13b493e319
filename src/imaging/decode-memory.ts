// How much memory rendering an upload takes, from its header alone (issue 9 §3).
//
// Within the pixel limit, what a decoder holds depends on how the file was encoded, not
// on its size in bytes: a 575 kB progressive 4:4:4 JPEG keeps every DCT coefficient of
// its 49 megapixels (294 MB) while a baseline JPEG of the same size decodes shrunk, a
// row at a time, in a few MB. The figures below were measured, one decode per process,
// as the growth of peak RSS (VmHWM) over a warmed-up process while renderUpload ran with
// sharp 0.35.5 / libvips 8.18.7, one libvips thread and no operation cache (as `serve`
// runs it); docs/performance.md ("Adversarial memory") has the table. Each is rounded up
// so the estimate stays above what was measured: it is a budget, not a prediction.

import type { Metadata } from 'sharp';
import type { Dimensions } from '../storage/store.js';
import type { AcceptedFormat } from './detect-format.js';
import type { HeifHeader } from './heif-header.js';

export interface DecodeMemory {
  /** Peak bytes the render of this upload may add to the process, decode and encodes included. */
  readonly bytes: number;
  /** What the image is, for messages: "7000×7000 progressive JPEG (4:4:4)". */
  readonly image: string;
}

const MiB = 1024 * 1024;

// Everything but the decoder: the master's raw pixels, the squares cut from them and the
// JPEG encoders. Measured 19–33 MiB for whole uploads of ordinary photos with a 1296 px master.
const RENDER_BASE = 24 * MiB;
const PER_MASTER_BYTE = 3;
// A streamed decode (baseline JPEG, non-interlaced PNG, lossy WebP) still holds up to
// this many rows of the decoded width at once (measured 900–1,600 rows of 7,000 to
// 50,000-pixel-wide PNGs between the loader, its sequential cache and the shrink).
const STREAMED_ROWS = 1600;
// And the shrink after it holds some rows of the decoded width as floats: 16384×64 16-bit
// RGBA PNGs grew 45 MiB where the rows above gave 33 (docs/performance.md).
const RESIZE_ROWS = 64;
const RESIZE_SAMPLE_BYTES = 4;
// Whole-frame decoders, per pixel of the frame. libnsgif holds the canvas as RGBA (4 B;
// measured 4.4–4.6 with libvips' copy for a square, 5.2 for a 16384×3000 strip). libwebp decodes lossless and alpha WebP whole,
// as RGBA (measured up to 4.7). libheif with aom holds several planes, 16-bit inside the
// decoder even for 8-bit files (measured 14–18 B for 8-bit, 18–24 B for 10-bit AVIF).
const GIF_PER_PIXEL = 5.5;
const WEBP_WHOLE_PER_PIXEL = 5;
const AVIF_PER_PIXEL = 19;
const AVIF_HIGH_DEPTH_PER_PIXEL = 25;
// Interlaced PNG (Adam7) is decoded whole at its own depth; 16-bit files were measured
// 10% over their frame, the conversion to 8 bits included.
const INTERLACED_PNG_OVERHEAD = 1.15;
// libjpeg keeps a progressive file's coefficients, 2 bytes each, 64 per 8×8 block of each
// component, whatever the output scale (measured: exactly that plus ~12 MiB).
const COEFFICIENT_BYTES = 2;

/**
 * The memory rendering an upload will take. `meta` is sharp's header read, `frame` the
 * first frame as stored (not turned upright), `master` what it is decoded to (upright).
 */
export function estimateDecodeMemory(
  bytes: Buffer,
  format: AcceptedFormat,
  meta: Metadata,
  frame: Dimensions,
  master: Dimensions,
): DecodeMemory {
  const { width, height } = frame;
  const pixels = width * height;
  const bytesPerSample = meta.depth === 'ushort' ? 2 : 1;
  const channels = meta.channels;
  // The common shrink of both axes; rotation does not change it.
  const shrink = Math.min(Math.max(width, height) / Math.max(master.width, master.height), Math.min(width, height) / Math.min(master.width, master.height));
  const streamed = (decodedWidth: number, decodedHeight: number, sampleBytes = channels * bytesPerSample) =>
    Math.min(decodedHeight, STREAMED_ROWS) * decodedWidth * sampleBytes + Math.min(decodedHeight, RESIZE_ROWS) * decodedWidth * channels * RESIZE_SAMPLE_BYTES;
  const size = `${width}×${height}`;

  let decoder: number;
  let image: string;
  switch (format) {
    case 'jpeg': {
      const scale = jpegShrinkOnLoad(shrink);
      const output = streamed(Math.ceil(width / scale), Math.ceil(height / scale), channels);
      if (meta.isProgressive) {
        // The sampling factors as the frame header states them: libvips' chromaSubsampling
        // says "4:2:0" whenever any factor is over 1, which a file whose components are all
        // 2x1 (full-resolution chroma, 1.56× the coefficients) would pass off as less.
        const components = jpegComponents(bytes);
        decoder = (components ? coefficientBytes(width, height, components) : roundUp(width, 16) * roundUp(height, 16) * channels * COEFFICIENT_BYTES) + output;
        image = `${size} progressive JPEG${components ? ` (${samplingName(components)})` : ''}`;
      } else {
        decoder = output;
        image = `${size} JPEG`;
      }
      break;
    }
    case 'png':
      if (meta.isProgressive) {
        decoder = pixels * channels * bytesPerSample * INTERLACED_PNG_OVERHEAD;
        image = `${size} interlaced ${bytesPerSample * 8}-bit PNG`;
      } else {
        decoder = streamed(width, height);
        image = `${size} ${bytesPerSample * 8}-bit PNG`;
      }
      break;
    case 'gif':
      decoder = pixels * GIF_PER_PIXEL;
      image = `${size} GIF`;
      break;
    case 'webp': {
      const encoding = webpEncoding(bytes, meta.hasAlpha);
      if (encoding === 'lossy') {
        // Decoded scaled to about the master's size (sharp's shrink-on-load for WebP).
        const scale = Math.max(1, shrink);
        decoder = streamed(Math.ceil(width / scale), Math.ceil(height / scale));
        image = `${size} WebP`;
      } else {
        decoder = pixels * WEBP_WHOLE_PER_PIXEL;
        image = `${size} ${encoding === 'lossless' ? 'lossless WebP' : 'WebP with alpha'}`;
      }
      break;
    }
    case 'avif': {
      const depth = meta.bitsPerSample ?? 8;
      decoder = pixels * (depth > 8 ? AVIF_HIGH_DEPTH_PER_PIXEL : AVIF_PER_PIXEL);
      image = `${size} ${depth}-bit AVIF`;
      break;
    }
    case 'heic':
      throw new Error('a HEIC is estimated from its boxes (estimateHeifDecodeMemory), not from libvips');
  }
  const masterBytes = master.width * master.height * 3;
  return { bytes: Math.ceil(RENDER_BASE + masterBytes * PER_MASTER_BYTE + decoder), image };
}

// HEIC decodes in a thread of its own (heif-decoder.ts): a V8 isolate, the compiled wasm
// and sharp's binding (~40 MiB for any HEIC, measured with a 600×450 one), and a
// WebAssembly heap that holds libheif's YCbCr planes and the interleaved RGB frame at once,
// grown in steps of up to 20%; sharp shrinks the frame from the heap, and the thread and
// its heap go when it is done. Measured (bench/decode-memory.ts, VmHWM growth): a 3024×4032
// 8-bit iPhone photo of 48 tiles 133–138 MiB (heap 74 MiB), a 3600×2700 10-bit grid 148 MiB.
const HEIF_THREAD = 40 * MiB;
const HEIF_PER_PIXEL = 8.5; // 8-bit: measured (138 − 40 MiB) / 12.2 MP = 8.0
const HEIF_HIGH_DEPTH_PER_PIXEL = 12; // 10-bit: 16-bit YCbCr planes; measured (148 − 40) / 9.7 MP = 11.1
const HEIF_ALPHA_PER_PIXEL = 1.5; // an alpha plane and RGBA instead of RGB (not measured: 1 + 1 byte, 20% growth)
const HEIF_PER_CODED_PIXEL = 6; // libde265's picture buffer, per pixel of the largest coded picture

/** The memory rendering a HEIC takes, from its boxes (heif-header.ts). */
export function estimateHeifDecodeMemory(header: HeifHeader, master: Dimensions): DecodeMemory {
  const { width, height } = header.frame;
  const perPixel = (header.bitDepth > 8 ? HEIF_HIGH_DEPTH_PER_PIXEL : HEIF_PER_PIXEL) + (header.alpha ? HEIF_ALPHA_PER_PIXEL : 0);
  const largestCoded = Math.max(0, ...header.coded.map((c) => c.width * c.height));
  const decoder = HEIF_THREAD + width * height * perPixel + largestCoded * HEIF_PER_CODED_PIXEL;
  const masterBytes = master.width * master.height * 3;
  const tiles = header.tiles > 1 ? `, ${header.tiles} tiles` : '';
  return { bytes: Math.ceil(RENDER_BASE + masterBytes * PER_MASTER_BYTE + decoder), image: `${width}×${height} ${header.bitDepth}-bit HEIC${tiles}` };
}

/** The factor libjpeg decodes at, as sharp picks it for a resize by `shrink` (fastShrinkOnLoad). */
function jpegShrinkOnLoad(shrink: number): number {
  let factor = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  // sharp halves it where libjpeg's rounding would leave too few pixels.
  if (factor > 1 && Math.floor(shrink) === factor) factor /= 2;
  return factor;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * How the first frame of a WebP is coded, from its RIFF chunks: plain lossy ('VP8 ') is
 * decoded scaled; lossless ('VP8L') and lossy with an alpha plane are decoded whole.
 */
export function webpEncoding(bytes: Buffer, hasAlpha: boolean): 'lossy' | 'lossless' | 'lossy-alpha' {
  let lossless = false;
  let alpha = hasAlpha;
  // RIFF header (12 bytes), then chunks: fourCC, little-endian size, payload padded to even.
  // An animation's first frame (ANMF) holds its own chunks after a 16-byte frame header.
  const walk = (start: number, end: number, depth: number) => {
    for (let at = start; at + 8 <= end; ) {
      const fourCC = bytes.toString('latin1', at, at + 4);
      const size = bytes.readUInt32LE(at + 4);
      if (fourCC === 'VP8L') lossless = true;
      else if (fourCC === 'ALPH') alpha = true;
      else if (fourCC === 'ANMF' && depth === 0) {
        walk(at + 8 + 16, Math.min(end, at + 8 + size), 1);
        return; // the first frame is the one decoded (pages: 1)
      }
      at += 8 + size + (size % 2);
    }
  };
  walk(12, bytes.length, 0);
  return lossless ? 'lossless' : alpha ? 'lossy-alpha' : 'lossy';
}

interface JpegComponent {
  /** Horizontal and vertical sampling factors, 1–4. */
  readonly h: number;
  readonly v: number;
}

/** The components' sampling factors, read from the frame header (SOFn); undefined when there is none to read. */
function jpegComponents(bytes: Buffer): JpegComponent[] | undefined {
  for (let at = 2; at + 4 <= bytes.length; ) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1] as number;
    if (marker === 0xff) {
      at++; // a fill byte
      continue;
    }
    // SOF0–SOF15, but DHT (C4), JPG (C8) and DAC (CC), which share the range.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const count = bytes[at + 9] ?? 0;
      if (count === 0 || at + 10 + count * 3 > bytes.length) return undefined;
      const components = Array.from({ length: count }, (_, i) => {
        const factors = bytes[at + 11 + i * 3] as number;
        return { h: factors >> 4, v: factors & 0x0f };
      });
      return components.every(({ h, v }) => h >= 1 && h <= 4 && v >= 1 && v <= 4) ? components : undefined;
    }
    // The scan begins (or a segment has no length): no frame header before it.
    if (marker === 0xda || marker === 0xd9) return undefined;
    at += 2 + bytes.readUInt16BE(at + 2);
  }
  return undefined;
}

/** libjpeg's coefficient arrays: 64 per 8×8 block of each component, blocks rounded up to whole MCUs. */
function coefficientBytes(width: number, height: number, components: readonly JpegComponent[]): number {
  const hMax = Math.max(...components.map((c) => c.h));
  const vMax = Math.max(...components.map((c) => c.v));
  let blocks = 0;
  for (const { h, v } of components) {
    blocks += roundUp(Math.ceil((width * h) / (8 * hMax)), h) * roundUp(Math.ceil((height * v) / (8 * vMax)), v);
  }
  return blocks * 64 * COEFFICIENT_BYTES;
}

/** The usual name of a sampling (4:4:4, 4:2:2, 4:2:0), else its factors: "2x1,2x1,2x1". */
function samplingName(components: readonly JpegComponent[]): string {
  const factors = components.map(({ h, v }) => `${h}x${v}`).join(',');
  const names: Readonly<Record<string, string>> = { '1x1,1x1,1x1': '4:4:4', '2x1,1x1,1x1': '4:2:2', '2x2,1x1,1x1': '4:2:0', '1x1,1x1,1x1,1x1': '4:4:4:4' };
  return names[factors] ?? factors;
}
