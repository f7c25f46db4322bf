/**
 * The behavioural suite: every policy x every configuration, with the structural validator
 * run after each case (and often within).
 */
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Cache, type RemovalCause, type PolicyName } from 'cortado';
import { CONFIGS, POLICY_NAMES, FakeClock, check, prng, recorded, type Config, type Removal } from './helpers.js';

type V = { w: number };
const v = (w = 1): V => ({ w });

function make(policy: PolicyName, config: Config) {
  const clock = new FakeClock();
  const { options, log } = recorded<number, V>({ ...config.options, policy, clock: clock.fn, seed: 7 });
  const cache = new Cache<number, V>(options);
  return { cache, clock, log };
}

const causes = (log: Removal<number, V>[], cause: RemovalCause) => log.filter((e) => e.cause === cause);

for (const policy of POLICY_NAMES) {
  for (const config of CONFIGS) {
    describe(`${policy} / ${config.name}`, () => {
      let current: Cache<number, V> | undefined;
      afterEach(() => {
        if (current) check(current);
        current = undefined;
      });
      const setup = () => {
        const made = make(policy, config);
        current = made.cache;
        return made;
      };

      test('get returns what set stored; misses are undefined; stats count both', () => {
        const { cache } = setup();
        const a = v();
        assert.equal(cache.set(1, a), true);
        assert.equal(cache.get(1), a);
        assert.equal(cache.get(2), undefined);
        const s = cache.stats();
        assert.equal(s.hits, 1);
        assert.equal(s.misses, 1);
        assert.equal(s.inserts, 1);
        assert.equal(s.hitRatio, 0.5);
      });

      test('set on a present key replaces the value and reports the old one as replaced', () => {
        const { cache, log } = setup();
        const a = v();
        const b = v();
        cache.set(1, a);
        assert.equal(cache.set(1, b), true);
        assert.equal(cache.get(1), b);
        assert.equal(cache.size, 1);
        assert.deepEqual(log, [{ key: 1, value: a, cause: 'replaced' }]);
        assert.equal(cache.stats().updates, 1);
        // Setting the very same value again reports nothing: it did not leave.
        cache.set(1, b);
        assert.equal(log.length, 1);
      });

      test('delete removes, reports deleted once, and returns whether it was present', () => {
        const { cache, log } = setup();
        const a = v();
        cache.set(1, a);
        assert.equal(cache.delete(1), true);
        assert.equal(cache.delete(1), false);
        assert.equal(cache.has(1), false);
        assert.deepEqual(log, [{ key: 1, value: a, cause: 'deleted' }]);
        assert.equal(cache.stats().deletions, 1);
        assert.equal(cache.size, 0);
        assert.equal(cache.weight, 0);
      });

      test('set(key, undefined) deletes the key and returns false', () => {
        const { cache, log } = setup();
        cache.set(1, v());
        assert.equal(cache.set(1, undefined as unknown as V), false);
        assert.equal(cache.has(1), false);
        assert.equal(log[0]!.cause, 'deleted');
      });

      test('bounds hold while many more keys than fit are inserted, and every eviction is reported', () => {
        const { cache, log } = setup();
        const rnd = prng(1);
        const n = config.entries * 10;
        for (let i = 0; i < n; i++) {
          const k = Math.floor(rnd() * config.entries * 3);
          if (cache.get(k) === undefined) cache.set(k, v(1 + (i % 3)));
          assert.ok(cache.size <= (cache.maxEntries ?? Infinity), `size ${cache.size}`);
          assert.ok(cache.weight <= (cache.maxWeight ?? Infinity), `weight ${cache.weight}`);
          if (i % 97 === 0) check(cache);
        }
        const s = cache.stats();
        assert.ok(s.evictions > 0, 'the workload must overflow the cache');
        assert.equal(causes(log, 'evicted').length, s.evictions);
        assert.equal(s.inserts - s.evictions - s.expirations - s.deletions, cache.size);
      });

      test('an entry heavier than the whole cache is refused with cause rejected', () => {
        if (config.options.maxWeight === undefined) return;
        const { cache, log } = setup();
        const big = v(config.options.maxWeight + 1);
        cache.set(1, v());
        assert.equal(cache.set(2, big), false);
        assert.equal(cache.has(2), false);
        assert.deepEqual(log, [{ key: 2, value: big, cause: 'rejected' }]);
        assert.equal(cache.stats().rejections, 1);
        // Replacing a present value with one too heavy drops the old value too.
        const small = cache.peek(1)!;
        assert.equal(cache.set(1, big), false);
        assert.equal(cache.has(1), false);
        assert.deepEqual(log.slice(1), [
          { key: 1, value: small, cause: 'replaced' },
          { key: 1, value: big, cause: 'rejected' },
        ]);
      });

      test('a weight change on update is accounted and the bound still holds', () => {
        if (config.options.maxWeight === undefined) return;
        const { cache } = setup();
        for (let i = 0; i < 10; i++) cache.set(i, v(1));
        assert.equal(cache.weight, 10);
        cache.set(3, v(5));
        assert.equal(cache.weight, 14);
        cache.set(3, v(0));
        assert.equal(cache.weight, 9);
        // Growing one entry past the remaining room evicts others, never breaks the bound.
        for (let i = 10; i < 60; i++) cache.set(i, v(1));
        cache.set(59, v(30));
        assert.ok(cache.weight <= config.options.maxWeight);
      });

      test('clear empties the cache and reports every entry as cleared', () => {
        const { cache, log } = setup();
        for (let i = 0; i < 10; i++) cache.set(i, v());
        cache.clear();
        assert.equal(cache.size, 0);
        assert.equal(cache.weight, 0);
        assert.equal(causes(log, 'cleared').length, 10);
        assert.deepEqual([...cache.keys()], []);
        // The cache is usable afterwards.
        cache.set(1, v());
        assert.ok(cache.has(1));
      });

      test('peek and has change neither stats nor the eviction order', () => {
        const a = make(policy, config);
        const b = make(policy, config);
        current = a.cache;
        const rnd = prng(2);
        for (let i = 0; i < config.entries * 6; i++) {
          const k = Math.floor(rnd() * config.entries * 2);
          for (const c of [a.cache, b.cache]) if (c.get(k) === undefined) c.set(k, v());
          // Only cache a is peeked at, a lot.
          a.cache.peek(Math.floor(rnd() * config.entries * 2));
          a.cache.has(Math.floor(rnd() * config.entries * 2));
        }
        assert.deepEqual(a.cache.stats(), b.cache.stats());
        assert.deepEqual(
          a.log.map((e) => [e.key, e.cause]),
          b.log.map((e) => [e.key, e.cause]),
        );
      });

      test('iteration yields exactly the live entries, each once', () => {
        const { cache } = setup();
        for (let i = 0; i < config.entries * 2; i++) cache.set(i, v());
        const keys = [...cache.keys()];
        assert.equal(new Set(keys).size, keys.length);
        assert.equal(keys.length, cache.size);
        for (const [k, val] of cache) assert.equal(cache.peek(k), val);
        assert.deepEqual([...cache.values()], keys.map((k) => cache.peek(k)));
        const seen: number[] = [];
        cache.forEach((val, k, self) => {
          assert.equal(self, cache);
          assert.equal(val, cache.peek(k));
          seen.push(k);
        });
        assert.deepEqual(seen, keys);
      });

      test('setIfPresent updates only present keys', () => {
        const { cache } = setup();
        assert.equal(cache.setIfPresent(1, v()), false);
        assert.equal(cache.has(1), false);
        cache.set(1, v());
        const b = v();
        assert.equal(cache.setIfPresent(1, b), true);
        assert.equal(cache.peek(1), b);
      });

      test('a listener may call back into the cache', () => {
        const clock = new FakeClock();
        const seen: string[] = [];
        const cache: Cache<number, V> = new Cache<number, V>({
          ...config.options,
          policy,
          clock: clock.fn,
          onRemove: (key, _value, cause) => {
            seen.push(`${key}:${cause}`);
            // Re-inserting from inside a listener must leave a consistent cache.
            if (cause === 'evicted' && key % 2 === 0 && key < 1_000_000) cache.set(key + 1_000_000, v());
            check(cache);
          },
        });
        current = cache;
        for (let i = 0; i < config.entries * 3; i++) cache.set(i, v());
        assert.ok(seen.some((s) => s.endsWith(':evicted')));
        assert.ok(cache.size <= (cache.maxEntries ?? Infinity));
      });

      test('a listener that throws does not corrupt the cache or swallow other events', () => {
        const clock = new FakeClock();
        const seen: number[] = [];
        const cache = new Cache<number, V>({
          ...config.options,
          policy,
          clock: clock.fn,
          onRemove: (key) => {
            seen.push(key);
            throw new Error(`listener failed on ${key}`);
          },
        });
        current = cache;
        for (let i = 0; i < 5; i++) cache.set(i, v());
        assert.throws(() => cache.clear(), /listener failed on 0/);
        assert.deepEqual(seen, [0, 1, 2, 3, 4]);
        assert.equal(cache.size, 0);
        cache.set(9, v());
        assert.ok(cache.has(9));
      });

      test('shouldUpdate returning false keeps the old value and reports the new one as rejected', () => {
        const clock = new FakeClock();
        const { options, log } = recorded<number, V>({
          ...config.options,
          policy,
          clock: clock.fn,
          shouldUpdate: (oldV, newV) => newV.w >= oldV.w,
        });
        const cache = new Cache<number, V>(options);
        current = cache;
        const a = v(2);
        const b = v(1);
        const c = v(3);
        cache.set(1, a);
        assert.equal(cache.set(1, b), false);
        assert.equal(cache.peek(1), a);
        assert.deepEqual(log, [{ key: 1, value: b, cause: 'rejected' }]);
        assert.equal(cache.set(1, c), true);
        assert.equal(cache.peek(1), c);
      });

      test('resize evicts down to the new bound at once', () => {
        const { cache, log } = setup();
        for (let i = 0; i < config.entries; i++) cache.set(i, v());
        const before = cache.size;
        if (config.options.maxEntries !== undefined) cache.resize({ maxEntries: 5 });
        else cache.resize({ maxWeight: 5 });
        assert.ok(cache.size <= 5);
        assert.equal(causes(log, 'evicted').length, before - cache.size);
        check(cache);
        // Growing back lets the cache fill again.
        if (config.options.maxEntries !== undefined) cache.resize({ maxEntries: config.options.maxEntries });
        else cache.resize({ maxWeight: config.options.maxWeight! });
        for (let i = 100; i < 100 + config.entries; i++) cache.set(i, v());
        assert.ok(cache.size > 5);
      });

      if (config.ttl) {
        test('entries expire at their deadline and are never returned after it', () => {
          const { cache, clock, log } = setup();
          const ttl = Math.min(config.options.ttl ?? Infinity, config.options.expireAfterAccess ?? Infinity);
          const a = v();
          cache.set(1, a);
          clock.advance(ttl - 1);
          assert.equal(cache.peek(1), a);
          assert.equal(cache.has(1), true);
          assert.equal(cache.ttlOf(1), 1);
          clock.advance(1);
          assert.equal(cache.has(1), false);
          assert.equal(cache.peek(1), undefined);
          assert.deepEqual([...cache.keys()], []);
          assert.equal(cache.ttlOf(1), undefined);
          assert.equal(cache.get(1), undefined);
          assert.deepEqual(log, [{ key: 1, value: a, cause: 'expired' }]);
          assert.equal(cache.stats().expirations, 1);
          assert.equal(cache.size, 0);
        });

        test('expired entries nobody reads are removed by later writes and by purgeExpired', () => {
          const { cache, clock, log } = setup();
          for (let i = 0; i < 10; i++) cache.set(i, v());
          clock.advance(10 * 60_000);
          cache.set(100, v()); // a write advances the timer wheel
          assert.equal(causes(log, 'expired').length, 10);
          assert.equal(cache.size, 1);
          // purgeExpired is exact, even within the wheel's finest tick.
          cache.set(101, v(), { ttl: 5 });
          clock.advance(5);
          assert.equal(cache.purgeExpired(), 1);
          assert.equal(cache.has(101), false);
        });

        test('per-call ttl overrides the default, and 0 means no expiry', () => {
          const { cache, clock } = setup();
          cache.set(1, v(), { ttl: 50 });
          cache.set(2, v(), { ttl: 0 });
          assert.equal(cache.ttlOf(1), 50);
          clock.advance(50);
          assert.equal(cache.has(1), false);
          if (config.options.expireAfterAccess === undefined) {
            assert.equal(cache.ttlOf(2), Infinity);
            clock.advance(1e9);
            assert.equal(cache.get(2)?.w, 1);
          }
        });

        test('a write resets the time-to-live', () => {
          const { cache, clock } = setup();
          const ttl = Math.min(config.options.ttl ?? Infinity, config.options.expireAfterAccess ?? Infinity);
          cache.set(1, v());
          clock.advance(ttl - 1);
          cache.set(1, v());
          clock.advance(ttl - 1);
          assert.ok(cache.has(1));
        });
      } else {
        test('without a ttl nothing expires, and a per-call ttl turns expiry on', () => {
          const { cache, clock } = setup();
          cache.set(1, v());
          clock.advance(1e12);
          assert.ok(cache.has(1));
          assert.equal(cache.ttlOf(1), Infinity);
          cache.set(2, v(), { ttl: 10 });
          clock.advance(10);
          assert.equal(cache.has(2), false);
          assert.ok(cache.has(1));
        });
      }
    });
  }
}

describe('expireAfterAccess', () => {
  test('reads keep an entry alive; peeks do not', () => {
    const clock = new FakeClock();
    const cache = new Cache<string, number>({ maxEntries: 10, expireAfterAccess: 100, clock: clock.fn });
    cache.set('a', 1);
    cache.set('b', 2);
    for (let i = 0; i < 5; i++) {
      clock.advance(60);
      assert.equal(cache.get('a'), 1);
      cache.peek('b');
    }
    assert.equal(cache.has('b'), false);
    assert.equal(cache.has('a'), true);
    check(cache);
  });

  test('the write ttl still caps an entry that is read often', () => {
    const clock = new FakeClock();
    const cache = new Cache<string, number>({ maxEntries: 10, ttl: 250, expireAfterAccess: 100, clock: clock.fn });
    cache.set('a', 1);
    for (let i = 0; i < 4; i++) {
      clock.advance(60);
      assert.equal(cache.get('a'), 1);
    }
    clock.advance(10); // 250 ms after the write
    assert.equal(cache.get('a'), undefined);
    check(cache);
  });
});

describe('keys of any type', () => {
  for (const policy of POLICY_NAMES) {
    test(`${policy}: strings, numbers, objects, symbols, NaN and undefined are distinct keys`, () => {
      const cache = new Cache<unknown, number>({ maxEntries: 100, policy });
      const obj = {};
      const sym = Symbol('s');
      const keys: unknown[] = ['1', 1, 1.5, -0.25, obj, {}, sym, NaN, undefined, null, true, 10n, () => 1];
      keys.forEach((k, i) => cache.set(k, i));
      keys.forEach((k, i) => assert.equal(cache.get(k), i, `key ${String(k)}`));
      assert.equal(cache.size, keys.length);
      check(cache);
    });
  }
});
