// GET /metrics as Prometheus scrapes it from a real `portrait serve`: on --metrics-port
// with no token, on the main port only with a Reports.Read.All token; the exposition
// parsed strictly; what each request, upload and read did shows in it; and what a client
// sends can add no series.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MetricsRegistry } from '../src/metrics/metrics-registry.js';
import { cliToken, request, startServer, type ServerProcess } from './helpers/server-process.js';

const PHOTO = readFileSync(new URL('../../test/fixtures/photos/Nikon_D70.jpg', import.meta.url));

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * The text format 0.0.4, strictly: every sample's family has a TYPE before it, label
 * values are quoted with only \\, \" and \n escaped, values are numbers, histograms are
 * cumulative and end with +Inf equal to their _count.
 */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  assert.ok(text.endsWith('\n'), 'ends with a line feed');
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      assert.match(meta[2] as string, NAME, line);
      if (meta[1] === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3] as string), line);
        assert.ok(!types.has(meta[2] as string), `one TYPE per family: ${line}`);
        types.set(meta[2] as string, meta[3] as string);
      }
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `a sample line: ${JSON.stringify(line)}`);
    const [, name = '', rawLabels = '', rawValue = ''] = match;
    const labels: Record<string, string> = {};
    const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    let at = 0;
    while (at < rawLabels.length) {
      label.lastIndex = at;
      const l = label.exec(rawLabels);
      assert.ok(l, `labels of ${line}`);
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      at = label.lastIndex;
    }
    const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : Number(rawValue);
    assert.ok(rawValue === 'NaN' || !Number.isNaN(value), `a number: ${line}`);
    const family = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(name) || types.get(family) === 'histogram', `${name} has a TYPE before it`);
    samples.push({ name, labels, value });
  }
  // Histograms: per series, buckets cumulative and +Inf = _count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      assert.ok(le !== undefined, `${family}_bucket has le`);
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      for (let i = 1; i < buckets.length; i++) assert.ok((buckets[i] as Sample).value >= (buckets[i - 1] as Sample).value, `${family}${key} is cumulative`);
      const last = buckets.at(-1) as Sample;
      assert.equal(last.labels.le, '+Inf', `${family}${key} ends with +Inf`);
      const count = samples.find((x) => x.name === `${family}_count` && JSON.stringify(x.labels) === key);
      assert.equal(count?.value, last.value, `${family}${key}: +Inf bucket = _count`);
    }
  }
  return { types, samples };
}

function value(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const sample = exposition.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return sample?.value;
}

describe('metrics of portrait serve', { timeout: 120_000 }, () => {
  let dataDir: string;
  let server: ServerProcess;
  let metricsUrl: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portrait-metrics-'));
    server = await startServer({ dataDir, args: ['--metrics-port', '0'] });
    const printed = /metrics: +(http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(server.output());
    assert.ok(printed?.[1], `the banner names the metrics URL:\n${server.output()}`);
    metricsUrl = printed[1];
  });

  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function scrape(): Promise<Exposition> {
    const response = await request(metricsUrl);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return parseExposition(await response.text());
  }

  it('counts requests by route and status on both paths, uploads, renders, the cache, the store and the process', async () => {
    const token = await cliToken({ dataDir, user: 'alice@contoso.com' });
    const authorization = `Bearer ${token}`;
    const before = await scrape();
    const reads = () => value(before, 'portrait_http_requests_total', { route: 'photo.user.sizeValue', method: 'GET', status: '200' }) ?? 0;
    assert.equal(reads(), 0);

    assert.equal((await request(`${server.graph}/me/photo/$value`, { method: 'PUT', headers: { authorization }, body: PHOTO })).status, 200);
    for (let i = 0; i < 5; i++) {
      const read = await request(`${server.graph}/me/photos/48x48/$value`, { headers: { authorization } });
      assert.equal(read.status, 200);
      await read.arrayBuffer();
    }
    assert.equal((await request(`${server.graph}/me/photo`)).status, 401);

    const now = await scrape();
    assert.equal(value(now, 'portrait_http_requests_total', { route: 'photo.user.sizeValue', method: 'GET', status: '200' }), 5, 'route and fast path alike');
    assert.equal(value(now, 'portrait_http_request_duration_seconds_count', { route: 'photo.user.sizeValue', method: 'GET' }), 5);
    assert.equal(value(now, 'portrait_http_requests_total', { route: 'photo.user.value', method: 'PUT', status: '200' }), 1);
    assert.equal(value(now, 'portrait_http_requests_total', { route: '/v1.0/*', method: 'GET', status: '401' }), 1);
    assert.ok((value(now, 'portrait_fast_path_reads_total') ?? 0) >= 4, 'four of the five reads were the fast path’s');
    assert.equal(value(now, 'portrait_photo_write_duration_seconds_count', { kind: 'upload' }), 1);
    assert.equal(value(now, 'portrait_photo_render_duration_seconds_count', { kind: 'upload' }), 1);
    assert.ok((value(now, 'portrait_photo_render_duration_seconds_sum', { kind: 'upload' }) ?? 0) > 0);
    assert.ok((value(now, 'portrait_photo_cache_lookups_total', { result: 'hit' }) ?? 0) >= 4);
    assert.ok((value(now, 'portrait_photo_cache_lookups_total', { result: 'miss' }) ?? 0) >= 1);
    assert.ok((value(now, 'portrait_store_duration_seconds_count', { method: 'putPhoto' }) ?? 0) >= 1, 'store calls are timed');
    assert.ok((value(now, 'portrait_store_duration_seconds_count', { method: 'getPhotoContent' }) ?? 0) >= 1);
    for (const gauge of ['portrait_upload_slots_in_use', 'portrait_upload_queue_depth', 'portrait_decode_memory_in_use_bytes', 'portrait_decode_queue_depth', 'portrait_body_memory_in_use_bytes']) {
      assert.equal(value(now, gauge), 0, `${gauge}: nothing in flight now`);
    }
    assert.ok((value(now, 'portrait_upload_slots') ?? 0) >= 1);
    assert.ok((value(now, 'portrait_decode_memory_limit_bytes') ?? 0) >= 64 * 1024 * 1024);
    assert.ok((value(now, 'process_resident_memory_bytes') ?? 0) > 10e6);
    assert.ok((value(now, 'nodejs_heap_used_bytes') ?? 0) > 1e6);
    const lag = value(now, 'nodejs_eventloop_delay_seconds', { stat: 'p99' });
    assert.ok(lag !== undefined && lag >= 0 && lag < 5, `event loop delay p99: ${lag}`);
  });

  it('a million distinct URLs make no new series: labels are route templates, never request text', async () => {
    const token = await cliToken({ dataDir, user: 'bob@contoso.com' });
    const headers = { authorization: `Bearer ${token}` };
    const hostile = (i: number) => [
      request(`${server.origin}/random/${i}/${Math.random()}`),
      request(`${server.graph}/users/${i}-${Math.random()}/photo`, { headers }),
      request(`${server.graph}/nonsense${i}/x`, { headers }),
      request(`${server.origin}/healthz?${i}=${Math.random()}`),
      request(`${server.graph}/me/photo`, { method: 'DELETE', headers: { authorization: `Bearer forged.${i}.x` } }),
    ];
    const answer = async (responses: Promise<Response>[]) => Promise.all(responses.map(async (r) => void (await (await r).arrayBuffer())));
    await answer(hostile(-1)); // each kind once, so its series exists
    const seriesBefore = (await scrape()).samples.length;
    for (let batch = 0; batch < 20; batch++) {
      await answer(Array.from({ length: 10 }, (_, i) => hostile(batch * 10 + i)).flat());
    }
    const after = await scrape();
    assert.equal(after.samples.length, seriesBefore, 'the same series, only their counts grew');
    assert.ok(after.samples.every((s) => Object.values(s.labels).every((v) => !/random|nonsense|forged/.test(v))));
  });

  it('the metrics port serves /metrics only', async () => {
    const other = await request(metricsUrl.replace('/metrics', '/v1.0/me/photo'));
    assert.equal(other.status, 404);
    const post = await request(metricsUrl, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  it('on the main port, /metrics takes a token with Reports.Read.All', async () => {
    const url = `${server.origin}/metrics`;
    const none = await request(url);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'InvalidAuthenticationToken');

    const user = await cliToken({ dataDir, user: 'carol@contoso.com' });
    const app = await cliToken({ dataDir, app: 'sync', roles: ['User.ReadWrite.All'] });
    for (const token of [user, app]) {
      const refused = await request(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(refused.status, 403);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'Authorization_RequestDenied');
      assert.match(error.message, /Reports\.Read\.All/);
    }

    const prometheus = await cliToken({ dataDir, app: 'prometheus', roles: ['Reports.Read.All'] });
    const scraped = await request(url, { headers: { authorization: `Bearer ${prometheus}` } });
    assert.equal(scraped.status, 200);
    assert.equal(scraped.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const exposition = parseExposition(await scraped.text());
    assert.equal(exposition.types.get('portrait_http_requests_total'), 'counter');
    assert.ok((value(exposition, 'portrait_http_requests_total', { route: '/metrics', status: '403' }) ?? 0) >= 2);
  });
});

describe('the exposition format', () => {
  it('escapes label values and help text, and keeps a metric within its series bound', () => {
    const registry = new MetricsRegistry();
    const counter = registry.counter('test_total', 'Help with \\ and\na line feed.', ['what']);
    counter.inc({ what: 'a "quoted" \\ back\nslash' });
    const histogram = registry.histogram('test_seconds', 'Durations.', [0.1, 1], ['what']);
    histogram.observe({ what: 'x' }, 0.5);
    histogram.observe({ what: 'x' }, 5);
    for (let i = 0; i < 1500; i++) counter.inc({ what: `value-${i}` });
    const text = registry.expose();
    assert.ok(text.includes('# HELP test_total Help with \\\\ and\\na line feed.\n'));
    assert.ok(text.includes('test_total{what="a \\"quoted\\" \\\\ back\\nslash"} 1\n'));
    assert.ok(text.includes('test_seconds_bucket{what="x",le="0.1"} 0\ntest_seconds_bucket{what="x",le="1"} 1\ntest_seconds_bucket{what="x",le="+Inf"} 2\n'));
    const exposition = parseExposition(text);
    const series = exposition.samples.filter((s) => s.name === 'test_total');
    assert.equal(series.length, 1000, 'at most 1000 series; the rest counted under other');
    // The first value and 998 of the others have their own series; 502 share `other`.
    assert.equal(value(exposition, 'test_total', { what: 'other' }), 502);
  });
});
