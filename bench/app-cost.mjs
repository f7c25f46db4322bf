#!/usr/bin/env node
// What the speed means for an application (issue #15).
//
// A cache's cost per request is a few hundred nanoseconds; a miss sends the request to a
// backend that costs microseconds to milliseconds. So the time an application spends per
// request is about
//
//     t(m) = c + (1 - h) * m
//
// with c the cache's own cost per request (a get, plus a set on a miss), h its hit ratio and m
// the backend cost of one miss. This script measures c and h for every cortado policy and for
// lru-cache on the shared real traces, replayed cache-aside through the real caches, and
// derives t(m) for m = 10 µs, 100 µs and 1 ms, and the miss cost above which each policy's
// hit-ratio gain pays for its per-request cost against lru-cache (the break-even miss cost).
//
//   node bench/app-cost.mjs                      full run (about 6 minutes of CPU on the 2-core VM)
//   node bench/app-cost.mjs --quick              10% size only, 1 round, first 500,000 requests
//   node bench/app-cost.mjs --markdown           also print the markdown table for docs/benchmarks.md
//   node bench/app-cost.mjs --from=FILE --markdown   render a results file again without measuring
//   options: --traces=cpp,P3 (trace names), --policies=wtinylfu,lru-cache (contenders: policy
//            names and lru-cache), --sizes=1%,10% (of the trace's unique keys), --rounds=N
//            (fresh processes per contender and cell, median over rounds), --passes=N (timed
//            passes per process, median pass), --max-requests=N (replay the first N requests
//            of each trace), --min-pass=N (requests per timed pass at least), --trace-dir=DIR,
//            --out=FILE (JSON, default bench/results/app-cost.json), --clock=cpu|wall (which
//            time is c in the table: the process's CPU time, the default, or wall time; both are
//            measured and kept in the JSON)
//
// Method. The parent reads each trace once with the simulator's reader (cortado/sim), keeps
// its first --max-requests keys as numbers and writes them to a temporary Float64 file. Each
// (trace, size, contender, round) then runs in a fresh `node` process (the same mode --child
// of this file), so that one contender's JIT feedback never shapes another's call sites, as
// in bench/case.mjs. The child loads the keys into a plain array before timing, replays the
// the keys once untimed (warm-up, a pass like the timed ones), then times --passes passes with process.hrtime.bigint().
// A pass replays the trace from the first request into fresh, empty caches (built before the
// clock starts), as many as make the pass at least --min-pass requests: every pass sees the
// whole trace from a cold cache, so its hit ratio is the trace's (cold misses included, as in
// docs/hit-ratio.md) and it is the same in every pass. cortado caches get `seed: 1` so hit
// ratios are reproducible and equal to docs/hit-ratio.md's at the same sizes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sourceState } from '../scripts/source-state.mjs';
import { loopAside } from './loops.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

/** The miss costs the table derives times for, in nanoseconds. */
export const MISS_COSTS_NS = [10_000, 100_000, 1_000_000];

/** Time per request, ns, when a miss costs `missNs` of backend work: c + (1 - h) * m. */
export function timePerRequest(costNs, hitRatio, missNs) {
  return costNs + (1 - hitRatio) * missNs;
}

/**
 * Where contender A (cost cA, hit ratio hA) and B meet: t_A(m) = t_B(m) at m = (cA - cB) / (hA - hB).
 * Returns { kind, ns }: 'always' (A is never slower), 'never' (A is never faster), 'above' (A is
 * faster for miss costs above ns), 'below' (A is faster for miss costs below ns).
 */
export function breakEven(cA, hA, cB, hB) {
  const dh = hA - hB;
  const dc = cA - cB;
  if (dh === 0) return { kind: dc <= 0 ? 'always' : 'never', ns: null };
  if (dh > 0) return dc <= 0 ? { kind: 'always', ns: null } : { kind: 'above', ns: dc / dh };
  return dc >= 0 ? { kind: 'never', ns: null } : { kind: 'below', ns: dc / dh };
}

const CONTENDER_LRU_CACHE = 'lru-cache';

if (process.argv[2] === '--child') await child(JSON.parse(process.argv[3]));
else await parent();

// ---------------------------------------------------------------------------------------
// Child: one contender on one trace at one size, in its own process
// ---------------------------------------------------------------------------------------

async function child({ keysFile, contender, cap, passes, minPass }) {
  const buf = readFileSync(keysFile);
  const f64 = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
  // A plain array of numbers, as an application holds its keys; integers stay small ints.
  const keys = new Array(f64.length);
  for (let i = 0; i < f64.length; i++) keys[i] = f64[i];
  const n = keys.length;

  let create;
  if (contender === CONTENDER_LRU_CACHE) {
    const { LRUCache } = await import('lru-cache');
    create = () => new LRUCache({ max: cap });
  } else {
    const { Cache } = await import('cortado');
    create = () => new Cache({ maxEntries: cap, policy: contender, seed: 1 });
  }

  // Cache-aside (bench/loops.mjs): get; on a miss, set. One process runs one contender, so it is monomorphic.
  const replay = loopAside;

  const perPass = Math.max(1, Math.ceil(minPass / n));
  // Warm-up: one untimed pass like the timed ones, so the JIT has tiered up on this very trace
  // (a short trace replayed once would leave the first timed pass in the interpreter).
  const expected = replay(create(), keys, n);
  let sink = expected;
  for (let r = 1; r < perPass; r++) sink += replay(create(), keys, n);
  const nsPerRequest = [];
  const cpuNsPerRequest = [];
  for (let p = 0; p < passes; p++) {
    const caches = [];
    for (let r = 0; r < perPass; r++) caches.push(create());
    const u0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let hits = 0;
    for (let r = 0; r < perPass; r++) hits += replay(caches[r], keys, n);
    const t1 = process.hrtime.bigint();
    const u1 = process.cpuUsage(u0);
    nsPerRequest.push(Number(t1 - t0) / (perPass * n));
    // CPU time of the process (all its threads) over the pass: on a loaded machine wall time
    // also counts time spent descheduled, and the ratio of the two says how loaded it was.
    cpuNsPerRequest.push(((u1.user + u1.system) * 1000) / (perPass * n));
    if (hits !== expected * perPass) {
      throw new Error(`${contender}: ${hits} hits in a pass of ${perPass} replays, expected ${expected * perPass}: the replay is not deterministic`);
    }
    sink += hits;
  }
  const sorted = [...nsPerRequest].sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      contender, cap, requests: n, replaysPerPass: perPass, passes,
      nsPerRequest: median(sorted), passNs: nsPerRequest,
      cpuNsPerRequest: median([...cpuNsPerRequest].sort((a, b) => a - b)), passCpuNs: cpuNsPerRequest,
      hitRatio: expected / n, sink: sink & 1,
    }) + '\n',
  );
}

// ---------------------------------------------------------------------------------------
// Parent: plan, run the children, derive, print
// ---------------------------------------------------------------------------------------

async function parent() {
  const { values } = parseArgs({
    options: {
      traces: { type: 'string' },
      policies: { type: 'string' },
      sizes: { type: 'string' },
      rounds: { type: 'string' },
      passes: { type: 'string' },
      'max-requests': { type: 'string' },
      'min-pass': { type: 'string' },
      'trace-dir': { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      quick: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      clock: { type: 'string', default: 'cpu' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    const src = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
    console.log(src.slice(1, src.findIndex((l) => l.startsWith('// Method'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    return;
  }
  const clock = values.clock;
  if (clock !== 'cpu' && clock !== 'wall') fail(`--clock: expected cpu or wall, got ${JSON.stringify(clock)}`);
  if (values.from !== undefined) {
    const results = JSON.parse(readFileSync(values.from, 'utf8'));
    printTable(results, clock);
    if (values.markdown) console.log('\n' + renderMarkdown(results, values.from, clock));
    return;
  }

  const { POLICY_NAMES } = await import('cortado/internal');
  const { DEFAULT_POLICY } = await import('cortado');
  const sim = await import('cortado/sim');
  const quick = values.quick;
  const int = (name, v, dflt, min = 1) => {
    if (v === undefined) return dflt;
    const x = Number(v.replace(/_/g, ''));
    if (!Number.isInteger(x) || x < min) fail(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return x;
  };
  const rounds = int('rounds', values.rounds, quick ? 1 : 3);
  const passes = int('passes', values.passes, 3);
  const maxRequests = int('max-requests', values['max-requests'], quick ? 500_000 : 2_000_000);
  const minPass = int('min-pass', values['min-pass'], quick ? 300_000 : 500_000);
  const sizes = (values.sizes ?? (quick ? '10%' : '1%,10%')).split(',').map((s) => {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(s.trim());
    if (!m || Number(m[1]) <= 0 || Number(m[1]) > 100) fail(`--sizes: expected percentages of the unique keys like 1%,10%, got ${JSON.stringify(s)}`);
    return { label: `${m[1]}%`, fraction: Number(m[1]) / 100 };
  });
  const allContenders = [...POLICY_NAMES, CONTENDER_LRU_CACHE];
  const contenders = values.policies === undefined ? allContenders : values.policies.split(',').map((s) => s.trim());
  for (const c of contenders) if (!allContenders.includes(c)) fail(`--policies: unknown contender ${JSON.stringify(c)}; known: ${allContenders.join(', ')}`);

  // The shared traces live next to the project (../shared/traces); a worktree under /work/wt/
  // sits one level deeper, so look there too.
  const dirs = values['trace-dir'] !== undefined ? [resolve(values['trace-dir'])] : [resolve(root, '../shared/traces'), resolve(root, '../../shared/traces')];
  const traceDir = dirs.find((d) => existsSync(d));
  if (traceDir === undefined) {
    console.error(`app-cost: no trace folder (looked in ${dirs.join(', ')}); nothing to measure`);
    process.exit(2);
  }
  // In the order of docs/hit-ratio.md, then any other trace in the folder by name.
  const known = Object.values(sim.REFERENCE_TRACE_FILES);
  const rank = (f) => (known.includes(f) ? known.indexOf(f) : known.length);
  const files = readdirSync(traceDir)
    .filter((f) => sim.formatFromName(f) !== null && !/readme/i.test(f))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const wanted = values.traces === undefined ? null : new Set(values.traces.split(',').map((s) => s.trim()));
  if (wanted !== null) {
    const names = [];
    for (const f of files) names.push((await sim.inspectTrace(join(traceDir, f), null)).name);
    for (const w of wanted) if (!names.includes(w)) fail(`--traces: no trace ${JSON.stringify(w)} in ${traceDir}; there: ${names.join(', ')}`);
  }

  const started = new Date();
  const tmp = mkdtempSync(join(os.tmpdir(), 'cortado-app-cost-'));
  const cells = [];
  const traces = [];
  try {
    for (const f of files) {
      const info = await sim.inspectTrace(join(traceDir, f), null);
      if (wanted !== null && !wanted.has(info.name)) continue;
      // Keys as numbers, the first maxRequests of them; unique keys over the whole trace, so the
      // sizes are those of docs/hit-ratio.md (round(fraction x unique keys of the trace)).
      const keys = new Float64Array(maxRequests);
      let kept = 0;
      let total = 0;
      const unique = new Set();
      let stringKey = null;
      for await (const batch of sim.readTrace(info, false)) {
        for (let i = 0; i < batch.count; i++) {
          const k = batch.keys[i];
          if (typeof k !== 'number') stringKey ??= k;
          unique.add(k);
          if (kept < maxRequests) keys[kept++] = k;
        }
        total += batch.count;
      }
      if (stringKey !== null) {
        console.error(`app-cost: ${info.name} has keys that are not numbers (${JSON.stringify(stringKey)}); skipped`);
        continue;
      }
      const keysFile = join(tmp, `${info.name}.f64`);
      writeFileSync(keysFile, keys.subarray(0, kept));
      const trace = { name: info.name, file: f, requests: total, replayed: kept, unique: unique.size };
      traces.push(trace);
      console.error(`app-cost: ${info.name}: ${total.toLocaleString('en-US')} requests, ${unique.size.toLocaleString('en-US')} unique keys${kept < total ? `; replaying the first ${kept.toLocaleString('en-US')}` : ''}`);
      for (const size of sizes) {
        const cap = Math.max(1, Math.round(size.fraction * unique.size));
        const runs = new Map(contenders.map((c) => [c, []]));
        for (let r = 0; r < rounds; r++) {
          // Rotate the order per round, so no contender always runs right after the same one.
          const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
          for (const contender of order) runs.get(contender).push(runChild({ keysFile, contender, cap, passes, minPass }));
        }
        for (const contender of contenders) {
          const rs = runs.get(contender);
          const hitRatios = new Set(rs.map((x) => x.hitRatio));
          if (hitRatios.size !== 1) fail(`${info.name} @ ${cap} ${contender}: hit ratio differs between rounds (${[...hitRatios].join(', ')})`);
          const cell = {
            trace: info.name, size: size.label, cap, contender,
            nsPerRequest: median(rs.map((x) => x.nsPerRequest).sort((a, b) => a - b)),
            hitRatio: rs[0].hitRatio,
            cpuNsPerRequest: median(rs.map((x) => x.cpuNsPerRequest).sort((a, b) => a - b)),
            roundsNs: rs.map((x) => x.nsPerRequest), roundsCpuNs: rs.map((x) => x.cpuNsPerRequest),
            passes, replaysPerPass: rs[0].replaysPerPass,
          };
          cells.push(cell);
          console.error(`  ${String(cap).padStart(7)} ${contender.padEnd(10)} ${cell.nsPerRequest.toFixed(1).padStart(7)} ns/request (cpu ${cell.cpuNsPerRequest.toFixed(1).padStart(7)})  hit ${(cell.hitRatio * 100).toFixed(2)}%`);
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Two exact LRUs must agree request for request: a cheap check that both replays are sound.
  for (const c of cells) {
    if (c.contender !== 'lru') continue;
    const other = cells.find((x) => x.trace === c.trace && x.cap === c.cap && x.contender === CONTENDER_LRU_CACHE);
    if (other && other.hitRatio !== c.hitRatio) {
      console.error(`app-cost: WARNING ${c.trace} @ ${c.cap}: cortado lru hit ratio ${c.hitRatio} but lru-cache ${other.hitRatio}; both are exact LRU`);
      process.exitCode = 1;
    }
  }
  const finished = new Date();
  const results = {
    command: `node bench/app-cost.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    started: started.toISOString(),
    finished: finished.toISOString(),
    seconds: Math.round((finished - started) / 1000),
    machine: machine(),
    settings: { rounds, passes, maxRequests, minPass, sizes: sizes.map((s) => s.label), contenders, missCostsNs: MISS_COSTS_NS },
    defaultPolicy: DEFAULT_POLICY,
    source: sourceState(root),
    traces,
    cells,
  };
  const out = values.out ?? join(root, 'bench/results/app-cost.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 1) + '\n');
  printTable(results, clock);
  console.error(`app-cost: wrote ${relative(process.cwd(), out)} in ${results.seconds} s`);
  if (values.markdown) console.log('\n' + renderMarkdown(results, relative(root, out), clock));
}

function runChild(args) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(args)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) fail(`child ${args.contender} @ ${args.cap} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
  };
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function fail(msg) {
  console.error(`app-cost: ${msg}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/** A duration in ns, printed in µs with three significant digits (ns below 1 µs). */
function fmtTime(ns) {
  if (ns < 1000) return `${ns.toFixed(0)} ns`;
  const us = ns / 1000;
  return `${us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us.toFixed(2)} µs`;
}

function fmtBreakEven(b) {
  if (b.kind === 'always') return 'always';
  if (b.kind === 'never') return 'never';
  return `${b.kind === 'above' ? '>' : '<'} ${fmtTime(b.ns)}`;
}

function missLabel(ns) {
  return ns >= 1_000_000 ? `${ns / 1_000_000} ms` : `${ns / 1000} µs`;
}

/**
 * c, the cost per request a cell's derivations use: the process's CPU time per request
 * ('cpu', the default) or wall time ('wall'). On this shared machine other work deschedules
 * the benchmark for long stretches; wall time then counts time the cache did not run, so it
 * varies with the load, while CPU time is what the requests cost the process.
 */
function costOf(cell, clock) {
  return clock === 'cpu' && cell.cpuNsPerRequest !== undefined ? cell.cpuNsPerRequest : cell.nsPerRequest;
}

/** Rows grouped by (trace, size), each with its derived columns. */
function derive(results, clock) {
  const groups = [];
  for (const c of results.cells) {
    let g = groups.find((x) => x.trace === c.trace && x.cap === c.cap);
    if (!g) groups.push((g = { trace: c.trace, size: c.size, cap: c.cap, rows: [] }));
    g.rows.push(c);
  }
  for (const g of groups) {
    const base = g.rows.find((r) => r.contender === CONTENDER_LRU_CACHE);
    for (const r of g.rows) {
      r.times = MISS_COSTS_NS.map((m) => timePerRequest(costOf(r, clock), r.hitRatio, m));
      r.vsBase = base && r !== base ? breakEven(costOf(r, clock), r.hitRatio, costOf(base, clock), base.hitRatio) : null;
    }
  }
  return groups;
}

function printTable(results, clock) {
  const groups = derive(results, clock);
  const head = ['trace', 'size', 'contender', `c ns (${clock})`, 'wall ns', 'hit %', ...MISS_COSTS_NS.map((m) => `t@${missLabel(m)}`), 'vs lru-cache'];
  const lines = [head];
  for (const g of groups) {
    for (const r of g.rows) {
      lines.push([g.trace, `${g.cap} (${g.size})`, r.contender, costOf(r, clock).toFixed(1), r.nsPerRequest.toFixed(1), (r.hitRatio * 100).toFixed(2), ...r.times.map(fmtTime), r.vsBase ? fmtBreakEven(r.vsBase) : '-']);
    }
  }
  const w = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) console.log(l.map((s, i) => (i < 3 ? s.padEnd(w[i]) : s.padStart(w[i]))).join('  '));
}

/** "-12%" / "+3%" / "±0%": a time against lru-cache's at the same miss cost. */
function fmtRel(t, base) {
  const d = (t / base - 1) * 100;
  const r = Math.round(d);
  return r === 0 ? '±0%' : `${r > 0 ? '+' : '−'}${Math.abs(r)}%`;
}

/**
 * The markdown for docs/benchmarks.md: how it was made, a summary for the default policy, and
 * the full table. Generated whole, so a rerun replaces it mechanically.
 */
export function renderMarkdown(results, file, clock) {
  const groups = derive(results, clock);
  const cpu = clock === 'cpu' && results.cells.every((c) => c.cpuNsPerRequest !== undefined);
  const s = results.settings;
  const m = results.machine;
  const def = results.defaultPolicy ?? 'wtinylfu';
  const L = [];
  L.push(`<!-- app-cost:start (generated by \`node bench/app-cost.mjs --from=${file} --markdown${clock === 'cpu' ? '' : ' --clock=wall'}\`; edit around it) -->`);
  L.push(`- Command: \`${results.command}\`, ${results.started.slice(0, 10)} (${results.started.slice(11, 16)} to ${results.finished.slice(11, 16)} UTC, ${results.seconds} s); results \`${file}\`${results.source ? `; cortado built from ${results.source}` : ''}.`);
  const load = results.cells.filter((c) => c.cpuNsPerRequest > 0).map((c) => c.nsPerRequest / c.cpuNsPerRequest).sort((a, b) => a - b);
  L.push(
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.os}, Node ${m.node}; shared with other work, so noisy: medians` +
      (load.length > 0 ? ` (wall time over the process's CPU time, median over cells: ${median(load).toFixed(2)}; 1.00 would mean the process ran undisturbed).` : '.'),
  );
  L.push(
    `- ${s.rounds} fresh process(es) per contender and cell, each ${s.passes} timed passes of at least ${s.minPass.toLocaleString('en-US')} requests after one untimed warm-up pass; ` +
      `c is the median pass${s.rounds > 1 ? ', then the median over processes' : ''}, ` +
      (cpu
        ? 'in CPU time of the process (`process.cpuUsage()`, all its threads, so garbage collection counts; wall time is in the last column, for comparison). At most'
        : 'in wall time. At most') +
      ` the first ${s.maxRequests.toLocaleString('en-US')} requests of a trace are replayed` +
      (results.traces.some((t) => t.replayed < t.requests)
        ? ` (${results.traces.filter((t) => t.replayed < t.requests).map((t) => `${t.name}: ${t.replayed.toLocaleString('en-US')} of ${t.requests.toLocaleString('en-US')}`).join('; ')}).`
        : '; every trace was replayed whole.'),
  );
  L.push('');

  // ---- summary: the default policy against lru-cache ----
  const pairs = groups
    .map((g) => ({ g, d: g.rows.find((r) => r.contender === def), b: g.rows.find((r) => r.contender === CONTENDER_LRU_CACHE) }))
    .filter((p) => p.d && p.b);
  if (pairs.length > 0) {
    L.push(`The default policy (\`${def}\`) against lru-cache:`);
    L.push('');
    L.push(`| trace | size | c ${def} | c lru-cache | h ${def} | h lru-cache | ${def} faster when a miss costs | ${MISS_COSTS_NS.map((x) => `t vs lru-cache, miss ${missLabel(x)}`).join(' | ')} |`);
    L.push(`| --- | ---: | ---: | ---: | ---: | ---: | --- | ${MISS_COSTS_NS.map(() => '---:').join(' | ')} |`);
    for (const { g, d, b } of pairs) {
      L.push(
        `| ${g.trace} | ${g.cap.toLocaleString('en-US')} (${g.size}) | ${costOf(d, clock).toFixed(0)} ns | ${costOf(b, clock).toFixed(0)} ns | ${(d.hitRatio * 100).toFixed(2)}% | ${(b.hitRatio * 100).toFixed(2)}% | ` +
          `${fmtBreakEven(d.vsBase)} | ${d.times.map((t, i) => fmtRel(t, b.times[i])).join(' | ')} |`,
      );
    }
    L.push('');
    // The same, in numbers a reader can quote (regenerated with the table).
    const ratio = pairs.map(({ d, b }) => costOf(d, clock) / costOf(b, clock));
    const extra = pairs.map(({ d, b }) => costOf(d, clock) - costOf(b, clock));
    const be = pairs.map(({ d }) => d.vsBase);
    const paysAt = (ns) => be.filter((x) => x.kind === 'always' || (x.kind === 'above' && x.ns <= ns)).length;
    const span = (xs, f) => `${f(Math.min(...xs))} to ${f(Math.max(...xs))}`;
    L.push(`In numbers (${pairs.length} trace/size cells):`);
    L.push('');
    L.push(
      `- c: \`${def}\` costs ${span(ratio, (x) => `${x.toFixed(2)}×`)} lru-cache's per request (${span(extra, (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(0)} ns`)}).`,
    );
    L.push(
      `- Break-even miss cost (above it, the hit-ratio gain outweighs the extra c): at most 1 µs in ${paysAt(1_000)} cells, at most 3 µs in ${paysAt(3_000)}, ` +
        `10 µs in ${paysAt(10_000)}, 100 µs in ${paysAt(100_000)}, 1 ms in ${paysAt(1_000_000)}; no break-even (lower hit ratio) in ${be.filter((x) => x.kind === 'never' || x.kind === 'below').length}.`,
    );
    for (let i = 0; i < MISS_COSTS_NS.length; i++) {
      const rel = pairs.map(({ d, b }) => d.times[i] / b.times[i] - 1);
      const faster = rel.filter((x) => x < -0.005).length;
      const slower = rel.filter((x) => x > 0.005).length;
      L.push(
        `- Miss ${missLabel(MISS_COSTS_NS[i])}: time per request ${span(rel, (x) => `${x <= 0 ? '−' : '+'}${Math.abs(x * 100).toFixed(1)}%`)} against lru-cache; ` +
          `lower in ${faster} cells, within ±0.5% in ${pairs.length - faster - slower}, higher in ${slower}.`,
      );
    }
    L.push('');
  }

  // ---- every contender ----
  L.push('Every contender (bold: the lowest time per request of its trace and size at that miss cost; in brackets: against lru-cache):');
  L.push('');
  L.push(`| trace | size | contender | c (ns/request) | h (hit %) | ${MISS_COSTS_NS.map((x) => `t, miss ${missLabel(x)}`).join(' | ')} | faster than lru-cache when a miss costs |${cpu ? ' wall ns/request |' : ''}`);
  L.push(`| --- | ---: | --- | ---: | ---: | ${MISS_COSTS_NS.map(() => '---:').join(' | ')} | --- |${cpu ? ' ---: |' : ''}`);
  for (const g of groups) {
    const base = g.rows.find((r) => r.contender === CONTENDER_LRU_CACHE);
    const best = MISS_COSTS_NS.map((_, i) => Math.min(...g.rows.map((r) => r.times[i])));
    g.rows.forEach((r, j) => {
      const first = j === 0;
      const cell = (t, i) => {
        const v = t === best[i] ? `**${fmtTime(t)}**` : fmtTime(t);
        return base && r !== base ? `${v} (${fmtRel(t, base.times[i])})` : v;
      };
      L.push(
        `| ${first ? g.trace : ''} | ${first ? `${g.cap.toLocaleString('en-US')} (${g.size})` : ''} | ${r.contender} | ${costOf(r, clock).toFixed(0)} | ${(r.hitRatio * 100).toFixed(2)} | ` +
          `${r.times.map(cell).join(' | ')} | ${r.vsBase ? fmtBreakEven(r.vsBase) : '-'} |${cpu ? ` ${r.nsPerRequest.toFixed(0)} |` : ''}`,
      );
    });
  }
  L.push('<!-- app-cost:end -->');
  return L.join('\n');
}
