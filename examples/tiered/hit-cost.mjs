// What a memory hit costs through TieredCache, next to the same Cache read directly and
// awaited (every async API pays that await). A micro-benchmark, not a test:
//
//   npm run build && node examples/tiered/hit-cost.mjs [rounds=7]
//
// 10,000 string keys, all in memory, read round-robin (keys precomputed); each round times
// 2,000,000 reads per variant, variants interleaved per round; prints the median ns per read.
import { Cache } from 'cortado';
import { MemoryTier, TieredCache } from 'cortado/tiered';

const rounds = Number(process.argv[2] ?? 7);
const N = 10_000;
const R = 2_000_000;
const keys = Array.from({ length: N }, (_, i) => `key:${i}`);

const plain = new Cache({ maxEntries: N });
const memory = new Cache({ maxEntries: N });
const tiered = new TieredCache({ memory, tiers: [{ tier: new MemoryTier(), write: 'on-evict' }] });
for (const k of keys) {
  plain.set(k, 1);
  await tiered.set(k, 1);
}

const variants = {
  'Cache.get': async () => {
    let s = 0;
    for (let i = 0; i < R; i++) s += plain.get(keys[i % N]);
    return s;
  },
  'await Cache.get': async () => {
    let s = 0;
    for (let i = 0; i < R; i++) s += await plain.get(keys[i % N]);
    return s;
  },
  'await TieredCache.get': async () => {
    let s = 0;
    for (let i = 0; i < R; i++) s += await tiered.get(keys[i % N]);
    return s;
  },
};

const times = Object.fromEntries(Object.keys(variants).map((n) => [n, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(variants)) {
    const t0 = performance.now();
    const s = await fn();
    const ms = performance.now() - t0;
    if (s !== R) throw new Error(`${name}: ${s} hits of ${R}`);
    times[name].push((ms / R) * 1e6);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(times['await Cache.get']);
console.log(`node ${process.version}, ${rounds} rounds, median ns per read`);
for (const [name, xs] of Object.entries(times)) {
  const m = median(xs);
  console.log(`${name.padEnd(24)} ${m.toFixed(0).padStart(6)} ns   ${(m / base).toFixed(2)}x of await Cache.get`);
}
await tiered.close();
