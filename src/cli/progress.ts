// How far a long command has come (`portrait import-photos`): on a terminal one line redrawn
// in place (done/total, rate, time left, a bar), failures printed above it as they happen;
// otherwise (a log, a pipe) one plain line per item, which a log keeps and a script can read.

export type Outcome = 'written' | 'unchanged' | 'failed' | 'would write';

export interface Tally {
  readonly written: number;
  readonly unchanged: number;
  readonly wouldWrite: number;
  readonly failed: readonly { readonly label: string; readonly why: string }[];
}

/** A terminal is redrawn at most this often: more is flicker and CPU, not news. */
const REDRAW_MS = 100;
const BAR = 24;

export class Progress {
  readonly #out: NodeJS.WritableStream;
  readonly #terminal: boolean;
  readonly #total: number;
  readonly #now: () => number;
  readonly #started: number;
  #done = 0;
  #drawnAt = 0;
  #written = 0;
  #unchanged = 0;
  #wouldWrite = 0;
  readonly #failed: { label: string; why: string }[] = [];

  constructor(total: number, out: NodeJS.WritableStream & { isTTY?: boolean }, now: () => number = Date.now) {
    this.#out = out;
    this.#terminal = out.isTTY === true;
    this.#total = total;
    this.#now = now;
    this.#started = now();
  }

  item(label: string, outcome: Outcome, why?: string): void {
    this.#done++;
    if (outcome === 'written') this.#written++;
    else if (outcome === 'unchanged') this.#unchanged++;
    else if (outcome === 'would write') this.#wouldWrite++;
    else this.#failed.push({ label, why: why ?? 'failed' });
    const line = `${outcome}: ${label}${why === undefined ? '' : `: ${why}`}`;
    if (!this.#terminal) {
      this.#out.write(`${line}\n`);
      return;
    }
    if (outcome === 'failed') this.#out.write(`\r\x1b[K${line}\n`);
    const now = this.#now();
    if (outcome === 'failed' || now - this.#drawnAt >= REDRAW_MS || this.#done === this.#total) {
      this.#drawnAt = now;
      this.#out.write(`\r\x1b[K${this.#bar(now)}`);
    }
  }

  /** Ends the bar's line; the tally for the summary. */
  finish(): Tally {
    if (this.#terminal && this.#done > 0) this.#out.write('\n');
    return { written: this.#written, unchanged: this.#unchanged, wouldWrite: this.#wouldWrite, failed: this.#failed };
  }

  #bar(now: number): string {
    const seconds = Math.max(0.001, (now - this.#started) / 1000);
    const rate = this.#done / seconds;
    // A total not known beforehand (an export): how many, how fast.
    if (!Number.isFinite(this.#total)) return `${this.#done} done  ${rate.toFixed(1)}/s`;
    const left = rate > 0 ? (this.#total - this.#done) / rate : Number.POSITIVE_INFINITY;
    const filled = this.#total === 0 ? BAR : Math.round((this.#done / this.#total) * BAR);
    return `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${this.#done}/${this.#total}  ${rate.toFixed(1)}/s  ${duration(left)} left`;
  }
}

/** "2h 05m", "4m 12s", "9s", "?" */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}
