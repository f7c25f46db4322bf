// Calibrate sizeOf against measured heap growth:  node --expose-gc bench/sizeof-calibrate.mjs
//                   and time it:                   node bench/sizeof-calibrate.mjs --speed
//
// For each kind of value, allocate N fresh copies, measure the growth of V8 heap used plus
// ArrayBuffer backing stores after two full GCs, and compare the bytes per copy with
// sizeOf's estimate. The constants in src/sizeof.ts come from runs of this script.
import { sizeOf } from 'cortado';
import { retained } from './retained.mjs';

const N = 50_000;
const pad = (i, n) => ('#'.repeat(n) + i).slice(-n);
// split/join makes a fresh flat string that shares nothing with the literal it came from.
const fresh = (s) => s.split('').join('');
if (process.argv.includes('--speed')) {
  speed();
  process.exit(0);
}
if (typeof gc !== 'function') throw new Error('run with node --expose-gc');

const SAMPLES = [
  ['small integer', (i) => i],
  ['double', (i) => i + 0.5],
  ['bigint (1 digit)', (i) => BigInt(i) * 2n ** 40n],
  ['bigint (2 digits)', (i) => BigInt(i) * 2n ** 100n],
  ['string, 8 Latin-1 chars', (i) => fresh(pad(i, 8))],
  ['string, 20 Latin-1 chars', (i) => fresh(pad(i, 20))],
  ['string, 100 Latin-1 chars', (i) => fresh(pad(i, 100))],
  ['string, 1000 Latin-1 chars', (i) => fresh(pad(i, 1000))],
  ['string, 20 two-byte chars', (i) => fresh('ж' + pad(i, 19))],
  ['Buffer.alloc(0)', () => Buffer.alloc(0)],
  ['Buffer.alloc(16)', () => Buffer.alloc(16)],
  ['Buffer.alloc(16), its .buffer read (moved off-heap)', () => { const b = Buffer.alloc(16); void b.buffer; return b; }],
  ['Buffer.alloc(64)', () => Buffer.alloc(64)],
  ['Buffer.alloc(100)', () => Buffer.alloc(100)],
  ['Buffer.alloc(4096)', () => Buffer.alloc(4096)],
  ['Buffer.from(100-char string) (pooled)', (i) => Buffer.from(pad(i, 100))],
  ['Buffer.from(1000-char string) (pooled)', (i) => Buffer.from(pad(i, 1000))],
  ['Float64Array(100)', () => new Float64Array(100)],
  ['ArrayBuffer(256)', () => new ArrayBuffer(256)],
  ['[1, 2, 3]', (i) => [i, 2, 3]],
  ['[1.5, 2.5, 3.5]', (i) => [i + 0.5, 2.5, 3.5]],
  ['[str20, str20]', (i) => [fresh(pad(i, 20)), fresh(pad(i, 20))]],
  ['{ a } literal', (i) => ({ a: i })],
  ['JSON.parse 4 number props', (i) => JSON.parse(`{"a":${i},"b":2,"c":3,"d":4}`)],
  ['JSON.parse 20 number props', (i) => JSON.parse('{' + Array.from({ length: 20 }, (_, j) => `"p${j}":${i + j}`).join(',') + '}')],
  ['JSON.parse 200 props (dictionary)', (i) => JSON.parse('{' + Array.from({ length: 200 }, (_, j) => `"p${j}":${j}`).join(',') + '}')],
  ['JSON.parse user record', (i) => JSON.parse(`{"id":${i},"name":"user ${pad(i, 12)}","email":"u${i}@example.com","active":true,"score":${i + 0.25},"tags":["admin","beta"]}`)],
  ['JSON.parse nested', (i) => JSON.parse(`{"id":${i},"tags":["a","b"],"m":{"x":1.5}}`)],
  ['Object.create(null) + 3 props', (i) => Object.assign(Object.create(null), { a: i, b: 2, c: 3 })],
  ['new Map() with 5 entries', (i) => new Map([[i, 1], [2, 2], [3, 3], [4, 4], [5, 5]])],
  ['new Map() with 100 entries', (i) => new Map(Array.from({ length: 100 }, (_, j) => [j, i]))],
  ['new Set() with 16 numbers', (i) => new Set(Array.from({ length: 16 }, (_, j) => j + i))],
  ['Date', (i) => new Date(i)],
];

const rows = [];
for (const [label, make] of SAMPLES) {
  const hold = new Array(N).fill(null);
  const before = retained();
  for (let i = 0; i < N; i++) hold[i] = make(i);
  const after = retained();
  const measured = (after - before) / N;
  let est = 0;
  for (let i = 0; i < N; i += 97) est += sizeOf(hold[i]);
  est /= Math.ceil(N / 97);
  rows.push({ label, measured, est, err: measured === 0 ? 0 : (est - measured) / measured });
  hold.length = 0;
}
console.log(`| value | measured bytes | sizeOf | error |`);
console.log(`|---|---:|---:|---:|`);
for (const r of rows) {
  console.log(`| ${r.label} | ${r.measured.toFixed(1)} | ${r.est.toFixed(1)} | ${r.measured < 1 && r.est === 0 ? '0' : (100 * r.err).toFixed(1) + '%'} |`);
}
console.log(`\nnode ${process.version}, N=${N} per sample`);

/** ns per sizeOf call on a few typical values: the median of 7 rounds of ~50 ms each. */
function speed() {
  const record = (i) => JSON.parse(`{"id":${i},"name":"user ${i}","email":"u${i}@example.com","active":true,"score":${i + 0.25},"tags":["admin","beta"],"address":{"city":"Lyon","zip":69001}}`);
  const cases = [
    ['JSON.parse user record (8 props, nested)', record(7)],
    ['array of 100 records', Array.from({ length: 100 }, (_, i) => record(i))],
    ['array of 1,000 small integers', Array.from({ length: 1000 }, (_, i) => i)],
    ['array of 100 strings (20 chars)', Array.from({ length: 100 }, (_, i) => fresh(pad(i, 20)))],
    ['object with 20 number props', JSON.parse('{' + Array.from({ length: 20 }, (_, j) => `"p${j}":${j + 0.5}`).join(',') + '}')],
    ['Map with 100 entries', new Map(Array.from({ length: 100 }, (_, j) => [j, 'v' + j]))],
    ['Buffer.alloc(4096)', Buffer.alloc(4096)],
    ['string of 1,000 chars', fresh(pad(1, 1000))],
  ];
  console.log('| value | ns per sizeOf (median of 7) |');
  console.log('|---|---:|');
  let sink = 0;
  for (const [label, v] of cases) {
    let reps = 1;
    for (;;) {
      const t = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) sink += sizeOf(v);
      if (Number(process.hrtime.bigint() - t) > 50e6) break;
      reps *= 2;
    }
    const xs = [];
    for (let round = 0; round < 7; round++) {
      const t = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) sink += sizeOf(v);
      xs.push(Number(process.hrtime.bigint() - t) / reps);
    }
    xs.sort((a, b) => a - b);
    console.log(`| ${label} | ${xs[3].toFixed(0)} |`);
  }
  console.log(`\nnode ${process.version}${sink === -1 ? '' : ''}`);
}
