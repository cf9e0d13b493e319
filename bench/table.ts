// The one result table: every figure beside its reference, their ratio and the
// target, printed as Markdown so it can be pasted into docs/performance.md.
import type { LoadResult } from './load.js';

export interface Target {
  /** As printed: "≥ 0.50×", "≤ 400 MB". */
  readonly text: string;
  /** For ratio targets: the bound, so that a ratio is printed precisely enough to see its side. */
  readonly bound?: number;
  /** undefined when it could not be judged (reference skipped, run failed). */
  readonly met: boolean | undefined;
}

export interface Row {
  readonly section: string;
  readonly figure: string;
  /** Portrait's measurement, formatted. */
  readonly portrait: string;
  /** The reference's name and measurement, formatted; '—' when the figure has none. */
  readonly reference: string;
  /** Portrait ÷ reference for the figure the target is about. */
  readonly ratio?: number | undefined;
  readonly target?: Target | undefined;
}

export function markdownTable(rows: readonly Row[]): string {
  const header = ['Section', 'Figure', 'Portrait', 'Reference', 'Ratio', 'Target', 'Met'];
  const lines = [row(header), row(header.map(() => '---'))];
  for (const r of rows) {
    lines.push(
      row([
        r.section,
        r.figure,
        r.portrait,
        r.reference,
        formatRatio(r.ratio, r.target?.bound),
        r.target?.text ?? '—',
        r.target === undefined ? '' : r.target.met === undefined ? 'skipped' : r.target.met ? 'yes' : '**no**',
      ]),
    );
  }
  return lines.join('\n');
}

function formatRatio(ratio: number | undefined, bound: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '—';
  // "1.10×" next to "≤ 1.10×" and a verdict of no would read as a mistake: add decimals until they differ.
  let digits = 2;
  while (bound !== undefined && ratio !== bound && digits < 6 && ratio.toFixed(digits) === bound.toFixed(digits)) digits++;
  return `${ratio.toFixed(digits)}×`;
}

function row(cells: readonly string[]): string {
  return `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
}

/** A ratio target: "at least" for throughput, "at most" for latency and memory. */
export function atLeast(ratio: number | undefined, bound: number): Target {
  return { text: `≥ ${bound.toFixed(2)}×`, bound, met: ratio === undefined ? undefined : ratio >= bound };
}

export function atMost(ratio: number | undefined, bound: number): Target {
  return { text: `≤ ${bound.toFixed(2)}×`, bound, met: ratio === undefined ? undefined : ratio <= bound };
}

export function ratioOf(value: number | undefined, reference: number | undefined): number | undefined {
  return value === undefined || reference === undefined || reference === 0 ? undefined : value / reference;
}

export function formatRate(perSecond: number, unit = 'req/s'): string {
  const digits = perSecond >= 100 ? 0 : perSecond >= 10 ? 1 : 2;
  return `${perSecond.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}

export function formatMs(ms: number): string {
  return `${ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms`;
}

export function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`;
}

/** A load run as a cell: "12,345 req/s · p50 3.90 ms · p99 8.10 ms · CPU 98%". */
export function describeLoad(result: LoadResult, serverCpuPercent?: number): string {
  const failed = result.failures > 0 ? ` · **${result.failures} failed**` : '';
  const cpu = serverCpuPercent === undefined ? '' : ` · CPU ${serverCpuPercent.toFixed(0)}%`;
  return `${formatRate(result.perSecond)} · p50 ${formatMs(result.p50Ms)} · p99 ${formatMs(result.p99Ms)}${cpu}${failed}`;
}
