/**
 * TieredCache: a memory `Cache` in front of an ordered list of lower tiers (disk, Redis, a
 * user's own), with promotion, spilling, single-flight loads and cross-process invalidation.
 *
 * Shape, after CacheLib's HybridCache (DRAM in front of Navy): a read tries memory, then each
 * tier in order; a lower hit is promoted to memory with the ttl it has left below, so memory
 * never keeps a value longer than the tier would. A tier is written either 'on-evict' (memory's
 * victims go down, as CacheLib's hybrid does) or 'through' (every write goes down, the usual
 * shape for a shared Redis level). Values cross into tiers as bytes made by a `Codec`.
 *
 * Ordering, the part that is easy to get wrong. Tier calls are asynchronous and may overlap,
 * so three rules keep an old value from coming back:
 * 1. Per key and per tier, writes (sets, deletes, spills) run one after another in call order
 *    (a promise chain per key that exists only while something is in flight for that key).
 *    A read of a tier waits for the writes of that key queued before it (read-your-writes).
 * 2. Every key in flight carries a version, bumped by every set, delete and invalidation; a
 *    global epoch is bumped by every clear. A spill or promotion whose version or epoch moved
 *    since it started is dropped (Caffeine's "generation check at commit", also what
 *    loading.ts does for loads). So a delete during an in-flight spill wins.
 * 3. `clear()` puts a barrier on each tier: it waits for the writes already queued, clears,
 *    and every call queued after it waits for the clear.
 * A `set` also deletes the key from 'on-evict' tiers (they may hold an older copy that would
 * otherwise come back when memory drops the new one), as CacheLib removes the NVM copy on an
 * insert into DRAM.
 *
 * Failure: a tier error or timeout on a read is counted and read as a miss, so an outage never
 * fails a get that memory or the loader can answer. A write that a tier fails (the 'through'
 * set, the 'on-evict' delete, a delete, a clear) rejects with `TierWriteError` once every layer
 * has been tried, and the key is dropped from memory, so this process does not go on serving a
 * value the tier below may contradict. Spills are best effort: bounded in-flight bytes per
 * tier, over the bound a spill is dropped and counted (CacheLib's Navy refuses rather than
 * queues, too).
 *
 * Invalidation: delete/set/clear publish on the bus after the tiers have the change (so another
 * process that drops its copy and reads the shared tier finds the new value). A message from
 * another process drops the key from memory and from tiers that are not `shared` (a local disk
 * holds copies only this process made); `onGap` clears them, since any message may be lost.
 */
import { Cache } from '../cache.js';
import { type Codec, type CodecName, resolveCodec } from '../codec.js';
import { AbortError, LoaderMissingError, TimeoutError } from '../errors.js';
import { deadline } from '../internal/deadline.js';
import { type CacheStats, type RemovalCause, checkDuration, checkFunction, checkTimerDuration, describe } from '../options.js';
import { tierKeyId } from './args.js';
import type { Invalidation, InvalidationBus } from './bus.js';
import { TierClosedError, TierTimeoutError } from './errors.js';
import type { Tier, TierEntry, TierKey, TierStats } from './tier.js';

/** How a tier is written: memory's victims only, or every write. */
export type WriteMode = 'on-evict' | 'through';

export interface TierLayer {
  tier: Tier;
  write: WriteMode;
  /** ms a call to this tier may take before TieredCache gives up on it (default 1000; 0: no limit). */
  timeout?: number | undefined;
  /**
   * Whether other processes read and write this tier too (Redis). A bus message drops the key
   * from memory and from every tier that is not shared. Default: true for 'through', false for
   * 'on-evict'.
   */
  shared?: boolean | undefined;
  /** Bytes of spills in flight to this tier at most; a spill over it is dropped and counted (default 16 MiB). */
  maxInFlightBytes?: number | undefined;
}

/** Loads a missing key for fetch(); resolving undefined means "no value" (nothing is stored). */
export type TieredLoader<K, V> = (key: K, ctx: { signal: AbortSignal }) => Promise<V | undefined> | V | undefined;

/** Called with every error TieredCache absorbs instead of throwing (tier reads, spills, bus). */
export type TieredErrorHandler = (error: unknown, context: { op: string; tier?: string | undefined }) => void;

export interface TieredCacheOptions<K, V> {
  /** The memory layer (any policy, any bound). Write through the TieredCache, not to it directly. */
  memory: Cache<K, V>;
  /** Lower tiers, fastest first. */
  tiers: readonly TierLayer[];
  /** How values become bytes (default 'v8': Date, Map, Set, BigInt, Buffers survive). */
  codec?: Codec<V> | CodecName | undefined;
  /** A key's tier key. Default: strings and Uint8Arrays as they are, numbers and bigints as String(key). */
  key?: ((key: K) => TierKey) | undefined;
  /**
   * With a custom `key` and a bus: the memory keys a tier key (as sent on the bus) stands for.
   * Without it, a bus message clears memory (the key cannot be found).
   */
  parseKey?: ((tierKey: string) => K | readonly K[]) | undefined;
  /** Tells other processes what changed, and hears what they changed. */
  bus?: InvalidationBus | undefined;
  /** Loads a key that no layer has, for fetch(). The memory Cache's own loader is not used. */
  loader?: TieredLoader<K, V> | undefined;
  /** Default time-to-live in ms of set() and loaded values in every layer (0: none; absent: memory's own ttl). */
  ttl?: number | undefined;
  /** ms a load may run; a longer one is aborted and fails with a TimeoutError (0 or absent: no limit). */
  loadTimeout?: number | undefined;
  /** Hears every error that TieredCache counts instead of throwing. */
  onError?: TieredErrorHandler | undefined;
}

export interface TieredSetOptions {
  /** Time-to-live in ms in every layer (0: none); default the TieredCache's `ttl`. */
  ttl?: number | undefined;
}

export interface TieredFetchOptions<K, V> {
  /** Gives up this caller only; the shared load is aborted when no caller is left. */
  signal?: AbortSignal | undefined;
  /** Loader for this call when it starts the load (overrides `loader`). */
  loader?: TieredLoader<K, V> | undefined;
  /** Time-to-live of the loaded value, when this call starts the load. */
  ttl?: number | undefined;
}

/**
 * One tier's own counters (TierStats and whatever the tier adds, e.g. DiskTier's device
 * `inFlightBytes`) beside what TieredCache saw of it; the names of the latter are chosen not to
 * collide with a tier's.
 */
export interface TieredLayerStats extends TierStats {
  [tierField: string]: unknown;
  name: string;
  write: WriteMode;
  /** Bytes of spills queued or being written now (bounded by maxInFlightBytes). */
  spillBytesInFlight: number;
  /** Spills written. */
  spills: number;
  /** Spills dropped: over maxInFlightBytes, or superseded by a later write before they ran. */
  spillsDropped: number;
  /** Victims not written because they were promoted from this tier unchanged (it still has them). */
  spillsAvoided: number;
  /** Values found in this tier and promoted to memory. */
  promotions: number;
  /** Calls that failed or timed out, as TieredCache saw them. */
  callFailures: number;
  /** Calls that ran past the layer's `timeout`. */
  callTimeouts: number;
}

export interface TieredStats {
  memory: CacheStats;
  tiers: TieredLayerStats[];
  /** get()/fetch() answered by some layer, without a load. */
  hits: number;
  /** get() calls no layer could answer, and fetch() calls that loaded. */
  misses: number;
  /** Values promoted from a lower tier into memory. */
  promotions: number;
  loads: number;
  loadFailures: number;
  /** Values a codec could not encode (spills skipped) or decode (read as misses). */
  encodeErrors: number;
  decodeErrors: number;
  invalidationsSent: number;
  invalidationsReceived: number;
  publishFailures: number;
  /** Times the bus said messages may have been lost (memory and local tiers were cleared). */
  gaps: number;
}

/** A write that one or more tiers failed; the change may be missing from them. */
export class TierWriteError extends Error {
  override readonly name = 'TierWriteError';
  readonly code = 'ERR_CORTADO_TIER_WRITE';
  /** The operation ('set', 'delete', 'clear'). */
  readonly op: string;
  /** Each failing tier and its error. */
  readonly failures: readonly { tier: string; error: unknown }[];
  constructor(op: string, failures: { tier: string; error: unknown }[]) {
    const names = failures.map((f) => JSON.stringify(f.tier)).join(', ');
    super(`cortado: ${op}() failed in tier ${names}: ${failures[0]?.error instanceof Error ? failures[0].error.message : String(failures[0]?.error)}`, {
      cause: failures[0]?.error,
    });
    this.op = op;
    this.failures = failures;
  }
}

// ---------------------------------------------------------------------------------------

/** One layer below memory, with its queue bookkeeping and counters. */
class Layer {
  readonly name: string;
  /** Writes queued or running (settled promises), for clear() and close() to wait on. */
  readonly pending = new Set<Promise<void>>();
  /** A clear in progress: calls queued after it wait for it. */
  barrier: Promise<void> | null = null;
  inFlightBytes = 0;
  spills = 0;
  spillsDropped = 0;
  spillsAvoided = 0;
  promotions = 0;
  failures = 0;
  timeouts = 0;
  constructor(
    readonly tier: Tier,
    readonly index: number,
    readonly write: WriteMode,
    readonly timeout: number,
    readonly shared: boolean,
    readonly maxInFlightBytes: number,
  ) {
    this.name = tier.name;
  }
}

/** Per-key state, present only while some call on the key is in flight. */
interface KeyState<V> {
  readonly id: string;
  version: number;
  refs: number;
  /** Per layer: the last write queued for this key (settled-never-rejects). */
  readonly tails: (Promise<void> | undefined)[];
  /** A value being spilled that is still the key's current value (served to gets meanwhile). */
  spill: V | undefined;
  spillVersion: number;
  spillDeadline: number;
}

/** A write queued on one layer, as set/delete/clear wait for them. */
interface Write {
  readonly layer: Layer;
  readonly done: Promise<void>;
}

interface Flight<V> {
  readonly promise: Promise<V | undefined>;
  readonly controller: AbortController;
  waiters: number;
}

const KNOWN = new Set(['memory', 'tiers', 'codec', 'key', 'parseKey', 'bus', 'loader', 'ttl', 'loadTimeout', 'onError']);
const LAYER_KNOWN = new Set(['tier', 'write', 'timeout', 'shared', 'maxInFlightBytes']);
/** Default bound of a tier call: long enough for a loaded disk or a distant Redis, short enough that a hung one is noticed. */
const DEFAULT_TIMEOUT = 1_000;
/** Default spill bytes in flight per tier: a few region writes' worth (CacheLib's Navy regions are 16 MiB). */
const DEFAULT_MAX_IN_FLIGHT = 16 * 2 ** 20;
/** Prefix of a Uint8Array tier key on the bus (base64 follows); a string key goes as it is. */
const BINARY_PREFIX = '\u0000b64:';
const noop = (): void => {};

function defaultKey(key: unknown): TierKey {
  if (typeof key === 'string' || key instanceof Uint8Array) return key;
  if (typeof key === 'number' || typeof key === 'bigint') return String(key);
  throw new TypeError(`cortado: TieredCache keys must be strings, Uint8Arrays, numbers or bigints (or give the 'key' option), got ${describe(key)}`);
}

export class TieredCache<K, V> {
  private readonly memory: Cache<K, V>;
  private readonly layers: Layer[];
  private readonly onEvictLayers: Layer[];
  private readonly codec: Codec<V>;
  private readonly keyFn: (key: K) => TierKey;
  private readonly customKey: boolean;
  private readonly parseKey: ((tierKey: string) => K | readonly K[]) | undefined;
  private readonly bus: InvalidationBus | undefined;
  private readonly loader: TieredLoader<K, V> | undefined;
  /** Default ttl of writes in ms; undefined: the memory Cache's own. */
  private readonly ttl: number | undefined;
  /** The memory Cache's default ttl (0: none), the cap on what is promoted into it. */
  private readonly memoryTtl: number;
  private readonly loadTimeout: number;
  private readonly onError: TieredErrorHandler | undefined;
  private readonly untap: () => void;

  private readonly states = new Map<string, KeyState<V>>();
  private readonly flights = new Map<string, Flight<V>>();
  /** Write deadlines of memory entries with a finite ttl, so a spill carries what is left. */
  private readonly deadlines = new Map<K, number>();
  /**
   * Memory entries promoted from an 'on-evict' tier and not written since: that tier still has
   * the same bytes, so evicting them again writes nothing there (CacheLib's "NvmClean" mark).
   */
  private readonly clean = new Map<K, Layer>();
  /** A write into memory in progress (storeInMemory), for the removal tap. */
  private writing = false;
  private writingKey: K | undefined = undefined;
  private writingDeadline = Infinity;
  private epoch = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly subscribed: Promise<void>;
  /** True once a Uint8Array key was used: memory entries keyed by one cannot be found from a bus message. */
  private binaryKeys = false;

  private hits = 0;
  private misses = 0;
  private promotions = 0;
  private loads = 0;
  private loadFailures = 0;
  private encodeErrors = 0;
  private decodeErrors = 0;
  private invalidationsSent = 0;
  private invalidationsReceived = 0;
  private publishFailures = 0;
  private gaps = 0;

  constructor(options: TieredCacheOptions<K, V>) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`cortado: TieredCache options must be an object, got ${describe(options)}`);
    }
    for (const k of Object.keys(options)) {
      if (!KNOWN.has(k)) throw new TypeError(`cortado: unknown TieredCache option ${JSON.stringify(k)}`);
    }
    const o = options;
    if (!(o.memory instanceof Cache)) {
      throw new TypeError(`cortado: TieredCache option 'memory' must be a Cache, got ${describe(o.memory)}`);
    }
    if (!Array.isArray(o.tiers)) throw new TypeError(`cortado: TieredCache option 'tiers' must be an array of { tier, write }, got ${describe(o.tiers)}`);
    const seen = new Set<Tier>();
    this.layers = o.tiers.map((layer, i) => {
      const where = `tiers[${i}]`;
      if (layer === null || typeof layer !== 'object') throw new TypeError(`cortado: TieredCache option '${where}' must be { tier, write }, got ${describe(layer)}`);
      for (const k of Object.keys(layer)) {
        if (!LAYER_KNOWN.has(k)) throw new TypeError(`cortado: unknown TieredCache option '${where}.${k}'`);
      }
      const tier = layer.tier;
      const methods = ['get', 'set', 'delete', 'clear', 'close', 'stats'] as const;
      if (tier === null || typeof tier !== 'object' || methods.some((m) => typeof (tier as unknown as Record<string, unknown>)[m] !== 'function')) {
        throw new TypeError(`cortado: TieredCache option '${where}.tier' must be a Tier (get, set, delete, clear, close, stats), got ${describe(tier)}`);
      }
      if (typeof tier.name !== 'string') throw new TypeError(`cortado: TieredCache option '${where}.tier' must have a string name`);
      if (seen.has(tier)) throw new TypeError(`cortado: TieredCache option '${where}.tier' is given twice`);
      seen.add(tier);
      if (layer.write !== 'on-evict' && layer.write !== 'through') {
        throw new TypeError(`cortado: TieredCache option '${where}.write' must be 'on-evict' or 'through', got ${describe(layer.write)}`);
      }
      const timeout = layer.timeout === undefined ? DEFAULT_TIMEOUT : checkTimerDuration(`${where}.timeout`, layer.timeout);
      if (layer.shared !== undefined && typeof layer.shared !== 'boolean') {
        throw new TypeError(`cortado: TieredCache option '${where}.shared' must be a boolean, got ${describe(layer.shared)}`);
      }
      const max = layer.maxInFlightBytes;
      if (max !== undefined && (typeof max !== 'number' || !(max >= 0) || max === Infinity)) {
        throw new RangeError(`cortado: TieredCache option '${where}.maxInFlightBytes' must be a finite number >= 0, got ${describe(max)}`);
      }
      return new Layer(tier, i, layer.write, timeout, layer.shared ?? layer.write === 'through', max ?? DEFAULT_MAX_IN_FLIGHT);
    });
    this.onEvictLayers = this.layers.filter((l) => l.write === 'on-evict');
    this.codec = resolveCodec<V>("TieredCache option 'codec'", o.codec, 'v8');
    checkFunction('key', o.key);
    checkFunction('parseKey', o.parseKey);
    checkFunction('loader', o.loader);
    checkFunction('onError', o.onError);
    this.customKey = o.key !== undefined;
    this.keyFn = o.key ?? (defaultKey as (key: K) => TierKey);
    this.parseKey = o.parseKey;
    if (o.bus !== undefined) {
      const bus = o.bus as unknown as Record<string, unknown>;
      if (bus === null || typeof bus !== 'object' || typeof bus.subscribe !== 'function' || typeof bus.publish !== 'function' || typeof bus.close !== 'function') {
        throw new TypeError(`cortado: TieredCache option 'bus' must be an InvalidationBus (subscribe, publish, close), got ${describe(o.bus)}`);
      }
    }
    this.bus = o.bus;
    this.loader = o.loader;
    this.ttl = o.ttl === undefined ? undefined : checkDuration('ttl', o.ttl);
    this.loadTimeout = o.loadTimeout === undefined ? 0 : checkTimerDuration('loadTimeout', o.loadTimeout);
    this.onError = o.onError;
    this.memory = o.memory;
    this.memoryTtl = this.memory._defaultTtl();
    this.untap = this.memory._tap(this.onRemoval);
    this.subscribed =
      this.bus === undefined
        ? Promise.resolve()
        : this.bus.subscribe(
            (message) => this.onMessage(message),
            () => this.onGap(),
          );
    // A failed subscription is reported by ready(); it must not escape as unhandled.
    this.subscribed.catch((e: unknown) => this.report(e, 'subscribe'));
  }

  /** Resolves once the bus is subscribed (at once without a bus); rejects when subscribing failed. */
  ready(): Promise<void> {
    return this.subscribed;
  }

  // =====================================================================================
  // Reads
  // =====================================================================================

  /** The value of `key` from memory or the first tier that has it (promoted to memory), or undefined. */
  get(key: K): Promise<V | undefined> {
    // Not an async function: a memory hit costs one resolved promise and nothing else.
    if (this.closed) return Promise.reject(new TierClosedError('cortado: get() on a closed TieredCache'));
    const v = this.memory.get(key);
    if (v !== undefined) {
      this.hits++;
      return Promise.resolve(v);
    }
    return this.getBelow(key);
  }

  private async getBelow(key: K): Promise<V | undefined> {
    const found = await this.lookDown(key, this.tierKey(key));
    if (found === undefined) this.misses++;
    else this.hits++;
    return found;
  }

  /** Whether some layer holds `key` (no promotion, no effect on memory's order). */
  async has(key: K): Promise<boolean> {
    this.open('has');
    if (this.memory.has(key)) return true;
    const tk = this.tierKey(key);
    const id = tierKeyId(tk);
    const state = this.states.get(id);
    if (state !== undefined && state.spill !== undefined && state.spillVersion === state.version) return true;
    for (const layer of this.layers) {
      const entry = await this.readTier(layer, tk, id);
      if (entry !== undefined) return true;
    }
    return false;
  }

  /**
   * The value of `key` from any layer, or else from the loader (stored in memory and in
   * 'through' tiers). Concurrent fetches of one key share one walk down the tiers and one load.
   */
  fetch(key: K, options?: TieredFetchOptions<K, V>): Promise<V | undefined> {
    try {
      this.open('fetch');
      if (options !== undefined && (options === null || typeof options !== 'object')) {
        throw new TypeError(`cortado: fetch() options must be an object, got ${describe(options)}`);
      }
      const signal = options?.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`cortado: fetch() signal must be an AbortSignal, got ${describe(signal)}`);
      checkFunction('loader', options?.loader);
      const ttl = options?.ttl === undefined ? this.ttl : checkDuration('ttl', options.ttl);
      const v = this.memory.get(key);
      if (v !== undefined) {
        this.hits++;
        return Promise.resolve(v);
      }
      const tk = this.tierKey(key);
      const id = tierKeyId(tk);
      let flight = this.flights.get(id);
      if (flight === undefined) {
        const loader = options?.loader ?? this.loader;
        if (loader === undefined) throw new LoaderMissingError('cortado: fetch() needs a loader (the TieredCache loader option, or fetch(key, { loader }))');
        flight = this.startFlight(key, tk, id, loader, ttl);
      }
      return this.wait(flight, id, signal);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // =====================================================================================
  // Writes
  // =====================================================================================

  /**
   * Store `value` in memory and in every 'through' tier (and remove older copies from
   * 'on-evict' tiers), then tell other processes. Resolves once every layer has the change;
   * rejects with TierWriteError when a tier failed (the key is then dropped from memory).
   * An unencodable value is a TypeError before anything changes.
   */
  async set(key: K, value: V, options?: TieredSetOptions): Promise<void> {
    this.open('set');
    if (value === undefined) throw new TypeError('cortado: set() value must not be undefined (use delete())');
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`cortado: set() options must be an object, got ${describe(options)}`);
    }
    const ttl = options?.ttl === undefined ? this.ttl : checkDuration('ttl', options.ttl);
    const tk = this.tierKey(key);
    const id = tierKeyId(tk);
    // Encode first: an unencodable value changes nothing.
    const bytes = this.layers.length > 0 ? this.codec.encode(value) : undefined;
    const state = this.acquire(id);
    try {
      this.supersede(state);
      const remaining = this.lifeOf(ttl);
      const stored = this.storeInMemory(key, value, ttl, remaining);
      const version = state.version;
      const writes: Write[] = [];
      for (const layer of this.layers) {
        if (layer.write === 'through' || !stored) {
          // A value memory refused goes straight to the on-evict tiers, unless memory evicted
          // it at once (then its spill is already queued).
          if (layer.write === 'on-evict' && state.spill !== undefined && state.spillVersion === version) continue;
          writes.push({ layer, done: this.enqueue(layer, state, 'set', () => invoke(() => layer.tier.set(tk, bytes!, { ttl: tierTtl(remaining) }))) });
        } else {
          writes.push({ layer, done: this.enqueue(layer, state, 'delete', () => invoke(() => layer.tier.delete(tk))) });
        }
      }
      const failures = await this.settle(writes);
      if (failures.length > 0 && state.version === version) this.memory.delete(key);
      await this.publish({ type: 'delete', keys: [busKey(tk)] });
      if (failures.length > 0) throw new TierWriteError('set', failures);
    } finally {
      this.release(state);
    }
  }

  /**
   * Remove `key` from every layer, then tell other processes. Resolves true when some layer
   * held it; rejects with TierWriteError when a tier failed to delete it.
   */
  async delete(key: K): Promise<boolean> {
    this.open('delete');
    const tk = this.tierKey(key);
    const id = tierKeyId(tk);
    const state = this.acquire(id);
    try {
      this.supersede(state);
      let found = this.memory.delete(key);
      const writes = this.layers.map((layer) => ({
        layer,
        done: this.enqueue(layer, state, 'delete', () =>
          invoke(() => layer.tier.delete(tk)).then((had) => {
            if (had) found = true;
          }),
        ),
      }));
      const failures = await this.settle(writes);
      await this.publish({ type: 'delete', keys: [busKey(tk)] });
      if (failures.length > 0) throw new TierWriteError('delete', failures);
      return found;
    } finally {
      this.release(state);
    }
  }

  /** Remove everything from memory and every tier, then tell other processes. */
  async clear(): Promise<void> {
    this.open('clear');
    this.dropLocal();
    const failures = await this.settle(this.layers.map((layer) => ({ layer, done: this.clearTier(layer) })));
    await this.publish({ type: 'clear' });
    if (failures.length > 0) throw new TierWriteError('clear', failures);
  }

  /**
   * Resolves once every spill and write queued so far (and any queued meanwhile) has settled,
   * or once a tier has made no progress for its `timeout` (a hung tier is not waited for
   * forever; its writes stay queued behind the hung one).
   */
  async flush(): Promise<void> {
    await Promise.all(this.layers.map((l) => this.flushLayer(l)));
  }

  private async flushLayer(layer: Layer): Promise<void> {
    for (;;) {
      const pending = [...layer.pending];
      if (layer.barrier !== null) pending.push(layer.barrier);
      if (pending.length === 0) return;
      if (layer.timeout === 0) {
        await Promise.allSettled(pending);
        continue;
      }
      // Progress means: some pending write settled within the timeout.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<boolean>((resolve) => {
        timer = setTimeout(resolve, layer.timeout, true);
      });
      const gaveUp = await Promise.race([Promise.race(pending).then(() => false), stalled]);
      clearTimeout(timer);
      if (gaveUp) return;
    }
  }

  /**
   * Wait for queued spills and writes, stop hearing memory and the bus, close the bus and
   * every tier. Later calls reject with TierClosedError; idempotent. The memory Cache is left
   * as it is (it belongs to the caller).
   *
   * `spillMemory: true` first writes every live memory entry to the 'on-evict' tiers (with the
   * ttl it has left), so a tier that persists (DiskTier) restarts warm with the hot set too.
   */
  close(options?: { spillMemory?: boolean | undefined }): Promise<void> {
    if (this.closing !== null) return this.closing;
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      return Promise.reject(new TypeError(`cortado: close() options must be an object, got ${describe(options)}`));
    }
    const spill = options?.spillMemory;
    if (spill !== undefined && typeof spill !== 'boolean') {
      return Promise.reject(new TypeError(`cortado: close() option 'spillMemory' must be a boolean, got ${describe(spill)}`));
    }
    this.closed = true;
    this.untap();
    this.closing = (async () => {
      for (const f of this.flights.values()) f.controller.abort(new AbortError('cortado: the TieredCache was closed'));
      this.flights.clear();
      if (spill === true) await this.spillMemory();
      await this.flush();
      if (this.bus !== undefined) await this.bus.close().catch((e: unknown) => this.report(e, 'bus.close'));
      await Promise.allSettled(this.layers.map((l) => this.bound(l, 'close', invoke(() => l.tier.close())).catch((e: unknown) => this.report(e, 'close', l))));
    })();
    return this.closing;
  }

  /** Counters of every layer and of the facade. */
  stats(): TieredStats {
    return {
      memory: this.memory.stats(),
      tiers: this.layers.map((l) => {
        let own: TierStats;
        try {
          own = l.tier.stats();
        } catch {
          own = { hits: 0, misses: 0, writes: 0, bytesWritten: 0, rejected: 0, errors: 0, corruptions: 0 };
        }
        return {
          ...own,
          name: l.name,
          write: l.write,
          spillBytesInFlight: l.inFlightBytes,
          spills: l.spills,
          spillsDropped: l.spillsDropped,
          spillsAvoided: l.spillsAvoided,
          promotions: l.promotions,
          callFailures: l.failures,
          callTimeouts: l.timeouts,
        };
      }),
      hits: this.hits,
      misses: this.misses,
      promotions: this.promotions,
      loads: this.loads,
      loadFailures: this.loadFailures,
      encodeErrors: this.encodeErrors,
      decodeErrors: this.decodeErrors,
      invalidationsSent: this.invalidationsSent,
      invalidationsReceived: this.invalidationsReceived,
      publishFailures: this.publishFailures,
      gaps: this.gaps,
    };
  }

  get [Symbol.toStringTag](): string {
    return 'TieredCache';
  }

  /**
   * @internal For tests: keys with state in flight, loads in flight, and recorded deadlines
   * that have no memory entry (all three are 0 once everything settled and nothing leaked).
   */
  _inFlight(): { keys: number; flights: number; strayDeadlines: number; strayClean: number } {
    let strayDeadlines = 0;
    for (const key of this.deadlines.keys()) if (!this.memory.has(key)) strayDeadlines++;
    let strayClean = 0;
    for (const key of this.clean.keys()) if (!this.memory.has(key)) strayClean++;
    return { keys: this.states.size, flights: this.flights.size, strayDeadlines, strayClean };
  }

  // =====================================================================================
  // Internals: looking down, promoting
  // =====================================================================================

  /** Walk the tiers for a key memory does not have; promote what is found. */
  private async lookDown(key: K, tk: TierKey, id: string = tierKeyId(tk)): Promise<V | undefined> {
    const state = this.acquire(id);
    const version = state.version;
    const epoch = this.epoch;
    try {
      // A value on its way down is still the key's value: serve it from here.
      if (state.spill !== undefined && state.spillVersion === version) {
        const value = state.spill;
        const left = state.spillDeadline - this.memory._now();
        if (left > 0) {
          this.promote(key, value, left, state, version, epoch, -1, undefined);
          return value;
        }
      }
      for (const layer of this.layers) {
        const entry = await this.readTier(layer, tk, id);
        if (entry === undefined) continue;
        let value: V;
        try {
          value = this.codec.decode(entry.bytes);
        } catch (e) {
          this.decodeErrors++;
          this.report(e, 'decode', layer);
          continue;
        }
        if (value === undefined) continue;
        layer.promotions++;
        this.promote(key, value, entry.ttl, state, version, epoch, layer.index, entry.bytes);
        return value;
      }
      return undefined;
    } finally {
      this.release(state);
    }
  }

  /** One tier's entry for a key, after the writes queued before it; errors and timeouts read as misses. */
  private async readTier(layer: Layer, tk: TierKey, id: string): Promise<TierEntry | undefined> {
    const tail = this.states.get(id)?.tails[layer.index];
    const barrier = layer.barrier;
    const reading = async (): Promise<TierEntry | undefined> => {
      if (tail !== undefined) await tail;
      if (barrier !== null) await barrier;
      if (this.closed) return undefined;
      return invoke(() => layer.tier.get(tk));
    };
    try {
      // The bound covers the wait for earlier writes of the key too.
      const entry = await this.bound(layer, 'get', reading());
      if (entry === undefined) return undefined;
      if (entry === null || typeof entry !== 'object' || !(entry.bytes instanceof Uint8Array) || !(entry.ttl > 0)) return undefined;
      return entry;
    } catch (e) {
      this.report(e, 'get', layer);
      return undefined;
    }
  }

  /**
   * Put a value found below into memory with the ttl it has left (capped by memory's own
   * default ttl), and into the 'through' tiers above the one it came from; nothing when the
   * key was written, deleted or cleared since the read began.
   */
  private promote(key: K, value: V, left: number, state: KeyState<V>, version: number, epoch: number, from: number, bytes: Uint8Array | undefined): void {
    if (this.closed || state.version !== version || this.epoch !== epoch) return;
    let ttl = left;
    if (this.memoryTtl > 0 && this.memoryTtl < ttl) ttl = this.memoryTtl;
    const stored = this.storeInMemory(key, value, ttl === Infinity ? undefined : ttl, ttl);
    if (stored && from >= 0 && this.layers[from]!.write === 'on-evict') this.clean.set(key, this.layers[from]!);
    if (from >= 0) this.promotions++;
    if (bytes === undefined || from <= 0) return;
    const tk = this.tierKey(key);
    for (let i = 0; i < from; i++) {
      const layer = this.layers[i]!;
      if (layer.write !== 'through') continue;
      this.enqueue(layer, state, 'set', () => {
        if (state.version !== version || this.epoch !== epoch) return Promise.resolve();
        return invoke(() => layer.tier.set(tk, bytes, { ttl: tierTtl(left) }));
      }).catch((e: unknown) => this.report(e, 'promote', layer));
    }
  }

  // =====================================================================================
  // Internals: loads
  // =====================================================================================

  private startFlight(key: K, tk: TierKey, id: string, loader: TieredLoader<K, V>, ttl: number | undefined): Flight<V> {
    const controller = new AbortController();
    const state = this.acquire(id);
    const version = state.version;
    const epoch = this.epoch;
    const run = async (): Promise<V | undefined> => {
      try {
        const found = await this.lookDown(key, tk, id);
        if (found !== undefined) {
          this.hits++;
          return found;
        }
        this.misses++;
        if (controller.signal.aborted) throw controller.signal.reason;
        const value = await this.load(key, loader, controller);
        if (value === undefined) return undefined;
        // Writes win: a value loaded before a set, delete or clear of the key is not stored.
        if (this.closed || state.version !== version || this.epoch !== epoch) return value;
        const remaining = this.lifeOf(ttl);
        const stored = this.storeInMemory(key, value, ttl, remaining);
        const through = this.layers.filter((l) => l.write === 'through' || (!stored && l.write === 'on-evict'));
        if (through.length > 0) {
          let bytes: Uint8Array;
          try {
            bytes = this.codec.encode(value);
          } catch (e) {
            this.encodeErrors++;
            this.report(e, 'encode');
            return value;
          }
          const writes = through.map((layer) => ({
            layer,
            done: this.enqueue(layer, state, 'set', () => {
              if (state.version !== version || this.epoch !== epoch) return Promise.resolve();
              return invoke(() => layer.tier.set(tk, bytes, { ttl: tierTtl(remaining) }));
            }),
          }));
          // A loaded value that a tier could not take is still the right answer: counted, not thrown.
          await this.settle(writes);
        }
        return value;
      } finally {
        if (this.flights.get(id) === flight) this.flights.delete(id);
        this.release(state);
      }
    };
    const flight: Flight<V> = { promise: undefined as unknown as Promise<V | undefined>, controller, waiters: 0 };
    this.flights.set(id, flight);
    (flight as { promise: Promise<V | undefined> }).promise = run();
    flight.promise.catch(noop);
    return flight;
  }

  /** One call of the loader, bounded by loadTimeout; its failure is the caller's error as it is. */
  private async load(key: K, loader: TieredLoader<K, V>, controller: AbortController): Promise<V | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const loading = Promise.resolve().then(() => loader(key, { signal: controller.signal }));
      let value: V | undefined;
      if (this.loadTimeout > 0) {
        const ms = this.loadTimeout;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const err = new TimeoutError(`cortado: load timed out after ${ms} ms (loadTimeout)`, ms);
            controller.abort(err);
            reject(err);
          }, ms);
          timer.unref?.();
        });
        loading.catch(noop);
        value = await Promise.race([loading, timedOut]);
      } else {
        value = await loading;
      }
      this.loads++;
      return value;
    } catch (e) {
      this.loadFailures++;
      throw e;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** One caller's share of a flight: its own abort, the flight aborted when nobody is left. */
  private wait(flight: Flight<V>, id: string, signal: AbortSignal | undefined): Promise<V | undefined> {
    if (signal === undefined) {
      flight.waiters++;
      return flight.promise.finally(() => {
        flight.waiters--;
      });
    }
    if (signal.aborted) return Promise.reject(new AbortError('cortado: fetch() was aborted', { cause: signal.reason }));
    flight.waiters++;
    return new Promise<V | undefined>((resolve, reject) => {
      let done = false;
      const onAbort = (): void => {
        if (done) return;
        done = true;
        flight.waiters--;
        if (flight.waiters === 0) {
          if (this.flights.get(id) === flight) this.flights.delete(id);
          flight.controller.abort(new AbortError('cortado: every caller of the load gave up'));
        }
        reject(new AbortError('cortado: fetch() was aborted', { cause: signal.reason }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      flight.promise.then(
        (v) => {
          if (done) return;
          done = true;
          flight.waiters--;
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          if (done) return;
          done = true;
          flight.waiters--;
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  // =====================================================================================
  // Internals: spills, queues, invalidation
  // =====================================================================================

  /** Memory's removal tap: a victim ('evicted' only) is encoded and written to the on-evict tiers. */
  private readonly onRemoval = (key: K, value: V, cause: RemovalCause): void => {
    if (this.onEvictLayers.length === 0) return;
    let deadline: number | undefined;
    let cleanIn: Layer | undefined;
    if (this.writing && key === this.writingKey) {
      // The key being written: only the new value evicted at once goes down (see storeInMemory).
      if (cause !== 'evicted') return;
      deadline = this.writingDeadline;
    } else {
      // 'replaced' and 'rejected' with the key still held come from writes made to the memory
      // Cache directly; the value held keeps its recorded deadline.
      if (cause === 'replaced' || (cause === 'rejected' && this.memory.has(key))) return;
      deadline = this.deadlines.get(key);
      if (deadline !== undefined) this.deadlines.delete(key);
      cleanIn = this.clean.get(key);
      if (cleanIn !== undefined) this.clean.delete(key);
    }
    if (cause !== 'evicted' || this.closed) return;
    const now = this.memory._now();
    const until = deadline ?? Infinity;
    if (until <= now) return;
    if (cleanIn !== undefined) {
      cleanIn.spillsAvoided++;
      if (this.onEvictLayers.length === 1) return;
    }
    let tk: TierKey;
    let bytes: Uint8Array;
    try {
      tk = this.tierKey(key);
      bytes = this.codec.encode(value);
    } catch (e) {
      this.encodeErrors++;
      this.report(e, 'encode');
      return;
    }
    const id = tierKeyId(tk);
    const size = bytes.byteLength;
    let state: KeyState<V> | undefined;
    const epoch = this.epoch;
    for (const layer of this.onEvictLayers) {
      if (layer === cleanIn) continue;
      if (layer.inFlightBytes + size > layer.maxInFlightBytes) {
        layer.spillsDropped++;
        continue;
      }
      if (state === undefined) {
        state = this.acquire(id);
        state.spill = value;
        state.spillVersion = state.version;
        state.spillDeadline = until;
      }
      this.spillTo(layer, state, tk, bytes, until, epoch);
    }
    if (state !== undefined) {
      // The spill value is served to gets until every layer's write of it has run.
      const s = state;
      const version = s.version;
      const tails = this.onEvictLayers.map((l) => s.tails[l.index]);
      void Promise.all(tails).then(() => {
        if (s.version === version && s.spill === value) s.spill = undefined;
        this.release(s);
      });
    }
  };

  /**
   * Queue the write of a spill on one tier; dropped when it runs if the key was written or
   * cleared since, or its time ran out. Its bytes count in flight until the tier settles it.
   */
  private spillTo(layer: Layer, state: KeyState<V>, tk: TierKey, bytes: Uint8Array, until: number, epoch: number): void {
    const version = state.version;
    const size = bytes.byteLength;
    layer.inFlightBytes += size;
    this.enqueue(layer, state, 'spill', () => {
      const left = until - this.memory._now();
      if (state.version !== version || this.epoch !== epoch || left <= 0) {
        layer.spillsDropped++;
        return Promise.resolve();
      }
      return invoke(() => layer.tier.set(tk, bytes, { ttl: tierTtl(left) })).then(() => {
        layer.spills++;
      });
    }).catch((e: unknown) => this.report(e, 'spill', layer));
    // Released when the write has really settled (not when a timeout gave up on it).
    void state.tails[layer.index]!.then(() => {
      layer.inFlightBytes -= size;
    });
  }

  /**
   * close({ spillMemory: true }): write every live memory entry to the 'on-evict' tiers (those
   * that do not already hold it), with the ttl it has left. Waits for room under
   * maxInFlightBytes rather than dropping; gives up on a tier that makes no progress for its
   * timeout.
   */
  private async spillMemory(): Promise<void> {
    if (this.onEvictLayers.length === 0) return;
    const epoch = this.epoch;
    for (const [key, value] of [...this.memory]) {
      const left = this.memory.ttlOf(key);
      if (left === undefined) continue;
      const cleanIn = this.clean.get(key);
      const targets = this.onEvictLayers.filter((l) => l !== cleanIn);
      if (targets.length === 0) continue;
      let tk: TierKey;
      let bytes: Uint8Array;
      try {
        tk = this.tierKey(key);
        bytes = this.codec.encode(value);
      } catch (e) {
        this.encodeErrors++;
        this.report(e, 'encode');
        continue;
      }
      const until = this.memory._now() + left;
      const state = this.acquire(tierKeyId(tk));
      try {
        for (const layer of targets) {
          if (!(await this.roomFor(layer, bytes.byteLength))) {
            layer.spillsDropped++;
            continue;
          }
          this.spillTo(layer, state, tk, bytes, until, epoch);
        }
      } finally {
        this.release(state);
      }
    }
  }

  /** Waits until `size` more bytes fit under the layer's in-flight bound; false when the tier stalled. */
  private async roomFor(layer: Layer, size: number): Promise<boolean> {
    while (layer.inFlightBytes > 0 && layer.inFlightBytes + size > layer.maxInFlightBytes) {
      const pending = [...layer.pending];
      if (pending.length === 0) return true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = layer.timeout === 0 ? new Promise<boolean>(() => {}) : new Promise<boolean>((resolve) => (timer = setTimeout(resolve, layer.timeout, true)));
      const gaveUp = await Promise.race([Promise.race(pending).then(() => false), stalled]);
      clearTimeout(timer);
      if (gaveUp) return false;
    }
    return true;
  }

  /**
   * Queue a write of one key on one tier after the key's earlier writes and after any clear
   * queued before it. The returned promise settles with the write; the queue never rejects.
   */
  private enqueue(layer: Layer, state: KeyState<V>, what: string, op: () => Promise<unknown>): Promise<void> {
    const prev = state.tails[layer.index];
    const barrier = layer.barrier;
    state.refs++;
    const run = async (): Promise<void> => {
      if (prev !== undefined) await prev;
      if (barrier !== null) await barrier;
      await op();
    };
    const p = run();
    // The queue follows the tier's real completion: a write the caller stopped waiting for
    // (timeout) still holds back the later writes of its key, so it cannot land after them.
    const settled = p.then(noop, noop);
    state.tails[layer.index] = settled;
    layer.pending.add(settled);
    void settled.then(() => {
      layer.pending.delete(settled);
      if (state.tails[layer.index] === settled) state.tails[layer.index] = undefined;
      this.release(state);
    });
    return this.bound(layer, what, p);
  }

  /** Clear one tier after the writes already queued on it; later calls wait for it. */
  private clearTier(layer: Layer): Promise<void> {
    const before = [...layer.pending];
    const prev = layer.barrier;
    const run = async (): Promise<void> => {
      if (prev !== null) await prev;
      await Promise.allSettled(before);
      await invoke(() => layer.tier.clear());
    };
    const p = run();
    const barrier = p.then(noop, noop);
    layer.barrier = barrier;
    void barrier.then(() => {
      if (layer.barrier === barrier) layer.barrier = null;
    });
    return this.bound(layer, 'clear', p);
  }

  /** Wait for writes; the failures, each reported. */
  private async settle(writes: Write[]): Promise<{ tier: string; error: unknown }[]> {
    if (writes.length === 0) return [];
    const results = await Promise.allSettled(writes.map((w) => w.done));
    const failures: { tier: string; error: unknown }[] = [];
    results.forEach((r, i) => {
      if (r.status !== 'rejected') return;
      const layer = writes[i]!.layer;
      failures.push({ tier: layer.name, error: r.reason });
      this.report(r.reason, 'write', layer);
    });
    return failures;
  }

  /** Lifetime in ms of a write with this ttl option (Infinity: none): the given ttl, else memory's default. */
  private lifeOf(ttl: number | undefined): number {
    if (ttl !== undefined) return ttl === 0 ? Infinity : ttl;
    return this.memoryTtl > 0 ? this.memoryTtl : Infinity;
  }

  /**
   * memory.set, with the deadline recorded first (memory may evict the key within the call,
   * and its spill must carry the ttl). `ttl` is the option given to memory (undefined: its
   * default); `life` the resulting lifetime.
   */
  private storeInMemory(key: K, value: V, ttl: number | undefined, life: number): boolean {
    const options = ttl === undefined ? undefined : { ttl };
    if (this.onEvictLayers.length === 0) return this.memory.set(key, value, options);
    // While memory.set runs, removals of this key are the old value leaving ('replaced',
    // 'expired') or the new one going at once ('evicted', 'rejected'): the tap tells them
    // apart by these fields, not by the deadlines map, which still holds the old value's.
    const deadline = life === Infinity ? Infinity : this.memory._now() + life;
    this.clean.delete(key);
    this.writingKey = key;
    this.writingDeadline = deadline;
    this.writing = true;
    let stored: boolean;
    try {
      stored = this.memory.set(key, value, options);
    } finally {
      this.writing = false;
      this.writingKey = undefined;
    }
    if (stored && deadline !== Infinity) this.deadlines.set(key, deadline);
    else this.deadlines.delete(key);
    return stored;
  }

  /**
   * What a caller waits for, bounded by the layer's timeout (counted as a failure and a
   * timeout on the layer); the operation itself goes on and its queue follows it.
   */
  private bound<T>(layer: Layer, op: string, promise: Promise<T>): Promise<T> {
    const ms = layer.timeout;
    let p: Promise<T>;
    if (ms === 0) p = promise;
    else {
      // Not unref'd: a tier call in flight (a spill, a write) is work the process should
      // finish or give up on before it exits, and the wait is bounded by `ms`.
      p = deadline(promise, ms, () => {
        layer.timeouts++;
        return new TierTimeoutError(`cortado: ${op}() on tier ${JSON.stringify(layer.name)} took longer than ${ms} ms (timeout)`, ms);
      });
    }
    return p.catch((e: unknown) => {
      layer.failures++;
      throw e;
    });
  }

  private async publish(message: Invalidation): Promise<void> {
    if (this.bus === undefined) return;
    try {
      await this.bus.publish(message);
      this.invalidationsSent++;
    } catch (e) {
      this.publishFailures++;
      this.report(e, 'publish');
    }
  }

  private onMessage(message: Invalidation): void {
    if (this.closed) return;
    this.invalidationsReceived++;
    if (message.type === 'clear') {
      this.dropLocal();
      for (const layer of this.layers) if (!layer.shared) this.clearTier(layer).catch((e: unknown) => this.report(e, 'clear', layer));
      return;
    }
    if (message.type !== 'delete' || !Array.isArray(message.keys)) return;
    for (const k of message.keys) {
      if (typeof k !== 'string') continue;
      for (const tk of tierKeysOf(k)) this.invalidate(tk);
      this.dropFromMemory(k);
    }
  }

  private onGap(): void {
    if (this.closed) return;
    this.gaps++;
    this.dropLocal();
    for (const layer of this.layers) if (!layer.shared) this.clearTier(layer).catch((e: unknown) => this.report(e, 'clear', layer));
  }

  /** Another process changed `tk`: supersede what is in flight and drop local copies below memory. */
  private invalidate(tk: TierKey): void {
    const id = tierKeyId(tk);
    const state = this.states.get(id);
    if (state !== undefined) this.supersede(state);
    else this.flights.delete(id);
    const local = this.layers.filter((l) => !l.shared);
    if (local.length === 0) return;
    const s = this.acquire(id);
    for (const layer of local) {
      this.enqueue(layer, s, 'delete', () => invoke(() => layer.tier.delete(tk))).catch((e: unknown) => this.report(e, 'delete', layer));
    }
    this.release(s);
  }

  /** Remove from memory every key that a bus key can stand for. */
  private dropFromMemory(k: string): void {
    if (this.customKey) {
      if (this.parseKey === undefined) {
        this.memory.clear();
        return;
      }
      let keys: K | readonly K[];
      try {
        keys = this.parseKey(k);
      } catch (e) {
        this.report(e, 'parseKey');
        this.memory.clear();
        return;
      }
      if (Array.isArray(keys)) for (const one of keys as readonly K[]) this.memory.delete(one);
      else this.memory.delete(keys as K);
      return;
    }
    if (this.binaryKeys) {
      // Memory entries keyed by a Uint8Array are found by identity, not bytes: drop them all.
      this.memory.clear();
      return;
    }
    const m = this.memory as unknown as Cache<unknown, V>;
    m.delete(k);
    const n = Number(k);
    if (k !== '' && String(n) === k) m.delete(n);
    if (/^-?\d+$/.test(k)) m.delete(BigInt(k));
  }

  /** Drop memory and everything in flight (clear, bus clear, gap). */
  private dropLocal(): void {
    this.epoch++;
    // Loads in flight finish for their callers but are not stored (the epoch moved).
    this.flights.clear();
    for (const s of this.states.values()) s.spill = undefined;
    this.memory.clear();
  }

  /** A write or invalidation of the key: what is in flight for it must not land afterwards. */
  private supersede(state: KeyState<V>): void {
    state.version++;
    state.spill = undefined;
    this.flights.delete(state.id);
  }

  private acquire(id: string): KeyState<V> {
    let s = this.states.get(id);
    if (s === undefined) {
      s = { id, version: 0, refs: 0, tails: new Array<Promise<void> | undefined>(this.layers.length).fill(undefined), spill: undefined, spillVersion: -1, spillDeadline: Infinity };
      this.states.set(id, s);
    }
    s.refs++;
    return s;
  }

  private release(state: KeyState<V>): void {
    if (--state.refs === 0 && this.states.get(state.id) === state) this.states.delete(state.id);
  }

  private tierKey(key: K): TierKey {
    const tk = this.keyFn(key);
    if (typeof tk === 'string') return tk;
    if (tk instanceof Uint8Array) {
      if (!this.customKey) this.binaryKeys = true;
      return tk;
    }
    throw new TypeError(`cortado: TieredCache option 'key' must return a string or a Uint8Array, got ${describe(tk)}`);
  }

  private report(error: unknown, op: string, layer?: Layer): void {
    if (this.onError === undefined) return;
    try {
      this.onError(error, { op, tier: layer?.name });
    } catch {
      // A failing error handler must not turn a counted error into a thrown one.
    }
  }

  private open(where: string): void {
    if (this.closed) throw new TierClosedError(`cortado: ${where}() on a closed TieredCache`);
  }
}

/** Call a tier method; a synchronous throw becomes a rejection. */
function invoke<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A remaining ttl as a tier takes it: whole ms, at least 1; 0 for none. */
function tierTtl(left: number): number {
  return left === Infinity ? 0 : Math.max(1, Math.ceil(left));
}

/** How a tier key travels on the bus: a string as it is, bytes as a marked base64 string. */
function busKey(tk: TierKey): string {
  if (typeof tk === 'string') return tk;
  return BINARY_PREFIX + Buffer.from(tk.buffer, tk.byteOffset, tk.byteLength).toString('base64');
}

/** The tier keys a bus key may stand for (both readings when it looks like marked bytes: an extra delete is harmless). */
function tierKeysOf(k: string): TierKey[] {
  if (!k.startsWith(BINARY_PREFIX)) return [k];
  return [k, new Uint8Array(Buffer.from(k.slice(BINARY_PREFIX.length), 'base64'))];
}
