// The Graph clients' page iterators walk Portrait's listings to the end (issue 11): the
// JavaScript client's PageIterator (@microsoft/microsoft-graph-client) and Kiota's
// (@microsoft/msgraph-sdk-core, with @microsoft/msgraph-sdk's models), each in its own
// `node` process against a real `portrait serve` over HTTPS, used as their docs show.
// Each walk must see every object exactly once, one request per page, following the
// @odata.nextLink Portrait wrote — for users (100 by default, or $top), a user's contacts,
// and a filtered, counted, searched listing whose later pages carry on without the
// ConsistencyLevel header the first one sent.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliToken } from './helpers/server-process.js';
import { expectCall, jsonOf, scriptFolder, startHttpsServer, wireOf, type HttpsServer, type ScriptFolder, type ScriptRun } from './helpers/graph-clients.js';

const USERS = 250;
const CONTACTS = 31;
/** Users whose displayName starts with 'Walker 1': Walker 1, 10–19, 100–199. */
const WALKER_1 = 1 + 10 + 100;

const JS_SCENARIO = String.raw`
import { Client, PageIterator } from '@microsoft/microsoft-graph-client';
import { report, step } from './harness.mjs';

const { PORTRAIT, APP_TOKEN, OWNER } = process.env;
const client = Client.init({ baseUrl: PORTRAIT, customHosts: new Set(['localhost']), authProvider: (done) => done(null, APP_TOKEN) });

async function walk(first) {
  const seen = [];
  const pages = new PageIterator(client, first, (item) => { seen.push(item); return true; });
  await pages.iterate();
  return { count: first['@odata.count'] ?? null, seen };
}

await step('users', async () => walk(await client.api('/users').get()));
await step('users top 40', async () => walk(await client.api('/users').top(40).get()));
await step('users by name desc', async () => walk(await client.api('/users').top(33).orderby('displayName desc').select('displayName').get()));
await step('users filtered, counted', async () =>
  walk(await client.api('/users').header('ConsistencyLevel', 'eventual').filter("startswith(displayName,'walker 1')").count(true).top(7).get()),
);
await step('contacts', async () => walk(await client.api('/users/' + OWNER + '/contacts').top(9).get()));
report();
`;

const KIOTA_SCENARIO = String.raw`
import { AllowedHostsValidator, BaseBearerTokenAuthenticationProvider, validateProtocol } from '@microsoft/kiota-abstractions';
import { createGraphServiceClient, GraphRequestAdapter } from '@microsoft/msgraph-sdk';
import { PageIterator } from '@microsoft/msgraph-sdk-core';
import { createContactCollectionResponseFromDiscriminatorValue, createUserCollectionResponseFromDiscriminatorValue } from '@microsoft/msgraph-sdk/models/index.js';
import { createODataErrorFromDiscriminatorValue } from '@microsoft/msgraph-sdk/models/oDataErrors/index.js';
import '@microsoft/msgraph-sdk-users';
import { report, step } from './harness.mjs';

class StaticAccessTokenProvider {
  #token;
  #hosts;
  constructor(token, allowedHosts) {
    this.#token = token;
    this.#hosts = new AllowedHostsValidator(allowedHosts);
  }
  async getAuthorizationToken(url) {
    if (!url || !this.#hosts.isUrlHostValid(url)) return '';
    validateProtocol(url);
    return this.#token;
  }
  getAllowedHostsValidator() {
    return this.#hosts;
  }
}

const { PORTRAIT, APP_TOKEN, OWNER } = process.env;
const adapter = new GraphRequestAdapter(new BaseBearerTokenAuthenticationProvider(new StaticAccessTokenProvider(APP_TOKEN, new Set(['localhost']))));
adapter.baseUrl = PORTRAIT + '/v1.0';
const graph = createGraphServiceClient(adapter);
const errorMappings = { XXX: createODataErrorFromDiscriminatorValue };

async function walk(first, factory) {
  const seen = [];
  const pages = new PageIterator(adapter, first, (item) => { seen.push({ id: item.id, displayName: item.displayName }); return true; }, factory, errorMappings);
  await pages.iterate();
  return { count: first.odataCount ?? null, seen };
}

await step('users', async () => walk(await graph.users.get(), createUserCollectionResponseFromDiscriminatorValue));
await step('users top 40', async () => walk(await graph.users.get({ queryParameters: { top: 40 } }), createUserCollectionResponseFromDiscriminatorValue));
await step('users searched, counted', async () =>
  walk(
    await graph.users.get({ queryParameters: { search: '"displayName:walker 1"', count: true, top: 7 }, headers: { ConsistencyLevel: 'eventual' } }),
    createUserCollectionResponseFromDiscriminatorValue,
  ),
);
await step('contacts', async () =>
  walk(await graph.users.byUserId(OWNER).contacts.get({ queryParameters: { top: 9 } }), createContactCollectionResponseFromDiscriminatorValue),
);
report();
`;

describe('the Graph clients’ PageIterators walk every page of a listing', { timeout: 300_000 }, () => {
  let dataDir = '';
  let server: HttpsServer;
  let scripts: ScriptFolder;
  let js: ScriptRun;
  let kiota: ScriptRun;
  const users = new Map<string, string>();
  const contacts = new Set<string>();

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'portrait-paging-clients-'));
    server = await startHttpsServer(dataDir);
    scripts = await scriptFolder(server);
    const token = await cliToken({ dataDir, app: 'paging-tests', roles: ['User.ReadWrite.All', 'Contacts.ReadWrite'] });
    for (let start = 0; start < USERS; start += 25) {
      const made = await Promise.all(
        Array.from({ length: Math.min(25, USERS - start) }, (_, i) =>
          expectCall(server, token, 'POST', '/users', 201, { userPrincipalName: `walker${start + i}@contoso.com`, displayName: `Walker ${start + i}` }),
        ),
      );
      for (const user of made) users.set(user.id, user.displayName);
    }
    const owner = [...users.keys()][0]!;
    for (let i = 0; i < CONTACTS; i++) {
      contacts.add((await expectCall(server, token, 'POST', `/users/${owner}/contacts`, 201, { displayName: `Contact ${i}` })).id);
    }
    const env = { PORTRAIT: server.origin, APP_TOKEN: token, OWNER: owner };
    js = await scripts.run('js-pages', JS_SCENARIO, { env });
    kiota = await scripts.run('kiota-pages', KIOTA_SCENARIO, { env });
  });

  after(async () => {
    await scripts?.remove();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** The walk saw exactly `expected` ids, each once, in as many requests as pages. */
  function assertWalk(run: ScriptRun, step: string, expected: Iterable<string>, pageSize: number): { seen: { id: string; displayName: string }[]; count: number | null } {
    const walked = jsonOf(run, step) as { seen: { id: string; displayName: string }[]; count: number | null };
    const ids = walked.seen.map((item) => item.id);
    const want = [...expected];
    assert.equal(new Set(ids).size, ids.length, `${step}: no object twice`);
    assert.deepEqual([...ids].sort(), [...want].sort(), `${step}: every object`);
    const requests = wireOf(run, step);
    assert.equal(requests.length, Math.max(1, Math.ceil(want.length / pageSize)), `${step}: one request per page`);
    for (const request of requests) assert.equal(request.status, 200, `${step}: ${request.url}`);
    return walked;
  }

  const walker1 = () => [...users].filter(([, name]) => name.startsWith('Walker 1')).map(([id]) => id);

  describe('@microsoft/microsoft-graph-client PageIterator', () => {
    it('walks /users 100 at a time, Graph’s default page, then with $top=40', () => {
      assertWalk(js, 'users', users.keys(), 100);
      assertWalk(js, 'users top 40', users.keys(), 40);
      const requests = wireOf(js, 'users top 40');
      assert.match(requests[1]!.url, /\/v1\.0\/users\?\$top=40&\$skiptoken=[\w-]+$/, 'the nextLink repeats $top');
    });

    it('walks $orderby=displayName desc with $select: names in order, only displayName', () => {
      const walked = jsonOf(js, 'users by name desc') as { seen: Record<string, unknown>[] };
      const names = walked.seen.map((item) => item.displayName as string);
      assert.equal(names.length, USERS);
      assert.deepEqual(names, [...users.values()].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? 1 : -1)));
      for (const item of walked.seen) assert.deepEqual(Object.keys(item), ['displayName']);
    });

    it('walks a filtered, counted listing; later pages need no ConsistencyLevel header of their own', () => {
      const walked = assertWalk(js, 'users filtered, counted', walker1(), 7);
      assert.equal(walked.count, WALKER_1);
      const [first, second] = wireOf(js, 'users filtered, counted');
      assert.equal(first!.headers.consistencylevel, 'eventual');
      assert.equal(second!.headers.consistencylevel, undefined, 'the iterator sends only what the nextLink says');
    });

    it('walks a user’s contacts', () => {
      assertWalk(js, 'contacts', contacts, 9);
    });
  });

  describe('Kiota’s PageIterator (@microsoft/msgraph-sdk-core)', () => {
    it('walks /users 100 at a time, then with $top=40', () => {
      assertWalk(kiota, 'users', users.keys(), 100);
      assertWalk(kiota, 'users top 40', users.keys(), 40);
    });

    it('walks a searched, counted listing to its end', () => {
      const walked = assertWalk(kiota, 'users searched, counted', walker1(), 7);
      assert.equal(walked.count, WALKER_1);
    });

    it('walks a user’s contacts', () => {
      assertWalk(kiota, 'contacts', contacts, 9);
    });

    it('reads Graph’s OData content type and version on every page', () => {
      for (const request of wireOf(kiota, 'users top 40')) {
        assert.equal(request.responseHeaders?.['content-type'], 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8');
        assert.equal(request.responseHeaders?.['odata-version'], '4.0');
      }
    });
  });
});
