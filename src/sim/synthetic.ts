/**
 * Built-in synthetic workloads for `cortado sim` with no arguments.
 *
 * Each one stresses a different weakness of recency-only caching, so that the table shows
 * where frequency (TinyLFU), quick demotion (S3-FIFO, SIEVE) and adaptivity pay off:
 *  - zipf:     independent requests with Zipf-distributed popularity (web and CDN objects,
 *              Breslau et al., INFOCOM'99); frequency wins.
 *  - loop:     a cyclic scan larger than the cache; LRU hits nothing, the optimum keeps a
 *              fixed part of the loop (the LIRS paper's "glimpse"-like pattern).
 *  - scan+hot: a Zipf hot set with long scans of one-time keys mixed in; policies that admit
 *              every newcomer into the main space let scans flush the hot set.
 *  - shift:    a Zipf hot set that moves to other keys now and then; a cache must forget
 *              old favourites (aging), which pure LFU does not.
 * Everything derives from a seeded PRNG, so every run replays the same requests.
 */
import type { TraceBatch, TraceKey } from './trace.js';

/** mulberry32: a small, fast 32-bit PRNG; good enough for workload generation. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sampler of ranks 0..n-1 with P(rank r) proportional to 1/(r+1)^alpha. */
export function zipf(n: number, alpha: number, rand: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    sum += 1 / Math.pow(r + 1, alpha);
    cdf[r] = sum;
  }
  for (let r = 0; r < n; r++) cdf[r]! /= sum;
  return () => {
    const u = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** A random permutation of 0..n-1, so popular ranks are not simply small key numbers. */
function permutation(n: number, rand: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

export interface Workload {
  name: string;
  description: string;
  /** Generate the whole request sequence (workloads are small enough to hold). */
  generate(seed: number): Int32Array;
}

/** Independent Zipf(0.9) requests over 20,000 keys. */
const zipfWorkload: Workload = {
  name: 'zipf',
  description: 'Zipf(0.9) popularity over 20,000 keys, 200,000 requests',
  generate(seed) {
    const rand = prng(seed);
    const n = 20_000; // keys
    const draw = zipf(n, 0.9, rand);
    const perm = permutation(n, rand);
    const out = new Int32Array(200_000);
    for (let i = 0; i < out.length; i++) out[i] = perm[draw()]!;
    return out;
  },
};

/** A loop over 5,000 keys, with 10% of requests to a small Zipf hot set. */
const loopWorkload: Workload = {
  name: 'loop',
  description: 'a cyclic scan over 5,000 keys, 10% of requests to a Zipf hot set of 500 keys, 150,000 requests',
  generate(seed) {
    const rand = prng(seed);
    const loop = 5_000; // keys in the loop
    const hot = 500; // keys in the hot set (disjoint from the loop)
    const draw = zipf(hot, 0.8, rand);
    const out = new Int32Array(150_000);
    let pos = 0;
    for (let i = 0; i < out.length; i++) {
      if (rand() < 0.1) out[i] = loop + draw();
      else {
        out[i] = pos;
        pos = (pos + 1) % loop;
      }
    }
    return out;
  },
};

/** A Zipf hot set with scans of never-repeated keys. */
const scanWorkload: Workload = {
  name: 'scan+hot',
  description: 'Zipf(0.8) over 5,000 hot keys; every 20,000 requests a scan of 4,000 one-time keys; 200,000 requests',
  generate(seed) {
    const rand = prng(seed);
    const hot = 5_000; // hot keys
    const period = 20_000; // requests between scan starts
    const scan = 4_000; // one-time keys per scan
    const draw = zipf(hot, 0.8, rand);
    const out = new Int32Array(200_000);
    let fresh = hot; // next never-seen key
    for (let i = 0; i < out.length; i++) {
      out[i] = i % period < scan ? fresh++ : draw();
    }
    return out;
  },
};

/** A Zipf hot set that moves to fresh keys every 40,000 requests. */
const shiftWorkload: Workload = {
  name: 'shift',
  description: 'Zipf(0.9) over a 4,000-key hot set that moves to other keys every 40,000 requests, 200,000 requests',
  generate(seed) {
    const rand = prng(seed);
    const hot = 4_000; // keys in the hot set at any time
    const phase = 40_000; // requests before the hot set moves
    const draw = zipf(hot, 0.9, rand);
    const perm = permutation(hot, rand);
    const out = new Int32Array(200_000);
    for (let i = 0; i < out.length; i++) {
      // Half of the hot set is replaced at each move, so some favourites survive.
      const epoch = Math.floor(i / phase);
      const r = perm[draw()]!;
      out[i] = r < hot / 2 ? r + epoch * hot : r + (epoch >> 1) * hot + 1_000_000;
    }
    return out;
  },
};

export const WORKLOADS: readonly Workload[] = [zipfWorkload, loopWorkload, scanWorkload, shiftWorkload];

/** Seed of the built-in run; fixed so that `npm start` prints the same table every time. */
export const DEFAULT_SEED = 20_260_101;

/** Slice a generated sequence into batches like a trace reader produces. */
export function* batchesOf(seq: Int32Array, batch = 1 << 16): Generator<TraceBatch> {
  for (let s = 0; s < seq.length; s += batch) {
    const e = Math.min(seq.length, s + batch);
    const keys: TraceKey[] = new Array<TraceKey>(e - s);
    for (let i = s; i < e; i++) keys[i - s] = seq[i]!;
    yield { count: e - s, keys, sizes: null, next: null };
  }
}
