// iPhone photos (issue 10 §4): HEIC/HEIF uploads over real HTTP, decoded by libheif in
// WebAssembly, turned upright once, and refused from their boxes alone when they are too
// large or malformed. The made fixtures show orientation-landscape_1.jpg's scene stored
// turned or mirrored (test/fixtures/photos/README.md), so a served image that matches
// that JPEG's was turned upright by the container's transform, and only once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { GraphError } from '../src/errors.js';
import { MalformedHeifError, readHeifHeader, UnsupportedHeifError } from '../src/imaging/heif-header.js';
import { renderUpload } from '../src/imaging/render-photo.js';
import { DecodeBudget } from '../src/photos/decode-budget.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { box, buildHeif, gridDescriptor, ispe, u16, u32, u8 } from './helpers/heif-boxes.js';
import { meanAbsoluteDifference, photo } from './helpers/images.js';

const IPHONE = 'heic-mobile-iphone_13_pro_max.HEIC';

/** An HEVC configuration whose sequence parameter set says width × height (and nothing a decoder could use). */
function hvcC(width: number, height: number, bitDepth = 8): Buffer {
  const bits: number[] = [];
  const put = (value: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) bits.push(Math.floor(value / 2 ** i) % 2);
  };
  const ue = (value: number) => {
    const n = Math.floor(Math.log2(value + 1));
    put(0, n);
    put(value + 1, n + 1);
  };
  put(0, 4); // VPS id
  put(0, 3); // one sub-layer
  put(1, 1);
  put(0x01, 8); // general profile space, tier, profile (Main)
  put(0, 88); // flags and level
  ue(0); // SPS id
  ue(1); // 4:2:0
  ue(width);
  ue(height);
  put(0, 1); // no conformance window
  ue(bitDepth - 8);
  put(1, 1); // stop bit
  while (bits.length % 8) bits.push(0);
  const rbsp = Buffer.from(Array.from({ length: bits.length / 8 }, (_, i) => parseInt(bits.slice(i * 8, i * 8 + 8).join(''), 2)));
  const nal = Buffer.concat([Buffer.from([0x42, 0x01]), rbsp]);
  return box('hvcC', Buffer.alloc(22), u8(1), u8(33), u16(1), u16(nal.length), nal);
}

/** A one-image HEIC that claims width × height but holds no decodable HEVC. */
function claiming(width: number, height: number, coded = { width, height }): Buffer {
  return buildHeif({ primary: 1, items: [{ id: 1, type: 'hvc1', data: Buffer.alloc(64, 0x55), properties: [hvcC(coded.width, coded.height), ispe(width, height)] }] });
}

/** The Graph error envelope of an answer. */
async function graphError(res: Response): Promise<{ code: string; message: string }> {
  const { code, message } = ((await res.json()) as { error: { code: string; message: string } }).error;
  return { code, message };
}

async function assertRefused(bytes: Buffer, code: string, message: RegExp, pixelLimit = 50_000_000): Promise<void> {
  await assert.rejects(renderUpload(bytes, { pixelLimit }), (error: unknown) => {
    assert.ok(error instanceof GraphError, `not a GraphError: ${String(error)}`);
    assert.equal(error.status, 400);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

describe('HEIC uploads over HTTP', () => {
  let h: Harness;
  let base: string;
  let auth: { authorization: string };
  let appAuth: { authorization: string };
  let groupId: string;
  let aliceId: string;
  let reference96: Buffer;
  before(async () => {
    h = await createHarness();
    const alice = await h.user('alice@contoso.com');
    aliceId = alice.id;
    auth = { authorization: `Bearer ${await h.userToken(alice, ['User.ReadWrite'])}` };
    appAuth = { authorization: `Bearer ${await h.appToken(['User.ReadWrite.All', 'Group.ReadWrite.All'])}` };
    groupId = (await h.directory.createGroup(h.tenantId, { displayName: 'Photographers', mailNickname: 'photographers', description: null })).id;
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const rendered = await renderUpload(photo('orientation-landscape_1.jpg'), { pixelLimit: 50_000_000 });
    reference96 = rendered.sizes.find((s) => s.width === 96)!.bytes;
  });
  after(() => h.close());

  const put = (path: string, body: Buffer, headers: Record<string, string> = auth) =>
    fetch(`${base}/v1.0${path}/photo/$value`, { method: 'PUT', headers: { ...headers, 'content-type': 'image/heic' }, body });
  const get = async (path: string, headers: Record<string, string> = auth) => {
    const res = await fetch(`${base}/v1.0${path}`, { headers });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
  };

  it('takes the real iPhone photo: upright (irot), portrait, EXIF orientation not applied again', async () => {
    const res = await put('/me', photo(IPHONE));
    assert.equal(res.status, 200, await res.text());
    const meta = JSON.parse((await get('/me/photo')).body.toString()) as { id: string };
    assert.equal(meta.id, '648X648');
    const value = await get('/me/photo/$value');
    assert.equal(value.type, 'image/jpeg');
    const served = await sharp(value.body).metadata();
    assert.deepEqual([served.format, served.width, served.height, served.exif, served.icc], ['jpeg', 648, 648, undefined, undefined]);
    // The kept master is 972×1296 (portrait, stored 4032×3024 and turned by irot): a resize
    // to its full portrait size works, the landscape one (what turning twice would give) is refused.
    const portrait = await fetch(`${base}/v1.0/me/photo`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: '{"width":972,"height":1296}' });
    assert.equal(portrait.status, 200, await portrait.text());
    const landscape = await fetch(`${base}/v1.0/me/photo`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: '{"width":1296,"height":972}' });
    assert.equal(landscape.status, 400);
    assert.equal((await graphError(landscape)).code, 'InvalidPropertyValue');
  });

  it('serves the same picture as the JPEG it was made from: turned by irot once, though EXIF says Orientation 6 too', async () => {
    const res = await put('/me', photo('heic-made-landscape-irot-exif6.heic'));
    assert.equal(res.status, 200, await res.text());
    const served = (await get('/me/photos/96x96/$value')).body;
    assert.ok((await meanAbsoluteDifference(served, reference96)) < 6, 'the served 96×96 looks like the upright JPEG');
    const turnedTwice = await sharp(reference96).rotate(90).toBuffer();
    assert.ok((await meanAbsoluteDifference(served, turnedTwice)) > 30, 'and not like it turned once more');
  });

  it('puts a mirrored grid of tiles back together for a group, and a 10-bit HEIC through $batch', async () => {
    const res = await put(`/groups/${groupId}`, photo('heic-made-landscape-grid-imir.heic'), appAuth);
    assert.equal(res.status, 200, await res.text());
    const grid = (await get(`/groups/${groupId}/photos/96x96/$value`, appAuth)).body;
    assert.ok((await meanAbsoluteDifference(grid, reference96)) < 8);

    const batch = await fetch(`${base}/v1.0/$batch`, {
      method: 'POST',
      headers: { ...appAuth, 'content-type': 'application/json' },
      body: JSON.stringify({
        requests: [{ id: '1', method: 'PUT', url: `/users/${aliceId}/photo/$value`, headers: { 'content-type': 'image/heic' }, body: photo('heic-made-landscape-10bit.heic').toString('base64') }],
      }),
    });
    assert.equal(batch.status, 200);
    const answer = ((await batch.json()) as { responses: { status: number }[] }).responses[0]!;
    assert.equal(answer.status, 200, JSON.stringify(answer));
    const tenBit = (await get('/me/photos/96x96/$value')).body;
    assert.ok((await meanAbsoluteDifference(tenBit, reference96)) < 6);
  });

  it('refuses a truncated HEIC, and one whose HEVC is garbage, with 400 InvalidImage; the photo stays', async () => {
    const before = (await get('/me/photo/$value')).body;
    const whole = photo(IPHONE);
    const truncated = await put('/me', whole.subarray(0, Math.floor(whole.length / 2)));
    assert.equal(truncated.status, 400);
    assert.deepEqual(await graphError(truncated), {
      code: 'InvalidImage',
      message: "The image could not be decoded: the HEIC file is truncated: its 'mdat' box runs past its end.",
    });
    // Boxes intact, coded data zeroed: only the decoder can tell.
    const garbage = Buffer.from(photo('heic-made-landscape-irot-exif6.heic'));
    garbage.fill(0, garbage.indexOf('mdat', 0, 'latin1') + 4);
    const corrupt = await put('/me', garbage);
    assert.equal(corrupt.status, 400);
    assert.deepEqual(await graphError(corrupt), { code: 'InvalidImage', message: 'The image could not be decoded: the HEIC data is corrupt or truncated.' });
    assert.deepEqual((await get('/me/photo/$value')).body, before);
  });

  it('refuses a HEIC over the pixel limit from its header, before decoding', async () => {
    // Its HEVC is not decodable: a decode would have answered InvalidImage.
    const res = await put('/me', claiming(10_000, 8_000));
    assert.equal(res.status, 400);
    assert.deepEqual(await graphError(res), { code: 'ImagePixelLimitExceeded', message: 'The image is 10000×8000 (80000000 pixels); the limit is 50000000.' });
  });

  it('still refuses TIFF, naming it', async () => {
    const tiff = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#123456' } }).tiff().toBuffer();
    const res = await put('/me', tiff);
    assert.equal(res.status, 400);
    assert.deepEqual(await graphError(res), { code: 'UnsupportedImageFormat', message: 'Detected TIFF; send JPEG, PNG, WebP, GIF, AVIF or HEIC.' });
  });
});

describe('HEIC limits', () => {
  it('counts the upright size against the pixel limit: the iPhone photo is 3024×4032', async () => {
    await assertRefused(photo(IPHONE), 'ImagePixelLimitExceeded', /^The image is 3024×4032 \(12192768 pixels\); the limit is 12000000\.$/, 12_000_000);
  });

  it('refuses a coded picture larger than the ispe claims (what the decoder would allocate)', async () => {
    await assertRefused(claiming(64, 64, { width: 60_000, height: 60_000 }), 'ImagePixelLimitExceeded', /^The image is 60000×60000 /);
    await assertRefused(claiming(64, 64, { width: 20_000, height: 64 }), 'ImagePixelLimitExceeded', /no side may be longer than 16384 pixels/);
  });

  it('reserves its decode memory first: a budget too small for a 12 MP HEIC refuses it, naming it', async () => {
    const h = await createHarness({ decodeBudget: new DecodeBudget({ bytes: 128 * 1024 * 1024 }) });
    try {
      const alice = await h.user('alice@contoso.com');
      const res = await h.app.inject({ method: 'PUT', url: '/v1.0/me/photo/$value', headers: { authorization: `Bearer ${await h.userToken(alice, ['User.ReadWrite'])}` }, payload: photo(IPHONE) });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error.code, 'ImageTooLargeToDecode');
      assert.match(res.json().error.message, /^Decoding this 4032×3024 8-bit HEIC, 48 tiles would take \d+ MiB of memory; the limit is 128 MiB\.$/);
      assert.equal(h.decodeBudget.inUse, 0);
    } finally {
      await h.close();
    }
  });

  it('fits the default budget of a 2-core server (192 MiB): an iPhone photo is never refused for memory', async () => {
    let reserved = 0;
    const memory = { limit: 192 * 1024 * 1024, reserve: async (bytes: number) => ((reserved = bytes), () => undefined) };
    await renderUpload(photo(IPHONE), { pixelLimit: 50_000_000, memory });
    assert.ok(reserved > 130 * 1024 * 1024 && reserved < 192 * 1024 * 1024, `reserved ${reserved}`);
  });
});

describe('hostile HEIF boxes', () => {
  const tile = () => ({ id: 1, type: 'hvc1', data: Buffer.alloc(8), hidden: true, properties: [hvcC(256, 256), ispe(256, 256)] });
  const malformed: readonly { name: string; bytes: () => Buffer; message: RegExp }[] = [
    { name: 'no meta box', bytes: () => box('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1')), message: /no 'meta' box/ },
    {
      name: 'a box longer than the file',
      bytes: () => {
        const file = claiming(64, 64);
        file.writeUInt32BE(0x7fffffff, file.indexOf('meta', 0, 'latin1') - 4);
        return file;
      },
      message: /file is truncated: its 'meta' box runs past its end/,
    },
    {
      name: 'a 64-bit box size past the end',
      bytes: () => Buffer.concat([box('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1')), u32(1), Buffer.from('meta'), Buffer.from('7fffffffffffffff', 'hex')]),
      message: /file is truncated: its 'meta' box runs past its end/,
    },
    {
      name: 'a box of 4 bytes (which would loop)',
      bytes: () => Buffer.concat([box('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1')), u32(4), Buffer.from('meta'), Buffer.alloc(64)]),
      message: /a box of 4 bytes/,
    },
    {
      name: 'a billion items',
      bytes: () => {
        const file = claiming(64, 64);
        file.writeUInt32BE(1_000_000_000, file.indexOf('ipma', 0, 'latin1') + 8);
        return file;
      },
      message: /assigns properties to 1000000000 items/,
    },
    {
      name: 'a property index past the properties',
      bytes: () => {
        const file = claiming(64, 64);
        file[file.indexOf('ipma', 0, 'latin1') + 15] = 0x80 | 100; // after version, flags, count, item id and its association count
        return file;
      },
      message: /assigns property 100 of 2/,
    },
    {
      name: 'a grid that is larger than its ispe',
      bytes: () =>
        buildHeif({
          primary: 10,
          items: [{ id: 10, type: 'grid', data: gridDescriptor(1, 1, 60_000, 60_000), properties: [ispe(256, 256)] }, tile()],
          references: [{ type: 'dimg', from: 10, to: [1] }],
        }),
      message: /grid is 60000×60000 but its ispe says 256×256/,
    },
    {
      name: 'a grid with fewer tiles than cells',
      bytes: () =>
        buildHeif({
          primary: 10,
          items: [{ id: 10, type: 'grid', data: gridDescriptor(16, 16, 4096, 4096), properties: [ispe(4096, 4096)] }, tile()],
          references: [{ type: 'dimg', from: 10, to: [1] }],
        }),
      message: /grid has 16×16 cells but 1 tiles/,
    },
    {
      name: 'a grid whose tiles leave a whole row outside the canvas',
      bytes: () =>
        buildHeif({
          primary: 10,
          items: [{ id: 10, type: 'grid', data: gridDescriptor(2, 1, 256, 200), properties: [ispe(256, 200)] }, tile(), { ...tile(), id: 2 }],
          references: [{ type: 'dimg', from: 10, to: [1, 2] }],
        }),
      message: /do not fit its 256×200 canvas/,
    },
    {
      name: 'a grid descriptor past the end of idat',
      bytes: () =>
        buildHeif({ primary: 10, items: [{ id: 10, type: 'grid', data: Buffer.alloc(3), properties: [ispe(256, 256)] }, tile()], references: [{ type: 'dimg', from: 10, to: [1] }] }),
      message: /grid descriptor past its end/,
    },
    { name: 'no ispe', bytes: () => buildHeif({ primary: 1, items: [{ id: 1, type: 'hvc1', data: Buffer.alloc(8), properties: [hvcC(64, 64)] }] }), message: /item 1 has no size \(ispe\)/ },
    {
      name: 'a primary item it does not describe',
      bytes: () => {
        const file = claiming(64, 64);
        file.writeUInt16BE(7, file.indexOf('pitm', 0, 'latin1') + 8);
        return file;
      },
      message: /names item 7, which it does not describe/,
    },
    {
      name: 'a sequence parameter set cut short',
      bytes: () => buildHeif({ primary: 1, items: [{ id: 1, type: 'hvc1', data: Buffer.alloc(8), properties: [box('hvcC', Buffer.alloc(22), u8(1), u8(33), u16(1), u16(3), Buffer.from([0x42, 0x01, 0x01])), ispe(64, 64)] }] }),
      message: /truncated HEVC sequence parameter set/,
    },
  ];

  for (const { name, bytes, message } of malformed) {
    it(`400 InvalidImage for ${name}`, async () => {
      await assertRefused(bytes(), 'InvalidImage', new RegExp(`^The image could not be decoded: the HEIC .*${message.source}.*\\.$`));
    });
  }

  it('names a HEIF whose image is not HEVC', async () => {
    const jpegInHeif = buildHeif({ primary: 1, items: [{ id: 1, type: 'jpeg', data: Buffer.alloc(8), properties: [ispe(64, 64)] }] });
    await assertRefused(jpegInHeif, 'UnsupportedImageFormat', /^Detected HEIF with 'jpeg' images; send JPEG, PNG, WebP, GIF, AVIF or HEIC\.$/);
  });

  it('decodes an HEVC HEIC behind an AVIF brand', async () => {
    const disguised = Buffer.from(photo('heic-made-landscape-10bit.heic'));
    disguised.write('avif', 8, 'latin1');
    const rendered = await renderUpload(disguised, { pixelLimit: 50_000_000 });
    assert.deepEqual([rendered.master.width, rendered.master.height], [600, 450]);
  });

  it('reads thousands of mutated headers without a crash or a hang: each is read or refused as malformed', () => {
    const original = photo('heic-made-landscape-grid-imir.heic');
    const metaEnd = original.indexOf('mdat', 0, 'latin1');
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const started = performance.now();
    for (let i = 0; i < 5000; i++) {
      const file = Buffer.from(original);
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) file[Math.floor(random() * metaEnd)] = Math.floor(random() * 256);
      try {
        readHeifHeader(file);
      } catch (error) {
        assert.ok(error instanceof MalformedHeifError || error instanceof UnsupportedHeifError, `threw ${String(error)}`);
      }
    }
    assert.ok(performance.now() - started < 5000, 'bounded in time');
  });

  it('reads what an iPhone writes: a 48-tile grid, irot 270°, 8 bits, no alpha', () => {
    const header = readHeifHeader(photo(IPHONE));
    assert.deepEqual(header.frame, { width: 4032, height: 3024 });
    assert.deepEqual(header.oriented, { width: 3024, height: 4032 });
    assert.deepEqual([header.rotation, header.mirrored, header.bitDepth, header.alpha, header.tiles], [270, false, 8, false, 48]);
    assert.deepEqual(header.coded[0], { width: 512, height: 512 });
  });
});
