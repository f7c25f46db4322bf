// One benchmark case in a fresh process: node bench/case.mjs '<json args>'.
// Prints one JSON line: { name, workload, cap, keyType, opsPerSec (median), passes, hitRatio }.
import { contender } from './contenders.mjs';
import { buildWorkload } from './workloads.mjs';
import { LOOPS } from './loops.mjs';

const args = JSON.parse(process.argv[2]);
const { name, workload, cap, keyType, ops, passes } = args;
const spec = contender(name);
const { fill, trace, mode } = buildWorkload(workload, cap, ops, keyType);
const cache = await spec.create(cap);

// One loop per mode (bench/loops.mjs); each process runs one contender, so every call site is monomorphic.
const loop = LOOPS[mode];

for (let i = 0; i < fill.length; i++) cache.set(fill[i], i);
// Warm-up: one untimed pass (JIT tiers up, cache reaches its steady state).
let sink = loop(cache, trace, trace.length);

const rates = [];
let hits = 0;
for (let p = 0; p < passes; p++) {
  const t0 = process.hrtime.bigint();
  const h = loop(cache, trace, trace.length);
  const t1 = process.hrtime.bigint();
  rates.push(trace.length / (Number(t1 - t0) / 1e9));
  hits += h;
  sink += h;
}
rates.sort((a, b) => a - b);
const median = rates.length % 2 ? rates[rates.length >> 1] : (rates[rates.length / 2 - 1] + rates[rates.length / 2]) / 2;
process.stdout.write(
  JSON.stringify({
    name, workload, cap, keyType, ops: trace.length, passes,
    opsPerSec: median, min: rates[0], max: rates[rates.length - 1],
    hitRatio: mode === 'set' ? null : hits / (passes * trace.length),
    sink: sink & 1,
  }) + '\n',
);
