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
//
// --interleave: each fresh process loads both builds (two module instances, and two copies of
// the loops so that no call site sees both classes), fills a cache of each, and alternates
// their timed passes (11 each, after two warm-up passes): the ratio of each adjacent pair of
// passes is taken, so a slow spell of the machine hits both builds alike. The process's
// median ratio is printed per process, and the median over the processes (--pairs of them).
// Fresh processes still matter: V8 does not make the same inlining decisions in every run,
// and one process shows only one of them.
import { spawnSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values: o } = parseArgs({
  options: {
    ...Object.fromEntries(['base', 'next', 'policy', 'cap', 'keys', 'workload', 'pairs', 'child', 'both'].map((n) => [n, { type: 'string' }])),
    interleave: { type: 'boolean' },
  },
});

if (o.both !== undefined) {
  // One interleaved process: --both=<base dir>,<next dir>.
  const dirs = o.both.split(',');
  const { buildWorkload } = await import('./workloads.mjs');
  const cap = Number(o.cap);
  const { fill, trace, mode } = buildWorkload(o.workload, cap, cap >= 1_000_000 ? 2_000_000 : 1_000_000, o.keys);
  const sides = [];
  for (const [i, dir] of dirs.entries()) {
    const { Cache } = await import(pathToFileURL(join(resolve(dir), 'dist', 'index.js')).href);
    const { LOOPS } = await import(`./loops.mjs?side=${i}`);
    const c = new Cache({ maxEntries: cap, policy: o.policy });
    for (let k = 0; k < fill.length; k++) c.set(fill[k], k);
    sides.push({ c, loop: LOOPS[mode] });
  }
  let sink = 0;
  const pass = (s) => {
    const u = process.cpuUsage();
    sink += s.loop(s.c, trace, trace.length);
    const d = process.cpuUsage(u);
    return trace.length / (d.user + d.system);
  };
  for (let w = 0; w < 2; w++) for (const s of sides) pass(s);
  const ratios = [];
  for (let p = 0; p < 11; p++) {
    const a = pass(sides[0]);
    const b = pass(sides[1]);
    ratios.push(b / a);
  }
  ratios.sort((x, y) => x - y);
  process.stdout.write(`${ratios[5]} ${sink & 1}\n`);
} else if (o.child !== undefined) {
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
    console.error('usage: node bench/cpu-ab.mjs --base=<dir with dist/> [--next=<dir>] --policy=P --cap=N --keys=number|string --workload=W [--pairs=5] [--interleave]');
    process.exit(2);
  }
  const next = o.next ?? join(here, '..');
  const args = ['--policy', o.policy ?? 'wtinylfu', '--cap', o.cap ?? '100000', '--keys', o.keys ?? 'number', '--workload', o.workload ?? 'hit'];
  const one = (dir) => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    return Number(r.stdout.trim().split(' ')[0]);
  };
  if (o.interleave) {
    const ratios = [];
    for (let i = 0; i < Number(o.pairs ?? 5); i++) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--both', `${o.base},${next}`, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
      ratios.push(Number(r.stdout.trim().split(' ')[0]));
    }
    const sorted = [...ratios].sort((x, y) => x - y);
    console.log(`${args.filter((_, i) => i % 2).join(' ')}: next/base ${sorted[sorted.length >> 1].toFixed(3)} (interleaved; median of ${ratios.length} processes, each the median of 11 adjacent pass pairs: ${ratios.map((r) => r.toFixed(2)).join(', ')})`);
    process.exit(0);
  }
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
