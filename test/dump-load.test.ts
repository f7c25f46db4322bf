/** dump()/load() for warm restarts, and the one-line inspect form. */
import assert from 'node:assert/strict';
import { deserialize, serialize } from 'node:v8';
import util from 'node:util';
import { describe, test } from 'node:test';
import { Cache } from 'cortado';
import { FakeClock, POLICY_NAMES, check } from './helpers.js';


describe('dump() and load()', () => {
  for (const policy of POLICY_NAMES) {
    test(`round trip keeps values, remaining ttl and weights (${policy})`, () => {
      const clock = new FakeClock();
      const a = new Cache<string, { n: number }>({ maxWeight: 100, weigher: (v) => v.n, policy, clock: clock.fn });
      a.set('x', { n: 1 });
      a.set('y', { n: 2 }, { ttl: 500 });
      a.set('z', { n: 3 }, { ttl: 100 });
      clock.advance(50);
      const dump = a.dump();
      assert.deepEqual(
        dump.entries.map((e) => [e.key, e.value.n, e.ttl, e.weight]),
        [['x', 1, 0, 1], ['y', 2, 450, 2], ['z', 3, 50, 3]],
      );
      // Through a serializer and into a cache with another clock.
      const copy = deserialize(serialize(dump)) as typeof dump;
      const clock2 = new FakeClock();
      clock2.now = 9_000;
      const b = new Cache<string, { n: number }>({ maxWeight: 100, weigher: () => 50, policy, clock: clock2.fn });
      assert.equal(b.load(copy), 3);
      assert.equal(b.get('x')!.n, 1);
      assert.equal(b.ttlOf('x'), Infinity);
      assert.equal(b.ttlOf('y'), 450);
      assert.equal(b.ttlOf('z'), 50);
      assert.equal(b.weight, 6, 'dumped weights are kept, not recomputed');
      clock2.advance(60);
      assert.equal(b.get('z'), undefined);
      check(b);
    });
  }

  test('expired entries are not dumped', () => {
    const clock = new FakeClock();
    const a = new Cache<string, number>({ maxEntries: 10, ttl: 100, clock: clock.fn });
    a.set('old', 1);
    clock.advance(60);
    a.set('new', 2);
    clock.advance(60);
    assert.deepEqual(a.dump().entries.map((e) => e.key), ['new']);
  });

  test('a dump larger than the cache is stored in its order: an LRU cache keeps its last entries', () => {
    const a = new Cache<number, number>({ maxEntries: 100, policy: 'lru' });
    for (let i = 0; i < 100; i++) a.set(i, i);
    const b = new Cache<number, number>({ maxEntries: 10, policy: 'lru' });
    const dump = a.dump();
    assert.equal(b.load(dump), 100);
    const last = dump.entries.slice(-10).map((e) => e.key);
    assert.deepEqual([...b.keys()].sort((x, y) => x - y), last.sort((x, y) => x - y));
  });

  test('a bad dump throws, naming the entry, and loads nothing', () => {
    const b = new Cache<string, number>({ maxEntries: 10 });
    b.set('keep', 1);
    const good = { key: 'a', value: 1, ttl: 0 };
    for (const [bad, msg] of [
      [null, /load\(\)/],
      [{ version: 2, entries: [] }, /version/],
      [{ version: 1, entries: [good, { key: 'b', value: 2, ttl: -1 }] }, /entry 1 ttl/],
      [{ version: 1, entries: [good, { key: 'b', value: 2, ttl: 0, weight: NaN }] }, /entry 1 weight/],
      [{ version: 1, entries: [good, { value: 2, ttl: 0 }] }, /entry 1/],
      [{ version: 1, entries: [good, { key: 'c', ttl: 0 }] }, /entry 1 has no value/],
    ] as const) {
      assert.throws(() => b.load(bad as never), msg);
      assert.deepEqual([...b.keys()], ['keep'], 'nothing half-loaded');
    }
    check(b);
  });

  test('a weigher that throws for one entry loads none', () => {
    const b = new Cache<string, number>({ maxWeight: 10, weigher: (v) => { if (v === 3) throw new Error('no'); return 1; } });
    assert.throws(() => b.load({ version: 1, entries: [{ key: 'a', value: 1, ttl: 0 }, { key: 'b', value: 3, ttl: 0 }] }), /no/);
    assert.equal(b.size, 0);
  });
});

describe('inspect', () => {
  test('one line with policy, bounds, size, weight and hit ratio', () => {
    const c = new Cache<string, number>({ maxEntries: 100, maxWeight: 50, weigher: () => 2, policy: 'sieve' });
    c.set('a', 1);
    c.get('a');
    c.get('b');
    assert.equal(util.inspect(c), 'Cache<sieve> { entries: 1/100, weight: 2/50, hitRatio: 0.500 }');
    const d = new Cache<string, number>({ maxEntries: 3 });
    assert.equal(util.inspect(d), 'Cache<wtinylfu> { entries: 0/3, hitRatio: - }');
  });
});
