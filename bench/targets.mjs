// Issue #15's targets, checked against a results file of bench/run.mjs:
//   node bench/targets.mjs [bench/results/full.json]   (npm run bench:targets)
//
// - speed: each policy's throughput over the fastest exact-bound peer that keeps Map
//   semantics (PEERS below) in every cell of hit / zipf-0.8 / zipf-1.0 / write x number /
//   string keys x 1,000 / 100,000 entries; the geometric mean and the worst cell. Targets: the
//   default at least 1.0 with no cell below 0.7; SIEVE and S3-FIFO at least 1.3;
// - memory at the largest measured size: the default at most lru-cache's bytes per entry,
//   LRU and SIEVE at most 45.
// Cells missing from the file are skipped and named. With `cortado@base` rows (a run with
// --baseline), also the after/before ratio of each policy per cell. Prints markdown.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_POLICY } from 'cortado';

const here = dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] ?? join(here, 'results', 'full.json');
const R = JSON.parse(readFileSync(file, 'utf8'));
const PEERS = ['lru-cache', 'mnemonist LRUMap', 'lru.min', 'sieve-cache'];
const WORKLOADS = ['hit', 'zipf-0.8', 'zipf-1.0', 'write'];
const CAPS = [1000, 100000];
const KEYS = ['number', 'string'];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Median throughput of `name` in a cell (over rounds, when the file keeps each round). */
function rate(name, workload, cap, keyType) {
  const xs = R.results.filter((r) => r.name === name && r.workload === workload && r.cap === cap && r.keyType === keyType).map((r) => r.opsPerSec);
  return xs.length ? median(xs) : undefined;
}
const fmt = (x) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(2));

const names = [...new Set(R.results.map((r) => r.name))].filter((n) => n.startsWith('cortado '));
const missing = [];
/** Per cell: the fastest peer's Mops/s and each policy's ratio to it. */
const cellRows = [];
const rows = [];
const speed = {};
for (const name of names) {
  const ratios = [];
  let worst = { x: Infinity, where: '' };
  for (const workload of WORKLOADS) {
    for (const cap of CAPS) {
      for (const keyType of KEYS) {
        const own = rate(name, workload, cap, keyType);
        const peers = PEERS.map((p) => [p, rate(p, workload, cap, keyType)]).filter(([, r]) => r !== undefined);
        const where = `${workload} ${cap} ${keyType}`;
        if (own === undefined || peers.length === 0) {
          missing.push(`${name}: ${where}`);
          continue;
        }
        const [peer, best] = peers.reduce((a, b) => (b[1] > a[1] ? b : a));
        const x = own / best;
        let row = cellRows.find((r) => r.where === where);
        if (!row) cellRows.push((row = { where, peer, best, ratios: {} }));
        row.ratios[name] = x;
        ratios.push(x);
        if (x < worst.x) worst = { x, where: `${where}, against ${peer}` };
      }
    }
  }
  if (ratios.length === 0) continue;
  const geo = Math.exp(ratios.reduce((s, x) => s + Math.log(x), 0) / ratios.length);
  speed[name] = { geo, worst, cells: ratios.length };
}

const policyOf = (name) => name.slice('cortado '.length);
for (const [name, { geo, worst, cells }] of Object.entries(speed)) {
  const p = policyOf(name);
  if (p === DEFAULT_POLICY) {
    rows.push(`| ${name} (default) | geometric mean ≥ 1.0 over ${cells} cells | ${fmt(geo)} | ${geo >= 1 ? 'met' : '**missed**'} |`);
    rows.push(`| ${name} (default) | no cell < 0.7 | ${fmt(worst.x)} (${worst.where}) | ${worst.x >= 0.7 ? 'met' : '**missed**'} |`);
  } else if (p === 'sieve' || p === 's3fifo') {
    rows.push(`| ${name} | geometric mean ≥ 1.3 over ${cells} cells | ${fmt(geo)} | ${geo >= 1.3 ? 'met' : '**missed**'} |`);
  } else {
    rows.push(`| ${name} | (no target) geometric mean over ${cells} cells | ${fmt(geo)} | |`);
  }
}
const mem = R.memory ?? [];
for (const keyType of KEYS) {
  const of = (n) => mem.find((m) => m.name === n && m.keyType === keyType);
  const ref = of('lru-cache');
  for (const name of names) {
    const m = of(name);
    if (!m) continue;
    const p = policyOf(name);
    const at = `${m.entries.toLocaleString('en-US')} entries, ${keyType} keys`;
    if (p === DEFAULT_POLICY && ref) {
      rows.push(`| ${name} (default) | bytes/entry ≤ lru-cache's (${ref.bytesPerEntry.toFixed(1)}) at ${at} | ${m.bytesPerEntry.toFixed(1)} | ${m.bytesPerEntry <= ref.bytesPerEntry ? 'met' : '**missed**'} |`);
    } else if (p === 'lru' || p === 'sieve') {
      rows.push(`| ${name} | bytes/entry ≤ 45 at ${at} | ${m.bytesPerEntry.toFixed(1)} | ${m.bytesPerEntry <= 45 ? 'met' : '**missed**'} |`);
    }
  }
}
console.log(`Issue #15 targets, from ${file} (ratios to the fastest of ${PEERS.join(', ')} per cell)\n`);
console.log('| contender | target | measured | |');
console.log('|---|---|---:|---|');
for (const r of rows) console.log(r);
console.log('\nPer cell: the fastest of those peers (Mops/s), and each policy as a multiple of it\n');
console.log(`| cell | fastest peer | ${names.map((n) => policyOf(n)).join(' | ')} |`);
console.log(`|---|---|${names.map(() => '---:').join('|')}|`);
for (const r of cellRows) console.log(`| ${r.where} | ${r.peer} ${(r.best / 1e6).toFixed(2)} | ${names.map((n) => fmt(r.ratios[n])).join(' | ')} |`);
if (missing.length) console.log(`\nCells not in the file (skipped): ${missing.length}, e.g. ${missing.slice(0, 3).join('; ')}`);
// Before/after, when the run had --baseline: each policy against its `cortado@base` build, per cell.
const based = [...new Set(R.results.map((r) => r.name))].filter((n) => n.startsWith('cortado@base ')).map((n) => n.slice('cortado@base '.length));
if (based.length) {
  console.log(`\nThe same run against the baseline build (\`cortado@base\`), after/before per cell\n`);
  console.log(`| cell | ${based.join(' | ')} |`);
  console.log(`|---|${based.map(() => '---:').join('|')}|`);
  const all = [];
  for (const workload of WORKLOADS) {
    for (const cap of CAPS) {
      for (const keyType of KEYS) {
        const xs = based.map((p) => {
          const a = rate(`cortado ${p}`, workload, cap, keyType);
          const b = rate(`cortado@base ${p}`, workload, cap, keyType);
          return a === undefined || b === undefined ? undefined : a / b;
        });
        if (xs.every((x) => x === undefined)) continue;
        for (const x of xs) if (x !== undefined) all.push(x);
        console.log(`| ${workload} ${cap} ${keyType} | ${xs.map(fmt).join(' | ')} |`);
      }
    }
  }
  for (const p of based) {
    const xs = [];
    for (const workload of WORKLOADS) for (const cap of CAPS) for (const keyType of KEYS) {
      const a = rate(`cortado ${p}`, workload, cap, keyType);
      const b = rate(`cortado@base ${p}`, workload, cap, keyType);
      if (a !== undefined && b !== undefined) xs.push(a / b);
    }
    if (xs.length) console.log(`\n${p}: geometric mean after/before over ${xs.length} cells ${fmt(Math.exp(xs.reduce((t, x) => t + Math.log(x), 0) / xs.length))}`);
  }
}

