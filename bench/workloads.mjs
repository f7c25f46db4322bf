// Workload traces, built before any timing. Every trace is an array of keys; the timed loops
// only index into it, so key generation, random numbers and string building never show up in
// the measurement.

/** Small, fast, seeded PRNG (mulberry32) so that every contender sees the same trace. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Zipf(s) ranks in [0, n) by inverting the continuous approximation of the harmonic sum
 * (accurate to a fraction of a percent in rank frequencies for n >= 1000, and table-free, so a
 * key space of 10 million costs nothing to set up).
 */
export function zipfSampler(n, s, random) {
  const H = s === 1 ? (x) => Math.log(x) : (x) => (x ** (1 - s) - 1) / (1 - s);
  const Hinv = s === 1 ? (y) => Math.exp(y) : (y) => (1 + y * (1 - s)) ** (1 / (1 - s));
  const lo = H(0.5);
  const hi = H(n + 0.5);
  return () => {
    const r = Math.floor(Hinv(lo + random() * (hi - lo)) - 0.5);
    return r < 0 ? 0 : r >= n ? n - 1 : r;
  };
}

/** Key factory: numbers are the ids themselves; strings look like typical cache keys. */
export function keyOf(keyType) {
  if (keyType === 'number') return (i) => i;
  // Keys of 13+ characters built by concatenation start as cons strings; V8 flattens them the
  // first time their characters are read (by a hashing policy, or by Map on a miss).
  return (i) => `user:${i}:profile`;
}

/**
 * Build one workload. Returns { fill, trace, mode } where `fill` are keys set before the
 * run, `trace` the keys of one pass, and `mode` how a pass uses them:
 *  - 'get':   get(k) only (hit-only gets; misses would show in the hit ratio);
 *  - 'aside': cache-aside, get(k) then set(k, v) on a miss;
 *  - 'set':   set(k, v) only.
 */
export function buildWorkload(name, cap, ops, keyType) {
  const random = rng(0x5eed ^ cap);
  const key = keyOf(keyType);
  switch (name) {
    case 'hit': {
      const fill = new Array(cap);
      for (let i = 0; i < cap; i++) fill[i] = key(i);
      const trace = new Array(ops);
      for (let i = 0; i < ops; i++) trace[i] = fill[Math.floor(random() * cap)];
      return { fill, trace, mode: 'get' };
    }
    case 'zipf-0.8':
    case 'zipf-1.0': {
      const s = name === 'zipf-0.8' ? 0.8 : 1.0;
      const space = cap * 10;
      const next = zipfSampler(space, s, random);
      // Scatter ranks over the key space (a bijection: 7919 is prime and space = 10 x cap has
      // only 2 and 5 as factors) so that hot keys are not all small integers.
      const scatter = (r) => (r * 7919) % space;
      const interned = new Map();
      const trace = new Array(ops);
      for (let i = 0; i < ops; i++) {
        const id = scatter(next());
        let k = interned.get(id);
        if (k === undefined) interned.set(id, (k = key(id)));
        trace[i] = k;
      }
      return { fill: [], trace, mode: 'aside' };
    }
    case 'write': {
      // cap keys fill the cache; then every set is a key not seen for `ops` sets (> cap),
      // so each one evicts (the unbounded Map turns into updates after the first pass).
      const fill = new Array(cap);
      for (let i = 0; i < cap; i++) fill[i] = key(ops + i);
      const trace = new Array(ops);
      for (let i = 0; i < ops; i++) trace[i] = key(i);
      return { fill, trace, mode: 'set' };
    }
    case 'scan': {
      // A hot set of cap/2 keys read uniformly, interrupted by one-pass scans of cap fresh
      // keys (each scan alone would flush an LRU). Half the requests are scans.
      const hot = Math.max(1, cap >> 1);
      const hotKeys = new Array(hot);
      for (let i = 0; i < hot; i++) hotKeys[i] = key(i);
      const trace = new Array(ops);
      let scanId = hot;
      let i = 0;
      while (i < ops) {
        for (let j = 0; j < cap && i < ops; j++) trace[i++] = hotKeys[Math.floor(random() * hot)];
        for (let j = 0; j < cap && i < ops; j++) trace[i++] = key(scanId++);
      }
      return { fill: hotKeys, trace, mode: 'aside' };
    }
    default:
      throw new Error(`unknown workload ${name}`);
  }
}

export const WORKLOADS = ['hit', 'zipf-0.8', 'zipf-1.0', 'write', 'scan'];
