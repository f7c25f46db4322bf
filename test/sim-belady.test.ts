/** The offline optimum: hand-worked sequences and an exhaustive search on small random ones. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Belady, BeladySize, nextUses, prng } from '#sim';

/** Dense ids and next uses of a key sequence. */
function prepare(seq: (string | number)[]) {
  const ids = new Map<string | number, number>();
  const dense = Int32Array.from(seq, (k) => {
    if (!ids.has(k)) ids.set(k, ids.size);
    return ids.get(k)!;
  });
  return nextUses(dense, dense.length, ids.size);
}

function hitsOf(sim: { access(i: number, next: number, size: number): boolean }, next: Int32Array, sizes?: number[]) {
  let hits = 0;
  for (let i = 0; i < next.length; i++) if (sim.access(i, next[i]!, sizes ? sizes[i]! : 1)) hits++;
  return hits;
}

/** Fewest misses over every admission/eviction choice (bypass allowed): exhaustive, for tiny inputs. */
function bruteForceMisses(seq: number[], cap: number): number {
  let states = new Map<string, number>([['', 0]]); // sorted resident keys -> fewest misses so far
  for (const k of seq) {
    const nextStates = new Map<string, number>();
    const put = (set: number[], m: number) => {
      const key = set.sort((a, b) => a - b).join(',');
      if (!nextStates.has(key) || nextStates.get(key)! > m) nextStates.set(key, m);
    };
    for (const [key, m] of states) {
      const set = key === '' ? [] : key.split(',').map(Number);
      if (set.includes(k)) {
        put(set, m);
        continue;
      }
      put([...set], m + 1); // bypass
      if (set.length < cap) put([...set, k], m + 1);
      else for (let v = 0; v < set.length; v++) put([...set.slice(0, v), ...set.slice(v + 1), k], m + 1);
    }
    states = nextStates;
  }
  return Math.min(...states.values());
}

test('nextUses: index of the next request for the same key, -1 for none', () => {
  assert.deepEqual([...prepare(['a', 'b', 'a', 'c', 'b', 'a'])], [2, 4, 5, -1, -1, -1]);
});

test('textbook sequence 1 2 3 4 1 2 5 1 2 3 4 5 with 3 frames: 7 misses', () => {
  // Worked by hand: 1,2,3 miss; 4 is needed farther than 1,2,3 so it is not kept (miss);
  // 1,2 hit; 5 likewise (miss); 1,2,3 hit; 4 and 5 miss: 7 misses, 5 hits. Admitting every
  // miss (evicting 3, then 1 or 2) also ends at 7 here.
  const next = prepare([1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5]);
  assert.equal(hitsOf(new Belady(3), next), 5);
  assert.equal(hitsOf(new Belady(3, true), next), 5);
});

test('bypass beats admitting every miss: a b a with one slot', () => {
  const next = prepare(['a', 'b', 'a']);
  assert.equal(hitsOf(new Belady(1), next), 1); // b is never used again: not cached
  assert.equal(hitsOf(new Belady(1, true), next), 0); // libCacheSim's variant evicts a for b
});

test('matches an exhaustive search on small random sequences', () => {
  const rand = prng(42);
  for (let trial = 0; trial < 300; trial++) {
    const keys = 2 + Math.floor(rand() * 4);
    const len = 1 + Math.floor(rand() * 12);
    const cap = 1 + Math.floor(rand() * 3);
    const seq = Array.from({ length: len }, () => Math.floor(rand() * keys));
    const misses = len - hitsOf(new Belady(cap), prepare(seq));
    assert.equal(misses, bruteForceMisses(seq, cap), `seq ${seq.join(' ')} cap ${cap}`);
    // Admitting every miss can only be worse.
    assert.ok(len - hitsOf(new Belady(cap, true), prepare(seq)) >= misses);
  }
});

test('heap stays correct over a long run with many hits (stale-entry rebuilds)', () => {
  const rand = prng(7);
  const seq = Array.from({ length: 50_000 }, () => Math.floor(Math.pow(rand(), 3) * 3000));
  const next = prepare(seq);
  // Reference: a direct O(n * cap) MIN with bypass.
  const cap = 40;
  const resident = new Map<number, number>(); // key -> next use
  let hits = 0;
  for (let i = 0; i < seq.length; i++) {
    const k = seq[i]!;
    const nx = next[i]! < 0 ? Infinity : next[i]!;
    if (resident.has(k)) {
      hits++;
      if (nx === Infinity) resident.delete(k);
      else resident.set(k, nx);
      continue;
    }
    if (nx === Infinity) continue;
    if (resident.size >= cap) {
      let far = -1;
      let farKey = -1;
      for (const [kk, v] of resident) if (v > far) [far, farKey] = [v, kk];
      if (far < nx) continue;
      resident.delete(farKey);
    }
    resident.set(k, nx);
  }
  assert.equal(hitsOf(new Belady(cap), next), hits);
});

test('bytes: capacity is respected and an object larger than the cache is never cached', () => {
  const next = prepare(['big', 'a', 'big', 'a']);
  const sizes = [100, 5, 100, 5];
  assert.equal(hitsOf(new Belady(50), next, sizes), 1);
  assert.equal(hitsOf(new BeladySize(50), next, sizes), 1);
  assert.equal(hitsOf(new Belady(105), next, sizes), 2);
});

test('belady-size with unit sizes and a full sample is Belady', () => {
  const rand = prng(3);
  const seq = Array.from({ length: 5000 }, () => Math.floor(rand() * rand() * 200));
  const next = prepare(seq);
  for (const cap of [1, 5, 30, 60]) assert.equal(hitsOf(new BeladySize(cap), next), hitsOf(new Belady(cap), next), `cap ${cap}`);
});
