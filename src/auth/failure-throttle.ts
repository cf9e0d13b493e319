// Throttles wrong client secrets before they are hashed. Every attempt that needs the
// slow hash is charged to three token buckets of failures, each refilled over a minute:
//
//   the (client id, address) pair   10   — one host getting one application wrong
//   the address                     30   — one host, across applications
//   the client id                   60   — one application, from anywhere
//
// A pair over its budget is refused. An address or a client id over its budget refuses
// every pair that has been tried without proving its secret in the last 10 minutes, but
// still lets an address that has not tried that client id have one try: a flood against a
// public client id, or a misconfigured neighbour behind the same address, cannot lock an
// application out of its tokens from its own address. (A secret verified lately is not
// even charged: auth/remembered-secrets.ts.)
//
// Why these numbers: an honest client with a wrong secret sees ten 401s naming the
// problem before a 429, and a client retrying once a minute (a cron job, a restarting
// service) never sees one. Guessing is useless with or without them — a secret has 264
// random bits — so the limits are about cost: a host gets at most 10 hashes a minute per
// application, against one hashing thread that does 3 to 20 a second.
//
// An attempt is charged, and its pair put on record, when it is admitted, not when it has
// failed, so that requests in parallel cannot all pass the check before the first failure
// is counted: while a wider budget is spent, a new pair's requests sent at once get one
// try between them. A right secret gives the charge back and clears the record; a check
// that never ran gives the charge back and leaves the record as it was.
//
// Every map is bounded (oldest dropped) so that a flood from many addresses cannot grow
// them; an address dropped that way starts again with a full budget, which costs at
// most a few more hashes on the one thread.
import { isIPv4, isIPv6 } from 'node:net';

export interface FailureLimits {
  /** Wrong secrets a minute for one client id from one address. */
  readonly perPair: number;
  /** Wrong secrets a minute from one address, all client ids together. */
  readonly perAddress: number;
  /** Wrong secrets a minute for one client id, all addresses together. */
  readonly perClient: number;
  /** How long after its last failure a pair is held back while its address or client id is over budget. */
  readonly suspectMs: number;
  /** Keys tracked at most in each of the three maps. */
  readonly maxTracked: number;
}

export const DEFAULT_FAILURE_LIMITS: FailureLimits = Object.freeze({
  perPair: 10,
  perAddress: 30,
  perClient: 60,
  suspectMs: 10 * 60 * 1000,
  maxTracked: 10_000,
});

export type Over = 'pair' | 'address' | 'client';

/** What was charged for an admitted attempt: given back if the secret is right. */
export interface Ticket {
  readonly client: string;
  readonly address: string;
  readonly charged: ReadonlySet<Over>;
  /** The pair's record before this attempt put it there, for a refund to restore. */
  readonly triedBefore: number | undefined;
}

export type Admission =
  | { readonly admitted: true; readonly ticket: Ticket }
  | { readonly admitted: false; readonly over: Over; readonly retryAfterSeconds: number };

const MINUTE_MS = 60_000;

export class FailureThrottle {
  readonly #limits: FailureLimits;
  readonly #now: () => number;
  readonly #pairs: Buckets;
  readonly #addresses: Buckets;
  readonly #clients: Buckets;

  constructor(limits: Partial<FailureLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_FAILURE_LIMITS, ...limits };
    for (const [name, value] of Object.entries(this.#limits)) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    this.#now = now;
    const { perPair, perAddress, perClient, maxTracked } = this.#limits;
    this.#pairs = new Buckets(perPair, maxTracked);
    this.#addresses = new Buckets(perAddress, maxTracked);
    this.#clients = new Buckets(perClient, maxTracked);
  }

  /** Keys tracked now, in each map: never more than maxTracked. */
  get tracked(): { readonly pairs: number; readonly addresses: number; readonly clients: number } {
    return { pairs: this.#pairs.size, addresses: this.#addresses.size, clients: this.#clients.size };
  }

  /** Before a hash: charges the attempt, or says which budget is spent and for how long. */
  admit(client: string, remoteAddress: string): Admission {
    const now = this.#now();
    const address = addressKey(remoteAddress);
    const pairKey = `${client} ${address}`;
    const pair = this.#pairs.read(pairKey, now);
    if (pair.tokens < 1) return refused('pair', this.#pairs.waitMs(pair));
    const triedBefore = pair.triedAt;
    const suspectUntil = triedBefore === undefined ? 0 : triedBefore + this.#limits.suspectMs;
    if (suspectUntil > now) {
      // Over either wider budget: held back until both have a token again or the pair's record expires.
      const byAddress = this.#addresses.read(address, now);
      const byClient = this.#clients.read(client, now);
      const addressWait = byAddress.tokens < 1 ? this.#addresses.waitMs(byAddress) : 0;
      const clientWait = byClient.tokens < 1 ? this.#clients.waitMs(byClient) : 0;
      if (addressWait > 0 || clientWait > 0) {
        return refused(addressWait >= clientWait ? 'address' : 'client', Math.min(Math.max(addressWait, clientWait), suspectUntil - now));
      }
    }
    const charged = new Set<Over>();
    if (this.#pairs.take(pairKey, now)) charged.add('pair');
    if (this.#addresses.take(address, now)) charged.add('address');
    if (this.#clients.take(client, now)) charged.add('client');
    this.#pairs.markTried(pairKey, now, now);
    return { admitted: true, ticket: { client, address, charged, triedBefore } };
  }

  /** The secret was wrong: the charge stays, and the pair stays on record from now. */
  failed(ticket: Ticket): void {
    const now = this.#now();
    this.#pairs.markTried(`${ticket.client} ${ticket.address}`, now, now);
  }

  /** The secret was right: the charge is given back and the pair's record cleared. */
  succeeded(ticket: Ticket): void {
    this.refund(ticket);
    this.#pairs.forget(`${ticket.client} ${ticket.address}`);
  }

  /** The attempt was never made (no hash was computed): its charge is given back, the pair's record restored. */
  refund(ticket: Ticket): void {
    const now = this.#now();
    const pairKey = `${ticket.client} ${ticket.address}`;
    this.#pairs.markTried(pairKey, ticket.triedBefore, now);
    if (ticket.charged.has('pair')) this.#pairs.give(pairKey, now);
    if (ticket.charged.has('address')) this.#addresses.give(ticket.address, now);
    if (ticket.charged.has('client')) this.#clients.give(ticket.client, now);
  }
}

function refused(over: Over, waitMs: number): Admission {
  return { admitted: false, over, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}

/**
 * One client address as the throttle counts it: an IPv4 address, or an IPv6 /64 (what
 * one host or one subscriber line is given: counting each /128 would give an attacker
 * 2^64 budgets). IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address.
 */
export function addressKey(remoteAddress: string): string {
  const address = remoteAddress.split('%', 1)[0] ?? remoteAddress;
  if (isIPv4(address) || !isIPv6(address)) return address;
  const groups = ipv6Groups(address.toLowerCase());
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (net.isIPv6 said so). */
function ipv6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::', 2);
  const parse = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const first = parse(head);
  const last = tail === undefined ? [] : parse(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
  /** When this pair was last tried without proving its secret (pairs only). */
  triedAt: number | undefined;
}

/** Token buckets by key, refilled at `capacity` a minute; a missing key is a full bucket. At most `maxEntries`, least recently touched dropped first. */
class Buckets {
  readonly #capacity: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, Bucket>();

  constructor(capacity: number, maxEntries: number) {
    this.#capacity = capacity;
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The bucket as of `now` (a fresh full one, not stored, when the key is not tracked). */
  read(key: string, now: number): Readonly<Bucket> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return { tokens: this.#capacity, at: now, triedAt: undefined };
    this.#refill(entry, now);
    return entry;
  }

  /** Time until the bucket holds a whole token. */
  waitMs(bucket: Readonly<Bucket>): number {
    return ((1 - bucket.tokens) * MINUTE_MS) / this.#capacity;
  }

  /** Takes a token if there is one; tracks the key either way. */
  take(key: string, now: number): boolean {
    const entry = this.#touch(key, now);
    if (entry.tokens < 1) return false;
    entry.tokens -= 1;
    return true;
  }

  give(key: string, now: number): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return; // dropped meanwhile: it is full again anyway
    this.#refill(entry, now);
    entry.tokens = Math.min(this.#capacity, entry.tokens + 1);
  }

  /** Sets the pair's record (undefined: none); a key not tracked gains no entry for clearing it. */
  markTried(key: string, at: number | undefined, now: number): void {
    if (at !== undefined) this.#touch(key, now).triedAt = at;
    else {
      const entry = this.#entries.get(key);
      if (entry !== undefined) entry.triedAt = undefined;
    }
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** The key's entry, made the most recent, and the oldest dropped past the bound. */
  #touch(key: string, now: number): Bucket {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { tokens: this.#capacity, at: now, triedAt: undefined };
    } else {
      this.#entries.delete(key);
      this.#refill(entry, now);
    }
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxEntries) {
      // An eighth at a time: V8 keeps a deleted entry's slot at the front of a Map until it
      // next rehashes, so finding the oldest one by one would walk over more of them each time.
      let excess = this.#entries.size - this.#maxEntries + Math.floor(this.#maxEntries / 8);
      for (const oldest of this.#entries.keys()) {
        if (excess-- <= 0) break;
        this.#entries.delete(oldest);
      }
    }
    return entry;
  }

  #refill(entry: Bucket, now: number): void {
    // A clock that steps back refills nothing (and takes nothing).
    entry.tokens = Math.min(this.#capacity, entry.tokens + (Math.max(0, now - entry.at) * this.#capacity) / MINUTE_MS);
    entry.at = Math.max(entry.at, now);
  }
}
