// Hash flooding with integer keys: `npm run bench:flood` (seconds).
//
// V8 hashes a small integer without a seed (ComputeUnseededHash in V8's utils.h), and a Map
// puts a key in the bucket given by the hash's low bits. Every step of that hash is a
// bijection on 32 bits, so it can be run backwards: from 8,192 hash values whose low 16 bits
// are zero we compute the 8,192 integers that have them. In a Map they all land in one bucket,
// and every lookup walks one chain. cortado indexes number keys in a table of its own whose
// hash is seeded per cache (src/internal/number-table.ts), so the same keys spread like any
// others. This script measures both, against ordinary integers, and checks its own keys: it
// verifies that each computed key hashes as intended before timing anything.
//
// Options: --baseline=<dir> (also time the build in <dir>/dist, e.g. one from before the
// number table), --rounds=N (median of N timings, default 5).
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cache } from 'cortado';

const { values: opt } = parseArgs({ options: { baseline: { type: 'string' }, rounds: { type: 'string' } } });
const ROUNDS = Number(opt.rounds ?? 5);
const N = 8192;

/** V8's ComputeUnseededHash, on the key's 32 bits. */
function v8Hash(key) {
  let h = key >>> 0;
  h = (~h + (h << 15)) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  h = (h + (h << 2)) >>> 0;
  h = (h ^ (h >>> 4)) >>> 0;
  h = Math.imul(h, 2057) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h & 0x3fffffff;
}

/** Multiplicative inverse of an odd number modulo 2^32 (Newton's iteration). */
function inverse(a) {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x >>> 0;
}

/** Undo h ^= h >>> s on 32 bits. */
function unxorshift(y, s) {
  let x = y;
  for (let k = s; k < 32; k += s) x ^= y >>> k;
  return x >>> 0;
}

/** The key whose V8 hash, before the final 30-bit mask, is `h`. */
function keyFor(h) {
  let x = h >>> 0;
  x = (x ^ (x >>> 16)) >>> 0; // xorshift by 16 is its own inverse on 32 bits
  x = Math.imul(x, inverse(2057)) >>> 0;
  x = unxorshift(x, 4);
  x = Math.imul(x, inverse(5)) >>> 0;
  x = unxorshift(x, 12);
  // ~x + (x << 15) = x * 32767 - 1 (mod 2^32)
  x = Math.imul((x + 1) >>> 0, inverse(32767)) >>> 0;
  return x | 0; // as a signed 32-bit integer: a small integer to V8
}

const flood = [];
for (let i = 1; flood.length < N; i++) {
  const k = keyFor(i << 16);
  if (v8Hash(k) % 65536 !== 0) throw new Error(`key ${k} does not hash as intended`);
  flood.push(k);
}
const ordinary = Array.from({ length: N }, (_, i) => i * 7 + 1);

/** ms to fill a cache (or Map) with `keys`, then read each key 10 times. */
function run(make, keys) {
  const c = make();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < keys.length; i++) c.set(keys[i], i);
  let sum = 0;
  for (let r = 0; r < 10; r++) for (let i = 0; i < keys.length; i++) sum += c.get(keys[i]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (sum !== 10 * ((keys.length * (keys.length - 1)) / 2)) throw new Error('wrong values');
  return ms;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const time = (make, keys) => median(Array.from({ length: ROUNDS }, () => run(make, keys)));

const contenders = [['Map', () => new Map()]];
for (const policy of ['lru', 'wtinylfu']) contenders.push([`cortado ${policy}`, () => new Cache({ maxEntries: 2 * N, policy })]);
if (opt.baseline) {
  const base = await import(pathToFileURL(join(resolve(opt.baseline), 'dist', 'index.js')).href);
  for (const policy of ['lru', 'wtinylfu']) contenders.push([`cortado@base ${policy}`, () => new base.Cache({ maxEntries: 2 * N, policy })]);
}

console.log(`${N} integer keys sharing the low 16 bits of V8's hash, against ${N} ordinary integers`);
console.log(`(fill, then 10 reads of each key; median of ${ROUNDS}; node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`);
console.log('| contender | ordinary keys, ms | flooding keys, ms | slowdown |');
console.log('|---|---:|---:|---:|');
for (const [name, make] of contenders) {
  run(make, ordinary); // warm-up: compile before timing
  const a = time(make, ordinary);
  const b = time(make, flood);
  console.log(`| ${name} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(1)}x |`);
}
