/**
 * The in-process cache: the public facade over the slot store, a policy and the timer wheel.
 *
 * Store. Entries live in slots: a Map from key to slot number, and parallel arrays indexed by
 * slot for keys, values, weights, deadlines and key hashes (the last three typed arrays, each
 * allocated only when its feature is configured). Freed slots go on a free list and are
 * reused, so once the cache is full, get/set allocate nothing: no per-entry objects, no
 * closures, no iterators. The arrays grow by doubling up to `maxEntries` while the cache
 * fills.
 *
 * Policy. The store never decides which entry leaves: a Policy (see policies/policy.ts) does,
 * over slot numbers. New entries make room *before* they are inserted, which is what the
 * SIEVE and S3-FIFO papers (and libCacheSim) do; it matters for SIEVE, whose hand could
 * otherwise evict the newcomer.
 *
 * Expiry. Deadlines are checked exactly on every read; a hierarchical timer wheel removes
 * expired entries that nobody reads, as writes go by and on purgeExpired(). No timer is ever
 * created, so the cache never keeps the process alive.
 *
 * Events. Removals are queued while an operation runs and delivered when the cache is
 * consistent again, so a listener may call back into the cache. Every entry that leaves, or
 * is refused, is reported exactly once.
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
  checkPositive,
  checkWeight,
  describe,
  isPolicyName,
} from './options.js';
import { POLICY_FACTORIES, POLICY_NAMES } from './policies/index.js';
import { type Policy, type PolicyHost, NO_SLOT, REJECT, growFloat64, growInt32 } from './policies/policy.js';
import { TimerWheel } from './internal/timer-wheel.js';
import { type LoadConfig, Loads, readLoadOptions } from './loading.js';
import { hashKey, randomSeed } from './internal/hash.js';
import { byteWeigher } from './sizeof.js';
import { ReentrancyError } from './errors.js';
import { hitChannel, missChannel, removeChannel, setChannel } from './metrics/channels.js';

/** Policy used when the `policy` option is absent: adaptive W-TinyLFU, the only one that meets the bar on every shared trace (docs/hit-ratio.md). */
export const DEFAULT_POLICY: PolicyName = 'wtinylfu';
/** First slot allocation; arrays double from here up to maxEntries. */
const INITIAL_SLOTS = 64;
const NO_DEADLINE = Infinity;
/** First free-list allocation; it doubles when deletes or expiries free more slots at once. */
const FREE_LIST_INITIAL = 16;

const defaultClock = (): number => performance.now();

/** The bound a weight or a weight bound must stay within for sums to remain exact. */
const MAX_EXACT = Number.MAX_SAFE_INTEGER;

/** The view of the store that a policy gets. */
class Host implements PolicyHost {
  constructor(private readonly c: Cache<unknown, unknown>) {}
  get capacity(): number {
    return this.c._byWeight ? this.c._maxWeight : this.c._maxEntries;
  }
  get seed(): number {
    return this.c._seed;
  }
  costOf(slot: number): number {
    return this.c._byWeight ? this.c._weights[slot]! : 1;
  }
  hashOf(slot: number): number {
    return this.c._storeHash ? this.c._hashes[slot]! : this.c._hashAt(slot);
  }
}

export class Cache<K, V> implements Iterable<[K, V]> {
  // ---- configuration (internal fields are stripped from the published types) ----
  /** @internal */ _maxEntries: number;
  /** @internal */ _maxWeight: number;
  /** @internal True when capacity is counted in weight (maxWeight given). */
  readonly _byWeight: boolean;
  /** @internal True when entries carry weights (maxWeight or weigher given). */
  readonly _weighted: boolean;
  /** @internal */ readonly _seed: number;
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

  // ---- store ----
  private readonly index = new Map<K, number>();
  private keyAt: (K | undefined)[];
  private valAt: (V | undefined)[];
  /** @internal */ _weights: Float64Array;
  /** @internal */ _hashes: Int32Array;
  private readonly needsHash: boolean;
  /**
   * @internal False when the policy reads hashes rarely enough (S3-FIFO: once per eviction
   * from its small queue) to recompute them from the key rather than keep 4 bytes per slot.
   */
  readonly _storeHash: boolean;
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
  private slots: number;
  private slotLimit: number;
  private nextFresh = 0;
  private free: Int32Array;
  private freeTop = 0;
  private totalWeight = 0;

  // ---- removal events (queued, then delivered) ----
  private evKeys: (K | undefined)[] = [];
  private evVals: (V | undefined)[] = [];
  private evCauses: RemovalCause[] = [];
  private evCount = 0;
  private delivering = false;
  /** Internal removal listeners (tiers, metrics) beside the user's onRemove; null when none. */
  private taps: ((key: K, value: V, cause: RemovalCause) => void)[] | null = null;
  /** True when anyone listens to removals (onRemove or a tap): events are queued only then. */
  private listened: boolean;

  // ---- stats ----
  private hits = 0;
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
    if (o.maxEntries === undefined && o.maxWeight === undefined && o.maxBytes === undefined) {
      throw new TypeError('cortado: give maxEntries, maxWeight or maxBytes to bound the cache');
    }
    this._maxEntries = o.maxEntries === undefined ? Infinity : checkCount('maxEntries', o.maxEntries);
    this._maxWeight = o.maxWeight === undefined ? Infinity : checkPositive('maxWeight', o.maxWeight);
    if (o.maxBytes !== undefined) {
      if (o.maxWeight !== undefined) throw new TypeError('cortado: give maxBytes or maxWeight, not both (maxBytes is a maxWeight counted in bytes)');
      this._maxWeight = checkPositive('maxBytes', o.maxBytes);
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
    this.listened = o.onRemove !== undefined;
    this.validator = o.shouldUpdate;
    this._byWeight = this._maxWeight !== Infinity;
    this._weighted = this._byWeight || o.weigher !== undefined;
    if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isInteger(o.seed))) {
      throw new TypeError(`cortado: seed must be an integer, got ${describe(o.seed)}`);
    }
    this._seed = o.seed === undefined ? randomSeed() : o.seed | 0;

    this.slotLimit = Math.min(this._maxEntries, 2 ** 31 - 1);
    this.slots = Math.min(INITIAL_SLOTS, this.slotLimit);
    this.keyAt = new Array<K | undefined>(this.slots).fill(undefined);
    this.valAt = new Array<V | undefined>(this.slots).fill(undefined);
    // The free list grows only as slots are freed: evictions free a slot and reuse it at
    // once, so a cache that only evicts never pays 4 bytes per slot for it.
    this.free = new Int32Array(FREE_LIST_INITIAL);
    this._weights = new Float64Array(this._weighted ? this.slots : 0);
    this.policyName = policy;
    this.policy = POLICY_FACTORIES[policy]!(new Host(this as Cache<unknown, unknown>), this.slots);
    this.needsHash = this.policy.needsHash;
    this._storeHash = this.needsHash && this.policy.hashOnDemand !== true;
    this._hashes = new Int32Array(this._storeHash ? this.slots : 0);
    this.expiresAt = new Float64Array(0);
    this.writeDeadline = new Float64Array(0);
    this.loadConfig = readLoadOptions(o);
    const lc = this.loadConfig;
    this.retain = lc === null ? 0 : Math.max(lc.staleWhileRevalidate, lc.staleIfError);
    this.refreshAfter = lc === null ? 0 : lc.refreshAfter;
    this.writtenAt = new Float64Array(this.refreshAfter > 0 ? this.slots : 0);
    if (this.defaultTtl > 0 || this.idleTtl > 0) this.enableExpiry();
    this.plain = this.isPlain();
  }

  private isPlain(): boolean {
    return (
      !this._weighted &&
      !this.expiring &&
      !this.listened &&
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
    const slot = this.index.get(key);
    if (slot === undefined) {
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
    this.hits++;
    if (hitChannel.hasSubscribers) hitChannel.publish({ cache: this, key });
    return this.valAt[slot];
  }

  /** The value for `key` without touching eviction order, idle time or stats. */
  peek(key: K): V | undefined {
    const slot = this.index.get(key);
    if (slot === undefined || this.isExpired(slot)) return undefined;
    return this.valAt[slot];
  }

  /** Whether `key` is present and not expired (no effect on order or stats). */
  has(key: K): boolean {
    const slot = this.index.get(key);
    return slot !== undefined && !this.isExpired(slot);
  }

  /** Milliseconds left before `key` expires; Infinity for no expiry; undefined when absent. */
  ttlOf(key: K): number | undefined {
    const slot = this.index.get(key);
    if (slot === undefined) return undefined;
    if (!this.expiring || this.expiresAt[slot] === NO_DEADLINE) return Infinity;
    const left = this.expiresAt[slot]! - this.clock();
    return left > 0 ? left : undefined;
  }

  /** Number of entries held. Entries that expired but were not yet removed are counted until a read or `purgeExpired()` removes them. */
  get size(): number {
    return this.index.size;
  }

  /** Total weight of the entries held (their count when the cache is not weighted). */
  get weight(): number {
    return this._weighted ? this.totalWeight : this.index.size;
  }

  /** The bounds in force. */
  get maxEntries(): number | undefined {
    return this._maxEntries === Infinity ? undefined : this._maxEntries;
  }
  get maxWeight(): number | undefined {
    return this._maxWeight === Infinity ? undefined : this._maxWeight;
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
    let ttl = this.defaultTtl;
    let weight = -1;
    if (options !== undefined) {
      const given = this.readSetOptions(options);
      if (given.ttl !== undefined) ttl = given.ttl;
      if (given.weight !== undefined) weight = given.weight;
    }
    if (value === undefined) {
      this.delete(key);
      return false;
    }
    return this.write(key, value, weight, ttl, false);
  }

  /** Like set(), but only when `key` is present (and not expired); returns false otherwise. */
  setIfPresent(key: K, value: V, options?: SetOptions): boolean {
    if (this.calling !== 0) throw this.reentered('setIfPresent');
    let ttl = this.defaultTtl;
    let weight = -1;
    if (options !== undefined) {
      const given = this.readSetOptions(options);
      if (given.ttl !== undefined) ttl = given.ttl;
      if (given.weight !== undefined) weight = given.weight;
    }
    return this.write(key, value, weight, ttl, true);
  }

  /**
   * The body of set() and setIfPresent(). Every user callback (shouldUpdate, the weigher, the
   * clock) runs first, while nothing has changed: a callback that throws leaves the cache as
   * it was, and one that tries to write is refused (ReentrancyError). Only then does the
   * write touch the store.
   */
  private write(key: K, value: V, given: number, ttl: number, onlyIfPresent: boolean): boolean {
    const slot = this.index.get(key);
    const live = slot !== undefined && !this.isExpired(slot);
    if (onlyIfPresent) {
      if (!live) {
        if (slot !== undefined) {
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
      if (slot !== undefined) this.removeSlot(slot, 'expired', true);
      stored = this.insert(key, value, w, ttl, now);
    }
    if (this.loads !== null && stored) this.loads.written(key, value);
    if (setChannel.hasSubscribers) setChannel.publish({ cache: this, key, value, stored });
    return stored;
  }

  /** Remove `key`; true when it was present (an expired entry counts as absent). */
  delete(key: K): boolean {
    if (this.calling !== 0) throw this.reentered('delete');
    const slot = this.index.get(key);
    if (slot === undefined) {
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
    if (this.listened || removeChannel.hasSubscribers) {
      for (const [key, slot] of this.index) this.enqueue(key, this.valAt[slot]!, 'cleared');
    }
    this.index.clear();
    this.keyAt.fill(undefined);
    this.valAt.fill(undefined);
    this.policy.clear();
    if (this.wheel !== null) this.wheel.clear();
    this.nextFresh = 0;
    this.freeTop = 0;
    this.totalWeight = 0;
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
    const maxEntries = bounds.maxEntries === undefined ? this._maxEntries : checkCount('maxEntries', bounds.maxEntries);
    let maxWeight = this._maxWeight;
    if (bounds.maxWeight !== undefined) {
      maxWeight = checkPositive('maxWeight', bounds.maxWeight);
      if (!this._byWeight) {
        throw new TypeError('cortado: resize() cannot add maxWeight to a cache created without it');
      }
    }
    this._maxEntries = maxEntries;
    // Slot arrays keep growing on demand up to the new bound (they never shrink).
    this.slotLimit = Math.max(this.slots, Math.min(maxEntries, 2 ** 31 - 1));
    this._maxWeight = maxWeight;
    this.policy.resize();
    this.shrinkToBounds();
    this.deliver();
  }

  // =====================================================================================
  // Iteration (live entries, oldest insertion first; expired entries are skipped)
  // =====================================================================================

  *entries(): IterableIterator<[K, V]> {
    for (const [key, slot] of this.index) {
      if (!this.isExpired(slot)) yield [key, this.valAt[slot]!];
    }
  }

  *keys(): IterableIterator<K> {
    for (const [key, slot] of this.index) {
      if (!this.isExpired(slot)) yield key;
    }
  }

  *values(): IterableIterator<V> {
    for (const slot of this.index.values()) {
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
    (this.taps ??= []).push(fn);
    this.listened = true;
    this.plain = false;
    return () => {
      const taps = this.taps;
      if (taps === null) return;
      const i = taps.indexOf(fn);
      if (i < 0) return;
      taps.splice(i, 1);
      if (taps.length === 0) this.taps = null;
      this.listened = this.listener !== undefined || this.taps !== null;
      this.plain = this.isPlain();
    };
  }

  /** @internal */ _now(): number {
    return this.clock();
  }
  /** @internal */ _slotOf(key: K): number {
    const slot = this.index.get(key);
    return slot === undefined ? -1 : slot;
  }
  /** @internal */ _valueAt(slot: number): V {
    return this.valAt[slot] as V;
  }
  /** @internal */ _freshUntil(slot: number): number {
    return this.expiring ? this.expiresAt[slot]! : NO_DEADLINE;
  }
  /** @internal */ _writtenAt(slot: number): number {
    return this.refreshAfter > 0 ? this.writtenAt[slot]! : 0;
  }
  /** @internal A fetch() served this slot: a hit, like get() (idle expiry pushed back when fresh). */
  _hit(slot: number, fresh: boolean): void {
    if (fresh && this.idleTtl > 0) this.touch(slot, this.clock());
    this.policy.onAccess(slot);
    this.hits++;
    if (hitChannel.hasSubscribers) hitChannel.publish({ cache: this, key: this.keyAt[slot] });
  }
  /** @internal */ _miss(key: K): void {
    this.misses++;
    if (missChannel.hasSubscribers) missChannel.publish({ cache: this, key });
  }
  /** @internal True when a value needs a weight that only set()/fetch() options can give (maxWeight, no weigher). */
  get _needsWeight(): boolean {
    return this._weighted && this.weigher === undefined;
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
  _expire(slot: number): void {
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
    const lookups = this.hits + this.misses;
    return {
      hits: this.hits,
      misses: this.misses,
      hitRatio: lookups === 0 ? 0 : this.hits / lookups,
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

  // =====================================================================================
  // Internals
  // =====================================================================================

  /** Validate per-call options before anything changes. */
  private readSetOptions(o: SetOptions): { ttl: number | undefined; weight: number | undefined } {
    if (o === null || typeof o !== 'object') {
      throw new TypeError(`cortado: set() options must be an object, got ${describe(o)}`);
    }
    const ttl = o.ttl === undefined ? undefined : checkDuration('ttl', o.ttl);
    let weight: number | undefined;
    if (o.weight !== undefined) {
      weight = checkWeight('weight', o.weight);
      if (!this._weighted) {
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

  /** The weight a new value will have; throws before any change when it is invalid. */
  /** @internal The hash of the key in `slot`, computed (for policies that do not keep it). */
  _hashAt(slot: number): number {
    return hashKey(this.keyAt[slot], this._seed);
  }

  private weigh(key: K, value: V, given: number): number {
    if (!this._weighted) return 1;
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
    if (w > this._maxWeight) return this.refuse(key, value);
    if (this.wheel !== null) this.wheel.advance(now, this.expireSlot);
    const hash = this.needsHash ? hashKey(key, this._seed) : 0;
    const policy = this.policy;
    policy.recordMiss(hash);
    const cost = this._byWeight ? w : 1;
    while (this.index.size + 1 > this._maxEntries || this.totalWeight + w > this._maxWeight) {
      const victim = policy.evictFor(hash, cost);
      if (victim === REJECT) return this.refuse(key, value);
      if (victim === NO_SLOT) throw new Error(`cortado: policy ${this.policyName} found no victim in a full cache`);
      this.evictSlot(victim);
    }
    const slot = this.allocate();
    this.keyAt[slot] = key;
    this.valAt[slot] = value;
    if (this._weighted) this._weights[slot] = w;
    if (this._storeHash) this._hashes[slot] = hash;
    this.index.set(key, slot);
    this.totalWeight += w;
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
    const index = this.index;
    const found = index.get(key);
    const policy = this.policy;
    if (found !== undefined) {
      const old = this.valAt[found];
      this.valAt[found] = value;
      policy.onUpdate(found, 1);
      this.updates++;
      if (removeChannel.hasSubscribers && old !== value) removeChannel.publish({ cache: this, key, value: old, cause: 'replaced' });
      if (setChannel.hasSubscribers) setChannel.publish({ cache: this, key, value, stored: true });
      return true;
    }
    const hash = this.needsHash ? hashKey(key, this._seed) : 0;
    policy.recordMiss(hash);
    let slot: number;
    let victimKey: K | undefined;
    let victimValue: V | undefined;
    if (index.size < this._maxEntries) slot = this.allocate();
    else {
      slot = policy.evictFor(hash, 1);
      if (slot < 0) return this.noVictim(key, value, slot);
      if (removeChannel.hasSubscribers) {
        victimKey = this.keyAt[slot];
        victimValue = this.valAt[slot];
      }
      index.delete(this.keyAt[slot] as K);
      this.evictions++;
      this.evictedWeight++;
      // A resize() below the current size evicts down to the bound at once, so one victim
      // always makes room here.
    }
    this.keyAt[slot] = key;
    this.valAt[slot] = value;
    if (this._storeHash) this._hashes[slot] = hash;
    index.set(key, slot);
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
    if (w > this._maxWeight) {
      // The old value is superseded by one that cannot be kept: drop both.
      this.removeSlot(slot, 'replaced', true);
      return this.refuse(key, value);
    }
    const oldCost = this._byWeight ? this._weights[slot]! : 1;
    this.valAt[slot] = value;
    if (this._weighted) {
      this.totalWeight += w - this._weights[slot]!;
      this._weights[slot] = w;
    }
    if (this.expiring) this.scheduleWrite(slot, ttl, now);
    if (this.refreshAfter > 0) this.writtenAt[slot] = now;
    this.policy.onUpdate(slot, oldCost);
    this.updates++;
    if (old !== value) this.enqueue(key, old, 'replaced');
    if (this.totalWeight > this._maxWeight) this.shrinkToBounds();
    this.deliver();
    return this.index.get(key) === slot;
  }

  private refuse(key: K, value: V): false {
    this.rejections++;
    this.enqueue(key, value, 'rejected');
    this.deliver();
    return false;
  }

  private shrinkToBounds(): void {
    while (this.index.size > this._maxEntries || this.totalWeight > this._maxWeight) {
      const victim = this.policy.evict();
      if (victim === NO_SLOT) throw new Error(`cortado: policy ${this.policyName} found no victim in a full cache`);
      this.evictSlot(victim);
    }
  }

  private evictSlot(slot: number): void {
    this.evictions++;
    this.evictedWeight += this._weighted ? this._weights[slot]! : 1;
    this.removeSlot(slot, 'evicted', false);
  }

  /** Free `slot`; `tellPolicy` is false when the policy itself chose it (already unlinked). */
  private removeSlot(slot: number, cause: RemovalCause, tellPolicy: boolean): void {
    const key = this.keyAt[slot] as K;
    const value = this.valAt[slot] as V;
    this.index.delete(key);
    if (tellPolicy) this.policy.onRemove(slot);
    if (this.wheel !== null) this.wheel.unschedule(slot);
    if (this._weighted) this.totalWeight -= this._weights[slot]!;
    if (this.index.size === 0) this.totalWeight = 0; // no float drift once empty
    this.keyAt[slot] = undefined;
    this.valAt[slot] = undefined;
    if (this.freeTop === this.free.length) this.free = growInt32(this.free, this.free.length * 2);
    this.free[this.freeTop++] = slot;
    if (cause === 'expired') this.expirations++;
    this.enqueue(key, value, cause);
  }

  /** Timer-wheel callback (bound once; the wheel has already unscheduled the slot). */
  private readonly expireSlot = (slot: number): void => {
    this.removeSlot(slot, 'expired', true);
  };

  private allocate(): number {
    if (this.freeTop > 0) return this.free[--this.freeTop]!;
    if (this.nextFresh === this.slots) this.grow();
    return this.nextFresh++;
  }

  private grow(): void {
    const n = Math.min(this.slots * 2, this.slotLimit);
    if (n <= this.slots) throw new Error('cortado: slot store is full');
    this.keyAt.length = n;
    this.valAt.length = n;
    this.keyAt.fill(undefined, this.slots);
    this.valAt.fill(undefined, this.slots);
    if (this._weighted) this._weights = growFloat64(this._weights, n);
    if (this._storeHash) this._hashes = growInt32(this._hashes, n);
    if (this.expiring) {
      this.expiresAt = growFloat64(this.expiresAt, n);
      this.expiresAt.fill(NO_DEADLINE, this.slots);
      if (this.idleTtl > 0) {
        this.writeDeadline = growFloat64(this.writeDeadline, n);
        this.writeDeadline.fill(NO_DEADLINE, this.slots);
      }
      this.wheel!.grow(n);
    }
    this.policy.grow(n);
    if (this.refreshAfter > 0) this.writtenAt = growFloat64(this.writtenAt, n);
    this.slots = n;
  }

  /** Turn expiry on (at construction, or on the first per-call ttl). */
  private enableExpiry(): void {
    const now = this.clock(); // first: a clock that throws leaves nothing half-enabled
    this.expiresAt = new Float64Array(this.slots).fill(NO_DEADLINE);
    if (this.idleTtl > 0) this.writeDeadline = new Float64Array(this.slots).fill(NO_DEADLINE);
    this.wheel = new TimerWheel(this.slots, now);
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

  private enqueue(key: K, value: V, cause: RemovalCause): void {
    if (!this.listened && !removeChannel.hasSubscribers) return;
    // A Map key -0 is the key 0 (SameValueZero); report it as the Map would.
    if ((key as unknown) === 0) key = 0 as K;
    const i = this.evCount++;
    this.evKeys[i] = key;
    this.evVals[i] = value;
    this.evCauses[i] = cause;
  }

  /**
   * Deliver queued removal events. Runs once the cache is consistent; a listener may call
   * back into the cache, and the events that call causes are delivered by this same loop.
   * A listener that throws does not stop delivery of the others: the first error is
   * rethrown after the queue is drained (the operation itself has taken effect).
   */
  private deliver(): void {
    if (this.evCount === 0 || this.delivering) return;
    const listener = this.listener;
    const taps = this.taps;
    const publish = removeChannel.hasSubscribers;
    this.delivering = true;
    let failed = false;
    let error: unknown;
    try {
      for (let i = 0; i < this.evCount; i++) {
        const key = this.evKeys[i] as K;
        const value = this.evVals[i] as V;
        this.evKeys[i] = undefined;
        this.evVals[i] = undefined;
        const cause = this.evCauses[i]!;
        if (publish) {
          try {
            removeChannel.publish({ cache: this, key, value, cause });
          } catch (e) {
            if (!failed) {
              failed = true;
              error = e;
            }
          }
        }
        if (taps !== null) {
          // Internal listeners first: a tier hears an eviction even when the user's throws.
          for (let t = 0; t < taps.length; t++) {
            try {
              taps[t]!(key, value, cause);
            } catch (e) {
              if (!failed) {
                failed = true;
                error = e;
              }
            }
          }
        }
        if (listener === undefined) continue;
        try {
          listener(key, value, cause);
        } catch (e) {
          if (!failed) {
            failed = true;
            error = e;
          }
        }
      }
    } finally {
      this.evCount = 0;
      this.delivering = false;
    }
    if (!failed) return;
    if (this.quiet === 0) throw error;
    process.nextTick(() => {
      throw error;
    });
  }

  /**
   * @internal Walk every structure and throw on the first broken invariant (tests only).
   */
  _validate(): void {
    const live = new Set<number>();
    for (const [key, slot] of this.index) {
      if (slot < 0 || slot >= this.nextFresh) throw new Error(`store: key maps to slot ${slot} outside 0..${this.nextFresh}`);
      if (live.has(slot)) throw new Error(`store: slot ${slot} mapped twice`);
      if (!Object.is(this.keyAt[slot], key) && !(this.keyAt[slot] === key)) throw new Error(`store: slot ${slot} holds another key`);
      live.add(slot);
    }
    const freeSet = new Set<number>();
    for (let i = 0; i < this.freeTop; i++) {
      const s = this.free[i]!;
      if (live.has(s)) throw new Error(`store: live slot ${s} on the free list`);
      if (freeSet.has(s)) throw new Error(`store: slot ${s} twice on the free list`);
      if (this.valAt[s] !== undefined || this.keyAt[s] !== undefined) throw new Error(`store: free slot ${s} still holds a key or value`);
      freeSet.add(s);
    }
    if (live.size + freeSet.size !== this.nextFresh) {
      throw new Error(`store: ${live.size} live + ${freeSet.size} free != ${this.nextFresh} used slots`);
    }
    if (this._weighted) {
      let total = 0;
      for (const s of live) total += this._weights[s]!;
      if (Math.abs(total - this.totalWeight) > 1e-6 * Math.max(1, total)) throw new Error(`store: weight ${this.totalWeight} != sum ${total}`);
    }
    if (this.index.size > this._maxEntries) throw new Error(`bound: ${this.index.size} entries > maxEntries ${this._maxEntries}`);
    if (this.totalWeight > this._maxWeight * (1 + 1e-12)) throw new Error(`bound: weight ${this.totalWeight} > maxWeight ${this._maxWeight}`);
    if (this._storeHash) {
      for (const s of live) {
        if (this._hashes[s] !== hashKey(this.keyAt[s], this._seed)) throw new Error(`store: slot ${s} hash is stale`);
      }
    }
    this.policy.validate((s) => live.has(s), this.index.size);
    if (this.wheel !== null) {
      const wheel = this.wheel;
      this.wheel.validate((s) => live.has(s));
      for (const s of live) {
        const finite = this.expiresAt[s] !== NO_DEADLINE;
        if (finite !== wheel.isScheduled(s)) throw new Error(`expiry: slot ${s} deadline ${this.expiresAt[s]} but scheduled=${wheel.isScheduled(s)}`);
      }
    }
    if (this.evCount !== 0 && !this.delivering) throw new Error(`events: ${this.evCount} undelivered`);
    if (this.loads !== null) this.loads.validate();
  }
}
