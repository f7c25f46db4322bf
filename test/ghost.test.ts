/** The ghost lists behind S3-FIFO's ghost queue and W-TinyLFU's adaptation (src/internal/ghost.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ghost, hashKey } from 'cortado/internal';

const h = (k: number) => hashKey(k, 99);

test('ghost: the newest `capacity` additions are remembered, older ones forgotten, take forgets', () => {
  const g = new Ghost(3);
  for (const k of [1, 2, 3, 4]) g.add(h(k));
  assert.equal(g.size, 3);
  assert.equal(g.take(h(1)), false, 'pushed out by the fourth addition');
  assert.equal(g.take(h(3)), true);
  assert.equal(g.take(h(3)), false, 'take forgets');
  assert.equal(g.size, 2);
  g.add(h(5)); // the taken record freed its place: 2, 4, 5 are remembered
  assert.equal(g.size, 3);
  assert.equal(g.take(h(2)), true);
  g.check('test');
});

test('ghost: up to 64 unit records it is an exact FIFO (model: random add / take / resize)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 16 }),
      fc.array(fc.tuple(fc.constantFrom('add', 'add', 'take', 'resize'), fc.integer({ min: 0, max: 30 })), { maxLength: 300 }),
      (cap, ops) => {
        const g = new Ghost(cap, 16);
        let n = cap;
        let fifo: number[] = []; // oldest first; a re-added key moves to the end
        for (const [op, k] of ops) {
          if (op === 'add') {
            g.add(h(k));
            fifo = fifo.filter((x) => x !== k);
            fifo.push(k);
            while (fifo.length > n) fifo.shift();
          } else if (op === 'take') {
            assert.equal(g.take(h(k)), fifo.includes(k), `take ${k}`);
            fifo = fifo.filter((x) => x !== k);
          } else {
            n = 1 + (k % 16);
            g.resize(n, 16);
            while (fifo.length > n) fifo.shift();
          }
          g.check('model');
          assert.equal(g.size, fifo.length);
        }
      },
    ),
    { numRuns: 300, seed: 42 },
  );
});

test('ghost: a large ghost remembers within 1/128 of its capacity, and nothing much older', () => {
  const C = 20_000;
  const g = new Ghost(C);
  const N = 10 * C;
  for (let i = 0; i < N; i++) g.add(h(i));
  g.check('large');
  let recent = 0;
  for (let a = 1; a <= C * (1 - 1 / 64); a++) if (g.take(h(N - a))) recent++;
  let old = 0;
  for (let a = Math.ceil(C * (1 + 1 / 64)); a <= 3 * C; a++) if (g.take(h(N - a))) old++;
  // A bucket with all 16 words live forgets its oldest record early: rare at this load.
  assert.ok(recent >= 0.99 * C * (1 - 1 / 64), `only ${recent} of the newest ${C} remembered`);
  assert.ok(old <= C / 1000, `${old} records older than the capacity still remembered`);
});

test('ghost: no dead record comes back after the epoch numbers wrap (sweep)', () => {
  const C = 300;
  const g = new Ghost(C);
  // 200 capacities of additions: epoch numbers (modulo 256, 64 per capacity) wrap many times.
  for (let i = 0; i < 200 * C; i++) {
    g.add(h(i));
    if (i % 7 === 0) g.take(h(i - 50));
  }
  g.check('wrap');
  // Keys whose 24-bit fingerprint equals a recent key's would be found legitimately: skip them.
  const recent = new Set<number>();
  for (let i = 198 * C; i < 200 * C; i++) recent.add(h(i) & 0xffffff);
  let resurrected = 0;
  let collisions = 0;
  for (let i = 0; i < 198 * C; i++) {
    if (recent.has(h(i) & 0xffffff)) collisions++;
    else if (g.take(h(i))) resurrected++;
  }
  assert.equal(resurrected, 0);
  assert.ok(collisions < 10);
});

test('ghost: weighted records stay within the capacity, and a take frees its cost', () => {
  const g = new Ghost(1000, 200);
  let x = 1;
  for (let i = 0; i < 5000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    g.add(h(i), 1 + (x % 40));
    assert.ok(g.weight <= 1000 + 40, `weight ${g.weight}`);
  }
  g.check('weighted');
  const before = g.weight;
  const size = g.size;
  assert.equal(g.take(h(4999)), true);
  assert.ok(g.weight < before);
  assert.equal(g.size, size - 1);
  assert.equal(new Ghost(10).take(h(1)), false);
  const tiny = new Ghost(10);
  tiny.add(h(1), 11); // heavier than the whole ghost: not remembered
  assert.equal(tiny.size, 0);
  g.check('weighted');
});

test('ghost: the table starts small and grows as records arrive, keeping its records', () => {
  const g = new Ghost(100_000); // expects 100,000 records, but starts with 1,024 words
  assert.equal(g.words, 1024);
  g.reserve(200_000);
  assert.equal(g.words, 1024, 'reserve() alone allocates nothing');
  for (let i = 0; i < 20_000; i++) g.add(h(i));
  g.check('grown');
  assert.ok(g.words >= 2 * g.size && g.words <= 4 * g.size, `table of ${g.words} words for ${g.size} records`);
  let kept = 0;
  for (let i = 0; i < 20_000; i++) if (g.take(h(i))) kept++;
  // Only a bucket that filled up before a doubling may have forgotten a record early.
  assert.ok(kept >= 0.995 * 20_000, `${kept} of 20,000 records kept through the doublings`);
  g.add(h(1));
  g.clear();
  assert.equal(g.size, 0);
  assert.equal(g.take(h(1)), false);
  g.check('clear');
});
