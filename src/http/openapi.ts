// The OpenAPI 3.1 document served at /v1.0/openapi.json and /beta/openapi.json,
// generated from what the server itself runs on: the Graph routes, operations and
// body schemas of http/graph-api.ts, the permission table of auth/permissions.ts,
// and the list of routes Fastify registered (recorded as they are added). A
// registered route this module cannot describe fails the document's build, so a
// new route cannot be left out of it.
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { permissionsOf } from '../auth/permissions.js';
import type { JsonSchema } from './body-schema.js';
import { BATCH_LIMIT, BATCH_METHODS } from './batch-request.js';
import { ROUTES, SCHEMAS, type Body, type Method, type Operation, type Route } from './graph-api.js';

type Json = Record<string, unknown>;

/** What Fastify registered, as the onRoute hook saw it. */
export interface RegisteredRoute {
  readonly url: string;
  readonly methods: readonly string[];
}

/** Records every route as it is registered; call before any route is added. */
export function recordRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    routes.push({ url: route.url, methods: ([] as string[]).concat(route.method) });
  });
  return routes;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad request: the path, a query option or the body (see docs/errors.md).',
  401: 'No valid bearer token (InvalidAuthenticationToken), with WWW-Authenticate.',
  403: 'The token holds no permission for this (Authorization_RequestDenied, naming the permissions that would do).',
  404: 'The owner (Request_ResourceNotFound) or its photo (ImageNotFound) does not exist.',
  412: 'If-Match does not match the photo’s current ETag (resourceModified).',
  408: 'The body did not arrive in time, or too slowly (RequestTimeout); the connection is closed.',
  413: 'The body is over 4 MiB (RequestEntityTooLarge).',
  429: 'Too many uploads at once (TooManyRequests), with Retry-After.',
  503: 'The server is out of room for now (serviceNotAvailable), with Retry-After: the bodies in flight fill its memory budget, or an upload waited too long for decoding memory.',
};

/** What any request with a body can also answer (docs/operations.md, "Limits"). */
const BODY_ERRORS = [408, 413, 503] as const;

const SERVICE_SCHEMAS: Record<string, JsonSchema> = {
  batchRequest: {
    type: 'object',
    required: ['requests'],
    properties: {
      requests: {
        type: 'array',
        maxItems: BATCH_LIMIT,
        items: {
          type: 'object',
          required: ['id', 'method', 'url'],
          properties: {
            id: { type: 'string', minLength: 1, maxLength: 128 },
            method: { type: 'string', enum: BATCH_METHODS },
            url: { type: 'string', description: 'Relative to the version: /users/{id}/photo/$value.' },
            headers: { type: 'object', additionalProperties: { type: 'string' } },
            body: { description: 'JSON for a JSON Content-Type; otherwise (an image) a base64 string. Needs a Content-Type header.' },
            dependsOn: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
  batchResponse: {
    type: 'object',
    required: ['responses'],
    properties: {
      responses: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'status', 'headers'],
          properties: {
            id: { type: 'string' },
            status: { type: 'integer', description: '424 when a request it depends on failed.' },
            headers: { type: 'object', additionalProperties: { type: 'string' } },
            body: { description: 'JSON when Content-Type is JSON; photo bytes as a base64 string; absent when empty.' },
          },
        },
      },
    },
  },
  health: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok', 'ready', 'unavailable'] } } },
  openIdConfiguration: {
    type: 'object',
    required: ['issuer', 'token_endpoint', 'jwks_uri'],
    properties: { issuer: { type: 'string' }, token_endpoint: { type: 'string' }, jwks_uri: { type: 'string' }, authorization_endpoint: { type: 'string' } },
  },
  jsonWebKeySet: {
    type: 'object',
    required: ['keys'],
    properties: { keys: { type: 'array', items: { type: 'object', properties: { kty: { type: 'string' }, kid: { type: 'string' }, n: { type: 'string' }, e: { type: 'string' } } } } },
  },
  tokenRequest: {
    type: 'object',
    required: ['grant_type', 'client_id'],
    properties: {
      grant_type: { type: 'string', enum: ['client_credentials', 'authorization_code', 'refresh_token'] },
      client_id: { type: 'string' },
      client_secret: { type: 'string', description: 'Or HTTP Basic authentication. Required by client_credentials; a browser app has none.' },
      scope: { type: 'string', examples: ['https://graph.microsoft.com/.default'], description: 'Required by client_credentials; a refresh may ask for less than was granted.' },
      code: { type: 'string', description: 'authorization_code: the code sent to the redirect URI.' },
      redirect_uri: { type: 'string', description: 'authorization_code: the one the code was sent to.' },
      code_verifier: { type: 'string', description: 'authorization_code: the PKCE verifier whose S256 was the code_challenge.' },
      refresh_token: { type: 'string', description: 'refresh_token: the last one given (each is used once).' },
    },
  },
  tokenResponse: {
    type: 'object',
    required: ['token_type', 'expires_in', 'access_token'],
    properties: {
      token_type: { type: 'string', const: 'Bearer' },
      expires_in: { type: 'integer' },
      ext_expires_in: { type: 'integer' },
      access_token: { type: 'string' },
      scope: { type: 'string' },
      refresh_token: { type: 'string', description: 'When offline_access was granted: a new one at every use.' },
      id_token: { type: 'string', description: 'When openid was granted.' },
    },
  },
  oauthError: {
    type: 'object',
    required: ['error', 'error_description'],
    properties: {
      error: { type: 'string' },
      error_description: { type: 'string' },
      error_codes: { type: 'array', items: { type: 'integer' } },
      timestamp: { type: 'string' },
      trace_id: { type: 'string' },
      correlation_id: { type: 'string' },
    },
  },
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: string) => ({ 'application/json': { schema: ref(schema) } });
const NO_AUTH: unknown[] = [];

/** Routes outside the Graph API, by the URL Fastify registered them under. */
function servicePaths(version: string): Record<string, Json> {
  const oauthError = { description: 'An OAuth error MSAL understands (docs/errors.md, OAuth endpoints).', content: jsonContent('oauthError') };
  const tenant = { name: 'tenant', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
  return {
    '/healthz': {
      get: { operationId: 'health', tags: ['service'], summary: 'The process is up.', security: NO_AUTH, responses: { 200: { description: 'Up.', content: jsonContent('health') } } },
    },
    '/readyz': {
      get: {
        operationId: 'readiness',
        tags: ['service'],
        summary: 'The database answers and its migrations ran: send traffic here.',
        security: NO_AUTH,
        responses: { 200: { description: 'Ready.', content: jsonContent('health') }, 503: { description: 'Not ready.', content: jsonContent('health') } },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['service'],
        summary: 'Prometheus metrics (text format 0.0.4), to a token with the Reports.Read.All application permission (docs/operations.md).',
        responses: {
          200: { description: 'The exposition.', content: { 'text/plain': {} } },
          401: { $ref: '#/components/responses/error401' },
          403: { $ref: '#/components/responses/error403' },
        },
      },
    },
    // The web app (http/web-routes.ts): pages and files, not API; described so that nothing served is left out.
    '/': {
      get: { operationId: 'webApp', tags: ['web'], summary: 'The web app’s page (HTML, no-cache).', security: NO_AUTH, responses: { 200: { description: 'The page.', content: { 'text/html': {} } } } },
    },
    '/assets/{version}/{name}': {
      get: {
        operationId: 'webAsset',
        tags: ['web'],
        summary: 'One of the web app’s scripts or its stylesheet, under the hash of them all: cached for a year as immutable.',
        security: NO_AUTH,
        parameters: [
          { name: 'version', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
        ],
        responses: { 200: { description: 'The file.' }, 304: { description: 'Not modified (If-None-Match).' }, 404: { $ref: '#/components/responses/error404' } },
      },
    },
    '/web/config.json': {
      get: {
        operationId: 'webConfig',
        tags: ['web'],
        summary: 'Where the web app signs people in (authority, client id, scopes).',
        security: NO_AUTH,
        responses: { 200: { description: 'The configuration.', content: { 'application/json': {} } } },
      },
    },
    [`/${version}/openapi.json`]: {
      get: { operationId: `openapi_${version}`, tags: ['service'], summary: 'This document.', security: NO_AUTH, responses: { 200: { description: 'OpenAPI 3.1.', content: { 'application/json': {} } } } },
    },
    [`/${version}/$batch`]: {
      post: {
        operationId: `batch_${version}`,
        tags: ['batch'],
        summary: `JSON batching: up to ${BATCH_LIMIT} requests in one, each authorized on its own with this token; dependsOn orders them.`,
        requestBody: { required: true, content: jsonContent('batchRequest') },
        responses: {
          200: { description: 'Every request’s answer, in the order sent.', content: jsonContent('batchResponse') },
          ...errorResponses(BODY_ERRORS),
        },
      },
    },
    '/{tenant}/v2.0/.well-known/openid-configuration': {
      get: {
        operationId: 'openIdConfiguration',
        tags: ['oauth'],
        summary: 'OpenID Connect discovery for the built-in issuer (what Azure Identity reads).',
        security: NO_AUTH,
        parameters: [tenant],
        responses: { 200: { description: 'Discovery document.', content: jsonContent('openIdConfiguration') }, 400: oauthError },
      },
    },
    '/{tenant}/discovery/v2.0/keys': {
      get: {
        operationId: 'signingKeys',
        tags: ['oauth'],
        summary: 'The built-in issuer’s signing keys.',
        security: NO_AUTH,
        parameters: [tenant],
        responses: { 200: { description: 'JSON Web Key Set.', content: jsonContent('jsonWebKeySet') }, 400: oauthError },
      },
    },
    '/{tenant}/oauth2/v2.0/authorize': {
      get: {
        operationId: 'authorize',
        tags: ['oauth'],
        summary:
          'Signing a person in (authorization code, PKCE S256 only): an HTML page to pick or type who, when Portrait listens on loopback or runs with --dev-sign-in; otherwise a page saying sign-in is off. A bad client or redirect_uri is a page, never a redirect.',
        security: NO_AUTH,
        parameters: [tenant],
        responses: {
          200: { description: 'The sign-in page.', content: { 'text/html': { schema: { type: 'string' } } } },
          303: { description: 'An OAuth error for the client, at its registered redirect_uri, with its state.' },
          400: { description: 'Why the request cannot go on (an unknown client or redirect_uri), as a page.', content: { 'text/html': { schema: { type: 'string' } } } },
          403: { description: 'Sign-in at the built-in issuer is off here, as a page.', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
      post: {
        operationId: 'authorizeChoice',
        tags: ['oauth'],
        summary: 'The person chosen on the page: a code, sent to the registered redirect_uri (303).',
        security: NO_AUTH,
        parameters: [tenant],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object' } } } },
        responses: {
          303: { description: 'The code (or an OAuth error) at the redirect_uri, with the state.' },
          400: { description: 'A name that is no userPrincipalName: the page again, saying why.', content: { 'text/html': { schema: { type: 'string' } } } },
          403: { description: 'Sign-in at the built-in issuer is off here, as a page.', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/{tenant}/oauth2/v2.0/logout': {
      get: {
        operationId: 'signOut',
        tags: ['oauth'],
        summary: 'end_session_endpoint: Portrait keeps no session; back to post_logout_redirect_uri when it is one of client_id’s redirect URIs, else a page.',
        security: NO_AUTH,
        parameters: [tenant],
        responses: { 200: { description: 'You are signed out.', content: { 'text/html': { schema: { type: 'string' } } } }, 303: { description: 'Back to the app.' } },
      },
    },
    '/{tenant}/oauth2/v2.0/token': {
      post: {
        operationId: 'token',
        tags: ['oauth'],
        summary: 'A token: by client credentials (applications added with `portrait app add`), or for a person signed in (authorization_code with its PKCE code_verifier, refresh_token). Other methods: 400 invalid_request.',
        security: NO_AUTH,
        parameters: [tenant],
        requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: ref('tokenRequest') } } },
        responses: {
          200: { description: 'The token.', content: jsonContent('tokenResponse') },
          400: oauthError,
          401: oauthError,
          429: { ...oauthError, description: 'Too many wrong client secrets from this address or for this client id (temporarily_unavailable), with Retry-After.' },
          503: { ...oauthError, description: 'Too many client secrets waiting to be checked (temporarily_unavailable), with Retry-After.' },
        },
      },
    },
  };
}

function errorResponses(statuses: readonly number[]): Json {
  const responses: Json = {};
  for (const status of [400, 401, ...statuses]) responses[status] = { $ref: `#/components/responses/error${status}` };
  return responses;
}

function bodyContent(body: Body): Json {
  if (body.kind === 'json') return jsonContent(body.schema);
  return { 'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } } };
}

/** An upload's body: any of the accepted formats, whatever the Content-Type says (the JS client sends application/json). */
const IMAGE_UPLOAD = {
  required: true,
  description: 'JPEG, PNG, WebP, GIF (first frame) or AVIF, at most 4 MiB. The format is read from the bytes; the Content-Type is not trusted.',
  content: Object.fromEntries(
    ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif', 'application/octet-stream', 'application/json'].map((type) => [
      type,
      { schema: { type: 'string', contentMediaType: type === 'application/json' ? 'application/octet-stream' : type } },
    ]),
  ),
};

/** A listing's query options (http/odata-query.ts); anything else beginning with $ is a 400. */
const LIST_PARAMETERS: Json[] = [
  { name: '$top', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 999, default: 100 }, description: 'Objects per page.' },
  { name: '$skiptoken', in: 'query', required: false, schema: { type: 'string' }, description: 'Opaque; from @odata.nextLink only.' },
  { name: '$select', in: 'query', required: false, schema: { type: 'string', examples: ['id,displayName'] } },
  { name: '$filter', in: 'query', required: false, schema: { type: 'string', maxLength: 2048, examples: ["startswith(displayName,'a') and userType eq 'Member'"] }, description: 'eq, ne, in, startswith, and, or; groupTypes/any(c:c eq \'Unified\').' },
  { name: '$orderby', in: 'query', required: false, schema: { type: 'string', enum: ['displayName', 'displayName asc', 'displayName desc'] } },
  { name: '$count', in: 'query', required: false, schema: { type: 'boolean' }, description: 'Adds @odata.count; users and groups need ConsistencyLevel: eventual.' },
  { name: '$search', in: 'query', required: false, schema: { type: 'string', examples: ['"displayName:ali"'] }, description: 'Users and groups; needs ConsistencyLevel: eventual.' },
  { name: 'ConsistencyLevel', in: 'header', required: false, schema: { type: 'string', enum: ['eventual'] } },
];

function graphOperation(template: string, method: Method, operation: Operation): Json {
  const parameters: Json[] = [];
  if (operation.conditional === 'read') {
    parameters.push({ name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'An ETag; 304 while the photo is unchanged.' });
  }
  if (operation.conditional === 'write') {
    parameters.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'The ETag the change is based on; 412 when the photo changed since.' });
  }
  if (operation.select) {
    parameters.push({ name: '$select', in: 'query', required: false, schema: { type: 'string', examples: ['id,width,height'] } });
  }
  if (operation.list) parameters.push(...LIST_PARAMETERS);
  const { target, access } = operation.permission;
  const ok: Json = { description: operation.response ? 'OK.' : 'Done; no body.' };
  if (operation.response) ok.content = bodyContent(operation.response);
  if (operation.conditional === 'read' || operation.request?.kind === 'image') {
    ok.headers = { ETag: { description: 'The photo version’s strong ETag.', schema: { type: 'string' } } };
  }
  const responses: Json = { [operation.status]: ok };
  if (operation.conditional === 'read') responses[304] = { description: 'Not modified: the If-None-Match ETag is current.' };
  Object.assign(responses, errorResponses(operation.request ? [...new Set([...operation.errors, ...BODY_ERRORS])].sort((a, b) => a - b) : operation.errors));
  return {
    operationId: `${template.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')}_${method.toLowerCase()}`,
    tags: [template.includes('/photo') ? 'photos' : 'directory'],
    summary: operation.summary,
    ...(parameters.length > 0 && { parameters }),
    ...(operation.request && {
      requestBody: operation.request.kind === 'image' ? IMAGE_UPLOAD : { required: true, content: jsonContent(operation.request.schema) },
    }),
    responses,
    'x-permissions': permissionsOf(target, access),
  };
}

function pathParameters(template: string): Json[] {
  return [...template.matchAll(/\{([^}]+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: name === 'size' ? { type: 'string', pattern: '^[0-9]+[xX][0-9]+$', examples: ['96x96'] } : { type: 'string' },
    ...(name === 'user-id' && { description: 'The user’s id or userPrincipalName.' }),
  }));
}

function graphPaths(version: string): Record<string, Json> {
  const paths: Record<string, Json> = {};
  for (const route of Object.values(ROUTES) as readonly Route[]) {
    if (route.versions !== undefined && !route.versions.includes(version as 'v1.0' | 'beta')) continue;
    for (const template of route.templates) {
      const item: Json = (paths[`/${version}${template}`] ??= { parameters: pathParameters(template) });
      for (const [method, operation] of Object.entries(route.operations)) {
        item[method.toLowerCase()] = graphOperation(template, method as Method, operation);
      }
    }
  }
  return paths;
}

/** Fastify's /:name/ to OpenAPI's /{name}/. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

export function buildOpenApiDocument(version: string, routes: readonly RegisteredRoute[], serviceVersion: string): Json {
  const service = servicePaths(version);
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    if (route.url === `/${version}/*`) {
      Object.assign(paths, graphPaths(version));
      continue;
    }
    // The other version's routes are in its own document.
    if (/^\/(v1\.0|beta)\//.test(route.url) && !route.url.startsWith(`/${version}/`)) continue;
    const path = openApiPath(route.url);
    const described = service[path];
    if (described === undefined) throw new Error(`openapi.json: the route ${route.url} is not described`);
    paths[path] = described;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Portrait: Microsoft Graph profile photos',
      version: serviceVersion,
      description:
        'The Microsoft Graph profile photo API for users, groups, teams and contacts, as Portrait serves it. ' +
        'Errors use Graph’s envelope; docs/errors.md lists every code. x-permissions lists the Graph permissions ' +
        'that allow each operation (delegated for one’s own or another’s object, application).',
    },
    security: [{ bearer: [] }],
    tags: [
      { name: 'photos', description: 'Profile photos.' },
      { name: 'directory', description: 'What a client needs to create what it photographs.' },
      { name: 'batch', description: 'JSON batching.' },
      { name: 'oauth', description: 'The built-in issuer, for Azure Identity and for people signing in to browser apps.' },
      { name: 'service', description: 'Health and this document.' },
      { name: 'web', description: 'The web app served at / (served by `portrait serve`).' },
    ],
    paths,
    components: {
      schemas: { ...SCHEMAS, ...SERVICE_SCHEMAS },
      responses: Object.fromEntries(
        Object.entries(ERROR_DESCRIPTIONS).map(([status, description]) => [`error${status}`, { description, content: jsonContent('error') }]),
      ),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
  };
}

const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);

/**
 * GET /{version}/openapi.json for each version: unauthenticated (it holds no tenant's
 * data), built on first request — when every route has been registered — and kept.
 */
export function registerOpenApiRoutes(app: FastifyInstance, routes: readonly RegisteredRoute[], versions: readonly string[]): void {
  for (const version of versions) {
    let document: string | undefined;
    app.get(`/${version}/openapi.json`, async function openApi(_request, reply) {
      document ??= JSON.stringify(buildOpenApiDocument(version, routes, await packageVersion()));
      return reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(document);
    });
  }
}

async function packageVersion(): Promise<string> {
  return (JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version: string }).version;
}
