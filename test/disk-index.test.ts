/**
 * The large-item index (src/disk/item-index.ts) against a Map model: random puts, removals by
 * slot, conditional removals and range removals (what region reuse does), across doublings,
 * with hashes drawn from a small space so that probe clusters are long and wrap around.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from './helpers.js';

interface Index {
  size: number;
  capacity: number;
  prevAddr: number;
  prevLen: number;
  find(hi: number, lo: number): number;
  addrAt(slot: number): number;
  lenAt(slot: number): number;
  put(hi: number, lo: number, addr: number, len: number): void;
  removeSlot(slot: number): void;
  removeIf(hi: number, lo: number, addr: number, len: number): boolean;
  removeRange(from: number, to: number): number;
}

test('ItemIndex agrees with a Map model through puts, removals, range removals and doublings', async () => {
  // Not exported by the package: loaded from the built module beside the tests' build.
  const { ItemIndex } = (await import(new URL('../../dist/disk/item-index.js', import.meta.url).href)) as { ItemIndex: new (n?: number) => Index };
  for (const seed of [1, 2, 3]) {
    const rand = prng(seed);
    const ix = new ItemIndex();
    const model = new Map<string, { hi: number; lo: number; addr: number; len: number }>();
    // lo values crowd a few home slots: clusters are long and cross the end of the table.
    const key = (): [number, number] => [Math.floor(rand() * 50), (Math.floor(rand() * 4000) * 1024 + 1020 + Math.floor(rand() * 8)) >>> 0];
    for (let step = 0; step < 30_000; step++) {
      const r = rand();
      const [hi, lo] = key();
      const id = `${hi}:${lo}`;
      if (r < 0.6) {
        const addr = Math.floor(rand() * 100_000);
        const len = 1 + Math.floor(rand() * 1000);
        const prev = model.get(id);
        ix.put(hi, lo, addr, len);
        assert.equal(ix.prevLen, prev?.len ?? 0, 'put reports the replaced entry');
        if (prev !== undefined) assert.equal(ix.prevAddr, prev.addr);
        model.set(id, { hi, lo, addr, len });
      } else if (r < 0.8) {
        const slot = ix.find(hi, lo);
        assert.equal(slot >= 0, model.has(id));
        if (slot >= 0) {
          ix.removeSlot(slot);
          model.delete(id);
        }
      } else if (r < 0.95) {
        const e = model.get(id);
        const matches = e !== undefined && rand() < 0.5;
        const removed = ix.removeIf(hi, lo, matches ? e.addr : -1, matches ? e.len : 0);
        assert.equal(removed, matches);
        if (matches) model.delete(id);
      } else {
        const from = Math.floor(rand() * 100_000);
        const to = from + Math.floor(rand() * 5000);
        let expect = 0;
        for (const [k, e] of model) {
          if (e.addr >= from && e.addr < to) {
            model.delete(k);
            expect++;
          }
        }
        assert.equal(ix.removeRange(from, to), expect);
      }
      if (step % 1000 === 999) {
        assert.equal(ix.size, model.size);
        for (const e of model.values()) {
          const slot = ix.find(e.hi, e.lo);
          assert.ok(slot >= 0, 'every model entry is found');
          assert.equal(ix.addrAt(slot), e.addr);
          assert.equal(ix.lenAt(slot), e.len);
        }
      }
    }
    assert.ok(ix.capacity > 1024, 'the table doubled at least once');
  }
});
