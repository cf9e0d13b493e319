// Atomic updates under concurrency: many writers and readers of one owner's photo
// at once, over a real listening server so that the requests truly overlap. Every
// version is written whole (all sizes of one upload, with its ETag), readers never
// see a mix, and of writers racing with the same If-Match exactly one wins — on
// SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GraphError } from '../src/errors.js';
import { sizesForResize } from '../src/imaging/graph-sizes.js';
import { renderResize, renderUpload } from '../src/imaging/render-photo.js';
import { PhotoService } from '../src/photos/photo-service.js';
import type { PhotoOwner, Store } from '../src/storage/store.js';
import { createHarness, type Harness } from './helpers/harness.js';
import { postgresUnavailable } from './helpers/postgres.js';
import {
  decode,
  describeColour,
  matchColour,
  PALETTE,
  photoSnapshot,
  request,
  solidJpeg,
  wholeness,
  type Rgb,
} from './helpers/server-process.js';

const RACERS = 16;
const pgSkip = await postgresUnavailable();

// 17 clearly distinct colours: 16 racers and one for the photo they replace.
const COLOURS: readonly Rgb[] = Array.from({ length: RACERS + 1 }, (_, i) => PALETTE[(i * 23) % PALETTE.length]!);
const INITIAL = RACERS;

interface Res {
  readonly status: number;
  readonly etag: string | null;
  readonly body: string;
}

async function send(url: string, init: RequestInit): Promise<Res> {
  const res = await request(url, init);
  return { status: res.status, etag: res.headers.get('etag'), body: await res.text() };
}

function errorCode(res: Res): string | undefined {
  try {
    return (JSON.parse(res.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

function raceSuite(database: 'sqlite' | 'postgres', skip: string | undefined): void {
  describe(`atomic photo updates under concurrency (${database})`, { skip: skip ?? false, timeout: 120_000 }, () => {
    let h: Harness;
    let base: string;
    let auth: Record<string, string>;
    let uploads: Buffer[];
    let owner = 0;

    before(async () => {
      // Every racer is admitted at once: the store, not the upload gate, must serialise them.
      h = await createHarness({ database, uploadConcurrency: RACERS, uploadQueueLimit: 64 });
      await h.app.listen({ port: 0, host: '127.0.0.1' });
      const address = h.app.server.address();
      assert.ok(address && typeof address === 'object');
      base = `http://127.0.0.1:${address.port}/v1.0`;
      auth = { authorization: `Bearer ${await h.appToken(['User.ReadWrite.All'])}` };
      uploads = await Promise.all(COLOURS.map((c) => solidJpeg(c, 700)));
    });
    after(() => h?.close());

    /** A new user, so every test starts from its own owner. */
    async function newOwner(): Promise<string> {
      const user = await h.user(`racer${owner++}@contoso.com`);
      return `${base}/users/${user.id}`;
    }

    function put(ownerUrl: string, colour: number, headers: Record<string, string> = {}): Promise<Res> {
      return send(`${ownerUrl}/photo/$value`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'image/jpeg', ...headers },
        body: uploads[colour]!,
      });
    }

    async function assertWhole(ownerUrl: string): Promise<{ etag: string; colour: number; width: number }> {
      const snapshot = await photoSnapshot(ownerUrl, auth);
      const { problems, colour } = wholeness(snapshot, COLOURS);
      assert.deepEqual(problems, [], `the photo is not one whole version: ${JSON.stringify(snapshot.body)}`);
      assert.ok(snapshot.etag && snapshot.width);
      return { etag: snapshot.etag, colour, width: snapshot.width };
    }

    it('16 concurrent PUTs leave exactly one upload, whole, and readers never see a mix', async () => {
      const ownerUrl = await newOwner();
      const first = await put(ownerUrl, INITIAL);
      assert.equal(first.status, 200, first.body);

      // What readers saw: for every ETag, the colours and the sizes its bytes showed.
      const seen: { etag: string; path: string; colour: number; width: number; height: number; mean: Rgb }[] = [];
      const metadataSeen: { etag: string; width: number; height: number }[] = [];
      const readProblems: string[] = [];
      let writing = true;
      const paths = ['/photo/$value', '/photos/48x48/$value', '/photos/648x648/$value', '/photos/240x240/$value', '/photo'];
      const reader = async (offset: number) => {
        for (let i = offset; writing; i++) {
          const path = paths[i % paths.length]!;
          const res = await request(`${ownerUrl}${path}`, { headers: auth });
          const bytes = Buffer.from(await res.arrayBuffer());
          if (res.status !== 200) {
            readProblems.push(`GET ${path} answered ${res.status} during the race: ${bytes.toString('utf8')}`);
            continue;
          }
          const etag = res.headers.get('etag') ?? '';
          if (path === '/photo') {
            const body = JSON.parse(bytes.toString('utf8')) as { '@odata.mediaEtag': string; width: number; height: number };
            if (body['@odata.mediaEtag'] !== etag) readProblems.push(`/photo: ETag header ${etag} but mediaEtag ${body['@odata.mediaEtag']}`);
            metadataSeen.push({ etag, width: body.width, height: body.height });
            continue;
          }
          const decoded = await decode(bytes);
          seen.push({ etag, path, colour: matchColour(decoded.mean, COLOURS), width: decoded.width, height: decoded.height, mean: decoded.mean });
        }
      };
      const readers = [0, 1, 2, 3].map((i) => reader(i));
      const racers = Array.from({ length: RACERS }, (_, colour) => put(ownerUrl, colour));
      const results = await Promise.all(racers);
      writing = false;
      await Promise.all(readers);

      const etagColour = new Map<string, number>([[first.etag ?? '', INITIAL]]);
      results.forEach((res, colour) => {
        assert.equal(res.status, 200, `PUT of colour ${colour}: ${res.body}`);
        assert.match(res.etag ?? '', /^"[0-9A-F]{16}"$/);
        assert.ok(!etagColour.has(res.etag ?? ''), `ETag ${res.etag} given to two versions`);
        etagColour.set(res.etag ?? '', colour);
      });

      // After: exactly one of the uploads, every size of it.
      const final = await assertWhole(ownerUrl);
      assert.ok(etagColour.has(final.etag), `final ETag ${final.etag} is none of the uploads'`);
      assert.notEqual(etagColour.get(final.etag), INITIAL, 'the photo is still the one replaced 16 times');
      assert.equal(final.colour, etagColour.get(final.etag), 'the bytes are not the upload the ETag names');

      // During: every ETag read showed one colour, the one of the upload it names, at its size.
      assert.deepEqual(readProblems, []);
      assert.ok(seen.length > 0, 'no $value read completed during the race');
      const byEtag = new Map<string, Set<number>>();
      for (const read of seen) {
        const expected = etagColour.get(read.etag);
        assert.notEqual(expected, undefined, `a read during the race got ETag ${read.etag}, which no write returned`);
        assert.equal(
          read.colour,
          expected,
          `GET ${read.path} during the race: ETag ${read.etag} (colour ${expected}) but the bytes show ${describeColour(read.mean)}`,
        );
        const wanted = read.path === '/photo/$value' ? 648 : Number(/photos\/(\d+)x/.exec(read.path)?.[1]);
        assert.deepEqual([read.width, read.height], [wanted, wanted], `GET ${read.path} during the race`);
        byEtag.set(read.etag, (byEtag.get(read.etag) ?? new Set()).add(read.colour));
      }
      for (const [etag, colours] of byEtag) assert.equal(colours.size, 1, `ETag ${etag} was served with colours ${[...colours].join(', ')}`);
      for (const meta of metadataSeen) {
        assert.ok(etagColour.has(meta.etag), `metadata during the race named ETag ${meta.etag}, which no write returned`);
        assert.deepEqual([meta.width, meta.height], [648, 648]);
      }
    });

    it('16 PUTs racing with the same If-Match: exactly one 200, fifteen 412 resourceModified', async () => {
      const ownerUrl = await newOwner();
      const first = await put(ownerUrl, INITIAL);
      assert.equal(first.status, 200, first.body);
      const ifMatch = first.etag ?? '';

      const results = await Promise.all(Array.from({ length: RACERS }, (_, colour) => put(ownerUrl, colour, { 'if-match': ifMatch })));
      const winners = results.flatMap((res, colour) => (res.status === 200 ? [{ res, colour }] : []));
      const losers = results.filter((res) => res.status !== 200);
      assert.equal(winners.length, 1, `expected exactly one 200, got ${winners.length}: ${results.map((r) => r.status).join(' ')}`);
      for (const loser of losers) {
        assert.equal(loser.status, 412, loser.body);
        assert.equal(errorCode(loser), 'resourceModified', loser.body);
      }

      const winner = winners[0]!;
      const final = await assertWhole(ownerUrl);
      assert.equal(final.etag, winner.res.etag, 'the photo is not the winning upload');
      assert.equal(final.colour, winner.colour, 'the bytes are not the winning upload');
    });

    it('16 PATCH resizes racing with the same If-Match: exactly one 200, and the photo is that size', async () => {
      const ownerUrl = await newOwner();
      const first = await put(ownerUrl, INITIAL);
      assert.equal(first.status, 200, first.body);
      const ifMatch = first.etag ?? '';
      // 60…615, none of them the current 648.
      const widths = Array.from({ length: RACERS }, (_, i) => 60 + 37 * i);

      const results = await Promise.all(
        widths.map((width) =>
          send(`${ownerUrl}/photo`, {
            method: 'PATCH',
            headers: { ...auth, 'content-type': 'application/json', 'if-match': ifMatch },
            body: JSON.stringify({ width, height: width }),
          }),
        ),
      );
      const winners = results.flatMap((res, i) => (res.status === 200 ? [{ res, width: widths[i]! }] : []));
      assert.equal(winners.length, 1, `expected exactly one 200, got ${winners.length}: ${results.map((r) => r.status).join(' ')}`);
      for (const loser of results.filter((res) => res.status !== 200)) {
        assert.equal(loser.status, 412, loser.body);
        assert.equal(errorCode(loser), 'resourceModified', loser.body);
      }

      const winner = winners[0]!;
      const final = await assertWhole(ownerUrl);
      assert.equal(final.etag, winner.res.etag);
      assert.equal(final.width, winner.width, 'the photo is not the size the winning PATCH asked for');
      assert.equal(final.colour, INITIAL);
      const snapshot = await photoSnapshot(ownerUrl, auth);
      assert.deepEqual(
        snapshot.sizes.map((s) => [s.width, s.height]),
        sizesForResize(winner.width, winner.width).map((s) => [s.width, s.height]),
      );
    });

    it('a PATCH resize racing a PUT with the same If-Match: exactly one wins', async () => {
      const ownerUrl = await newOwner();
      for (let round = 0; round < 8; round++) {
        const first = await put(ownerUrl, INITIAL);
        assert.equal(first.status, 200, first.body);
        const ifMatch = first.etag ?? '';
        const colour = round;
        const [patch, upload] = await Promise.all([
          send(`${ownerUrl}/photo`, {
            method: 'PATCH',
            headers: { ...auth, 'content-type': 'application/json', 'if-match': ifMatch },
            body: JSON.stringify({ width: 300, height: 300 }),
          }),
          put(ownerUrl, colour, { 'if-match': ifMatch }),
        ]);
        const statuses = [patch.status, upload.status].sort();
        assert.deepEqual(statuses, [200, 412], `round ${round}: PATCH ${patch.status} ${patch.body}, PUT ${upload.status} ${upload.body}`);
        const final = await assertWhole(ownerUrl);
        if (patch.status === 200) {
          assert.equal(final.etag, patch.etag);
          assert.deepEqual([final.width, final.colour], [300, INITIAL]);
        } else {
          assert.equal(final.etag, upload.etag);
          assert.deepEqual([final.width, final.colour], [648, colour]);
        }
      }
    });

    it('a PATCH resize whose version is replaced while it reads the master fails 412 (forced interleaving)', async () => {
      // The HTTP races above rarely land an upload in the gap between the resize's
      // precondition check and its read of the master; this forces that order.
      const user = await h.user(`interleave${owner++}@contoso.com`);
      const photoOwner: PhotoOwner = { tenantId: h.tenantId, type: 'user', id: user.id };
      const renderer = { renderUpload, renderResize };
      const plain = new PhotoService(h.store, renderer, { pixelLimit: 50_000_000 });
      let reached!: () => void;
      const atMaster = new Promise<void>((resolve) => (reached = resolve));
      let release!: () => void;
      const paused = new Promise<void>((resolve) => (release = resolve));
      const pausing = new Proxy(h.store, {
        get(target, property) {
          if (property === 'getMaster') {
            return async (o: PhotoOwner) => {
              reached();
              await paused;
              return target.getMaster(o);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      }) as Store;
      const slow = new PhotoService(pausing, renderer, { pixelLimit: 50_000_000 });

      const e0 = (await plain.upload(photoOwner, uploads[INITIAL]!, {})).etag;
      const resizing = slow.resize(photoOwner, { width: 300, height: 300 }, { ifMatch: [e0] });
      const outcome = resizing.then(
        (info) => ({ ok: true as const, info }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      await atMaster; // the resize has checked If-Match against e0 and now reads the master
      const e1 = (await plain.upload(photoOwner, uploads[0]!, { ifMatch: [e0] })).etag;
      release();
      const result = await outcome;

      const final = await h.store.getPhoto(photoOwner);
      const primary = await h.store.getPhotoContent(photoOwner, 'primary');
      const shown = primary && matchColour((await decode(primary.bytes)).mean, COLOURS);
      const state = `photo now ${final?.etag} ${final?.primary.width}x${final?.primary.height} showing colour ${shown} (upload e1=${e1}, colour 0)`;
      assert.ok(
        !result.ok && result.error instanceof GraphError && result.error.status === 412,
        `PATCH with If-Match ${e0} succeeded after a PUT with the same If-Match had replaced that version: ` +
          `${result.ok ? `200, new ETag ${result.info.etag}` : String(result.error)}; ${state}`,
      );
      assert.equal(final?.etag, e1, state);
      assert.equal(shown, 0, state);
    });

    it('a DELETE racing a PUT with the same If-Match: exactly one wins, and the photo shows which', async () => {
      const ownerUrl = await newOwner();
      const wins = { delete: 0, put: 0 };
      for (let round = 0; round < 10; round++) {
        const first = await put(ownerUrl, INITIAL);
        assert.equal(first.status, 200, first.body);
        const ifMatch = first.etag ?? '';
        const colour = round;
        const [removal, upload] = await Promise.all([
          send(`${ownerUrl}/photo`, { method: 'DELETE', headers: { ...auth, 'if-match': ifMatch } }),
          put(ownerUrl, colour, { 'if-match': ifMatch }),
        ]);
        const outcome = `round ${round}: DELETE ${removal.status} ${removal.body}, PUT ${upload.status} ${upload.body}`;
        assert.deepEqual([removal.status, upload.status].sort(), [200, 412], outcome);
        const loser = removal.status === 200 ? upload : removal;
        assert.equal(errorCode(loser), 'resourceModified', outcome);
        if (removal.status === 200) {
          wins.delete++;
          const snapshot = await photoSnapshot(ownerUrl, auth);
          assert.equal(snapshot.status, 404, outcome);
          assert.equal((snapshot.body as { error?: { code?: string } }).error?.code, 'ImageNotFound');
          assert.deepEqual(snapshot.sizes, [], 'a deleted photo still lists sizes');
          const value = snapshot.served[0]!;
          assert.equal(value.status, 404, 'a deleted photo still has bytes');
          for (const size of ['48x48', '648x648']) {
            const res = await request(`${ownerUrl}/photos/${size}/$value`, { headers: auth });
            await res.arrayBuffer();
            assert.equal(res.status, 404, `${size} of a deleted photo`);
          }
        } else {
          wins.put++;
          const final = await assertWhole(ownerUrl);
          assert.equal(final.etag, upload.etag, outcome);
          assert.equal(final.colour, colour, outcome);
        }
      }
      // Which order the rounds took is up to the scheduler; both are fine.
      assert.equal(wins.delete + wins.put, 10);
    });
  });
}

raceSuite('sqlite', undefined);
raceSuite('postgres', pgSkip);
