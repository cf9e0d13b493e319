// `portrait import-photos`' work, apart from its flags: each photo found its owner and went
// through the upload pipeline, locally (the data folder's store, even while `serve` runs on
// it) or at a remote Portrait over HTTPS with a token. A few at a time; a failure is
// counted and said, never the end of the run.
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { GUID_PATTERN } from '../directory/ids.js';
import { GraphError } from '../errors.js';
import { detectFormat } from '../imaging/detect-format.js';
import { BODY_LIMIT } from '../http/limits.js';
import type { PhotoService } from '../photos/photo-service.js';
import type { PhotoOwner, Store } from '../storage/store.js';
import type { PhotoFile } from './photo-files.js';
import type { Outcome, Progress } from './progress.js';

/** Where photos go: whose a name is, and the upload itself. */
export interface PhotoTarget {
  /** The owner a file's name (a userPrincipalName, a mail address, an object id) names, or why none. */
  resolve(name: string): Promise<{ readonly owner: string } | { readonly missing: string }>;
  /** Uploads, unless the photo is the one there already. */
  put(owner: string, bytes: Buffer): Promise<'written' | 'unchanged'>;
}

export interface RunOptions {
  readonly concurrency: number;
  /** Finds owners and checks files, uploads nothing. */
  readonly dryRun: boolean;
}

export async function importPhotos(files: readonly PhotoFile[], target: PhotoTarget, progress: Progress, options: RunOptions): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++] as PhotoFile;
      const [outcome, why] = await importOne(file, target, options.dryRun);
      progress.item(file.label, outcome, why);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, files.length)) }, worker));
}

async function importOne(file: PhotoFile, target: PhotoTarget, dryRun: boolean): Promise<[Outcome, string?]> {
  try {
    const found = await target.resolve(file.owner);
    if ('missing' in found) return ['failed', found.missing];
    const bytes = await readFile(file.path);
    if (bytes.length > BODY_LIMIT) return ['failed', `the file is ${bytes.length} bytes; a photo is at most ${BODY_LIMIT} (4 MiB)`];
    const format = detectFormat(bytes);
    if (!format.accepted) return ['failed', `${format.detected} is not a photo format Portrait takes (JPEG, PNG, WebP, GIF, AVIF, HEIC)`];
    if (dryRun) return ['would write'];
    return [await target.put(found.owner, bytes)];
  } catch (error) {
    return ['failed', reasonOf(error)];
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof GraphError) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'not readable';
  return error instanceof Error ? error.message.split('\n', 1)[0] ?? 'failed' : String(error);
}

/** Into the data folder's store, through the same photo service as an upload to `serve`. */
export class LocalTarget implements PhotoTarget {
  readonly #store: Store;
  readonly #photos: PhotoService;
  readonly #tenantId: string;

  constructor(store: Store, photos: PhotoService, tenantId: string) {
    this.#store = store;
    this.#photos = photos;
    this.#tenantId = tenantId;
  }

  async resolve(name: string): Promise<{ owner: string } | { missing: string }> {
    const tenantId = this.#tenantId;
    let owner: PhotoOwner | undefined;
    if (GUID_PATTERN.test(name)) {
      const id = name.toLowerCase();
      if (await this.#store.getUserById(tenantId, id)) owner = { tenantId, type: 'user', id };
      else if (await this.#store.getGroup(tenantId, id)) owner = { tenantId, type: 'group', id };
    } else if (name.includes('@')) {
      const user =
        (await this.#store.getUserByUpn(tenantId, name)) ??
        (await this.#store.queryUsers(tenantId, { where: { kind: 'eq', property: 'mail', value: name }, orderBy: 'id', descending: false, limit: 2, count: false }))
          .items[0];
      if (user) owner = { tenantId, type: 'user', id: user.id };
    }
    if (owner === undefined) return { missing: `no user or group '${name.slice(0, 120)}' in the tenant` };
    return { owner: `${owner.type}/${owner.id}` };
  }

  /** `owner` is what resolve gave: 'user/{id}' or 'group/{id}', in this target's tenant. */
  put(owner: string, bytes: Buffer): Promise<'written' | 'unchanged'> {
    const [type, id] = owner.split('/') as ['user' | 'group', string];
    return this.#photos.importPhoto({ tenantId: this.#tenantId, type, id }, bytes);
  }
}

/**
 * At a Portrait reached over HTTP(S) with a token, as any Graph client: `GET /users/{name}`
 * (or a mail `$filter`, or `/groups/{id}`), then `PUT …/photo/$value`. Not sent again: a file
 * equal to the largest size served (what export-photos wrote), or one that renders here to
 * it (`largestOf`: the same pipeline makes the same JPEG, when both run the same release).
 */
export class RemoteTarget implements PhotoTarget {
  readonly #graph: URL;
  readonly #token: string;
  readonly #largestOf: (bytes: Buffer) => Promise<Buffer>;

  constructor(url: string, token: string, largestOf: (bytes: Buffer) => Promise<Buffer>) {
    this.#graph = new URL(`${url.replace(/\/+$/, '')}/v1.0/`);
    this.#token = token;
    this.#largestOf = largestOf;
  }

  async resolve(name: string): Promise<{ owner: string } | { missing: string }> {
    const key = encodeURIComponent(name);
    const user = await this.#call('GET', `users/${key}?$select=id`);
    if (user.status === 200) return { owner: `users/${(JSON.parse(user.body.toString()) as { id: string }).id}` };
    if (user.status !== 404 && user.status !== 400) throw remoteError(user);
    if (GUID_PATTERN.test(name)) {
      const group = await this.#call('GET', `groups/${key}?$select=id`);
      if (group.status === 200) return { owner: `groups/${name.toLowerCase()}` };
    } else if (name.includes('@')) {
      const filter = encodeURIComponent(`mail eq '${name.replace(/'/g, "''")}'`);
      const byMail = await this.#call('GET', `users?$filter=${filter}&$select=id&$top=1`);
      if (byMail.status !== 200) throw remoteError(byMail);
      const [found] = (JSON.parse(byMail.body.toString()) as { value: { id: string }[] }).value;
      if (found) return { owner: `users/${found.id}` };
    }
    return { missing: `no user or group '${name.slice(0, 120)}' at ${this.#graph.origin}` };
  }

  async put(owner: string, bytes: Buffer): Promise<'written' | 'unchanged'> {
    const current = await this.#call('GET', `${owner}/photo/$value`);
    if (current.status === 200 && (current.body.equals(bytes) || current.body.equals(await this.#largestOf(bytes)))) return 'unchanged';
    const put = await this.#call('PUT', `${owner}/photo/$value`, bytes);
    if (put.status !== 200 && put.status !== 204) throw remoteError(put);
    return 'written';
  }

  #call(method: string, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
    const url = new URL(path, this.#graph);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(
        url,
        {
          method,
          headers: {
            authorization: `Bearer ${this.#token}`,
            ...(body && { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }),
          },
          timeout: 120_000,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            // A photo answer is at most a few MB; anything larger is not Portrait's.
            if (size > 2 * BODY_LIMIT) request.destroy(new Error(`${url.origin} answered with more than ${2 * BODY_LIMIT} bytes`));
            else chunks.push(chunk);
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${url.origin} did not answer within 120 s`)));
      request.on('error', reject);
      request.end(body);
    });
  }
}

/** A Graph error's message, else the status. */
function remoteError(answer: { status: number; body: Buffer }): Error {
  try {
    const { error } = JSON.parse(answer.body.toString()) as { error?: { code?: string; message?: string } };
    if (error?.message) return new Error(`${answer.status} ${error.code ?? ''}: ${error.message}`);
  } catch {
    // not JSON
  }
  return new Error(`the server answered ${answer.status}`);
}
