// The web app's files (src/web/: HTML, CSS, ES modules; no bundler), read once when the
// app is built and kept in memory: a request only ever looks a name up in a map, so no
// path a client sends reaches the file system (no traversal to guard against).
//
// They are served under one content hash of them all, /assets/{hash}/{name}: the modules
// import each other by relative URLs ('./crop.js'), which then stay inside the same hashed
// folder, so any change to any file gives every file a new URL and the old ones may be
// cached for a year as immutable. index.html alone is served at / with no-cache, and names
// the current hash.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** src/web/, seen from dist/src/http/ (and shipped by package.json's "files"). */
export const WEB_DIR = fileURLToPath(new URL('../../../src/web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** A served name: letters, digits, dashes, one dot and a known extension. */
const ASSET_NAME = /^[a-z0-9-]+\.(js|css|svg)$/;

export interface WebAsset {
  readonly body: Buffer;
  readonly type: string;
  /** Strong, from the bytes. */
  readonly etag: string;
}

export class WebAssets {
  /** The first 12 hex digits of SHA-256 over every asset's name and bytes. */
  readonly version: string;
  readonly #assets: ReadonlyMap<string, WebAsset>;
  readonly #index: Buffer;

  constructor(dir: string = WEB_DIR) {
    const names = readdirSync(dir).filter((name) => ASSET_NAME.test(name)).sort();
    const hash = createHash('sha256');
    const assets = new Map<string, WebAsset>();
    for (const name of names) {
      const body = readFileSync(join(dir, name));
      hash.update(`${name}\0${body.length}\0`).update(body);
      const type = TYPES[name.slice(name.lastIndexOf('.'))] as string;
      assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
    this.version = hash.digest('hex').slice(0, 12);
    this.#assets = assets;
    this.#index = Buffer.from(readFileSync(join(dir, 'index.html'), 'utf8').replaceAll('{{assets}}', `/assets/${this.version}`));
  }

  /** The asset `name` of `version`; undefined for any other version or name. */
  get(version: string, name: string): WebAsset | undefined {
    if (version !== this.version) return undefined;
    return this.#assets.get(name);
  }

  get index(): Buffer {
    return this.#index;
  }
}
