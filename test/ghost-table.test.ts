/** W-TinyLFU's two ghost lists (src/internal/ghost-table.ts): a 2-way direct-mapped table, against a model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GhostTable, hashKey } from 'cortado/internal';

test('ghost table: a key is remembered in the list it was last added to, and taking it forgets it', () => {
  const g = new GhostTable(64);
  g.add(11, 0);
  g.add(22, 1);
  assert.deepEqual([g.sizeOf(0), g.sizeOf(1), g.size], [1, 1, 2]);
  g.add(11, 1); // moves to list 1
  assert.deepEqual([g.sizeOf(0), g.sizeOf(1)], [0, 2]);
  assert.equal(g.take(11), 1);
  assert.equal(g.take(11), -1, 'take forgets');
  assert.equal(g.take(33), -1, 'never added');
  g.add(22, 1); // re-added: still one record
  assert.equal(g.sizeOf(1), 1);
  g.add(0, 0); // hash 0 is stored as 1 (the empty word is 0): both name one record
  assert.equal(g.take(0), 0);
  g.check('test');
});

test('ghost table: each cell keeps the two newest keys of each list; a third pushes out the oldest', () => {
  const g = new GhostTable(8); // 4 cells
  // Find three hashes that share a cell.
  const same: number[] = [];
  for (let h = 1; same.length < 3; h++) if (g.cellIndex(h) === g.cellIndex(1)) same.push(h);
  const [a, b, c] = same as [number, number, number];
  g.add(a, 0);
  g.add(b, 0);
  g.add(a, 0); // a becomes the newer again: b is now the older
  g.add(c, 0); // b is forgotten
  assert.equal(g.take(b), -1);
  assert.equal(g.take(a), 0);
  assert.equal(g.take(c), 0);
  g.add(a, 1); // the other list's pair of the cell is separate
  g.add(b, 0);
  g.add(c, 0);
  assert.equal(g.take(a), 1);
  g.check('test');
});

/** A list's live keys (oldest first) in the order resize() places them again. */
function placement(g: GhostTable, live: number[]): number[] {
  const tagged = live.map((k, i) => ({
    k,
    cell: g.cellIndex(k),
    older: live.slice(i + 1).some((m) => g.cellIndex(m) === g.cellIndex(k)),
  }));
  tagged.sort((a, b) => Number(b.older) - Number(a.older) || a.cell - b.cell);
  return tagged.map((t) => t.k);
}

test('ghost table: matches a model (per cell and list, the two newest distinct keys) under random add / take / resize', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.array(fc.tuple(fc.constantFrom('add', 'add', 'add', 'take', 'resize'), fc.integer({ min: -30, max: 30 }), fc.nat()), { maxLength: 300 }),
      (cap, ops) => {
        const g = new GhostTable(cap);
        // model: for each list, the keys in order of their latest addition (newest last), not taken since
        let lists: number[][] = [[], []];
        const norm = (h: number) => (h === 0 ? 1 : h);
        const remembered = (l: number): number[] => {
          // a key is live if fewer than two newer keys of its list share its cell
          const keys = lists[l]!;
          return keys.filter((k, i) => keys.slice(i + 1).filter((m) => g.cellIndex(m) === g.cellIndex(k)).length < 2);
        };
        for (const [op, raw, pick] of ops) {
          const k = norm(raw);
          if (op === 'add') {
            const l = pick % 2;
            // forgotten records are dropped from the model first, as the table drops them
            lists = [remembered(0), remembered(1)];
            lists[0] = lists[0]!.filter((x) => x !== k);
            lists[1] = lists[1]!.filter((x) => x !== k);
            lists[l]!.push(k);
            g.add(raw, l);
          } else if (op === 'take') {
            const live0 = remembered(0).includes(k);
            const live1 = remembered(1).includes(k);
            const want = live0 ? 0 : live1 ? 1 : -1;
            assert.equal(g.take(raw), want, `take(${raw})`);
            lists = [remembered(0).filter((x) => x !== k), remembered(1).filter((x) => x !== k)];
          } else {
            // The table places its records again: every cell's older records first, in cell
            // order, then the newer ones; in a cell of the new table the last two placed stay.
            lists = [placement(g, remembered(0)), placement(g, remembered(1))];
            g.resize(1 + (pick % 16));
          }
          g.check('model');
          assert.deepEqual([g.sizeOf(0), g.sizeOf(1)], [remembered(0).length, remembered(1).length]);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('ghost table: holds about as many recent keys as its capacity, and forgets old ones', () => {
  const cap = 4096;
  const g = new GhostTable(cap);
  const key = (i: number) => hashKey(i, 1);
  for (let i = 0; i < cap; i++) g.add(key(i), 0);
  let kept = 0;
  for (let i = 0; i < cap; i++) if (g.take(key(i)) === 0) kept++;
  // A FIFO would keep all of them; two records per cell keep most (a cell that drew three or
  // more of the keys keeps its two newest).
  assert.ok(kept > 0.7 * cap, `kept ${kept} of the last ${cap} additions`);
  assert.ok(kept < cap, 'the table is not an exact FIFO: some were pushed out');
  for (let i = 0; i < 10 * cap; i++) g.add(key(cap + i), 0);
  let old = 0;
  for (let i = 0; i < cap; i++) if (g.take(key(i)) === 0) old++;
  assert.equal(old, 0, 'keys taken earlier stay forgotten');
  assert.ok(g.sizeOf(0) <= g.capacity, `${g.sizeOf(0)} records in a list of capacity ${g.capacity}`);
  assert.ok(g.sizeOf(0) > 0.8 * g.capacity, `a full table: ${g.sizeOf(0)} of ${g.capacity}`);
  g.check('test');
});

test('ghost table: growing keeps what it knew, and clear forgets everything', () => {
  const g = new GhostTable(1000);
  const keys = Array.from({ length: 40 }, (_, i) => hashKey(i, 7));
  keys.forEach((k, i) => g.add(k, i & 1));
  // With 40 keys over 500 cells, no cell of one list drew three of them (checked, not assumed).
  for (const l of [0, 1]) {
    const cells = keys.filter((_, i) => (i & 1) === l).map((k) => g.cellIndex(k));
    assert.ok(cells.every((c) => cells.filter((d) => d === c).length <= 2));
  }
  g.resize(100_000);
  assert.equal(g.capacity, 100_000);
  assert.deepEqual(keys.map((k) => g.take(k)), keys.map((_, i) => i & 1), 'every key, in its list');
  keys.forEach((k) => g.add(k, 0));
  g.clear();
  assert.equal(g.size, 0);
  assert.ok(keys.every((k) => g.take(k) === -1));
  g.check('test');
});
