/** W-TinyLFU ('wtinylfu'): hand-worked admission duels, the ghost-driven adaptive window, weights. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache } from 'cortado';
import { validate, hashKey } from 'cortado/internal';

type Internals = { policy: { windowMax: number; mainMax: number; protectedMax: number } };
const limits = (c: Cache<any, any>) => (c as unknown as Internals).policy;

test('wtinylfu: Caffeine split of 10 entries: window 1, main 9, protected 7', () => {
  const c = new Cache<number, number>({ maxEntries: 10, policy: 'wtinylfu', seed: 1 });
  assert.deepEqual({ ...pick(limits(c)) }, { windowMax: 1, mainMax: 9, protectedMax: 7 });
});

function pick(p: Internals['policy']) {
  return { windowMax: p.windowMax, mainMax: p.mainMax, protectedMax: p.protectedMax };
}

test('wtinylfu: the window candidate duels the probation victim; a returning loser grows the window', () => {
  const c = new Cache<number, number>({ maxEntries: 10, policy: 'wtinylfu', seed: 1 });
  for (let k = 0; k < 10; k++) c.set(k, k); // window [9]; probation 8 .. 0 (0 is the LRU)
  assert.equal(c.get(1), 1); // a probation hit marks 1 (promoted when it reaches probation's tail)
  c.set(10, 10); // candidate 9 (seen once) vs victim 0 (seen once): a tie evicts the candidate
  assert.equal(c.has(9), false);
  assert.equal(c.has(0), true);
  assert.equal(c.has(10), true);
  c.set(20, 20); // candidate 10 vs 0: 10 goes, 20 sits in the window
  assert.equal(c.has(10), false);
  c.set(21, 21); // candidate 20 vs 0: 20 goes (its fingerprint joins the candidate ghosts)
  assert.equal(c.has(20), false);
  assert.equal(limits(c).windowMax, 1);
  c.set(20, 20); // a losing candidate came back: the window grows to 2, so no duel this time;
  assert.equal(limits(c).windowMax, 2); // the main space is over its new limit of 8 and its
  assert.equal(c.has(0), false); // LRU entry, 0, goes
  assert.deepEqual(pick(limits(c)), { windowMax: 2, mainMax: 8, protectedMax: 6 });
  assert.equal(c.has(21), true);
  c.set(22, 22); // the marked tail 1 is promoted; candidate 21 (seen once) vs victim 2 (seen once): 21 goes
  assert.equal(c.has(21), false);
  assert.equal(c.has(2), true);
  c.set(30, 30); // candidate 20 (seen twice) beats victim 2 (seen once): 2 goes, 20 stays
  assert.equal(c.has(2), false);
  assert.equal(c.has(20), true);
  assert.equal(c.has(22), true);
  assert.equal(c.has(30), true);
  assert.equal(c.has(1), true, 'the entry that was hit was never at risk');
  assert.equal(c.size, 10);
  validate(c as Cache<unknown, unknown>);
});

test('wtinylfu: a scan does not flush frequently used entries', () => {
  const c = new Cache<number, number>({ maxEntries: 100, policy: 'wtinylfu', seed: 2 });
  for (let r = 0; r < 5; r++) for (let k = 0; k < 50; k++) if (c.get(k) === undefined) c.set(k, k);
  for (let k = 1000; k < 3000; k++) if (c.get(k) === undefined) c.set(k, k);
  let kept = 0;
  for (let k = 0; k < 50; k++) if (c.has(k)) kept++;
  assert.ok(kept >= 48, `only ${kept} of the 50 hot keys survived the scan`);
  validate(c as Cache<unknown, unknown>);
});

/**
 * Replay `keys` through a cache (get, set on miss); returns the hit ratio over the second
 * half of the trace, once the window has had time to adapt.
 */
function replay(policy: 'wtinylfu' | 'lru', size: number, keys: Int32Array, after?: (c: Cache<number, number>) => void): number {
  const c = new Cache<number, number>({ maxEntries: size, policy, seed: 3 });
  let hits = 0;
  const half = keys.length >> 1;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (c.get(k) === undefined) c.set(k, k);
    else if (i >= half) hits++;
  }
  after?.(c);
  validate(c as Cache<unknown, unknown>);
  return hits / (keys.length - half);
}

test('wtinylfu: on a recency-friendly workload the ghosts grow the window toward LRU', () => {
  // Each key is used a few times within a short span, then never again: LRU's best case,
  // where frequency from the past predicts nothing.
  const keys = new Int32Array(60_000);
  let x = 7;
  for (let i = 0; i < keys.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    keys[i] = Math.floor(i / 8) + (x % 150); // a sliding band of 150 keys
  }
  let window = 0;
  const ours = replay('wtinylfu', 200, keys, (c) => (window = limits(c).windowMax));
  const lru = replay('lru', 200, keys);
  // Misses on recent candidates (the candidate ghost) grow the window step by step.
  assert.ok(window > 100, `window stayed at ${window} of 200`);
  assert.ok(ours > lru - 0.02, `wtinylfu ${ours.toFixed(3)} vs lru ${lru.toFixed(3)}`);
});

test('wtinylfu: on a frequency-skewed workload with scans the window stays small and beats LRU', () => {
  const keys = new Int32Array(60_000);
  let x = 11;
  let scan = 1_000_000;
  for (let i = 0; i < keys.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const u = (x >>> 8) / 16777216;
    keys[i] = u < 0.5 ? Math.floor(400 * u * u * 4) : scan++; // hot skewed set + one-off keys
  }
  let window = 0;
  const ours = replay('wtinylfu', 200, keys, (c) => (window = limits(c).windowMax));
  const lru = replay('lru', 200, keys);
  assert.ok(window < 100, `window grew to ${window} of 200`);
  assert.ok(ours > lru + 0.05, `wtinylfu ${ours.toFixed(3)} vs lru ${lru.toFixed(3)}`);
});

test('wtinylfu: after a recency phase grows the window, a frequency phase shrinks it again', () => {
  const c = new Cache<number, number>({ maxEntries: 200, policy: 'wtinylfu', seed: 5 });
  const l = new Cache<number, number>({ maxEntries: 200, policy: 'lru', seed: 5 });
  let x = 13;
  const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const run = (k: number, cache: Cache<number, number>) => (cache.get(k) === undefined ? (cache.set(k, k), 0) : 1);
  for (let i = 0; i < 30_000; i++) {
    const k = Math.floor(i / 8) + (rand() % 150);
    run(k, c);
    run(k, l);
  }
  const grown = limits(c).windowMax;
  assert.ok(grown > 150, `window only grew to ${grown}`);
  let ours = 0;
  let lru = 0;
  let scan = 10_000_000;
  for (let i = 0; i < 30_000; i++) {
    const u = (rand() >>> 8) / 16777216;
    const k = u < 0.5 ? 1_000_000 + Math.floor(1600 * u * u) : scan++;
    ours += run(k, c);
    lru += run(k, l);
  }
  assert.ok(limits(c).windowMax < 50, `window stuck at ${limits(c).windowMax}`);
  assert.ok(ours > lru * 1.3, `wtinylfu ${ours} hits vs lru ${lru}`);
  validate(c as Cache<unknown, unknown>);
});

test('wtinylfu: weight-bounded: limits in weight, heavy candidates, validator after each step', () => {
  const c = new Cache<number, number>({ maxEntries: 5000, maxWeight: 1000, weigher: (v) => v, policy: 'wtinylfu', seed: 4 });
  const p = limits(c);
  assert.equal(p.windowMax, 10);
  assert.equal(p.mainMax, 990);
  let x = 5;
  for (let i = 0; i < 5000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const k = (x >>> 8) % 300;
    if (c.get(k) === undefined) c.set(k, 1 + (k % 37));
    if (i % 250 === 0) validate(c as Cache<unknown, unknown>);
  }
  assert.ok(c.weight <= 1000);
  c.set(9999, 995); // heavier than the main space: lives in the window until the next newcomer
  validate(c as Cache<unknown, unknown>);
  c.set(10000, 3);
  assert.ok(c.weight <= 1000);
  validate(c as Cache<unknown, unknown>);
  c.resize({ maxWeight: 200 });
  assert.ok(c.weight <= 200);
  assert.ok(limits(c).windowMax + limits(c).mainMax === 200);
  validate(c as Cache<unknown, unknown>);
});

test('wtinylfu: hits are counted per slot, decide duels while resident, and join the sketch when the key leaves', () => {
  type Sk = { policy: { sketch: { frequency(h: number): number; additions: number } } };
  const c = new Cache<number, number>({ maxEntries: 10, policy: 'wtinylfu', seed: 3 });
  const p = (c as unknown as Sk).policy;
  const hash = (k: number) => hashKey(k, 3);
  for (let k = 0; k < 10; k++) c.set(k, k); // window [9]; probation 8 .. 0 (0 is the LRU)
  const additions = p.sketch.additions;
  for (let i = 0; i < 4; i++) c.get(0); // four main-space hits on 0 (it moves to protected)
  assert.equal(p.sketch.frequency(hash(0)), 1, 'hits do not touch the sketch while 0 is resident');
  assert.equal(p.sketch.additions, additions, 'nor the halving period, until the next miss');
  c.get(9); // a window hit: not counted in its slot, but a request towards the period
  // Candidate 9 (seen once) vs victim 1 (seen once): the tie evicts the candidate.
  c.set(10, 10);
  assert.equal(p.sketch.additions, additions + 5 + 1, 'the five hits, then the miss on 10, join the period');
  assert.equal(c.has(9), false);
  c.delete(0); // 0 leaves: its miss and four hits are now in the sketch
  assert.equal(p.sketch.frequency(hash(0)), 5);
  validate(c as Cache<unknown, unknown>);
});

test('wtinylfu: a run of hits longer than the halving period ages the sketch once, before the next miss is counted', () => {
  type Sk = { policy: { sketch: { resetPeriod: number; additions: number; resets: number; frequency(h: number): number } } };
  const c = new Cache<number, number>({ maxEntries: 10, policy: 'wtinylfu', seed: 4 });
  const p = (c as unknown as Sk).policy;
  for (let k = 0; k < 10; k++) c.set(k, k);
  const period = p.sketch.resetPeriod;
  const resets = p.sketch.resets;
  for (let i = 0; i < 5 * period; i++) c.get(i % 9); // keys 0..8: every one in the main space
  assert.equal(p.sketch.resets, resets, 'hits alone never age the sketch');
  c.set(10, 10);
  assert.equal(p.sketch.resets, resets + 1, 'five periods of hits age it once');
  assert.ok(p.sketch.additions < period / 2 + 2, `after the halving the period restarts from half (${p.sketch.additions})`);
  c.delete(0); // 0's saturated count, halved with the sketch, joins the sketch: 1 + 15 >>> 1
  assert.equal(p.sketch.frequency(hashKey(0, 4)), (1 >>> 1) + (15 >>> 1));
  validate(c as Cache<unknown, unknown>);
});

test('wtinylfu: a resident whose hits are not yet in the sketch wins the duel they decide', () => {
  const c = new Cache<number, number>({ maxEntries: 10, policy: 'wtinylfu', seed: 5 });
  for (let k = 0; k < 10; k++) c.set(k, k); // window [9]; probation 8 .. 0; protected holds 7
  for (let i = 0; i < 4; i++) c.get(0); // 0 (marked): one miss in the sketch, four hits on its slot
  for (let k = 1; k <= 7; k++) c.get(k); // marked too
  // Candidate 9 needs a victim: probation's marked tails 0, 1 .. 7 are promoted instead, and
  // protected overflows: its unmarked tail, 0, is demoted back to probation. The victim is 8
  // (seen once, as is 9): the tie evicts the candidate.
  c.set(10, 10);
  assert.deepEqual(queues(c).probation, ['0', '8']);
  c.get(8);
  c.set(50, 50); // 8 is promoted, 1 demoted; candidate 10 (1) vs victim 0 (1 + 4 = 5): 10 goes
  assert.deepEqual(queues(c).probation, ['1', '0']);
  c.set(50, 51);
  c.set(50, 52); // two updates: 50 is seen 3 times
  c.set(60, 60); // candidate 50 (3) vs victim 0: on the sketch alone 0 has 1 and would go
  assert.equal(c.has(0), true, 'the victim\'s four uncounted hits decide the duel');
  assert.equal(c.has(50), false);
  assert.equal(c.has(60), true);
  validate(c as Cache<unknown, unknown>);
});

/** Keys of each queue, head (most recent) first; `*` marks a main-space key hit since it was last moved. */
function queues(c: Cache<number, number>): { window: number[]; probation: string[]; protected: string[] } {
  type Q = { lanes: unknown[]; check(q: unknown, name: string, costOf: (s: number) => number): number[] };
  const p = (c as unknown as { policy: { q: Q; meta: Uint8Array } }).policy;
  const keyAt = (c as unknown as { keyAt: number[] }).keyAt;
  const one = () => 1;
  const mark = (s: number) => `${keyAt[s]}${p.meta[s]! & 4 ? '*' : ''}`;
  return {
    window: p.q.check(p.q.lanes[0], 'window', one).map((s) => keyAt[s]!),
    probation: p.q.check(p.q.lanes[1], 'probation', one).map(mark),
    protected: p.q.check(p.q.lanes[2], 'protected', one).map(mark),
  };
}

test('wtinylfu: a main-space hit only marks; probation promotes marked tails late, protected is a clock', () => {
  const c = new Cache<number, number>({ maxEntries: 10, policy: 'wtinylfu', seed: 5 });
  for (let k = 0; k < 10; k++) c.set(k, k); // window [9]; probation 8 .. 0 (head first)
  c.get(0);
  c.get(1); // probation hits: marked, nothing moves
  assert.deepEqual(queues(c), { window: [9], probation: ['8', '7', '6', '5', '4', '3', '2', '1*', '0*'], protected: [] });
  c.set(10, 10); // candidate 9 needs a victim: the marked tails 0 and 1 are promoted, 2 is the
  // victim; 9 and 2 were each seen once and the tie evicts the candidate
  assert.deepEqual(queues(c), { window: [10], probation: ['8', '7', '6', '5', '4', '3', '2'], protected: ['1', '0'] });
  c.get(0); // a protected hit: marked, not moved
  assert.deepEqual(queues(c).protected, ['1', '0*']);
  for (let k = 2; k <= 7; k++) c.get(k);
  c.set(11, 11); // 2 .. 7 are promoted; protected overflows (limit 7): its marked tail 0 loses the
  // mark and goes back to the head, and 1, unmarked, is demoted. Victim 8 beats candidate 10.
  assert.deepEqual(queues(c), { window: [11], probation: ['1', '8'], protected: ['0', '7', '6', '5', '4', '3', '2'] });
  validate(c as Cache<unknown, unknown>);
});
