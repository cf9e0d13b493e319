// `node dist/test/helpers/make-heic-fixtures.js`: writes the made HEIC fixtures of
// test/fixtures/photos/ (their README says what each is for). Needs heif-enc (Debian:
// libheif-examples) for the HEVC; the tests only read the committed files. Each shows the
// scene of orientation-landscape_1.jpg (600×450), stored turned or mirrored so that only
// the container's transform makes it upright again.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { box, buildHeif, codedImage, gridDescriptor, imir, irot, ispe, u32 } from './heif-boxes.js';
import { PHOTOS_DIR, photo } from './images.js';

const folder = mkdtempSync(join(tmpdir(), 'portrait-heic-'));

/** HEVC of one image through heif-enc: the hvcC property and the coded data. */
async function encode(image: Sharp, options: readonly string[] = []): Promise<{ hvcC: Buffer; data: Buffer }> {
  const png = join(folder, 'in.png');
  const heic = join(folder, 'out.heic');
  writeFileSync(png, await image.png().toBuffer());
  execFileSync('heif-enc', ['-q', '60', ...options, '-o', heic, png], { stdio: 'ignore' });
  return codedImage(readFileSync(heic));
}

/** The EXIF that an iPhone writes beside irot, reduced to Orientation: an Exif item is a 4-byte offset, then TIFF. */
async function exifWithOrientation(orientation: number): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } }).jpeg().withMetadata({ orientation }).toBuffer();
  const exif = (await sharp(jpeg).metadata()).exif!; // "Exif\0\0" then TIFF
  return Buffer.concat([u32(0), exif.subarray(6)]);
}

const scene = () => sharp(photo('orientation-landscape_1.jpg'));

try {
  // Stored turned a quarter anticlockwise (450×600), as a phone's sensor sees a portrait; irot
  // turns it back (3 × 90° anticlockwise) and the EXIF says Orientation 6, the same turn again.
  {
    const coded = await encode(scene().rotate(-90));
    const file = buildHeif({
      primary: 1,
      items: [
        { id: 1, type: 'hvc1', data: coded.data, properties: [box('hvcC', coded.hvcC.subarray(8)), ispe(450, 600), irot(3)] },
        { id: 2, type: 'Exif', data: await exifWithOrientation(6) },
      ],
      references: [{ type: 'cdsc', from: 2, to: [1] }],
    });
    writeFileSync(join(PHOTOS_DIR, 'heic-made-landscape-irot-exif6.heic'), file);
  }
  // A 2×2 grid of 320×240 tiles, cropped to 600×450, stored mirrored left to right; imir undoes it.
  {
    const mirrored = await scene().flop().extend({ right: 40, bottom: 30, background: '#808080' }).png().toBuffer();
    const tiles = [];
    for (const [left, top] of [[0, 0], [320, 0], [0, 240], [320, 240]] as const) {
      tiles.push(await encode(sharp(mirrored).extract({ left, top, width: 320, height: 240 })));
    }
    const file = buildHeif({
      primary: 10,
      items: [
        { id: 10, type: 'grid', data: gridDescriptor(2, 2, 600, 450), properties: [ispe(600, 450), imir(1)] },
        ...tiles.map((t, i) => ({ id: i + 1, type: 'hvc1', data: t.data, hidden: true, properties: [box('hvcC', t.hvcC.subarray(8)), ispe(320, 240)] })),
      ],
      references: [{ type: 'dimg', from: 10, to: [1, 2, 3, 4] }],
    });
    writeFileSync(join(PHOTOS_DIR, 'heic-made-landscape-grid-imir.heic'), file);
  }
  // 10 bits a sample, from a 16-bit PNG (heif-enc's -b).
  {
    const coded = await encode(scene().toColourspace('rgb16'), ['-b', '10']);
    const file = buildHeif({ primary: 1, items: [{ id: 1, type: 'hvc1', data: coded.data, properties: [box('hvcC', coded.hvcC.subarray(8)), ispe(600, 450)] }] });
    writeFileSync(join(PHOTOS_DIR, 'heic-made-landscape-10bit.heic'), file);
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}
