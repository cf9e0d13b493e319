// The images the bench uploads and seeds. Real photos come from the test
// fixtures (test/fixtures/photos/); the 12-megapixel JPEG and the PNG are made
// from a real photo so that they compress like photos do: upscaled, with
// sensor-like noise from a seeded generator (the same bytes on every run and
// machine with the same libvips), at the best JPEG quality that stays under
// Graph's 4 MB.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { PHOTOS_DIR } from '../test/helpers/images.js';
import type { Sharp } from 'sharp';
import { seededRandom } from '../src/traffic/seeded-random.js';

/** The 2.1 MB 4608×1976 phone photo. */
export const PHONE_PHOTO = join(PHOTOS_DIR, 'mobile-HMD_Nokia_8.3_5G.jpg');
/** A real 640×480 camera photo (128 kB): the read path's photo and the leak check's upload. */
export const CAMERA_PHOTO = join(PHOTOS_DIR, 'exif-org-canon-ixus.jpg');
/** A real 1600×1200 camera photo: the content of the generated images. */
const LARGE_CAMERA_PHOTO = join(PHOTOS_DIR, 'tests-22-canon_tags.jpg');

/** "4 MB" read as 4,000,000 bytes, which is also under the 4 MiB body limit. */
const UNDER_4_MB = 4_000_000;
const NOISE_SIGMA = 6; // in 8-bit levels: a phone sensor at moderate ISO

export interface GeneratedImage {
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
  /** How it was made, for the table: "JPEG q87". */
  readonly description: string;
}

let twelveMegapixels: Promise<GeneratedImage> | undefined;

/** A 4000×3000 photo-like JPEG, at the highest quality under 4 MB (made once per run: it takes seconds). */
export function twelveMegapixelJpeg(): Promise<GeneratedImage> {
  twelveMegapixels ??= makeTwelveMegapixelJpeg();
  return twelveMegapixels;
}

async function makeTwelveMegapixelJpeg(): Promise<GeneratedImage> {
  const width = 4000;
  const height = 3000;
  const { data } = await sharp(readFileSync(LARGE_CAMERA_PHOTO))
    .resize(width, height, { fit: 'cover' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  addNoise(data, NOISE_SIGMA, 12);
  const encode = (quality: number) =>
    sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer();
  // The highest quality whose file is under 4 MB (size grows with quality).
  let low = 50;
  let high = 98;
  let best = await encode(low);
  if (best.length >= UNDER_4_MB) throw new Error(`a 4000×3000 JPEG at q${low} is already ${best.length} bytes`);
  let bestQuality = low;
  while (low < high) {
    const quality = Math.ceil((low + high) / 2);
    const bytes = await encode(quality);
    if (bytes.length < UNDER_4_MB) {
      [low, best, bestQuality] = [quality, bytes, quality];
    } else {
      high = quality - 1;
    }
  }
  return { bytes: best, width, height, description: `JPEG q${bestQuality}` };
}

/** A photo-like RGB PNG of about 1 MB (its size found in a few steps). */
export async function oneMegabytePng(): Promise<GeneratedImage> {
  const target = 1_000_000;
  const source = readFileSync(LARGE_CAMERA_PHOTO);
  let width = 800;
  let image: GeneratedImage | undefined;
  for (let step = 0; step < 4; step++) {
    const height = Math.round((width * 3) / 4);
    const { data } = await sharp(source).resize(width, height).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    addNoise(data, NOISE_SIGMA / 2, 34);
    const bytes = await sharp(data, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
    image = { bytes, width, height, description: 'PNG' };
    if (Math.abs(bytes.length - target) < target * 0.05) break;
    width = Math.round(width * Math.sqrt(target / bytes.length));
  }
  return image as GeneratedImage;
}

export interface DecodeBomb {
  /** For the table: "7000×7000 progressive 4:4:4 JPEG". */
  readonly name: string;
  readonly bytes: Buffer;
}

export interface DecodeBombs {
  /** Issue 9's three kinds, each over the default decode budget. */
  readonly overBudget: readonly DecodeBomb[];
  /** A progressive 4:2:0 JPEG: about 150 MB to decode, within the default budget, two never. */
  readonly withinBudget: DecodeBomb;
}

/**
 * Small files that decode huge, 7000×7000 (49 MP, under the 50 MP pixel limit): flat
 * colour, so each encodes to 33–600 kB while its decoder holds the whole frame or every
 * DCT coefficient (0.15–0.45 GB each, measured one per process).
 */
export async function decodeBombs(): Promise<DecodeBombs> {
  const side = 7000;
  const flat = (channels: 3 | 4) =>
    sharp({ create: { width: side, height: side, channels, background: { r: 40, g: 120, b: 200, alpha: 1 } }, limitInputPixels: false });
  const size = `${side}×${side}`;
  const bomb = async (name: string, image: Sharp): Promise<DecodeBomb> => ({ name: `${size} ${name}`, bytes: await image.toBuffer() });
  const [jpeg444, png16, gif, jpeg420] = await Promise.all([
    bomb('progressive 4:4:4 JPEG', flat(3).jpeg({ progressive: true, chromaSubsampling: '4:4:4' })),
    bomb('interlaced 16-bit RGBA PNG', flat(4).toColourspace('rgb16').png({ progressive: true, compressionLevel: 9 })),
    bomb('GIF', flat(3).gif()),
    bomb('progressive 4:2:0 JPEG', flat(3).jpeg({ progressive: true, chromaSubsampling: '4:2:0' })),
  ]);
  return { overBudget: [jpeg444, png16, gif], withinBudget: jpeg420 };
}

/** A real photo cut to size×size as a JPEG: small uploads and the seeded photos. */
export async function smallPhoto(size: number): Promise<Buffer> {
  return sharp(readFileSync(CAMERA_PHOTO)).resize(size, size).jpeg({ quality: 90 }).toBuffer();
}

/**
 * A flat-colour JPEG of side×side: the cross-node uploads, small (a few kB, rendered
 * in milliseconds) so that a round is mostly the delay measured, and told apart by
 * ETag alone.
 */
export function solidJpeg(side: number, colour: { readonly r: number; readonly g: number; readonly b: number }): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: colour } }).jpeg({ quality: 90 }).toBuffer();
}

export async function dimensionsOf(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes).metadata();
  return { width: meta.width, height: meta.height };
}

/** Adds roughly Gaussian noise (σ in levels) from a seeded generator, in place. */
function addNoise(pixels: Buffer, sigma: number, seed: number): void {
  const random = seededRandom(seed);
  // Three uniforms on [0, 1] less 1.5 have σ = 0.5: doubled, σ is `sigma`; close enough to a Gaussian.
  for (let i = 0; i < pixels.length; i++) {
    const noise = (random() + random() + random() - 1.5) * 2 * sigma;
    pixels[i] = Math.max(0, Math.min(255, Math.round((pixels[i] as number) + noise)));
  }
}

