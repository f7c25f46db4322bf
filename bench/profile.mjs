// Where one benchmark cell spends its time: `npm run bench:profile -- --contender="cortado
// wtinylfu" --cap=1000 --keys=string --workload=write [--passes=10] [--top=15]`.
//
// The cell is the one bench/run.mjs times (the same workload from bench/workloads.mjs and the
// same loop from bench/loops.mjs, over any contender of bench/contenders.mjs), in this
// process: the workload is built and the cache filled and warmed up first, then V8's sampling
// profiler (node:inspector) runs over the timed passes only, so setup does not show. Prints
// the share of samples whose innermost frame is each function (self time; a function V8
// inlined into its caller is counted in the caller, which is why "setPlain" can hold most of
// a write). The numbers in docs/benchmarks.md's profiles of #15's missed targets come from here.
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { contender } from './contenders.mjs';
import { buildWorkload } from './workloads.mjs';
import { LOOPS } from './loops.mjs';

const { values: o } = parseArgs({
  options: Object.fromEntries(['contender', 'cap', 'keys', 'workload', 'passes', 'top'].map((n) => [n, { type: 'string' }])),
});
if (o.contender === undefined || o.workload === undefined) {
  console.error('usage: node bench/profile.mjs --contender="cortado wtinylfu" --cap=1000 --keys=number|string --workload=hit|zipf-0.8|zipf-1.0|write|scan [--passes=10] [--top=15]');
  process.exit(2);
}
const cap = Number(o.cap ?? 1000);
const keys = o.keys ?? 'number';
const { fill, trace, mode } = buildWorkload(o.workload, cap, cap >= 1_000_000 ? 2_000_000 : 1_000_000, keys);
const cache = await contender(o.contender).create(cap);
const loop = LOOPS[mode];
for (let i = 0; i < fill.length; i++) cache.set(fill[i], i);
let sink = loop(cache, trace, trace.length); // warm-up: the JIT tiers up, the cache reaches its steady state

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
for (let p = 0; p < Number(o.passes ?? 10); p++) sink += loop(cache, trace, trace.length);
const { profile } = await session.post('Profiler.stop');
session.disconnect();

// Self time per function: samples whose leaf is the node, summed by name and location.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const n = byId.get(profile.samples[i]);
  const f = n.callFrame;
  const where = f.url === '' ? '' : ` ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  const label = `${f.functionName || '(anonymous)'}${where}`;
  const dt = profile.timeDeltas[i] ?? 0;
  self.set(label, (self.get(label) ?? 0) + dt);
  total += dt;
}
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(o.top ?? 15));
console.log(`${o.contender}, ${o.workload}, ${cap} ${keys} keys: self time over ${o.passes ?? 10} passes of ${trace.length} requests (${(total / 1e6).toFixed(2)} s sampled)`);
console.log('| share | function |\n|---:|---|');
for (const [label, t] of top) console.log(`| ${((100 * t) / total).toFixed(1)}% | \`${label}\` |`);
if (sink === 0.5) console.log(''); // keep the loop's result alive
