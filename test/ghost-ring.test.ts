/** The exact fingerprint rings behind W-TinyLFU's window adaptation (src/internal/ghost-ring.ts), against a model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GhostRing } from 'cortado/internal';

test('ghost ring (W-TinyLFU): the newest `capacity` additions are remembered, older ones forgotten', () => {
  const g = new GhostRing(3);
  for (const h of [1, 2, 3, 4]) g.add(h);
  assert.equal(g.size, 3);
  assert.equal(g.take(1), -1, 'pushed out by the fourth addition');
  assert.equal(g.take(3), 0);
  assert.equal(g.take(3), -1, 'take forgets');
  g.add(2); // re-added: now the newest record; the old one is stale
  g.add(5);
  g.add(6); // overwrites the stale record of 2 and the record of 4
  assert.equal(g.take(4), -1);
  assert.equal(g.take(2), 0);
  g.check('test');
});

test('ghost ring (W-TinyLFU): two lists share one index; a key lives in the list it was last added to', () => {
  const g = new GhostRing(2, 2);
  g.add(1, 0);
  g.add(2, 1);
  g.add(3, 1);
  assert.deepEqual([g.sizeOf(0), g.sizeOf(1), g.size], [1, 2, 3]);
  g.add(4, 1); // list 1 holds two: 2 is forgotten, list 0 is untouched
  assert.equal(g.take(2), -1);
  assert.equal(g.take(1), 0);
  g.add(3, 0); // moves 3 from list 1 to list 0
  assert.deepEqual([g.sizeOf(0), g.sizeOf(1)], [1, 1]);
  assert.equal(g.take(3), 0);
  assert.equal(g.take(4), 1);
  assert.equal(g.size, 0);
  g.check('test');
  assert.throws(() => new GhostRing(4, 0), /lists must be a positive integer/);
});

test('ghost ring (W-TinyLFU): matches a model under random add / take / resize, with one to three lists', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.tuple(fc.constantFrom('add', 'add', 'take', 'resize'), fc.integer({ min: 0, max: 20 }), fc.nat()), { maxLength: 200 }),
      (cap, lists, ops) => {
        const g = new GhostRing(cap, lists);
        // model: fingerprint -> [list, sequence number of its newest addition in that list];
        // live iff within the last `capacity` additions to its list and not taken since
        let n = cap;
        let seq = new Array<number>(lists).fill(0);
        let model = new Map<number, [number, number]>();
        const isLive = ([l, s]: [number, number]) => s >= seq[l]! - n;
        const live = (l: number) => [...model].filter(([, r]) => r[0] === l && isLive(r)).map(([k]) => k);
        for (const [op, k, pick] of ops) {
          const list = pick % lists;
          if (op === 'add') {
            g.add(k, list);
            model.set(k, [list, seq[list]!++]);
          } else if (op === 'take') {
            const r = model.get(k);
            const want = r !== undefined && isLive(r) ? r[0] : -1;
            assert.equal(g.take(k), want, `take ${k}`);
            model.delete(k);
          } else {
            const keep = Array.from({ length: lists }, (_, l) => live(l).sort((a, b) => model.get(a)![1] - model.get(b)![1]));
            n = 1 + (k % 12);
            g.resize(n);
            model = new Map();
            seq = new Array<number>(lists).fill(0);
            keep.forEach((fps, l) => {
              for (const f of fps.slice(Math.max(0, fps.length - n))) model.set(f, [l, seq[l]!++]);
            });
          }
          g.check('model');
          for (let l = 0; l < lists; l++) assert.equal(g.sizeOf(l), live(l).length, `list ${l} size`);
          assert.equal(g.size, [...model.values()].filter(isLive).length);
        }
      },
    ),
    { numRuns: 300, seed: 42 },
  );
});
