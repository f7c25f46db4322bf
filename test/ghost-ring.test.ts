/** The exact fingerprint ring behind W-TinyLFU's window adaptation (src/internal/ghost-ring.ts), against a model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GhostRing } from 'cortado/internal';

test('ghost ring (W-TinyLFU): the newest `capacity` additions are remembered, older ones forgotten', () => {
  const g = new GhostRing(3);
  for (const h of [1, 2, 3, 4]) g.add(h);
  assert.equal(g.size, 3);
  assert.equal(g.take(1), false, 'pushed out by the fourth addition');
  assert.equal(g.take(3), true);
  assert.equal(g.take(3), false, 'take forgets');
  g.add(2); // re-added: now the newest record; the old one is stale
  g.add(5);
  g.add(6); // overwrites the stale record of 2 and the record of 4
  assert.equal(g.take(4), false);
  assert.equal(g.take(2), true);
  g.check('test');
});

test('ghost ring (W-TinyLFU): matches a model under random add / take / resize', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.array(fc.tuple(fc.constantFrom('add', 'add', 'take', 'resize'), fc.integer({ min: 0, max: 20 })), { maxLength: 200 }),
      (cap, ops) => {
        const g = new GhostRing(cap);
        // model: fingerprint -> sequence number of its newest addition; live iff within the
        // last `capacity` additions and not taken since
        let n = cap;
        let seq = 0;
        let model = new Map<number, number>();
        const live = () => [...model].filter(([, s]) => s >= seq - n).map(([k]) => k);
        for (const [op, k] of ops) {
          if (op === 'add') {
            g.add(k);
            model.set(k, seq++);
          } else if (op === 'take') {
            const want = live().includes(k);
            assert.equal(g.take(k), want, `take ${k}`);
            model.delete(k);
          } else {
            const keep = live().sort((a, b) => model.get(a)! - model.get(b)!);
            n = 1 + (k % 12);
            g.resize(n);
            model = new Map();
            seq = 0;
            for (const f of keep.slice(Math.max(0, keep.length - n))) model.set(f, seq++);
          }
          g.check('model');
          assert.equal(g.size, live().length);
        }
      },
    ),
    { numRuns: 300, seed: 42 },
  );
});
