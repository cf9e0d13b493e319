// Test images: the real photos in test/fixtures/photos/, small generated ones, and pixel comparisons.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { Sharp, SharpOptions } from 'sharp';

/**
 * The real photos (test/fixtures/photos/ in the repository, with its README), with a
 * trailing slash. Seen from dist/test/helpers/, where this runs: '../../../' is the
 * repository root. Every test and the bench find the photos through this.
 */
export const PHOTOS_DIR = fileURLToPath(new URL('../../../test/fixtures/photos/', import.meta.url));

/** The bytes of one of the real photos, by file name. */
export function photo(name: string): Buffer {
  return readFileSync(join(PHOTOS_DIR, name));
}

/** Mean absolute difference per channel value (0–255) of two images of the same size. */
export async function meanAbsoluteDifference(a: Buffer, b: Buffer): Promise<number> {
  const [pa, pb] = await Promise.all([pixels(a), pixels(b)]);
  if (pa.length !== pb.length) throw new Error(`sizes differ: ${pa.length} vs ${pb.length} values`);
  let sum = 0;
  for (let i = 0; i < pa.length; i++) sum += Math.abs(pa[i]! - pb[i]!);
  return sum / pa.length;
}

/** RGB of one pixel of an encoded image. */
export async function pixelAt(image: Buffer, x: number, y: number, options: SharpOptions = {}): Promise<[number, number, number]> {
  const { data, info } = await sharp(image, options).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return [data[at]!, data[at + 1]!, data[at + 2]!];
}

async function pixels(image: Buffer): Promise<Buffer> {
  return sharp(image).removeAlpha().raw().toBuffer();
}

/** A solid image of raw RGB(A) pixels; more than one colour makes an animation, one frame per colour. */
export function solid(width: number, height: number, colours: readonly (readonly number[])[]): Sharp {
  return paint(width, height, (_x, _y, frame) => colours[frame]!, colours.length);
}

/** An image whose pixel (x, y) of each frame is colourAt(x, y, frame); frames stack as an animation's pages. */
export function paint(
  width: number,
  height: number,
  colourAt: (x: number, y: number, frame: number) => readonly number[],
  frames = 1,
): Sharp {
  const channels = colourAt(0, 0, 0).length as 3 | 4;
  const data = Buffer.alloc(width * height * frames * channels);
  for (let frame = 0; frame < frames; frame++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) data.set(colourAt(x, y, frame), ((frame * height + y) * width + x) * channels);
    }
  }
  return sharp(data, { raw: { width, height: height * frames, channels, pageHeight: height } });
}

/**
 * A PNG that claims width×height but holds a single row of pixels: its header reads
 * fine, and any attempt to decode it fails.
 */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Names of the JPEG segments before the image data (APP1 = EXIF or XMP, APP2 = ICC, APP13 = IPTC). */
export function jpegHeaderSegments(bytes: Buffer): string[] {
  const names: string[] = [];
  for (let at = 2; at + 4 <= bytes.length && bytes[at] === 0xff; at += 2 + bytes.readUInt16BE(at + 2)) {
    const marker = bytes[at + 1]!;
    names.push(marker >= 0xe0 && marker <= 0xef ? `APP${marker - 0xe0}` : `0x${marker.toString(16)}`);
    if (marker === 0xda) break; // start of scan: what follows is entropy-coded pixels
  }
  return names;
}
