// Long string keys (issue #15): the per-operation cost of short (~16 units) and 1 KB keys, for
// every cortado policy and lru-cache, and the hit ratio each key shape gets.
//
//   node bench/long-keys.mjs [--baseline=<dir>] [--rounds=3] [--cap=10000] [--ops=200000]
//                            [--passes=3] [--shapes=short,long,long-mid] [--workloads=aside,write]
//                            [--only=a,b] [--zipf=0.8] [--out=<file>]
//   node bench/long-keys.mjs --hash [--baseline=<dir>]   (ns per hashKey by key length)
//   node bench/long-keys.mjs --v8-long    (V8's own hash of strings over 16,383 units: see v8Long)
//
// Key shapes (every trace is built before timing; keys are interned, so each distinct key is
// one flat string object, hashed once by V8 and then by cortado on each miss):
//  - short:    `user:<id>:profile`, like bench/workloads.mjs (13-21 units);
//  - long:     1024 units: a URL with a ~1010-unit constant query, the id last (a prefix-shared key);
//  - long-mid: 1024 units, the id (7 digits, zero-padded) in the middle of constant text: the
//              worst case for a sampled hash, since only interior units tell keys apart; it is
//              here for its hit ratio, which shows what sharing sketch counters costs.
// Workloads: 'aside' is cache-aside (get, then set on a miss) over Zipf(--zipf) ids drawn from
// 10 x cap; 'write' fills the cache and then sets keys never seen before, so every set evicts.
// Each case runs in a fresh process (as bench/run.mjs does): one untimed pass, then --passes
// timed passes, median. Cells are repeated in --rounds rotations; the median is reported.
// With --baseline=<dir>, where <dir>/dist is another build of cortado (the commit before a
// change), every policy is also run from that build as `cortado@base <policy>`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { rng, zipfSampler } from './workloads.mjs';
import { loopAside, loopSet } from './loops.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const LONG = 1024;

function keyMaker(shape) {
  if (shape === 'short') return (id) => `user:${id}:profile`;
  if (shape === 'long') {
    const head = 'https://api.example.com/v2/search?q=' + 'espresso+'.repeat(120);
    return (id) => {
      const tail = `&id=${id}`;
      return head.slice(0, LONG - tail.length) + tail;
    };
  }
  if (shape === 'long-mid') {
    const half = 'lorem-ipsum-dolor-sit-amet/'.repeat(40);
    const left = half.slice(0, (LONG - 7) >> 1);
    const right = half.slice(0, LONG - 7 - left.length);
    return (id) => left + String(id).padStart(7, '0') + right;
  }
  throw new Error(`unknown key shape ${shape}`);
}

/** Flat one-byte copy of an ASCII string (a rope or a slice becomes one sequential string). */
const flat = (s) => Buffer.from(s, 'latin1').toString('latin1');

function buildTrace(workload, shape, cap, ops, s) {
  const key = keyMaker(shape);
  const random = rng(0x15 ^ cap);
  const interned = new Map();
  const intern = (id) => {
    let k = interned.get(id);
    if (k === undefined) interned.set(id, (k = flat(key(id))));
    return k;
  };
  if (workload === 'aside') {
    const space = cap * 10;
    const next = zipfSampler(space, s, random);
    const trace = new Array(ops);
    for (let i = 0; i < ops; i++) trace[i] = intern((next() * 7919) % space);
    return { fill: [], trace, mode: 'aside' };
  }
  if (workload === 'write') {
    const fill = new Array(cap);
    for (let i = 0; i < cap; i++) fill[i] = flat(key(ops + i));
    const trace = new Array(ops);
    for (let i = 0; i < ops; i++) trace[i] = flat(key(i));
    return { fill, trace, mode: 'set' };
  }
  throw new Error(`unknown workload ${workload}`);
}

async function makeCache(name, cap, baseline) {
  if (name === 'lru-cache') return new (await import('lru-cache')).LRUCache({ max: cap });
  const [who, policy] = name.split(' ');
  const mod = who === 'cortado@base' ? await import(pathToFileURL(join(resolve(baseline), 'dist', 'index.js')).href) : await import('cortado');
  return new mod.Cache({ maxEntries: cap, policy });
}

// ---- one case, in a child process ----
async function runCase(a) {
  const { fill, trace, mode } = buildTrace(a.workload, a.shape, a.cap, a.ops, a.zipf);
  const cache = await makeCache(a.name, a.cap, a.baseline);
  const loop = mode === 'aside' ? loopAside : loopSet;
  for (let i = 0; i < fill.length; i++) cache.set(fill[i], i);
  let sink = loop(cache, trace, trace.length); // warm-up pass
  const rates = [];
  let hits = 0;
  for (let p = 0; p < a.passes; p++) {
    const t0 = process.hrtime.bigint();
    const h = loop(cache, trace, trace.length);
    const t1 = process.hrtime.bigint();
    rates.push(Number(t1 - t0) / trace.length);
    hits += h;
    sink += h;
  }
  rates.sort((x, y) => x - y);
  process.stdout.write(
    JSON.stringify({ nsPerOp: rates[rates.length >> 1], hitRatio: mode === 'aside' ? hits / (a.passes * trace.length) : null, sink: sink & 1 }) + '\n',
  );
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * --v8-long: V8 hashes a string of more than 16,383 units by its length alone, so distinct
 * keys of one such length all collide in a Map (the index of string keys). This times Map.set
 * of n distinct keys of 16,000 units (hashed by content) and of 17,000 (hashed by length):
 * per-operation cost flat in n for the first, growing with n for the second.
 */
function v8Long() {
  console.log('| key length | keys | ns per Map.set |\n|---|---|---|');
  for (const len of [16_000, 17_000]) {
    for (const n of [1000, 2000, 4000, 8000]) {
      const pad = 'x'.repeat(len - 8);
      const keys = [];
      for (let i = 0; i < n; i++) keys.push(flat(String(i).padStart(8, '0') + pad));
      const m = new Map();
      const t0 = process.hrtime.bigint();
      for (const k of keys) m.set(k, 1);
      console.log(`| ${len} | ${n} | ${(Number(process.hrtime.bigint() - t0) / n).toFixed(0)} |`);
    }
  }
  console.log(`\nnode bench/long-keys.mjs --v8-long; ${new Date().toISOString()}; node ${process.version}`);
}

/**
 * --hash: nanoseconds per hashKey call by string length, this build and (with --baseline) the
 * baseline's, alternating the two in one process over 256 flat keys per length (hot in cache),
 * median of 9 rounds.
 */
async function hashCost(baseline) {
  const builds = [['after', (await import('cortado/internal')).hashKey]];
  if (baseline) builds.unshift(['before', (await import(pathToFileURL(join(resolve(baseline), 'dist', 'internals.js')).href)).hashKey]);
  console.log(`| length | ${builds.map(([n]) => `${n} ns`).join(' | ')} |\n|---|${builds.map(() => '---').join('|')}|`);
  let sink = 0;
  for (const len of [16, 64, 128, 129, 256, 1024, 16384]) {
    const keys = [];
    for (let i = 0; i < 256; i++) keys.push(flat(`k${i}:`.padEnd(len, 'abcdefghijklmnopqrstuvwxyz'.charAt(i % 26))));
    const samples = builds.map(() => []);
    const n = Math.max(20_000, Math.floor(2_000_000 / Math.max(1, len / 16)));
    // One loop function per build (compiled separately), so each call site sees one hash.
    const loops = builds.map(() => new Function('hash', 'keys', 'n', 'let x = 0; for (let i = 0; i < n; i++) x ^= hash(keys[i & 255], 12345); return x;'));
    for (let r = 0; r < 9; r++) {
      builds.forEach(([, hash], b) => {
        const t0 = process.hrtime.bigint();
        sink ^= loops[b](hash, keys, n);
        samples[b].push(Number(process.hrtime.bigint() - t0) / n);
      });
    }
    console.log(`| ${len} | ${samples.map((x) => median(x).toFixed(0)).join(' | ')} |`);
  }
  console.log(`\nnode bench/long-keys.mjs --hash${baseline ? ` --baseline=${baseline}` : ''}; ${new Date().toISOString()}; node ${process.version} (sink ${sink & 1})`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      'v8-long': { type: 'boolean' },
      hash: { type: 'boolean' },
      ...Object.fromEntries(['case', 'baseline', 'rounds', 'cap', 'ops', 'passes', 'shapes', 'workloads', 'only', 'zipf', 'out'].map((n) => [n, { type: 'string' }])),
    },
  });
  if (values['v8-long']) return v8Long();
  if (values.hash) return hashCost(values.baseline ?? '');
  if (values.case !== undefined) return runCase(JSON.parse(values.case));
  const baseline = values.baseline ?? '';
  const { POLICY_NAMES } = await import('cortado/internal');
  const names = [...POLICY_NAMES.map((p) => `cortado ${p}`), ...(baseline ? POLICY_NAMES.map((p) => `cortado@base ${p}`) : []), 'lru-cache'].filter(
    (n) => values.only === undefined || values.only.split(',').some((o) => n.includes(o)),
  );
  const rounds = Number(values.rounds ?? 3);
  const cap = Number(values.cap ?? 10_000);
  const ops = Number(values.ops ?? 200_000);
  const passes = Number(values.passes ?? 3);
  const zipf = Number(values.zipf ?? 0.8);
  const shapes = (values.shapes ?? 'short,long,long-mid').split(',');
  const workloads = (values.workloads ?? 'aside,write').split(',');
  const out = values.out ?? join(here, 'results', 'long-keys.json');
  const started = new Date();
  const results = [];
  const total = workloads.length * shapes.length * names.length * rounds;
  let done = 0;
  for (const workload of workloads) {
    for (const shape of shapes) {
      const samples = new Map(names.map((n) => [n, []]));
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < names.length; i++) {
          const name = names[(i + r) % names.length];
          const args = { name, workload, shape, cap, ops, passes, zipf, baseline };
          const c = spawnSync(process.execPath, [fileURLToPath(import.meta.url), `--case=${JSON.stringify(args)}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
          done++;
          if (c.status !== 0) {
            process.stderr.write(`\n${name} ${workload} ${shape} failed:\n${c.stderr}\n`);
            continue;
          }
          const res = JSON.parse(c.stdout.trim().split('\n').pop());
          samples.get(name).push(res);
          process.stderr.write(`\r[${done}/${total}] ${workload} ${shape} ${name}: ${res.nsPerOp.toFixed(0)} ns/op        `);
        }
      }
      for (const name of names) {
        const s = samples.get(name);
        if (s.length === 0) continue;
        results.push({ name, workload, shape, nsPerOp: median(s.map((x) => x.nsPerOp)), hitRatio: s[0].hitRatio, rounds: s.length });
      }
    }
  }
  process.stderr.write('\n');
  const doc = {
    command: `node bench/long-keys.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    date: started.toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    config: { cap, ops, passes, rounds, zipf, shapes, workloads },
    results,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(doc, null, 1));
  // Table: per workload, each contender's ns/op per shape, long / short, and hit ratios.
  const get = (name, workload, shape) => results.find((x) => x.name === name && x.workload === workload && x.shape === shape);
  for (const workload of workloads) {
    console.log(`\n${workload} (cap ${cap}, ${ops} ops${workload === 'aside' ? `, Zipf ${zipf}` : ''}): median ns/op over ${rounds} rounds`);
    const head = ['contender', ...shapes.map((s) => `${s} ns/op`), ...(shapes.includes('short') ? shapes.filter((s) => s !== 'short').map((s) => `${s}/short`) : [])];
    if (workload === 'aside') head.push(...shapes.map((s) => `hit ${s}`));
    console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
    for (const name of names) {
      const row = [name];
      const rs = shapes.map((s) => get(name, workload, s));
      row.push(...rs.map((x) => (x ? x.nsPerOp.toFixed(0) : '-')));
      const short = get(name, workload, 'short');
      if (short) row.push(...shapes.filter((s) => s !== 'short').map((s) => { const x = get(name, workload, s); return x ? (x.nsPerOp / short.nsPerOp).toFixed(2) : '-'; }));
      if (workload === 'aside') row.push(...rs.map((x) => (x && x.hitRatio !== null ? x.hitRatio.toFixed(4) : '-')));
      console.log(`| ${row.join(' | ')} |`);
    }
  }
  console.log(`\n${doc.command}; ${doc.date}; node ${doc.node}; ${doc.cores} x ${doc.cpu}; results in ${out}`);
}

await main();
