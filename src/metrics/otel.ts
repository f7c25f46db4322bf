/**
 * `cortado/otel`: a cache's metrics through the OpenTelemetry metrics API, in one call.
 *
 *   const handle = instrumentCache(cache, { name: 'users' }); // ... handle.stop();
 *
 * What is exported, and how it costs nothing per operation:
 * - Counters and gauges read `cache.stats()`, `size` and `weight` when the SDK collects, through
 *   one batch observable callback (so one stats() snapshot feeds every instrument of a
 *   collection, and get/set pay nothing for being observed).
 * - Removals by cause and the load latency histogram need events: they come from the
 *   `cortado:remove` channel and the `cortado:load` TracingChannel (src/metrics/channels.ts).
 *   The cache publishes there only while someone subscribes, so these cost a message per
 *   removal or load, and nothing once the last instrumentation stops. One subscription per
 *   channel serves every instrumented cache (a Map from cache to its sinks), not one per cache.
 *
 * The API package is an optional peer. Types are imported at compile time only; a `meter`
 * passed in needs nothing at run time, and only without one is `@opentelemetry/api` loaded
 * (synchronously, by require: its global provider registry lives on globalThis, so the copy
 * loaded here sees the provider the application registered through `import`).
 *
 * Extension point: anything with `stats()` whose numeric fields are counters since creation
 * (a Tier, a TieredCache) can be instrumented the same way: known fields get the names in
 * STAT_FIELDS, any other numeric field `cortado.cache.<snake_case>`; a layered source's
 * `memory` stats and each of its named `tiers` become `cortado.cache.tier.*` series with a
 * `cache.tier` attribute; `size`, `weight`, `maxEntries` and `maxWeight` are read when
 * present. Events exist only for a Cache.
 *
 * There are no OpenTelemetry semantic conventions for caches; the names follow the general
 * rules (dot namespaces, UCUM units, seconds for durations, attributes for dimensions) and are
 * listed in docs/metrics.md.
 */
import dc from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import type {
  Attributes,
  BatchObservableResult,
  Counter,
  Histogram,
  Meter,
  Observable,
} from '@opentelemetry/api';
import { CHANNELS, loadChannel } from './channels.js';

/** What can be instrumented: a Cache, or anything that reports counters in `stats()`. */
export interface StatsSource {
  /** Counters since creation; every finite numeric field but `hitRatio` is exported. */
  stats(): object;
  readonly size?: number | undefined;
  readonly weight?: number | undefined;
  readonly maxEntries?: number | undefined;
  readonly maxWeight?: number | undefined;
}

export interface InstrumentOptions {
  /** The meter to create instruments on. Default: `metrics.getMeter('cortado')` of the global API. */
  meter?: Meter | undefined;
  /** Value of the `cache.name` attribute that tells caches apart (default `'default'`). */
  name?: string | undefined;
  /** More attributes for every data point (e.g. `{ 'service.component': 'users' }`). */
  attributes?: Attributes | undefined;
}

/** An instrumented cache; stop() stops observing it and leaves the channels. */
export interface Instrumentation {
  stop(): void;
}

// ---- shared with cortado/prometheus (one table of names, one event hub per exporter) ----

/** @internal How a stats() field is exported. */
export interface FieldSpec {
  /** OpenTelemetry name after `cortado.cache.`. */
  readonly otel: string;
  /** Prometheus name after the prefix, before `_total`. */
  readonly prom: string;
  readonly help: string;
  /** UCUM unit (OpenTelemetry). */
  readonly unit: string;
  /** An attribute (label) that splits one metric over several fields (`loads` by outcome). */
  readonly split?: readonly [string, string];
  /** Multiply by this (ms -> s). */
  readonly scale?: number;
  /** A current level (exported as a gauge), not a counter since creation. */
  readonly gauge?: boolean;
}

function fieldSpec(
  otel: string,
  prom: string,
  unit: string,
  help: string,
  extra?: { split?: readonly [string, string]; scale?: number; gauge?: boolean },
): FieldSpec {
  return { otel, prom, unit, help, ...extra };
}

const LOADS_HELP = 'Loader or loadAll calls, by outcome (a batch counts once).';

/** @internal The names of the Cache's own stats fields (CacheStats) and the tier contract's (TierStats). */
export const STAT_FIELDS: Readonly<Record<string, FieldSpec>> = {
  hits: fieldSpec('hits', 'hits', '{hit}', 'Lookups that found a live value (get, and fetch answered from the cache).'),
  misses: fieldSpec('misses', 'misses', '{miss}', 'Lookups that found nothing live.'),
  inserts: fieldSpec('inserts', 'inserts', '{entry}', 'New entries stored.'),
  updates: fieldSpec('updates', 'updates', '{entry}', 'Values replaced in place.'),
  evictions: fieldSpec('evictions', 'evictions', '{entry}', 'Entries removed by the policy to make room.'),
  evictedWeight: fieldSpec('evicted_weight', 'evicted_weight', '1', 'Total weight of evicted entries (their count when the cache keeps no weights).'),
  rejections: fieldSpec('rejections', 'rejections', '{value}', 'Values refused: too heavy, by admission, or by shouldUpdate.'),
  expirations: fieldSpec('expirations', 'expirations', '{entry}', 'Entries removed because their time-to-live or idle time ran out.'),
  deletions: fieldSpec('deletions', 'deletions', '{entry}', 'Entries removed by delete().'),
  loadSuccesses: fieldSpec('loads', 'loads', '{load}', LOADS_HELP, { split: ['outcome', 'success'] }),
  loadFailures: fieldSpec('loads', 'loads', '{load}', LOADS_HELP, { split: ['outcome', 'failure'] }),
  totalLoadTime: fieldSpec('load.time', 'load_seconds', 's', "Total time spent in counted loads, by the cache's clock.", { scale: 1e-3 }),
  // TieredStats (src/tiered/tiered-cache.ts): `loads` counts the loads that succeeded
  loads: fieldSpec('loads', 'loads', '{load}', LOADS_HELP, { split: ['outcome', 'success'] }),
  // TierStats (src/tiered/tier.ts) and TieredLayerStats
  writes: fieldSpec('writes', 'writes', '{write}', 'Completed sets.'),
  bytesWritten: fieldSpec('bytes_written', 'written_bytes', 'By', 'Bytes accepted by completed sets.'),
  rejected: fieldSpec('rejected', 'rejected', '{write}', 'Sets the tier declined to keep.'),
  errors: fieldSpec('errors', 'errors', '{error}', 'Calls that failed with an error of the backing store.'),
  corruptions: fieldSpec('corruptions', 'corruptions', '{item}', 'Items whose bytes failed verification.'),
  // Levels a tier reports beside its counters (exported as gauges)
  inFlightBytes: fieldSpec('in_flight', 'in_flight_bytes', 'By', 'Bytes of spills queued or being written now.', { gauge: true }),
  entries: fieldSpec('entries', 'entries', '{entry}', 'Entries held now.', { gauge: true }),
  bytes: fieldSpec('bytes', 'bytes', 'By', 'Bytes held now.', { gauge: true }),
};

/** @internal Fields of stats() that are not exported (a ratio of counters already exported). */
const SKIPPED = new Set(['hitRatio']);

/** @internal One exported series of a source's stats(): which metric, which layer, how to read it. */
export interface Series {
  readonly spec: FieldSpec;
  /** The layer a nested field belongs to ('memory', or a tier's name); undefined at the top level. */
  readonly layer: string | undefined;
  read(stats: Record<string, unknown>): unknown;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function specOf(field: string): FieldSpec {
  const known = STAT_FIELDS[field];
  if (known !== undefined) return known;
  const name = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, '_');
  return { otel: name, prom: name, unit: '1', help: `The ${field} counter of stats().` };
}

/**
 * @internal The series of a source, found in one stats() snapshot: every numeric top-level
 * field, and, for a layered source (a TieredCache), the numeric fields of `memory` (layer
 * 'memory') and of each element of `tiers` that has a string `name` (layer = that name).
 */
export function statSeries(source: StatsSource): Series[] {
  const out: Series[] = [];
  const add = (fields: Record<string, unknown>, layer: string | undefined, at: (s: Record<string, unknown>) => Record<string, unknown> | undefined): void => {
    for (const [field, v] of Object.entries(fields)) {
      if (typeof v !== 'number' || SKIPPED.has(field)) continue;
      out.push({ spec: specOf(field), layer, read: (s) => at(s)?.[field] });
    }
  };
  const snapshot = source.stats() as Record<string, unknown>;
  add(snapshot, undefined, (s) => s);
  const memory = record(snapshot.memory);
  if (memory !== undefined) add(memory, 'memory', (s) => record(s.memory));
  if (Array.isArray(snapshot.tiers)) {
    snapshot.tiers.forEach((t: unknown, i: number) => {
      const tier = record(t);
      if (tier !== undefined && typeof tier.name === 'string') {
        add(tier, tier.name, (s) => (Array.isArray(s.tiers) ? record(s.tiers[i]) : undefined));
      }
    });
  }
  return out;
}

/** @internal Load latency buckets in seconds: 0.1 ms (a memory-speed loader) to 10 s (a timeout). */
export const LOAD_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** @internal Callbacks one exporter registers for one cache. */
export interface Sink {
  removed(cause: string): void;
  /** A load ended after `seconds`; failed when it threw or rejected. */
  loaded(seconds: number, failed: boolean): void;
}

/** @internal An error for a missing optional peer, with a stable code. */
export function peerMissing(pkg: string, subpath: string, cause: unknown): Error {
  const e = new Error(`cortado: ${subpath} needs the optional peer dependency ${pkg}: npm install ${pkg}`, { cause });
  e.name = 'PeerMissingError';
  (e as Error & { code: string }).code = 'ERR_CORTADO_PEER_MISSING';
  return e;
}

/** @internal Load an optional peer synchronously from this package's location. */
export function loadPeer<T>(pkg: string, subpath: string): T {
  try {
    return createRequire(import.meta.url)(pkg) as T;
  } catch (e) {
    // Only the peer itself missing; an error inside an installed peer is passed on as it is.
    const err = e as { code?: unknown; message?: unknown };
    if (err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(`'${pkg}'`)) throw peerMissing(pkg, subpath, e);
    throw e;
  }
}

interface LoadContext {
  cache?: unknown;
  error?: unknown;
  result?: unknown;
}

/**
 * @internal One subscription to `cortado:remove` and one to `cortado:load` for all caches
 * an exporter instruments; subscribed while at least one sink is registered.
 */
export class EventHub {
  private readonly sinks = new Map<object, Sink[]>();
  /** Load start times by context (a WeakMap: a load that never settles leaves nothing behind). */
  private readonly started = new WeakMap<object, { at: number; clock: () => number }>();
  private readonly clocks = new WeakMap<object, () => number>();
  private readonly onRemove = (message: unknown): void => {
    const m = message as { cache: object; cause: string };
    const sinks = this.sinks.get(m.cache);
    if (sinks !== undefined) for (const s of sinks) s.removed(m.cause);
  };
  private readonly tracing = {
    start: (message: unknown): void => {
      const ctx = message as LoadContext;
      const cache = ctx.cache as object;
      if (!this.sinks.has(cache)) return;
      let clock = this.clocks.get(cache);
      if (clock === undefined) this.clocks.set(cache, (clock = clockOf(cache)));
      this.started.set(ctx, { at: clock(), clock });
    },
    // A synchronous trace (traceSync) ends here with result or error set; a promise's goes on.
    end: (message: unknown): void => {
      const ctx = message as LoadContext;
      if ('result' in ctx || 'error' in ctx) this.finish(ctx);
    },
    asyncStart: (): void => {},
    asyncEnd: (message: unknown): void => {
      this.finish(message as LoadContext);
    },
    error: (): void => {},
  };

  add(cache: object, sink: Sink): void {
    if (this.sinks.size === 0) {
      dc.subscribe(CHANNELS.remove, this.onRemove);
      loadChannel.subscribe(this.tracing);
    }
    const list = this.sinks.get(cache);
    if (list === undefined) this.sinks.set(cache, [sink]);
    else list.push(sink);
  }

  delete(cache: object, sink: Sink): void {
    const list = this.sinks.get(cache);
    if (list === undefined) return;
    const i = list.indexOf(sink);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.sinks.delete(cache);
    if (this.sinks.size === 0) {
      dc.unsubscribe(CHANNELS.remove, this.onRemove);
      loadChannel.unsubscribe(this.tracing);
    }
  }

  private finish(ctx: LoadContext): void {
    const t = this.started.get(ctx);
    if (t === undefined) return;
    this.started.delete(ctx);
    const sinks = this.sinks.get(ctx.cache as object);
    if (sinks === undefined) return;
    const seconds = Math.max(0, t.clock() - t.at) / 1000;
    const failed = 'error' in ctx;
    for (const s of sinks) s.loaded(seconds, failed);
  }
}

/** The cache's own millisecond clock (so an injected clock drives latency too), else performance.now. */
function clockOf(cache: object): () => number {
  const now = (cache as { _now?: unknown })._now;
  return typeof now === 'function' ? () => (now as () => number).call(cache) : () => performance.now();
}

/** @internal Check an instrumentation's name and label/attribute values. */
export function checkName(where: string, name: unknown): string {
  if (name === undefined) return 'default';
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`cortado: ${where} name must be a non-empty string, got ${typeof name === 'string' ? '""' : typeof name}`);
  }
  return name;
}

/** @internal */
export function checkSource(where: string, source: unknown): StatsSource {
  if (source === null || typeof source !== 'object' || typeof (source as { stats?: unknown }).stats !== 'function') {
    throw new TypeError(`cortado: ${where} needs a Cache (or an object with a stats() method), got ${source === null ? 'null' : typeof source}`);
  }
  return source as StatsSource;
}

/** @internal A finite number read from a source's property, or undefined. */
export function gaugeValue(source: StatsSource, prop: 'size' | 'weight' | 'maxEntries' | 'maxWeight'): number | undefined {
  const v = source[prop];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

// ---- OpenTelemetry ----

const hub = new EventHub();
/** Attribute sets in use per meter: two instrumentations with the same set would overwrite each other's series. */
const inUse = new WeakMap<Meter, Set<string>>();

interface OtelApi {
  metrics: { getMeter(name: string, version?: string): Meter };
}

const GAUGES = [
  ['size', 'size', '{entry}', 'Entries held (expired ones not yet removed included).'],
  ['weight', 'weight', '1', 'Total weight of the entries held (their count when the cache keeps no weights).'],
  ['maxEntries', 'max_entries', '{entry}', 'The bound on entries.'],
  ['maxWeight', 'max_weight', '1', 'The bound on total weight.'],
] as const;

/**
 * Report `cache`'s metrics through OpenTelemetry until `stop()`. See docs/metrics.md for the
 * instrument names; every data point carries `cache.name` plus `options.attributes`.
 */
export function instrumentCache(cache: StatsSource, options: InstrumentOptions = {}): Instrumentation {
  const source = checkSource('instrumentCache()', cache);
  if (options === null || typeof options !== 'object') throw new TypeError('cortado: instrumentCache() options must be an object');
  const name = checkName('instrumentCache()', options.name);
  if (options.attributes !== undefined && (options.attributes === null || typeof options.attributes !== 'object')) {
    throw new TypeError('cortado: instrumentCache() attributes must be an object');
  }
  const meter = options.meter ?? loadPeer<OtelApi>('@opentelemetry/api', 'cortado/otel').metrics.getMeter('cortado');
  const base: Attributes = { ...options.attributes, 'cache.name': name };
  const identity = JSON.stringify(Object.entries(base).sort(([a], [b]) => (a < b ? -1 : 1)));
  let used = inUse.get(meter);
  if (used === undefined) inUse.set(meter, (used = new Set()));
  if (used.has(identity)) {
    throw new Error(`cortado: a cache with attributes ${identity} is already instrumented on this meter: give each cache its own name`);
  }

  const byName = new Map<string, Observable>();
  const observed: [series: Series, instrument: Observable, attributes: Attributes, scale: number][] = [];
  for (const series of statSeries(source)) {
    const { spec, layer } = series;
    const metric = `cortado.cache.${layer === undefined ? '' : 'tier.'}${spec.otel}`;
    let instrument = byName.get(metric);
    if (instrument === undefined) {
      const o = { unit: spec.unit, description: spec.help };
      instrument = spec.gauge === true ? meter.createObservableUpDownCounter(metric, o) : meter.createObservableCounter(metric, o);
      byName.set(metric, instrument);
    }
    let attrs = base;
    if (layer !== undefined) attrs = { ...attrs, 'cache.tier': layer };
    if (spec.split !== undefined) attrs = { ...attrs, [spec.split[0]]: spec.split[1] };
    observed.push([series, instrument, attrs, spec.scale ?? 1]);
  }
  const gauges: [prop: (typeof GAUGES)[number][0], instrument: Observable][] = [];
  for (const [prop, metric, unit, help] of GAUGES) {
    if (gaugeValue(source, prop) === undefined) continue;
    gauges.push([prop, meter.createObservableUpDownCounter(`cortado.cache.${metric}`, { unit, description: help })]);
  }
  const instruments = [...byName.values(), ...gauges.map(([, g]) => g)];
  const callback = (result: BatchObservableResult): void => {
    const stats = source.stats() as Record<string, unknown>;
    for (const [series, instrument, attrs, scale] of observed) {
      const v = series.read(stats);
      if (typeof v === 'number' && Number.isFinite(v)) result.observe(instrument, v * scale, attrs);
    }
    for (const [prop, instrument] of gauges) {
      const v = gaugeValue(source, prop);
      if (v !== undefined) result.observe(instrument, v, base);
    }
  };
  meter.addBatchObservableCallback(callback, instruments);

  const removals: Counter = meter.createCounter('cortado.cache.removals', {
    unit: '{entry}',
    description: 'Entries that left the cache (or values refused), by cause: evicted, expired, replaced, deleted, cleared, rejected.',
  });
  const latency: Histogram = meter.createHistogram('cortado.cache.load.duration', {
    unit: 's',
    description: 'Duration of loader and loadAll calls started by fetch()/fetchAll(), by outcome.',
    advice: { explicitBucketBoundaries: [...LOAD_BUCKETS] },
  });
  const byCause = new Map<string, Attributes>();
  const succeeded: Attributes = { ...base, outcome: 'success' };
  const failed: Attributes = { ...base, outcome: 'failure' };
  const sink: Sink = {
    removed(cause) {
      let attrs = byCause.get(cause);
      if (attrs === undefined) byCause.set(cause, (attrs = { ...base, cause }));
      removals.add(1, attrs);
    },
    loaded(seconds, didFail) {
      latency.record(seconds, didFail ? failed : succeeded);
    },
  };
  hub.add(source, sink);
  used.add(identity);

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      meter.removeBatchObservableCallback(callback, instruments);
      hub.delete(source, sink);
      used.delete(identity);
    },
  };
}
