/**
 * The loading layer behind Cache.fetch() / fetchAll(): single-flight loads, stale serving,
 * refresh-ahead, timeouts and batch loads.
 *
 * Single flight. A table maps each key to at most one Flight: the load the cache is waiting
 * on for that key. Callers do not share one promise: each caller is a Waiter with its own
 * promise and its own AbortSignal, so one caller giving up rejects only that caller (Go's
 * singleflight shares a result the same way, but cannot let one caller leave). A Load is
 * one call of the user's loader (one key) or loadAll (a batch of keys, one Flight each); its
 * AbortController fires only when no Flight of it is still wanted, when it times out, or
 * when writes superseded all of them.
 *
 * Writes win. The cache tells this module about every set(), delete() and clear(). A set()
 * that stores a value while its key is loading removes the Flight from the table (its result
 * will never be stored) and hands the written value to the waiting callers; a delete()
 * removes it too and starts a fresh load for the callers still waiting, so that nothing
 * loaded before an invalidation is ever served after it. Only a Flight still in the table
 * may store its result. This is the "generation check at commit" of Caffeine's refresh
 * (a refresh is discarded when the entry was modified meanwhile), applied to every load.
 *
 * Staleness. RFC 5861 defines stale-while-revalidate and stale-if-error for HTTP caches;
 * here they are windows after an entry's expiry. The store keeps an expired entry (invisible
 * to get/peek/has/iteration) for max(staleWhileRevalidate, staleIfError) ms so fetch() can
 * serve it. refreshAfter is Caffeine's refreshAfterWrite: past it, an access reloads in the
 * background while the current value stays served.
 *
 * Cost. The cache creates the Loads object on its first fetch; a cache that never fetches
 * pays one null check per write and nothing on a read hit.
 */
import { AbortError, LoaderMissingError, LoadInvalidatedError, MissingKeyError, ReentrancyError, TimeoutError } from './errors.js';
import { loadChannel } from './metrics/channels.js';
import {
  type BatchLoader,
  type CacheOptions,
  type FetchAllOptions,
  type FetchOptions,
  type Loader,
  type SetOptions,
  checkDuration,
  checkFunction,
  checkTimerDuration,
  checkWeight,
  describe,
  MAX_EXACT,
} from './options.js';

/**
 * Loads of one key invalidated in a row (each by a delete() or clear() while it ran) before
 * the callers are told with a LoadInvalidatedError: a loader that deletes its own key would
 * otherwise restart itself forever. Ten is far more than a key honestly churned by other
 * writers needs, and bounds a synchronous restart chain to a shallow stack.
 */
export const MAX_INVALIDATIONS = 10;

/** The loading options of a cache, validated. Durations in ms; 0 means off. */
export interface LoadConfig<K, V> {
  readonly loader: Loader<K, V> | undefined;
  readonly loadAll: BatchLoader<K, V> | undefined;
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
  readonly refreshAfter: number;
  readonly loadTimeout: number;
}

const NO_LOADING: LoadConfig<unknown, unknown> = Object.freeze({
  loader: undefined,
  loadAll: undefined,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  refreshAfter: 0,
  loadTimeout: 0,
});

/** A stale window: a finite number of ms >= 0 (the store must know when to drop the entry). */
function checkWindow(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_EXACT) {
    throw new RangeError(`cortado: ${name} must be a finite number of milliseconds >= 0 and up to 2^53 - 1, got ${describe(v)}`);
  }
  return v;
}

/** Validate the loading options of a cache; null when none is given (the common case). */
export function readLoadOptions<K, V>(o: CacheOptions<K, V>): LoadConfig<K, V> | null {
  if (
    o.loader === undefined &&
    o.loadAll === undefined &&
    o.staleWhileRevalidate === undefined &&
    o.staleIfError === undefined &&
    o.refreshAfter === undefined &&
    o.loadTimeout === undefined
  ) {
    return null;
  }
  checkFunction('loader', o.loader);
  checkFunction('loadAll', o.loadAll);
  return {
    loader: o.loader,
    loadAll: o.loadAll,
    staleWhileRevalidate: o.staleWhileRevalidate === undefined ? 0 : checkWindow('staleWhileRevalidate', o.staleWhileRevalidate),
    staleIfError: o.staleIfError === undefined ? 0 : checkWindow('staleIfError', o.staleIfError),
    refreshAfter: o.refreshAfter === undefined ? 0 : checkDuration('refreshAfter', o.refreshAfter),
    loadTimeout: o.loadTimeout === undefined ? 0 : checkTimerDuration('loadTimeout', o.loadTimeout),
  };
}

/**
 * What the loading layer needs from the store (implemented by Cache as internal methods).
 * Slots are valid only until the next write.
 */
export interface LoadHost<K, V> {
  readonly _weighted: boolean;
  _now(): number;
  /** The slot holding `key` (fresh, stale or expired), or -1. */
  _slotOf(key: K): number;
  _valueAt(slot: number): V;
  /** The entry's expiry deadline; Infinity when it has none. */
  _freshUntil(slot: number): number;
  /** When the entry was last written (kept only when refreshAfter is on). */
  _writtenAt(slot: number): number;
  /** Count a hit: tell the policy, and push back idle expiry when `fresh`. */
  _hit(slot: number, fresh: boolean): void;
  _miss(key: K): void;
  /** True when a value needs a weight given by the caller (maxWeight and no weigher). */
  readonly _needsWeight: boolean;
  /** Run a write for a load: listener errors do not change its outcome (they are rethrown later). */
  _quietly<R>(op: () => R): R;
  /** Remove an entry that is past its stale window. */
  _expire(slot: number): void;
  set(key: K, value: V, options?: SetOptions): boolean;
  delete(key: K): boolean;
}

// What classify() found for a key.
/** A fresh value: serve it. */
const FRESH = 0;
/** Serve the value found, and reload in the background (stale-while-revalidate, refreshAfter). */
const SERVE_AND_REFRESH = 1;
/** Nothing servable: wait for a load. */
const LOAD = 2;

/** One call of a loader or loadAll. */
class Load<K, V> {
  readonly controller = new AbortController();
  readonly flights: Flight<K, V>[] = [];
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Settled or timed out, and counted in the stats; any later outcome is ignored. */
  done = false;
  /** True while the loader/loadAll call itself runs (its synchronous part). */
  running = false;
  constructor(readonly startedAt: number) {}
}

/** The cache waiting on a load for one key. */
class Flight<K, V> {
  waiters: Waiter<K, V>[] = [];
  /** In the table: the only state in which the load's result may be stored. */
  inTable = true;
  constructor(
    readonly key: K,
    readonly load: Load<K, V>,
    /** Started by the cache itself (refresh): keeps going when its callers leave. */
    readonly background: boolean,
    readonly loader: Loader<K, V> | undefined,
    readonly loadAll: BatchLoader<K, V> | undefined,
    readonly ttl: number | undefined,
    readonly weight: number | undefined,
    /** Loads of this key invalidated in a row before this one. */
    readonly invalidations: number = 0,
  ) {}
}

/** One caller of fetch()/fetchAll() waiting on a Flight; listens to its own signal. */
class Waiter<K, V> {
  constructor(
    public flight: Flight<K, V>,
    readonly resolve: (v: V) => void,
    readonly reject: (e: unknown) => void,
    readonly signal: AbortSignal | undefined,
    private readonly owner: Loads<K, V>,
    /** The fetchAll() call this waiter belongs to: its one listener on the signal serves all. */
    readonly group: WaiterGroup<K, V> | null = null,
  ) {}
  /** The caller's signal fired (EventListener object: no closure per waiter). */
  handleEvent(): void {
    this.owner.leave(this);
  }
}

/**
 * The waiters of one fetchAll() that share a signal. One listener for the whole call, not
 * one per key: a fetchAll of many keys would otherwise trip MaxListenersExceededWarning.
 */
class WaiterGroup<K, V> {
  readonly waiters: Waiter<K, V>[] = [];
  constructor(
    readonly signal: AbortSignal,
    private readonly owner: Loads<K, V>,
  ) {}
  handleEvent(): void {
    for (const w of this.waiters) this.owner.leave(w);
    this.waiters.length = 0;
  }
  /** The call settled: stop listening. */
  done(): void {
    this.signal.removeEventListener('abort', this);
  }
}

function selfFetch(key: unknown): ReentrancyError {
  return new ReentrancyError(`cortado: the loader of ${describe(key)} fetched its own key; it would wait for itself forever`);
}

function abortedBy(signal: AbortSignal): AbortError {
  return new AbortError("cortado: fetch() aborted by the caller's signal", { cause: signal.reason });
}

function checkSignal(name: string, v: unknown): AbortSignal | undefined {
  if (v !== undefined && !(v instanceof AbortSignal)) {
    throw new TypeError(`cortado: ${name} signal must be an AbortSignal, got ${describe(v)}`);
  }
  return v;
}

function checkBoolean(name: string, v: unknown): boolean {
  if (v !== undefined && typeof v !== 'boolean') {
    throw new TypeError(`cortado: ${name} must be a boolean, got ${describe(v)}`);
  }
  return v === true;
}

export class Loads<K, V> {
  private readonly table = new Map<K, Flight<K, V>>();
  private readonly cfg: LoadConfig<K, V>;
  /** Extra life of an expired entry, for stale serving. */
  private readonly retain: number;
  /** What classify() found (no allocation for a result pair). */
  private found: V | undefined = undefined;
  successes = 0;
  failures = 0;
  loadTime = 0;

  constructor(
    private readonly host: LoadHost<K, V>,
    cfg: LoadConfig<K, V> | null,
  ) {
    this.cfg = cfg ?? (NO_LOADING as LoadConfig<K, V>);
    this.retain = Math.max(this.cfg.staleWhileRevalidate, this.cfg.staleIfError);
  }

  /** Loads the cache is waiting on. */
  get inflight(): number {
    return this.table.size;
  }

  // ===================================================================================
  // fetch
  // ===================================================================================

  fetch(key: K, options: FetchOptions<K, V> | undefined): Promise<V> {
    try {
      return this.fetchOne(key, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private fetchOne(key: K, options: FetchOptions<K, V> | undefined): Promise<V> {
    let loader = this.cfg.loader;
    let signal: AbortSignal | undefined;
    let ttl: number | undefined;
    let weight: number | undefined;
    let force = false;
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') {
        throw new TypeError(`cortado: fetch() options must be an object, got ${describe(options)}`);
      }
      checkFunction('loader', options.loader);
      if (options.loader !== undefined) loader = options.loader;
      signal = checkSignal('fetch()', options.signal);
      ttl = this.readTtl(options.ttl);
      if (options.weight !== undefined) {
        checkWeight('weight', options.weight);
        if (!this.host._weighted) {
          throw new TypeError('cortado: weight was given but the cache has neither maxWeight nor weigher, so weights would be ignored');
        }
        weight = options.weight;
      }
      force = checkBoolean('forceRefresh', options.forceRefresh);
    }
    if (loader === undefined) {
      throw new LoaderMissingError('cortado: fetch() needs a loader: give the cache a loader option or pass { loader } to fetch()');
    }
    if (weight === undefined && this.host._needsWeight) {
      // Checked before loading: the loaded value could not be stored anyway.
      throw new TypeError('cortado: this cache has maxWeight but no weigher; pass { weight } to fetch() or give a weigher option');
    }
    if (signal !== undefined && signal.aborted) throw abortedBy(signal);

    const kind = this.classify(key, force);
    const value = this.found;
    this.found = undefined;
    if (kind === FRESH) return Promise.resolve(value as V);
    if (kind === SERVE_AND_REFRESH) {
      if (!this.table.has(key)) this.callOne(this.open(key, loader, ttl, weight, true), value);
      return Promise.resolve(value as V);
    }
    const joined = this.table.get(key);
    if (joined !== undefined) {
      if (joined.load.running) throw selfFetch(key);
      return this.wait(joined, signal);
    }
    const f = this.open(key, loader, ttl, weight, false);
    const p = this.wait(f, signal);
    this.callOne(f, value);
    return p;
  }

  // ===================================================================================
  // fetchAll
  // ===================================================================================

  fetchAll(keys: Iterable<K>, options: FetchAllOptions<K, V> | undefined): Promise<Map<K, V>> {
    try {
      return this.fetchMany(keys, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private fetchMany(keys: Iterable<K>, options: FetchAllOptions<K, V> | undefined): Promise<Map<K, V>> {
    if (keys === null || typeof keys !== 'object' || typeof (keys as Iterable<K>)[Symbol.iterator] !== 'function') {
      throw new TypeError(`cortado: fetchAll() takes an iterable of keys, got ${describe(keys)}`);
    }
    let loadAll = this.cfg.loadAll;
    let loader = this.cfg.loader;
    let signal: AbortSignal | undefined;
    let ttl: number | undefined;
    let force = false;
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') {
        throw new TypeError(`cortado: fetchAll() options must be an object, got ${describe(options)}`);
      }
      checkFunction('loadAll', options.loadAll);
      checkFunction('loader', options.loader);
      // The most specific loader wins: this call's batch loader, then its per-key loader.
      if (options.loadAll !== undefined) loadAll = options.loadAll;
      else if (options.loader !== undefined) loadAll = undefined;
      if (options.loader !== undefined) loader = options.loader;
      signal = checkSignal('fetchAll()', options.signal);
      ttl = this.readTtl(options.ttl);
      force = checkBoolean('forceRefresh', options.forceRefresh);
    }
    if (loadAll === undefined && loader === undefined) {
      throw new LoaderMissingError('cortado: fetchAll() needs a loadAll or a loader: give the cache one or pass it to fetchAll()');
    }
    if (this.host._needsWeight) {
      throw new TypeError('cortado: this cache has maxWeight but no weigher, and fetchAll() takes no weight: give the cache a weigher option');
    }
    if (signal !== undefined && signal.aborted) throw abortedBy(signal);
    const group = signal === undefined ? null : new WaiterGroup<K, V>(signal, this);

    const uniq = [...new Set(keys)];
    const out: (V | Promise<V>)[] = new Array<V | Promise<V>>(uniq.length);
    // Keys to load, in the order asked: missing ones (callers wait) and due refreshes (served now).
    const toLoad: K[] = [];
    const stale: (V | undefined)[] = [];
    const slot: number[] = []; // index into `out` of a foreground key, -1 for a refresh
    for (let i = 0; i < uniq.length; i++) {
      const key = uniq[i] as K;
      const kind = this.classify(key, force);
      const value = this.found;
      this.found = undefined;
      if (kind === LOAD) {
        const joined = this.table.get(key);
        if (joined !== undefined) {
          if (joined.load.running) throw selfFetch(key);
          out[i] = this.wait(joined, signal, group);
        }
        else {
          toLoad.push(key);
          stale.push(value);
          slot.push(i);
        }
        continue;
      }
      out[i] = value as V;
      if (kind === SERVE_AND_REFRESH && !this.table.has(key)) {
        toLoad.push(key);
        stale.push(value);
        slot.push(-1);
      }
    }
    if (toLoad.length > 0) {
      const load = loadAll !== undefined ? new Load<K, V>(this.host._now()) : null;
      for (let j = 0; j < toLoad.length; j++) {
        const key = toLoad[j] as K;
        const at = slot[j]!;
        // An onRemove listener run by a lookup above may have started a load of this key.
        const joined = this.table.get(key);
        if (joined !== undefined) {
          if (at >= 0) out[at] = this.wait(joined, signal, group);
          continue;
        }
        const f =
          load !== null
            ? this.adopt(new Flight(key, load, at < 0, undefined, loadAll, ttl, undefined))
            : this.open(key, loader!, ttl, undefined, at < 0);
        if (at >= 0) out[at] = this.wait(f, signal, group);
        if (load === null) this.callOne(f, stale[j]);
      }
      if (load !== null && load.flights.length > 0) this.callBatch(load);
    }
    if (group !== null) signal!.addEventListener('abort', group, { once: true });
    const all = Promise.all(out);
    if (group !== null) all.then(() => group.done(), () => group.done());
    return all.then((values) => {
      const m = new Map<K, V>();
      for (let i = 0; i < uniq.length; i++) m.set(uniq[i] as K, values[i] as V);
      return m;
    });
  }

  // ===================================================================================
  // Hooks: the cache calls these on writes (only once this object exists)
  // ===================================================================================

  /** set()/setIfPresent() stored `value` under `key`: it wins over a load under way. */
  written(key: K, value: V): void {
    const f = this.table.get(key);
    if (f === undefined) return;
    this.drop(f, new AbortError('cortado: load superseded: set() wrote the key while it was loading'));
    this.resolveAll(f, value);
  }

  /** delete() of `key`: a load under way is stale; callers still waiting get a new one. */
  deleted(key: K): void {
    const f = this.table.get(key);
    if (f === undefined) return;
    this.invalidate(f);
  }

  /** clear(): every load under way is invalidated as by delete(). */
  cleared(): void {
    if (this.table.size === 0) return;
    for (const f of [...this.table.values()]) {
      if (f.inTable) this.invalidate(f);
    }
  }

  /** A waiter's own signal fired: reject it alone; abort the load once nobody wants it. */
  leave(w: Waiter<K, V>): void {
    const f = w.flight;
    const i = f.waiters.indexOf(w);
    if (i < 0) return;
    f.waiters.splice(i, 1);
    w.reject(abortedBy(w.signal!));
    if (f.waiters.length === 0 && !f.background && f.inTable) {
      this.drop(f, new AbortError('cortado: load aborted: every caller waiting on it gave up'));
    }
  }

  /** Check the table's invariants; throw on the first broken one (tests only). */
  validate(): void {
    for (const [key, f] of this.table) {
      if (!f.inTable || f.key !== key) throw new Error(`loading: table entry for ${describe(key)} holds a detached or foreign flight`);
      if (f.load.done) throw new Error(`loading: flight of ${describe(key)} is in the table after its load finished`);
      if (!f.background && f.waiters.length === 0) throw new Error(`loading: flight of ${describe(key)} has nobody waiting`);
      if (f.load.controller.signal.aborted) throw new Error(`loading: flight of ${describe(key)} is wanted but its load was aborted`);
      if ((this.cfg.loadTimeout > 0) !== (f.load.timer !== undefined)) throw new Error(`loading: flight of ${describe(key)} has timer ${f.load.timer !== undefined} with loadTimeout ${this.cfg.loadTimeout}`);
      for (const w of f.waiters) {
        if (w.flight !== f) throw new Error(`loading: a waiter of ${describe(key)} points at another flight`);
      }
    }
  }

  // ===================================================================================
  // Internals
  // ===================================================================================

  private readTtl(ttl: unknown): number | undefined {
    if (ttl === undefined) return undefined;
    checkDuration('ttl', ttl);
    return ttl as number;
  }

  /**
   * Look `key` up for a fetch, count the hit or miss, and say what to do. Sets `found` to the
   * value to serve (FRESH, SERVE_AND_REFRESH) or to hand the loader as staleValue (LOAD).
   */
  private classify(key: K, force: boolean): number {
    const h = this.host;
    const slot = h._slotOf(key);
    if (slot < 0) {
      h._miss(key);
      this.found = undefined;
      return LOAD;
    }
    const now = h._now();
    const until = h._freshUntil(slot);
    const value = h._valueAt(slot);
    if (now < until) {
      this.found = value;
      if (force) {
        h._miss(key);
        return LOAD;
      }
      h._hit(slot, true);
      const every = this.cfg.refreshAfter;
      return every > 0 && now - h._writtenAt(slot) >= every ? SERVE_AND_REFRESH : FRESH;
    }
    const age = now - until;
    if (age < this.cfg.staleWhileRevalidate && !force) {
      h._hit(slot, false);
      this.found = value;
      return SERVE_AND_REFRESH;
    }
    h._miss(key);
    if (age < this.retain) {
      this.found = value;
    } else {
      h._expire(slot);
      this.found = undefined;
    }
    return LOAD;
  }

  /** A one-key flight in the table (its loader not yet called). */
  private open(key: K, loader: Loader<K, V>, ttl: number | undefined, weight: number | undefined, background: boolean): Flight<K, V> {
    return this.adopt(new Flight(key, new Load<K, V>(this.host._now()), background, loader, undefined, ttl, weight));
  }

  private adopt(f: Flight<K, V>): Flight<K, V> {
    f.load.flights.push(f);
    this.table.set(f.key, f);
    return f;
  }

  private wait(f: Flight<K, V>, signal: AbortSignal | undefined, group: WaiterGroup<K, V> | null = null): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const w = new Waiter(f, resolve, reject, signal, this, group);
      f.waiters.push(w);
      if (group !== null) group.waiters.push(w);
      else if (signal !== undefined) signal.addEventListener('abort', w, { once: true });
    });
  }

  private callOne(f: Flight<K, V>, staleValue: V | undefined): void {
    const load = f.load;
    this.arm(load);
    let r: Promise<V> | V;
    const traced: Record<string, unknown> | null = loadChannel.hasSubscribers ? { cache: this.host, key: f.key } : null;
    if (traced !== null) loadChannel.start.publish(traced);
    load.running = true;
    try {
      r = f.loader!(f.key, { signal: load.controller.signal, staleValue });
    } catch (e) {
      r = Promise.reject(e);
    } finally {
      load.running = false;
    }
    if (traced !== null) r = this.trace(traced, r);
    Promise.resolve(r).then(
      (v) => this.settleOne(load, v),
      (e: unknown) => this.fail(load, e),
    );
  }

  private callBatch(load: Load<K, V>): void {
    this.arm(load);
    const keys = load.flights.map((f) => f.key);
    let r: Promise<Map<K, V>> | Map<K, V>;
    const traced: Record<string, unknown> | null = loadChannel.hasSubscribers ? { cache: this.host, keys } : null;
    if (traced !== null) loadChannel.start.publish(traced);
    load.running = true;
    try {
      r = load.flights[0]!.loadAll!(keys, { signal: load.controller.signal });
    } catch (e) {
      r = Promise.reject(e);
    } finally {
      load.running = false;
    }
    if (traced !== null) r = this.trace(traced, r);
    Promise.resolve(r).then(
      (m) => this.settleBatch(load, m),
      (e: unknown) => this.fail(load, e),
    );
  }

  /**
   * Publish the end of a traced load on the `cortado:load` TracingChannel: `end` for the
   * synchronous part, then `asyncStart`/`asyncEnd` (with `result`) or `error` when it settles.
   */
  private trace<R>(ctx: Record<string, unknown>, r: Promise<R> | R): Promise<R> {
    loadChannel.end.publish(ctx);
    return Promise.resolve(r).then(
      (v) => {
        ctx.result = v;
        loadChannel.asyncStart.publish(ctx);
        loadChannel.asyncEnd.publish(ctx);
        return v;
      },
      (e: unknown) => {
        ctx.error = e;
        loadChannel.error.publish(ctx);
        loadChannel.asyncStart.publish(ctx);
        loadChannel.asyncEnd.publish(ctx);
        throw e;
      },
    );
  }

  /** Start the load timeout; the timer never keeps the process alive. */
  private arm(load: Load<K, V>): void {
    const ms = this.cfg.loadTimeout;
    if (ms <= 0) return;
    const t = setTimeout(this.onTimeout, ms, load);
    if (typeof t === 'object' && typeof t.unref === 'function') t.unref();
    load.timer = t;
  }

  private readonly onTimeout = (load: Load<K, V>): void => {
    load.timer = undefined;
    if (!this.count(load)) return;
    this.failures++;
    const ms = this.cfg.loadTimeout;
    const err = new TimeoutError(`cortado: load timed out after ${ms} ms (loadTimeout)`, ms);
    load.controller.abort(err);
    for (const f of load.flights) if (f.inTable) this.failFlight(f, err);
  };

  /** Mark the load finished and add its time; false when it already was. */
  private count(load: Load<K, V>): boolean {
    if (load.done) return false;
    load.done = true;
    if (load.timer !== undefined) {
      clearTimeout(load.timer);
      load.timer = undefined;
    }
    this.loadTime += this.host._now() - load.startedAt;
    return true;
  }

  private settleOne(load: Load<K, V>, v: V): void {
    if (!this.count(load)) return;
    this.successes++;
    const f = load.flights[0]!;
    if (f.inTable) this.store(f, v);
  }

  private settleBatch(load: Load<K, V>, m: Map<K, V>): void {
    if (!this.count(load)) return;
    if (!(m instanceof Map)) {
      this.failures++;
      const err = new TypeError(`cortado: loadAll must resolve a Map, got ${describe(m)}`);
      for (const f of load.flights) if (f.inTable) this.failFlight(f, err);
      return;
    }
    this.successes++;
    for (const f of load.flights) {
      if (!f.inTable) continue;
      if (m.has(f.key)) this.store(f, m.get(f.key) as V);
      else {
        const err = new MissingKeyError(`cortado: loadAll resolved no entry for key ${describe(f.key)} (map it to undefined to mean "no value")`, f.key);
        this.failFlight(f, err);
      }
    }
  }

  private fail(load: Load<K, V>, e: unknown): void {
    if (!this.count(load)) return;
    this.failures++;
    for (const f of load.flights) if (f.inTable) this.failFlight(f, e);
  }

  /** The load delivered `v` for a flight still in the table: store it, then answer the callers. */
  private store(f: Flight<K, V>, v: V): void {
    this.detach(f);
    try {
      const h = this.host;
      if (v === undefined) h._quietly(() => h.delete(f.key));
      else if (f.ttl === undefined && f.weight === undefined) h._quietly(() => h.set(f.key, v));
      else {
        const o: SetOptions = {};
        if (f.ttl !== undefined) o.ttl = f.ttl;
        if (f.weight !== undefined) o.weight = f.weight;
        h._quietly(() => h.set(f.key, v, o));
      }
    } catch (e) {
      this.rejectAll(f, e);
      return;
    }
    this.resolveAll(f, v);
  }

  /** The load failed for `f`: serve the cached value within staleIfError, else the error. */
  private failFlight(f: Flight<K, V>, e: unknown): void {
    this.detach(f);
    if (f.waiters.length === 0) return;
    const window = this.cfg.staleIfError;
    if (window > 0) {
      const h = this.host;
      const slot = h._slotOf(f.key);
      if (slot >= 0 && h._now() < h._freshUntil(slot) + window) {
        this.resolveAll(f, h._valueAt(slot));
        return;
      }
    }
    this.rejectAll(f, e);
  }

  private detach(f: Flight<K, V>): void {
    f.inTable = false;
    if (this.table.get(f.key) === f) this.table.delete(f.key);
  }

  /** Take `f` out of the table; abort its load when no flight of it is left. */
  private drop(f: Flight<K, V>, reason: unknown): void {
    this.detach(f);
    const load = f.load;
    if (load.done) return;
    for (const g of load.flights) if (g.inTable) return;
    if (load.timer !== undefined) {
      clearTimeout(load.timer);
      load.timer = undefined;
    }
    load.controller.abort(reason);
  }

  /** The key was deleted under a load: drop it, and reload for the callers still waiting. */
  private invalidate(f: Flight<K, V>): void {
    this.drop(f, new AbortError('cortado: load invalidated: the key was deleted while it was loading'));
    if (f.waiters.length === 0) return;
    const n = f.invalidations + 1;
    if (n >= MAX_INVALIDATIONS) {
      this.rejectAll(f, new LoadInvalidatedError(`cortado: gave up loading ${describe(f.key)}: the key was deleted during each of ${n} loads in a row (does the loader delete its own key?)`, n));
      return;
    }
    const g = this.adopt(new Flight(f.key, new Load<K, V>(this.host._now()), f.background, f.loader, f.loadAll, f.ttl, f.weight, n));
    g.waiters = f.waiters;
    f.waiters = [];
    for (const w of g.waiters) w.flight = g;
    if (g.loader !== undefined) this.callOne(g, undefined);
    else this.callBatch(g.load);
  }

  private resolveAll(f: Flight<K, V>, v: V): void {
    const ws = f.waiters;
    f.waiters = [];
    for (const w of ws) {
      if (w.signal !== undefined && w.group === null) w.signal.removeEventListener('abort', w);
      w.resolve(v);
    }
  }

  private rejectAll(f: Flight<K, V>, e: unknown): void {
    const ws = f.waiters;
    f.waiters = [];
    for (const w of ws) {
      if (w.signal !== undefined && w.group === null) w.signal.removeEventListener('abort', w);
      w.reject(e);
    }
  }
}
