// One truth across processes: two `portrait serve` on one data folder (SQLite) or one
// database (PostgreSQL), and `portrait import` run against them while they serve. After
// one process replaces or deletes a photo, deletes a user, or renames one, the other
// never serves the old answer more than a second later — not on URLs it has answered
// (and cached, and put on its read fast path) before, not on new ones.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { postgresUnavailable } from './helpers/postgres.js';
import { cliToken, PALETTE, request, runCli, solidJpeg, startTwoNodes, type ServerProcess, type TwoNodes } from './helpers/server-process.js';

/** The promise: nothing another process replaced or deleted more than this long ago is served. */
const BOUND_MS = 1000;

const pgSkip = await postgresUnavailable();

interface Answer {
  readonly status: number;
  readonly etag: string | null;
  readonly code: string | undefined;
  readonly body: Buffer;
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`two processes on one store are one truth (${kind})`, { skip: kind === 'postgres' ? (pgSkip ?? false) : false, timeout: 120_000 }, () => {
    let nodes: TwoNodes;
    let dataA: string;
    let database: string | undefined;
    let a: ServerProcess;
    let b: ServerProcess;
    let auth: Record<string, string>;

    before(async () => {
      // SQLite: the same data folder. PostgreSQL: the same database and issuer key.
      nodes = await startTwoNodes(kind, 'portrait-one-truth');
      ({ a, b, dataDir: dataA, database } = nodes);
      const token = await cliToken({ dataDir: dataA, ...(database !== undefined && { database }), app: 'one-truth', roles: ['User.ReadWrite.All'] });
      auth = { authorization: `Bearer ${token}` };
    });

    after(() => nodes?.stop());

    async function send(node: ServerProcess, path: string, init: RequestInit = {}): Promise<Answer> {
      const res = await request(`${node.graph}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
      const body = Buffer.from(await res.arrayBuffer());
      const json = res.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(body.toString()) as { error?: { code?: string } }) : undefined;
      return { status: res.status, etag: res.headers.get('etag'), code: json?.error?.code, body };
    }

    async function newUser(node: ServerProcess, name: string): Promise<{ id: string; upn: string }> {
      const upn = `${name}@contoso.com`;
      const res = await send(node, '/users', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userPrincipalName: upn, displayName: name }),
      });
      assert.equal(res.status, 201, res.body.toString());
      return { id: (JSON.parse(res.body.toString()) as { id: string }).id, upn };
    }

    async function put(node: ServerProcess, userId: string, colour: number): Promise<string> {
      const res = await send(node, `/users/${userId}/photo/$value`, { method: 'PUT', body: await solidJpeg(PALETTE[colour]!, 700) });
      assert.equal(res.status, 200, res.body.toString());
      assert.ok(res.etag);
      return res.etag;
    }

    /** Reads each path twice: the second read of a path is answered from A's caches (and fast path) where it has them. */
    async function warm(node: ServerProcess, paths: readonly string[]): Promise<void> {
      for (const path of paths) {
        for (let i = 0; i < 2; i++) assert.equal((await send(node, path)).status, 200, path);
      }
    }

    /** Waits out the bound from `since` (when the other process's change had been answered). */
    async function pastTheBound(since: number): Promise<void> {
      await delay(Math.max(0, since + BOUND_MS - Date.now()));
    }

    it('a photo replaced through B is what A serves a second later, on URLs A answered before and on new ones', async () => {
      const user = await newUser(a, 'replaced');
      const first = await put(a, user.id, 1);
      const seen = [`/users/${user.id}/photo/$value`, `/users/${user.id}/photo`, `/users/${user.upn}/photos/48x48/$value`];
      await warm(a, seen);
      assert.equal((await send(a, seen[0]!)).etag, first);

      const second = await put(b, user.id, 2);
      const since = Date.now();
      await pastTheBound(since);
      for (const path of [...seen, `/users/${user.upn}/photos/96x96/$value`, `/users/${user.id}/photos/48x48`]) {
        const answer = await send(a, path);
        assert.equal(answer.status, 200, path);
        assert.equal(answer.etag, second, `A still serves ${path} as it was before B replaced it`);
      }
    });

    it('a photo deleted through B is gone from A a second later', async () => {
      const user = await newUser(a, 'deleted-photo');
      await put(a, user.id, 3);
      const seen = [`/users/${user.id}/photo/$value`, `/users/${user.id}/photo`, `/users/${user.id}/photos/240x240/$value`];
      await warm(a, seen);

      assert.equal((await send(b, `/users/${user.id}/photo`, { method: 'DELETE' })).status, 200);
      await pastTheBound(Date.now());
      for (const path of seen) {
        const answer = await send(a, path);
        assert.equal(answer.status, 404, `A still serves ${path} after B deleted the photo`);
        assert.equal(answer.code, 'ImageNotFound', path);
      }
    });

    it('a user deleted through B is gone from A a second later: their photo and their directory entry', async () => {
      const user = await newUser(a, 'deleted-user');
      await put(b, user.id, 4);
      const seen = [`/users/${user.id}/photo/$value`, `/users/${user.upn}/photo/$value`, `/users/${user.id}/photo`];
      await warm(a, seen);

      const deleted = await send(b, `/users/${user.id}`, { method: 'DELETE' });
      assert.equal(deleted.status, 204, deleted.body.toString());
      await pastTheBound(Date.now());
      for (const path of [...seen, `/users/${user.id}`, `/users/${user.upn}/photos/48x48/$value`]) {
        const answer = await send(a, path);
        assert.equal(answer.status, 404, `A still answers ${path} after B deleted the user`);
        assert.equal(answer.code, 'Request_ResourceNotFound', path);
      }
    });

    it('`portrait import` against the live store is seen by the running server a second later', async () => {
      const user = await newUser(a, 'renamed-before');
      const etag = await put(a, user.id, 5);
      const before = `/users/${user.upn}/photo/$value`;
      await warm(a, [before]);

      const document = join(dataA, 'rename.json');
      writeFileSync(document, JSON.stringify({ users: [{ id: user.id, userPrincipalName: 'renamed-after@contoso.com', displayName: 'renamed' }] }));
      const result = await runCli(['import', document, '--data', dataA, ...(database === undefined ? [] : ['--database', database])]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /1 updated/);
      await pastTheBound(Date.now());

      const old = await send(a, before);
      assert.equal(old.status, 404, 'A still resolves the name the import took away');
      assert.equal(old.code, 'Request_ResourceNotFound');
      const renamed = await send(a, '/users/renamed-after@contoso.com/photo/$value');
      assert.equal(renamed.status, 200);
      assert.equal(renamed.etag, etag);
    });
  });
}
