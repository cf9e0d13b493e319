// Graph's query options and paging on the directory's listings (issue 11), as a client
// sees them from a real `portrait serve` on SQLite over HTTP: GET /users, /groups,
// {user}/contacts, {user}/contactFolders and their childFolders and contacts answer 100
// objects unless $top (1–999) says otherwise, with an @odata.nextLink whose opaque
// $skiptoken keeps working while objects are added; $select, $filter (eq, ne, startswith,
// in, and/or, groupTypes/any), $orderby=displayName, $count and $search (with
// ConsistencyLevel: eventual, as Graph requires). Beside each friendly test the hostile
// one: options Portrait does not answer, forged and foreign skiptokens, and filters past
// every bound are each a 400 in Graph's envelope naming what was wrong — never a 500,
// never silently ignored. And users('{id}') addressing, folders at any depth, and Graph's
// OData Content-Type and OData-Version on JSON answers.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliToken, request, solidJpeg, startServer, type ServerProcess } from './helpers/server-process.js';
import { TEST_STORE } from './helpers/harness.js';
import { createScratchDatabase } from './helpers/postgres.js';

const ODATA_JSON = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const EVENTUAL = { consistencylevel: 'eventual' };

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

describe(`directory listings: Graph’s paging and query options (portrait serve, ${TEST_STORE})`, { timeout: 240_000 }, () => {
  let dataDir = '';
  let database: { url: string; drop: () => Promise<void> } | undefined;
  let server: ServerProcess;
  let token = '';
  /** Every user made, id → displayName. */
  const users = new Map<string, string>();
  let owner = '';
  const folders: { top: string; child: string; grandchild: string } = { top: '', child: '', grandchild: '' };
  const grandchildContacts = new Set<string>();
  let unified = '';

  async function call(method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...options.headers };
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    const url = path.startsWith('http') ? path : `${server.graph}${path}`;
    const res = await request(url, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) };
  }

  async function ok(path: string, headers: Record<string, string> = {}): Promise<any> {
    const answer = await call('GET', path, { headers });
    assert.equal(answer.status, 200, `GET ${path}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }

  /** A 400 in Graph's envelope whose message matches. */
  async function refused(path: string, code: string, message: RegExp, headers: Record<string, string> = {}): Promise<void> {
    const answer = await call('GET', path, { headers });
    assert.equal(answer.status, 400, `GET ${path}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body?.error?.code, code, `GET ${path}: ${JSON.stringify(answer.body)}`);
    assert.match(answer.body.error.message, message, `GET ${path}`);
    assert.ok(answer.body.error.innerError['request-id'], 'Graph’s envelope');
  }

  async function makeUser(name: string): Promise<string> {
    const upn = `${name.toLowerCase().replace(/[^a-z0-9]/g, '')}@contoso.com`;
    const user = (await call('POST', '/users', { body: { userPrincipalName: upn, displayName: name, mail: upn } })).body;
    users.set(user.id, name);
    return user.id;
  }

  /** Follows nextLinks from `path` to the end; every page's objects, and how many pages. */
  async function walk(path: string, headers: Record<string, string> = {}, between?: (page: number) => Promise<void>): Promise<{ items: any[]; pages: number; first: any }> {
    const items: any[] = [];
    let next: string | undefined = path;
    let pages = 0;
    let first: any;
    while (next !== undefined) {
      const body = await ok(next, pages === 0 ? headers : {});
      first ??= body;
      items.push(...body.value);
      pages++;
      next = body['@odata.nextLink'];
      if (next !== undefined) assert.ok(next.startsWith(`${server.graph}/`), `nextLink ${next} is under the service root`);
      if (between && next !== undefined) await between(pages);
      assert.ok(pages < 1000, 'the walk ends');
    }
    return { items, pages, first };
  }

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'portrait-odata-lists-'));
    // SQLite in the data folder; PORTRAIT_TEST_STORE=postgres runs the same on a scratch database.
    database = TEST_STORE === 'postgres' ? await createScratchDatabase() : undefined;
    server = await startServer({ dataDir, ...(database && { database: database.url }) });
    token = await cliToken({ dataDir, ...(database && { database: database.url }), app: 'lists', roles: ['User.ReadWrite.All', 'Group.ReadWrite.All', 'Contacts.ReadWrite'] });
    // 230 users named so that case and order matter: 'Person 000'…, some lower-case, one with a quote.
    for (let start = 0; start < 230; start += 23) {
      await Promise.all(Array.from({ length: 23 }, (_, i) => makeUser(`${(start + i) % 3 === 0 ? 'person' : 'Person'} ${String(start + i).padStart(3, '0')}`)));
    }
    await makeUser("Zoë O'Neil");
    owner = [...users.keys()][0]!;
    for (let i = 0; i < 12; i++) await call('POST', '/groups', { body: { displayName: `Group ${String(i).padStart(2, '0')}` } });
    unified = (await call('POST', '/groups', { body: { displayName: 'Team group' } })).body.id;
    assert.equal((await call('PUT', `/groups/${unified}/team`, { body: {} })).status, 201);
    folders.top = (await call('POST', `/users/${owner}/contactFolders`, { body: { displayName: 'Top' } })).body.id;
    folders.child = (await call('POST', `/users/${owner}/contactFolders/${folders.top}/childFolders`, { body: { displayName: 'Child' } })).body.id;
    const grandchildPath = `/users/${owner}/contactFolders/${folders.top}/childFolders/${folders.child}/childFolders`;
    folders.grandchild = (await call('POST', grandchildPath, { body: { displayName: 'Grandchild' } })).body.id;
    for (let i = 0; i < 25; i++) {
      const made = await call('POST', `/users/${owner}/contactFolders/${folders.grandchild}/contacts`, { body: { givenName: 'Deep', surname: `Contact${i}` } });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      grandchildContacts.add(made.body.id);
    }
    for (let i = 0; i < 14; i++) await call('POST', `/users/${owner}/contactFolders/${folders.top}/childFolders`, { body: { displayName: `Sibling ${i}` } });
  });

  after(async () => {
    await server?.stop();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe('paging', () => {
    it('answers Graph’s default page of 100 with an @odata.nextLink, and the walk sees every user once', async () => {
      const first = await ok('/users');
      assert.equal(first.value.length, 100);
      assert.match(first['@odata.nextLink'], /^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\?\$skiptoken=[\w-]+$/);
      const { items, pages } = await walk('/users');
      assert.equal(pages, 3);
      assert.deepEqual(items.map((u) => u.id).sort(), [...users.keys()].sort());
    });

    it('$top asks for 1 to 999 per page; the last page has no nextLink', async () => {
      const all = await ok('/users?$top=999');
      assert.equal(all.value.length, users.size);
      assert.equal(all['@odata.nextLink'], undefined);
      const one = await ok('/users?$top=1');
      assert.equal(one.value.length, 1);
      assert.match(one['@odata.nextLink'], /\?\$top=1&\$skiptoken=/);
    });

    it('$top outside 1–999, or not a number: 400 naming $top', async () => {
      for (const top of ['0', '1000', '-1', 'ten', '1.5', '99999999999999999999', '']) {
        await refused(`/users?$top=${top}`, 'Request_UnsupportedQuery', /^Invalid page size specified: '.*'\. Must be between 1 and 999 inclusive\.$/);
      }
    });

    it('keeps working while users are added: every user there from the start is seen exactly once', async () => {
      for (const order of ['', '&$orderby=displayName', '&$orderby=displayName desc']) {
        const before = new Set(users.keys());
        const added: string[] = [];
        // After each page, new users sort before, inside and after what was read so far.
        const { items } = await walk(`/users?$top=40${order}`, {}, async (page) => {
          for (const name of [`Aaron ${order.length}-${page}`, `Persona ${order.length}-${page}`, `Zed ${order.length}-${page}`]) added.push(await makeUser(name));
        });
        const ids = items.map((u) => u.id);
        assert.equal(new Set(ids).size, ids.length, `${order}: nobody twice`);
        for (const id of before) assert.ok(ids.includes(id), `${order}: ${users.get(id)} was there all along`);
        assert.ok(added.length > 0);
      }
    });

    it('pages contacts, contact folders and child folders too', async () => {
      const base = `/users/${owner}/contactFolders/${folders.top}/childFolders/${folders.child}/childFolders/${folders.grandchild}/contacts`;
      const { items, pages } = await walk(`${base}?$top=10`);
      assert.equal(pages, 3);
      assert.deepEqual(new Set(items.map((c) => c.id)), grandchildContacts);
      const children = await walk(`/users/${owner}/contactFolders/${folders.top}/childFolders?$top=4`);
      assert.equal(children.items.length, 15);
      assert.equal(children.pages, 4);
      const top = await ok(`/users/${owner}/contactFolders?$top=1`);
      assert.deepEqual(top.value.map((f: any) => f.id), [folders.top]);
      assert.equal(top['@odata.nextLink'], undefined);
    });
  });

  describe('$skiptoken', () => {
    it('a forged, truncated or garbled skiptoken is a 400 naming $skiptoken, never a 500', async () => {
      const real = new URL((await ok('/users?$top=5'))['@odata.nextLink']).searchParams.get('$skiptoken')!;
      const decoded = JSON.parse(Buffer.from(real, 'base64url').toString('utf8'));
      const forged = (fields: unknown) => Buffer.from(JSON.stringify(fields)).toString('base64url');
      const tokens = [
        'abc',
        real.slice(0, -3),
        `${real}x`,
        '!!!!',
        'x'.repeat(9000),
        forged([2, decoded[1], decoded[2]]),
        forged([1, 'not-this-listing', decoded[2]]),
        forged([1, decoded[1], 42]),
        forged([1, decoded[1], "x' OR 1=1 --", 'extra']),
        forged({ 0: 1, 1: decoded[1], 2: decoded[2] }),
        forged([1, decoded[1], 'a\u0000b']),
        Buffer.from('not json').toString('base64url'),
      ];
      for (const skiptoken of tokens) {
        await refused(`/users?$top=5&$skiptoken=${encodeURIComponent(skiptoken)}`, 'BadRequest', /^The query option '\$skiptoken' is invalid: it is not one this listing gave out/);
      }
      // A forged position inside this listing is only a place to start from: still 200.
      const elsewhere = forged([1, decoded[1], "x' OR 1=1 --"]);
      assert.equal((await call('GET', `/users?$top=5&$skiptoken=${elsewhere}`)).status, 200);
    });

    it('a skiptoken from another listing, order or filter is foreign: 400', async () => {
      const usersToken = new URL((await ok('/users?$top=1'))['@odata.nextLink']).searchParams.get('$skiptoken')!;
      const groupsToken = new URL((await ok('/groups?$top=1'))['@odata.nextLink']).searchParams.get('$skiptoken')!;
      const message = /'\$skiptoken' is invalid/;
      await refused(`/groups?$skiptoken=${usersToken}`, 'BadRequest', message);
      await refused(`/users?$skiptoken=${groupsToken}`, 'BadRequest', message);
      await refused(`/users?$orderby=displayName&$skiptoken=${usersToken}`, 'BadRequest', message);
      await refused(`/users?$filter=${encodeURIComponent("userType eq 'Member'")}&$skiptoken=${usersToken}`, 'BadRequest', message);
      const contactsToken = new URL((await ok(`/users/${owner}/contactFolders/${folders.grandchild}/contacts?$top=1`))['@odata.nextLink']).searchParams.get('$skiptoken')!;
      await refused(`/users/${owner}/contacts?$skiptoken=${contactsToken}`, 'BadRequest', message);
      // The same listing with another $top or $select goes on: the position is the same.
      assert.equal((await call('GET', `/users?$top=7&$select=id&$skiptoken=${usersToken}`)).status, 200);
    });
  });

  describe('$select', () => {
    it('answers only the chosen properties of users, in any case, and says so in @odata.context', async () => {
      const body = await ok('/users?$top=3&$select=DISPLAYNAME,mail');
      assert.equal(body['@odata.context'], `${server.graph}/$metadata#users(displayName,mail)`);
      for (const user of body.value) assert.deepEqual(Object.keys(user), ['displayName', 'mail']);
      assert.match(body['@odata.nextLink'], /\$select=DISPLAYNAME%2Cmail&/);
    });

    it('contacts and folders keep their id, as Outlook answers', async () => {
      const body = await ok(`/users/${owner}/contactFolders/${folders.grandchild}/contacts?$top=2&$select=surname`);
      for (const contact of body.value) assert.deepEqual(Object.keys(contact), ['id', 'surname']);
    });

    it('a property the type lacks, or an empty name: 400 naming it', async () => {
      await refused('/users?$select=displayName,jobTitle', 'BadRequest', /^Could not find a property named 'jobTitle' on type 'microsoft\.graph\.user'\.$/);
      await refused('/groups?$select=userPrincipalName', 'BadRequest', /named 'userPrincipalName' on type 'microsoft\.graph\.group'/);
      await refused('/users?$select=id,,mail', 'BadRequest', /'\$select' is invalid: it names an empty property/);
      await refused(`/users?$select=${'a,'.repeat(600)}a`, 'BadRequest', /'\$select' is invalid: it is longer than 1024/);
    });
  });

  describe('$filter', () => {
    const names = async (path: string) => (await walk(path)).items.map((u) => u.displayName as string).sort();
    const f = (filter: string) => `/users?$filter=${encodeURIComponent(filter)}`;

    it('eq and ne compare without regard to case; null matches a missing value', async () => {
      assert.deepEqual(await names(f("displayName eq 'PERSON 007'")), ['Person 007']);
      assert.deepEqual(await names(f("userPrincipalName eq 'Person007@CONTOSO.com'")), ['Person 007']);
      assert.deepEqual(await names(f("displayName eq 'Zoë O''Neil'")), ["Zoë O'Neil"]);
      assert.equal((await names(f('mail eq null'))).length, 0);
      assert.equal((await names(f("displayName ne 'Person 007'"))).length, users.size - 1);
      assert.equal((await names(f('mail ne null'))).length, users.size);
    });

    it('startswith, in, and/or and parentheses', async () => {
      assert.deepEqual(await names(f("startswith(displayName,'person 00')")), ['Person 001', 'Person 002', 'Person 004', 'Person 005', 'Person 007', 'Person 008', 'person 000', 'person 003', 'person 006', 'person 009']);
      assert.deepEqual(await names(f("id in ('" + [...users.keys()].slice(0, 3).join("','") + "')")), [...users.keys()].slice(0, 3).map((id) => users.get(id)!).sort());
      assert.deepEqual(
        await names(f("(startswith(displayName,'person 01') and displayName ne 'Person 011') or displayName eq 'person 099'")),
        ['Person 010', 'Person 013', 'Person 014', 'Person 016', 'Person 017', 'Person 019', 'person 012', 'person 015', 'person 018', 'person 099'],
      );
      // Graph's own examples write spaces as '+', and keywords in any case.
      assert.deepEqual(await names("/users?$filter=displayName+EQ+'Person+007'"), ['Person 007']);
    });

    it('startswith takes % and _ literally, and a quote cannot break out of the string', async () => {
      assert.deepEqual(await names(f("startswith(displayName,'person_0')")), []);
      assert.deepEqual(await names(f("startswith(displayName,'%')")), []);
      assert.deepEqual(await names(f("displayName eq 'x'' or 1 eq 1 --'")), []);
    });

    it('groups: groupTypes/any(c:c eq \'Unified\') and resourceProvisioningOptions/any(x:x eq \'Team\') find the group with a team', async () => {
      const ids = async (filter: string) => (await ok(`/groups?$filter=${encodeURIComponent(filter)}`)).value.map((g: any) => g.id);
      assert.deepEqual(await ids("groupTypes/any(c:c eq 'Unified')"), [unified]);
      assert.deepEqual(await ids("resourceProvisioningOptions/Any(x:x eq 'team')"), [unified]);
      assert.deepEqual(await ids("groupTypes/any(c:c eq 'DynamicMembership')"), []);
      assert.deepEqual(await ok("/groups?$filter=groupTypes/any(c:c+eq+'Unified')").then((b) => b.value.length), 1);
    });

    it('contacts and folders filter on their own properties', async () => {
      const base = `/users/${owner}/contactFolders/${folders.grandchild}/contacts`;
      const found = await ok(`${base}?$filter=${encodeURIComponent("surname eq 'contact7' or givenName eq 'nobody'")}`);
      assert.deepEqual(found.value.map((c: any) => c.surname), ['Contact7']);
      const children = await ok(`/users/${owner}/contactFolders/${folders.top}/childFolders?$filter=${encodeURIComponent("startswith(displayName,'sib')")}`);
      assert.equal(children.value.length, 14);
    });

    it('a property the type lacks: 400 naming it; an operator or function Portrait does not answer: 400 Request_UnsupportedQuery', async () => {
      await refused(f("jobTitle eq 'x'"), 'BadRequest', /^Could not find a property named 'jobTitle' on type 'microsoft\.graph\.user'\.$/);
      for (const filter of ["endswith(mail,'@contoso.com')", "displayName gt 'a'", "contains(displayName,'x')", "mail/any(m:m eq 'x')"]) {
        await refused(f(filter), 'Request_UnsupportedQuery', /^Unsupported or invalid query filter clause specified for property '(mail|displayName)' of resource 'microsoft\.graph\.user'\.$/);
      }
      await refused(`/groups?$filter=${encodeURIComponent("groupTypes eq 'Unified'")}`, 'Request_UnsupportedQuery', /property 'groupTypes'/);
      await refused(`/users/${owner}/contacts?$filter=${encodeURIComponent("emailAddresses/any(a:a/address eq 'x')")}`, 'Request_UnsupportedQuery', /property 'emailAddresses' of resource 'microsoft\.graph\.contact'/);
    });

    it('syntax errors are 400s naming $filter and where', async () => {
      for (const filter of ["displayName eq 'open", "displayName eq", "(displayName eq 'a'", "displayName eq 'a')", "displayName eq 'a' and", "displayName eq 5", 'not startswith(displayName,\'a\')', "foo(displayName,'a')", ' ', "displayName eq 'a' ; drop table users"]) {
        await refused(f(filter), 'BadRequest', /^The query option '\$filter' is invalid: /);
      }
    });

    it('every bound a client could push is a 400: length, nesting, clauses, in values, NUL', async () => {
      await refused(f(`displayName eq '${'x'.repeat(2100)}'`), 'BadRequest', /'\$filter' is invalid: it is \d+ characters long; at most 2048/);
      await refused(f(`${'('.repeat(9)}displayName eq 'a'${')'.repeat(9)}`), 'BadRequest', /parentheses nest deeper than 8/);
      await refused(f(Array.from({ length: 33 }, () => "displayName eq 'a'").join(' or ')), 'BadRequest', /more than 32 clauses/);
      await refused(f(`id in (${Array.from({ length: 51 }, (_, i) => `'${i}'`).join(',')})`), 'BadRequest', /'in' lists more than 50 values/);
      await refused(`/users?$filter=displayName eq 'a%00b'`, 'BadRequest', /a string holds U\+0000/);
      // Within the bounds: answered.
      assert.equal((await call('GET', f(`${'('.repeat(8)}displayName eq 'a'${')'.repeat(8)}`))).status, 200);
    });
  });

  describe('$orderby', () => {
    it('displayName, ascending or descending, without regard to case, across pages', async () => {
      const expected = [...users.values()].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0));
      const up = (await walk('/users?$orderby=displayName&$top=77&$select=displayName')).items.map((u) => u.displayName);
      assert.deepEqual(up, expected);
      const down = (await walk('/users?$orderby=displayName%20desc&$top=77')).items.map((u) => u.displayName);
      assert.deepEqual(down, [...expected].reverse());
    });

    it('another property, or an unknown one: 400', async () => {
      await refused('/users?$orderby=mail', 'BadRequest', /'\$orderby' is invalid: Portrait sorts by displayName only, not by mail/);
      await refused('/users?$orderby=shoeSize', 'BadRequest', /property named 'shoeSize'/);
      await refused('/users?$orderby=displayName,id', 'BadRequest', /'\$orderby' is invalid/);
    });
  });

  describe('$count and $search', () => {
    it('$count=true with ConsistencyLevel: eventual adds @odata.count of everything the filter matches', async () => {
      const body = await ok(`/users?$count=true&$top=2&$filter=${encodeURIComponent("startswith(displayName,'person 1')")}`, EVENTUAL);
      assert.equal(body['@odata.count'], 100);
      assert.equal(body.value.length, 2);
      assert.deepEqual(Object.keys(body).slice(0, 3), ['@odata.context', '@odata.count', '@odata.nextLink']);
    });

    it('$count or $search on users and groups without ConsistencyLevel: eventual is Graph’s 400', async () => {
      await refused('/users?$count=true', 'Request_UnsupportedQuery', /^Request with \$count query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'$/);
      await refused('/groups?$search="displayName:team"', 'Request_UnsupportedQuery', /^Request with \$search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'$/);
    });

    it('contacts count without the header, as Outlook does', async () => {
      const body = await ok(`/users/${owner}/contactFolders/${folders.grandchild}/contacts?$count=true&$top=1`);
      assert.equal(body['@odata.count'], 25);
    });

    it('$search="property:text" finds a word starting with the text; AND and OR combine clauses', async () => {
      const search = async (text: string) => (await walk(`/users?$search=${encodeURIComponent(text)}`, EVENTUAL)).items.map((u) => u.displayName).sort();
      assert.deepEqual(await search('"displayName:neil"'), ["Zoë O'Neil"]);
      assert.deepEqual(await search('"displayName:person 22"'), ['Person 220', 'Person 221', 'Person 223', 'Person 224', 'Person 226', 'Person 227', 'Person 229', 'person 222', 'person 225', 'person 228']);
      assert.deepEqual(await search('"displayName:person 221" OR "mail:zooneil"'), ['Person 221', "Zoë O'Neil"]);
      assert.deepEqual(await search('"displayName:person" AND "mail:person007"'), ['Person 007']);
      const groups = await ok('/groups?$search="displayName:team"', EVENTUAL);
      assert.deepEqual(groups.value.map((g: any) => g.id), [unified]);
    });

    it('a malformed $search, or one on contacts: 400', async () => {
      for (const text of ['alice', '"alice"', '"displayName:"', '"displayName:a" XOR "mail:b"', '"shoeSize:9"', '""', `"displayName:${'a'.repeat(1100)}"`]) {
        const answer = await call('GET', `/users?$search=${encodeURIComponent(text)}`, { headers: EVENTUAL });
        assert.equal(answer.status, 400, `${text}: ${JSON.stringify(answer.body)}`);
        assert.match(answer.body.error.message, /\$search|property named 'shoeSize'/);
      }
      await refused(`/users/${owner}/contacts?$search="displayName:a"`, 'Request_BadRequest', /^'\$search' is not supported by the service\.$/);
    });

    it('$count must be true or false', async () => {
      await refused('/users?$count=yes', 'BadRequest', /'\$count' is invalid: it must be true or false/, EVENTUAL);
    });
  });

  describe('options Portrait does not answer', () => {
    it('$skip, $expand and any unknown $ option: 400 naming it, as Graph answers $skip', async () => {
      for (const option of ['$skip=1', '$expand=manager', '$format=json', '$SKIP=2', '$foo=bar', 'skip=1', 'expand=memberOf']) {
        const name = option.split('=')[0]!;
        await refused(`/users?${option}`, 'Request_BadRequest', new RegExp(`^'${name.replace('$', '\\$')}' is not supported by the service\\.$`));
      }
    });

    it('the $ is optional (OData 4.01): top=2 is $top=2; both at once is a 400; custom options are ignored', async () => {
      assert.equal((await ok('/users?top=2&Select=id')).value.length, 2);
      await refused('/users?$top=2&top=3', 'BadRequest', /'\$top' is invalid: it is given more than once/);
      await refused('/users?$top=2&$TOP=3', 'BadRequest', /given more than once/);
      assert.equal((await ok('/users?$top=2&tracking=abc')).value.length, 2);
    });
  });

  describe('addressing and headers', () => {
    it("users('{id}'), groups('{id}') and their listings, as OData's key syntax writes them", async () => {
      const user = await ok(`/users('${owner}')`);
      assert.equal(user.id, owner);
      const group = await ok(`/groups('${unified}')`);
      assert.equal(group.id, unified);
      const contacts = await ok(`/users('${owner}')/contactFolders('${folders.grandchild}')/contacts?$top=1`);
      assert.equal(contacts.value.length, 1);
      assert.equal((await call('GET', `/users('00000000-0000-4000-8000-000000000000')`)).status, 404);
    });

    it('a folder at any depth by its id: contactFolders/{grandchild} and its contacts', async () => {
      const folder = await ok(`/users/${owner}/contactFolders/${folders.grandchild}`);
      assert.equal(folder.displayName, 'Grandchild');
      assert.equal(folder.parentFolderId, folders.child);
      const { items } = await walk(`/users/${owner}/contactFolders/${folders.grandchild}/contacts?$top=7`);
      assert.deepEqual(new Set(items.map((c) => c.id)), grandchildContacts);
      // The chain after it must still be real.
      assert.equal((await call('GET', `/users/${owner}/contactFolders/${folders.grandchild}/childFolders/${folders.child}`)).status, 404);
    });

    it('JSON answers say Graph’s OData Content-Type and OData-Version: 4.0; errors stay plain JSON', async () => {
      await call('PUT', `/users/${owner}/photo/$value`, { headers: { 'content-type': 'image/jpeg' } });
      const upload = await request(`${server.graph}/users/${owner}/photo/$value`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' },
        body: await solidJpeg([0, 85, 170], 100),
      });
      assert.equal(upload.status, 200);
      const listings = [`/groups/${unified}/members`, `/groups/${unified}/members/$ref`, `/users/${owner}/memberOf`];
      for (const path of ['/users?$top=1', `/users/${owner}`, `/groups/${unified}`, `/users/${owner}/photo`, `/users/${owner}/photo`, `/users/${owner}/photos`, ...listings]) {
        const answer = await call('GET', path);
        assert.equal(answer.status, 200, path);
        assert.equal(answer.headers.get('content-type'), ODATA_JSON, path);
        assert.equal(answer.headers.get('odata-version'), '4.0', path);
      }
      const error = await call('GET', '/users?$skip=1');
      assert.match(String(error.headers.get('content-type')), /^application\/json(;|$)/);
      assert.equal(error.headers.get('odata-version'), null);
    });
  });
});
