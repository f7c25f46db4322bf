/** Bad input: clear errors that name the option, and nothing half-changed. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache } from 'cortado';
import { check } from './helpers.js';

const make = (o: object) => () => new Cache(o as never);

describe('constructor options', () => {
  const cases: [string, object, RegExp, ErrorConstructor][] = [
    ['no bound', {}, /maxEntries.*maxWeight/, TypeError],
    ['negative maxEntries', { maxEntries: -1 }, /maxEntries/, RangeError],
    ['zero maxEntries', { maxEntries: 0 }, /maxEntries/, RangeError],
    ['fractional maxEntries', { maxEntries: 1.5 }, /maxEntries/, RangeError],
    ['NaN maxEntries', { maxEntries: NaN }, /maxEntries/, RangeError],
    ['string maxEntries', { maxEntries: '10' }, /maxEntries/, RangeError],
    ['negative maxWeight', { maxWeight: -5 }, /maxWeight/, RangeError],
    ['NaN maxWeight', { maxWeight: NaN }, /maxWeight/, RangeError],
    ['infinite maxWeight', { maxWeight: Infinity }, /maxWeight/, RangeError],
    ['unknown policy', { maxEntries: 1, policy: 'mru' }, /policy/, TypeError],
    ['weigher not a function', { maxEntries: 1, weigher: 3 }, /weigher/, TypeError],
    ['onRemove not a function', { maxEntries: 1, onRemove: 'x' }, /onRemove/, TypeError],
    ['clock not a function', { maxEntries: 1, clock: 5 }, /clock/, TypeError],
    ['shouldUpdate not a function', { maxEntries: 1, shouldUpdate: {} }, /shouldUpdate/, TypeError],
    ['negative ttl', { maxEntries: 1, ttl: -1 }, /ttl/, RangeError],
    ['NaN ttl', { maxEntries: 1, ttl: NaN }, /ttl/, RangeError],
    ['negative expireAfterAccess', { maxEntries: 1, expireAfterAccess: -5 }, /expireAfterAccess/, RangeError],
    ['fractional seed', { maxEntries: 1, seed: 0.5 }, /seed/, TypeError],
  ];
  for (const [name, options, message, type] of cases) {
    test(`${name} is refused with a ${type.name} naming the option`, () => {
      assert.throws(make(options), (e: Error) => e instanceof type && message.test(e.message));
    });
  }
  test('options must be an object', () => {
    assert.throws(make(undefined as never), TypeError);
    assert.throws(make(null as never), TypeError);
  });
});

describe('per-call arguments', () => {
  test('a bad weight or ttl throws before anything changes', () => {
    const log: string[] = [];
    const cache = new Cache<string, number>({ maxWeight: 10, weigher: () => 1, onRemove: (k, _v, c) => log.push(`${k}:${c}`) });
    cache.set('a', 1);
    for (const bad of [-1, NaN, Infinity, '2']) {
      assert.throws(() => cache.set('a', 2, { weight: bad as number }), (e: Error) => e instanceof RangeError && /weight/.test(e.message));
      assert.throws(() => cache.set('b', 2, { weight: bad as number }), RangeError);
    }
    for (const bad of [-1, NaN]) {
      assert.throws(() => cache.set('a', 2, { ttl: bad }), (e: Error) => e instanceof RangeError && /ttl/.test(e.message));
    }
    assert.throws(() => cache.set('a', 2, 'x' as never), TypeError);
    assert.equal(cache.peek('a'), 1);
    assert.equal(cache.has('b'), false);
    assert.equal(cache.size, 1);
    assert.equal(cache.weight, 1);
    assert.deepEqual(log, []);
    check(cache);
  });

  test('a weigher that returns garbage is refused, naming the weigher, and nothing changes', () => {
    let w: unknown = 1;
    const cache = new Cache<string, number>({ maxWeight: 10, weigher: () => w as number });
    cache.set('a', 1);
    for (const bad of [NaN, -3, Infinity, undefined, '4']) {
      w = bad;
      assert.throws(() => cache.set('a', 2), (e: Error) => e instanceof RangeError && /weigher/.test(e.message));
      assert.throws(() => cache.set('b', 2), RangeError);
    }
    assert.equal(cache.peek('a'), 1);
    assert.equal(cache.size, 1);
    check(cache);
  });

  test('a weight on a cache that keeps no weights is an error, not silently ignored', () => {
    const cache = new Cache<string, number>({ maxEntries: 10 });
    assert.throws(() => cache.set('a', 1, { weight: 3 }), (e: Error) => e instanceof TypeError && /weight/.test(e.message));
    assert.equal(cache.size, 0);
  });

  test('a maxWeight cache needs a weight from somewhere', () => {
    const cache = new Cache<string, number>({ maxWeight: 10 });
    assert.throws(() => cache.set('a', 1), (e: Error) => e instanceof TypeError && /weigher/.test(e.message));
    assert.equal(cache.set('a', 1, { weight: 2 }), true);
    assert.equal(cache.weight, 2);
  });

  test('resize validates its bounds and changes nothing when they are bad', () => {
    const cache = new Cache<number, number>({ maxEntries: 10 });
    for (let i = 0; i < 10; i++) cache.set(i, i);
    assert.throws(() => cache.resize({ maxEntries: 0 }), (e: Error) => e instanceof RangeError && /maxEntries/.test(e.message));
    assert.throws(() => cache.resize({ maxEntries: 2.5 }), RangeError);
    assert.throws(() => cache.resize({ maxWeight: 5 }), (e: Error) => e instanceof TypeError && /maxWeight/.test(e.message));
    assert.throws(() => cache.resize(null as never), TypeError);
    assert.equal(cache.size, 10);
    assert.equal(cache.maxEntries, 10);
    check(cache);
  });

  test('forEach needs a function', () => {
    const cache = new Cache<number, number>({ maxEntries: 10 });
    assert.throws(() => cache.forEach(1 as never), TypeError);
  });
});

describe('unknown options', () => {
  test('are refused, naming the option', () => {
    assert.throws(() => new Cache({ maxEntries: 1, maxEntires: 2 } as never), { name: 'TypeError', message: /unknown Cache option "maxEntires"/ });
  });
  for (const [name, hint] of [
    ['max', /maxEntries/],
    ['dispose', /onRemove\(key, value, cause\).*key first/],
    ['fetchMethod', /loader/],
    ['maxSize', /maxWeight/],
    ['sizeCalculation', /weigher/],
    ['allowStale', /staleWhileRevalidate/],
    ['updateAgeOnGet', /expireAfterAccess/],
    ['ttlAutopurge', /purgeExpired/],
  ] as const) {
    test(`lru-cache's ${name} gets a hint`, () => {
      assert.throws(() => new Cache({ maxEntries: 1, [name]: 1 } as never), { name: 'TypeError', message: hint });
    });
  }
  test('nothing is half-built: the error comes before any other check', () => {
    assert.throws(() => new Cache({ max: 10 } as never), /lru-cache's max/);
  });
});
