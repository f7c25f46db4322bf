// Does a byte bound hold in the real heap?   npm run bench:memory
//
//   node --expose-gc bench/bytes-bound.mjs                 64 MB and 256 MB, every policy
//   node --expose-gc bench/bytes-bound.mjs --overhead      cortado's own bytes per entry
//   node --expose-gc bench/bytes-bound.mjs --quick         64 MB only, default policy
//   node --expose-gc bench/bytes-bound.mjs --views         values that keep more alive than they show
//
// Bound mode: a cache created with { maxBytes } is filled with a realistic mix of values
// (short and long strings, Buffers, small JSON-like objects) under string keys until three
// times the bound has gone through it, so it has been evicting for a while; then the
// process's retained growth (V8 heap used + ArrayBuffer backing stores, after full GCs,
// over a baseline taken just before the cache was created) is compared with the bound.
// Every case runs in a fresh child process.
//
// Overhead mode: a cache bounded by weight with one unit per entry, small-integer keys and
// one shared value (both cost nothing), filled to several entry counts with evictions;
// retained growth / entries is what cortado itself keeps per entry.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Cache, sizeOf, DEFAULT_POLICY } from 'cortado';
import { POLICY_NAMES } from 'cortado/internal';
import { rng } from './workloads.mjs';
import { retained } from './retained.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const MB = 1 << 20;


/** A seeded stream of realistic values. */
function valueMaker(seed) {
  const random = rng(seed);
  const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
  const text = (n, wide) => {
    let s = '';
    for (let i = 0; i < n; i++) s += letters[int(0, letters.length - 1)];
    // Some long strings carry a non-Latin-1 character, which makes V8 store 2 bytes per char.
    return wide ? s + '€' : s;
  };
  let id = 0;
  return () => {
    id++;
    const r = random();
    if (r < 0.3) return text(int(8, 40), false); // short strings: names, tokens, flags
    if (r < 0.45) return text(int(200, 2000), random() < 0.25); // long strings: HTML, JSON text
    if (r < 0.55) {
      const b = Buffer.alloc(int(64, 8192)); // own Buffers: file or network payloads
      b[0] = id & 0xff;
      return b;
    }
    if (r < 0.65) return Buffer.from(text(int(16, 512), false)); // pooled Buffers from strings
    // small JSON-like records, as an API or a database driver would return them
    return JSON.parse(
      `{"id":${id},"name":${JSON.stringify(text(int(5, 20), false))},"email":"user${id}@example.com",` +
        `"active":${random() < 0.5},"score":${random()},"tags":["t${int(0, 9)}","t${int(0, 99)}"],` +
        `"address":{"city":${JSON.stringify(text(int(4, 12), false))},"zip":${int(10000, 99999)}}}`,
    );
  };
}

function boundCase({ policy, maxBytes }) {
  const next = valueMaker(0xb17e5 ^ maxBytes);
  const before = retained();
  const cache = new Cache({ maxBytes, policy });
  let inserted = 0;
  let i = 0;
  while (inserted < 3 * maxBytes) {
    const key = `obj:${i++}:v`;
    const value = next();
    inserted += sizeOf(key) + sizeOf(value);
    cache.set(key, value);
  }
  const after = retained();
  let estimated = 0;
  for (const [k, v] of cache) estimated += sizeOf(k) + sizeOf(v);
  return {
    policy,
    maxBytes,
    entries: cache.size,
    weight: cache.weight,
    growth: after - before,
    ratio: (after - before) / maxBytes,
    sizeOfBytes: estimated,
    avgEntry: estimated / cache.size,
  };
}

function overheadCase({ policy, entries }) {
  const value = { shared: true };
  const before = retained();
  const cache = new Cache({ maxWeight: entries, weigher: () => 1, policy });
  for (let i = 0; i < 3 * entries; i++) cache.set(i, value);
  const after = retained();
  return { policy, entries: cache.size, bytesPerEntry: (after - before) / cache.size };
}

// Views mode: values that are small windows of something large (a 16-byte view of a 16 KiB
// buffer, a 100-character substring of a 16 KiB string). 20,000 such values, each with its
// own parent, go through a cache bounded at 4 MiB; retained growth over the bound says whether
// the bound held. sizeOf charges a view its whole backing store, so views should hold; a
// substring keeps its parent alive where nothing in JavaScript can see it, so it cannot.
const VIEW_PARENT = 16 << 10;
const VIEW_CASES = {
  'Buffer.alloc(16 KiB).subarray(0, 16)': () => Buffer.alloc(VIEW_PARENT).subarray(0, 16),
  'new Uint8Array(new ArrayBuffer(16 KiB), 8, 16)': () => new Uint8Array(new ArrayBuffer(VIEW_PARENT), 8, 16),
  'new DataView(new ArrayBuffer(16 KiB), 0, 16)': () => new DataView(new ArrayBuffer(VIEW_PARENT), 0, 16),
  'Buffer.from(that window): a 16-byte copy': () => Buffer.from(Buffer.alloc(VIEW_PARENT).subarray(0, 16)),
  'substring(0, 100) of a 16 KiB string': (i) => ('y'.repeat(VIEW_PARENT) + i).substring(0, 100),
  'the same substring, copied by structuredClone': (i) => structuredClone(('y'.repeat(VIEW_PARENT) + i).substring(0, 100)),
};

function viewCase({ name, policy, maxBytes, values }) {
  const make = VIEW_CASES[name];
  const before = retained();
  const cache = new Cache({ maxBytes, policy });
  for (let i = 0; i < values; i++) cache.set(i, make(i));
  const after = retained();
  return { name, policy, maxBytes, values, entries: cache.size, weight: cache.weight, growth: after - before, ratio: (after - before) / maxBytes };
}

function inChild(args) {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', fileURLToPath(import.meta.url), '--child', JSON.stringify(args)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  if (typeof gc !== 'function') throw new Error('run with --expose-gc');
  const args = JSON.parse(argv[1]);
  const res = args.mode === 'overhead' ? overheadCase(args) : args.mode === 'view' ? viewCase(args) : boundCase(args);
  process.stdout.write(JSON.stringify(res) + '\n');
} else if (argv.includes('--views')) {
  const maxBytes = 4 << 20;
  const values = 20_000;
  const rows = [];
  console.log(`${values} values, each with its own 16 KiB parent, through a cache bounded at ${maxBytes / MB} MiB (${DEFAULT_POLICY})`);
  console.log('| value | entries held | retained growth | growth / bound |');
  console.log('|---|---:|---:|---:|');
  for (const name of Object.keys(VIEW_CASES)) {
    const r = inChild({ mode: 'view', name, policy: DEFAULT_POLICY, maxBytes, values });
    rows.push(r);
    console.log(`| ${name} | ${r.entries} | ${(r.growth / MB).toFixed(1)} MB | ${r.ratio.toFixed(2)} |`);
  }
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'bytes-bound-views.json'), JSON.stringify({ node: process.version, date: new Date().toISOString(), rows }, null, 1));
} else if (argv.includes('--overhead')) {
  // Entry counts at different fill levels of the power-of-two growth of the Map and arrays.
  const counts = [100_000, 140_000, 180_000, 250_000];
  console.log('| policy | ' + counts.map((c) => `${c} entries`).join(' | ') + ' | mean |');
  console.log('|---|' + counts.map(() => '---:').join('|') + '|---:|');
  for (const policy of POLICY_NAMES) {
    const xs = counts.map((entries) => inChild({ mode: 'overhead', policy, entries }).bytesPerEntry);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`| ${policy} | ${xs.map((x) => x.toFixed(1)).join(' | ')} | ${mean.toFixed(1)} |`);
  }
} else {
  const quick = argv.includes('--quick');
  const bounds = quick ? [64 * MB] : [64 * MB, 256 * MB];
  const policies = quick ? [DEFAULT_POLICY] : POLICY_NAMES;
  const rows = [];
  console.log('| policy | maxBytes | entries | mean sizeOf(key)+sizeOf(value) | retained growth | growth / bound |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const maxBytes of bounds) {
    for (const policy of policies) {
      const r = inChild({ mode: 'bound', policy, maxBytes });
      rows.push(r);
      console.log(
        `| ${policy} | ${maxBytes / MB} MB | ${r.entries} | ${r.avgEntry.toFixed(0)} B | ${(r.growth / MB).toFixed(1)} MB | ${r.ratio.toFixed(3)} |`,
      );
    }
  }
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(
    join(here, 'results', `bytes-bound${quick ? '-quick' : ''}.json`),
    JSON.stringify({ node: process.version, date: new Date().toISOString(), rows }, null, 1),
  );
}
