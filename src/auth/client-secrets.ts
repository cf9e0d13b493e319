// Client secrets for registered applications: made from 264 random bits, shown
// once, and kept only as a salted scrypt hash whose parameters travel with it
// ("scrypt$N$r$p$salt$hash"), so that they can be raised later without breaking
// the hashes already stored. https://www.rfc-editor.org/rfc/rfc7914
//
// Where the hash runs is the caller's choice (`derive`): crypto.scrypt on libuv's pool
// by default, which is right for `portrait app add`, a process of its own; the token
// endpoint verifies on a thread of its own (auth/scrypt-thread.ts), away from sharp.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** Computes scrypt(secret, salt) into `length` bytes. */
export type ScryptDerive = (secret: string, salt: Uint8Array, length: number, cost: ScryptCost) => Promise<Buffer>;

/** N=2^15, r=8, p=1: 32 MiB and a few tens of milliseconds per hash. */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Parameters read back from a stored hash are bounded, so a damaged row cannot exhaust memory. */
const MAX_COST = 2 ** 20;

/** 44 url-safe characters (base64url of 33 random bytes): no escaping in a form, a header or a shell. */
export function newClientSecret(): string {
  return randomBytes(33).toString('base64url');
}

export async function hashClientSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await deriveOnPool(secret, salt, HASH_BYTES, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Whether the secret is the one hashed; false for a hash it cannot read. Compares in constant time. */
export async function verifyClientSecret(secret: string, stored: string, derive: ScryptDerive = deriveOnPool): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || N * r > MAX_COST || p > 16) return false;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length === 0 || expected.length === 0) return false;
  const actual = await derive(secret, salt, expected.length, { N, r, p });
  return timingSafeEqual(actual, expected);
}

/** scrypt's options for a cost: scrypt needs 128·N·r bytes; Node refuses more than 32 MiB unless maxmem says otherwise. */
export function scryptOptions(cost: ScryptCost): ScryptOptions {
  return { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
}

function deriveOnPool(secret: string, salt: Uint8Array, length: number, cost: ScryptCost): Promise<Buffer> {
  const options = scryptOptions(cost);
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}
