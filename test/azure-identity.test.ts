// @azure/identity against a real `portrait serve` over HTTPS, as an application
// developer uses it: `portrait app add` registers the application, ClientSecretCredential
// (authorityHost = Portrait, instance discovery off) gets a token from Portrait's token
// endpoint, and that token uploads and reads a photo. Wrong secrets, unknown clients
// and unknown tenants fail in the credential with the errors Entra would give. The
// README's snippet runs as written, in a child process trusting the certificate
// through NODE_EXTRA_CA_CERTS.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ClientSecretCredential } from '@azure/identity';
import sharp from 'sharp';
import { completion, PORTRAIT_CLI, runCli } from './helpers/server-process.js';

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
/** The repository: where `@azure/identity` resolves from for the child process. */
const REPO = fileURLToPath(new URL('../../', import.meta.url));

interface Registration {
  readonly tenantId: string;
  readonly clientId: string;
  readonly secret: string;
}

interface HttpsServer {
  /** https://localhost:PORT */
  readonly origin: string;
  readonly certPath: string;
  readonly ca: Buffer;
  /** "METHOD /path?query" of every request served so far, from serve's own log. */
  requests(): string[];
  stop(): Promise<void>;
}

/** `portrait app add` as a user runs it; returns what it printed, parsed. */
async function addApplication(dataDir: string, name: string, roles: string): Promise<Registration> {
  const result = await runCli(['app', 'add', name, '--roles', roles, '--data', dataDir]);
  assert.equal(result.code, 0, result.stderr);
  const value = (name: string) => new RegExp(`^${name}=(\\S+)$`, 'm').exec(result.stdout)?.[1] ?? assert.fail(`no ${name} in ${result.stdout}`);
  assert.match(result.stdout, /shown only this once/);
  return { tenantId: value('AZURE_TENANT_ID'), clientId: value('AZURE_CLIENT_ID'), secret: value('AZURE_CLIENT_SECRET') };
}

/** `portrait serve` on a free port with its own self-signed certificate, logging every request. */
async function startHttpsServe(dataDir: string): Promise<HttpsServer> {
  const child: ChildProcess = spawn(process.execPath, [PORTRAIT_CLI, 'serve', '--data', dataDir, '--port', '0', '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => void (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => void (err += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL within 20 s: ${err}${out}`)), 20_000);
    const look = () => {
      const match = /Portrait is serving Microsoft Graph photos at (https:\/\/localhost:\d+)\/v1\.0/.exec(out);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      resolve(match[1]);
    };
    child.stdout?.on('data', look);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`serve exited before serving: ${err}${out}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  const certPath = join(dataDir, 'tls-cert.pem');
  return {
    origin,
    certPath,
    ca: readFileSync(certPath),
    requests: () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        // The access lines (src/http/access-log.ts): one per request.
        .map((line) => JSON.parse(line) as { msg?: string; method?: string; path?: string })
        .flatMap((entry) => (entry.msg === 'request' ? [`${entry.method} ${entry.path}`] : [])),
    stop,
  };
}

interface Reply {
  readonly status: number;
  readonly body: Buffer;
}

/** One HTTPS request that trusts only the server's certificate. */
function send(server: HttpsServer, method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, server.origin), { method, headers, ca: server.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end(body);
  });
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A credential pointed at Portrait, trusting its certificate through the pipeline's documented tlsOptions. */
function credential(server: HttpsServer, tenantId: string, clientId: string, secret: string): ClientSecretCredential {
  return new ClientSecretCredential(tenantId, clientId, secret, {
    authorityHost: server.origin,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: server.ca },
  });
}

describe('Azure Identity gets tokens from Portrait', { timeout: 120_000 }, () => {
  let dataDir: string;
  let server: HttpsServer;
  let sync: Registration;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portrait-identity-'));
    // app add refuses a folder that holds no Portrait data: set it up as serve would.
    assert.equal((await runCli(['init', '--data', dataDir])).code, 0);
    sync = await addApplication(dataDir, 'Photo sync', 'User.ReadWrite.All');
    server = await startHttpsServe(dataDir);
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('ClientSecretCredential → token → upload and read a photo', async (t) => {
    const before = server.requests().length;
    const started = Date.now();
    const accessToken = await credential(server, sync.tenantId, sync.clientId, sync.secret).getToken(GRAPH_SCOPE);
    assert.ok(accessToken, 'a token');
    const lifetime = accessToken.expiresOnTimestamp - started;
    assert.ok(lifetime > 3500_000 && lifetime <= 3610_000, `expires in about an hour, got ${lifetime} ms`);
    const claims = claimsOf(accessToken.token);
    assert.equal(claims.tid, sync.tenantId);
    assert.equal(claims.appid, sync.clientId);
    assert.equal(claims.aud, 'https://graph.microsoft.com');
    assert.deepEqual(claims.roles, ['User.ReadWrite.All']);

    // What MSAL asked for, with instance discovery off: the configuration, then the token. Nothing
    // else — in particular nothing of login.microsoftonline.com, which this machine cannot reach.
    // An access line is written once its answer is sent, asynchronously: wait a little for the last.
    for (const deadline = Date.now() + 2000; server.requests().length < before + 2 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const asked = server.requests().slice(before);
    t.diagnostic(`requests made by ClientSecretCredential: ${asked.join(', ')}`);
    assert.equal(asked.length, 2, asked.join('\n'));
    assert.equal(asked[0], `GET /${sync.tenantId}/v2.0/.well-known/openid-configuration`);
    assert.match(asked[1] ?? '', new RegExp(`^POST /${sync.tenantId}/oauth2/v2\\.0/token(\\?client-request-id=[0-9a-f-]{36})?$`));

    const auth = { authorization: `Bearer ${accessToken.token}` };
    const created = await send(server, 'POST', '/v1.0/users', { ...auth, 'content-type': 'application/json' }, JSON.stringify({ userPrincipalName: 'erin@contoso.com', displayName: 'Erin' }));
    assert.equal(created.status, 201, created.body.toString());
    const userId = (JSON.parse(created.body.toString()) as { id: string }).id;
    const jpeg = await sharp({ create: { width: 400, height: 400, channels: 3, background: { r: 20, g: 120, b: 220 } } }).jpeg().toBuffer();
    const put = await send(server, 'PUT', `/v1.0/users/${userId}/photo/$value`, { ...auth, 'content-type': 'image/jpeg' }, jpeg);
    assert.equal(put.status, 200, put.body.toString());
    const meta = await send(server, 'GET', `/v1.0/users/${userId}/photo`, auth);
    assert.equal(meta.status, 200);
    assert.equal((JSON.parse(meta.body.toString()) as { width: number }).width, 360);
    const value = await send(server, 'GET', `/v1.0/users/${userId}/photo/$value`, auth);
    assert.equal(value.status, 200);
    const read = await sharp(value.body).metadata();
    assert.deepEqual([read.format, read.width, read.height], ['jpeg', 360, 360]);
  });

  it('a wrong secret fails in the credential with invalid_client (AADSTS7000215)', async () => {
    await assert.rejects(credential(server, sync.tenantId, sync.clientId, 'not-the-secret').getToken(GRAPH_SCOPE), (error: Error) => {
      assert.match(error.message, /invalid_client/);
      assert.match(error.message, /AADSTS7000215: Invalid client secret/);
      assert.ok(!error.message.includes(sync.secret));
      return true;
    });
  });

  it('an unknown client fails with invalid_client (AADSTS700016)', async () => {
    await assert.rejects(credential(server, sync.tenantId, randomUUID(), sync.secret).getToken(GRAPH_SCOPE), (error: Error) => {
      assert.match(error.message, /invalid_client/);
      assert.match(error.message, /AADSTS700016: Application with identifier '[0-9a-f-]{36}' was not found/);
      return true;
    });
  });

  it('an unknown tenant fails with "tenant not found" (AADSTS90002)', async () => {
    const tenantId = randomUUID();
    await assert.rejects(credential(server, tenantId, sync.clientId, sync.secret).getToken(GRAPH_SCOPE), (error: Error) => {
      assert.match(error.message, /invalid_request/);
      assert.match(error.message, new RegExp(`AADSTS90002: Tenant '${tenantId}' not found`));
      return true;
    });
  });

  it('runs the README snippet as written, trusting the certificate through NODE_EXTRA_CA_CERTS', async () => {
    // The README's snippet, with the port this server got.
    const snippet = `
import { ClientSecretCredential } from '@azure/identity';

const credential = new ClientSecretCredential(
  process.env.AZURE_TENANT_ID,
  process.env.AZURE_CLIENT_ID,
  process.env.AZURE_CLIENT_SECRET,
  { authorityHost: '${server.origin}', disableInstanceDiscovery: true },
);
const { token } = await credential.getToken('https://graph.microsoft.com/.default');

const response = await fetch('${server.origin}/v1.0/users', { headers: { authorization: \`Bearer \${token}\` } });
console.log(response.status, (await response.json()).value.length);
`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', snippet], {
      cwd: REPO,
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: server.certPath,
        AZURE_TENANT_ID: sync.tenantId,
        AZURE_CLIENT_ID: sync.clientId,
        AZURE_CLIENT_SECRET: sync.secret,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, stdout, stderr } = await completion(child, 60_000);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^200 \d+\n$/, 'the token lists the users');
  });
});
