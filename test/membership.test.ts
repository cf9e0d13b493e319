// Group membership as a client sees it, against real `portrait serve` processes on SQLite
// and on PostgreSQL: adding a user by reference (Graph's URL or the service's own),
// listing members and a user's groups page by page, removing, what a hostile client
// sends (foreign URLs, non-GUIDs, other tenants' ids, pages it asks too large), the
// permissions Graph documents, the beta joinedGroups photo paths that membership opens,
// and a second process that must follow every membership change within a second.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { postgresUnavailable } from './helpers/postgres.js';
import { PALETTE, request, runCli, solidJpeg, startTwoNodes, type ServerProcess, type TwoNodes } from './helpers/server-process.js';

const pgSkip = await postgresUnavailable();

/** A change made through one process is served by the other within this long. */
const BOUND_MS = 1000;

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any;
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`group membership over HTTP (${kind})`, { skip: kind === 'postgres' ? (pgSkip ?? false) : false, timeout: 240_000 }, () => {
    let nodes: TwoNodes;
    let database: string | undefined;
    let dataA: string;
    let a: ServerProcess;
    let b: ServerProcess;
    /** Tokens, by what they may do. */
    const tokens: Record<string, string> = {};
    let alice: { id: string; upn: string };
    let bob: { id: string; upn: string };
    let otherTenant: string;

    async function cliToken(args: readonly string[]): Promise<string> {
      const result = await runCli(['token', '--data', dataA, ...(database === undefined ? [] : ['--database', database]), ...args]);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.trim();
    }

    before(async () => {
      nodes = await startTwoNodes(kind, 'portrait-members');
      ({ a, b, dataDir: dataA, database } = nodes);
      otherTenant = randomUUID();
      const all = 'User.ReadWrite.All Group.ReadWrite.All GroupMember.ReadWrite.All';
      const [admin, reader, basic, none, foreign] = await Promise.all([
        cliToken(['--app', 'admin', '--roles', all]),
        cliToken(['--app', 'reader', '--roles', 'GroupMember.Read.All']),
        cliToken(['--app', 'basic', '--roles', 'Group.ReadBasic.All']),
        // A role Portrait knows (portrait token refuses others) that covers no group.
        cliToken(['--app', 'none', '--roles', 'Contacts.Read']),
        cliToken(['--app', 'foreign', '--roles', all, '--tenant', otherTenant]),
      ]);
      Object.assign(tokens, { admin, reader, basic, none, foreign });
      // One at a time: `portrait token --user` creates the user on first use.
      tokens.alice = await cliToken(['--user', 'alice@contoso.com', '--scopes', 'Group.ReadBasic.All']);
      tokens.aliceMemberOf = await cliToken(['--user', 'alice@contoso.com', '--scopes', 'User.Read']);
      tokens.bob = await cliToken(['--user', 'bob@contoso.com', '--scopes', 'Group.ReadBasic.All']);
      tokens.bobWriter = await cliToken(['--user', 'bob@contoso.com', '--scopes', 'GroupMember.ReadWrite.All']);
      tokens.adminUser = await cliToken(['--user', 'carol@contoso.com', '--scopes', 'GroupMember.ReadWrite.All', '--admin']);
      const lookUp = async (upn: string) => ({ id: (await send(a, 'admin', 'GET', `/v1.0/users/${upn}`)).json.id as string, upn });
      alice = await lookUp('alice@contoso.com');
      bob = await lookUp('bob@contoso.com');
    });

    after(() => nodes?.stop());

    async function send(node: ServerProcess, who: string, method: string, path: string, body?: unknown): Promise<Answer> {
      const token = tokens[who];
      assert.ok(token, `a token for ${who}`);
      const init: RequestInit = { method, headers: { authorization: `Bearer ${token}` } };
      if (body !== undefined) {
        init.body = Buffer.isBuffer(body) ? body : typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = Buffer.isBuffer(body) ? 'image/jpeg' : 'application/json';
      }
      const res = await request(`${node.origin}${path}`, init);
      const text = await res.text();
      const json = res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined;
      return { status: res.status, headers: res.headers, text, json };
    }

    function assertError(res: Answer, status: number, code: string, message?: RegExp): void {
      assert.equal(res.status, status, res.text);
      assert.equal(res.json?.error?.code, code, res.text);
      if (message) assert.match(res.json.error.message, message);
    }

    async function newGroup(name: string, who = 'admin'): Promise<string> {
      const res = await send(a, who, 'POST', '/v1.0/groups', { displayName: name });
      assert.equal(res.status, 201, res.text);
      return res.json.id;
    }

    async function newUser(name: string): Promise<string> {
      const res = await send(a, 'admin', 'POST', '/v1.0/users', { userPrincipalName: `${name}@contoso.com`, displayName: name });
      assert.equal(res.status, 201, res.text);
      return res.json.id;
    }

    const ref = (id: string, root = 'https://graph.microsoft.com/v1.0') => ({ '@odata.id': `${root}/directoryObjects/${id}` });

    it('adds users by reference (Graph’s URL or this service’s own), lists them, their groups, and removes them', async () => {
      const group = await newGroup('Design');
      const add = await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(alice.id));
      assert.equal(add.status, 204, add.text);
      assert.equal(add.text, '');
      // Portrait's own service root, upper-case id and the users/ form are the same reference.
      const own = await send(a, 'admin', 'POST', `/beta/groups/${group}/members/$ref`, { '@odata.id': `${a.origin}/beta/users/${bob.id.toUpperCase()}` });
      assert.equal(own.status, 204, own.text);

      const members = await send(a, 'reader', 'GET', `/v1.0/groups/${group}/members`);
      assert.equal(members.status, 200, members.text);
      assert.equal(members.json['@odata.context'], `${a.origin}/v1.0/$metadata#directoryObjects`);
      assert.equal(members.json['@odata.nextLink'], undefined);
      assert.deepEqual(
        members.json.value.map((m: any) => [m['@odata.type'], m.id, m.userPrincipalName]).sort(),
        [['#microsoft.graph.user', alice.id, alice.upn], ['#microsoft.graph.user', bob.id, bob.upn]].sort(),
      );
      const refs = await send(a, 'reader', 'GET', `/v1.0/groups/${group}/members/$ref`);
      assert.equal(refs.status, 200, refs.text);
      assert.deepEqual(refs.json.value.map((r: any) => r['@odata.id']).sort(), [alice.id, bob.id].map((id) => `${a.origin}/v1.0/directoryObjects/${id}`).sort());

      // memberOf: your own groups with User.Read; anyone's with GroupMember.Read.All.
      for (const [who, path] of [['aliceMemberOf', '/v1.0/me/memberOf'], ['reader', `/v1.0/users/${alice.upn}/memberOf`]] as const) {
        const groups = await send(a, who, 'GET', path);
        assert.equal(groups.status, 200, `${path}: ${groups.text}`);
        assert.deepEqual(groups.json.value.map((g: any) => [g['@odata.type'], g.id, g.displayName]), [['#microsoft.graph.group', group, 'Design']]);
      }
      assertError(await send(a, 'aliceMemberOf', 'GET', `/v1.0/users/${bob.id}/memberOf`), 403, 'Authorization_RequestDenied', /User\.Read\.All/);

      // Adding a member twice is Graph's 400; removing one twice is 404.
      assertError(
        await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(alice.id)),
        400,
        'Request_BadRequest',
        /^One or more added object references already exist for the following modified properties: 'members'\.$/,
      );
      const remove = await send(a, 'admin', 'DELETE', `/v1.0/groups/${group}/members/${alice.id}/$ref`);
      assert.equal(remove.status, 204, remove.text);
      assertError(await send(a, 'admin', 'DELETE', `/v1.0/groups/${group}/members/${alice.id}/$ref`), 404, 'Request_ResourceNotFound', new RegExp(alice.id));
      assertError(await send(a, 'admin', 'DELETE', `/v1.0/groups/${group}/members/not-a-guid/$ref`), 404, 'Request_ResourceNotFound');
      const left = await send(a, 'reader', 'GET', `/v1.0/groups/${group}/members`);
      assert.deepEqual(left.json.value.map((m: any) => m.id), [bob.id]);
      const none = await send(a, 'aliceMemberOf', 'GET', '/v1.0/me/memberOf');
      assert.deepEqual(none.json.value, []);
    });

    it('refuses what a hostile client references: other hosts, other paths, non-GUIDs, groups, unknown ids — 4xx naming what was wrong', async () => {
      const group = await newGroup('Guarded');
      const post = (body: unknown) => send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, body);
      for (const url of [
        `https://evil.example/v1.0/directoryObjects/${alice.id}`,
        `http://graph.microsoft.com/v1.0/directoryObjects/${alice.id}`,
        `https://graph.microsoft.com.evil.example/v1.0/directoryObjects/${alice.id}`,
        `https://user@graph.microsoft.com/v1.0/directoryObjects/${alice.id}`,
        `https://graph.microsoft.com/v2.0/directoryObjects/${alice.id}`,
        `https://graph.microsoft.com/v1.0/groups/${alice.id}`,
        `https://graph.microsoft.com/v1.0/directoryObjects/${alice.id}/extra`,
        `https://graph.microsoft.com/v1.0/directoryObjects/${alice.id}?x=1`,
        `https://graph.microsoft.com/v1.0/directoryObjects/`,
        `/v1.0/directoryObjects/${alice.id}`,
        'not a url at all',
      ]) {
        assertError(await post({ '@odata.id': url }), 400, 'InvalidPropertyValue', /^The property '@odata\.id' must be /);
      }
      assertError(await post(ref('not-a-guid')), 400, 'Request_BadRequest', /^Invalid object identifier 'not-a-guid'\.$/);
      assertError(await post(ref('x'.repeat(1500))), 400, 'Request_BadRequest', /^Invalid object identifier 'x{64}…'\.$/);
      assertError(await post({ '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/' + 'x'.repeat(3000) }), 400, 'InvalidPropertyValue');
      assertError(await post({}), 400, 'InvalidPropertyValue', /^The property '@odata\.id' is required/);
      assertError(await post({ '@odata.id': 42 }), 400, 'InvalidPropertyValue', /^The property '@odata\.id' must be /);
      assertError(await post('{"@odata.id": '), 400, 'BadRequest', /^Unable to read JSON request payload\.$/);
      // An unknown id is 404 as Graph answers; a group is refused by name (members are users).
      const nobody = randomUUID();
      assertError(await post(ref(nobody)), 404, 'Request_ResourceNotFound', new RegExp(nobody));
      assertError(await post(ref(group)), 400, 'InvalidPropertyValue', /users as members/);
      assertError(await send(a, 'admin', 'POST', `/v1.0/groups/${randomUUID()}/members/$ref`, ref(alice.id)), 404, 'Request_ResourceNotFound');
      // Methods the paths don't have, and paths Portrait doesn't serve.
      assertError(await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members`, ref(alice.id)), 405, 'Request_BadRequest');
      assertError(await send(a, 'admin', 'DELETE', `/v1.0/groups/${group}/members/$ref`), 405, 'Request_BadRequest');
      assertError(await send(a, 'admin', 'GET', `/v1.0/groups/${group}/members/${alice.id}`), 400, 'BadRequest', new RegExp(`segment '${alice.id}'`));
      const members = await send(a, 'admin', 'GET', `/v1.0/groups/${group}/members`);
      assert.deepEqual(members.json.value, [], 'nothing was added by any of them');
    });

    it('lets nothing cross tenants: another tenant’s groups and users are 404 both ways', async () => {
      const group = await newGroup('Ours');
      assert.equal((await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(alice.id))).status, 204);
      const theirs = await send(a, 'foreign', 'POST', '/v1.0/groups', { displayName: 'Theirs' });
      assert.equal(theirs.status, 201, theirs.text);
      const theirUser = await send(a, 'foreign', 'POST', '/v1.0/users', { userPrincipalName: 'mallory@fabrikam.com', displayName: 'Mallory' });
      assert.equal(theirUser.status, 201, theirUser.text);
      // Their token on our group, and on our user.
      for (const [method, path, body] of [
        ['GET', `/v1.0/groups/${group}/members`, undefined],
        ['GET', `/v1.0/groups/${group}/members/$ref`, undefined],
        ['POST', `/v1.0/groups/${group}/members/$ref`, ref(theirUser.json.id)],
        ['DELETE', `/v1.0/groups/${group}/members/${alice.id}/$ref`, undefined],
        ['POST', `/v1.0/groups/${theirs.json.id}/members/$ref`, ref(alice.id)],
        ['GET', `/v1.0/users/${alice.id}/memberOf`, undefined],
        ['GET', `/beta/users/${alice.id}/joinedGroups/${group}/photo`, undefined],
      ] as const) {
        assertError(await send(a, 'foreign', method, path, body), 404, 'Request_ResourceNotFound', undefined);
      }
      // Our token naming their user, and their group.
      assertError(await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(theirUser.json.id)), 404, 'Request_ResourceNotFound');
      assertError(await send(a, 'admin', 'GET', `/v1.0/groups/${theirs.json.id}/members`), 404, 'Request_ResourceNotFound');
      const ours = await send(a, 'admin', 'GET', `/v1.0/groups/${group}/members`);
      assert.deepEqual(ours.json.value.map((m: any) => m.id), [alice.id]);
    });

    it('asks for Graph’s permissions: members read and write, and an admin role for a delegated write', async () => {
      const group = await newGroup('Permissions');
      assertError(await send(a, 'none', 'GET', `/v1.0/groups/${group}/members`), 403, 'Authorization_RequestDenied', /GroupMember\.Read\.All/);
      assertError(await send(a, 'reader', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(alice.id)), 403, 'Authorization_RequestDenied', /GroupMember\.ReadWrite\.All/);
      assertError(await send(a, 'reader', 'DELETE', `/v1.0/groups/${group}/members/${alice.id}/$ref`), 403, 'Authorization_RequestDenied', /GroupMember\.ReadWrite\.All/);
      // 403 for the kind comes before the group is looked up.
      assertError(await send(a, 'reader', 'POST', `/v1.0/groups/${randomUUID()}/members/$ref`, ref(alice.id)), 403, 'Authorization_RequestDenied');
      assertError(await send(a, 'bobWriter', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(alice.id)), 403, 'Authorization_RequestDenied', /Administrator/);
      const byAdmin = await send(a, 'adminUser', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(alice.id));
      assert.equal(byAdmin.status, 204, byAdmin.text);
    });

    it('opens /beta joinedGroups photos to members only, and reads group photos with Group.ReadBasic.All', async () => {
      const group = await newGroup('Photographed');
      const put = await send(a, 'admin', 'PUT', `/v1.0/groups/${group}/photo/$value`, await solidJpeg(PALETTE[5]!, 300));
      assert.equal(put.status, 200, put.text);
      const etag = put.headers.get('etag');
      assert.equal((await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(alice.id))).status, 204);

      // Group.ReadBasic.All reads the group's photos (Graph's "List photos"), and only reads them.
      const list = await send(a, 'basic', 'GET', `/v1.0/groups/${group}/photos`);
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.json.value.map((p: any) => p.id), ['48X48', '64X64', '96X96', '120X120', '240X240']);
      assertError(await send(a, 'basic', 'PUT', `/v1.0/groups/${group}/photo/$value`, await solidJpeg(PALETTE[6]!, 100)), 403, 'Authorization_RequestDenied');

      const base = `/beta/me/joinedGroups/${group}`;
      const meta = await send(a, 'alice', 'GET', `${base}/photo`);
      assert.equal(meta.status, 200, meta.text);
      assert.deepEqual(meta.json, {
        '@odata.context': `${a.origin}/beta/$metadata#groups('${group}')/photo/$entity`,
        '@odata.id': `${a.origin}/beta/groups('${group}')/photo`,
        '@odata.mediaContentType': 'image/jpeg',
        '@odata.mediaEtag': etag,
        id: '240X240',
        width: 240,
        height: 240,
      });
      const photos = await send(a, 'alice', 'GET', `${base}/photos`);
      assert.deepEqual(photos.json, { ...list.json, '@odata.context': `${a.origin}/beta/$metadata#groups('${group}')/photos` });
      const size = await send(a, 'alice', 'GET', `${base}/photos/48x48`);
      assert.equal(size.status, 200, size.text);
      assert.equal(size.json['@odata.id'], `${a.origin}/beta/groups('${group}')/photos('48X48')`);
      for (const path of [`${base}/photo/$value`, `${base}/photos/48X48/$value`]) {
        const bytes = await send(a, 'alice', 'GET', path);
        assert.equal(bytes.status, 200, path);
        assert.equal(bytes.headers.get('content-type'), 'image/jpeg');
        assert.equal(bytes.headers.get('etag'), etag);
      }
      // Another user's joinedGroups, with an application token.
      assert.equal((await send(a, 'basic', 'GET', `/beta/users/${alice.upn}/joinedGroups/${group}/photos`)).status, 200);

      // Not a member: as unknown as a group that is not there.
      assertError(await send(a, 'bob', 'GET', `${base}/photo`), 404, 'Request_ResourceNotFound', new RegExp(group));
      assertError(await send(a, 'basic', 'GET', `/beta/users/${bob.id}/joinedGroups/${group}/photo/$value`), 404, 'Request_ResourceNotFound');
      assertError(await send(a, 'alice', 'GET', `/beta/me/joinedGroups/${randomUUID()}/photo`), 404, 'Request_ResourceNotFound');
      // v1.0's user has no joinedGroups: Graph's 400 for the segment.
      assertError(await send(a, 'alice', 'GET', `/v1.0/me/joinedGroups/${group}/photo`), 400, 'BadRequest', /segment 'joinedGroups'/);
      // Reads only: Graph documents no write through joinedGroups.
      const write = await send(a, 'admin', 'PUT', `/beta/users/${alice.id}/joinedGroups/${group}/photo/$value`, await solidJpeg(PALETTE[6]!, 100));
      assertError(write, 405, 'Request_BadRequest');
      assert.equal(write.headers.get('allow'), 'GET, HEAD');

      // Removed: the next read is a 404 at once, although the same URL was just answered (and cached).
      for (let i = 0; i < 3; i++) assert.equal((await send(a, 'alice', 'GET', `${base}/photo/$value`)).status, 200);
      assert.equal((await send(a, 'admin', 'DELETE', `/v1.0/groups/${group}/members/${alice.id}/$ref`)).status, 204);
      assertError(await send(a, 'alice', 'GET', `${base}/photo/$value`), 404, 'Request_ResourceNotFound');
      assertError(await send(a, 'alice', 'GET', `${base}/photo`), 404, 'Request_ResourceNotFound');
    });

    it('another process follows every membership change within a second, on URLs it has answered before', async () => {
      const group = await newGroup('Followed');
      assert.equal((await send(a, 'admin', 'PUT', `/v1.0/groups/${group}/photo/$value`, await solidJpeg(PALETTE[9]!, 100))).status, 200);
      const url = `/beta/me/joinedGroups/${group}/photo/$value`;
      assertError(await send(b, 'alice', 'GET', url), 404, 'Request_ResourceNotFound');
      const until = async (status: number) => {
        const start = Date.now();
        for (;;) {
          const res = await send(b, 'alice', 'GET', url);
          if (res.status === status) return Date.now() - start;
          assert.ok(Date.now() - start < BOUND_MS, `process B still answers ${res.status} ${res.text.slice(0, 200)}, not ${status}, ${Date.now() - start} ms after A's change`);
          await delay(20);
        }
      };
      assert.equal((await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(alice.id))).status, 204);
      await until(200);
      for (let i = 0; i < 3; i++) assert.equal((await send(b, 'alice', 'GET', url)).status, 200, 'B serves it, and may cache it');
      assert.equal((await send(a, 'admin', 'DELETE', `/v1.0/groups/${group}/members/${alice.id}/$ref`)).status, 204);
      await until(404);
      // And the listings on B.
      const members = await send(b, 'reader', 'GET', `/v1.0/groups/${group}/members`);
      assert.deepEqual(members.json.value, []);
    });

    it('removes memberships with the user or the group that is deleted', async () => {
      const [design, sales] = [await newGroup('Deleted design'), await newGroup('Deleted sales')];
      const [dora, eric] = [await newUser('dora'), await newUser('eric')];
      for (const group of [design, sales]) {
        for (const user of [dora, eric]) assert.equal((await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(user))).status, 204);
      }
      assert.equal((await send(a, 'admin', 'DELETE', `/v1.0/users/${dora}`)).status, 204);
      const members = await send(a, 'admin', 'GET', `/v1.0/groups/${design}/members`);
      assert.deepEqual(members.json.value.map((m: any) => m.id), [eric]);
      assert.equal((await send(a, 'admin', 'DELETE', `/v1.0/groups/${design}`)).status, 204);
      const groups = await send(a, 'admin', 'GET', `/v1.0/users/${eric}/memberOf`);
      assert.deepEqual(groups.json.value.map((g: any) => g.id), [sales]);
      assertError(await send(a, 'admin', 'GET', `/v1.0/users/${dora}/memberOf`), 404, 'Request_ResourceNotFound');
      assertError(await send(a, 'admin', 'GET', `/v1.0/groups/${design}/members`), 404, 'Request_ResourceNotFound');
    });

    it('pages a large group: 100 a page by default, $top up to 999, @odata.nextLink to the end; bad page options are 400', async () => {
      const group = await newGroup('Everyone');
      const count = 250;
      const ids: string[] = [];
      // Four clients at a time: 250 users created and added through the API.
      for (let i = 0; i < count; i += 4) {
        const made = await Promise.all(
          Array.from({ length: Math.min(4, count - i) }, async (_, j) => {
            const id = await newUser(`member${i + j}`);
            const res = await send(a, 'admin', 'POST', `/v1.0/groups/${group}/members/$ref`, ref(id));
            assert.equal(res.status, 204, res.text);
            return id;
          }),
        );
        ids.push(...made);
      }
      const seen: string[] = [];
      const sizes: number[] = [];
      let next: string | undefined = `${a.origin}/v1.0/groups/${group}/members`;
      while (next !== undefined) {
        assert.ok(next.startsWith(`${a.origin}/v1.0/groups/${group}/members?`) || seen.length === 0, next);
        const res = await send(a, 'reader', 'GET', next.slice(a.origin.length));
        assert.equal(res.status, 200, res.text);
        sizes.push(res.json.value.length);
        seen.push(...res.json.value.map((m: any) => m.id));
        next = res.json['@odata.nextLink'];
      }
      assert.deepEqual(sizes, [100, 100, 50]);
      assert.equal(new Set(seen).size, count);
      assert.deepEqual([...seen].sort(), [...ids].sort());

      const all = await send(a, 'reader', 'GET', `/v1.0/groups/${group}/members?$top=999`);
      assert.equal(all.json.value.length, count);
      assert.equal(all.json['@odata.nextLink'], undefined);
      const small = await send(a, 'reader', 'GET', `/v1.0/groups/${group}/members/$ref?$top=7`);
      assert.equal(small.json.value.length, 7);
      assert.match(small.json['@odata.nextLink'], /\/members\/\$ref\?\$top=7&\$skiptoken=[0-9a-f-]{36}$/);

      for (const top of ['0', '1000', '-1', 'abc', '1.5', '99999999999999999999']) {
        assertError(await send(a, 'reader', 'GET', `/v1.0/groups/${group}/members?$top=${top}`), 400, 'Request_UnsupportedQuery', /Must be between 1 and 999 inclusive\.$/);
      }
      for (const token of ['abc', "x'); DROP TABLE group_members; --", '']) {
        assertError(await send(a, 'reader', 'GET', `/v1.0/groups/${group}/members?$skiptoken=${encodeURIComponent(token)}`), 400, 'BadRequest', /\$skiptoken/);
      }
      // Other query options are not answered on these listings, and say so rather than being ignored.
      for (const option of ['$filter=displayName eq \'x\'', '$orderby=displayName', '$skip=5', '$expand=manager', '$count=true', 'search="a"']) {
        const name = option.split('=')[0] as string;
        const message = new RegExp(`^'${name.replace('$', '\\$')}' is not supported by the service\\.$`);
        assertError(await send(a, 'reader', 'GET', `/v1.0/groups/${group}/members?${option}`), 400, 'Request_BadRequest', message);
      }
      // The same page options on memberOf.
      const member = ids[0] as string;
      const theirs = await send(a, 'reader', 'GET', `/v1.0/users/${member}/memberOf?$top=1`);
      assert.deepEqual(theirs.json.value.map((g: any) => g.id), [group]);
      assert.equal(theirs.json['@odata.nextLink'], undefined);
    });
  });
}
