/** The frequency sketch and doorkeeper behind TinyLFU admission (src/internal/sketch.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashKey, FrequencySketch, Doorkeeper } from 'cortado/internal';

const h = (k: number) => hashKey(k, 12345);

/** Deterministic key counts: key i is seen 1 + (i * 7) % 20 times, interleaved. */
function feed(s: FrequencySketch, keys: number): Map<number, number> {
  const want = new Map<number, number>();
  for (let i = 0; i < keys; i++) want.set(i, 1 + ((i * 7) % 20));
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < keys; i++) if (want.get(i)! > round) s.increment(h(i));
  }
  return want;
}

test('sketch: an estimate is never below the true count (capped at 15) before aging', () => {
  const s = new FrequencySketch(256, 1, 1e12);
  const truth = feed(s, 2000); // 8x more keys than the sketch is sized for: collisions galore
  for (const [k, n] of truth) assert.ok(s.frequency(h(k)) >= Math.min(n, 15), `key ${k}: ${s.frequency(h(k))} < ${n}`);
  assert.equal(s.resets, 0);
});

test('sketch: sized for its keys, estimates are mostly exact', () => {
  const s = new FrequencySketch(1024, 2, 1e12);
  const truth = feed(s, 1000);
  let exact = 0;
  for (const [k, n] of truth) if (s.frequency(h(k)) === Math.min(n, 15)) exact++;
  assert.ok(exact > 950, `only ${exact} of 1000 exact`);
});

test('sketch: 4-bit counters saturate at 15', () => {
  const s = new FrequencySketch(64, 3, 1e12);
  for (let i = 0; i < 100; i++) s.increment(h(42));
  assert.equal(s.frequency(h(42)), 15);
  assert.equal(s.frequency(h(43)) < 15, true);
});

test('sketch: addCount(n) is n increments at once, saturating, and counts no additions', () => {
  const a = new FrequencySketch(512, 5, 1e12);
  const b = new FrequencySketch(512, 5, 1e12);
  feed(a, 400);
  feed(b, 400);
  const before = b.additions;
  for (let k = 0; k < 400; k++) {
    const n = 1 + (k % 15);
    a.addCount(h(k), n);
    for (let i = 0; i < n; i++) b.increment(h(k));
  }
  // Increments saturate per counter just as addCount does, so every estimate agrees.
  for (let k = 0; k < 400; k++) assert.equal(a.frequency(h(k)), b.frequency(h(k)), `key ${k}`);
  assert.deepEqual(Array.from(a.table), Array.from(b.table));
  assert.equal(a.additions, before, 'addCount leaves the halving schedule to its caller');
  const c = new FrequencySketch(64, 6, 1e12);
  c.addCount(h(7), 9);
  assert.equal(c.frequency(h(7)), 9);
  c.addCount(h(7), 9);
  assert.equal(c.frequency(h(7)), 15);
});

test('sketch: halving maps every estimate e to floor(e / 2)', () => {
  const s = new FrequencySketch(256, 4, 1e12);
  feed(s, 300);
  const before = Array.from({ length: 300 }, (_, k) => s.frequency(h(k)));
  s.halve();
  for (let k = 0; k < 300; k++) assert.equal(s.frequency(h(k)), Math.floor(before[k]! / 2), `key ${k}`);
  assert.equal(s.resets, 1);
});

test('sketch: halves by itself after resetPeriod increments', () => {
  const s = new FrequencySketch(64, 5, 100);
  for (let i = 0; i < 99; i++) s.increment(h(i % 10));
  assert.equal(s.resets, 0);
  assert.equal(s.frequency(h(3)), 10);
  s.increment(h(99));
  assert.equal(s.resets, 1);
  assert.equal(s.frequency(h(3)), 5);
  assert.ok(s.additions < 100);
});

test('sketch: growing keeps every estimate', () => {
  const s = new FrequencySketch(32, 6, 1e12);
  feed(s, 200);
  const before = Array.from({ length: 200 }, (_, k) => s.frequency(h(k)));
  s.ensureCapacity(4096);
  assert.equal(s.table.length, 4096 * 2);
  for (let k = 0; k < 200; k++) assert.equal(s.frequency(h(k)), before[k], `key ${k}`);
});

test('sketch: the seed changes where keys land', () => {
  const a = new FrequencySketch(64, 1, 1e12);
  const b = new FrequencySketch(64, 2, 1e12);
  for (let k = 0; k < 20; k++) {
    a.increment(h(k));
    b.increment(h(k));
  }
  assert.notDeepEqual(Array.from(a.table), Array.from(b.table));
  // ... and two caches draw different seeds, so their key hashes differ too.
  assert.notEqual(hashKey('k', 1), hashKey('k', 2));
});

test('doorkeeper: first sighting is new, second is known; clear forgets', () => {
  const d = new Doorkeeper(100, 9);
  let seen = 0;
  for (let k = 0; k < 100; k++) if (d.add(h(k))) seen++;
  assert.ok(seen < 10, `${seen} of 100 new keys looked known`);
  for (let k = 0; k < 100; k++) assert.equal(d.has(h(k)), true, `no false negatives, key ${k}`);
  for (let k = 0; k < 100; k++) assert.equal(d.add(h(k)), true);
  let fp = 0;
  for (let k = 1000; k < 2000; k++) if (d.has(h(k))) fp++;
  assert.ok(fp < 100, `${fp} false positives in 1000`);
  d.clear();
  assert.equal(d.has(h(1)), false);
});
