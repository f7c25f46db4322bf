/**
 * `cortado/prometheus`: a cache's metrics in a prom-client registry, in one call.
 *
 *   const handle = registerCache(cache, { name: 'users' }); // ... handle.stop();
 *
 * The same metrics as cortado/otel (see otel.ts for the reasoning; names in docs/metrics.md), in
 * Prometheus naming: `cortado_cache_hits_total`, `cortado_cache_size`,
 * `cortado_cache_removals_total{cause}`, `cortado_cache_load_duration_seconds{outcome}`, ...
 *
 * Shape. prom-client allows one metric object per name in a registry, and each metric declares
 * its label names up front; so every cache registered with one registry and prefix shares one
 * group of metric objects, and is one set of label values (`cache="<name>"` plus the constant
 * `labels`, whose names must then be the same for all of them). Counters and gauges are filled
 * in prom-client's `collect()` hook from `stats()`, `size` and `weight` at scrape time (nothing
 * per operation); removals by cause and load durations are counted as the channel events
 * arrive (see EventHub in otel.ts). stop() removes the cache's series, and the last stop()
 * removes the metrics from the registry.
 *
 * prom-client is an optional peer: types at compile time, the module itself loaded by require
 * when a cache is first registered (prom-client is CommonJS, so this is the same instance the
 * application gets from `import 'prom-client'`).
 */
import type * as Prom from 'prom-client';
import {
  EventHub,
  LOAD_BUCKETS,
  type FieldSpec,
  type Sink,
  type StatsSource,
  checkName,
  checkSource,
  gaugeValue,
  loadPeer,
  statSeries,
  type Series,
} from './otel.js';

export type { StatsSource } from './otel.js';

export interface RegisterOptions {
  /** The registry to register with. Default: prom-client's global `register`. */
  registry?: Prom.Registry<Prom.RegistryContentType> | undefined;
  /** Prefix of every metric name (default `'cortado_cache_'`). */
  prefix?: string | undefined;
  /** Value of the `cache` label that tells caches apart (default `'default'`). */
  name?: string | undefined;
  /** Constant labels for this cache's series; every cache in one registry and prefix must use the same label names. */
  labels?: Readonly<Record<string, string>> | undefined;
}

/** A registered cache; stop() removes its series (and the metrics, with the last cache). */
export interface Registration {
  stop(): void;
}

type Labels = Record<string, string>;
type PromModule = typeof Prom;

/** Label names this module sets itself (a user label may not take them). */
const RESERVED = new Set(['cache', 'tier', 'cause', 'outcome', 'le', 'quantile']);
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

const GAUGES = [
  ['size', 'size', 'Entries held (expired ones not yet removed included).'],
  ['weight', 'weight', 'Total weight of the entries held (their count when the cache keeps no weights).'],
  ['maxEntries', 'max_entries', 'The bound on entries.'],
  ['maxWeight', 'max_weight', 'The bound on total weight.'],
] as const;

/** One registered cache. */
interface Member {
  source: StatsSource;
  labels: Labels;
  identity: string;
  series: { metric: string; series: Series; labels: Labels; scale: number }[];
  gauges: { metric: string; prop: (typeof GAUGES)[number][0] }[];
  sink: Sink;
  /** The label sets of its removal and latency series, by cause and by outcome. */
  byCause: Map<string, Labels>;
  byOutcome: Map<string, Labels>;
}

/** The metric objects shared by every cache registered with one registry and prefix. */
class Group {
  readonly members = new Set<Member>();
  private readonly metrics = new Map<string, Prom.Metric<string>>();
  readonly removals: Prom.Counter<string>;
  readonly latency: Prom.Histogram<string>;

  constructor(
    private readonly prom: PromModule,
    private readonly registry: Prom.Registry<Prom.RegistryContentType>,
    readonly prefix: string,
    readonly labelNames: readonly string[],
  ) {
    try {
      this.removals = this.add(
        new prom.Counter({
          name: `${prefix}removals_total`,
          help: 'Entries that left the cache (or values refused), by cause: evicted, expired, replaced, deleted, cleared, rejected.',
          labelNames: [...labelNames, 'cause'],
          registers: [],
        }),
      );
      this.latency = this.add(
        new prom.Histogram({
          name: `${prefix}load_duration_seconds`,
          help: 'Duration of loader and loadAll calls started by fetch()/fetchAll(), by outcome.',
          labelNames: [...labelNames, 'outcome'],
          buckets: [...LOAD_BUCKETS],
          registers: [],
        }),
      );
    } catch (e) {
      this.unregister(); // e.g. a metric of that name registered by someone else: leave nothing behind
      throw e;
    }
  }

  private add<M extends Prom.Metric<string>>(metric: M): M {
    const name = (metric as unknown as { name: string }).name;
    this.registry.registerMetric(metric);
    this.metrics.set(name, metric);
    return metric;
  }

  /**
   * The metric fed by a stats() series (a counter, or a gauge for a level such as
   * inFlightBytes), created on first use; per-layer series get `tier_` and a `tier` label.
   */
  statMetric(spec: FieldSpec, layered: boolean): string {
    const name = `${this.prefix}${layered ? 'tier_' : ''}${spec.prom}${spec.gauge === true ? '' : '_total'}`;
    if (this.metrics.has(name)) return name;
    const group = this;
    const labelNames = [...this.labelNames];
    if (layered) labelNames.push('tier');
    if (spec.split !== undefined) labelNames.push(spec.split[0]);
    /** Each member's values of this metric, from one stats() snapshot per member. */
    const each = (record: (labels: Labels, value: number) => void): void => {
      for (const m of group.members) {
        let stats: Record<string, unknown> | undefined;
        for (const c of m.series) {
          if (c.metric !== name) continue;
          stats ??= m.source.stats() as Record<string, unknown>;
          const v = c.series.read(stats);
          if (typeof v === 'number' && Number.isFinite(v)) record(c.labels, v * c.scale);
        }
      }
    };
    const config = { name, help: spec.help, labelNames, registers: [] };
    this.add(
      spec.gauge === true
        ? new this.prom.Gauge({
            ...config,
            collect(this: Prom.Gauge<string>) {
              this.reset();
              each((labels, v) => this.set(labels, v));
            },
          })
        : new this.prom.Counter({
            ...config,
            collect(this: Prom.Counter<string>) {
              this.reset();
              each((labels, v) => {
                if (v >= 0) this.inc(labels, v);
              });
            },
          }),
    );
    return name;
  }

  gauge(prop: (typeof GAUGES)[number][0], suffix: string, help: string): string {
    const name = `${this.prefix}${suffix}`;
    if (this.metrics.has(name)) return name;
    const group = this;
    this.add(
      new this.prom.Gauge({
        name,
        help,
        labelNames: [...this.labelNames],
        registers: [],
        collect(this: Prom.Gauge<string>) {
          this.reset();
          for (const m of group.members) {
            if (!m.gauges.some((g) => g.metric === name)) continue;
            const v = gaugeValue(m.source, prop);
            if (v !== undefined) this.set(m.labels, v);
          }
        },
      }),
    );
    return name;
  }

  /** Remove everything this group registered. */
  unregister(): void {
    for (const name of this.metrics.keys()) {
      if (this.registry.getSingleMetric(name) === this.metrics.get(name)) this.registry.removeSingleMetric(name);
    }
    this.metrics.clear();
  }
}

const hub = new EventHub();
const groups = new WeakMap<Prom.Registry<Prom.RegistryContentType>, Map<string, Group>>();

function checkLabels(labels: unknown): Labels {
  if (labels === undefined) return {};
  if (labels === null || typeof labels !== 'object') throw new TypeError('cortado: registerCache() labels must be an object of strings');
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_NAME.test(k) || k.startsWith('__')) throw new TypeError(`cortado: registerCache() label name ${JSON.stringify(k)} is not a Prometheus label name`);
    if (RESERVED.has(k)) throw new TypeError(`cortado: registerCache() label ${JSON.stringify(k)} is set by cortado itself; use name for the cache label`);
    if (typeof v !== 'string') throw new TypeError(`cortado: registerCache() label ${JSON.stringify(k)} must be a string`);
    out[k] = v;
  }
  return out;
}

/**
 * Export `cache`'s metrics through a prom-client registry until `stop()`. See docs/metrics.md
 * for the names; every series carries `cache="<name>"` plus `options.labels`.
 */
export function registerCache(cache: StatsSource, options: RegisterOptions = {}): Registration {
  const source = checkSource('registerCache()', cache);
  if (options === null || typeof options !== 'object') throw new TypeError('cortado: registerCache() options must be an object');
  const name = checkName('registerCache()', options.name);
  const prefix = options.prefix ?? 'cortado_cache_';
  if (typeof prefix !== 'string' || !METRIC_PREFIX.test(prefix)) {
    throw new TypeError(`cortado: registerCache() prefix must match [a-zA-Z_:][a-zA-Z0-9_:]*, got ${JSON.stringify(prefix)}`);
  }
  const userLabels = checkLabels(options.labels);
  const prom = loadPeer<PromModule>('prom-client', 'cortado/prometheus');
  const registry = options.registry ?? prom.register;
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function') {
    throw new TypeError('cortado: registerCache() registry must be a prom-client Registry');
  }

  const labels: Labels = { cache: name, ...userLabels };
  const labelNames = ['cache', ...Object.keys(userLabels).sort()];
  let byPrefix = groups.get(registry);
  if (byPrefix === undefined) groups.set(registry, (byPrefix = new Map()));
  let group = byPrefix.get(prefix);
  const created = group === undefined;
  if (group === undefined) {
    group = new Group(prom, registry, prefix, labelNames);
  } else if (group.labelNames.join() !== labelNames.join()) {
    throw new TypeError(
      `cortado: registerCache() labels must have the same names as the caches already registered with this registry and prefix (${group.labelNames
        .slice(1)
        .join(', ') || 'none'}), got ${labelNames.slice(1).join(', ') || 'none'}`,
    );
  }
  const identity = JSON.stringify(labelNames.map((l) => labels[l]));
  for (const m of group.members) {
    if (m.identity === identity) {
      throw new Error(`cortado: a cache with labels ${JSON.stringify(labels)} is already registered with this registry: give each cache its own name`);
    }
  }

  const g = group;
  let member: Member;
  try {
    member = newMember(g, source, labels, identity);
  } catch (e) {
    if (created) g.unregister(); // nothing half-registered
    throw e;
  }
  group.members.add(member);
  if (created) byPrefix.set(prefix, group);
  hub.add(source, member.sink);

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      hub.delete(source, member.sink);
      g.members.delete(member);
      for (const l of member.byCause.values()) g.removals.remove(l);
      for (const l of member.byOutcome.values()) g.latency.remove(l);
      if (g.members.size === 0) {
        g.unregister();
        byPrefix.delete(prefix);
      }
    },
  };
}

function newMember(g: Group, source: StatsSource, labels: Labels, identity: string): Member {
  // Label sets per cause and outcome, made once: an event allocates nothing once each was seen.
  const byCause = new Map<string, Labels>();
  const byOutcome = new Map<string, Labels>();
  const member: Member = {
    source,
    labels,
    identity,
    series: statSeries(source).map((series) => {
      let l = labels;
      if (series.layer !== undefined) l = { ...l, tier: series.layer };
      if (series.spec.split !== undefined) l = { ...l, [series.spec.split[0]]: series.spec.split[1] };
      return { metric: g.statMetric(series.spec, series.layer !== undefined), series, labels: l, scale: series.spec.scale ?? 1 };
    }),
    gauges: GAUGES.filter(([prop]) => gaugeValue(source, prop) !== undefined).map(([prop, suffix, help]) => ({ metric: g.gauge(prop, suffix, help), prop })),
    byCause,
    byOutcome,
    sink: {
      removed(cause) {
        let l = byCause.get(cause);
        if (l === undefined) byCause.set(cause, (l = { ...labels, cause }));
        g.removals.inc(l);
      },
      loaded(seconds, failed) {
        const outcome = failed ? 'failure' : 'success';
        let l = byOutcome.get(outcome);
        if (l === undefined) byOutcome.set(outcome, (l = { ...labels, outcome }));
        g.latency.observe(l, seconds);
      },
    },
  };
  return member;
}
