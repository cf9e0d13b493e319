// What a client can put in a JSON body that a careless reader trips on (issue 9): JSON
// nested thousands of levels deep, which overflowed the stack while an error message
// or a batch step was built (a 500), and members named like the properties every
// JavaScript object inherits (toString, __proto__, …), which passed as known members.
// Every JSON endpoint, and a batch step's body, must answer these as any other 400.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createHarness, type Harness } from './helpers/harness.js';
import { photo } from './helpers/images.js';

const SCOPES = ['User.ReadWrite.All', 'Group.ReadWrite.All', 'Contacts.ReadWrite', 'User.Invite.All'];
const TOO_DEEP = 'Unable to read JSON request payload: it nests deeper than 64 levels.';
/** Names every plain object answers to through Object.prototype. */
const INHERITED = [
  'toString',
  'constructor',
  '__proto__',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupGetter__',
];

interface Endpoint {
  readonly method: 'POST' | 'PUT' | 'PATCH';
  readonly url: string;
  /** A body the endpoint accepts; fresh on every call (user names must differ). */
  readonly body: () => Record<string, unknown>;
  /** A member the schema knows, to nest deep JSON in. */
  readonly member: string;
  readonly status: number;
}

/** JSON text of `base` with `name` set to `rawValue`, written as it is: '__proto__' stays a member. */
function rawBody(base: Record<string, unknown>, name: string, rawValue: string): string {
  const members = Object.entries(base)
    .filter(([key]) => key !== name)
    .map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
  return `{${[...members, `${JSON.stringify(name)}:${rawValue}`].join(',')}}`;
}

/** `levels` arrays, one inside the other. */
function nested(levels: number): string {
  return '['.repeat(levels) + ']'.repeat(levels);
}

describe('JSON bodies a careless reader trips on', () => {
  let h: Harness;
  let auth: { authorization: string };
  let endpoints: Endpoint[];
  let made = 0;

  before(async () => {
    h = await createHarness();
    const megan = await h.user('megan@contoso.com', { admin: true });
    auth = { authorization: `Bearer ${await h.userToken(megan, SCOPES, { admin: true })}` };
    const upload = await h.app.inject({ method: 'PUT', url: '/v1.0/me/photo/$value', headers: auth, payload: photo('Canon_40D.jpg') });
    assert.equal(upload.statusCode, 200, upload.body);
    const group = await h.app.inject({ method: 'POST', url: '/v1.0/groups', headers: auth, payload: { displayName: 'Design' } });
    assert.equal(group.statusCode, 201, group.body);
    const groupId = group.json().id as string;
    endpoints = [
      { method: 'POST', url: '/v1.0/users', body: () => ({ userPrincipalName: `user${++made}@contoso.com`, displayName: 'User' }), member: 'displayName', status: 201 },
      { method: 'POST', url: '/v1.0/groups', body: () => ({ displayName: 'Group' }), member: 'displayName', status: 201 },
      { method: 'PUT', url: `/v1.0/groups/${groupId}/team`, body: () => ({}), member: 'displayName', status: 201 },
      { method: 'POST', url: '/v1.0/me/contactFolders', body: () => ({ displayName: 'Folder' }), member: 'displayName', status: 201 },
      { method: 'POST', url: '/v1.0/me/contacts', body: () => ({ displayName: 'Contact' }), member: 'displayName', status: 201 },
      {
        method: 'POST',
        url: '/v1.0/invitations',
        body: () => ({ invitedUserEmailAddress: `guest${++made}@fabrikam.com`, inviteRedirectUrl: 'https://myapps.microsoft.com' }),
        member: 'inviteRedirectUrl',
        status: 201,
      },
      // The JSON resize body (contract §3.3): re-renders the 100×68 master's photo.
      { method: 'PATCH', url: '/v1.0/me/photo', body: () => ({ width: 60, height: 60 }), member: 'width', status: 200 },
    ];
  });
  after(() => h.close());

  function send(endpoint: Endpoint, payload: string): Promise<LightMyRequestResponse> {
    return h.app.inject({ method: endpoint.method, url: endpoint.url, headers: { ...auth, 'content-type': 'application/json' }, payload });
  }

  function assertError(res: LightMyRequestResponse, status: number, code: string, message: string | RegExp, where: string): void {
    assert.equal(res.statusCode, status, `${where}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    const { error } = res.json() as { error: { code: string; message: string } };
    assert.equal(error.code, code, where);
    if (typeof message === 'string') assert.equal(error.message, message, where);
    else assert.match(error.message, message, where);
  }

  async function batch(requests: unknown[] | string): Promise<LightMyRequestResponse> {
    const payload = typeof requests === 'string' ? requests : JSON.stringify({ requests });
    return h.app.inject({ method: 'POST', url: '/v1.0/$batch', headers: { ...auth, 'content-type': 'application/json' }, payload });
  }

  it('each endpoint takes its plain body (the cases below differ from it in one member)', async () => {
    for (const endpoint of endpoints) {
      const res = await send(endpoint, JSON.stringify(endpoint.body()));
      assert.equal(res.statusCode, endpoint.status, `${endpoint.method} ${endpoint.url}: ${res.body}`);
    }
  });

  describe('nesting', () => {
    it('20,000 levels in a member → 400 BadRequest on every JSON endpoint, not a stack overflow', async () => {
      for (const endpoint of endpoints) {
        const res = await send(endpoint, rawBody(endpoint.body(), endpoint.member, nested(20_000)));
        assertError(res, 400, 'BadRequest', TOO_DEEP, `${endpoint.method} ${endpoint.url}`);
      }
    });

    it('64 levels is the limit, counting the body itself; the message shows 40 characters of the value', async () => {
      const contacts = endpoints.find((e) => e.url === '/v1.0/me/contacts') as Endpoint;
      const deepest = await send(contacts, rawBody({}, 'displayName', nested(63)));
      assertError(
        deepest,
        400,
        'InvalidPropertyValue',
        `The property 'displayName' must be a string of at most 1024 characters; got ${'['.repeat(40)}….`,
        '64 levels',
      );
      assertError(await send(contacts, rawBody({}, 'displayName', nested(64))), 400, 'BadRequest', TOO_DEEP, '65 levels');
      // Objects count as arrays do.
      const objects = `{"displayName":${'{"a":'.repeat(64)}1${'}'.repeat(64)}}`;
      assertError(await send(contacts, objects), 400, 'BadRequest', TOO_DEEP, '65 levels of objects');
    });

    it('brackets inside strings are text, escaped quotes and backslashes included', async () => {
      const contacts = endpoints.find((e) => e.url === '/v1.0/me/contacts') as Endpoint;
      // displayName takes 1024 characters: plenty to open more than 64 brackets.
      for (const displayName of ['['.repeat(1000), `\\"${'{['.repeat(500)}`, `\\\\${'['.repeat(100)}"${'['.repeat(100)}`]) {
        const res = await send(contacts, JSON.stringify({ displayName }));
        assert.equal(res.statusCode, 201, res.body.slice(0, 300));
        assert.equal(res.json().displayName, displayName);
      }
    });

    it('in a batch step’s body → the batch is a 400 BadRequest, and nothing in it runs', async () => {
      const before = (await h.app.inject({ method: 'GET', url: '/v1.0/me/contacts', headers: auth })).json().value.length;
      const step = (id: string, body: string) =>
        `{"id":"${id}","method":"POST","url":"/me/contacts","headers":{"Content-Type":"application/json"},"body":${body}}`;
      const payload = `{"requests":[${step('1', '{"displayName":"Runs"}')},${step('2', rawBody({}, 'displayName', nested(20_000)))}]}`;
      assertError(await batch(payload), 400, 'BadRequest', 'Invalid batch payload: the body nests deeper than 64 levels.', 'batch');
      const after = (await h.app.inject({ method: 'GET', url: '/v1.0/me/contacts', headers: auth })).json().value.length;
      assert.equal(after, before, 'no step ran');

      // Within the limit, the step's own route reads the body and answers for it.
      const within = await batch(`{"requests":[${step('1', rawBody({}, 'displayName', nested(50)))}]}`);
      assert.equal(within.statusCode, 200, within.body.slice(0, 300));
      const [answer] = within.json().responses;
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error.code, 'InvalidPropertyValue');
    });
  });

  describe('members named like what every object inherits', () => {
    it('answer as any unknown member does, on every JSON endpoint: PATCH /photo refuses them by name', async () => {
      for (const endpoint of endpoints) {
        const unknown = await send(endpoint, rawBody(endpoint.body(), 'surprise', '1'));
        for (const name of INHERITED) {
          const where = `${endpoint.method} ${endpoint.url} with '${name}'`;
          const res = await send(endpoint, rawBody(endpoint.body(), name, '1'));
          assert.equal(res.statusCode, unknown.statusCode, `${where}: ${res.body}`);
          if (endpoint.method === 'PATCH') {
            assertError(res, 400, 'RequestBodyRead', `The property '${name}' does not exist on type 'microsoft.graph.profilePhoto'.`, where);
          } else {
            assert.equal(res.statusCode, endpoint.status, `${where}: ${res.body}`);
          }
        }
      }
    });

    it('in a batch: a step’s body is checked the same, and a step’s headers may have such names', async () => {
      const res = await batch([
        ...INHERITED.map((name, i) => ({
          id: `patch${i}`,
          method: 'PATCH',
          url: '/me/photo',
          headers: { 'content-type': 'application/json' },
          body: JSON.parse(rawBody({ width: 60, height: 60 }, name, '1')) as unknown,
        })),
        { id: 'me', method: 'GET', url: '/me', headers: Object.fromEntries(INHERITED.map((name) => [name, 'x'])) },
      ]);
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      const responses = res.json().responses as { id: string; status: number; body: any }[];
      for (const [i, name] of INHERITED.entries()) {
        const answer = responses.find((r) => r.id === `patch${i}`);
        assert.equal(answer?.status, 400, `${name}: ${JSON.stringify(answer?.body)}`);
        assert.equal(answer.body.error.code, 'RequestBodyRead', name);
      }
      const me = responses.find((r) => r.id === 'me');
      assert.equal(me?.status, 200, JSON.stringify(me?.body));
      assert.equal(me.body.userPrincipalName, 'megan@contoso.com');
    });
  });
});
