// Small files that decode huge (issue 9 §3): what a client sees when an upload's decoder
// would hold more memory than the server grants all uploads together. Each upload is
// budgeted from its header before decoding: within the budget it is rendered as usual
// (waiting for memory others hold, in arrival order), over the whole budget it is a 400
// naming the need and the limit, and a wait that is too long is a 503 with Retry-After.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { loadServeConfig, UsageError } from '../src/config.js';
import { GraphError } from '../src/errors.js';
import { DecodeBudget } from '../src/photos/decode-budget.js';
import { createHarness, type Harness, type HarnessOptions } from './helpers/harness.js';
import { photo, pixelAt, pngClaiming } from './helpers/images.js';

const MiB = 1024 * 1024;
const COLOUR = { r: 40, g: 120, b: 200 };
const NEED = /^Decoding this (\d+)×(\d+) (.+) would take (\d+) MiB of memory; the limit is (\d+) MiB\.$/;

/** A flat image of any size, cheap to make: its encoders squeeze it into a few hundred kB. */
function flat(width: number, height: number, channels: 3 | 4 = 3): Sharp {
  return sharp({ create: { width, height, channels, background: { ...COLOUR, alpha: 1 } }, limitInputPixels: false });
}

/** The three kinds of issue 9: small files whose decoders hold whole frames or all coefficients. */
const BOMBS = {
  'progressive JPEG (4:4:4)': (w: number, h: number) => flat(w, h).jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer(),
  'interlaced 16-bit PNG': (w: number, h: number) => flat(w, h, 4).toColourspace('rgb16').png({ progressive: true }).toBuffer(),
  GIF: (w: number, h: number) => flat(w, h).gif().toBuffer(),
} as const;
type BombKind = keyof typeof BOMBS;

interface Setup {
  readonly h: Harness;
  readonly token: string;
}

async function setup(options: HarnessOptions = {}): Promise<Setup> {
  const h = await createHarness(options);
  const user = await h.user('megan@contoso.com');
  return { h, token: await h.userToken(user, ['User.ReadWrite']) };
}

function upload(s: Setup, payload: Buffer): Promise<LightMyRequestResponse> {
  const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'image/jpeg' };
  return s.h.app.inject({ method: 'PUT', url: '/v1.0/me/photo/$value', headers, payload });
}

async function served(s: Setup): Promise<Buffer> {
  const res = await s.h.app.inject({ method: 'GET', url: '/v1.0/me/photo/$value', headers: { authorization: `Bearer ${s.token}` } });
  assert.equal(res.statusCode, 200, res.body);
  return res.rawPayload;
}

function assertOk(res: LightMyRequestResponse, what: string): void {
  assert.equal(res.statusCode, 200, `${what}: ${res.statusCode} ${res.body}`);
}

/** The 400 that names the image, what it needs and the limit; returns the need in MiB. */
function assertTooLarge(res: LightMyRequestResponse, width: number, height: number, kind: string, limitMiB: number): number {
  assert.equal(res.statusCode, 400, res.body);
  const { error } = res.json() as { error: { code: string; message: string } };
  assert.equal(error.code, 'ImageTooLargeToDecode');
  const match = NEED.exec(error.message);
  assert.ok(match, error.message);
  assert.deepEqual([Number(match[1]), Number(match[2]), match[3], Number(match[5])], [width, height, kind, limitMiB], error.message);
  const need = Number(match[4]);
  assert.ok(need > limitMiB, error.message);
  return need;
}

/** The photo served is the flat colour, as a JPEG (within its rounding). */
async function assertFlatColour(s: Setup, what: string): Promise<void> {
  const image = await served(s);
  const { width, height } = await sharp(image).metadata();
  const centre = await pixelAt(image, Math.floor(width / 2), Math.floor(height / 2));
  for (const [i, expected] of [COLOUR.r, COLOUR.g, COLOUR.b].entries()) {
    assert.ok(Math.abs(centre[i]! - expected) <= 3, `${what}: served ${centre.join(',')}`);
  }
}

/** Turns of the event loop until `done` holds (the uploads in flight reach the budget), unless `work` settles first. */
async function until(done: () => boolean, work: Promise<unknown>): Promise<void> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!done()) {
    if (settled) throw new Error('finished before it ever waited');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('decode bombs at the default budget (192 MiB)', () => {
  let s: Setup;
  const bombs = new Map<BombKind, Buffer>();
  before(async () => {
    s = await setup();
    // 7000×7000 (49 MP, under the 50 MP pixel limit) in 33–600 kB: 0.3–0.5 GB to decode before the budget.
    await Promise.all(Object.entries(BOMBS).map(async ([kind, make]) => bombs.set(kind as BombKind, await make(7000, 7000))));
  });
  after(() => s.h.close());

  it('7000×7000 progressive 4:4:4 JPEG, interlaced 16-bit PNG, GIF → 400 ImageTooLargeToDecode; a progressive 4:2:0 JPEG fits', async () => {
    for (const [kind, bytes] of bombs) assertTooLarge(await upload(s, bytes), 7000, 7000, kind, 192);
    assert.equal(s.h.decodeBudget.peakInUse, 0, 'refused before anything was reserved');
    const res = await s.h.app.inject({ method: 'GET', url: '/v1.0/me/photo', headers: { authorization: `Bearer ${s.token}` } });
    assert.equal(res.statusCode, 404, 'nothing was stored');

    // Half the coefficients of 4:4:4: about 150 MB to decode, within the budget.
    assertOk(await upload(s, await flat(7000, 7000).jpeg({ progressive: true, chromaSubsampling: '4:2:0' }).toBuffer()), 'the 4:2:0 JPEG');
    await assertFlatColour(s, 'the 4:2:0 JPEG');
    assert.ok(s.h.decodeBudget.peakInUse > 128 * MiB, `it reserved ${s.h.decodeBudget.peakInUse} bytes`);
    assert.equal(s.h.decodeBudget.inUse, 0, 'and gave them back');
  });

  it('a progressive JPEG is budgeted by the sampling its frame header states, not by the label libvips gives it', async () => {
    // Every component sampled 2x1: chroma at full resolution, as much as 4:4:4 to decode,
    // though libvips calls any factor over 1 "4:2:0". Written over a 4:4:4 file's SOF2.
    const bytes = await flat(7000, 7000).jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer();
    const sof = bytes.indexOf(Buffer.from([0xff, 0xc2]));
    assert.ok(sof > 0 && bytes[sof + 9] === 3, 'a progressive frame header with three components');
    for (let i = 0; i < 3; i++) bytes[sof + 11 + i * 3] = 0x21;
    const need = assertTooLarge(await upload(s, bytes), 7000, 7000, 'progressive JPEG (2x1,2x1,2x1)', 192);
    assert.ok(need > 300, `as much as 4:4:4 (about 330 MiB), not 4:2:0's 188: ${need} MiB`);
  });

  it('ordinary photos still go through, four at once without waiting: the 4608×1976 phone photo, 12 and 48 MP JPEGs', async () => {
    const photos = [photo('mobile-HMD_Nokia_8.3_5G.jpg'), await flat(4000, 3000).jpeg().toBuffer(), await flat(8000, 6000).jpeg().toBuffer()];
    for (const bytes of photos) assertOk(await upload(s, bytes), 'one at a time');
    const four = await createHarness({ uploadConcurrency: 4 });
    try {
      const user = await four.user('alex@contoso.com');
      const s4 = { h: four, token: await four.userToken(user, ['User.ReadWrite']) };
      const answers = await Promise.all([...photos, photos[2]!].map((bytes) => upload(s4, bytes)));
      answers.forEach((res, i) => assertOk(res, `upload ${i}`));
      assert.equal(four.decodeBudget.waited, 0, 'none waited for memory');
    } finally {
      await four.close();
    }
  });
});

describe('a small budget', () => {
  const limit = 80 * MiB; // fits one 2000×2000 bomb (~52–60 MiB), never two
  let s: Setup;
  before(async () => {
    s = await setup({ uploadConcurrency: 3, decodeBudget: new DecodeBudget({ bytes: limit, maxWaitMs: 60_000 }) });
  });
  after(() => s.h.close());

  it('each bomb kind within it is accepted and rendered correctly', async () => {
    for (const [kind, make] of Object.entries(BOMBS)) {
      assertOk(await upload(s, await make(2000, 2000)), kind);
      await assertFlatColour(s, kind);
    }
    assert.ok(s.h.decodeBudget.peakInUse > 40 * MiB && s.h.decodeBudget.peakInUse <= limit, String(s.h.decodeBudget.peakInUse));
    assert.equal(s.h.decodeBudget.inUse, 0);
  });

  it('an image whose estimate exceeds the whole budget → 400 naming the need and the limit; the same pixels as a baseline JPEG fit', async () => {
    assertTooLarge(await upload(s, await BOMBS['progressive JPEG (4:4:4)'](3000, 3000)), 3000, 3000, 'progressive JPEG (4:4:4)', 80);
    assertTooLarge(await upload(s, await BOMBS['interlaced 16-bit PNG'](3000, 2000)), 3000, 2000, 'interlaced 16-bit PNG', 80);
    assertTooLarge(await upload(s, await BOMBS.GIF(4000, 3000)), 4000, 3000, 'GIF', 80);
    assertOk(await upload(s, await flat(3000, 3000).jpeg().toBuffer()), 'baseline 3000×3000');
  });

  it('concurrent uploads that together exceed it are admitted one after another, and it is whole again afterwards', async () => {
    const budget = s.h.decodeBudget;
    const bombs = await Promise.all([BOMBS['progressive JPEG (4:4:4)'](2000, 2000), BOMBS['interlaced 16-bit PNG'](2000, 2000), BOMBS.GIF(2000, 2000)]);
    // Hold all of it, so that the three must queue; then let go and watch them pass one by one.
    const release = await budget.reserve(limit);
    const waitedBefore = budget.waited;
    const answers = Promise.all(bombs.map((bytes) => upload(s, bytes)));
    await until(() => budget.waiting === 3, answers);
    assert.equal(budget.inUse, limit, 'nothing decodes while the memory is taken');
    release();
    (await answers).forEach((res, i) => assertOk(res, `upload ${i}`));
    assert.equal(budget.waited - waitedBefore, 3);
    assert.ok(budget.peakInUse <= limit, `${budget.peakInUse} bytes reserved at once`);
    assert.equal(budget.inUse, 0);
    assert.equal(budget.waiting, 0);
  });

  it('memory reserved for an upload that fails to decode is given back', async () => {
    const budget = new DecodeBudget({ bytes: limit, maxWaitMs: 5_000 });
    const t = await setup({ decodeBudget: budget });
    try {
      // Its header claims 2000×2000; its data holds one row, so the decode fails after the reservation.
      const res = await upload(t, pngClaiming(2000, 2000));
      assert.equal(res.statusCode, 400, res.body);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'InvalidImage');
      assert.ok(budget.peakInUse > limit / 2, 'it had reserved more than half of the budget');
      assert.equal(budget.inUse, 0);
      // Had it kept its reservation, this one would not fit beside it and would end in 503.
      assertOk(await upload(t, await BOMBS.GIF(2000, 2000)), 'the next upload');
      assert.equal(budget.waited, 0);
    } finally {
      await t.h.close();
    }
  });
});

describe('waiting for memory is bounded', () => {
  it('past the queue or the wait limit → 503 serviceNotAvailable with Retry-After; the photo stays', async () => {
    for (const options of [{ queueLimit: 0 }, { maxWaitMs: 20 }]) {
      const budget = new DecodeBudget({ bytes: 100 * MiB, ...options });
      const s = await setup({ decodeBudget: budget });
      try {
        assertOk(await upload(s, photo('exif-org-canon-ixus.jpg')), 'the photo before');
        const before = await served(s);
        const release = await budget.reserve(100 * MiB);
        const res = await upload(s, photo('mobile-HMD_Nokia_8.3_5G.jpg'));
        assert.equal(res.statusCode, 503, `${JSON.stringify(options)}: ${res.body}`);
        assert.equal((res.json() as { error: { code: string } }).error.code, 'serviceNotAvailable');
        assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/);
        assert.equal(budget.waiting, 0);
        release();
        assert.ok((await served(s)).equals(before));
        assertOk(await upload(s, photo('mobile-HMD_Nokia_8.3_5G.jpg')), 'once the memory is free');
        assert.equal(budget.inUse, 0);
      } finally {
        await s.h.close();
      }
    }
  });
});

describe('DecodeBudget', () => {
  it('grants in arrival order: a small reservation does not pass a large one that waits', async () => {
    const budget = new DecodeBudget({ bytes: 100 });
    const order: string[] = [];
    const releaseA = await budget.reserve(60);
    const b = budget.reserve(60).then((release) => (order.push('b'), release));
    const c = budget.reserve(10).then((release) => (order.push('c'), release));
    await until(() => budget.waiting === 2, Promise.all([b, c]));
    assert.deepEqual([budget.inUse, order], [60, []], 'c fits, but b came first');
    releaseA();
    releaseA(); // a second release gives nothing back twice
    const [releaseB, releaseC] = await Promise.all([b, c]);
    assert.deepEqual([order, budget.inUse, budget.peakInUse, budget.waited], [['b', 'c'], 70, 70, 2]);
    releaseB();
    releaseC();
    assert.equal(budget.inUse, 0);
  });

  it('a waiter that times out lets the ones behind it through', async () => {
    const budget = new DecodeBudget({ bytes: 100, maxWaitMs: 20 });
    const releaseA = await budget.reserve(50);
    const big = budget.reserve(100);
    const small = budget.reserve(30);
    await assert.rejects(big, (error: unknown) => error instanceof GraphError && error.status === 503);
    const releaseSmall = await small;
    assert.equal(budget.inUse, 80);
    releaseA();
    releaseSmall();
    assert.equal(budget.inUse, 0);
  });

  it('refuses a reservation larger than the whole budget instead of waiting forever', async () => {
    await assert.rejects(new DecodeBudget({ bytes: 100 }).reserve(101), RangeError);
  });
});

describe('--decode-memory-mb', () => {
  const argv = ['--no-tls'];
  it('defaults to 192 MiB, or 48 MiB per upload slot when that is more; validated like the other flags', () => {
    assert.equal(loadServeConfig([...argv, '--upload-concurrency', '4']).decodeMemoryBytes, 192 * MiB);
    assert.equal(loadServeConfig([...argv, '--upload-concurrency', '16']).decodeMemoryBytes, 768 * MiB);
    assert.equal(loadServeConfig([...argv, '--decode-memory-mb', '512']).decodeMemoryBytes, 512 * MiB);
    for (const bad of ['0', '63', '1.5', 'lots']) {
      assert.throws(() => loadServeConfig([...argv, '--decode-memory-mb', bad]), (error: unknown) =>
        error instanceof UsageError && error.message === `--decode-memory-mb must be an integer from 64 to 1048576, got '${bad}'`);
    }
  });
});
