/** LHD ('lhd'): size-aware ranking, learning from hits by age, reconfiguration. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache } from 'cortado';
import { validate } from 'cortado/internal';

const check = (c: Cache<any, any>) => validate(c as Cache<unknown, unknown>);
type Internals = { policy: { reconfigurations: number } };

test('lhd: before any statistics, the oldest entry goes (density ~ 1 / age)', () => {
  const c = new Cache<number, number>({ maxEntries: 4, policy: 'lhd', seed: 1 });
  for (let k = 0; k < 4; k++) c.set(k, k);
  c.get(0); // 0 is hit: a higher class and age 0
  c.set(4, 4); // among 1, 2, 3 (never hit) the oldest, 1, has the least density
  assert.deepEqual([...c.keys()].sort(), [0, 2, 3, 4]);
  c.set(5, 5);
  assert.equal(c.has(2), false);
  check(c);
});

test('lhd: size-aware: the heavy entry goes before light ones of the same age', () => {
  const c = new Cache<string, number>({ maxWeight: 60, policy: 'lhd', seed: 2 });
  c.set('a', 0, { weight: 50 });
  c.set('b', 0, { weight: 5 });
  c.set('c', 0, { weight: 5 });
  c.set('d', 0, { weight: 5 });
  assert.equal(c.has('a'), false);
  assert.deepEqual([...c.keys()].sort(), ['b', 'c', 'd']);
  check(c);
});

test('lhd: learns that hot keys are hit at short ages while one-off keys never are', () => {
  // 5 hot keys, each reused every 15 requests, between pairs of one-off keys: with 10 slots
  // LRU never hits (14 distinct keys between two uses); LHD learns after reconfiguring.
  const c = new Cache<number, number>({ maxEntries: 10, policy: 'lhd', seed: 3 });
  let one = 1000;
  let hits = 0;
  let lateHits = 0;
  const n = 30_000;
  for (let i = 0; i < n; i++) {
    const k = i % 3 === 0 ? (i / 3) % 5 : one++;
    if (c.get(k) === undefined) c.set(k, k);
    else {
      hits++;
      if (i >= n / 2) lateHits++;
    }
  }
  assert.ok((c as unknown as Internals).policy.reconfigurations >= 2);
  assert.ok(lateHits > 0.7 * (n / 2 / 3), `hot keys hit ${lateHits} times in the second half`);
  assert.ok(hits > 0);
  check(c);
});

test('lhd: weight-bounded churn with resize keeps the validator happy', () => {
  const c = new Cache<number, number>({ maxEntries: 5000, maxWeight: 500, weigher: (v) => v, policy: 'lhd', seed: 4 });
  let x = 9;
  for (let i = 0; i < 12_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const k = (x >>> 8) % 400;
    if (c.get(k) === undefined) c.set(k, 1 + (k % 20));
    if (i % 3000 === 0) check(c);
  }
  c.resize({ maxWeight: 100 });
  assert.ok(c.weight <= 100);
  c.delete([...c.keys()][0]!);
  check(c);
  c.clear();
  assert.equal(c.size, 0);
  check(c);
});
