/**
 * The key index (store.ts, internal/number-table.ts): number keys in an open-addressing
 * table, every other key (and NaN) in a Map. Checked against a plain Map as the model, with keys chosen to
 * cross the boundary between the two (int32 edges, -0, NaN, doubles, strings of digits,
 * objects), through every operation that adds or removes keys, and with the invariant walk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cache } from 'cortado';
import { NumberTable, isTableKey, hashKey, validate } from 'cortado/internal';
import { POLICY_NAMES } from './helpers.js';

const EDGE_KEYS: unknown[] = [0, -0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 0.5, -0.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, '0', '1', '', 'a', 1n, true, null, undefined];

test('isTableKey: every number but NaN goes to the table', () => {
  const yes = [0, -0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 123456, 2 ** 31, -(2 ** 31) - 1, 0.5, Infinity, -Infinity, Number.MAX_VALUE, 5e-324];
  const no = [NaN, '1', 1n, null, undefined, {}, true];
  for (const k of yes) assert.equal(isTableKey(k), true, String(k));
  for (const k of no) assert.equal(isTableKey(k), false, String(k));
});

for (const policy of POLICY_NAMES) {
  test(`${policy}: the index agrees with a Map model across key kinds, sets, deletes, evictions, resize and clear`, () => {
    const obj = [{}, {}, [], () => 0];
    const keyArb = fc.oneof(
      fc.integer({ min: -50, max: 50 }),
      fc.constantFrom(...EDGE_KEYS),
      fc.constantFrom(...obj),
      fc.integer({ min: -60, max: 60 }).map((n) => n * 2 ** 26), // int32 and beyond, same low bits
      fc.integer({ min: 0, max: 30 }).map(String),
    );
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ t: fc.constant('set' as const), k: keyArb }) },
      { weight: 4, arbitrary: fc.record({ t: fc.constant('get' as const), k: keyArb }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('delete' as const), k: keyArb }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('resize' as const), n: fc.integer({ min: 1, max: 40 }) }) },
      { weight: 1, arbitrary: fc.constant({ t: 'clear' as const }) },
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 400 }), fc.integer(), (ops, seed) => {
        const model = new Map<unknown, number>();
        const c = new Cache<unknown, number>({
          maxEntries: 24,
          policy,
          seed,
          onRemove: (k, _v, cause) => {
            if (cause === 'evicted' || cause === 'rejected') model.delete(k);
          },
        });
        let n = 0;
        for (const o of ops) {
          if (o.t === 'set') {
            const v = ++n;
            if (c.set(o.k, v)) model.set(o.k, v);
            else model.delete(o.k);
          } else if (o.t === 'get') {
            assert.equal(c.get(o.k), model.get(o.k), `get(${String(o.k)})`);
          } else if (o.t === 'delete') {
            assert.equal(c.delete(o.k), model.delete(o.k), `delete(${String(o.k)})`);
          } else if (o.t === 'resize') {
            c.resize({ maxEntries: o.n });
          } else {
            c.clear();
            model.clear();
          }
          assert.equal(c.size, model.size);
        }
        validate(c as Cache<unknown, unknown>);
        const got = new Map([...c.entries()]);
        assert.equal(got.size, model.size, 'iteration visits every entry once');
        for (const [k, v] of model) {
          assert.equal(got.get(k), v, `entries() holds ${String(k)}`);
          assert.equal(c.peek(k), v);
        }
        // -0 comes back as 0, as from a Map.
        for (const k of c.keys()) if (k === 0) assert.ok(Object.is(k, 0), 'the key 0 iterates as +0');
      }),
      { numRuns: 60 },
    );
  });
}

test('NumberTable: backward-shift deletion keeps every remaining key findable, with no tombstones', () => {
  const rand = fc.sample(fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.double({ noNaN: true })), { numRuns: 4000, seed: 7 });
  const keyAt: unknown[] = new Array(4000).fill(undefined);
  const t = new NumberTable(keyAt, 12345);
  const slotOf = new Map<number, number>();
  let next = 0;
  for (let i = 0; i < rand.length; i++) {
    const k = rand[i]!;
    if (slotOf.has(k)) continue;
    keyAt[next] = k;
    t.insert(k, next);
    slotOf.set(k, next++);
    // Delete one in three, oldest first, so runs of the table are cut in many places.
    if (i % 3 === 2) {
      const [dk, ds] = slotOf.entries().next().value as [number, number];
      t.remove(dk, ds);
      slotOf.delete(dk);
      assert.equal(t.find(dk), -1, 'a removed key is gone');
    }
  }
  t.validate();
  assert.equal(t.size, slotOf.size);
  for (const [k, s] of slotOf) assert.equal(t.find(k), s);
  let used = 0;
  for (const c of t.cells) if (c !== 0) used++;
  assert.equal(used, slotOf.size, 'every used cell holds a live key');
});

test('NumberTable: keys a Map would chain together (multiples of 2^16) spread over the table, by a seeded hash', () => {
  // V8 hashes small integers without a seed; these share their low 16 bits. Here the home
  // cell is the low bits of the seeded mix, so the longest probe run stays short.
  const keys = Array.from({ length: 8192 }, (_, i) => i * 65536 - 2 ** 31);
  for (const seed of [1, 99, -7]) {
    const keyAt: unknown[] = [...keys];
    const t = new NumberTable(keyAt, seed);
    keys.forEach((k, s) => t.insert(k, s));
    let longest = 0;
    let run = 0;
    for (let i = 0; i < 2 * t.cells.length; i++) {
      run = t.cells[i % t.cells.length] !== 0 ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    assert.ok(longest < 64, `seed ${seed}: longest run ${longest} cells`);
    for (const [s, k] of keys.entries()) assert.equal(t.find(k), s);
  }
});

test("NumberTable: a key's home cell is the cache's seeded hash of it, the hash the policies get", () => {
  for (const k of [0, 1, -1, 77, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 0.25, -1e300, Infinity]) {
    for (const seed of [3, -3]) {
      const t = new NumberTable([k], seed);
      t.insert(k, 0);
      assert.equal(t.cells[hashKey(k, seed) & t.mask], 1, `key ${k}, seed ${seed}`);
    }
  }
});

test('a cache of strings never allocates the number table beyond one cell; the first number key does', () => {
  const c = new Cache<string | number, number>({ maxEntries: 1000 });
  for (let i = 0; i < 500; i++) c.set(`k${i}`, i);
  const store = (c as unknown as { store: { nums: NumberTable } }).store;
  assert.equal(store.nums.cells.length, 1);
  c.set(7, 7);
  assert.ok(store.nums.cells.length >= 16);
  assert.equal(c.get(7), 7);
  assert.equal(c.get('k7'), 7);
  validate(c as Cache<unknown, unknown>);
});
