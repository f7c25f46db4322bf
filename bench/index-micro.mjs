// The key index alone, outside the cache: `npm run bench:index` (about a minute).
//
// Why number keys get a table of their own and strings stay in a Map (docs/perf-notes.md,
// "The key index"). For each size, keys are resident in slots 0..n-1 and two loops run:
//  - hits: look up resident keys in a random order;
//  - churn: a lookup that misses, the delete of the oldest key, the insert of a new key into
//    its slot (what a full cache does on every miss).
// Contenders: a Map (key -> slot); cortado's NumberTable (number keys); and, for string keys,
// the same open-addressing design with the key hashed in JavaScript by cortado's hashKey (the
// variant that was measured and not built). Each measurement runs in a fresh process (so one
// contender's JIT feedback never reaches another's); median of 5 timed passes, Mops/s.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hashKey, NumberTable } from 'cortado/internal';

const SEED = 0x1234567;
const N = 1_000_000;

/** NumberTable's design over any key, hashing in JavaScript (strings here). */
class HashedTable {
  constructor(keyAt) {
    this.keyAt = keyAt;
    this.cells = new Int32Array(16);
    this.mask = 15;
    this.size = 0;
  }
  get(key) {
    const { cells, mask, keyAt } = this;
    let i = hashKey(key, SEED) & mask;
    for (;;) {
      const c = cells[i];
      if (c === 0) return undefined;
      if (keyAt[c - 1] === key) return c - 1;
      i = (i + 1) & mask;
    }
  }
  set(key, slot) {
    if (2 * (this.size + 1) > this.cells.length) this.grow();
    const { cells, mask } = this;
    let i = hashKey(key, SEED) & mask;
    while (cells[i] !== 0) i = (i + 1) & mask;
    cells[i] = slot + 1;
    this.size++;
  }
  delete(key) {
    const { cells, mask, keyAt } = this;
    let hole = hashKey(key, SEED) & mask;
    while (keyAt[cells[hole] - 1] !== key) hole = (hole + 1) & mask;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const c = cells[j];
      if (c === 0) break;
      const home = hashKey(keyAt[c - 1], SEED) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        cells[hole] = c;
        hole = j;
      }
    }
    cells[hole] = 0;
    this.size--;
  }
  grow() {
    const old = this.cells;
    this.cells = new Int32Array(old.length * 2);
    this.mask = this.cells.length - 1;
    this.size = 0;
    for (const c of old) if (c !== 0) this.set(this.keyAt[c - 1], c - 1);
  }
}

/** The same three operations over each contender (slot numbers; -1 or undefined for absent). */
function adapter(kind, keyAt) {
  if (kind === 'Map') {
    const m = new Map();
    return { get: (k) => m.get(k), set: (k, s) => m.set(k, s), delete: (k) => m.delete(k) };
  }
  if (kind === 'NumberTable') {
    const t = new NumberTable(keyAt, SEED);
    return { get: (k) => { const s = t.find(k); return s < 0 ? undefined : s; }, set: (k, s) => t.insert(k, s), delete: (k) => t.remove(k, t.find(k)) };
  }
  const t = new HashedTable(keyAt);
  return { get: (k) => t.get(k), set: (k, s) => t.set(k, s), delete: (k) => t.delete(k) };
}

function measure(keyType, kind, cap) {
  const key = keyType === 'number' ? (i) => i * 7 : (i) => `user:${i * 7}:profile`;
  const keyAt = new Array(cap).fill(undefined);
  const idx = adapter(kind, keyAt);
  for (let s = 0; s < cap; s++) {
    keyAt[s] = key(s);
    idx.set(keyAt[s], s);
  }
  let a = 1;
  const probes = new Array(N);
  for (let i = 0; i < N; i++) {
    a = (Math.imul(a, 1103515245) + 12345) | 0;
    probes[i] = keyAt[(a >>> 8) % cap];
  }
  const fresh = Array.from({ length: 6 * N + 1 }, (_, i) => key(cap + i));
  let next = 0;
  let oldest = 0;
  const hits = () => {
    let x = 0;
    for (let i = 0; i < N; i++) x += idx.get(probes[i]);
    return x;
  };
  const churn = () => {
    let x = 0;
    for (let i = 0; i < N; i++) {
      const k = fresh[next++];
      if (idx.get(k) !== undefined) x++;
      const s = oldest;
      oldest = oldest + 1 === cap ? 0 : oldest + 1;
      idx.delete(keyAt[s]);
      keyAt[s] = k;
      idx.set(k, s);
    }
    return x;
  };
  const out = {};
  for (const [name, f] of [['hits', hits], ['churn', churn]]) {
    f(); // warm-up
    const rates = [];
    for (let p = 0; p < 5; p++) {
      const t0 = process.hrtime.bigint();
      f();
      rates.push(N / (Number(process.hrtime.bigint() - t0) / 1e3));
    }
    rates.sort((x, y) => x - y);
    out[name] = rates[2];
  }
  return out;
}

if (process.argv[2] === '--case') {
  const [keyType, kind, cap] = process.argv.slice(3);
  process.stdout.write(JSON.stringify(measure(keyType, kind, Number(cap))) + '\n');
  process.exit(0);
}
const run = (keyType, kind, cap) => {
  const r = spawnSync(process.execPath, ['--max-old-space-size=4096', fileURLToPath(import.meta.url), '--case', keyType, kind, String(cap)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};

console.log(`key index alone, ${N.toLocaleString('en-US')} operations per pass, median of 5 (Mops/s), a fresh process per cell; node ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| keys | resident | Map: hits | table: hits | Map: churn | table: churn |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [keyType, table, caps] of [
  ['number', 'NumberTable', [1000, 100_000, 1_000_000]],
  ['string (18 units)', 'HashedTable', [1000, 100_000]],
]) {
  for (const cap of caps) {
    const kt = keyType.startsWith('number') ? 'number' : 'string';
    const m = run(kt, 'Map', cap);
    const t = run(kt, table, cap);
    console.log(`| ${keyType} | ${cap.toLocaleString('en-US')} | ${m.hits.toFixed(1)} | ${t.hits.toFixed(1)} | ${m.churn.toFixed(1)} | ${t.churn.toFixed(1)} |`);
  }
}
