// Several nodes are one service: two real `portrait serve` processes on one
// PostgreSQL database, sharing nothing else but the issuer's key. What one node
// writes, the other serves as soon as it has heard the commit's notice (LISTEN/NOTIFY:
// milliseconds; the tests allow HEARD_WITHIN_MS) — bytes, sizes and ETag, never a mix —
// and conditional requests see the other node's writes at once, since every write is
// checked in the database. PostgreSQL only.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createScratchDatabase, postgresUnavailable } from './helpers/postgres.js';
import {
  cliToken,
  decode,
  matchColour,
  PALETTE,
  photoSnapshot,
  request,
  solidJpeg,
  startServer,
  wholeness,
  type Rgb,
  type ServerProcess,
} from './helpers/server-process.js';

const pgSkip = await postgresUnavailable();

/** How soon the other node must serve a committed change (its notice travels in milliseconds). */
const HEARD_WITHIN_MS = 1000;

const COLOURS: readonly Rgb[] = Array.from({ length: 12 }, (_, i) => PALETTE[(i * 29 + 3) % PALETTE.length]!);

interface Res {
  readonly status: number;
  readonly etag: string | null;
  readonly body: Buffer;
}

describe('several nodes are one service (postgres)', { skip: pgSkip ?? false, timeout: 120_000 }, () => {
  const dirs: string[] = [];
  let drop: (() => Promise<void>) | undefined;
  const nodes: ServerProcess[] = [];
  let a: ServerProcess;
  let b: ServerProcess;
  let auth: Record<string, string>;
  let uploads: Buffer[];

  before(async () => {
    const scratch = await createScratchDatabase();
    drop = scratch.drop;
    const dataA = mkdtempSync(join(tmpdir(), 'portrait-node-a-'));
    const dataB = mkdtempSync(join(tmpdir(), 'portrait-node-b-'));
    dirs.push(dataA, dataB);
    a = await startServer({ dataDir: dataA, database: scratch.url });
    nodes.push(a);
    // The nodes share the database and the issuer's key, nothing else.
    copyFileSync(join(dataA, 'issuer-key.pem'), join(dataB, 'issuer-key.pem'));
    b = await startServer({ dataDir: dataB, database: scratch.url });
    nodes.push(b);
    const token = await cliToken({ dataDir: dataA, database: scratch.url, app: 'two-nodes', roles: ['User.ReadWrite.All'] });
    auth = { authorization: `Bearer ${token}` };
    uploads = await Promise.all(COLOURS.map((c) => solidJpeg(c, 700)));
  });

  after(async () => {
    const exits = await Promise.all(nodes.map((node) => node.stop()));
    await drop?.();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    // Both nodes shut down cleanly on SIGTERM.
    for (const [i, exit] of exits.entries()) assert.deepEqual(exit, { code: 0, signal: null }, `node ${i} exit; output:\n${nodes[i]?.output()}`);
  });

  async function send(url: string, init: RequestInit = {}): Promise<Res> {
    const res = await request(url, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
    return { status: res.status, etag: res.headers.get('etag'), body: Buffer.from(await res.arrayBuffer()) };
  }

  async function newUser(node: ServerProcess, name: string): Promise<string> {
    const res = await send(`${node.graph}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userPrincipalName: `${name}@contoso.com`, displayName: name }),
    });
    assert.equal(res.status, 201, res.body.toString());
    return (JSON.parse(res.body.toString()) as { id: string }).id;
  }

  function put(node: ServerProcess, userId: string, colour: number, headers: Record<string, string> = {}): Promise<Res> {
    return send(`${node.graph}/users/${userId}/photo/$value`, {
      method: 'PUT',
      headers: { 'content-type': 'image/jpeg', ...headers },
      body: uploads[colour]!,
    });
  }

  /**
   * Waits until `node` answers the owner's photo with `etag` (undefined: no photo), as it
   * must within HEARD_WITHIN_MS of the write; meanwhile it may only answer `previous`.
   */
  async function heard(node: ServerProcess, userId: string, etag: string | undefined, previous?: string): Promise<void> {
    const deadline = Date.now() + HEARD_WITHIN_MS;
    for (;;) {
      const res = await send(`${node.graph}/users/${userId}/photo/$value`);
      const served = res.status === 200 ? (res.etag ?? '') : undefined;
      if (served === etag) return;
      if (previous !== undefined) assert.equal(served, previous, 'while a change travels, a node serves the version before it, nothing else');
      assert.ok(Date.now() < deadline, `after ${HEARD_WITHIN_MS} ms the node still serves ${served ?? 'no photo'}, not ${etag ?? 'no photo'}`);
      await delay(5);
    }
  }

  /** The node serves exactly this version: whole, with this ETag and colour. */
  async function assertServes(node: ServerProcess, userId: string, etag: string, colour: number, width = 648): Promise<void> {
    const snapshot = await photoSnapshot(`${node.graph}/users/${userId}`, auth);
    const whole = wholeness(snapshot, COLOURS);
    const which = node === a ? 'node A' : 'node B';
    assert.deepEqual(whole.problems, [], `${which} does not serve one whole version`);
    assert.equal(snapshot.etag, etag, `${which} serves ETag ${snapshot.etag}, the latest write gave ${etag}`);
    assert.equal(whole.colour, colour, `${which} serves colour ${whole.colour}, the latest write was colour ${colour}`);
    assert.equal(snapshot.width, width, `${which} /photo width`);
  }

  it('both nodes are ready and see the same directory', async () => {
    for (const node of [a, b]) {
      const ready = await request(`${node.origin}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
    }
    const id = await newUser(a, 'directory');
    const onB = await send(`${b.graph}/users/${id}`);
    assert.equal(onB.status, 200, onB.body.toString());
  });

  it('a photo put through A is served by B once heard, and updates through B by A', async () => {
    const id = await newUser(a, 'alternating');
    const first = await put(a, id, 0);
    assert.equal(first.status, 200, first.body.toString());
    await heard(b, id, first.etag ?? '');
    await assertServes(b, id, first.etag ?? '', 0);

    // Alternate writers; each time, the other node's very next read is the new version.
    let previous = first.etag ?? '';
    for (let round = 1; round < 8; round++) {
      const [writer, reader] = round % 2 === 1 ? [b, a] : [a, b];
      const res = await put(writer, id, round);
      assert.equal(res.status, 200, res.body.toString());
      const etag = res.etag ?? '';
      assert.notEqual(etag, previous);
      await heard(reader, id, etag, previous);
      // A client that cached the previous version revalidates on the other node: 200, not 304.
      const revalidated = await send(`${reader.graph}/users/${id}/photo/$value`, { headers: { 'if-none-match': previous } });
      assert.equal(revalidated.status, 200, `round ${round}: If-None-Match with the old ETag on the other node answered ${revalidated.status}`);
      assert.equal(revalidated.etag, etag, `round ${round}: the other node's first read has a stale ETag`);
      const decoded = await decode(revalidated.body);
      assert.equal(matchColour(decoded.mean, COLOURS), round, `round ${round}: the other node's first read has stale bytes`);
      const small = await send(`${reader.graph}/users/${id}/photos/48x48/$value`, { headers: { 'if-none-match': previous } });
      assert.equal(small.status, 200);
      assert.equal(small.etag, etag);
      assert.equal(matchColour((await decode(small.body)).mean, COLOURS), round);
      const meta = await send(`${reader.graph}/users/${id}/photo`, { headers: { 'if-none-match': previous } });
      assert.equal(meta.status, 200);
      assert.equal((JSON.parse(meta.body.toString()) as { '@odata.mediaEtag': string })['@odata.mediaEtag'], etag);
      await assertServes(reader, id, etag, round);
      // And the current ETag is a 304 on both nodes.
      for (const node of [a, b]) {
        const same = await send(`${node.graph}/users/${id}/photo/$value`, { headers: { 'if-none-match': etag } });
        assert.equal(same.status, 304);
      }
      previous = etag;
    }
  });

  it('a resize through A is served by B once heard', async () => {
    const id = await newUser(a, 'resized');
    const first = await put(b, id, 3);
    assert.equal(first.status, 200);
    const patch = await send(`${a.graph}/users/${id}/photo`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'if-match': first.etag ?? '' },
      body: JSON.stringify({ width: 200, height: 200 }),
    });
    assert.equal(patch.status, 200, patch.body.toString());
    await heard(b, id, patch.etag ?? '', first.etag ?? '');
    await assertServes(b, id, patch.etag ?? '', 3, 200);
  });

  it('If-Match is checked against the other node’s writes', async () => {
    const id = await newUser(a, 'conditional');
    const first = await put(a, id, 1);
    const second = await put(b, id, 2, { 'if-match': first.etag ?? '' });
    assert.equal(second.status, 200, second.body.toString());
    // A still holding the first ETag: the write through A is refused.
    const stale = await put(a, id, 4, { 'if-match': first.etag ?? '' });
    assert.equal(stale.status, 412, stale.body.toString());
    const staleDelete = await send(`${a.graph}/users/${id}/photo`, { method: 'DELETE', headers: { 'if-match': first.etag ?? '' } });
    assert.equal(staleDelete.status, 412);
    await heard(a, id, second.etag ?? '');
    await assertServes(a, id, second.etag ?? '', 2);
  });

  it('conditional PUTs racing through both nodes with the same If-Match: exactly one wins', async () => {
    const id = await newUser(a, 'racing');
    const first = await put(a, id, 11);
    assert.equal(first.status, 200);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, colour) => put(colour % 2 === 0 ? a : b, id, colour, { 'if-match': first.etag ?? '' })),
    );
    const winners = results.flatMap((res, colour) => (res.status === 200 ? [{ res, colour }] : []));
    assert.equal(winners.length, 1, `statuses: ${results.map((r) => r.status).join(' ')}`);
    for (const res of results) if (res.status !== 200) assert.equal(res.status, 412, res.body.toString());
    const winner = winners[0]!;
    for (const node of [a, b]) await heard(node, id, winner.res.etag ?? '');
    await assertServes(a, id, winner.res.etag ?? '', winner.colour);
    await assertServes(b, id, winner.res.etag ?? '', winner.colour);
  });

  it('a delete through one node is a 404 ImageNotFound on the other once heard, on every path', async () => {
    const id = await newUser(a, 'deleted');
    for (const [writer, reader] of [
      [a, b],
      [b, a],
    ] as const) {
      const res = await put(writer, id, 5);
      assert.equal(res.status, 200);
      await heard(reader, id, res.etag ?? '');
      await assertServes(reader, id, res.etag ?? '', 5);
      const removal = await send(`${writer.graph}/users/${id}/photo`, { method: 'DELETE' });
      assert.equal(removal.status, 200, removal.body.toString());
      await heard(reader, id, undefined, res.etag ?? '');
      for (const path of ['/photo', '/photo/$value', '/photos/48x48/$value', '/photos/648x648', '/photos/648x648/$value']) {
        // With the deleted version's ETag too: a 404, never a 304.
        const gone = await send(`${reader.graph}/users/${id}${path}`, { headers: { 'if-none-match': res.etag ?? '' } });
        assert.equal(gone.status, 404, `GET ${path} on the other node after a delete`);
        assert.equal((JSON.parse(gone.body.toString()) as { error: { code: string } }).error.code, 'ImageNotFound', path);
      }
      const list = await send(`${reader.graph}/users/${id}/photos`);
      assert.equal(list.status, 200);
      assert.deepEqual((JSON.parse(list.body.toString()) as { value: unknown[] }).value, []);
    }
  });
});
