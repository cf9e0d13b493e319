// What a client sees of the bounds on request bodies (issue 9 §3, §4), on real sockets:
// a body that arrives too slowly is refused with 408 and its connection closed; bodies
// still arriving never hold an upload slot; the bytes of all bodies in flight have one
// budget, past which a body gets 503 with Retry-After before it is read, and which is
// whole again once they end, however they end; and a body over 4 MiB is answered 413
// in Graph's envelope even while the client is still sending it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadServeConfig, UsageError } from '../src/config.js';
import { createHarness, type Harness, type HarnessOptions } from './helpers/harness.js';
import { cliToken, solidJpeg, startServer, type ServerProcess } from './helpers/server-process.js';

const MAX_BODY = 4 * 1024 * 1024;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CURL = '/usr/bin/curl';

// ---------------------------------------------------------------------------
// A client on a bare socket: it sends what it is told when it is told, and reads one response.

interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

class RawClient {
  readonly socket: Socket;
  /** The first response, whole (by its Content-Length). */
  readonly response: Promise<RawResponse>;
  /** Settles when the server has ended the connection (its FIN) or the socket closed. */
  readonly ended: Promise<void>;
  /** Whether a whole response has arrived yet. */
  answered = false;
  #dribble: NodeJS.Timeout | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    let received = Buffer.alloc(0);
    this.response = new Promise<RawResponse>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const parsed = parseResponse(received);
        if (parsed === undefined) return;
        socket.off('data', onData);
        // Keep reading (and dropping) so that 'end' is seen.
        socket.resume();
        this.answered = true;
        resolve(parsed);
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`closed before a whole response; received: ${received.toString('latin1').slice(0, 300)}`)));
    });
    // A rejection nobody awaited must not fail the process.
    this.response.catch(() => {});
    this.ended = new Promise<void>((resolve) => {
      socket.once('end', resolve);
      socket.once('close', () => resolve());
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** One byte every `everyMs` from now on: a body that is "arriving", at 1000/everyMs bytes/s. */
  dribble(everyMs: number): void {
    this.#dribble = setInterval(() => this.write('x'), everyMs);
  }

  close(): void {
    clearInterval(this.#dribble);
    this.socket.destroy();
  }
}

/** The first final response in `bytes`, past any 100 Continue; undefined until it is whole. */
function parseResponse(bytes: Buffer): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  if (/^HTTP\/1\.1 1\d\d /.test(statusLine)) return parseResponse(bytes.subarray(end + 4));
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (bytes.length < end + 4 + length) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body: bytes.subarray(end + 4, end + 4 + length).toString('utf8') };
}

function head(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = Object.entries({ host: '127.0.0.1', ...headers }).map(([name, value]) => `${name}: ${value}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/** Graph's error envelope with the headers every error carries. */
function assertGraphError(res: { status: number; headers: Readonly<Record<string, string>> | Headers; body: string }, status: number, code: string): { message: string } {
  const header = (name: string) => (res.headers instanceof Headers ? res.headers.get(name) : res.headers[name]) ?? undefined;
  assert.equal(res.status, status, `${res.status} ${res.body}`);
  assert.match(String(header('content-type')), /^application\/json/);
  assert.equal(header('cache-control'), 'no-store');
  assert.match(String(header('request-id')), GUID);
  const body = JSON.parse(res.body) as { error: { code: string; message: string; innerError: Record<string, string> } };
  assert.equal(body.error.code, code, res.body);
  assert.equal(typeof body.error.innerError['request-id'], 'string');
  return body.error;
}

/** Turns of the event loop until `condition` holds: for what only the server's side can see. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

interface Served {
  readonly h: Harness;
  readonly port: number;
  readonly origin: string;
  /** A delegated admin token for /me with every scope the suites need. */
  readonly me: string;
}

async function serve(options: HarnessOptions): Promise<Served> {
  const h = await createHarness(options);
  const user = await h.user('megan@contoso.com', { admin: true });
  const me = await h.userToken(user, ['User.ReadWrite.All'], { admin: true });
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (h.app.server.address() as AddressInfo).port;
  return { h, port, origin: `http://127.0.0.1:${port}`, me };
}

async function put(s: Served, bytes: Buffer | ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(`${s.origin}/v1.0/me/photo/$value`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${s.me}`, 'content-type': 'application/octet-stream' },
    body: bytes,
    ...(bytes instanceof ReadableStream && { duplex: 'half' }),
    ...(signal && { signal }),
  } as RequestInit);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** A body Node's fetch sends chunked, without Content-Length, in 1 MiB pieces. */
function chunked(bytes: Buffer): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 1024 * 1024) controller.enqueue(bytes.subarray(at, at + 1024 * 1024));
      controller.close();
    },
  });
}

// ---------------------------------------------------------------------------

describe('a body that arrives too slowly: 408 RequestTimeout, and the connection closes', () => {
  let s: Served;
  before(async () => {
    // A small total limit, no rate rule: only the time is judged.
    s = await serve({ bodyTimeoutMs: 400, bodyMinBytesPerSecond: 0, oauth: true });
    assert.equal((await put(s, await solidJpeg([0, 85, 170], 64))).status, 200);
  });
  after(() => s.h.close());

  const bodies: ReadonlyArray<readonly [string, string, string]> = [
    ['PUT', '/v1.0/me/photo/$value', 'application/octet-stream'],
    ['PATCH', '/v1.0/me/photo', 'application/json'],
    ['POST', '/v1.0/users', 'application/json'],
    ['POST', '/v1.0/$batch', 'application/json'],
  ];
  for (const [method, path, type] of bodies) {
    it(`${method} ${path} dribbled at 20 bytes/s`, async () => {
      const client = await RawClient.open(s.port);
      try {
        client.write(head(method, path, { authorization: `Bearer ${s.me}`, 'content-type': type, 'content-length': 1000 }));
        client.dribble(50);
        const res = await client.response;
        const error = assertGraphError(res, 408, 'RequestTimeout');
        assert.match(error.message, /^The request body arrived too slowly: \d+ bytes in [\d.]+ s; a body must arrive within 0.4 s\.$/);
        assert.equal(res.headers.connection, 'close');
        // The server closes its side while the client is still sending.
        await client.ended;
      } finally {
        client.close();
      }
    });
  }

  it('the token endpoint’s form: 408 in OAuth’s JSON', async () => {
    const client = await RawClient.open(s.port);
    try {
      client.write(head('POST', `/${s.h.tenantId}/oauth2/v2.0/token`, { 'content-type': 'application/x-www-form-urlencoded', 'content-length': 500 }));
      client.write('grant_type=client_credentials&client_id=');
      client.dribble(50);
      const res = await client.response;
      assert.equal(res.status, 408, res.body);
      const body = JSON.parse(res.body) as { error: string; error_description: string };
      assert.equal(body.error, 'invalid_request');
      assert.match(body.error_description, /^The request body arrived too slowly/);
      assert.equal(res.headers.connection, 'close');
      await client.ended;
    } finally {
      client.close();
    }
  });

  it('a body that arrives in time is read as before', async () => {
    const res = await put(s, await solidJpeg([170, 85, 0], 96));
    assert.equal(res.status, 200, res.body);
  });
});

describe('slow bodies cost a socket, not an upload slot', () => {
  const SLOTS = 2;
  let s: Served;
  before(async () => {
    // Production's time limits; as many slow clients as there are slots.
    s = await serve({ uploadConcurrency: SLOTS });
  });
  after(() => s.h.close());

  it(`while ${SLOTS} uploads dribble at 10 bytes/s, another client's upload completes`, async () => {
    const slow = await Promise.all(Array.from({ length: SLOTS }, () => RawClient.open(s.port)));
    try {
      for (const client of slow) {
        client.write(head('PUT', '/v1.0/me/photo/$value', { authorization: `Bearer ${s.me}`, 'content-length': 100_000 }));
        client.write(Buffer.from([0xff, 0xd8, 0xff]));
        client.dribble(100);
      }
      // Until every slow body is being read: then, before the fix, each held a slot.
      await until(() => s.h.bodies.reservedBytes === SLOTS * 100_000);
      // A hang here was the defect: the guard only turns it into a failure.
      const res = await put(s, await solidJpeg([255, 0, 85], 120), AbortSignal.timeout(15_000));
      assert.equal(res.status, 200, res.body);
      const meta = await fetch(`${s.origin}/v1.0/me/photo`, { headers: { authorization: `Bearer ${s.me}` } });
      assert.equal(((await meta.json()) as { id: string }).id, '120X120');
      // The slow ones are still arriving, unanswered.
      for (const client of slow) assert.equal(client.answered, false);
    } finally {
      for (const client of slow) client.close();
    }
    await until(() => s.h.bodies.reservedBytes === 0);
  });
});

describe('the minimum rate: past the grace period a body averaging less is refused', () => {
  let s: Served;
  before(async () => {
    s = await serve({ bodyTimeoutMs: 60_000, bodyMinBytesPerSecond: 1000, bodyGraceMs: 300 });
  });
  after(() => s.h.close());

  it('20 bytes/s against 1000: 408 naming the rule, long before the 60 s limit', async () => {
    const client = await RawClient.open(s.port);
    try {
      client.write(head('PUT', '/v1.0/me/photo/$value', { authorization: `Bearer ${s.me}`, 'content-length': 10_000 }));
      client.dribble(50);
      const error = assertGraphError(await client.response, 408, 'RequestTimeout');
      assert.match(error.message, /after the first 0.3 s, at 1000 bytes\/s on average\.$/);
      await client.ended;
    } finally {
      client.close();
    }
  });

  it('a body sent at once gets through', async () => {
    const res = await put(s, await solidJpeg([85, 170, 255], 200));
    assert.equal(res.status, 200, res.body);
  });
});

describe('one memory budget for all bodies in flight: 503 with Retry-After past it', () => {
  const SIZE = 64 * 1024;
  const BUDGET = 3 * SIZE;
  let s: Served;
  /** A token that passes authentication and holds no permission at all. */
  let nobody: string;
  before(async () => {
    s = await serve({ bodyMemoryBytes: BUDGET, signIn: 'loopback' });
    nobody = await s.h.appToken([]);
  });
  after(() => s.h.close());

  /** A $batch body of exactly `size` bytes: one GET, padded. */
  function batchBody(size: number): Buffer {
    const start = '{"requests":[{"id":"1","method":"GET","url":"/users"}],"pad":"';
    return Buffer.from(start + 'x'.repeat(size - start.length - 2) + '"}');
  }

  async function batch(body: Buffer | ReadableStream<Uint8Array>): Promise<{ status: number; headers: Headers; body: string }> {
    const res = await fetch(`${s.origin}/v1.0/$batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${nobody}`, 'content-type': 'application/json' },
      body,
      ...(body instanceof ReadableStream && { duplex: 'half' }),
    } as RequestInit);
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  /** A $batch whose body has all but its last 100 bytes sent: in flight, holding its reservation. */
  async function hold(size: number): Promise<{ client: RawClient; finish: () => void }> {
    const body = batchBody(size);
    const client = await RawClient.open(s.port);
    client.write(head('POST', '/v1.0/$batch', { authorization: `Bearer ${nobody}`, 'content-type': 'application/json', 'content-length': size }));
    client.write(body.subarray(0, size - 100));
    return { client, finish: () => client.write(body.subarray(size - 100)) };
  }

  function assertRefused(res: { status: number; headers: Headers; body: string }): void {
    assertGraphError(res, 503, 'serviceNotAvailable');
    assert.match(String(res.headers.get('retry-after')), /^[1-9]\d*$/);
  }

  it('bodies within it succeed, bodies beyond it get 503 before being read, and it is whole again after', async () => {
    const held = await Promise.all([hold(SIZE), hold(SIZE), hold(SIZE)]);
    try {
      await until(() => s.h.bodies.reservedBytes === BUDGET);
      // By Content-Length, before reading; and, without one, as the bytes arrive.
      assertRefused(await batch(batchBody(SIZE)));
      assertRefused(await batch(chunked(batchBody(SIZE))));
      for (const { finish } of held) finish();
      for (const { client } of held) {
        const res = await client.response;
        assert.equal(res.status, 200, res.body);
        const answers = (JSON.parse(res.body) as { responses: { status: number }[] }).responses;
        assert.deepEqual(answers.map((answer) => answer.status), [403]);
      }
    } finally {
      for (const { client } of held) client.close();
    }
    await until(() => s.h.bodies.reservedBytes === 0);
    // The whole budget in one body: only possible if every byte came back.
    const whole = await batch(batchBody(BUDGET));
    assert.equal(whole.status, 200, whole.body);
    await until(() => s.h.bodies.reservedBytes === 0);
  });

  it('the sign-in form and the token endpoint are refused the same way, each in its own format', async () => {
    const { client } = await hold(BUDGET);
    try {
      await until(() => s.h.bodies.reservedBytes === BUDGET);
      const postForm = (endpoint: string, body: string) =>
        fetch(`${s.origin}/${s.h.tenantId}/oauth2/v2.0/${endpoint}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      const client1 = 'client_id=00000000-0000-0000-0000-000000000001';
      // A person pressing "Sign in": a page, as every refusal there is, that says to come back.
      const page = await postForm('authorize', `${client1}&response_type=code&login=megan%40contoso.com`);
      assert.equal(page.status, 503);
      assert.match(String(page.headers.get('retry-after')), /^[1-9]\d*$/);
      assert.match(String(page.headers.get('content-type')), /^text\/html/);
      assert.match(await page.text(), /<html/i);
      // An app asking for a token: OAuth's JSON error, which MSAL retries after Retry-After.
      const token = await postForm('token', `grant_type=client_credentials&${client1}&client_secret=x&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default`);
      assert.equal(token.status, 503);
      assert.match(String(token.headers.get('retry-after')), /^[1-9]\d*$/);
      assert.equal(((await token.json()) as { error?: string }).error, 'temporarily_unavailable');
    } finally {
      client.close();
    }
    await until(() => s.h.bodies.reservedBytes === 0);
  });

  it('a client that goes away mid-body gives its reservation back', async () => {
    const { client } = await hold(BUDGET);
    await until(() => s.h.bodies.reservedBytes === BUDGET);
    assertRefused(await batch(batchBody(SIZE)));
    client.close();
    await until(() => s.h.bodies.reservedBytes === 0);
    const whole = await batch(batchBody(BUDGET));
    assert.equal(whole.status, 200, whole.body);
  });
});

describe('a body over 4 MiB: 413 in Graph’s envelope while the client is still sending', () => {
  const FIVE_MIB = Buffer.alloc(5 * 1024 * 1024, 0x41);
  let s: Served;
  let scratch: string;
  before(async () => {
    s = await serve({});
    scratch = mkdtempSync(join(tmpdir(), 'portrait-bodies-'));
    writeFileSync(join(scratch, 'five.bin'), FIVE_MIB);
  });
  after(async () => {
    await s.h.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  function assertTooLarge(res: { status: number; headers: Headers | Readonly<Record<string, string>>; body: string }): void {
    const error = assertGraphError(res, 413, 'RequestEntityTooLarge');
    assert.equal(error.message, `The request body exceeds the ${MAX_BODY}-byte limit.`);
  }

  // Several times each: a reset is a race the server used to lose only some of the time.
  it('fetch, with Content-Length', async () => {
    for (let round = 0; round < 3; round++) assertTooLarge(await put(s, FIVE_MIB));
  });

  it('fetch, chunked (a ReadableStream body, duplex: half, as the Graph client’s putStream sends)', async () => {
    for (let round = 0; round < 3; round++) assertTooLarge(await put(s, chunked(FIVE_MIB)));
  });

  it('a client that reads the answer only once it has sent its whole body, with Content-Length', async () => {
    for (let round = 0; round < 3; round++) {
      const client = await RawClient.open(s.port);
      try {
        // Nothing is read until the body is out: an answer the server sent and then reset
        // the connection under would be lost in the client's kernel.
        client.socket.pause();
        client.write(head('PUT', '/v1.0/me/photo/$value', { authorization: `Bearer ${s.me}`, 'content-length': FIVE_MIB.length }));
        await new Promise<void>((resolve, reject) => client.socket.write(FIVE_MIB, (error) => (error ? reject(error) : resolve())));
        client.socket.resume();
        const res = await client.response;
        assertTooLarge(res);
        assert.equal(res.headers.connection, 'close');
        await client.ended;
      } finally {
        client.close();
      }
    }
  });

  it('fetch, a $batch chunked', async () => {
    const res = await fetch(`${s.origin}/v1.0/$batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.me}`, 'content-type': 'application/json' },
      body: chunked(FIVE_MIB),
      duplex: 'half',
    } as RequestInit);
    assertTooLarge({ status: res.status, headers: res.headers, body: await res.text() });
  });

  it('the bytes read and dropped after a 413 are not held against the memory budget', async () => {
    assertTooLarge(await put(s, chunked(FIVE_MIB)));
    await until(() => s.h.bodies.reservedBytes === 0);
  });

  for (const [name, extra] of [
    ['with Content-Length', []],
    ['chunked', ['-H', 'Transfer-Encoding: chunked']],
  ] as const) {
    it(`curl --data-binary, ${name}`, { skip: existsSync(CURL) ? false : `${CURL} is not installed` }, async () => {
      for (let round = 0; round < 3; round++) {
        const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(
            CURL,
            ['-sS', '-X', 'PUT', '-H', `Authorization: Bearer ${s.me}`, ...extra, '--data-binary', `@${join(scratch, 'five.bin')}`, '-D', '-', `${s.origin}/v1.0/me/photo/$value`],
            (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
          );
        });
        assert.equal(out.code, 0, `curl exited ${out.code}: ${out.stderr}`);
        const parsed = parseResponse(Buffer.from(out.stdout));
        assert.ok(parsed, out.stdout);
        assertTooLarge(parsed);
      }
    });
  }
});

describe('serve: the body flags', () => {
  it('validates them, naming the flag', () => {
    const bad: ReadonlyArray<readonly [string, string, string]> = [
      ['--body-timeout', '0', "--body-timeout must be an integer from 1 to 3600, got '0'"],
      ['--body-timeout', '2.5', "--body-timeout must be an integer from 1 to 3600, got '2.5'"],
      ['--body-min-rate', 'fast', "--body-min-rate must be an integer from 0 to 1073741824, got 'fast'"],
      ['--body-memory-mb', '3', "--body-memory-mb must be an integer from 4 to 1048576, got '3'"],
    ];
    for (const [flag, value, message] of bad) {
      assert.throws(() => loadServeConfig([flag, value]), (error: unknown) => error instanceof UsageError && error.message === message, `${flag} ${value}`);
    }
  });

  it('defaults: 120 s, 4096 bytes/s, and a budget sized to the upload queue', () => {
    const config = loadServeConfig([]);
    assert.equal(config.bodyTimeoutMs, 120_000);
    assert.equal(config.bodyMinBytesPerSecond, 4096);
    assert.equal(config.bodyMemoryBytes, undefined);
    const set = loadServeConfig(['--body-timeout', '30', '--body-min-rate', '0', '--body-memory-mb', '512']);
    assert.equal(set.bodyTimeoutMs, 30_000);
    assert.equal(set.bodyMinBytesPerSecond, 0);
    assert.equal(set.bodyMemoryBytes, 512 * 1024 * 1024);
  });

  describe('portrait serve --body-timeout 1 --body-memory-mb 4', () => {
    let dataDir: string;
    let server: ServerProcess;
    let token: string;
    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'portrait-bodies-serve-'));
      server = await startServer({ dataDir, args: ['--body-timeout', '1', '--body-memory-mb', '4'] });
      token = await cliToken({ dataDir });
    });
    after(async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('a dribbled body is refused after a second', async () => {
      const client = await RawClient.open(Number(new URL(server.origin).port));
      try {
        client.write(head('POST', '/v1.0/$batch', { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': 1000 }));
        client.dribble(50);
        const error = assertGraphError(await client.response, 408, 'RequestTimeout');
        assert.match(error.message, /a body must arrive within 1 s and, after the first 10 s, at 4096 bytes\/s on average\.$/);
      } finally {
        client.close();
      }
    });

    it('two 4 MiB bodies at once do not fit a 4 MiB budget: one is refused with 503', async () => {
      const body = Buffer.alloc(MAX_BODY, 0x20);
      const holder = await RawClient.open(Number(new URL(server.origin).port));
      try {
        holder.write(head('POST', '/v1.0/$batch', { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': MAX_BODY }));
        holder.write(body.subarray(0, 1000));
        // The holder's body is read (and its 4 MiB reserved) once it is authenticated: from
        // then on, until its own 408 a second later, any other body is refused.
        let refused: Response | undefined;
        while (refused === undefined && !holder.answered) {
          const res = await fetch(`${server.graph}/$batch`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: '{"requests":[]}',
          });
          if (res.status === 503) refused = res;
          else assert.equal(res.status, 400, await res.text());
        }
        assert.ok(refused, 'no body was refused while the holder held the whole budget');
        assertGraphError({ status: refused.status, headers: refused.headers, body: await refused.text() }, 503, 'serviceNotAvailable');
      } finally {
        holder.close();
      }
    });
  });
});
