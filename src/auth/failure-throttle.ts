// Throttles wrong client secrets before they are hashed. Every attempt that needs the
// slow hash is charged to three token buckets of failures, each refilled over a minute:
//
//   the (client id, address) pair   10   — one host getting one application wrong
//   the address                     30   — one host, across applications
//   the client id                   60   — one application, from anywhere
//
// A pair over its budget is refused. An address or a client id over its budget refuses
// every pair that has failed in the last 10 minutes, but still lets an address that has
// not failed that client id try: a flood against a public client id, or a misconfigured
// neighbour behind the same address, cannot lock an application out of its tokens from
// its own address. (A secret verified lately is not even charged: auth/remembered-secrets.ts.)
//
// Why these numbers: an honest client with a wrong secret sees ten 401s naming the
// problem before a 429, and a client retrying once a minute (a cron job, a restarting
// service) never sees one. Guessing is useless with or without them — a secret has 264
// random bits — so the limits are about cost: a host gets at most 10 hashes a minute per
// application, against one hashing thread that does 3 to 20 a second.
//
// An attempt is charged when it is admitted, not when it has failed, so that requests
// in parallel cannot all pass the check before the first failure is counted; a right
// secret (or a check that never ran) gives its charge back.
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
    const suspectUntil = pair.failedAt === undefined ? 0 : pair.failedAt + this.#limits.suspectMs;
    if (suspectUntil > now) {
      // Over either wider budget: held back until both have a token again or the pair's record expires.
      const waits: [Over, number][] = [];
      const byAddress = this.#addresses.read(address, now);
      if (byAddress.tokens < 1) waits.push(['address', this.#addresses.waitMs(byAddress)]);
      const byClient = this.#clients.read(client, now);
      if (byClient.tokens < 1) waits.push(['client', this.#clients.waitMs(byClient)]);
      const longest = waits.reduce<[Over, number] | undefined>((a, b) => (a === undefined || b[1] > a[1] ? b : a), undefined);
      if (longest !== undefined) return refused(longest[0], Math.min(longest[1], suspectUntil - now));
    }
    const charged = new Set<Over>();
    if (this.#pairs.take(pairKey, now)) charged.add('pair');
    if (this.#addresses.take(address, now)) charged.add('address');
    if (this.#clients.take(client, now)) charged.add('client');
    return { admitted: true, ticket: { client, address, charged } };
  }

  /** The secret was wrong: the charge stays, and the pair is on record. */
  failed(ticket: Ticket): void {
    this.#pairs.markFailed(`${ticket.client} ${ticket.address}`, this.#now());
  }

  /** The secret was right: the charge is given back and the pair's record cleared. */
  succeeded(ticket: Ticket): void {
    this.refund(ticket);
    this.#pairs.forget(`${ticket.client} ${ticket.address}`);
  }

  /** The attempt was never made (no hash was computed): its charge is given back. */
  refund(ticket: Ticket): void {
    const now = this.#now();
    const pairKey = `${ticket.client} ${ticket.address}`;
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
  /** When an attempt of this pair last failed (pairs only). */
  failedAt: number | undefined;
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
    if (entry === undefined) return { tokens: this.#capacity, at: now, failedAt: undefined };
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

  markFailed(key: string, now: number): void {
    this.#touch(key, now).failedAt = now;
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** The key's entry, made the most recent, and the oldest dropped past the bound. */
  #touch(key: string, now: number): Bucket {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { tokens: this.#capacity, at: now, failedAt: undefined };
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
