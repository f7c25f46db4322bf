/** Shared test scaffolding: a hand-driven clock, event recording, the configuration matrix. */
import { Cache, type CacheBound, type CacheOptions, type CacheSettings, type PolicyName, type RemovalCause } from 'cortado';
import { validate, POLICY_NAMES as ALL_POLICIES } from 'cortado/internal';

/** Deterministic PRNG (mulberry32, the simulator's) for workloads. */
export { prng } from 'cortado/internal';

/** Every registered policy, or those named in CORTADO_TEST_POLICIES (comma-separated) when debugging. */
export const POLICY_NAMES: readonly PolicyName[] = process.env.CORTADO_TEST_POLICIES
  ? ALL_POLICIES.filter((p) => process.env.CORTADO_TEST_POLICIES!.split(',').includes(p))
  : ALL_POLICIES;

/** A clock that moves only when told to. */
export class FakeClock {
  now = 1_000;
  readonly fn = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface Removal<K, V> {
  key: K;
  value: V;
  cause: RemovalCause;
}

/** Options plus a log of removal events. */
export function recorded<K, V>(options: CacheOptions<K, V>): { options: CacheOptions<K, V>; log: Removal<K, V>[] } {
  const log: Removal<K, V>[] = [];
  const outer = options.onRemove;
  return {
    log,
    options: {
      ...options,
      onRemove: (key, value, cause) => {
        log.push({ key, value, cause });
        outer?.(key, value, cause);
      },
    },
  };
}

export function check(cache: Cache<any, any>): void {
  validate(cache);
}

/** One named cache configuration of the behavioural matrix. */
export interface Config {
  name: string;
  /** Bounds and features; `clock` is filled in by the suite. */
  options: Omit<CacheSettings<number, { w: number }>, 'clock' | 'onRemove' | 'policy'> & CacheBound;
  /** Capacity in entries of unit-weight values (for sizing workloads). */
  entries: number;
  ttl: boolean;
}

export const CONFIGS: Config[] = [
  { name: 'count', options: { maxEntries: 40 }, entries: 40, ttl: false },
  { name: 'weight', options: { maxWeight: 40, weigher: (v) => v.w }, entries: 40, ttl: false },
  { name: 'count+weight', options: { maxEntries: 30, maxWeight: 40, weigher: (v) => v.w }, entries: 30, ttl: false },
  { name: 'count+ttl', options: { maxEntries: 40, ttl: 1_000 }, entries: 40, ttl: true },
  { name: 'weight+ttl+idle', options: { maxWeight: 40, weigher: (v) => v.w, ttl: 5_000, expireAfterAccess: 1_000 }, entries: 40, ttl: true },
];

/** A promise whose settlement the test controls. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let every queued promise reaction run (one macrotask turn; no timer, no waiting). */
export const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The hash formulas the simulator's seeded results were made with, kept here as the reference
 * that src/internal/hash.ts must still match (test/hash.test.ts, test/hash-long.test.ts): the
 * murmur3 finaliser and the one-pass string fold (whole strings up to 128 units).
 */
export function referenceMix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}
export function referenceString(s: string, seed: number): number {
  let h = seed ^ s.length;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return referenceMix32(h);
}
