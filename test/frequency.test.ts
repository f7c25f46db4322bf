/**
 * The frequency component shared by W-TinyLFU and TinyLFU (src/internal/frequency.ts): per-slot
 * hit counts beside a sketch (and optionally a doorkeeper), aged together, released into the
 * sketch when a key leaves. Both shapes are tested: the count in a byte of its own (TinyLFU,
 * with a doorkeeper) and in the high nibble of an owner's byte (W-TinyLFU, without).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashKey } from 'cortado/internal';

import { Frequency, MAX_HITS } from 'cortado/internal';
import { GrowableArrays } from 'cortado/internal';

const h = (k: number) => hashKey(k, 777);
/** A host whose slot s holds key s. */
const host = { hashOf: (s: number) => h(s) };

function make(shift: 0 | 4, door: boolean, slots = 64, period = 1e9) {
  const alloc = new GrowableArrays();
  const f = new Frequency(alloc, {
    name: 'p.counts',
    slots,
    tableEntries: slots,
    resetPeriod: period,
    seed: 42,
    shift,
    ...(door ? { doorkeeper: slots } : {}),
  });
  return { f, alloc };
}

test('frequency: hits count per slot, saturate at 15, and advance the halving period without touching the sketch', () => {
  for (const shift of [0, 4] as const) {
    const { f, alloc } = make(shift, false);
    assert.equal(f.counts, alloc.array('p.counts'), 'the counts are the host\'s array');
    if (shift === 4) f.counts[3] = 0b0101; // the owner's low bits
    for (let i = 0; i < 20; i++) f.hit(3);
    assert.equal(f.countOf(3), MAX_HITS);
    if (shift === 4) assert.equal(f.counts[3]! & 0x0f, 0b0101, 'the owner\'s bits are kept');
    assert.equal(f.sketch.additions, MAX_HITS, 'only counted hits advance the period');
    assert.equal(f.sketch.frequency(h(3)), 0, 'the sketch has not seen the key');
    assert.equal(f.residentEstimate(3, h(3)), MAX_HITS);
  }
});

test('frequency: a leaving key releases its count into the sketch, and its slot keeps only the owner\'s bits', () => {
  const { f } = make(4, false);
  f.record(h(5)); // one miss: in the sketch at once (no doorkeeper)
  f.counts[5] = 0b0010;
  for (let i = 0; i < 6; i++) f.hit(5);
  assert.equal(f.residentEstimate(5, h(5)), 7, 'resident: sketch 1 + count 6');
  let asked = 0;
  f.release(5, { hashOf: (s) => (asked++, h(s)) });
  assert.equal(asked, 1);
  assert.equal(f.counts[5], 0b0010);
  assert.equal(f.estimate(h(5)), 7, 'gone: the sketch now holds all seven');
  f.release(5, { hashOf: () => assert.fail('no count, so no hash is needed') });
});

test('frequency: with a doorkeeper a first sighting only reaches the doorkeeper, also on release', () => {
  const { f } = make(0, true);
  f.record(h(1));
  assert.equal(f.sketch.frequency(h(1)), 0);
  assert.equal(f.estimate(h(1)), 1, 'the doorkeeper\'s one');
  f.record(h(1));
  assert.equal(f.estimate(h(1)), 2);
  // Key 2 was never seen: of its four hits, the first sighting goes to the doorkeeper.
  for (let i = 0; i < 4; i++) f.hit(2);
  f.release(2, host);
  assert.equal(f.sketch.frequency(h(2)), 3);
  assert.equal(f.estimate(h(2)), 4);
  assert.equal(f.counts[2], 0);
  // The resident estimate is capped at a saturated sketch plus the doorkeeper: 16.
  for (let i = 0; i < 40; i++) f.record(h(9));
  for (let i = 0; i < 15; i++) f.hit(9);
  assert.equal(f.residentEstimate(9, h(9)), MAX_HITS + 1);
});

test('frequency: when the sketch halves on its own, the counts halve with it (keeping the owner\'s bits) and the doorkeeper is cleared', () => {
  for (const [shift, door] of [[0, true], [4, false]] as const) {
    const { f } = make(shift, door, 64, 40);
    const low = shift === 4 ? 0b0011 : 0;
    f.counts[7] = low;
    for (let i = 0; i < 9; i++) f.hit(7);
    f.record(h(100));
    assert.equal(f.sketch.resets, 0);
    // Misses (each key twice, past any doorkeeper) until the sketch halves inside increment.
    for (let k = 1000; f.sketch.resets === 0 && k < 2000; k++) {
      f.record(h(k));
      f.record(h(k));
    }
    assert.equal(f.sketch.resets, 1);
    assert.equal(f.countOf(7), 4, '9 halved');
    if (shift === 4) assert.equal(f.counts[7]! & 0x0f, low, 'the owner\'s bits are kept');
    if (door) assert.equal(f.door!.has(h(100)), false, 'the doorkeeper was cleared');
    f.validate('test');
  }
});

test('frequency: a hit that reaches the period ages at once', () => {
  const { f } = make(0, false, 64, 10);
  for (let i = 0; i < 10; i++) f.hit(i);
  assert.equal(f.sketch.resets, 1);
  assert.deepEqual([...f.counts.subarray(0, 10)], new Array(10).fill(0), 'counts of 1 halve to 0');
  f.validate('test');
});

test('frequency: validate catches counts that did not age with the sketch', () => {
  const { f } = make(4, false);
  f.sketch.halve(); // behind the component's back
  assert.throws(() => f.validate('wtinylfu'), /wtinylfu invariant broken: the sketch halved without the hit counts/);
  f.checkAging();
  f.validate('wtinylfu');
  const d = make(0, true).f;
  d.sketch.halve();
  assert.throws(() => d.validate('tinylfu'), /the doorkeeper and hit counts/);
});

test('frequency: size() follows slots and capacity, keeps estimates, and scales its aging cycle when the period shrinks', () => {
  const { f } = make(0, false, 64, 1e9);
  for (let i = 0; i < 5; i++) f.record(h(3));
  for (let i = 0; i < 500; i++) f.hit(i % 64);
  const before = f.estimate(h(3));
  f.size(4096, 1e9); // grown slots: period 10 x 4096
  assert.equal(f.sketch.resetPeriod, 40_960);
  assert.equal(f.sketch.resets, 0);
  assert.equal(f.estimate(h(3)), before, 'growing the sketch keeps estimates');
  const additions = f.sketch.additions;
  f.size(4096, 10); // capacity below the slots: 10 entries, period max(100, 16)
  assert.equal(f.sketch.resetPeriod, 100);
  // A shrink scales the additions to the new period (same point of the aging cycle) instead
  // of leaving them many periods over, which used to halve the sketch on every request.
  assert.equal(f.sketch.additions, Math.floor((additions * 100) / 40_960));
  assert.equal(f.sketch.resets, 0, 'no halving: the history the smaller cache needs is kept');
  assert.equal(f.estimate(h(3)), before);
  f.size(4096, 1);
  assert.equal(f.sketch.resetPeriod, 16, 'never below 16');
});

test('frequency: grow() regrows the counts through the host, keeping them; clear() forgets everything', () => {
  const { f, alloc } = make(4, false, 8);
  f.counts[2] = 0x35;
  f.grow(32);
  assert.equal(f.counts.length, 32);
  assert.equal(f.counts, alloc.array('p.counts'));
  assert.equal(f.counts[2], 0x35);
  f.record(h(1));
  f.clear();
  assert.equal(f.counts[2], 0);
  assert.equal(f.estimate(h(1)), 0);
  assert.equal(f.sketch.additions, 0);
  f.validate('test');
});
