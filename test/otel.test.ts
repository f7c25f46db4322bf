/**
 * cortado/otel read back through the real OpenTelemetry SDK: a MeterProvider with a MetricReader
 * that the test collects from (and, once, the PeriodicExportingMetricReader with the SDK's
 * InMemoryMetricExporter), so names, attributes, units and histogram buckets are what a
 * collector would receive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { Cache } from 'cortado';
import { instrumentCache } from 'cortado/otel';
import { FakeClock } from './helpers.js';

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

interface Point {
  name: string;
  unit: string;
  attributes: Record<string, unknown>;
  value: number | { count: number; sum: number; boundaries: number[]; counts: number[] };
}

function flatten(rm: ResourceMetrics): Point[] {
  const out: Point[] = [];
  for (const sm of rm.scopeMetrics) {
    for (const m of sm.metrics) {
      for (const dp of m.dataPoints) {
        const v = dp.value as unknown;
        out.push({
          name: m.descriptor.name,
          unit: m.descriptor.unit,
          attributes: { ...dp.attributes },
          value:
            m.dataPointType === DataPointType.HISTOGRAM
              ? (() => {
                  const h = v as { count: number; sum: number; buckets: { boundaries: number[]; counts: number[] } };
                  return { count: h.count, sum: h.sum, boundaries: h.buckets.boundaries, counts: h.buckets.counts };
                })()
              : (v as number),
        });
      }
    }
  }
  return out;
}

function setup(): { provider: MeterProvider; collect: () => Promise<Point[]> } {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    collect: async () => {
      const { resourceMetrics, errors } = await reader.collect();
      assert.deepEqual(errors, []);
      return flatten(resourceMetrics);
    },
  };
}

/** The value of the one point named `name` whose attributes include `attrs`. */
function value(points: Point[], name: string, attrs: Record<string, unknown> = {}): Point['value'] | undefined {
  const found = points.filter((p) => p.name === name && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  assert.ok(found.length <= 1, `${found.length} points match ${name} ${JSON.stringify(attrs)}`);
  return found[0]?.value;
}

test('otel: counters and gauges read stats(), size and weight at collection', async (t) => {
  const { provider, collect } = setup();
  t.after(() => provider.shutdown());
  const cache = new Cache<string, number>({ maxEntries: 2, policy: 'lru' });
  const handle = instrumentCache(cache, { meter: provider.getMeter('test'), name: 'users', attributes: { region: 'eu' } });
  t.after(() => handle.stop());

  cache.set('a', 1);
  cache.set('b', 2);
  cache.get('a'); // hit
  cache.get('z'); // miss
  cache.set('c', 3); // evicts b
  cache.set('a', 10); // update

  const points = await collect();
  const users = { 'cache.name': 'users', region: 'eu' };
  assert.equal(value(points, 'cortado.cache.hits', users), 1);
  assert.equal(value(points, 'cortado.cache.misses', users), 1);
  assert.equal(value(points, 'cortado.cache.evictions', users), 1);
  assert.equal(value(points, 'cortado.cache.inserts', users), 3);
  assert.equal(value(points, 'cortado.cache.updates', users), 1);
  assert.equal(value(points, 'cortado.cache.size', users), 2);
  assert.equal(value(points, 'cortado.cache.weight', users), 2);
  assert.equal(value(points, 'cortado.cache.max_entries', users), 2);
  assert.equal(value(points, 'cortado.cache.max_weight', users), undefined); // no weight bound: not exported
  assert.equal(value(points, 'cortado.cache.loads', { ...users, outcome: 'success' }), 0);
  assert.equal(value(points, 'cortado.cache.hit_ratio'), undefined); // a ratio is not a counter

  // Every counter of stats() is there, equal to stats() (the exporter adds nothing of its own).
  const stats = cache.stats();
  assert.equal(value(points, 'cortado.cache.rejections', users), stats.rejections);
  assert.equal(value(points, 'cortado.cache.expirations', users), stats.expirations);
  assert.equal(value(points, 'cortado.cache.deletions', users), stats.deletions);
  assert.equal(value(points, 'cortado.cache.evicted_weight', users), stats.evictedWeight);
  assert.equal(points.find((p) => p.name === 'cortado.cache.hits')!.unit, '{hit}');

  cache.get('a');
  cache.get('a');
  const later = await collect();
  assert.equal(value(later, 'cortado.cache.hits', users), 3);
});

test('otel: removals by cause come from the cortado:remove channel', async (t) => {
  const { provider, collect } = setup();
  t.after(() => provider.shutdown());
  const clock = new FakeClock();
  const cache = new Cache<string, string>({ maxEntries: 3, maxWeight: 10, weigher: (v) => v.length, policy: 'lru', clock: clock.fn });
  const handle = instrumentCache(cache, { meter: provider.getMeter('test'), name: 'c' });

  cache.set('a', 'x');
  cache.set('a', 'y'); // replaced
  cache.set('b', 'x', { ttl: 100 });
  clock.advance(100);
  cache.purgeExpired(); // expired
  cache.set('big', 'x'.repeat(11)); // rejected (heavier than maxWeight)
  cache.set('c', 'x');
  cache.set('d', 'x');
  cache.set('e', 'x'); // evicts a
  cache.delete('c'); // deleted
  cache.clear(); // d, e cleared

  const points = await collect();
  const byCause = (cause: string) => value(points, 'cortado.cache.removals', { 'cache.name': 'c', cause });
  assert.deepEqual(
    ['replaced', 'expired', 'rejected', 'evicted', 'deleted', 'cleared'].map(byCause),
    [1, 1, 1, 1, 1, 2],
  );

  // stop(): no more removals counted, nothing observed, and the channels are left.
  handle.stop();
  assert.equal(dc.hasSubscribers('cortado:remove'), false);
  assert.equal(dc.hasSubscribers('cortado:load'), false);
  cache.set('f', 'x');
  cache.delete('f');
  cache.set('g', 'x');
  cache.get('g');
  assert.equal(cache.size, 1);
  assert.equal(cache.stats().hits, 1);
  const after = await collect();
  assert.equal(value(after, 'cortado.cache.removals', { 'cache.name': 'c', cause: 'deleted' }), 1);
  // The SDK may keep exporting a stopped asynchronous series (cumulative), but not new values.
  assert.notEqual(value(after, 'cortado.cache.size', { 'cache.name': 'c' }), 1);
  assert.notEqual(value(after, 'cortado.cache.hits', { 'cache.name': 'c' }), 1);
});

test('otel: load latency histogram by outcome, in seconds of the cache clock', async (t) => {
  const { provider, collect } = setup();
  t.after(() => provider.shutdown());
  const clock = new FakeClock();
  const boom = new Error('source down');
  const cache = new Cache<string, string>({
    maxEntries: 10,
    clock: clock.fn,
    loader: async (key) => {
      if (key === 'bad') {
        clock.advance(40);
        throw boom;
      }
      clock.advance(250);
      return key.toUpperCase();
    },
  });
  const other = new Cache<string, string>({ maxEntries: 10, loader: (k) => k });
  const handle = instrumentCache(cache, { meter: provider.getMeter('test'), name: 'loading' });
  t.after(() => handle.stop());

  assert.equal(await cache.fetch('a'), 'A');
  await assert.rejects(cache.fetch('bad'), (e) => e === boom);
  assert.equal(await other.fetch('x'), 'x'); // not instrumented: not counted
  assert.equal(await cache.fetch('a'), 'A'); // a hit: no load

  const points = await collect();
  const ok = value(points, 'cortado.cache.load.duration', { 'cache.name': 'loading', outcome: 'success' }) as Exclude<Point['value'], number>;
  const failed = value(points, 'cortado.cache.load.duration', { 'cache.name': 'loading', outcome: 'failure' }) as Exclude<Point['value'], number>;
  assert.equal(ok.count, 1);
  assert.equal(ok.sum, 0.25);
  assert.equal(failed.count, 1);
  assert.equal(failed.sum, 0.04);
  // 0.25 s falls in the bucket whose upper bound is 0.25 (the advice's boundaries are used).
  assert.equal(ok.boundaries.includes(0.25), true);
  assert.equal(ok.counts[ok.boundaries.indexOf(0.25)], 1);
  assert.equal(points.filter((p) => p.name === 'cortado.cache.load.duration').length, 2);
  assert.equal(value(points, 'cortado.cache.loads', { 'cache.name': 'loading', outcome: 'failure' }), 1);
  assert.equal(value(points, 'cortado.cache.load.time', { 'cache.name': 'loading' }), 0.29);
});

test('otel: several caches on one meter, told apart by name; a second cache with the same attributes is refused', async (t) => {
  const { provider, collect } = setup();
  t.after(() => provider.shutdown());
  const meter = provider.getMeter('test');
  const a = new Cache<number, number>({ maxEntries: 10 });
  const b = new Cache<number, number>({ maxEntries: 10 });
  const ha = instrumentCache(a, { meter, name: 'a' });
  const hb = instrumentCache(b, { meter, name: 'b' });
  t.after(() => {
    ha.stop();
    hb.stop();
  });
  assert.throws(() => instrumentCache(new Cache({ maxEntries: 1 }), { meter, name: 'a' }), /already instrumented.*own name/);
  a.get(1);
  b.get(1);
  b.get(2);
  a.delete(1);
  b.set(1, 1);
  b.delete(1);
  const points = await collect();
  assert.equal(value(points, 'cortado.cache.misses', { 'cache.name': 'a' }), 1);
  assert.equal(value(points, 'cortado.cache.misses', { 'cache.name': 'b' }), 2);
  assert.equal(value(points, 'cortado.cache.removals', { 'cache.name': 'a', cause: 'deleted' }), undefined);
  assert.equal(value(points, 'cortado.cache.removals', { 'cache.name': 'b', cause: 'deleted' }), 1);
  ha.stop();
  const again = instrumentCache(a, { meter, name: 'a' }); // the name is free again
  again.stop();
});

test('otel: without a meter, the global MeterProvider is used (exported through the SDK in-memory exporter)', async (t) => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  assert.equal(metrics.setGlobalMeterProvider(provider), true);
  t.after(async () => {
    metrics.disable();
    await provider.shutdown();
  });
  const cache = new Cache<string, number>({ maxEntries: 10 });
  const handle = instrumentCache(cache, { name: 'global' });
  t.after(() => handle.stop());
  cache.set('a', 1);
  cache.get('a');
  await reader.forceFlush();
  const exported = exporter.getMetrics();
  assert.ok(exported.length > 0);
  const points = flatten(exported.at(-1)!);
  assert.equal(value(points, 'cortado.cache.hits', { 'cache.name': 'global' }), 1);
  assert.equal(value(points, 'cortado.cache.size', { 'cache.name': 'global' }), 1);
});

test('otel: any object with stats() can be instrumented (the extension point for tiers)', async (t) => {
  const { provider, collect } = setup();
  t.after(() => provider.shutdown());
  const tier = {
    counters: { hits: 5, misses: 2, writes: 7, bytesWritten: 4096, rejected: 0, errors: 1, corruptions: 0, compactions: 3 },
    stats() {
      return { ...this.counters };
    },
  };
  const handle = instrumentCache(tier, { meter: provider.getMeter('test'), name: 'users', attributes: { tier: 'disk' } });
  t.after(() => handle.stop());
  tier.counters.hits++;
  const points = await collect();
  const attrs = { 'cache.name': 'users', tier: 'disk' };
  assert.equal(value(points, 'cortado.cache.hits', attrs), 6);
  assert.equal(value(points, 'cortado.cache.writes', attrs), 7);
  assert.equal(value(points, 'cortado.cache.bytes_written', attrs), 4096);
  assert.equal(points.find((p) => p.name === 'cortado.cache.bytes_written')!.unit, 'By');
  assert.equal(value(points, 'cortado.cache.compactions', attrs), 3); // unknown field: snake_case name
  assert.equal(value(points, 'cortado.cache.size', attrs), undefined); // no size property
});

test('otel: bad input is a TypeError naming the argument', () => {
  const provider = new MeterProvider();
  const meter = provider.getMeter('test');
  assert.throws(() => instrumentCache(null as never, { meter }), { name: 'TypeError', message: /instrumentCache\(\) needs a Cache/ });
  assert.throws(() => instrumentCache({} as never, { meter }), { name: 'TypeError', message: /stats\(\)/ });
  assert.throws(() => instrumentCache(new Cache({ maxEntries: 1 }), { meter, name: '' }), { name: 'TypeError', message: /name must be a non-empty string/ });
  assert.throws(() => instrumentCache(new Cache({ maxEntries: 1 }), { meter, attributes: 3 as never }), { name: 'TypeError', message: /attributes must be an object/ });
  assert.equal(dc.hasSubscribers('cortado:remove'), false);
});

test('otel: a layered source (TieredCache) exports its memory and each tier as cortado.cache.tier.* with cache.tier', async (t) => {
  const { provider, collect } = setup();
  t.after(() => provider.shutdown());
  const state = {
    hits: 10,
    misses: 4,
    loads: 3,
    loadFailures: 1,
    memory: { hits: 7, misses: 7, hitRatio: 0.5, evictions: 5 },
    tiers: [
      { name: 'disk', write: 'on-evict', hits: 2, writes: 6, bytesWritten: 600, inFlightBytes: 128 },
      { name: 'redis', write: 'through', hits: 1, writes: 9, bytesWritten: 900, inFlightBytes: 0 },
    ],
  };
  const handle = instrumentCache({ stats: () => structuredClone(state) }, { meter: provider.getMeter('test'), name: 'users' });
  t.after(() => handle.stop());
  state.tiers[0]!.writes++;
  state.tiers[0]!.inFlightBytes = 64;
  const points = await collect();
  const top = { 'cache.name': 'users' };
  assert.equal(value(points, 'cortado.cache.hits', top), 10);
  assert.equal(value(points, 'cortado.cache.loads', { ...top, outcome: 'success' }), 3);
  assert.equal(value(points, 'cortado.cache.tier.hits', { ...top, 'cache.tier': 'memory' }), 7);
  assert.equal(value(points, 'cortado.cache.tier.evictions', { ...top, 'cache.tier': 'memory' }), 5);
  assert.equal(value(points, 'cortado.cache.tier.writes', { ...top, 'cache.tier': 'disk' }), 7);
  assert.equal(value(points, 'cortado.cache.tier.bytes_written', { ...top, 'cache.tier': 'redis' }), 900);
  assert.equal(value(points, 'cortado.cache.tier.in_flight', { ...top, 'cache.tier': 'disk' }), 64);
  assert.equal(value(points, 'cortado.cache.tier.hit_ratio'), undefined);
});
