// Contenders for the throughput and memory benchmarks.
//
// Each entry builds a cache for a *nominal* capacity `cap`:
//  - bound 'exact': holds at most `cap` entries (the peers cortado is judged against);
//  - bound 'two-gen': quick-lru and hashlru keep two generations of up to `size` entries each,
//    so they can hold up to 2 x size. They get size = cap / 2, which compares them at equal
//    memory (both hold at most `cap` entries);
//  - bound 'none': a plain Map, unbounded, the ceiling.
// cortado is listed once per policy in POLICY_NAMES, read at run time so that policies added
// later are benchmarked without editing this file.
//
// `coercesKeys`: the store is a plain object, so keys are converted to strings (1 and '1' are
// one key, every object key is '[object Object]'). With integer keys that store is V8's
// indexed elements, faster than any Map; the report shows ratios both against every
// exact-bound peer and against those that keep Map semantics.
import { Cache } from 'cortado';
import { POLICY_NAMES } from 'cortado/internal';

/** @typedef {{ name: string, bound: 'exact'|'two-gen'|'none', pkg: string, create: (cap: number) => Promise<{get(k: unknown): unknown, set(k: unknown, v: unknown): unknown}> }} Contender */

/** @type {Contender[]} */
export const PEERS = [
  { name: 'Map', bound: 'none', pkg: '(built-in)', create: async () => new Map() },
  {
    name: 'lru-cache', bound: 'exact', pkg: 'lru-cache',
    create: async (cap) => new (await import('lru-cache')).LRUCache({ max: cap }),
  },
  {
    name: 'mnemonist LRUCache', bound: 'exact', pkg: 'mnemonist', coercesKeys: true,
    create: async (cap) => new (await import('mnemonist')).LRUCache(cap),
  },
  {
    name: 'mnemonist LRUMap', bound: 'exact', pkg: 'mnemonist',
    create: async (cap) => new (await import('mnemonist')).LRUMap(cap),
  },
  {
    name: 'lru.min', bound: 'exact', pkg: 'lru.min',
    create: async (cap) => (await import('lru.min')).createLRU({ max: cap }),
  },
  {
    name: 'tiny-lru', bound: 'exact', pkg: 'tiny-lru', coercesKeys: true,
    create: async (cap) => new (await import('tiny-lru')).LRU(cap),
  },
  {
    name: 'toad-cache', bound: 'exact', pkg: 'toad-cache',
    create: async (cap) => new (await import('toad-cache')).LruMap(cap),
  },
  {
    name: 'sieve-cache', bound: 'exact', pkg: '@neophi/sieve-cache',
    create: async (cap) => new (await import('@neophi/sieve-cache')).SieveCache(cap),
  },
  {
    name: 'quick-lru', bound: 'two-gen', pkg: 'quick-lru',
    create: async (cap) => new (await import('quick-lru')).default({ maxSize: Math.max(1, cap >> 1) }),
  },
  {
    name: 'hashlru', bound: 'two-gen', pkg: 'hashlru', coercesKeys: true,
    create: async (cap) => (await import('hashlru')).default(Math.max(1, cap >> 1)),
  },
];

/** cortado, one contender per policy. */
export const CORTADO = POLICY_NAMES.map((policy) => ({
  name: `cortado ${policy}`,
  bound: 'exact',
  pkg: 'cortado',
  policy,
  create: async (cap) => new Cache({ maxEntries: cap, policy }),
}));

/**
 * Before/after in one run: with CORTADO_BASELINE=<dir> (set by `bench/run.mjs --baseline=<dir>`),
 * where <dir>/dist is another build of cortado (say, a copy of dist from the commit before a
 * change), each policy is also benchmarked from that build as `cortado@base <policy>`.
 */
const BASELINE = process.env.CORTADO_BASELINE;
export const CORTADO_BASE =
  BASELINE === undefined || BASELINE === ''
    ? []
    : POLICY_NAMES.map((policy) => ({
        name: `cortado@base ${policy}`,
        bound: 'exact',
        pkg: 'cortado (baseline build)',
        policy,
        create: async (cap) => {
          const { pathToFileURL } = await import('node:url');
          const { join, resolve } = await import('node:path');
          const base = await import(pathToFileURL(join(resolve(BASELINE), 'dist', 'index.js')).href);
          return new base.Cache({ maxEntries: cap, policy });
        },
      }));

/** @type {Contender[]} */
export const CONTENDERS = [...PEERS, ...CORTADO, ...CORTADO_BASE];

export function contender(name) {
  const c = CONTENDERS.find((x) => x.name === name);
  if (c === undefined) throw new Error(`unknown contender ${name}`);
  return c;
}
