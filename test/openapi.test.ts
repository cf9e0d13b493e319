// The published contract (/v1.0/openapi.json and /beta/openapi.json) against the
// server that publishes it: the document is valid OpenAPI 3.1; every route Fastify
// registered is in it; every Graph path in it is served with exactly the methods it
// lists (the others answer 405 with that Allow); every documented read answers its
// documented status with a body its documented schema accepts; every documented JSON
// request body is checked against its documented schema.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { createHarness, type Harness } from './helpers/harness.js';
import { photo } from './helpers/images.js';
import { startHttpsServer } from './helpers/graph-clients.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get as httpsGet } from 'node:https';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } } & Record<string, any>;

/** Full paths and methods from Fastify's printRoutes() tree. */
function registeredRoutes(tree: string): { path: string; methods: string[] }[] {
  const routes: { path: string; methods: string[] }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:│   |    )*)(?:├── |└── )(.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] as string).length / 4;
    stack.length = depth;
    stack.push(match[2] as string);
    if (match[3] !== undefined) routes.push({ path: stack.join(''), methods: match[3].split(', ') });
  }
  return routes;
}

describe('openapi.json: the published contract is what the server runs', () => {
  let h: Harness;
  let doc: Doc;
  let ajv: Ajv2020;
  const validators = new Map<string, ValidateFunction>();
  // Tokens: everything allowed, and nothing allowed; delegated ones for /me and /drive.
  const auth: Record<'app' | 'me' | 'appNone' | 'meNone', { authorization: string }> = {} as never;
  // The ids a template's {placeholders} take, for alice (/me, /users/{user-id}) and for the invited guest.
  let alice: Record<string, string>;
  let guest: Record<string, string>;

  const schemaValidator = (schema: object): ValidateFunction => {
    const key = JSON.stringify(schema);
    const known = validators.get(key);
    if (known) return known;
    const validate = ajv.compile({ ...schema, components: doc.components });
    validators.set(key, validate);
    return validate;
  };

  before(async () => {
    h = await createHarness({ oauth: true });
    const res = await h.app.inject({ method: 'GET', url: '/v1.0/openapi.json' });
    assert.equal(res.statusCode, 200);
    doc = res.json();
    ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });

    const aliceUser = await h.user('alice@contoso.com', { admin: true });
    auth.app = { authorization: `Bearer ${await h.appToken(['User.ReadWrite.All', 'Group.ReadWrite.All', 'Contacts.ReadWrite', 'User.Invite.All', 'Files.Read.All'])}` };
    auth.appNone = { authorization: `Bearer ${await h.appToken([])}` };
    auth.me = {
      authorization: `Bearer ${await h.userToken(aliceUser, ['User.ReadWrite.All', 'Group.ReadWrite.All', 'Contacts.ReadWrite', 'User.Invite.All', 'Files.Read'], { admin: true })}`,
    };
    auth.meNone = { authorization: `Bearer ${await h.userToken(aliceUser, ['openid'])}` };

    const post = async (url: string, body: unknown, status = 201) => {
      const r = await h.app.inject({ method: 'POST', url: `/v1.0${url}`, headers: auth.app, payload: body as object });
      assert.equal(r.statusCode, status, `${url}: ${r.body}`);
      return status === 204 ? undefined : r.json();
    };
    const invitation = await post('/invitations', { invitedUserEmailAddress: 'guest@fabrikam.com', inviteRedirectUrl: 'https://example.com' });
    const group = await post('/groups', { displayName: 'Design' });
    const team = await h.app.inject({ method: 'PUT', url: `/v1.0/groups/${group.id}/team`, headers: auth.app, payload: {} });
    assert.equal(team.statusCode, 201);
    const tree = async (userId: string) => {
      const folder = await post(`/users/${userId}/contactFolders`, { displayName: 'Friends' });
      const child = await post(`/users/${userId}/contactFolders/${folder.id}/childFolders`, { displayName: 'Close' });
      const contacts = [
        await post(`/users/${userId}/contacts`, { displayName: 'Carol' }),
        await post(`/users/${userId}/contactFolders/${folder.id}/contacts`, { displayName: 'Dan' }),
        await post(`/users/${userId}/contactFolders/${folder.id}/childFolders/${child.id}/contacts`, { displayName: 'Erin' }),
      ];
      for (const contact of contacts) {
        const path = contact.parentFolderId === child.id
          ? `contactFolders/${folder.id}/childFolders/${child.id}/contacts/${contact.id}`
          : contact.parentFolderId === folder.id ? `contactFolders/${folder.id}/contacts/${contact.id}` : `contacts/${contact.id}`;
        const put = await h.app.inject({ method: 'PUT', url: `/v1.0/users/${userId}/${path}/photo/$value`, headers: auth.app, payload: photo('exif-org-nikon-e950.jpg') });
        assert.equal(put.statusCode, 200, put.body);
      }
      const drive = await h.app.inject({ method: 'GET', url: `/v1.0/users/${userId}/drive`, headers: auth.app });
      const put = await h.app.inject({ method: 'PUT', url: `/v1.0/users/${userId}/photo/$value`, headers: auth.app, payload: photo('gps-DSCN0010.jpg') });
      assert.equal(put.statusCode, 200, put.body);
      return { folder: folder.id, child: child.id, contacts: contacts.map((c) => c.id as string), drive: drive.json().id as string };
    };
    const mine = await tree(aliceUser.id);
    const theirs = await tree(invitation.invitedUser.id);
    const ids = (t: typeof mine, userId: string) => ({
      'user-id': userId,
      'invitation-id': invitation.id,
      'drive-id': t.drive,
      'group-id': group.id,
      'team-id': group.id,
      'member-id': userId,
      'contactFolder-id': t.folder,
      'childFolder-id': t.child,
      size: '96x96',
    });
    alice = ids(mine, aliceUser.id);
    guest = ids(theirs, invitation.invitedUser.id);
    // A contact id per template shape: at the root, in the folder, in the child folder.
    (alice as any).contacts = mine.contacts;
    (guest as any).contacts = theirs.contacts;
    const put = await h.app.inject({ method: 'PUT', url: `/v1.0/groups/${group.id}/photo/$value`, headers: auth.app, payload: photo('exif-org-nikon-e950.jpg') });
    assert.equal(put.statusCode, 200);
    // Both users are in the group, so that its joinedGroups paths (beta) answer.
    for (const userId of [aliceUser.id, invitation.invitedUser.id]) {
      await post(`/groups/${group.id}/members/$ref`, { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${userId}` }, 204);
    }
  });
  after(() => h.close());

  /** The concrete URL for a template (without the version), and the tokens it takes. */
  function instantiate(template: string): { url: string; delegated: boolean } {
    const owner = template.startsWith('/invitations/{invitation-id}/invitedUser') ? guest : alice;
    const contacts = (owner as any).contacts as string[];
    const contactId = template.includes('childFolders') ? contacts[2] : template.includes('contactFolders') ? contacts[1] : contacts[0];
    const url = template.replace(/\{([^}]+)\}/g, (_, name: string) => (name === 'contact-id' ? contactId : owner[name]) as string);
    return { url, delegated: template.startsWith('/me') || template.startsWith('/drive/') || template === '/drive' };
  }

  function graphTemplates(): [string, Record<string, any>][] {
    return Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1.0/') && path !== '/v1.0/$batch' && path !== '/v1.0/openapi.json')
      .map(([path, item]) => [path.slice('/v1.0'.length), item]);
  }

  /** The templates only /beta serves (joinedGroups: v1.0's user has none), with their items. */
  let betaOnly: [string, Record<string, any>][] = [];

  /** Every template with the version it is walked under: /v1.0's, then what only /beta has. */
  function walkedTemplates(): [string, Record<string, any>, string][] {
    return [...graphTemplates().map(([t, item]) => [t, item, 'v1.0'] as [string, Record<string, any>, string]), ...betaOnly.map(([t, item]) => [t, item, 'beta'] as [string, Record<string, any>, string])];
  }

  it('is valid OpenAPI 3.1, served without a token, for /v1.0 and /beta alike', async () => {
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    assert.equal(result.valid, true, String(JSON.stringify(result.errors)).slice(0, 2000));
    assert.equal(doc.openapi, '3.1.0');
    const beta = await h.app.inject({ method: 'GET', url: '/beta/openapi.json' });
    assert.equal(beta.statusCode, 200);
    const betaDoc = beta.json();
    assert.equal((await new Validator().validate(betaDoc)).valid, true);
    const paths = Object.keys(betaDoc.paths).filter((p) => p.startsWith('/beta/'));
    const v1 = new Set(graphTemplates().map(([t]) => t).concat(['/$batch', '/openapi.json']));
    const betaTemplates = paths.map((p) => p.slice('/beta'.length));
    assert.deepEqual([...v1].filter((t) => !betaTemplates.includes(t)), [], '/beta serves everything /v1.0 does');
    betaOnly = betaTemplates.filter((t) => !v1.has(t)).map((t) => [t, betaDoc.paths[`/beta${t}`]]);
    // Only joinedGroups is beta's alone: v1.0's user has no such navigation.
    assert.ok(betaOnly.length > 0 && betaOnly.every(([t]) => t.includes('/joinedGroups/{group-id}/photo')), betaOnly.map(([t]) => t).join('\n'));
  });

  it('describes profilePhoto as Graph defines it: id, and nullable Int32 height and width', () => {
    const { properties } = doc.components.schemas.profilePhoto;
    assert.deepEqual(properties.height, { type: ['integer', 'null'], format: 'int32', description: 'The height of the photo. Read-only.' });
    assert.deepEqual(properties.width.type, ['integer', 'null']);
    assert.equal(properties.id.type, 'string');
    const get = doc.paths['/v1.0/users/{user-id}/photo']?.get;
    assert.equal(get.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/profilePhoto');
    assert.deepEqual(get['x-permissions'].application, ['User.Read.All', 'User.ReadWrite.All', 'ProfilePhoto.Read.All', 'ProfilePhoto.ReadWrite.All']);
  });

  it('has every route the server registered (its OAuth endpoints included)', () => {
    const routes = registeredRoutes(h.app.printRoutes());
    assert.ok(routes.length >= 12, `parsed ${routes.length} routes from:\n${h.app.printRoutes()}`);
    for (const route of routes) {
      if (route.path.startsWith('/beta/')) continue; // in /beta/openapi.json, checked above
      if (route.path === '/v1.0/*') {
        assert.ok(graphTemplates().length > 100, 'the Graph catch-all is described by each path it serves');
        continue;
      }
      const path = route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const item = doc.paths[path];
      assert.ok(item, `${route.path} is registered but not in openapi.json`);
      const documented = METHODS.filter((m) => item[m.toLowerCase()] !== undefined);
      assert.ok(documented.length > 0 && documented.every((m) => route.methods.includes(m)), `${route.path}: ${documented} vs ${route.methods}`);
    }
    for (const path of ['/healthz', '/readyz', '/v1.0/$batch', '/v1.0/openapi.json', '/{tenant}/oauth2/v2.0/token', '/{tenant}/v2.0/.well-known/openid-configuration']) {
      assert.ok(doc.paths[path], path);
    }
  });

  it('every Graph path is served with exactly its documented methods: 403 without permission, 405 with its Allow otherwise', async () => {
    let checked = 0;
    assert.ok(betaOnly.length > 0, 'the first test found the beta-only templates');
    for (const [template, item, version] of walkedTemplates()) {
      const { url, delegated } = instantiate(template);
      const documented = METHODS.filter((m) => item[m.toLowerCase()] !== undefined);
      const allow = documented.includes('GET') ? [...documented, 'HEAD'] : documented;
      for (const method of METHODS) {
        const res = await h.app.inject({ method, url: `/${version}${url}`, headers: delegated ? auth.meNone : auth.appNone });
        const where = `${method} ${template} (${url})`;
        if (documented.includes(method)) {
          assert.equal(res.statusCode, 403, `${where}: ${res.body}`);
          assert.equal(res.json().error.code, 'Authorization_RequestDenied', where);
          const permissions = item[method.toLowerCase()]['x-permissions'];
          const named = delegated ? [...permissions.delegatedOwn, ...permissions.delegatedOther] : permissions.application;
          if (named.length > 0) assert.ok(named.some((p: string) => res.json().error.message.includes(p)), `${where}: ${res.json().error.message} names none of ${named}`);
        } else {
          assert.equal(res.statusCode, 405, `${where}: ${res.body}`);
          assert.deepEqual(String(res.headers.allow).split(', '), allow, where);
        }
        checked++;
      }
    }
    assert.ok(checked > 500, `${checked} checks`);
  });

  it('every documented read answers its documented status and a body its schema accepts (and 304 where documented)', async () => {
    for (const [template, item, version] of walkedTemplates()) {
      const get = item.get;
      if (!get) continue;
      const { url, delegated } = instantiate(template);
      const where = `GET ${template} (${url})`;
      const res = await h.app.inject({ method: 'GET', url: `/${version}${url}`, headers: delegated ? auth.me : auth.app });
      const success = Object.keys(get.responses).find((s) => s.startsWith('2'));
      assert.equal(String(res.statusCode), success, `${where}: ${res.body}`);
      const content = get.responses[success as string].content;
      if (content['application/json']) {
        const validate = schemaValidator(content['application/json'].schema);
        assert.ok(validate(res.json()), `${where}: ${JSON.stringify(validate.errors)} for ${res.body.slice(0, 300)}`);
      } else {
        assert.deepEqual(Object.keys(content), ['image/jpeg'], where);
        assert.equal(res.headers['content-type'], 'image/jpeg', where);
        assert.equal(res.rawPayload.subarray(0, 3).toString('hex'), 'ffd8ff', where);
      }
      if (get.responses['304']) {
        assert.ok(get.parameters.some((p: { name: string }) => p.name === 'If-None-Match'), where);
        const again = await h.app.inject({ method: 'GET', url: `/${version}${url}`, headers: { ...(delegated ? auth.me : auth.app), 'if-none-match': String(res.headers.etag) } });
        assert.equal(again.statusCode, 304, where);
      }
    }
  });

  it('every documented error answer is Graph’s envelope, as its schema says', async () => {
    const validate = schemaValidator({ $ref: '#/components/schemas/error' });
    for (const [url, headers] of [
      ['/v1.0/users/nobody@contoso.com/photo', auth.app],
      ['/v1.0/users/alice@contoso.com/photo', {}],
      ['/v1.0/groups', auth.appNone],
      ['/v1.0/nothing', auth.app],
    ] as const) {
      const res = await h.app.inject({ method: 'GET', url, headers });
      assert.ok(res.statusCode >= 400 && validate(res.json()), `${url}: ${res.statusCode} ${JSON.stringify(validate.errors)}`);
    }
  });

  it('every documented JSON request body is checked against its documented schema', async () => {
    const bodies = new Map<string, [string, string]>(); // one path per request schema
    for (const [template, item] of graphTemplates()) {
      for (const method of ['POST', 'PUT', 'PATCH']) {
        const schema = item[method.toLowerCase()]?.requestBody?.content?.['application/json']?.schema?.$ref;
        if (schema && !bodies.has(schema) && !template.includes('/invitations/{invitation-id}/invitedUser')) bodies.set(schema, [template, method]);
      }
    }
    assert.deepEqual([...bodies.keys()].map((r) => r.split('/').at(-1)).sort(), [
      'contactCreate',
      'contactFolderCreate',
      'groupCreate',
      'invitationCreate',
      'memberReference',
      'profilePhotoUpdate',
      'teamCreate',
      'userCreate',
    ]);
    for (const [ref, [template, method]] of bodies) {
      const schema = doc.components.schemas[ref.split('/').at(-1) as string];
      const { url, delegated } = instantiate(template);
      const send = (payload: unknown) =>
        h.app.inject({ method, url: `/v1.0${url}`, headers: { ...(delegated ? auth.me : auth.app), 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
      const where = `${method} ${template}`;
      for (const name of schema.required ?? []) {
        const res = await send({});
        assert.equal(res.statusCode, 400, where);
        assert.equal(res.json().error.message, `The property '${name}' is required on type '${res.json().error.message.split("'")[3]}'.`, where);
        break; // the first required member is named
      }
      for (const [name, member] of Object.entries<any>(schema.properties ?? {})) {
        const types = ([] as string[]).concat(member.type ?? []);
        if (types.length === 0 || member.const !== undefined) continue;
        const wrong = types.includes('string') ? 12345 : types.includes('integer') ? 'twelve' : types.includes('array') ? 'not a list' : 7;
        const res = await send({ ...Object.fromEntries((schema.required ?? []).map((r: string) => [r, 'x@y'])), [name]: wrong });
        assert.equal(res.statusCode, 400, `${where} ${name}=${JSON.stringify(wrong)}: ${res.body}`);
        assert.match(res.json().error.message, new RegExp(`^The property '${name.replace(/[.$]/g, '\\$&')}' must be `), where);
      }
      if (schema.additionalProperties === false) {
        const res = await send({ surprise: 1 });
        assert.equal(res.statusCode, 400, where);
        assert.equal(res.json().error.code, 'RequestBodyRead', where);
      }
    }
  });
});

describe('openapi.json from a real portrait serve over HTTPS', { timeout: 60_000 }, () => {
  it('is served without a token, valid, and names the server’s OAuth endpoints and its batch route', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'portrait-openapi-'));
    const server = await startHttpsServer(dataDir);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        httpsGet(`${server.graph}/openapi.json`, { ca: server.ca }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => void (text += chunk));
          res.once('end', () => (res.statusCode === 200 && /^application\/json/.test(String(res.headers['content-type'])) ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`))));
        }).once('error', reject);
      });
      const served = JSON.parse(body);
      const result = await new Validator().validate(served);
      assert.equal(result.valid, true, String(JSON.stringify(result.errors)).slice(0, 2000));
      for (const path of ['/{tenant}/oauth2/v2.0/token', '/{tenant}/discovery/v2.0/keys', '/v1.0/$batch', '/v1.0/users/{user-id}/photo/$value']) {
        assert.ok(served.paths[path], path);
      }
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
