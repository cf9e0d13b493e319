// Counters, gauges and histograms in Prometheus's text exposition format, version
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/). Written here
// rather than taken from prom-client: three metric types with fixed label names are a
// page of code, and the hot path must pay a Map lookup per sample, nothing more.
//
// Every label value comes from a bounded set the caller chooses (route templates,
// status codes, store methods), never from raw request text: a client sending a million
// distinct URLs makes no new series. The registry also refuses to grow a metric past
// MAX_SERIES, so a mistake in a caller cannot turn into unbounded memory either.

/** Series one metric may hold; beyond it, samples with new label values are counted under `other`. */
export const MAX_SERIES = 1000;

type Labels<Names extends string> = Readonly<Record<Names, string>>;

interface Metric {
  readonly name: string;
  /** The metric's lines, # HELP and # TYPE first. */
  expose(): string;
}

export class MetricsRegistry {
  readonly #metrics: Metric[] = [];
  /** Called before every exposition: for values read from their owners at scrape time. */
  readonly #collectors: (() => void)[] = [];

  counter<Names extends string = never>(name: string, help: string, labelNames: readonly Names[] = []): Counter<Names> {
    return this.#add(new Counter<Names>(name, help, labelNames));
  }

  gauge<Names extends string = never>(name: string, help: string, labelNames: readonly Names[] = []): Gauge<Names> {
    return this.#add(new Gauge<Names>(name, help, labelNames));
  }

  histogram<Names extends string = never>(name: string, help: string, buckets: readonly number[], labelNames: readonly Names[] = []): Histogram<Names> {
    return this.#add(new Histogram<Names>(name, help, buckets, labelNames));
  }

  /** `collect` runs before each exposition, to set gauges from what they mirror. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** The whole exposition, as sent with Content-Type EXPOSITION_CONTENT_TYPE. */
  expose(): string {
    for (const collect of this.#collectors) collect();
    return this.#metrics.map((metric) => metric.expose()).join('');
  }

  #add<M extends Metric>(metric: M): M {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric.name)) throw new Error(`bad metric name ${metric.name}`);
    if (this.#metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.#metrics.push(metric);
    return metric;
  }
}

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The series of one metric, by label values, each holding its own state. */
abstract class Family<Names extends string, Series> implements Metric {
  readonly #series = new Map<string, { readonly labels: string; readonly state: Series }>();
  readonly #labelNames: readonly Names[];

  constructor(
    readonly name: string,
    readonly help: string,
    labelNames: readonly Names[],
  ) {
    this.#labelNames = labelNames;
  }

  protected abstract readonly type: string;
  protected abstract create(): Series;
  protected abstract lines(name: string, labels: string, state: Series): string;

  /** The series for these label values, made on first use. */
  protected series(labels: Labels<Names> | undefined): Series {
    // The key is the values alone, joined by a character no label value here holds.
    const key = labels === undefined ? '' : this.#labelNames.map((n) => labels[n]).join('\u0001');
    let entry = this.#series.get(key);
    if (entry === undefined) {
      // Full: new label values share one series, every label `other` (the last place kept for it).
      const overflow = this.#labelNames.map(() => 'other').join('\u0001');
      if (this.#series.size >= MAX_SERIES - 1 && labels !== undefined && key !== overflow) {
        const other = this.#series.get(overflow);
        if (other !== undefined) return other.state;
        return this.series(Object.fromEntries(this.#labelNames.map((n) => [n, 'other'])) as Labels<Names>);
      }
      entry = { labels: formatLabels(this.#labelNames, labels), state: this.create() };
      this.#series.set(key, entry);
    }
    return entry.state;
  }

  expose(): string {
    let text = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    for (const { labels, state } of this.#series.values()) text += this.lines(this.name, labels, state);
    return text;
  }
}

export class Counter<Names extends string = never> extends Family<Names, { value: number }> {
  protected readonly type = 'counter';
  protected create() {
    return { value: 0 };
  }
  inc(labels?: Labels<Names>, by = 1): void {
    this.series(labels).value += by;
  }
  /** For counters kept elsewhere (a cache's hits): set to their running total at collection. */
  set(labels: Labels<Names> | undefined, value: number): void {
    this.series(labels).value = value;
  }
  protected lines(name: string, labels: string, state: { value: number }): string {
    return `${name}${labels} ${formatNumber(state.value)}\n`;
  }
}

export class Gauge<Names extends string = never> extends Family<Names, { value: number }> {
  protected readonly type = 'gauge';
  protected create() {
    return { value: 0 };
  }
  set(labels: Labels<Names> | undefined, value: number): void {
    this.series(labels).value = value;
  }
  protected lines(name: string, labels: string, state: { value: number }): string {
    return `${name}${labels} ${formatNumber(state.value)}\n`;
  }
}

interface HistogramState {
  /** Per bucket, not cumulative: made cumulative when exposed. */
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram<Names extends string = never> extends Family<Names, HistogramState> {
  protected readonly type = 'histogram';
  readonly #buckets: readonly number[];

  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly Names[]) {
    super(name, help, labelNames);
    if (buckets.some((b, i) => i > 0 && b <= (buckets[i - 1] as number))) throw new Error(`${name}: buckets must increase`);
    this.#buckets = buckets;
  }

  protected create(): HistogramState {
    return { counts: new Array<number>(this.#buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  observe(labels: Labels<Names> | undefined, value: number): void {
    const state = this.series(labels);
    let i = 0;
    while (i < this.#buckets.length && value > (this.#buckets[i] as number)) i++;
    (state.counts[i] as number)++;
    state.sum += value;
    state.count++;
  }

  protected lines(name: string, labels: string, state: HistogramState): string {
    // le goes last inside the braces: `{route="x",le="0.1"}`, or `{le="0.1"}` without labels.
    const inner = labels === '' ? '' : `${labels.slice(1, -1)},`;
    let text = '';
    let cumulative = 0;
    this.#buckets.forEach((bound, i) => {
      cumulative += state.counts[i] as number;
      text += `${name}_bucket{${inner}le="${formatNumber(bound)}"} ${cumulative}\n`;
    });
    text += `${name}_bucket{${inner}le="+Inf"} ${state.count}\n`;
    text += `${name}_sum${labels} ${formatNumber(state.sum)}\n${name}_count${labels} ${state.count}\n`;
    return text;
  }
}

function formatLabels(names: readonly string[], labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined || names.length === 0) return '';
  return `{${names.map((n) => `${n}="${escapeLabelValue(String(labels[n]))}"`).join(',')}}`;
}

/** A label value's escapes: backslash, double quote and line feed (exposition format). */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
