// Before/after of one cell in CPU time, for a loaded machine: `npm run bench:ab -- --base=<dir>
// --policy=lru --cap=100000 --keys=number --workload=hit [--next=<dir>] [--pairs=5]`.
//
// bench/run.mjs times wall clock, which on a shared 2-core machine moves by 2x between
// identical runs when other processes compete for the cores. This script runs the same
// workload (bench/workloads.mjs) in fresh processes that alternate between two builds (the
// build in <base>/dist and, by default, this checkout's dist/), times the passes in CPU time
// of the process (`process.cpuUsage`, user + system: time the process was not running is not
// counted, its own garbage collection is), and prints the median ratio next/base over the
// pairs with every pair's figures. What CPU time does not remove: another process's use of
// the shared caches and memory bandwidth.
import { spawnSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: o } = parseArgs({
  options: Object.fromEntries(['base', 'next', 'policy', 'cap', 'keys', 'workload', 'pairs', 'child'].map((n) => [n, { type: 'string' }])),
});

if (o.child !== undefined) {
  // One measurement: Mops per CPU-second, median of 5 passes after one warm-up pass.
  const { Cache } = await import(pathToFileURL(join(resolve(o.child), 'dist', 'index.js')).href);
  const { buildWorkload } = await import('./workloads.mjs');
  const cap = Number(o.cap);
  const { fill, trace, mode } = buildWorkload(o.workload, cap, cap >= 1_000_000 ? 2_000_000 : 1_000_000, o.keys);
  const c = new Cache({ maxEntries: cap, policy: o.policy });
  for (let i = 0; i < fill.length; i++) c.set(fill[i], i);
  const { LOOPS } = await import('./loops.mjs');
  const run = (keys) => LOOPS[mode](c, keys, keys.length);
  let sink = run(trace);
  const rates = [];
  for (let p = 0; p < 5; p++) {
    const u = process.cpuUsage();
    sink += run(trace);
    const d = process.cpuUsage(u);
    rates.push(trace.length / (d.user + d.system));
  }
  rates.sort((a, b) => a - b);
  process.stdout.write(`${rates[2]} ${sink & 1}\n`);
} else {
  if (o.base === undefined) {
    console.error('usage: node bench/cpu-ab.mjs --base=<dir with dist/> [--next=<dir>] --policy=P --cap=N --keys=number|string --workload=W [--pairs=5]');
    process.exit(2);
  }
  const next = o.next ?? join(here, '..');
  const args = ['--policy', o.policy ?? 'wtinylfu', '--cap', o.cap ?? '100000', '--keys', o.keys ?? 'number', '--workload', o.workload ?? 'hit'];
  const one = (dir) => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    return Number(r.stdout.trim().split(' ')[0]);
  };
  const pairs = [];
  for (let i = 0; i < Number(o.pairs ?? 5); i++) {
    const a = one(o.base);
    const b = one(next);
    pairs.push([a, b, b / a]);
  }
  const ratios = pairs.map((p) => p[2]).sort((x, y) => x - y);
  const median = ratios[ratios.length >> 1];
  console.log(`${args.filter((_, i) => i % 2).join(' ')}: next/base ${median.toFixed(3)} (median of ${pairs.length} pairs; Mops per CPU-second base/next: ${pairs.map(([a, b]) => `${a.toFixed(2)}/${b.toFixed(2)}`).join(', ')})`);
}
