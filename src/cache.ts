/**
 * Cache: the public facade. It coordinates the parts and owns what is about time and users:
 * options and their validation, the public API, expiry, the callback rule, stats.
 *
 * Store (store.ts). Entries live in slots of a SlotStore: a key index (number keys in an
 * open-addressing table, the others in a Map) from key to slot, and arrays
 * indexed by slot for keys, values, weights and hashes, with a free list; once the cache is
 * full, get/set allocate nothing. The store is also the policy's host (PolicyHost).
 *
 * Policy (policies/). The store never decides which entry leaves: a Policy does, over slot
 * numbers. New entries make room *before* they are inserted, which is what the SIEVE and
 * S3-FIFO papers (and libCacheSim) do; it matters for SIEVE, whose hand could otherwise evict
 * the newcomer.
 *
 * Expiry (here, with internal/timer-wheel.ts). Deadlines are per-slot arrays kept beside the
 * store; they are checked exactly on every read, and a hierarchical timer wheel removes
 * expired entries that nobody reads, as writes go by and on purgeExpired(). No timer is ever
 * created, so the cache never keeps the process alive.
 *
 * Events (removals.ts). Removals are queued while an operation runs and delivered when the
 * cache is consistent again, so a listener may call back into the cache. Every entry that
 * leaves, or is refused, is reported exactly once.
 *
 * Callbacks. weigher, shouldUpdate and the clock run before a write touches the store, and
 * the cache is read-only while they run (ReentrancyError): no operation ever resumes on slot
 * numbers a callback could have invalidated. Loading (loading.ts) talks to the cache by key.
 */
import {
  type CacheOptions,
  type CacheStats,
  type PolicyName,
  type RemovalCause,
  type SetOptions,
  type FetchOptions,
  type FetchAllOptions,
  checkCount,
  checkDuration,
  checkFunction,
  checkKnownOptions,
  checkPositive,
  checkWeight,
  describe,
  isPolicyName,
} from './options.js';
import { POLICY_NAMES, createPolicy } from './policies/index.js';
import { type Policy, type PolicyHost, NO_SLOT, REJECT } from './policies/policy.js';
import { growFloat64 } from './internal/typed-arrays.js';
import { TimerWheel } from './internal/timer-wheel.js';
import { type LoadConfig, Loads, readLoadOptions } from './loading.js';
import { hashKey, randomSeed } from './internal/hash.js';
import { byteWeigher } from './sizeof.js';
import { ReentrancyError } from './errors.js';
import { SlotStore } from './store.js';
import { RemovalQueue } from './removals.js';
import { hitChannel, missChannel, removeChannel, setChannel } from './metrics/channels.js';

/** The format of dump(); load() refuses others. */
const DUMP_VERSION = 1;

/** One entry of a dump: `ttl` is the time it had left, in ms (0: no expiry). */
export interface CacheDumpEntry<K, V> {
  key: K;
  value: V;
  ttl: number;
  weight?: number;
}

/** What dump() returns and load() takes. */
export interface CacheDump<K, V> {
  version: number;
  entries: CacheDumpEntry<K, V>[];
}

/** Policy used when the `policy` option is absent: adaptive W-TinyLFU, the only one that meets the bar on every shared trace (docs/hit-ratio.md). */
export const DEFAULT_POLICY: PolicyName = 'wtinylfu';
const NO_DEADLINE = Infinity;

const defaultClock = (): number => performance.now();

export class Cache<K, V> implements Iterable<[K, V]> {
  // ---- configuration ----
  private readonly weigher: ((value: V, key: K) => number) | undefined;
  private readonly defaultTtl: number;
  private readonly idleTtl: number;
  private readonly clock: () => number;
  /**
   * How many mid-operation user callbacks (weigher, shouldUpdate, a user clock) are running.
   * While it is not 0 the cache is read-only: writes and get() throw ReentrancyError, since
   * the operation that called the callback holds slot numbers it has not finished with.
   */
  private calling = 0;
  /** Not 0 while the cache writes on behalf of a load: listener errors are then rethrown later. */
  private quiet = 0;
  private readonly listener: ((key: K, value: V, cause: RemovalCause) => void) | undefined;
  private readonly validator: ((oldValue: V, newValue: V, key: K) => boolean) | undefined;
  private readonly policy: Policy;
  /** The policy option value in force. */
  readonly policyName: string;

  // ---- store (store.ts) ----
  /** Slots, key index, weights, free list; the policy's host. */
  private readonly store: SlotStore<K, V>;
  // The store's key/value arrays, read on every operation: kept here too, so the hot path
  // loads them from this object (they are never replaced, only grown in place).
  private readonly keyAt: (K | undefined)[];
  private readonly valAt: (V | undefined)[];
  private readonly needsHash: boolean;
  /** Effective deadline per slot (min of write and idle deadlines); allocated on first use. */
  private expiresAt: Float64Array;
  /** Write deadline per slot, kept only when idle expiry is on. */
  private writeDeadline: Float64Array;
  private wheel: TimerWheel | null = null;
  private expiring = false;
  /**
   * True while no optional feature is in force (weights, expiry, listener, shouldUpdate,
   * loading, refreshAfter): set() then takes {@link setPlain}, which skips every test and
   * queue those features need. Recomputed when expiry or loading switches on later.
   */
  private plain = false;

  // ---- removal events (removals.ts) ----
  private readonly removals: RemovalQueue<K, V>;

  // ---- stats ----
  private misses = 0;
  private inserts = 0;
  private updates = 0;
  private evictions = 0;
  private evictedWeight = 0;
  private rejections = 0;
  private expirations = 0;
  private deletions = 0;

  // ---- loading (loading.ts); inert unless configured ----
  /** Validated loading options; null when none was given. */
  private readonly loadConfig: LoadConfig<K, V> | null;
  /** Loading state, created by the first fetch()/fetchAll(). */
  private loads: Loads<K, V> | null = null;
  /** ms an expired entry is kept past its deadline so fetch() can serve it stale (0: none). */
  private readonly retain: number;
  /** refreshAfter in ms (0: off); when on, writtenAt holds each slot's last write time. */
  private readonly refreshAfter: number;
  private writtenAt: Float64Array;

  constructor(options: CacheOptions<K, V>) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`cortado: Cache options must be an object, got ${describe(options)}`);
    }
    const o = options;
    checkKnownOptions(o);
    if (o.maxEntries === undefined && o.maxWeight === undefined && o.maxBytes === undefined) {
      throw new TypeError('cortado: give maxEntries, maxWeight or maxBytes to bound the cache');
    }
    const maxEntries = o.maxEntries === undefined ? Infinity : checkCount('maxEntries', o.maxEntries);
    let maxWeight = o.maxWeight === undefined ? Infinity : checkPositive('maxWeight', o.maxWeight);
    if (o.maxBytes !== undefined) {
      if (o.maxWeight !== undefined) throw new TypeError('cortado: give maxBytes or maxWeight, not both (maxBytes is a maxWeight counted in bytes)');
      maxWeight = checkPositive('maxBytes', o.maxBytes);
    }
    checkFunction('weigher', o.weigher);
    checkFunction('clock', o.clock);
    checkFunction('onRemove', o.onRemove);
    checkFunction('shouldUpdate', o.shouldUpdate);
    const policy = o.policy ?? DEFAULT_POLICY;
    if (!isPolicyName(policy, POLICY_NAMES)) {
      throw new TypeError(`cortado: policy must be one of ${POLICY_NAMES.map((p) => `'${p}'`).join(', ')}, got ${describe(o.policy)}`);
    }
    this.defaultTtl = o.ttl === undefined ? 0 : checkDuration('ttl', o.ttl);
    this.idleTtl = o.expireAfterAccess === undefined ? 0 : checkDuration('expireAfterAccess', o.expireAfterAccess);
    this.weigher = o.maxBytes === undefined ? o.weigher : byteWeigher(o.weigher, policy);
    this.clock = o.clock === undefined ? defaultClock : this.checkedClock(o.clock);
    // A clock that cannot tell the time would freeze or corrupt expiry: find out now.
    if (o.clock !== undefined) this.clock();
    this.listener = o.onRemove;
    this.removals = new RemovalQueue<K, V>(this, o.onRemove);
    this.validator = o.shouldUpdate;
    if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isInteger(o.seed))) {
      throw new TypeError(`cortado: seed must be an integer, got ${describe(o.seed)}`);
    }
    const store = new SlotStore<K, V>({
      maxEntries,
      maxWeight,
      weighted: maxWeight !== Infinity || o.weigher !== undefined,
      seed: o.seed === undefined ? randomSeed() : o.seed | 0,
    });
    this.store = store;
    this.keyAt = store.keyAt;
    this.valAt = store.valAt;
    this.policyName = policy;
    this.policy = createPolicy(policy, store, store.slots);
    this.needsHash = this.policy.needsHash;
    // A policy that reads hashes rarely (S3-FIFO: once per eviction from its small queue)
    // gets them recomputed from the key rather than 4 bytes kept per slot.
    if (this.needsHash && this.policy.hashOnDemand !== true) store.keepHashes();
    store.grown = (n: number) => this.grown(n);
    this.expiresAt = new Float64Array(0);
    this.writeDeadline = new Float64Array(0);
    this.loadConfig = readLoadOptions(o);
    const lc = this.loadConfig;
    this.retain = lc === null ? 0 : Math.max(lc.staleWhileRevalidate, lc.staleIfError);
    this.refreshAfter = lc === null ? 0 : lc.refreshAfter;
    this.writtenAt = new Float64Array(this.refreshAfter > 0 ? store.slots : 0);
    if (this.defaultTtl > 0 || this.idleTtl > 0) this.enableExpiry();
    this.plain = this.isPlain();
  }

  private isPlain(): boolean {
    return (
      !this.store.weighted &&
      !this.expiring &&
      !this.removals.listened &&
      this.validator === undefined &&
      this.loads === null &&
      this.refreshAfter === 0
    );
  }

  // =====================================================================================
  // Reads
  // =====================================================================================

  /** The value for `key`, or undefined. A hit counts as an access for the policy. */
  get(key: K): V | undefined {
    if (this.calling !== 0) throw this.reentered('get');
    const store = this.store;
    const slot = store.find(key);
    if (slot < 0) {
      this.misses++;
      if (missChannel.hasSubscribers) missChannel.publish({ cache: this, key });
      return undefined;
    }
    // One test on the hit path when no expiry is configured (idle expiry implies `expiring`).
    if (this.expiring) {
      if (this.expiresAt[slot]! !== NO_DEADLINE) {
        const now = this.clock();
        if (this.expiresAt[slot]! <= now) {
          this.misses++;
          if (missChannel.hasSubscribers) missChannel.publish({ cache: this, key });
          // Within its stale window the entry stays for fetch() to serve; get() never sees it.
          if (this.expiresAt[slot]! + this.retain <= now) {
            this.removeSlot(slot, 'expired', true);
            this.deliver();
          }
          return undefined;
        }
        // Idle expiry keeps every deadline finite, so `now` is always read when it is on.
        if (this.idleTtl > 0) this.touch(slot, now);
      }
    }
    this.policy.onAccess(slot);
    store.hits++;
    if (hitChannel.hasSubscribers) hitChannel.publish({ cache: this, key });
    return this.valAt[slot];
  }

  /** The value for `key` without touching eviction order, idle time or stats. */
  peek(key: K): V | undefined {
    const slot = this.store.find(key);
    if (slot < 0 || this.isExpired(slot)) return undefined;
    return this.valAt[slot];
  }

  /** Whether `key` is present and not expired (no effect on order or stats). */
  has(key: K): boolean {
    const slot = this.store.find(key);
    return slot >= 0 && !this.isExpired(slot);
  }

  /** Milliseconds left before `key` expires; Infinity for no expiry; undefined when absent. */
  ttlOf(key: K): number | undefined {
    const slot = this.store.find(key);
    if (slot < 0) return undefined;
    if (!this.expiring || this.expiresAt[slot] === NO_DEADLINE) return Infinity;
    const left = this.expiresAt[slot]! - this.clock();
    return left > 0 ? left : undefined;
  }

  /** Number of entries held. Entries that expired but were not yet removed are counted until a read or `purgeExpired()` removes them. */
  get size(): number {
    return this.store.size;
  }

  /** Total weight of the entries held (their count when the cache is not weighted). */
  get weight(): number {
    return this.store.weighted ? this.store.totalWeight : this.store.size;
  }

  /** The bounds in force. */
  get maxEntries(): number | undefined {
    return this.store.maxEntries === Infinity ? undefined : this.store.maxEntries;
  }
  get maxWeight(): number | undefined {
    return this.store.maxWeight === Infinity ? undefined : this.store.maxWeight;
  }

  // =====================================================================================
  // Writes
  // =====================================================================================

  /**
   * Store `value` under `key`. Returns true when the key holds `value` afterwards, false when
   * the value was not stored: heavier than maxWeight, refused by the admission policy or by
   * `shouldUpdate` (each reported to onRemove with cause 'rejected'). `set(key, undefined)`
   * is `delete(key)` and returns false.
   */
  set(key: K, value: V, options?: SetOptions): boolean {
    // Kept tiny so that callers inline it whole (V8 inlines by bytecode size, cumulatively).
    if (options === undefined && this.plain) return this.setPlain(key, value);
    return this.setGeneral(key, value, options);
  }

  private setGeneral(key: K, value: V, options: SetOptions | undefined): boolean {
    if (this.calling !== 0) throw this.reentered('set');
    return this.write(key, value, options, false);
  }

  /** Like set(), but only when `key` is present (and not expired); returns false otherwise. */
  setIfPresent(key: K, value: V, options?: SetOptions): boolean {
    if (this.calling !== 0) throw this.reentered('setIfPresent');
    return this.write(key, value, options, true);
  }

  /**
   * The body of set() and setIfPresent(). Per-call options are checked first, then every user
   * callback (shouldUpdate, the weigher, the clock) runs while nothing has changed: a callback
   * that throws leaves the cache as it was, and one that tries to write is refused
   * (ReentrancyError). Only then does the write touch the store.
   */
  private write(key: K, value: V, options: SetOptions | undefined, onlyIfPresent: boolean): boolean {
    let ttl = this.defaultTtl;
    let given = -1;
    if (options !== undefined) {
      const o = this.readSetOptions(options);
      if (o.ttl !== undefined) ttl = o.ttl;
      if (o.weight !== undefined) given = o.weight;
    }
    if (value === undefined && !onlyIfPresent) {
      this.delete(key);
      return false;
    }
    const slot = this.store.find(key);
    const live = slot >= 0 && !this.isExpired(slot);
    if (onlyIfPresent) {
      if (!live) {
        if (slot >= 0) {
          this.removeSlot(slot, 'expired', true);
          this.deliver();
        }
        return false;
      }
      if (value === undefined) {
        this.delete(key);
        return false;
      }
    }
    if (live && this.validator !== undefined && !this.approve(this.valAt[slot]!, value, key)) return this.refuse(key, value);
    const w = this.weigh(key, value, given);
    const now = this.expiring || this.refreshAfter > 0 ? this.clock() : 0;
    let stored: boolean;
    if (live) stored = this.update(slot, key, value, w, ttl, now);
    else {
      // An old value that expired before this write is reported as expired, not replaced.
      if (slot >= 0) this.removeSlot(slot, 'expired', true);
      stored = this.insert(key, value, w, ttl, now);
    }
    if (this.loads !== null && stored) this.loads.written(key, value);
    if (setChannel.hasSubscribers) setChannel.publish({ cache: this, key, value, stored });
    return stored;
  }

  /** Remove `key`; true when it was present (an expired entry counts as absent). */
  delete(key: K): boolean {
    if (this.calling !== 0) throw this.reentered('delete');
    const slot = this.store.find(key);
    if (slot < 0) {
      if (this.loads !== null) this.loads.deleted(key);
      return false;
    }
    const expired = this.isExpired(slot);
    if (expired) this.removeSlot(slot, 'expired', true);
    else {
      this.deletions++;
      this.removeSlot(slot, 'deleted', true);
    }
    if (this.loads !== null) this.loads.deleted(key);
    this.deliver();
    return !expired;
  }

  /** Remove every entry (each reported with cause 'cleared'). */
  clear(): void {
    if (this.calling !== 0) throw this.reentered('clear');
    if (this.removals.heard) {
      for (const slot of this.store.live()) this.removals.enqueue(this.keyAt[slot] as K, this.valAt[slot]!, 'cleared');
    }
    this.store.clear();
    this.policy.clear();
    if (this.wheel !== null) this.wheel.clear();
    if (this.loads !== null) this.loads.cleared();
    this.deliver();
  }

  /** Remove every expired entry now; returns how many were removed. */
  purgeExpired(): number {
    if (this.calling !== 0) throw this.reentered('purgeExpired');
    if (this.wheel === null) return 0;
    const before = this.expirations;
    this.wheel.purgeCurrent(this.clock(), this.expireSlot);
    this.deliver();
    return this.expirations - before;
  }

  /** Change the bounds; evicts down to them at once. */
  resize(bounds: { maxEntries?: number | undefined; maxWeight?: number | undefined }): void {
    if (this.calling !== 0) throw this.reentered('resize');
    if (bounds === null || typeof bounds !== 'object') {
      throw new TypeError(`cortado: resize() takes { maxEntries?, maxWeight? }, got ${describe(bounds)}`);
    }
    const maxEntries = bounds.maxEntries === undefined ? this.store.maxEntries : checkCount('maxEntries', bounds.maxEntries);
    let maxWeight = this.store.maxWeight;
    if (bounds.maxWeight !== undefined) {
      maxWeight = checkPositive('maxWeight', bounds.maxWeight);
      if (!this.store.byWeight) {
        throw new TypeError('cortado: resize() cannot add maxWeight to a cache created without it');
      }
    }
    this.store.setBounds(maxEntries, maxWeight);
    this.policy.resize();
    this.shrinkToBounds();
    this.deliver();
  }

  // =====================================================================================
  // Iteration (live entries in slot order, which is neither insertion nor recency order;
  // expired entries are skipped)
  // =====================================================================================

  *entries(): IterableIterator<[K, V]> {
    for (const slot of this.store.live()) {
      if (!this.isExpired(slot)) yield [this.keyAt[slot] as K, this.valAt[slot]!];
    }
  }

  *keys(): IterableIterator<K> {
    for (const slot of this.store.live()) {
      if (!this.isExpired(slot)) yield this.keyAt[slot] as K;
    }
  }

  *values(): IterableIterator<V> {
    for (const slot of this.store.live()) {
      if (!this.isExpired(slot)) yield this.valAt[slot]!;
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, cache: this) => void, thisArg?: unknown): void {
    if (typeof fn !== 'function') throw new TypeError(`cortado: forEach() takes a function, got ${describe(fn)}`);
    for (const [key, value] of this.entries()) fn.call(thisArg, value, key, this);
  }

  // =====================================================================================
  // Loading (loading.ts; docs/loading.md)
  // =====================================================================================

  /**
   * The value of `key`, loaded on a miss by the loader (this call's, else the cache's).
   * Concurrent fetches of one key share one load. Rejects with the loader's own error, an
   * AbortError (this call's signal) or a TimeoutError (loadTimeout); within staleIfError a
   * failed reload serves the stale value instead. Bad options reject with TypeError/RangeError.
   */
  fetch(key: K, options?: FetchOptions<K, V>): Promise<V> {
    if (this.calling !== 0) return Promise.reject(this.reentered('fetch'));
    return this.loading().fetch(key, options);
  }

  /**
   * The values of `keys`, as a Map in the order given. Cached keys are served, keys already
   * loading are shared, and the rest are loaded by one loadAll call (else the loader per key).
   * Rejects with a MissingKeyError when loadAll leaves a requested key out.
   */
  fetchAll(keys: Iterable<K>, options?: FetchAllOptions<K, V>): Promise<Map<K, V>> {
    if (this.calling !== 0) return Promise.reject(this.reentered('fetchAll'));
    return this.loading().fetchAll(keys, options);
  }

  /** Loads under way that the cache is waiting on (one per key at most). */
  get inflight(): number {
    return this.loads === null ? 0 : this.loads.inflight;
  }

  private loading(): Loads<K, V> {
    if (this.loads === null) {
      this.loads = new Loads<K, V>(this, this.loadConfig);
      this.plain = false;
    }
    return this.loads;
  }

  /**
   * @internal Hear every removal beside the user's onRemove (a tier hears memory's
   * evictions this way). Same delivery rules as onRemove: once per removal, after the cache
   * is consistent. Returns a function that stops listening.
   */
  _tap(fn: (key: K, value: V, cause: RemovalCause) => void): () => void {
    if (typeof fn !== 'function') throw new TypeError(`cortado: a removal tap must be a function, got ${describe(fn)}`);
    const untap = this.removals.tap(fn);
    this.plain = false;
    return () => {
      untap();
      this.plain = this.isPlain();
    };
  }

  /** @internal The default time-to-live in ms (0: none), for a TieredCache above this cache. */
  _defaultTtl(): number {
    return this.defaultTtl;
  }

  /** @internal */ _now(): number {
    return this.clock();
  }
  /** @internal What _lookup() found (see LoadHost). */ _found: V | undefined = undefined;
  /** @internal */ _foundUntil = NO_DEADLINE;
  /** @internal */ _foundWritten = 0;
  /** @internal Look `key` up for the loading layer, without counting (see LoadHost). */
  _lookup(key: K): boolean {
    const slot = this.store.find(key);
    if (slot < 0) {
      this._found = undefined;
      return false;
    }
    this._found = this.valAt[slot];
    this._foundUntil = this.expiring ? this.expiresAt[slot]! : NO_DEADLINE;
    this._foundWritten = this.refreshAfter > 0 ? this.writtenAt[slot]! : 0;
    return true;
  }
  /** @internal A fetch() served `key`: a hit, like get() (idle expiry pushed back when fresh). */
  _hit(key: K, fresh: boolean): void {
    const slot = this.store.find(key);
    if (slot < 0) return;
    if (fresh && this.idleTtl > 0) this.touch(slot, this.clock());
    this.policy.onAccess(slot);
    this.store.hits++;
    if (hitChannel.hasSubscribers) hitChannel.publish({ cache: this, key });
  }
  /** @internal */ _miss(key: K): void {
    this.misses++;
    if (missChannel.hasSubscribers) missChannel.publish({ cache: this, key });
  }
  /** @internal True when a value needs a weight that only set()/fetch() options can give (maxWeight, no weigher). */
  get _needsWeight(): boolean {
    return this.store.weighted && this.weigher === undefined;
  }
  /**
   * @internal Run a write on behalf of a load: errors thrown by onRemove listeners do not
   * change the load's outcome (the write took effect); they are rethrown on the next tick, as
   * Node does for a diagnostics_channel subscriber that throws.
   */
  _quietly<R>(op: () => R): R {
    this.quiet++;
    try {
      return op();
    } finally {
      this.quiet--;
    }
  }
  /** @internal Remove an entry past its stale window. */
  _expire(key: K): void {
    const slot = this.store.find(key);
    if (slot < 0) return;
    this.removeSlot(slot, 'expired', true);
    this.quiet++;
    try {
      this.deliver();
    } finally {
      this.quiet--;
    }
  }

  /** Counters since the cache was created. */
  stats(): CacheStats {
    const lookups = this.store.hits + this.misses;
    return {
      hits: this.store.hits,
      misses: this.misses,
      hitRatio: lookups === 0 ? 0 : this.store.hits / lookups,
      inserts: this.inserts,
      updates: this.updates,
      evictions: this.evictions,
      evictedWeight: this.evictedWeight,
      rejections: this.rejections,
      expirations: this.expirations,
      deletions: this.deletions,
      loadSuccesses: this.loads === null ? 0 : this.loads.successes,
      loadFailures: this.loads === null ? 0 : this.loads.failures,
      totalLoadTime: this.loads === null ? 0 : this.loads.loadTime,
    };
  }

  get [Symbol.toStringTag](): string {
    return 'Cache';
  }

  /** One line for console.log / util.inspect: policy, bounds, size, weight and hit ratio. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const lookups = this.store.hits + this.misses;
    const ratio = lookups === 0 ? '-' : (this.store.hits / lookups).toFixed(3);
    const entries = this.store.maxEntries === Infinity ? `${this.size}` : `${this.size}/${this.store.maxEntries}`;
    const weight = this.store.byWeight ? `, weight: ${this.weight}/${this.store.maxWeight}` : '';
    return `Cache<${this.policyName}> { entries: ${entries}${weight}, hitRatio: ${ratio} }`;
  }

  // =====================================================================================
  // Dump and load (warm restarts)
  // =====================================================================================

  /**
   * A snapshot of the live entries for a warm restart: each with its remaining time-to-live
   * (0: none) and, in a weighted cache, its weight, in iteration order. Values are the
   * cache's own objects, not copies; serialize the dump as your keys and values allow (JSON,
   * `v8.serialize`). What is not kept: the policy's recency and frequency history, which a
   * loaded cache relearns from its traffic.
   */
  dump(): CacheDump<K, V> {
    const now = this.expiring ? this.clock() : 0;
    const entries: CacheDumpEntry<K, V>[] = [];
    for (const slot of this.store.live()) {
      const key = this.keyAt[slot] as K;
      let ttl = 0;
      if (this.expiring) {
        if (this.expiresAt[slot]! <= now) continue;
        const deadline = this.idleTtl > 0 ? this.writeDeadline[slot]! : this.expiresAt[slot]!;
        if (deadline !== NO_DEADLINE) ttl = deadline - now;
      }
      const entry: CacheDumpEntry<K, V> = { key, value: this.valAt[slot] as V, ttl };
      if (this.store.weighted) entry.weight = this.store.weights[slot]!;
      entries.push(entry);
    }
    return { version: DUMP_VERSION, entries };
  }

  /**
   * Store the entries of a dump, in its order (when it holds more than the cache can, the
   * policy decides which stay, as for any sequence of sets). The whole dump is checked first, weights included (the weigher runs for
   * entries without one): a bad dump throws a TypeError/RangeError naming the entry and
   * changes nothing. Returns how many entries were stored. Weights are ignored by a cache
   * that keeps none.
   */
  load(dump: CacheDump<K, V>): number {
    if (this.calling !== 0) throw this.reentered('load');
    if (dump === null || typeof dump !== 'object' || !Array.isArray(dump.entries)) {
      throw new TypeError(`cortado: load() takes what dump() returned ({ version, entries }), got ${describe(dump)}`);
    }
    if (dump.version !== DUMP_VERSION) {
      throw new TypeError(`cortado: load() reads dump version ${DUMP_VERSION}, got version ${describe(dump.version)}`);
    }
    const n = dump.entries.length;
    const weights = new Float64Array(n);
    const ttls = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const e = dump.entries[i];
      if (e === null || typeof e !== 'object' || !('key' in e)) {
        throw new TypeError(`cortado: load(): dump entry ${i} must be { key, value, ttl, weight? }, got ${describe(e)}`);
      }
      if (e.value === undefined) throw new TypeError(`cortado: load(): dump entry ${i} has no value`);
      ttls[i] = checkDuration(`dump entry ${i} ttl`, e.ttl);
      if (e.weight !== undefined) checkWeight(`dump entry ${i} weight`, e.weight);
      weights[i] = this.store.weighted ? this.weigh(e.key, e.value, e.weight ?? -1) : 1;
    }
    let stored = 0;
    for (let i = 0; i < n; i++) {
      const e = dump.entries[i]!;
      const o: SetOptions = { ttl: ttls[i]! };
      if (this.store.weighted) o.weight = weights[i]!;
      if (this.write(e.key, e.value, o, false)) stored++;
    }
    return stored;
  }

  // =====================================================================================
  // Internals
  // =====================================================================================

  /** @internal The loading layer checks fetch()'s ttl and weight with this. */
  _readSetOptions(o: SetOptions): { ttl: number | undefined; weight: number | undefined } {
    return this.readSetOptions(o);
  }

  /** Validate per-call options before anything changes. */
  private readSetOptions(o: SetOptions): { ttl: number | undefined; weight: number | undefined } {
    if (o === null || typeof o !== 'object') {
      throw new TypeError(`cortado: set() options must be an object, got ${describe(o)}`);
    }
    const ttl = o.ttl === undefined ? undefined : checkDuration('ttl', o.ttl);
    let weight: number | undefined;
    if (o.weight !== undefined) {
      weight = checkWeight('weight', o.weight);
      if (!this.store.weighted) {
        throw new TypeError('cortado: weight was given but the cache has neither maxWeight nor weigher, so weights would be ignored');
      }
    }
    if (ttl !== undefined && ttl > 0 && !this.expiring) this.enableExpiry();
    return { ttl, weight };
  }

  /** The user's clock, checked: it must return a number, and may not call into the cache. */
  private checkedClock(user: () => number): () => number {
    return () => {
      this.calling++;
      let t: unknown;
      try {
        t = user();
      } finally {
        this.calling--;
      }
      if (typeof t !== 'number' || !Number.isFinite(t)) {
        throw new TypeError(`cortado: clock must return a finite number of milliseconds, got ${describe(t)}`);
      }
      return t;
    };
  }

  private reentered(op: string): ReentrancyError {
    return new ReentrancyError(
      `cortado: ${op}() was called from inside a weigher, shouldUpdate or clock callback; the cache is read-only there (peek, has, ttlOf, size and iteration work)`,
    );
  }

  /** Ask shouldUpdate whether `value` may replace `old` (a callback: the cache is read-only meanwhile). */
  private approve(old: V, value: V, key: K): boolean {
    this.calling++;
    try {
      return this.validator!(old, value, key);
    } finally {
      this.calling--;
    }
  }

  /** The weight a new value will have (the weigher runs as a callback); throws before any change when it is invalid. */
  private weigh(key: K, value: V, given: number): number {
    if (!this.store.weighted) return 1;
    if (given >= 0) return given;
    if (this.weigher === undefined) {
      throw new TypeError('cortado: this cache has maxWeight but no weigher; pass { weight } to set() or give a weigher option');
    }
    this.calling++;
    let w: number;
    try {
      w = this.weigher(value, key);
    } finally {
      this.calling--;
    }
    return checkWeight('weigher result', w);
  }

  /** Store a new entry of weight `w`; `now` is the clock read before anything changed. */
  private insert(key: K, value: V, w: number, ttl: number, now: number): boolean {
    if (w > this.store.maxWeight) return this.refuse(key, value);
    if (this.wheel !== null) this.wheel.advance(now, this.expireSlot);
    const hash = this.needsHash ? hashKey(key, this.store.seed) : 0;
    const policy = this.policy;
    policy.recordMiss(hash);
    const cost = this.store.byWeight ? w : 1;
    while (this.store.size + 1 > this.store.maxEntries || this.store.totalWeight + w > this.store.maxWeight) {
      const victim = policy.evictFor(hash, cost);
      if (victim === REJECT) return this.refuse(key, value);
      if (victim === NO_SLOT) throw new Error(`cortado: policy ${this.policyName} found no victim in a full cache`);
      this.evictSlot(victim);
    }
    const slot = this.store.allocate();
    this.store.put(slot, key, value, w, hash);
    if (this.expiring) this.scheduleWrite(slot, ttl, now);
    if (this.refreshAfter > 0) this.writtenAt[slot] = now;
    policy.onInsert(slot);
    this.inserts++;
    this.deliver();
    return true;
  }

  /**
   * set() when no optional feature is configured: the same decisions, stats and slot choices
   * as the general path (insert/update), without its tests for weights, expiry, events and
   * loads. A full cache reuses the victim's slot directly instead of freeing it first.
   */
  private setPlain(key: K, value: V): boolean {
    if (value === undefined) {
      this.delete(key);
      return false;
    }
    const store = this.store;
    const found = store.find(key);
    const policy = this.policy;
    if (found >= 0) {
      const old = this.valAt[found];
      this.valAt[found] = value;
      policy.onUpdate(found, 1);
      this.updates++;
      if (removeChannel.hasSubscribers && old !== value) removeChannel.publish({ cache: this, key, value: old, cause: 'replaced' });
      if (setChannel.hasSubscribers) setChannel.publish({ cache: this, key, value, stored: true });
      return true;
    }
    const hash = this.needsHash ? hashKey(key, this.store.seed) : 0;
    policy.recordMiss(hash);
    let slot: number;
    let victimKey: K | undefined;
    let victimValue: V | undefined;
    if (store.size < store.maxEntries) {
      slot = store.allocate();
      store.put(slot, key, value, 1, hash);
    } else {
      slot = policy.evictFor(hash, 1);
      if (slot < 0) return this.noVictim(key, value, slot);
      if (removeChannel.hasSubscribers) {
        victimKey = this.keyAt[slot];
        victimValue = this.valAt[slot];
      }
      this.evictions++;
      this.evictedWeight++;
      // A resize() below the current size evicts down to the bound at once, so one victim
      // always makes room here.
      store.reuse(slot, key, value, hash);
    }
    policy.onInsert(slot);
    this.inserts++;
    if (victimValue !== undefined && removeChannel.hasSubscribers) {
      removeChannel.publish({ cache: this, key: victimKey, value: victimValue, cause: 'evicted' });
    }
    if (setChannel.hasSubscribers) setChannel.publish({ cache: this, key, value, stored: true });
    return true;
  }

  /** setPlain() got REJECT (admission refused the newcomer) or NO_SLOT (a policy bug). */
  private noVictim(key: K, value: V, slot: number): false {
    if (slot !== REJECT) throw new Error(`cortado: policy ${this.policyName} found no victim in a full cache`);
    this.rejections++;
    if (removeChannel.hasSubscribers) removeChannel.publish({ cache: this, key, value, cause: 'rejected' });
    if (setChannel.hasSubscribers) setChannel.publish({ cache: this, key, value, stored: false });
    return false;
  }

  /** Replace the live entry in `slot` with `value` of weight `w` (callbacks already ran). */
  private update(slot: number, key: K, value: V, w: number, ttl: number, now: number): boolean {
    const old = this.valAt[slot] as V;
    if (w > this.store.maxWeight) {
      // The old value is superseded by one that cannot be kept: drop both.
      this.removeSlot(slot, 'replaced', true);
      return this.refuse(key, value);
    }
    const oldCost = this.store.byWeight ? this.store.weights[slot]! : 1;
    this.valAt[slot] = value;
    if (this.store.weighted) {
      this.store.totalWeight += w - this.store.weights[slot]!;
      this.store.weights[slot] = w;
    }
    if (this.expiring) this.scheduleWrite(slot, ttl, now);
    if (this.refreshAfter > 0) this.writtenAt[slot] = now;
    this.policy.onUpdate(slot, oldCost);
    this.updates++;
    if (old !== value) this.removals.enqueue(key, old, 'replaced');
    if (this.store.totalWeight > this.store.maxWeight) this.shrinkToBounds();
    this.deliver();
    return this.store.find(key) === slot;
  }

  private refuse(key: K, value: V): false {
    this.rejections++;
    this.removals.enqueue(key, value, 'rejected');
    this.deliver();
    return false;
  }

  private shrinkToBounds(): void {
    while (this.store.size > this.store.maxEntries || this.store.totalWeight > this.store.maxWeight) {
      const victim = this.policy.evict();
      if (victim === NO_SLOT) throw new Error(`cortado: policy ${this.policyName} found no victim in a full cache`);
      this.evictSlot(victim);
    }
  }

  private evictSlot(slot: number): void {
    this.evictions++;
    this.evictedWeight += this.store.weighted ? this.store.weights[slot]! : 1;
    this.removeSlot(slot, 'evicted', false);
  }

  /** Free `slot`; `tellPolicy` is false when the policy itself chose it (already unlinked). */
  private removeSlot(slot: number, cause: RemovalCause, tellPolicy: boolean): void {
    const key = this.keyAt[slot] as K;
    const value = this.valAt[slot] as V;
    if (tellPolicy) this.policy.onRemove(slot);
    if (this.wheel !== null) this.wheel.unschedule(slot);
    this.store.remove(slot);
    if (cause === 'expired') this.expirations++;
    this.removals.enqueue(key, value, cause);
  }

  /** Timer-wheel callback (bound once; the wheel has already unscheduled the slot). */
  private readonly expireSlot = (slot: number): void => {
    this.removeSlot(slot, 'expired', true);
  };

  /** The store's arrays grew to `n` slots: grow what is kept beside them, and the policy's. */
  private grown(n: number): void {
    const before = this.expiresAt.length;
    if (this.expiring) {
      this.expiresAt = growFloat64(this.expiresAt, n);
      this.expiresAt.fill(NO_DEADLINE, before);
      if (this.idleTtl > 0) {
        this.writeDeadline = growFloat64(this.writeDeadline, n);
        this.writeDeadline.fill(NO_DEADLINE, before);
      }
      this.wheel!.grow(n);
    }
    this.policy.grow(n);
    if (this.refreshAfter > 0) this.writtenAt = growFloat64(this.writtenAt, n);
  }

  /** Turn expiry on (at construction, or on the first per-call ttl). */
  private enableExpiry(): void {
    const now = this.clock(); // first: a clock that throws leaves nothing half-enabled
    const slots = this.store.slots;
    this.expiresAt = new Float64Array(slots).fill(NO_DEADLINE);
    if (this.idleTtl > 0) this.writeDeadline = new Float64Array(slots).fill(NO_DEADLINE);
    this.wheel = new TimerWheel(slots, now);
    this.expiring = true;
    this.plain = false;
  }

  private isExpired(slot: number): boolean {
    return this.expiring && this.expiresAt[slot]! !== NO_DEADLINE && this.expiresAt[slot]! <= this.clock();
  }

  /** Set deadlines after a write with time-to-live `ttl` (0: none). */
  private scheduleWrite(slot: number, ttl: number, now: number): void {
    const write = ttl > 0 ? now + ttl : NO_DEADLINE;
    let deadline = write;
    if (this.idleTtl > 0) {
      this.writeDeadline[slot] = write;
      deadline = Math.min(write, now + this.idleTtl);
    }
    this.expiresAt[slot] = deadline;
    if (deadline === NO_DEADLINE) this.wheel!.unschedule(slot);
    else this.wheel!.schedule(slot, deadline + this.retain);
  }

  /** A read pushes the idle deadline back. */
  private touch(slot: number, now: number): void {
    const deadline = Math.min(this.writeDeadline[slot]!, now + this.idleTtl);
    this.expiresAt[slot] = deadline;
    this.wheel!.schedule(slot, deadline + this.retain);
  }

  /** Deliver queued removal events now that the cache is consistent (removals.ts). */
  private deliver(): void {
    this.removals.deliver(this.quiet !== 0);
  }

  /**
   * @internal Walk every structure and throw on the first broken invariant (tests only).
   */
  _validate(): void {
    const live = this.store.validate();
    this.policy.validate((s) => live.has(s), this.store.size);
    if (this.wheel !== null) {
      const wheel = this.wheel;
      this.wheel.validate((s) => live.has(s));
      for (const s of live) {
        const finite = this.expiresAt[s] !== NO_DEADLINE;
        if (finite !== wheel.isScheduled(s)) throw new Error(`expiry: slot ${s} deadline ${this.expiresAt[s]} but scheduled=${wheel.isScheduled(s)}`);
      }
    }
    this.removals.validate();
    if (this.loads !== null) this.loads.validate();
  }
}
