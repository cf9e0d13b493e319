// The imaging pipeline, checked by what a client could observe in the served JPEGs:
// format, size, colour, pixels and the absence of metadata — never by exact bytes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { GraphError } from '../src/errors.js';
import { detectFormat } from '../src/imaging/detect-format.js';
import { GRAPH_SIZES, sizesForResize, sizesForUpload } from '../src/imaging/graph-sizes.js';
import { renderResize, renderUpload, type RenderedPhoto } from '../src/imaging/render-photo.js';
import type { RenderedSize } from '../src/storage/store.js';
import { jpegHeaderSegments, meanAbsoluteDifference, paint, photo, pixelAt, pngClaiming, solid } from './helpers/images.js';

const upload = (bytes: Buffer, pixelLimit = 50_000_000) => renderUpload(bytes, { pixelLimit });

const ids = (sizes: readonly RenderedSize[]) => sizes.map((s) => `${s.width}X${s.height}`);
const squares = (...sizes: number[]) => sizes.map((s) => `${s}X${s}`);
const size = (rendered: RenderedPhoto, side: number): Buffer => {
  const found = rendered.sizes.find((s) => s.width === side && s.height === side);
  assert.ok(found, `no ${side}X${side} in ${ids(rendered.sizes).join(', ')}`);
  return found.bytes;
};

/** Every served JPEG: baseline, sRGB, 3 channels, the dimensions it claims, no metadata at all. */
async function assertClean(rendered: RenderedPhoto): Promise<void> {
  for (const image of [rendered.master, ...rendered.sizes]) {
    const meta = await sharp(image.bytes).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.space, 'srgb');
    assert.equal(meta.channels, 3);
    assert.equal(meta.isProgressive, false);
    assert.deepEqual([meta.width, meta.height], [image.width, image.height]);
    assert.equal(meta.exif, undefined);
    assert.equal(meta.xmp, undefined);
    assert.equal(meta.iptc, undefined);
    assert.equal(meta.icc, undefined, 'untagged JPEG means sRGB; no profile is embedded');
    // Only JFIF (APP0) may precede the pixels: no EXIF/XMP (APP1), ICC (APP2) or IPTC (APP13).
    assert.deepEqual(jpegHeaderSegments(image.bytes).filter((s) => s.startsWith('APP') && s !== 'APP0'), []);
  }
}

async function assertRefused(bytes: Buffer, code: string, message: RegExp, pixelLimit?: number): Promise<void> {
  await assert.rejects(upload(bytes, pixelLimit), (error: unknown) => {
    assert.ok(error instanceof GraphError, `not a GraphError: ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

describe('Graph sizes', () => {
  it('offers every standard size up to the short side, or the short side alone below 48', () => {
    assert.deepEqual(sizesForUpload(600), [48, 64, 96, 120, 240, 360, 432, 504]);
    assert.deepEqual(sizesForUpload(648), [...GRAPH_SIZES]);
    assert.deepEqual(sizesForUpload(5000), [...GRAPH_SIZES]);
    assert.deepEqual(sizesForUpload(48), [48]);
    assert.deepEqual(sizesForUpload(20), [20]);
  });

  it('after a resize: W×H plus the squares that fit, deduplicated, by width then height', () => {
    const text = (w: number, h: number) => sizesForResize(w, h).map((d) => `${d.width}x${d.height}`);
    assert.deepEqual(text(99, 99), ['48x48', '64x64', '96x96', '99x99']);
    assert.deepEqual(text(5, 6), ['5x6']);
    assert.deepEqual(text(300, 100), ['48x48', '64x64', '96x96', '300x100']);
    assert.deepEqual(text(96, 96), ['48x48', '64x64', '96x96']);
    assert.deepEqual(text(64, 700), ['48x48', '64x64', '64x700']);
  });
});

describe('format detection', () => {
  it('accepts the five formats by their bytes', async () => {
    const image = solid(8, 8, [[10, 20, 30]]);
    for (const format of ['jpeg', 'png', 'webp', 'gif', 'avif'] as const) {
      assert.deepEqual(detectFormat(await image.clone().toFormat(format).toBuffer()), { accepted: true, format });
    }
  });

  it('names what it refuses', () => {
    const refused = (bytes: Buffer) => {
      const result = detectFormat(bytes);
      assert.equal(result.accepted, false);
      return result.accepted ? '' : result.detected;
    };
    assert.equal(refused(Buffer.from('\uFEFF  <svg xmlns="http://www.w3.org/2000/svg"/>')), 'SVG');
    assert.equal(refused(Buffer.from('<?xml version="1.0"?><svg/>')), 'SVG');
    assert.equal(refused(Buffer.from('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x"><svg/>')), 'SVG');
    assert.equal(refused(Buffer.from('%PDF-1.4\n')), 'PDF');
    assert.equal(refused(Buffer.from('MM\0*\0\0\0\x08', 'latin1')), 'TIFF');
    assert.equal(refused(Buffer.from('BM')), 'an unknown format', '"BM" alone is not enough for BMP');
    assert.equal(refused(Buffer.alloc(0)), 'an empty body');
    assert.equal(refused(Buffer.from('\0\0\0\x18ftypmp42\0\0\0\0isommp42', 'latin1')), 'an unknown format');
    // HEIC is accepted now (issue 10 §4; test/heic.test.ts).
    assert.deepEqual(detectFormat(photo('heic-mobile-iphone_13_pro_max.HEIC')), { accepted: true, format: 'heic' });
    assert.deepEqual(detectFormat(Buffer.from('\0\0\0\x18ftypmif1\0\0\0\0mif1heic', 'latin1')), { accepted: true, format: 'heic' });
    assert.equal(detectFormat(Buffer.from('\0\0\0\x18ftypmif1\0\0\0\0mif1avif', 'latin1')).accepted, true);
  });
});

describe('renderUpload', () => {
  it('applies every EXIF orientation: all eight look like orientation 1', async () => {
    const upright = size(await upload(photo('orientation-landscape_1.jpg')), 96);
    // So that this test can fail: a mirrored or rotated picture is far from upright.
    for (const wrong of [sharp(upright).flop(), sharp(upright).flip(), sharp(upright).rotate(90), sharp(upright).rotate(180)]) {
      assert.ok((await meanAbsoluteDifference(upright, await wrong.jpeg().toBuffer())) > 30);
    }
    for (let orientation = 2; orientation <= 8; orientation++) {
      const rendered = await upload(photo(`orientation-landscape_${orientation}.jpg`));
      assert.deepEqual([rendered.master.width, rendered.master.height], [600, 450], `orientation ${orientation}`);
      const difference = await meanAbsoluteDifference(upright, size(rendered, 96));
      assert.ok(difference < 8, `orientation ${orientation} differs by ${difference.toFixed(1)}`);
    }
  });

  it('serves no EXIF, GPS or XMP from a photo that has them', async () => {
    for (const name of ['gps-DSCN0010.jpg', 'gps-DSCN0012.jpg']) {
      const original = photo(name);
      const markers = ['Exif', 'WGS-84', 'http://ns.adobe.com/'];
      for (const marker of markers) assert.ok(original.includes(marker), `${name} should contain ${marker}`);
      assert.ok((await sharp(original).metadata()).exif, `${name} should have EXIF`);

      const rendered = await upload(original);
      await assertClean(rendered);
      for (const image of [rendered.master, ...rendered.sizes]) {
        // Only the header: the entropy-coded pixels can hold any 3 bytes, 'GPS' included.
        const header = image.bytes.subarray(0, image.bytes.indexOf(Buffer.from([0xff, 0xda])));
        for (const marker of [...markers, 'GPS']) assert.ok(!header.includes(marker), `${marker} in ${image.width}X${image.height}`);
      }
    }
  });

  it('cuts every standard size up to the short side, nothing upscaled', async () => {
    const cases: [string, string[]][] = [
      ['exif-org-nikon-e950.jpg', squares(48, 64, 96, 120, 240, 360, 432, 504)], // 800×600: 504 ≤ 600 < 648
      ['tests-22-canon_tags.jpg', squares(...GRAPH_SIZES)], // 1600×1200
      ['tests-28-hex_value.jpg', squares(...GRAPH_SIZES)], // 1704×2272, portrait
      ['Canon_40D.jpg', squares(48, 64)], // ≈100×70: the tiny camera files
      ['Nikon_D70.jpg', squares(48, 64)],
      ['Pentax_K10D.jpg', squares(48, 64)],
      ['Konica_Minolta_DiMAGE_Z3.jpg', squares(48, 64)],
    ];
    for (const [name, expected] of cases) {
      const rendered = await upload(photo(name));
      assert.deepEqual(ids(rendered.sizes), expected, name);
      assert.deepEqual(rendered.primary, { width: rendered.sizes.at(-1)!.width, height: rendered.sizes.at(-1)!.height });
      await assertClean(rendered);
    }
  });

  it('keeps a small master that still holds 648 px on its short side (4608×1976 phone photo)', async () => {
    const rendered = await upload(photo('mobile-HMD_Nokia_8.3_5G.jpg'));
    assert.deepEqual(ids(rendered.sizes), squares(...GRAPH_SIZES));
    assert.deepEqual(rendered.primary, { width: 648, height: 648 });
    assert.ok(Math.min(rendered.master.width, rendered.master.height) >= 648);
    assert.ok(Math.abs(rendered.master.width / rendered.master.height - 4608 / 1976) < 0.01, 'aspect ratio kept');
    await assertClean(rendered);
  });

  it('keeps the master at a 1296 px long side when that leaves ≥ 648 on the short side', async () => {
    const rendered = await upload(photo('tests-22-canon_tags.jpg'));
    assert.deepEqual([rendered.master.width, rendered.master.height], [1296, 972]);
  });

  it('gives an image smaller than 48 px one square of its short side', async () => {
    const rendered = await upload(await solid(30, 20, [[200, 100, 50]]).png().toBuffer());
    assert.deepEqual(ids(rendered.sizes), ['20X20']);
    assert.deepEqual(rendered.primary, { width: 20, height: 20 });
    assert.deepEqual([rendered.master.width, rendered.master.height], [30, 20]);
    await assertClean(rendered);
  });

  it('flattens transparency onto white', async () => {
    // Left half fully transparent red, right half opaque blue.
    const png = await paint(64, 64, (x) => (x < 32 ? [255, 0, 0, 0] : [0, 0, 255, 255])).png().toBuffer();
    assert.equal((await sharp(png).metadata()).hasAlpha, true);
    const square = size(await upload(png), 64);
    assertNear(await pixelAt(square, 4, 32), [255, 255, 255]);
    assertNear(await pixelAt(square, 60, 32), [0, 0, 255]);
  });

  it('turns greyscale-with-alpha, 16-bit and CMYK inputs into 3-channel sRGB', async () => {
    const inputs = [
      await solid(64, 64, [[90, 90, 90, 255]]).toColourspace('b-w').png().toBuffer(),
      await solid(64, 64, [[90, 90, 90]]).toColourspace('rgb16').png().toBuffer(),
      await solid(64, 64, [[48, 128, 192]]).toColourspace('cmyk').jpeg().toBuffer(),
    ];
    for (const input of inputs) await assertClean(await upload(input));
  });

  it('converts an embedded colour profile to sRGB', async () => {
    // Stored as Display P3 values; shown without the profile they would be a duller green.
    const p3 = await solid(64, 64, [[0, 200, 0]]).withIccProfile('p3').jpeg({ quality: 100 }).toBuffer();
    assertNear(await pixelAt(p3, 0, 0, { ignoreIcc: true }), [90, 197, 59]);
    assertNear(await pixelAt(size(await upload(p3), 64), 32, 32), [0, 200, 0]);
  });

  it('uses the first frame of an animated GIF or WebP, and its frame height for the limit', async () => {
    const animation = solid(64, 64, [[255, 0, 0], [0, 0, 255]]);
    for (const format of ['gif', 'webp'] as const) {
      const bytes = await animation.clone().toFormat(format).toBuffer();
      assert.equal((await sharp(bytes).metadata()).pages, 2, `${format} should be animated`);
      const rendered = await upload(bytes, 64 * 64);
      assert.deepEqual(ids(rendered.sizes), ['48X48', '64X64'], format);
      assertNear(await pixelAt(size(rendered, 64), 32, 32), [255, 0, 0], 12);
      await assertClean(rendered);
    }
  });

  it('accepts WebP and AVIF', async () => {
    const scene = sharp(photo('orientation-landscape_1.jpg'));
    const reference = size(await upload(photo('orientation-landscape_1.jpg')), 96);
    for (const format of ['webp', 'avif'] as const) {
      const rendered = await upload(await scene.clone().toFormat(format, { effort: 0 }).toBuffer());
      assert.deepEqual(ids(rendered.sizes), squares(48, 64, 96, 120, 240, 360, 432), format);
      assert.ok((await meanAbsoluteDifference(reference, size(rendered, 96))) < 8, `${format} shows the same picture`);
      await assertClean(rendered);
    }
  });

  it('refuses formats it does not accept, naming what it detected', async () => {
    const detected = (name: string) => new RegExp(`^Detected ${name}; send JPEG, PNG, WebP, GIF, AVIF or HEIC\\.$`);
    const bmp = Buffer.alloc(64);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(64, 2); // file size
    bmp.writeUInt32LE(54, 10); // pixel data offset
    bmp.writeUInt32LE(40, 14); // BITMAPINFOHEADER
    const random = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 131 + 17) % 251));

    await assertRefused(await solid(16, 16, [[1, 2, 3]]).tiff().toBuffer(), 'UnsupportedImageFormat', detected('TIFF'));
    await assertRefused(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'UnsupportedImageFormat', detected('SVG'));
    await assertRefused(Buffer.from('%PDF-1.4\n%âãÏÓ\n1 0 obj\n<<>>\nendobj\n'), 'UnsupportedImageFormat', detected('PDF'));
    await assertRefused(bmp, 'UnsupportedImageFormat', detected('BMP'));
    await assertRefused(random, 'UnsupportedImageFormat', detected('an unknown format'));
    // An empty body is no format at all: contract §6 lists it under InvalidImage.
    await assertRefused(Buffer.alloc(0), 'InvalidImage', /^The image could not be decoded: the request body is empty\.$/);
  });

  it('refuses a truncated or corrupt image with a short reason', async () => {
    const original = photo('exif-org-canon-ixus.jpg');
    const corrupt = Buffer.from(original);
    for (let i = 20_000; i < 24_000; i++) corrupt[i] = (i * 7) & 0xff; // inside the entropy-coded data
    const png = await sharp(original).png().toBuffer();
    const avif = await sharp(original).avif({ effort: 0 }).toBuffer();

    const invalid = /^The image could not be decoded: the (JPEG|PNG|AVIF) .+\.$/;
    await assertRefused(original.subarray(0, original.length >> 1), 'InvalidImage', invalid);
    await assertRefused(corrupt, 'InvalidImage', invalid);
    await assertRefused(png.subarray(0, png.length >> 1), 'InvalidImage', invalid);
    await assertRefused(avif.subarray(0, avif.length >> 1), 'InvalidImage', invalid);
    await assertRefused(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), 'InvalidImage', invalid);
  });

  it('accepts decodable pixels despite malformed metadata', async () => {
    const rendered = await upload(photo('invalid-image00971.jpg'));
    assert.deepEqual(ids(rendered.sizes), squares(48, 64, 96, 120)); // 636×227
    await assertClean(rendered);
  });

  it('refuses an image over the pixel limit from its header alone', async () => {
    // The PNG holds one row of its 6000: any decode fails, so the limit was checked from the header.
    const huge = pngClaiming(10_000, 6_000);
    await assertRefused(huge, 'ImagePixelLimitExceeded', /^The image is 10000×6000 \(60000000 pixels\); the limit is 50000000\.$/);
    await assertRefused(huge, 'InvalidImage', /^The image could not be decoded: the PNG /, 100_000_000);
    await assertRefused(photo('Canon_40D.jpg'), 'ImagePixelLimitExceeded', /^The image is 100×68 \(6800 pixels\); the limit is 1000\.$/, 1000);
    // Stored 450×600 with orientation 6: reported as the client sees it.
    await assertRefused(photo('orientation-landscape_6.jpg'), 'ImagePixelLimitExceeded', /^The image is 600×450 /, 1000);
  });

  it('refuses a side longer than 16384 pixels from its header alone, within the pixel limit', async () => {
    // One megapixel, far under the limit; its one real row fails any decode, so the side was judged from the header.
    await assertRefused(pngClaiming(100_000, 10), 'ImagePixelLimitExceeded', /^The image is 100000×10; no side may be longer than 16384 pixels\.$/);
    await assertRefused(pngClaiming(10, 16_385), 'ImagePixelLimitExceeded', /^The image is 10×16385; no side may be longer than 16384 pixels\.$/);
    // 16384 itself is a side like any other: decoded (and here found damaged).
    await assertRefused(pngClaiming(16_384, 10), 'InvalidImage', /^The image could not be decoded: the PNG /);
  });
});

describe('renderResize', () => {
  const master = async () => (await upload(photo('tests-22-canon_tags.jpg'))).master;

  it('renders W×H by cover plus the standard squares that fit', async () => {
    const original = await master();
    const cases: [number, number, string[]][] = [
      [99, 99, ['48X48', '64X64', '96X96', '99X99']],
      [5, 6, ['5X6']],
      [300, 100, ['48X48', '64X64', '96X96', '300X100']],
      [240, 240, squares(48, 64, 96, 120, 240)],
    ];
    for (const [width, height, expected] of cases) {
      const rendered = await renderResize(original.bytes, width, height);
      assert.deepEqual(rendered.primary, { width, height });
      assert.deepEqual(ids(rendered.sizes), expected, `${width}×${height}`);
      assert.equal(rendered.master.bytes, original.bytes, 'the master is kept as it is');
      assert.deepEqual([rendered.master.width, rendered.master.height], [original.width, original.height]);
      await assertClean(rendered);
    }
  });

  it('crops the centre of the master', async () => {
    // Red | green | blue thirds: a 100×100 cover crop of a 300×100 master is all green.
    const stripes = await paint(300, 100, (x) => (x < 100 ? [255, 0, 0] : x < 200 ? [0, 255, 0] : [0, 0, 255])).jpeg().toBuffer();
    const rendered = await renderResize(stripes, 100, 100);
    const square = rendered.sizes.find((s) => s.width === 100)!.bytes;
    for (const x of [5, 50, 94]) assertNear(await pixelAt(square, x, 50), [0, 255, 0], 30);
    const wide = rendered.sizes.find((s) => s.width === 96)!.bytes;
    assertNear(await pixelAt(wide, 48, 48), [0, 255, 0], 30);
  });
});

function assertNear(actual: readonly number[], expected: readonly number[], tolerance = 6): void {
  assert.ok(
    actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance),
    `${JSON.stringify(actual)} is not within ${tolerance} of ${JSON.stringify(expected)}`,
  );
}
