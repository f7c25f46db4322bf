/**
 * memo(fn, options): a function that remembers its results in a Cache.
 *
 * Why over a Cache and not a Map: a memo table without a bound is a leak, and one bounded by
 * LRU keeps the wrong entries on skewed workloads; here the results live in an ordinary Cache,
 * so the policy, the bounds, TTL, removal events and stats all apply, and `memoized.cache` is
 * that cache for the caller to inspect, clear or share.
 *
 * Sync or async is learned from what fn returns, not declared. A result that is a promise (a
 * thenable) makes the memo asynchronous for good: its results are stored resolved, and calls go
 * through Cache.fetch(), which gives single flight (concurrent calls with one key share one
 * call of fn), keeps rejections out of the cache, and lets a set()/delete() during the call win
 * over its result (see loading.ts). Until fn has returned once, a call always runs fn (unless
 * fn is an `async function`, which is known to be asynchronous up front): a hit found before
 * the memo knows whether to wrap it in a promise could otherwise be returned in the wrong form.
 *
 * Keys. The default key is the single argument, when it is a primitive (or no argument at all):
 * objects compare by identity in a Map, so defaulting to an object argument would almost never
 * hit, and defaulting to JSON would silently merge or split keys (property order, undefined,
 * Dates, Maps). Any other call needs a `key` function: without one it is a type error (the
 * first overload of memo() accepts only functions of no or one primitive parameter), and at run
 * time a TypeError before fn runs; a function declared with two or more parameters is refused
 * at creation.
 *
 * `undefined` results are not stored (the cache never holds undefined: it reads as a miss), so
 * a function that answers "not found" with undefined runs again on every call for that key;
 * return null to memoize the absence.
 */
import { Cache } from './cache.js';
import type { CacheOptions } from './options.js';
import { describe } from './options.js';

/** The cache holds resolved values for an async fn. */
export type MemoValue<R> = Awaited<R>;

/** Where memo() keeps its results: a new cache (any Cache options, a bound required) or an existing one. */
export type MemoCache<K, V> =
  | (CacheOptions<K, V> & { cache?: undefined })
  | {
      /** An existing cache to keep the results in (shared with other code if you like). */
      cache: Cache<K, V>;
    };

/** Arguments memo() can key by default: none, or one primitive. */
export type DefaultKeyArgs = [] | [string | number | boolean | bigint | symbol | null | undefined];

/** How memo() finds its cache and its keys. */
export type MemoOptions<This, A extends unknown[], K, V> = MemoCache<K, V> & {
  /**
   * The cache key for a call. Default: the only argument when it is a primitive (string, number,
   * boolean, bigint, symbol, null, undefined), or `undefined` for a call without arguments; any
   * other call needs this function (the types require it). Called with the same `this` as fn.
   */
  key?: ((this: This, ...args: A) => K) | undefined;
};

/** A memoized function: call it as fn; its results are kept in `cache`. */
export interface Memoized<This, A extends unknown[], R, K> {
  (this: This, ...args: A): R;
  /** The cache holding the results (resolved values for an async fn). */
  readonly cache: Cache<K, MemoValue<R>>;
  /** Forgets the result cached for these arguments; true when one was cached. */
  delete(this: This, ...args: A): boolean;
}

/** Not known yet: fn has never returned, and is not an `async function`. */
const UNKNOWN = 0;
const SYNC = 1;
const ASYNC = 2;

const AsyncFunction = (async () => {}).constructor;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function noop(): void {}

function defaultKey(args: readonly unknown[]): unknown {
  if (args.length === 0) return undefined;
  const a = args[0];
  if (args.length === 1 && (a === null || (typeof a !== 'object' && typeof a !== 'function'))) return a;
  throw new TypeError(
    `cortado: memo() keys a call by its only argument when that is a primitive; this call has ${
      args.length === 1 ? describe(a) : `${args.length} arguments`
    }: pass options.key to make a key from the arguments`,
  );
}

/**
 * Memoize `fn` over a Cache. Options: a bound and any other Cache option (a new cache is made),
 * or `cache` (an existing one); and `key` (see MemoOptions).
 */
export function memo<This, A extends DefaultKeyArgs, R>(
  fn: (this: This, ...args: A) => R,
  options: MemoCache<A[0], MemoValue<R>> & { key?: undefined },
): Memoized<This, A, R, A[0]>;
export function memo<This, A extends unknown[], R, K>(
  fn: (this: This, ...args: A) => R,
  options: MemoCache<K, MemoValue<R>> & { key: (this: This, ...args: A) => K },
): Memoized<This, A, R, K>;
export function memo<This, A extends unknown[], R, K>(
  fn: (this: This, ...args: A) => R,
  options: MemoOptions<This, A, K, MemoValue<R>>,
): Memoized<This, A, R, K> {
  if (typeof fn !== 'function') throw new TypeError(`cortado: memo() needs a function, got ${describe(fn)}`);
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`cortado: memo() options must be an object (a bound such as { maxEntries }, or { cache }), got ${describe(options)}`);
  }
  const { key: keyFn, cache: given, ...cacheOptions } = options as {
    key?: ((this: This, ...args: A) => K) | undefined;
    cache?: Cache<K, MemoValue<R>> | undefined;
  } & CacheOptions<K, MemoValue<R>>;
  if (keyFn !== undefined && typeof keyFn !== 'function') {
    throw new TypeError(`cortado: memo() key must be a function, got ${describe(keyFn)}`);
  }
  if (keyFn === undefined && fn.length > 1) {
    throw new TypeError(`cortado: memo() cannot key a function of ${fn.length} parameters by default: pass options.key`);
  }
  let cache: Cache<K, MemoValue<R>>;
  if (given !== undefined) {
    if (!(given instanceof Cache)) throw new TypeError(`cortado: memo() cache must be a Cache, got ${describe(given)}`);
    const extra = Object.keys(cacheOptions).filter((k) => (cacheOptions as Record<string, unknown>)[k] !== undefined);
    if (extra.length > 0) {
      throw new TypeError(`cortado: memo() takes either cache or cache options, not both (got cache and ${extra.join(', ')})`);
    }
    cache = given;
  } else {
    cache = new Cache<K, MemoValue<R>>(cacheOptions);
  }

  let mode = fn instanceof AsyncFunction ? ASYNC : UNKNOWN;
  const keyOf = keyFn === undefined ? (_this: This, args: A) => defaultKey(args) as K : (self: This, args: A) => keyFn.apply(self, args);

  /** The async path: single flight through fetch(); `started` is a call of fn already made. */
  const viaFetch = (self: This, args: A, key: K, started: PromiseLike<unknown> | undefined): R => {
    let pending: Promise<MemoValue<R>>;
    if (started !== undefined) {
      pending = Promise.resolve(started) as Promise<MemoValue<R>>;
      // If the key turns out to be cached or loading already, this promise is dropped: a
      // rejection of it must not surface as unhandled.
      pending.then(undefined, noop);
    }
    return cache.fetch(key, {
      loader: () => (started !== undefined ? pending : (fn.apply(self, args) as Promise<MemoValue<R>>)),
    }) as R;
  };

  const memoized = function (this: This, ...args: A): R {
    const key = keyOf(this, args);
    if (mode === ASYNC) return viaFetch(this, args, key, undefined);
    if (mode === SYNC) {
      const hit = cache.get(key);
      if (hit !== undefined) return hit as R;
    }
    // A miss, or the first call: run fn. If it throws, nothing is stored and the error propagates.
    const result = fn.apply(this, args);
    if (isThenable(result)) {
      mode = ASYNC;
      return viaFetch(this, args, key, result);
    }
    if (mode === UNKNOWN) mode = SYNC;
    if (result !== undefined) cache.set(key, result as MemoValue<R>);
    return result;
  } as Memoized<This, A, R, K>;

  Object.defineProperty(memoized, 'cache', { value: cache, enumerable: true });
  Object.defineProperty(memoized, 'delete', {
    value: function (this: This, ...args: A): boolean {
      return cache.delete(keyOf(this, args));
    },
  });
  Object.defineProperty(memoized, 'name', { value: `memo(${fn.name})` });
  return memoized;
}
