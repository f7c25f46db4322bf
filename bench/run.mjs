// Throughput + memory benchmark driver: `npm run bench` (full) or `npm run bench:quick`.
//
// Every case runs in a fresh child process (bench/case.mjs) so that one contender's JIT
// feedback and garbage never affect another's. Cases run one at a time. Within a cell
// (workload x capacity x key type) contenders run back to back (in `--rounds` rotations with
// the order shifted each round, median over rounds; default one round), so ratios to Map and
// to the fastest exact-bound peer come from numbers measured minutes apart at most.
//
// Options: --quick (capacity 100,000 only, 300k-request passes x 3, memory at 200k entries:
// about 3 minutes), --only=<substring>
// (contenders), --workloads=a,b --caps=1000,100000 --keys=number,string, --no-memory,
// --memory-only, --out=<file> (default bench/results/<full|quick>.json), --rounds=N,
// --baseline=<dir> (also run each policy from the build in <dir>/dist as `cortado@base <policy>`:
// before/after a change, side by side in one run; see bench/contenders.mjs).
// At the end it prints each cell's median Mops/s and the ratio to the first contender listed
// in --only (or lru-cache).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_POLICY } from 'cortado';
import { WORKLOADS } from './workloads.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = `usage: node bench/run.mjs [options]   (npm run bench, npm run bench:quick)
  --quick                 100k entries only, short passes, memory at 200k (about 3 minutes)
  --only=a,b              contenders whose name contains one of these
  --workloads=a,b         ${WORKLOADS.join(', ')}
  --caps=1000,100000      capacities (default 1000,100000,1000000)
  --keys=number,string    key types
  --rounds=N              rotations of the contenders per cell; the median is reported (default 1)
  --passes=N --big-passes=N --ops=N   timed passes per case (1M entries: big-passes), requests per pass
  --no-memory | --memory-only | --memory-entries=N
  --baseline=<dir>        also run every policy from <dir>/dist as "cortado@base <policy>"
  --out=<file>            results JSON (default bench/results/<full|quick>.json)`;
const argv = process.argv.slice(2);
let parsed;
try {
  parsed = parseArgs({
    args: argv,
    options: Object.fromEntries(
      [
        ...['quick', 'no-memory', 'memory-only', 'help'].map((n) => [n, { type: 'boolean' }]),
        ...['baseline', 'caps', 'keys', 'workloads', 'only', 'passes', 'big-passes', 'rounds', 'ops', 'out', 'memory-entries'].map((n) => [n, { type: 'string' }]),
      ],
    ),
  }).values;
} catch (e) {
  console.error(`bench: ${e.message}\n${USAGE}`);
  process.exit(2);
}
if (parsed.help) {
  console.log(USAGE);
  process.exit(0);
}
const flag = (n) => parsed[n] === true;
const opt = (n, d) => parsed[n] ?? d;
const quick = flag('quick');
const baseline = opt('baseline', '');
if (baseline !== '') process.env.CORTADO_BASELINE = baseline;
// Imported after the environment is set: contenders.mjs reads CORTADO_BASELINE when it loads.
const { CONTENDERS } = await import('./contenders.mjs');
const caps = opt('caps', quick ? '100000' : '1000,100000,1000000').split(',').map(Number);
const keyTypes = opt('keys', 'number,string').split(',');
const workloads = opt('workloads', WORKLOADS.join(',')).split(',');
const only = opt('only', '');
const passes = Number(opt('passes', quick ? 3 : 5));
// Passes at 1M entries, where one pass is 2M+ requests over a cold, large working set.
const bigPasses = Number(opt('big-passes', 3));
const rounds = Number(opt('rounds', 1));
const baseOps = Number(opt('ops', quick ? 300_000 : 1_000_000));
const out = opt('out', join(here, 'results', `${quick ? 'quick' : 'full'}.json`));
const contenders = CONTENDERS.filter((c) => only === '' || only.split(',').some((o) => c.name.includes(o)));

const started = new Date();
const results = [];
const memory = [];

function child(script, args, nodeFlags = []) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=6144', ...nodeFlags, join(here, script), JSON.stringify(args)], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) {
    process.stderr.write(`\n${script} ${JSON.stringify(args)} failed:\n${r.stderr}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function save() {
  const doc = {
    command: `npm run ${quick ? 'bench:quick' : 'bench'}${argv.filter((a) => a !== '--quick').length ? ' -- ' + argv.filter((a) => a !== '--quick').join(' ') : ''}`,
    date: started.toISOString(),
    finished: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    defaultPolicy: DEFAULT_POLICY,
    config: { caps, keyTypes, workloads, passes, bigPasses, rounds, baseOps },
    results,
    memory,
};
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(doc, null, 1));
}

let done = 0;
const total = caps.length * keyTypes.length * workloads.length * contenders.length * rounds;
for (const cap of flag('memory-only') ? [] : caps) {
  for (const keyType of keyTypes) {
    for (const workload of workloads) {
      // The scan trace needs room for a few scans of `cap` keys.
      const ops = workload === 'scan' ? Math.max(baseOps, 4 * cap) : Math.max(baseOps, 2 * cap);
      const samples = new Map(contenders.map((c) => [c.name, []]));
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < contenders.length; i++) {
          const c = contenders[(i + r) % contenders.length];
          const res = child('case.mjs', { name: c.name, workload, cap, keyType, ops, passes: cap >= 1_000_000 ? bigPasses : passes });
          done++;
          if (res !== null) samples.get(c.name).push(res);
          process.stdout.write(
            `\r[${done}/${total}] ${workload} cap=${cap} ${keyType} ${c.name}: ${res ? (res.opsPerSec / 1e6).toFixed(2) + ' Mops/s' : 'FAILED'}        `,
          );
        }
      }
      for (const c of contenders) {
        const s = samples.get(c.name);
        if (s.length === 0) continue;
        results.push({
          name: c.name, bound: c.bound, workload, cap, keyType, ops,
          opsPerSec: median(s.map((x) => x.opsPerSec)),
          hitRatio: s[0].hitRatio,
          rounds: s.length, passes: cap >= 1_000_000 ? bigPasses : passes,
        });
      }
      save();
    }
  }
}
process.stdout.write('\n');

if (!flag('no-memory')) {
  const memCap = Number(opt('memory-entries', quick ? 200_000 : 1_000_000));
  for (const keyType of keyTypes) {
    for (const c of contenders) {
      const res = child('memory.mjs', { name: c.name, entries: memCap, keyType }, ['--expose-gc']);
      if (res !== null) memory.push({ ...res, bound: c.bound });
      process.stdout.write(`\rmemory ${keyType} ${c.name}: ${res ? res.bytesPerEntry.toFixed(1) + ' B/entry' : 'FAILED'}              `);
    }
  }
  process.stdout.write('\n');
}

save();
console.log(`wrote ${out}`);

// Summary: median Mops/s per cell, and the ratio to a reference contender measured in the
// same run (the first name in --only, else lru-cache).
const ref = only === '' ? 'lru-cache' : only.split(',')[0];
const cells = new Map();
for (const r of results) {
  const cell = `${r.workload} cap=${r.cap} ${r.keyType}`;
  if (!cells.has(cell)) cells.set(cell, []);
  cells.get(cell).push(r);
}
for (const [cell, rs] of cells) {
  const base = rs.find((r) => r.name === ref) ?? rs[0];
  console.log(`\n${cell}`);
  for (const r of rs) {
    console.log(`  ${r.name.padEnd(24)} ${(r.opsPerSec / 1e6).toFixed(2).padStart(7)} Mops/s  ${(r.opsPerSec / base.opsPerSec).toFixed(2)}x ${base.name}`);
  }
}
