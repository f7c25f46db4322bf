/** Key hashing: no pair of keys collides for every seed; symbols are not retained; the paths the simulator depends on are unchanged. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { hashKey } from 'cortado/internal';
import { referenceMix32 as mix32, referenceString } from './helpers.js';

const SEEDS = [0, 1, -1, 7, 12345, 0x7fffffff, -0x80000000, 0x5bd1e995, 42, 99, 2024, 31337, -123456789, 0x1234567, 3, 65536];

/** Whether a and b hash alike under every seed tried (a collision no seed removes). */
const alwaysCollide = (a: unknown, b: unknown) => SEEDS.every((s) => hashKey(a, s) === hashKey(b, s));

test('hashKey: the pairs of issue #10 (item 15) no longer collide for every seed', () => {
  const pairs: [unknown, unknown][] = [
    [1234.5, -1234.50048828125], // sign bit and bit 31 of the low word flipped
    [null, 'null'],
    [true, 'boolean:true'],
    [false, 'boolean:false'],
    [10n, 'bigint:10'],
    [undefined, 'undefined:undefined'],
    ['', 0], // the bare string pass gave '' the hash of 0
  ];
  for (const [a, b] of pairs) assert.ok(!alwaysCollide(a, b), `${String(a)} and ${String(b)}`);
});

test('hashKey: a double never collides with its sign twin for every seed', () => {
  const f64 = new Float64Array(1);
  const u32 = new Uint32Array(f64.buffer);
  fc.assert(
    fc.property(fc.double({ noNaN: true }), (x) => {
      f64[0] = x;
      u32[1] = u32[1]! ^ 0x80000000;
      u32[0] = u32[0]! ^ 0x80000000;
      const twin = f64[0]!;
      fc.pre(!Number.isNaN(twin) && !Object.is(twin, x));
      return !alwaysCollide(x, twin);
    }),
    { numRuns: 500 },
  );
});

test('hashKey: keys of different types do not line up for every seed', () => {
  const o = {};
  const f = () => 1;
  const s = Symbol('s');
  const keys: unknown[] = [0, 1, -1, 1.5, -1.5, NaN, Infinity, 2 ** 40, '', '0', '1', 'null', 'true', 'undefined', null, undefined, true, false, 0n, 1n, 10n, o, f, s, Symbol.for('s'), Symbol.for('')];
  for (let i = 0; i < keys.length; i++) {
    for (let j = i + 1; j < keys.length; j++) {
      assert.ok(!alwaysCollide(keys[i], keys[j]), `${String(keys[i])} vs ${String(keys[j])}`);
    }
  }
});

test('hashKey: keys equal to a Map hash alike (-0 and 0, every NaN, the same registered symbol)', () => {
  const f64 = new Float64Array(1);
  const u32 = new Uint32Array(f64.buffer);
  f64[0] = NaN;
  u32[0] = u32[0]! ^ 1; // another NaN bit pattern
  const otherNaN = f64[0]!;
  for (const seed of SEEDS) {
    assert.equal(hashKey(-0, seed), hashKey(0, seed));
    assert.equal(hashKey(otherNaN, seed), hashKey(NaN, seed));
    assert.equal(hashKey(Symbol.for('k'), seed), hashKey(Symbol.for('k'), seed));
  }
  const a = Symbol('same');
  const b = Symbol('same');
  assert.ok(!alwaysCollide(a, b), 'two symbols of one description are two keys');
  assert.equal(hashKey(a, 5), hashKey(a, 5));
});

// The simulator's published hit ratios (docs/hit-ratio.md) come from seeded caches: the hash of
// small integers and of strings must not change. These are the formulas they were made with
// (longer strings are sampled since issue #15: test/hash-long.test.ts; 'binary' draws code
// points, up to two units each, hence the length filter).
function referenceDouble(n: number, seed: number): number {
  const f64 = new Float64Array([n]);
  const u32 = new Uint32Array(f64.buffer);
  return mix32(Math.imul(u32[0]! ^ seed, 0x9e3779b1) ^ u32[1]!);
}

test('hashKey: small integers, non-negative doubles and non-empty strings of at most 128 units hash as they always did', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n, seed) => hashKey(n, seed) === mix32(n ^ seed)),
  );
  fc.assert(
    fc.property(fc.double({ min: 0, noNaN: true }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (x, seed) => {
      fc.pre((x | 0) !== x);
      return hashKey(x, seed) === referenceDouble(x, seed);
    }),
  );
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 128, unit: 'binary' }).filter((s) => s.length <= 128), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (s, seed) => hashKey(s, seed) === referenceString(s, seed)),
  );
});

test('hashKey: symbol keys are not kept alive once the cache is gone (issue #10, item 4)', { timeout: 60_000 }, () => {
  // A child with --expose-gc: symbols go through a small default-policy cache (which hashes
  // every key), the cache is dropped, and after a full GC none of them may still be reachable.
  const entry = new URL('../../dist/index.js', import.meta.url).href;
  const script = `
    const { Cache } = await import(${JSON.stringify(entry)});
    const refs = [];
    (() => {
      const cache = new Cache({ maxEntries: 100 });
      for (let i = 0; i < 20000; i++) {
        const s = Symbol('k' + i);
        cache.set(s, i);
        cache.get(s);
        if (i % 100 === 0) refs.push(new WeakRef(s));
      }
    })();
    await new Promise((r) => setImmediate(r)); // WeakRef targets are kept until the job ends
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    process.stdout.write(JSON.stringify({ alive, total: refs.length }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  const { alive, total } = JSON.parse(r.stdout);
  assert.equal(total, 200);
  assert.equal(alive, 0, `${alive} of ${total} symbol keys still reachable after the cache was dropped`);
});
