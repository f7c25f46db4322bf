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
        const c = new Cache<string, unknown>({ maxBytes, policy, seed: 1 });
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

/** Bytes of the distinct backing stores that the cache's values keep alive. */
function retainedBackings(c: Cache<unknown, unknown>): number {
  const buffers = new Set<ArrayBufferLike>();
  for (const [, v] of c) if (ArrayBuffer.isView(v)) buffers.add(v.buffer);
  let sum = 0;
  for (const b of buffers) sum += b.byteLength;
  return sum;
}

for (const policy of POLICY_NAMES) {
  test(`maxBytes (${policy}): small views of large buffers cannot hold more than the bound (issue #10, item 3)`, () => {
    const maxBytes = 4 << 20;
    const makers: [string, (i: number) => ArrayBufferView][] = [
      ['Buffer.subarray', () => Buffer.alloc(512 << 10).subarray(0, 16)],
      ['Uint8Array window', () => new Uint8Array(new ArrayBuffer(512 << 10), 8, 16)],
      ['DataView window', () => new DataView(new ArrayBuffer(300 << 10), 0, 16)],
    ];
    for (const [name, make] of makers) {
      const c = new Cache<unknown, unknown>({ maxBytes, policy, seed: 1 });
      for (let i = 0; i < 40; i++) c.set(i, make(i));
      assert.ok(c.size > 0, `${name}: something is cached`);
      const held = retainedBackings(c);
      assert.ok(held <= maxBytes, `${name}: values keep ${held} bytes of buffers alive in a cache bounded at ${maxBytes}`);
      validate(c);
    }
    // A window larger than the bound is refused, as any value larger than the bound is.
    const c = new Cache<string, Uint8Array>({ maxBytes, policy });
    assert.equal(c.set('huge', Buffer.alloc(8 << 20).subarray(0, 16)), false);
    assert.equal(c.size, 0);
  });
}

test('maxBytes: a value with a throwing getter, a Proxy or a huge sparse array is weighed without running user code (issue #10, item 7)', { timeout: 30_000 }, () => {
  const c = new Cache<string, unknown>({ maxBytes: 1 << 20 });
  const trap = () => {
    throw new Error('user code ran');
  };
  assert.equal(c.set('getter', { id: 1, get boom(): number { return trap(); } }), true);
  assert.equal(c.set('proxy', new Proxy({}, { get: trap, ownKeys: trap, getPrototypeOf: trap, getOwnPropertyDescriptor: trap })), true);
  const sparse: number[] = [];
  sparse[4e9] = 1;
  assert.equal(c.set('sparse', sparse), true);
  assert.equal(c.size, 3);
  validate(c as Cache<unknown, unknown>);
});
