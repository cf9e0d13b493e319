// How long after one node has answered a write another node still serves the
// version before (issue 12 §1). Node A takes a PUT of the photo; from the moment
// A's 200 has arrived, node B is asked for the 240×240 $value on one kept-alive
// connection, each request as soon as the last one is answered, until B answers
// with the ETag A gave; the delay is that answer's arrival less A's. ETags decide,
// not timing guesses: a poll is stale when it carries the version before.
// Right before each write B has read the URL several times, so that its photo
// cache (and its read fast path, where it applies) holds the old version: the
// entries a write on another node must reach.
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expectStatus, request, type Answer } from './http.js';
import { solidJpeg } from './images.js';
import type { Portrait, Token } from './servers.js';
import { formatMs } from './table.js';

/** Reads of the current version on B before each write: the first may load it, the rest hit. */
const WARM_READS = 3;
/**
 * A random pause of up to this before each round: without it the rounds fall in step
 * with a node's polling period (SQLite's 100 ms), every write lands at the same phase
 * of it, and the delays come out all alike instead of spread over the period.
 */
const ROUND_JITTER_MS = 100;
/** A round whose new version B has not served by then is counted as never served. */
const FRESH_WITHIN_MS = 5000;
/** Over 240 px, so that the 240×240 size is rendered; flat, so that rendering takes milliseconds. */
const UPLOAD_SIDE = 300;
const COLOURS = [
  { r: 200, g: 40, b: 40 },
  { r: 40, g: 80, b: 200 },
] as const;
/** Wrong answers quoted in the log, at most. */
const QUOTED = 5;

export interface NodePair {
  /** Takes the writes. */
  readonly a: Portrait;
  /** Is polled. */
  readonly b: Portrait;
  /** A user's token both nodes accept; its oid is the owner of the photo. */
  readonly token: Token;
}

export interface CrossNodeDelay {
  readonly rounds: number;
  /** A's 200 → B's first answer with A's ETag, per round, ascending; Infinity where that never came. */
  readonly delaysMs: readonly number[];
  /** Polls of B in all rounds, and how many carried the version before the write. */
  readonly polls: number;
  readonly stalePolls: number;
  /** Rounds with at least one stale poll. */
  readonly staleRounds: number;
  /** Reads after B had served the new version that carried the old one again. */
  readonly regressions: number;
  /** Answers that were neither version: another status, an unknown ETag, the new ETag on the old bytes. */
  readonly wrong: number;
  /** The median of B's warm reads: one poll's round trip, the floor of every delay. */
  readonly warmReadMs: number;
}

interface Version {
  readonly etag: string;
  /** B's bytes of it (the 240×240 JPEG). */
  readonly body: Buffer;
}

export async function measureCrossNodeDelay(pair: NodePair, rounds: number, log: (message: string) => void): Promise<CrossNodeDelay> {
  const uploads = await Promise.all(COLOURS.map((colour) => solidJpeg(UPLOAD_SIDE, colour)));
  const authorization = `Bearer ${pair.token.token}`;
  const writeUrl = `${pair.a.origin}/v1.0/users/${pair.token.objectId}/photo/$value`;
  const readUrl = `${pair.b.origin}/v1.0/users/${pair.token.objectId}/photos/240x240/$value`;
  // One connection to each node, kept alive: no connection set-up inside a measured delay.
  const agents = { a: new Agent({ keepAlive: true, maxSockets: 1 }), b: new Agent({ keepAlive: true, maxSockets: 1 }) };
  const counts = { polls: 0, stalePolls: 0, staleRounds: 0, regressions: 0, wrong: 0 };
  const quoted: string[] = [];
  const wrongAnswer = (round: number, what: string) => {
    counts.wrong++;
    if (quoted.length < QUOTED) quoted.push(`round ${round}: ${what}`);
  };
  const write = async (upload: Buffer) => {
    const answer = await expectStatus(200, writeUrl, {
      method: 'PUT',
      headers: { authorization, 'content-type': 'image/jpeg' },
      body: upload,
      agent: agents.a,
    });
    const at = performance.now();
    if (typeof answer.headers.etag !== 'string') throw new Error(`PUT ${writeUrl} answered without an ETag`);
    return { etag: answer.headers.etag, at };
  };
  const read = () => request(readUrl, { headers: { authorization }, agent: agents.b, timeoutMs: FRESH_WITHIN_MS });

  /**
   * Polls B until it serves `etag`; what came before is classified against `old`, the
   * version before the write (none before the first photo: then anything else is "not yet").
   */
  const untilServed = async (round: number, etag: string, old: Version | undefined) => {
    const deadline = performance.now() + FRESH_WITHIN_MS;
    let stale = 0;
    let polls = 0;
    let last = 'no answer';
    while (performance.now() < deadline) {
      const answer = await read();
      const at = performance.now();
      polls++;
      if (answer.status === 200 && answer.headers.etag === etag) {
        if (old !== undefined && answer.body.equals(old.body)) wrongAnswer(round, `the new ETag ${etag} on the old bytes`);
        return { served: { etag, body: answer.body }, at, polls, stale, last };
      }
      last = describe(answer);
      if (old === undefined) continue;
      if (answer.status === 200 && answer.headers.etag === old.etag) stale++;
      else wrongAnswer(round, last);
    }
    return { served: undefined, at: Infinity, polls, stale, last };
  };

  /** Reads of the version B serves: each must be it again, never the one before it (`old`). */
  const warmReadsMs: number[] = [];
  const warm = async (round: number, version: Version, old: Version | undefined) => {
    for (let i = 0; i < WARM_READS; i++) {
      const sent = performance.now();
      const answer = await read();
      warmReadsMs.push(performance.now() - sent);
      if (answer.status === 200 && answer.headers.etag === version.etag) continue;
      if (answer.status === 200 && old !== undefined && answer.headers.etag === old.etag) counts.regressions++;
      else wrongAnswer(round, describe(answer));
    }
  };

  const delaysMs: number[] = [];
  try {
    // The first version, served by B and warm there before the rounds begin.
    const first = await write(uploads[0] as Buffer);
    const initial = await untilServed(0, first.etag, undefined);
    if (initial.served === undefined) throw new Error(`node B did not serve the first photo within ${FRESH_WITHIN_MS} ms: ${initial.last}`);
    let current: Version = initial.served;
    let previous: Version | undefined;
    for (let round = 1; round <= rounds; round++) {
      await sleep(Math.random() * ROUND_JITTER_MS);
      await warm(round, current, previous);
      const old = current;
      const written = await write(uploads[round % uploads.length] as Buffer);
      if (written.etag === old.etag) throw new Error(`round ${round}: the write kept the ETag ${old.etag}`);
      const outcome = await untilServed(round, written.etag, old);
      delaysMs.push(outcome.at - written.at);
      counts.polls += outcome.polls;
      counts.stalePolls += outcome.stale;
      if (outcome.stale > 0) counts.staleRounds++;
      if (outcome.served === undefined) {
        // B never caught up: wait for it, so that the next round starts from the version A has.
        const late = await untilServed(round, written.etag, old);
        if (late.served === undefined) throw new Error(`round ${round}: node B has not served A's write after ${(2 * FRESH_WITHIN_MS) / 1000} s: ${late.last}`);
        current = late.served;
      } else {
        current = outcome.served;
      }
      previous = old;
    }
  } finally {
    agents.a.destroy();
    agents.b.destroy();
  }
  if (quoted.length > 0) log(`nodes: ${counts.wrong} wrong answers from node B, e.g. ${quoted.join('; ')}`);
  const warmReadMs = percentile(warmReadsMs.sort((x, y) => x - y), 50);
  return { rounds, delaysMs: delaysMs.sort((x, y) => x - y), ...counts, warmReadMs };
}

/** "p50 1.20 ms · p99 3.40 ms · max 5.10 ms · old ETag in 0 of 412 polls (0 of 200 rounds)". */
export function describeDelay(delay: CrossNodeDelay): string {
  const time = (ms: number) => (Number.isFinite(ms) ? formatMs(ms) : `> ${FRESH_WITHIN_MS / 1000} s`);
  const never = delay.delaysMs.filter((ms) => !Number.isFinite(ms)).length;
  const parts = [
    `p50 ${time(percentile(delay.delaysMs, 50))}`,
    `p99 ${time(percentile(delay.delaysMs, 99))}`,
    `max ${time(delay.delaysMs.at(-1) ?? NaN)}`,
    `old ETag in ${delay.stalePolls} of ${delay.polls} polls (${delay.staleRounds} of ${delay.rounds} rounds)`,
    `a warm read of B: ${formatMs(delay.warmReadMs)}`,
  ];
  if (never > 0) parts.push(`**${never} rounds never fresh within ${FRESH_WITHIN_MS / 1000} s**`);
  if (delay.regressions > 0) parts.push(`**${delay.regressions} reads back to the old ETag after the new one**`);
  if (delay.wrong > 0) parts.push(`**${delay.wrong} wrong answers**`);
  return parts.join(' · ');
}

/** Nearest rank, of values sorted ascending: with fewer than 100 values the p99 is the maximum. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

function describe(answer: Answer): string {
  return `${answer.status} with ETag ${String(answer.headers.etag)}`;
}
