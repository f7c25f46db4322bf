/**
 * cortado/prometheus read back through prom-client: the exposition text of a real Registry,
 * parsed, so names, types, labels and histogram buckets are what Prometheus would scrape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { Counter, Registry, register as globalRegister } from 'prom-client';
import { Cache } from 'cortado';
import { registerCache } from 'cortado/prometheus';
import { FakeClock } from './helpers.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  samples: Sample[];
  types: Map<string, string>;
  help: Map<string, string>;
}

/** Parse the Prometheus text format (0.0.4) that Registry.metrics() returns. */
function parse(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      types.set(m[1], m[2]);
      continue;
    }
    m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      help.set(m[1], m[2]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) for (const [, k, v] of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { samples, types, help };
}

async function scrape(registry: Registry): Promise<Scrape> {
  return parse(await registry.metrics());
}

/** The value of the one sample named `name` whose labels include `labels`. */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(found.length <= 1, `${found.length} samples match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

test('prometheus: counters and gauges from stats(), size and weight at scrape time', async (t) => {
  const registry = new Registry();
  const cache = new Cache<string, number>({ maxEntries: 2, policy: 'lru' });
  const handle = registerCache(cache, { registry, name: 'users', labels: { service: 'api' } });
  t.after(() => handle.stop());

  cache.set('a', 1);
  cache.set('b', 2);
  cache.get('a'); // hit
  cache.get('z'); // miss
  cache.set('c', 3); // evicts b
  cache.set('a', 10); // update

  const s = await scrape(registry);
  const users = { cache: 'users', service: 'api' };
  assert.equal(value(s, 'cortado_cache_hits_total', users), 1);
  assert.equal(value(s, 'cortado_cache_misses_total', users), 1);
  assert.equal(value(s, 'cortado_cache_evictions_total', users), 1);
  assert.equal(value(s, 'cortado_cache_inserts_total', users), 3);
  assert.equal(value(s, 'cortado_cache_updates_total', users), 1);
  assert.equal(value(s, 'cortado_cache_loads_total', { ...users, outcome: 'success' }), 0);
  assert.equal(value(s, 'cortado_cache_size', users), 2);
  assert.equal(value(s, 'cortado_cache_weight', users), 2);
  assert.equal(value(s, 'cortado_cache_max_entries', users), 2);
  assert.equal(value(s, 'cortado_cache_max_weight', users), undefined);
  assert.equal(s.types.get('cortado_cache_hits_total'), 'counter');
  assert.equal(s.types.get('cortado_cache_size'), 'gauge');
  assert.equal(s.types.get('cortado_cache_load_duration_seconds'), 'histogram');
  assert.equal(s.types.get('cortado_cache_removals_total'), 'counter');
  assert.ok(!s.samples.some((x) => x.name.includes('hit_ratio')), 'a ratio is not exported as a counter');
  const stats = cache.stats();
  for (const [field, metric] of [
    ['rejections', 'cortado_cache_rejections_total'],
    ['expirations', 'cortado_cache_expirations_total'],
    ['deletions', 'cortado_cache_deletions_total'],
    ['evictedWeight', 'cortado_cache_evicted_weight_total'],
  ] as const) {
    assert.equal(value(s, metric, users), stats[field], metric);
  }

  cache.get('a');
  cache.get('a');
  assert.equal(value(await scrape(registry), 'cortado_cache_hits_total', users), 3);
});

test('prometheus: removals by cause and load durations from the channels', async (t) => {
  const registry = new Registry();
  const clock = new FakeClock();
  const cache = new Cache<string, string>({
    maxEntries: 3,
    maxWeight: 10,
    weigher: (v) => v.length,
    policy: 'lru',
    clock: clock.fn,
    loader: async (key) => {
      clock.advance(key === 'slow' ? 3_000 : 2);
      if (key === 'bad') throw new Error('down');
      return key;
    },
  });
  const handle = registerCache(cache, { registry, name: 'c' });

  cache.set('a', 'x');
  cache.set('a', 'y'); // replaced
  cache.set('b', 'x', { ttl: 100 });
  clock.advance(100);
  cache.purgeExpired(); // expired
  cache.set('big', 'x'.repeat(11)); // rejected
  cache.set('c', 'x');
  cache.set('d', 'x');
  cache.set('e', 'x'); // evicts a
  cache.delete('c'); // deleted
  cache.clear(); // d, e cleared
  assert.equal(await cache.fetch('slow'), 'slow');
  assert.equal(await cache.fetch('ok'), 'ok');
  await assert.rejects(cache.fetch('bad'), /down/);

  const s = await scrape(registry);
  const byCause = (cause: string) => value(s, 'cortado_cache_removals_total', { cache: 'c', cause });
  assert.deepEqual(['replaced', 'expired', 'rejected', 'evicted', 'deleted', 'cleared'].map(byCause), [1, 1, 1, 1, 1, 2]);

  const success = { cache: 'c', outcome: 'success' };
  assert.equal(value(s, 'cortado_cache_load_duration_seconds_count', success), 2);
  assert.equal(value(s, 'cortado_cache_load_duration_seconds_sum', success), 3.002);
  assert.equal(value(s, 'cortado_cache_load_duration_seconds_bucket', { ...success, le: '0.0025' }), 1); // the 2 ms load
  assert.equal(value(s, 'cortado_cache_load_duration_seconds_bucket', { ...success, le: '2.5' }), 1);
  assert.equal(value(s, 'cortado_cache_load_duration_seconds_bucket', { ...success, le: '5' }), 2); // and the 3 s one
  assert.equal(value(s, 'cortado_cache_load_duration_seconds_bucket', { ...success, le: '+Inf' }), 2);
  assert.equal(value(s, 'cortado_cache_load_duration_seconds_count', { cache: 'c', outcome: 'failure' }), 1);
  assert.equal(value(s, 'cortado_cache_loads_total', { cache: 'c', outcome: 'failure' }), 1);
  assert.equal(value(s, 'cortado_cache_load_seconds_total', { cache: 'c' }), 3.004);

  // stop(): the series go, the metrics leave the registry, the channels are left.
  handle.stop();
  handle.stop(); // idempotent
  assert.equal(dc.hasSubscribers('cortado:remove'), false);
  assert.equal(dc.hasSubscribers('cortado:load'), false);
  assert.equal(await registry.metrics(), '\n');
  assert.equal(registry.getSingleMetric('cortado_cache_hits_total'), undefined);
});

test('prometheus: several caches share one set of metrics, one label set each; stop() removes only its own series', async (t) => {
  const registry = new Registry();
  const a = new Cache<number, number>({ maxEntries: 10 });
  const b = new Cache<number, number>({ maxEntries: 10 });
  const ha = registerCache(a, { registry, name: 'a', labels: { team: 'x' } });
  const hb = registerCache(b, { registry, name: 'b', labels: { team: 'y' } });
  t.after(() => hb.stop());
  assert.throws(() => registerCache(new Cache({ maxEntries: 1 }), { registry, name: 'a', labels: { team: 'x' } }), /already registered.*own name/);
  assert.throws(() => registerCache(new Cache({ maxEntries: 1 }), { registry, name: 'z', labels: { zone: 'x' } }), {
    name: 'TypeError',
    message: /same names.*\(team\), got zone/,
  });
  a.get(1);
  b.get(1);
  b.get(2);
  a.set(1, 1);
  a.delete(1);
  let s = await scrape(registry);
  assert.equal(value(s, 'cortado_cache_misses_total', { cache: 'a', team: 'x' }), 1);
  assert.equal(value(s, 'cortado_cache_misses_total', { cache: 'b', team: 'y' }), 2);
  assert.equal(value(s, 'cortado_cache_removals_total', { cache: 'a', cause: 'deleted' }), 1);
  assert.equal(value(s, 'cortado_cache_removals_total', { cache: 'b', cause: 'deleted' }), undefined);

  ha.stop();
  s = await scrape(registry);
  assert.equal(value(s, 'cortado_cache_misses_total', { cache: 'a' }), undefined);
  assert.equal(value(s, 'cortado_cache_removals_total', { cache: 'a', cause: 'deleted' }), undefined);
  assert.equal(value(s, 'cortado_cache_misses_total', { cache: 'b' }), 2);
});

test('prometheus: a prefix, the global registry by default, and a name clash leaves nothing half-registered', async (t) => {
  const cache = new Cache<string, number>({ maxEntries: 5 });
  const handle = registerCache(cache, { prefix: 'app_cache_' });
  t.after(() => handle.stop());
  cache.get('x');
  const s = parse(await globalRegister.metrics());
  assert.equal(value(s, 'app_cache_misses_total', { cache: 'default' }), 1);
  handle.stop();
  assert.equal(globalRegister.getSingleMetric('app_cache_misses_total'), undefined);

  const registry = new Registry();
  const squatter = new Counter({ name: 'cortado_cache_load_duration_seconds', help: 'not ours', registers: [registry] });
  assert.throws(() => registerCache(cache, { registry }), /already been registered/);
  assert.deepEqual(
    registry.getMetricsAsArray(),
    [squatter],
  );
  assert.equal(dc.hasSubscribers('cortado:remove'), false);
});

test('prometheus: any object with stats() can be registered (the extension point for tiers)', async (t) => {
  const registry = new Registry();
  const tier = {
    counters: { hits: 5, misses: 2, writes: 7, bytesWritten: 4096, rejected: 0, errors: 1, corruptions: 0, compactions: 3 },
    stats() {
      return { ...this.counters };
    },
  };
  const handle = registerCache(tier, { registry, name: 'users', labels: { store: 'disk' } });
  t.after(() => handle.stop());
  tier.counters.hits++;
  const s = await scrape(registry);
  const labels = { cache: 'users', store: 'disk' };
  assert.equal(value(s, 'cortado_cache_hits_total', labels), 6);
  assert.equal(value(s, 'cortado_cache_written_bytes_total', labels), 4096);
  assert.equal(value(s, 'cortado_cache_compactions_total', labels), 3);
  assert.equal(value(s, 'cortado_cache_size', labels), undefined);
});

test('prometheus: bad input is a TypeError naming the argument', () => {
  const registry = new Registry();
  const cache = new Cache({ maxEntries: 1 });
  assert.throws(() => registerCache(undefined as never, { registry }), { name: 'TypeError', message: /registerCache\(\) needs a Cache/ });
  assert.throws(() => registerCache(cache, { registry, prefix: '1x' }), { name: 'TypeError', message: /prefix must match/ });
  assert.throws(() => registerCache(cache, { registry, labels: { cache: 'x' } }), { name: 'TypeError', message: /label "cache" is set by cortado/ });
  assert.throws(() => registerCache(cache, { registry, labels: { tier: 'x' } }), { name: 'TypeError', message: /label "tier" is set by cortado/ });
  assert.throws(() => registerCache(cache, { registry, labels: { 'bad-name': 'x' } }), { name: 'TypeError', message: /not a Prometheus label name/ });
  assert.throws(() => registerCache(cache, { registry, labels: { n: 1 as never } }), { name: 'TypeError', message: /label "n" must be a string/ });
  assert.throws(() => registerCache(cache, { registry: {} as never }), { name: 'TypeError', message: /registry must be a prom-client Registry/ });
  assert.equal(registry.getMetricsAsArray().length, 0);
});

test('prometheus: an OpenMetrics registry gets the same counters, and stop() still removes them after a scrape', async () => {
  const registry = new (Registry as unknown as new (type: string) => Registry<'application/openmetrics-text; version=1.0.0; charset=utf-8'>)(Registry.OPENMETRICS_CONTENT_TYPE);
  const cache = new Cache<string, number>({ maxEntries: 5 });
  const handle = registerCache(cache, { registry, name: 'om' });
  cache.get('x');
  cache.set('x', 1);
  cache.delete('x');
  const text = await registry.metrics();
  assert.match(text, /^# TYPE cortado_cache_misses counter$/m);
  assert.match(text, /^cortado_cache_misses_total\{cache="om"\} 1$/m);
  assert.match(text, /^cortado_cache_removals_total\{cache="om",cause="deleted"\} 1$/m);
  assert.match(text, /# EOF\n$/);
  handle.stop();
  assert.equal(registry.getMetricsAsArray().length, 0);
  const again = registerCache(cache, { registry, name: 'om' }); // and the names are free again
  again.stop();
});

/** What a TieredCache's stats() looks like (src/tiered/tiered-cache.ts): top-level counters, memory's CacheStats, one entry per tier. */
function layeredSource() {
  const state = {
    hits: 10,
    misses: 4,
    loads: 3,
    loadFailures: 1,
    promotions: 2,
    memory: { hits: 7, misses: 7, hitRatio: 0.5, evictions: 5 },
    tiers: [
      { name: 'disk', write: 'on-evict', hits: 2, misses: 5, writes: 6, bytesWritten: 600, inFlightBytes: 128, spills: 6, entries: 3, bytes: 300 },
      { name: 'redis', write: 'through', hits: 1, misses: 4, writes: 9, bytesWritten: 900, inFlightBytes: 0, spills: 0 },
    ],
  };
  return { state, source: { stats: () => structuredClone(state) } };
}

test('prometheus: a layered source (TieredCache) exports its memory and each tier with a tier label', async (t) => {
  const registry = new Registry();
  const { state, source } = layeredSource();
  const handle = registerCache(source, { registry, name: 'users' });
  t.after(() => handle.stop());
  state.tiers[0]!.writes++;
  state.tiers[0]!.inFlightBytes = 64;
  const s = await scrape(registry);
  assert.equal(value(s, 'cortado_cache_hits_total', { cache: 'users' }), 10);
  assert.equal(value(s, 'cortado_cache_loads_total', { cache: 'users', outcome: 'success' }), 3);
  assert.equal(value(s, 'cortado_cache_loads_total', { cache: 'users', outcome: 'failure' }), 1);
  assert.equal(value(s, 'cortado_cache_tier_hits_total', { cache: 'users', tier: 'memory' }), 7);
  assert.equal(value(s, 'cortado_cache_tier_evictions_total', { cache: 'users', tier: 'memory' }), 5);
  assert.equal(value(s, 'cortado_cache_tier_hits_total', { cache: 'users', tier: 'disk' }), 2);
  assert.equal(value(s, 'cortado_cache_tier_writes_total', { cache: 'users', tier: 'disk' }), 7);
  assert.equal(value(s, 'cortado_cache_tier_written_bytes_total', { cache: 'users', tier: 'redis' }), 900);
  assert.equal(value(s, 'cortado_cache_tier_in_flight_bytes', { cache: 'users', tier: 'disk' }), 64);
  assert.equal(s.types.get('cortado_cache_tier_in_flight_bytes'), 'gauge');
  assert.equal(value(s, 'cortado_cache_tier_entries', { cache: 'users', tier: 'disk' }), 3); // levels are gauges
  assert.equal(value(s, 'cortado_cache_tier_bytes', { cache: 'users', tier: 'disk' }), 300);
  assert.equal(s.types.get('cortado_cache_tier_spills_total'), 'counter');
  assert.ok(!s.samples.some((x) => x.name.includes('ratio')), 'ratios are not exported');
  assert.ok(!s.samples.some((x) => x.labels.tier === undefined && x.name.startsWith('cortado_cache_tier_')), 'every tier series has a tier label');
});
