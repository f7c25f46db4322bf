import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cache, sizeOf } from 'cortado';
import { validate, POLICY_NAMES } from 'cortado/internal';

const isError = (cls: typeof TypeError | typeof RangeError, word: RegExp) => (e: unknown) => e instanceof cls && word.test(e.message);

test('maxBytes: validated, naming the option', () => {
  for (const bad of [0, -1, NaN, Infinity, -Infinity]) {
    assert.throws(() => new Cache({ maxBytes: bad }), isError(RangeError, /maxBytes/), String(bad));
  }
  for (const bad of ['1000', null, {}]) {
    assert.throws(() => new Cache({ maxBytes: bad as unknown as number }), isError(RangeError, /maxBytes/));
  }
  assert.throws(() => new Cache({ maxBytes: 1000, maxWeight: 1000 }), isError(TypeError, /maxBytes.*maxWeight/));
  assert.throws(() => new Cache({ maxBytes: 1000, weigher: 5 as unknown as () => number }), isError(TypeError, /weigher/));
});

test('maxBytes: is maxWeight counted in bytes, with sizeOf(key) + sizeOf(value) + overhead per entry', () => {
  const c = new Cache<string, string>({ maxBytes: 1e6 });
  assert.equal(c.maxWeight, 1e6);
  c.set('key-1', 'x'.repeat(100));
  const overhead = c.weight - sizeOf('key-1') - sizeOf('x'.repeat(100));
  assert.ok(overhead > 0, `overhead ${overhead}`);
  c.set('key-2', 'y'.repeat(1000));
  assert.equal(c.weight, 2 * overhead + sizeOf('key-1') + sizeOf('x'.repeat(100)) + sizeOf('key-2') + sizeOf('y'.repeat(1000)));
  // a replaced value is re-weighed
  c.set('key-2', 'short value!');
  assert.equal(c.weight, 2 * overhead + sizeOf('key-1') + sizeOf('x'.repeat(100)) + sizeOf('key-2') + sizeOf('short value!'));
  validate(c as Cache<unknown, unknown>);
});

test('maxBytes: a custom weigher gives the value bytes, cortado adds its overhead', () => {
  const plain = new Cache<number, number>({ maxBytes: 1e6 });
  plain.set(1, 1);
  const overhead = plain.weight; // small integer key and value: nothing but overhead
  const c = new Cache<number, { n: number }>({ maxBytes: 1e6, weigher: (v) => v.n });
  c.set(1, { n: 500 });
  assert.equal(c.weight, 500 + overhead);
  assert.throws(() => c.set(2, { n: -5 }), isError(RangeError, /weigher/));
  assert.equal(c.has(2), false);
});

test('maxBytes: a value larger than the bound is refused', () => {
  const c = new Cache<string, Buffer>({ maxBytes: 10_000 });
  assert.equal(c.set('big', Buffer.alloc(20_000)), false);
  assert.equal(c.size, 0);
  assert.equal(c.set('small', Buffer.alloc(100)), true);
});

for (const policy of POLICY_NAMES) {
  test(`maxBytes (${policy}): the weight bound holds under random mixed values`, () => {
    const value = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.integer({ min: 1, max: 5000 }).map((n) => Buffer.alloc(n)),
      fc.array(fc.double(), { maxLength: 20 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 40 }), { maxKeys: 6 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), value), { minLength: 1, maxLength: 200 }), (ops) => {
        const maxBytes = 20_000;
        const c = new Cache<string, unknown>({ maxBytes, policy: policy as 'lru', seed: 1 });
        for (const [k, v] of ops) {
          c.set(`k${k}`, v);
          assert.ok(c.weight <= maxBytes, `weight ${c.weight} > ${maxBytes}`);
        }
        let sum = 0;
        for (const [k, v] of c) sum += sizeOf(k) + sizeOf(v);
        assert.ok(sum <= c.weight, 'weight covers at least the sizeOf of keys and values');
        validate(c as Cache<unknown, unknown>);
      }),
      { numRuns: 60 },
    );
  });
}
