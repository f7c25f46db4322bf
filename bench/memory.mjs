// Retained heap per entry, in a fresh process with --expose-gc:
//   node --expose-gc bench/memory.mjs '{"name":"lru-cache","entries":1000000,"keyType":"number"}'
// Keys (and the one shared value) exist before the baseline, so only the cache's own
// structures are counted. "Retained" = V8 heap used + ArrayBuffer backing stores (typed
// arrays live outside the V8 heap: counting heapUsed alone would flatter typed-array caches).
import { contender } from './contenders.mjs';
import { hashKey } from 'cortado/internal';
import { keyOf } from './workloads.mjs';
import { retained } from './retained.mjs';

const { name, entries, keyType } = JSON.parse(process.argv[2]);
if (typeof gc !== 'function') throw new Error('run with --expose-gc');
const spec = contender(name);
const key = keyOf(keyType);
// entries keys to fill, then 2 x entries fresh keys to churn through (each set evicts).
const keys = new Array(3 * entries);
for (let i = 0; i < 3 * entries; i++) keys[i] = key(i);
// Long template-literal keys are cons strings; the first cache that reads their characters
// (a policy hashing its keys) flattens them, which allocates. Flatten them all before the
// baseline so that this one-time cost of the keys is not charged to the cache.
for (let i = 0; i < 3 * entries; i++) if (typeof keys[i] === 'string') hashKey(keys[i], 0);
const value = { shared: true };

await spec.create(16); // load the module before the baseline
const before = retained();
const cache = await spec.create(entries);
for (let i = 0; i < entries; i++) cache.set(keys[i], value);
const after = retained();
let held = 0;
for (let i = 0; i < entries; i++) if (cache.get(keys[i]) !== undefined) held++;
// Steady state: bounded caches keep evicting; ghost queues and sketches fill up.
let steadyBytesPerEntry;
if (spec.bound !== 'none') {
  for (let i = entries; i < 3 * entries; i++) cache.set(keys[i], value);
  steadyBytesPerEntry = (retained() - before) / entries;
}
process.stdout.write(
  JSON.stringify({ name, entries, keyType, bytes: after - before, bytesPerEntry: (after - before) / entries, held, steadyBytesPerEntry }) + '\n',
);
