/**
 * Hand-worked sequences for LRU, SIEVE and S3-FIFO: small caches where the exact victim can
 * be worked out on paper (the reasoning is in the comments).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache } from 'cortado';
import { check } from './helpers.js';

function evictions(policy: 'lru' | 'sieve' | 's3fifo', maxEntries: number) {
  const evicted: string[] = [];
  const cache = new Cache<string, number>({
    maxEntries,
    policy,
    seed: 1,
    onRemove: (k, _v, cause) => {
      if (cause === 'evicted') evicted.push(k);
    },
  });
  return { cache, evicted };
}

describe('lru', () => {
  test('evicts the least recently used; a get refreshes recency', () => {
    const { cache, evicted } = evictions('lru', 3);
    for (const k of ['a', 'b', 'c']) cache.set(k, 0);
    cache.get('a'); // order, oldest first: b c a
    cache.set('d', 0); // evicts b -> c a d
    cache.get('c'); // a d c
    cache.set('e', 0); // evicts a -> d c e
    assert.deepEqual(evicted, ['b', 'a']);
    // An update counts as a use too.
    cache.set('d', 1); // c e d
    cache.set('f', 0); // evicts c
    assert.deepEqual(evicted, ['b', 'a', 'c']);
    check(cache);
  });
});

describe('sieve', () => {
  test('the hand clears visited bits, evicts the first unvisited, and keeps its place', () => {
    const { cache, evicted } = evictions('sieve', 3);
    for (const k of ['a', 'b', 'c']) cache.set(k, 0); // queue head..tail: c b a
    cache.get('a'); // a visited
    // d: hand starts at the tail a (visited: clear, move newer) -> b unvisited: evict b.
    // The hand rests on b's newer neighbour, c.
    cache.set('d', 0); // d c a
    assert.deepEqual(evicted, ['b']);
    // e: hand at c, unvisited: evict c; hand -> d.
    cache.set('e', 0); // e d a
    assert.deepEqual(evicted, ['b', 'c']);
    // f: hand at d, unvisited: evict d; hand -> e. Unlike LRU, a (read once, long ago)
    // survives, because its bit was cleared only once the hand passed it.
    cache.set('f', 0); // f e a
    assert.deepEqual(evicted, ['b', 'c', 'd']);
    cache.get('e');
    cache.get('f');
    // g: hand at e (visited: clear) -> f (visited: clear) -> past the head, wrap to the tail
    // a (unvisited since its bit was cleared): evict a.
    cache.set('g', 0);
    assert.deepEqual(evicted, ['b', 'c', 'd', 'a']);
    assert.deepEqual([...cache.keys()].sort(), ['e', 'f', 'g']);
    check(cache);
  });

  test('a hit is a bit: it never reorders the queue', () => {
    const { cache, evicted } = evictions('sieve', 2);
    cache.set('a', 0);
    cache.set('b', 0); // b a
    cache.get('b'); // b visited, still at the head
    cache.set('c', 0); // hand at tail a (unvisited): evict a even though b was read later
    assert.deepEqual(evicted, ['a']);
  });
});

describe('s3fifo', () => {
  test('one-hit wonders leave through the small queue; twice-hit entries move to main', () => {
    // Capacity 10: small queue 1 (10%), main 9, ghost remembers 9 fingerprints.
    const { cache, evicted } = evictions('s3fifo', 10);
    for (let i = 1; i <= 10; i++) cache.set(`k${i}`, i); // all enter small
    // k11: main holds nothing, small is over its share: small's tail k1 (never hit) is
    // evicted and remembered in the ghost.
    cache.set('k11', 11);
    assert.deepEqual(evicted, ['k1']);
    // k2 is hit twice while in small: on reaching small's tail it moves to main instead of
    // being evicted, and k3 goes.
    cache.get('k2');
    cache.get('k2');
    cache.set('k12', 12);
    assert.deepEqual(evicted, ['k1', 'k3']);
    assert.ok(cache.has('k2'));
    // k1 comes back: its fingerprint is in the ghost, so it goes straight to main.
    cache.set('k1', 1);
    assert.deepEqual(evicted, ['k1', 'k3', 'k4']);
    // A scan of new keys only churns the small queue: k1 and k2 (in main) survive it.
    for (let i = 100; i < 120; i++) cache.set(`s${i}`, i);
    assert.ok(cache.has('k1'));
    assert.ok(cache.has('k2'));
    check(cache);
  });

  test('main is a 2-bit CLOCK: hit entries are reinserted, the first unhit one is evicted', () => {
    // Capacity 10: small 1, main 9, ghost 9.
    const { cache, evicted } = evictions('s3fifo', 10);
    // x10..x19 push x0..x9 out of small; the ghost keeps the last nine (x1..x9).
    for (let i = 0; i < 20; i++) cache.set(`x${i}`, i);
    // Ghost hits: x1..x9 go straight to main (each evicting one of x10..x18 from small).
    for (let i = 1; i < 10; i++) cache.set(`x${i}`, i);
    evicted.length = 0;
    cache.get('x1'); // main's oldest entry, counter 1
    cache.get('x19'); // small's only entry, hit twice
    cache.get('x19');
    // y: small's tail x19 was hit twice, so it moves to main, which leaves small empty and
    // main over its share: main's tail x1 has counter 1 (decrement, reinsert at the head),
    // the next one, x2, has 0 and is evicted.
    cache.set('y', 0);
    assert.deepEqual(evicted, ['x2']);
    assert.ok(cache.has('x1'));
    assert.ok(cache.has('x19'));
    check(cache);
  });
});
