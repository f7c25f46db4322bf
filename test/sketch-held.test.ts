/**
 * The sketch's one remembered estimate (FrequencySketch.heldFrequency, used for W-TinyLFU's
 * main victim): it must always equal frequency(), whatever writes the table in between.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashKey, FrequencySketch } from 'cortado/internal';

const h = (k: number) => hashKey(k, 777);

/** Tiny deterministic PRNG, so a failure replays. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

test('sketch: heldFrequency equals frequency under random increments, addCounts, halvings, growth and clears', () => {
  for (const seed of [1, 2, 3]) {
    const random = rng(seed);
    // 16 blocks: the held key's block is written often, so invalidation is exercised.
    const s = new FrequencySketch(32, seed, 500);
    let held = h(0);
    let changes = 0;
    let last = -1;
    for (let step = 0; step < 20000; step++) {
      const r = random();
      const k = Math.floor(random() * 200);
      if (r < 0.6) s.increment(h(k));
      else if (r < 0.75) s.addCount(h(k), 1 + Math.floor(random() * 15));
      else if (r < 0.76) s.halve();
      else if (r < 0.762) s.ensureCapacity(32 << Math.floor(random() * 3));
      else if (r < 0.763) s.clear();
      else if (r < 0.8) held = h(k); // the remembered key changes now and then
      const got = s.heldFrequency(held);
      assert.equal(got, s.frequency(held), `seed ${seed} step ${step}`);
      if (got !== last) changes++;
      last = got;
    }
    // The estimate moved many times, so the comparison above was not of a constant.
    assert.ok(changes > 100, `seed ${seed}: the held estimate changed only ${changes} times`);
  }
});

test('sketch: a held estimate follows an increment of its own key, and of a key sharing its counters', () => {
  const s = new FrequencySketch(2, 9, 1e12); // one block of 4 words: every key shares words
  const a = h(1);
  assert.equal(s.heldFrequency(a), 0);
  s.increment(a);
  assert.equal(s.heldFrequency(a), 1);
  // Find a key that lands on all four of a's counters (same block, same nibbles), if one
  // exists among the first keys; its increments raise a's estimate.
  let twin = -1;
  for (let k = 2; k < 100000 && twin < 0; k++) {
    const t = new FrequencySketch(2, 9, 1e12);
    t.increment(h(k));
    if (t.frequency(a) === 1) twin = k;
  }
  assert.ok(twin > 0, 'no key shares all four counters with the held one');
  s.increment(h(twin));
  assert.equal(s.heldFrequency(a), 2);
  assert.equal(s.frequency(a), 2);
});
