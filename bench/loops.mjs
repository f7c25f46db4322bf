// The timed request loops every throughput benchmark runs (bench/case.mjs, bench/long-keys.mjs,
// bench/cpu-ab.mjs, bench/app-cost.mjs), in one place so that they measure the same thing.
// Each benchmark process runs one contender, so every call site here stays monomorphic.

/** get(k) only; returns the hits. */
export function loopGet(c, keys, n) {
  let hits = 0;
  for (let i = 0; i < n; i++) if (c.get(keys[i]) !== undefined) hits++;
  return hits;
}

/** Cache-aside: get(k), then set(k, i) on a miss; returns the hits. */
export function loopAside(c, keys, n) {
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    if (c.get(k) === undefined) c.set(k, i);
    else hits++;
  }
  return hits;
}

/** set(k, i) only; returns 0. */
export function loopSet(c, keys, n) {
  for (let i = 0; i < n; i++) c.set(keys[i], i);
  return 0;
}

/** The loop of a workload mode ('get', 'aside' or 'set', see workloads.mjs). */
export const LOOPS = { get: loopGet, aside: loopAside, set: loopSet };
