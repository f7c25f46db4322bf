/** Public option and result types, and eager validation that names the faulty option. */
import { POLICY_NAMES, type PolicyName } from './policies/index.js';

/** Why an entry left the cache (or never entered it). */
export type RemovalCause = 'evicted' | 'expired' | 'replaced' | 'deleted' | 'cleared' | 'rejected';

/** Names accepted by the `policy` option: those of the policy registry (policies/index.ts). */
export type { PolicyName };

/**
 * The options of a Cache. At least one bound is required, and the type says so: a cache
 * created with none of maxEntries, maxWeight, maxBytes does not type-check (and throws at run
 * time for untyped callers).
 */
export type CacheOptions<K, V> = CacheSettings<K, V> & CacheBound;

/** One of the three bounds, at least (more may be given: all then hold). */
export type CacheBound = { maxEntries: number } | { maxWeight: number } | { maxBytes: number };

/** Everything in CacheOptions but the requirement of a bound. */
export interface CacheSettings<K, V> {
  /** Bound on the number of entries (a positive integer). */
  maxEntries?: number | undefined;
  /** Bound on the total weight of the entries (a positive finite number). */
  maxWeight?: number | undefined;
  /** Weight of an entry when `set()` gives none; called only for values that are stored. */
  weigher?: ((value: V, key: K) => number) | undefined;
  /**
   * Bound on the bytes the cache retains (a positive finite number): shorthand for `maxWeight`
   * with every entry weighed in bytes as `sizeOf(key) + sizeOf(value)` (or `weigher(value,
   * key)` when given) plus cortado's own per-entry overhead (see docs/memory.md). A `weight`
   * given to `set()` is taken as the entry's full byte count. Not together with `maxWeight`.
   */
  maxBytes?: number | undefined;
  /** Eviction policy (default `'wtinylfu'`, chosen on real traces: see docs/hit-ratio.md). */
  policy?: PolicyName | undefined;
  /** Default time-to-live in ms after each write; 0 or absent: no expiry. */
  ttl?: number | undefined;
  /** Idle expiry in ms: an entry not read (by `get`) for this long expires; 0 or absent: off. */
  expireAfterAccess?: number | undefined;
  /** Millisecond clock; inject one in tests. Default: `performance.now()`. */
  clock?: (() => number) | undefined;
  /** Called once for every entry that leaves the cache or is refused, after the cache is consistent. */
  onRemove?: ((key: K, value: V, cause: RemovalCause) => void) | undefined;
  /** Update validator: return false to keep the old value (the new one is refused). */
  shouldUpdate?: ((oldValue: V, newValue: V, key: K) => boolean) | undefined;
  /**
   * Seed for key hashing and any sampling a policy does. Default: random per cache, which
   * keeps an attacker from crafting keys that collide in the frequency sketch. Fix it only
   * for reproducible runs (simulations, tests).
   */
  seed?: number | undefined;

  // ---- loading (see docs/loading.md); all off when absent ----
  /** Loads the value of a missing key for fetch()/fetchAll(); may return a value or a promise. */
  loader?: Loader<K, V> | undefined;
  /** Loads many keys in one call for fetchAll(); must resolve a Map with an entry for every key asked. */
  loadAll?: BatchLoader<K, V> | undefined;
  /** ms after expiry during which fetch() serves the stale value at once while one background reload runs. */
  staleWhileRevalidate?: number | undefined;
  /** ms after expiry during which fetch() serves the stale value when the reload fails. */
  staleIfError?: number | undefined;
  /** ms after a write after which a fetch() of the key starts a background reload (the value stays served). */
  refreshAfter?: number | undefined;
  /** ms a load may run; a longer one is aborted (its signal fires) and fails with a TimeoutError. */
  loadTimeout?: number | undefined;
}

/**
 * Every option `Cache` knows, so that an unknown one is refused: a misspelt or foreign option
 * silently ignored is behaviour silently lost (a user coming from lru-cache who writes `max`
 * would get an unbounded-looking error at best, a wrong cache at worst).
 */
export const CACHE_OPTION_NAMES: ReadonlySet<string> = new Set<keyof CacheOptions<unknown, unknown>>([
  'maxEntries',
  'maxWeight',
  'weigher',
  'maxBytes',
  'policy',
  'ttl',
  'expireAfterAccess',
  'clock',
  'onRemove',
  'shouldUpdate',
  'seed',
  'loader',
  'loadAll',
  'staleWhileRevalidate',
  'staleIfError',
  'refreshAfter',
  'loadTimeout',
]);

/** lru-cache's option names, with what to write instead (docs/migrating-from-lru-cache.md). */
const LRU_CACHE_HINTS: Readonly<Record<string, string>> = {
  max: 'use maxEntries',
  maxSize: 'use maxWeight (or maxBytes to count bytes)',
  sizeCalculation: 'use weigher(value, key)',
  maxEntrySize: "no per-entry cap: a value heavier than maxWeight is refused ('rejected'); check the size before set()",
  backgroundFetchSize: 'no option needed: a load in flight takes no room in the cache',
  fetchContext: 'no context: close over what the loader needs, or pass fetch(key, { loader })',
  dispose: 'use onRemove(key, value, cause): note the order, key first',
  disposeAfter: 'use onRemove(key, value, cause): it already runs after the cache is consistent',
  noDisposeOnSet: "onRemove reports a replaced value with cause 'replaced'; ignore that cause in the listener",
  fetchMethod: 'use loader(key, { signal, staleValue })',
  memoMethod: 'use memo(fn, options)',
  allowStale: 'use staleWhileRevalidate (ms) for fetch(); get() never returns stale values',
  allowStaleOnFetchRejection: 'use staleIfError (ms)',
  allowStaleOnFetchAbort: 'callers that abort leave alone; the load goes on for the others',
  ignoreFetchAbort: 'a load is aborted only when no caller waits for it',
  noDeleteOnFetchRejection: 'use staleIfError (ms): the stale value is kept and served',
  noDeleteOnStaleGet: 'use staleWhileRevalidate (ms)',
  updateAgeOnGet: 'use expireAfterAccess (ms): idle expiry pushed back by every get()',
  updateAgeOnHas: 'has() never changes expiry; use expireAfterAccess with get()',
  noUpdateTTL: 'every set() restarts the ttl; to keep the time left: set(key, value, { ttl: cache.ttlOf(key) })',
  ttlAutopurge: 'no option needed: expired entries are removed as writes go by (a timer wheel) and by purgeExpired()',
  ttlResolution: 'no option needed: deadlines are exact; inject clock to control time',
  perf: 'use clock: () => number',
  onInsert: 'no insert callback; subscribe to the cortado:set diagnostics channel',
  stale: 'use staleWhileRevalidate (ms)',
  maxAge: 'use ttl (ms)',
  length: 'use weigher(value, key)',
};

/** Refuse options `Cache` does not know, with a hint for lru-cache's names. */
export function checkKnownOptions(o: object): void {
  for (const name of Object.keys(o)) {
    if (CACHE_OPTION_NAMES.has(name)) continue;
    const hint = Object.prototype.hasOwnProperty.call(LRU_CACHE_HINTS, name) ? ` (lru-cache's ${name}? ${LRU_CACHE_HINTS[name]})` : '';
    throw new TypeError(`cortado: unknown Cache option ${JSON.stringify(name)}${hint}`);
  }
}

/** What a loader is told besides the key. */
export interface LoadContext<V> {
  /** Fires when nobody needs the load any more, when it times out, or when a write supersedes it. */
  signal: AbortSignal;
  /** The value cached for the key (stale, or fresh but due for refresh), if any. */
  staleValue: V | undefined;
}

/** Loads one key. Resolving `undefined` means "no value": nothing is stored. */
export type Loader<K, V> = (key: K, ctx: LoadContext<V>) => Promise<V> | V;

/** Loads many keys at once; the Map must hold every key asked for (map a key to undefined for "no value"). */
export type BatchLoader<K, V> = (keys: K[], ctx: { signal: AbortSignal }) => Promise<Map<K, V>> | Map<K, V>;

export interface FetchOptions<K, V> {
  /** Loader for this call (overrides the cache's `loader`). */
  loader?: Loader<K, V> | undefined;
  /** Gives up this caller only; the shared load is aborted only when no caller is left. */
  signal?: AbortSignal | undefined;
  /** Time-to-live of the loaded value (as in set()); applies when this call starts the load. */
  ttl?: number | undefined;
  /** Weight of the loaded value (as in set()); applies when this call starts the load. */
  weight?: number | undefined;
  /** Load even when a fresh value is cached (joins a load already under way). */
  forceRefresh?: boolean | undefined;
}

export interface FetchAllOptions<K, V> {
  /** Batch loader for this call (overrides the cache's `loadAll`). */
  loadAll?: BatchLoader<K, V> | undefined;
  /** Per-key loader for this call, used when there is no batch loader. */
  loader?: Loader<K, V> | undefined;
  /** Gives up this call only (see FetchOptions.signal). */
  signal?: AbortSignal | undefined;
  /** Time-to-live of the loaded values; applies to the loads this call starts. */
  ttl?: number | undefined;
  /** Load every key even when a fresh value is cached. */
  forceRefresh?: boolean | undefined;
}

export interface SetOptions {
  /** Weight of this entry (overrides the weigher). */
  weight?: number | undefined;
  /** Time-to-live of this entry in ms (overrides the cache's `ttl`); 0 means no expiry. */
  ttl?: number | undefined;
}

export interface CacheStats {
  /** get() calls that found a live entry, and fetch() lookups answered from the cache without waiting (fresh, or stale within staleWhileRevalidate). */
  hits: number;
  /** get() calls that found nothing (or an expired entry), and fetch() lookups that waited for a load. */
  misses: number;
  /** hits / (hits + misses), or 0 before any get(). */
  hitRatio: number;
  /** New entries stored. */
  inserts: number;
  /** Values replaced in place. */
  updates: number;
  /** Entries removed by the policy to make room. */
  evictions: number;
  /** Total weight of evicted entries (entry count when the cache is not weighted). */
  evictedWeight: number;
  /** Values refused: too heavy, refused by the admission policy, or by `shouldUpdate`. */
  rejections: number;
  /** Entries removed because their time-to-live or idle time ran out. */
  expirations: number;
  /** Entries removed by `delete()` (or by `set(key, undefined)`). */
  deletions: number;
  /** Loader or loadAll calls that resolved (a batch counts once). */
  loadSuccesses: number;
  /** Loader or loadAll calls that threw, rejected or timed out. */
  loadFailures: number;
  /** Total time of the counted loads, in ms of the cache's clock. */
  totalLoadTime: number;
}

/** True when `p` names a registered policy (or one of `known`). */
export function isPolicyName(p: unknown, known: readonly string[] = POLICY_NAMES): p is PolicyName {
  return typeof p === 'string' && known.includes(p);
}

/** A positive safe integer (entry bound). */
export function checkCount(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 31 - 1) {
    throw new RangeError(`cortado: ${name} must be a positive integer below 2^31, got ${describe(v)}`);
  }
  return v;
}

/**
 * Largest weight, weight bound or duration accepted: above 2^53 a float64 sum or deadline is
 * no longer exact, so accounting would drift (a weight of 2^53 plus 1 is still 2^53).
 */
export const MAX_EXACT = Number.MAX_SAFE_INTEGER;

/** A positive finite number up to 2^53 - 1 (weight bound). */
export function checkPositive(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_EXACT) {
    throw new RangeError(`cortado: ${name} must be a positive finite number up to 2^53 - 1, got ${describe(v)}`);
  }
  return v;
}

/** A finite number >= 0 up to 2^53 - 1 (an entry's weight). */
export function checkWeight(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_EXACT) {
    throw new RangeError(`cortado: ${name} must be a finite number >= 0 and up to 2^53 - 1, got ${describe(v)}`);
  }
  return v;
}

/**
 * A duration in ms: a number >= 0 and up to 2^53 - 1, or Infinity meaning never; 0 means off.
 * (Deadlines are clock + duration: beyond 2^53 they would round.)
 */
export function checkDuration(name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (v > MAX_EXACT && v !== Infinity)) {
    throw new RangeError(`cortado: ${name} must be a number of milliseconds >= 0 and up to 2^53 - 1 (or Infinity), got ${describe(v)}`);
  }
  return v === Infinity ? 0 : v;
}

/** Longest delay a Node timer honours (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER = 2 ** 31 - 1;

/** A duration that arms a timer: 0 (off) to 2^31 - 1 ms; Infinity means off. */
export function checkTimerDuration(name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (v > MAX_TIMER && v !== Infinity)) {
    throw new RangeError(`cortado: ${name} must be a number of milliseconds from 0 to 2^31 - 1 (the longest timer Node honours), or Infinity for none, got ${describe(v)}`);
  }
  return v === Infinity ? 0 : v;
}

export function checkFunction(name: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'function') {
    throw new TypeError(`cortado: ${name} must be a function, got ${describe(v)}`);
  }
}

export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}
