/** TinyLFU + sampled LFU ('tinylfu'): doorkeeper-backed admission, cost-aware refusal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache } from 'cortado';
import { validate, hashKey } from 'cortado/internal';

const check = (c: Cache<any, any>) => validate(c as Cache<unknown, unknown>);

test('tinylfu: the least frequent resident goes; ties admit the newcomer', () => {
  const c = new Cache<number, number>({ maxEntries: 5, policy: 'tinylfu', seed: 1 });
  for (let k = 0; k < 5; k++) c.set(k, k);
  for (let r = 0; r < 3; r++) for (let k = 0; k < 4; k++) c.get(k); // 0..3 hot, 4 cold
  assert.equal(c.set(5, 5), true); // 5 (estimate 1) vs coldest resident 4 (estimate 1): admitted
  assert.equal(c.has(4), false);
  for (let k = 0; k < 4; k++) assert.equal(c.has(k), true, `hot key ${k}`);
  assert.equal(c.has(5), true);
  check(c);
});

test('tinylfu: a newcomer colder than every resident is refused and nothing is evicted', () => {
  const removed: [number, string][] = [];
  const c = new Cache<number, number>({ maxEntries: 5, policy: 'tinylfu', seed: 2, onRemove: (k, _v, cause) => removed.push([k, cause]) });
  for (let k = 0; k < 5; k++) c.set(k, k);
  for (let r = 0; r < 2; r++) for (let k = 0; k < 5; k++) c.get(k);
  assert.equal(c.set(99, 99), false);
  assert.deepEqual(removed, [[99, 'rejected']]);
  assert.equal(c.size, 5);
  assert.equal(c.stats().rejections, 1);
  check(c);
});

test('tinylfu: a heavy newcomer must be worth all it displaces', () => {
  const c = new Cache<string, number>({ maxWeight: 10, policy: 'tinylfu', seed: 3 });
  for (let k = 0; k < 10; k++) c.set(`r${k}`, k, { weight: 1 }); // ten cold residents, estimate 1 each
  // 'big' needs 3 victims worth 3 in all; each refused set() still counts it once.
  assert.equal(c.set('big', 0, { weight: 3 }), false); // estimate 1 (doorkeeper) < 3
  assert.equal(c.size, 10);
  assert.equal(c.set('big', 0, { weight: 3 }), false); // estimate 2 < 3
  assert.equal(c.size, 10);
  check(c);
  assert.equal(c.set('big', 0, { weight: 3 }), true); // estimate 3 = 3: admitted
  assert.equal(c.size, 8);
  assert.equal(c.weight, 10);
  assert.equal(c.stats().evictions, 3);
  check(c);
});

test('tinylfu: a newcomer with a light footprint displaces one cold entry', () => {
  const c = new Cache<string, number>({ maxWeight: 10, policy: 'tinylfu', seed: 4 });
  c.set('heavy', 0, { weight: 6 });
  for (let k = 0; k < 4; k++) c.set(`r${k}`, k, { weight: 1 });
  for (let r = 0; r < 3; r++) for (let k = 0; k < 4; k++) c.get(`r${k}`);
  assert.equal(c.set('new', 0, { weight: 1 }), true); // only 'heavy' is as cold as the newcomer
  assert.equal(c.has('heavy'), false);
  assert.equal(c.weight, 5);
  check(c);
});

test('tinylfu: sampled eviction keeps a hot set under a stream of one-off keys', () => {
  const c = new Cache<number, number>({ maxEntries: 100, policy: 'tinylfu', seed: 5 });
  let hotHits = 0;
  let one = 1_000_000;
  for (let i = 0; i < 20_000; i++) {
    const k = i % 2 === 0 ? i % 100 : one++; // 50 hot keys interleaved with one-off keys
    if (c.get(k) === undefined) c.set(k, k);
    else if (k < 100) hotHits++;
    if (i % 2000 === 0) check(c);
  }
  assert.ok(hotHits > 0.9 * 10_000, `hot hits ${hotHits}`);
  check(c);
});

test('tinylfu: hits count on the slot while resident, and join the doorkeeper and sketch when the key leaves', () => {
  type P = { policy: { sketch: { frequency(h: number): number; additions: number }; door: { has(h: number): boolean }; estimate(h: number): number } };
  const c = new Cache<number, number>({ maxEntries: 5, policy: 'tinylfu', seed: 4 });
  const p = (c as unknown as P).policy;
  const hash = (k: number) => hashKey(k, 4);
  for (let k = 0; k < 5; k++) c.set(k, k); // each key: first sighting, in the doorkeeper only
  const additions = p.sketch.additions;
  for (let i = 0; i < 6; i++) c.get(2);
  assert.equal(p.estimate(hash(2)), 1, 'six hits, and the shared structures have not moved');
  assert.equal(p.sketch.additions, additions + 6, 'but each hit counts towards aging');
  // The newcomer (estimate 1 once counted) faces sampled residents; 2 (1 + 6) is never the
  // least frequent, so it survives every set below while others go.
  for (let k = 10; k < 14; k++) c.set(k, k);
  assert.equal(c.has(2), true);
  c.delete(2); // 2 leaves: doorkeeper already knew it, so its six hits go to the sketch
  assert.equal(p.sketch.frequency(hash(2)), 6);
  assert.equal(p.estimate(hash(2)), 7);
  check(c);
});
