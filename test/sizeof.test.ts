import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sizeOf } from 'cortado';

// The model's known sizes (64-bit Node 20, see src/sizeof.ts and docs/memory.md).
test('sizeOf: immediates and shared singletons are free', () => {
  for (const v of [undefined, null, true, false, 0, 1, -1, 2 ** 31 - 1, -(2 ** 31), Symbol('s'), () => 1]) {
    assert.equal(sizeOf(v), 0, String(v));
  }
});

test('sizeOf: numbers that are not small integers are boxed doubles (16 bytes)', () => {
  for (const v of [0.5, -0, NaN, Infinity, 2 ** 31, -(2 ** 31) - 1, 1e300]) assert.equal(sizeOf(v), 16, String(v));
});

test('sizeOf: strings are a 16-byte header plus 1 or 2 bytes per character, rounded to 8', () => {
  assert.equal(sizeOf(''), 0);
  assert.equal(sizeOf('a'), 0); // V8's single-character table
  assert.equal(sizeOf('ab'), 24);
  assert.equal(sizeOf('12345678'), 24);
  assert.equal(sizeOf('123456789'), 32);
  assert.equal(sizeOf('x'.repeat(100)), 120);
  assert.equal(sizeOf('é'.repeat(10)), 32); // Latin-1 is still one byte per character
  assert.equal(sizeOf('ж'.repeat(10)), 40); // two bytes per character
  assert.equal(sizeOf('ж'), 24);
});

test('sizeOf: bigints are 16 bytes plus 8 per 64-bit digit', () => {
  assert.equal(sizeOf(0n), 16);
  assert.equal(sizeOf(1n), 24);
  assert.equal(sizeOf(-(2n ** 64n) + 1n), 24);
  assert.equal(sizeOf(2n ** 64n), 32);
});

test('sizeOf: Buffers and typed arrays count their view, buffer and bytes', () => {
  assert.equal(sizeOf(Buffer.alloc(0)), 184);
  assert.equal(sizeOf(Buffer.alloc(1)), 184 + 16 + 8);
  assert.equal(sizeOf(Buffer.alloc(64)), 184 + 16 + 64);
  assert.equal(sizeOf(Buffer.alloc(65)), 184 + 65);
  assert.equal(sizeOf(Buffer.alloc(10_000)), 184 + 10_000);
  assert.equal(sizeOf(new Float64Array(100)), 184 + 800);
  assert.equal(sizeOf(new ArrayBuffer(256)), 88 + 256);
  // a view into a larger buffer keeps all of it alive, and is charged all of it
  const big = Buffer.alloc(4096);
  assert.equal(sizeOf(big.subarray(100, 200)), 96 + 88 + 4096);
});

test('sizeOf: a slice of Node\'s Buffer pool counts its share of the 8 KiB slab', () => {
  assert.equal(Buffer.poolSize, 8192);
  const from = (n: number) => {
    const b = Buffer.from('x'.repeat(n));
    assert.equal(b.buffer.byteLength, 8192, 'pooled');
    return sizeOf(b);
  };
  // Buffer.from(string) needs room for 4 bytes per character before it picks a slab:
  // 5 slices of 1,000 bytes fit in one (8,192 / 5 = 1,638 each), 75 of 100 (step 104).
  assert.equal(from(1000), 96 + 1638);
  assert.equal(from(100), 96 + 109);
  // From half the pool's worth of reservation on, Node reserves the exact length: 4 of 2,000.
  assert.equal(from(2000), 96 + 2048);
  // Not a pool slice: a subarray of a larger buffer of another size is charged that buffer.
  assert.equal(sizeOf(Buffer.alloc(16384).subarray(0, 1000)), 96 + 88 + 16384);
});

test('sizeOf: a view is charged the whole backing store it keeps alive (issue #10, item 3)', () => {
  const MiB = 1 << 20;
  // The values of the issue: small windows of large buffers.
  assert.ok(sizeOf(Buffer.alloc(MiB).subarray(0, 16)) >= MiB);
  const ab = new ArrayBuffer(MiB);
  assert.equal(sizeOf(new Uint8Array(ab, 8, 16)), 96 + 88 + MiB);
  assert.equal(sizeOf(new Float64Array(ab, 64, 2)), 96 + 88 + MiB);
  assert.equal(sizeOf(new DataView(ab, 0, 16)), 96 + 88 + MiB);
  assert.equal(sizeOf(Buffer.from(ab, 100, 10)), 96 + 88 + MiB);
  assert.equal(sizeOf(new Uint8Array(new SharedArrayBuffer(4096), 0, 8)), 96 + 88 + 4096);
  // ... but once per value: two views of one buffer, or a view and its buffer, share the charge.
  const a = new Uint8Array(ab, 0, 16);
  const b = new DataView(ab, 16, 16);
  assert.equal(sizeOf([a, b]), 32 + 16 + 16 + (96 + 88 + MiB) + 96);
  assert.equal(sizeOf({ buf: ab, view: a }), 24 + 16 + (88 + MiB) + 96);
  // A small typed array that owns its bytes is unchanged by the rule (and by its buffer being read).
  const own = new Uint8Array(16);
  assert.equal(sizeOf(own), 184 + 16 + 16);
  void own.buffer;
  assert.equal(sizeOf(own), 184 + 16 + 16);
});

test('sizeOf: sparse arrays are counted by the elements they hold, in time bounded by them (issue #10, item 7)', { timeout: 30_000 }, () => {
  const a: number[] = [];
  a[1e8] = 1;
  // one element in a dictionary of capacity 4: 32 + 64 + 4 x 24
  assert.equal(sizeOf(a), 192);
  const far: unknown[] = [];
  far[4e9] = 'x'.repeat(100); // walking this by length would not end
  assert.equal(sizeOf(far), 192 + 120);
  // Elements before and after the gap all count.
  const mixed: unknown[] = Array.from({ length: 3000 }, (_, i) => `string number ${i}`);
  mixed[1e9] = 'y'.repeat(200);
  const prefix = mixed.slice(0, 3000).reduce((s: number, x) => s + sizeOf(x), 0);
  assert.equal(sizeOf(mixed), 32 + 64 + 24 * 8192 + prefix + sizeOf('y'.repeat(200)));
  // Arrays with a few holes are still fast arrays, counted by length.
  // eslint-disable-next-line no-sparse-arrays
  assert.equal(sizeOf([1, , 3]), 32 + 16 + 24);
  const holey: unknown[] = new Array(500);
  holey[499] = 'ab';
  assert.equal(sizeOf(holey), 32 + 16 + 8 * 500 + 24);
});

test('sizeOf: calls no getter, no Proxy trap and no user method (issue #10, item 7)', () => {
  let calls = 0;
  const boom = () => {
    calls++;
    throw new Error('user code ran');
  };
  const withGetter = { id: 7, get total(): number { return boom(); } };
  assert.equal(sizeOf(withGetter), 24 + 16);
  const defined = { name: 'a name of some length' };
  Object.defineProperty(defined, 'lazy', { get: boom, enumerable: true });
  assert.equal(sizeOf(defined), 24 + 16 + sizeOf('a name of some length'));
  const arr: unknown[] = ['ab', 'cd', 'ef'];
  Object.defineProperty(arr, 1, { get: boom, enumerable: true });
  assert.equal(sizeOf(arr), 32 + 16 + 24 + 24 + 24);
  // Proxies: recognised without asking them anything, and not entered.
  const handler = new Proxy({}, { get: () => boom });
  const proxied = new Proxy({ payload: 'x'.repeat(1000) }, handler);
  assert.equal(sizeOf(proxied), 32);
  assert.equal(sizeOf({ p: proxied }), 24 + 8 + 32);
  assert.equal(sizeOf(new Map([[1, proxied]])), sizeOf(new Map([[1, 1]])) + 32);
  assert.equal(sizeOf(new Proxy([1, 2, 3], handler)), 32);
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assert.equal(sizeOf([proxy]), 32 + 16 + 8 + 32);
  // An object whose prototype is a Proxy: only own properties are read.
  const child = Object.create(new Proxy({}, handler), { a: { value: 'ab', enumerable: true } }) as Record<string, unknown>;
  assert.equal(sizeOf(child), 24 + 8 + 24);
  // Subclasses that override what a naive walk would call.
  class SneakyMap extends Map<unknown, unknown> {
    override get size(): number { return boom(); }
    override [Symbol.iterator](): never { return boom(); }
    override entries(): never { return boom(); }
    override forEach(): void { boom(); }
  }
  const sm = new SneakyMap([['k', 'value!']]);
  assert.equal(sizeOf(sm), sizeOf(new Map([['k', 'value!']])));
  class SneakySet extends Set<unknown> {
    override get size(): number { return boom(); }
    override [Symbol.iterator](): never { return boom(); }
    override values(): never { return boom(); }
  }
  assert.equal(sizeOf(new SneakySet(['abc'])), sizeOf(new Set(['abc'])));
  class SneakyBytes extends Uint8Array {
    override get buffer(): ArrayBuffer { return boom(); }
    override get byteLength(): number { return boom(); }
  }
  assert.equal(sizeOf(new SneakyBytes(100)), 184 + 100);
  assert.equal(calls, 0);
});

test('sizeOf: arrays, objects, Maps and Sets follow the V8 layouts', () => {
  assert.equal(sizeOf([]), 32);
  assert.equal(sizeOf([1, 2, 3]), 32 + 16 + 24);
  assert.equal(sizeOf([1.5, 2.5, 3.5]), 32 + 16 + 24); // unboxed doubles
  assert.equal(sizeOf(['ab', 1.5]), 32 + 16 + 16 + 24 + 16);
  assert.equal(sizeOf({ a: 1 }), 32);
  assert.equal(sizeOf({ a: 1, b: 2, c: 3, d: 4 }), 56);
  assert.equal(sizeOf({ a: 'ab' }), 32 + 24);
  assert.equal(sizeOf(new Map()), 184);
  assert.equal(sizeOf(new Map([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]])), 296);
  assert.equal(sizeOf(new Set()), 152);
  assert.equal(sizeOf(new Date(0)), 96);
});

test('sizeOf: cycles and shared references are counted once', () => {
  const a: Record<string, unknown> = { name: 'a long enough name' };
  a.self = a;
  const alone = sizeOf({ name: 'a long enough name', self: null });
  assert.equal(sizeOf(a), alone);
  const m = new Map<unknown, unknown>();
  m.set('m', m);
  assert.ok(Number.isFinite(sizeOf(m)));
  const shared = { payload: 'x'.repeat(1000) };
  assert.equal(sizeOf([shared, shared]), sizeOf([shared, 0]));
});

test('sizeOf: the depth cap stops the walk', () => {
  let deep: unknown = 'leaf string of some length';
  for (let i = 0; i < 100; i++) deep = { next: deep };
  assert.equal(sizeOf(deep), 32 * 32); // the default cap: 32 levels of 32 bytes, the rest unseen
  assert.equal(sizeOf(deep, 200), 100 * 32 + 48);
  assert.equal(sizeOf(deep, 0), 32);
  assert.throws(() => sizeOf(deep, -1), (e: unknown) => e instanceof RangeError && /maxDepth/.test(e.message));
});

// Random JSON-like values for the property tests.
const { tree } = fc.letrec((t) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(t('tree'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 6 }), t('tree'), { maxKeys: 5 }),
  ),
}));

test('sizeOf: monotonic, adding a property or an element never decreases the estimate', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string({ maxLength: 6 }), tree, { maxKeys: 8 }), fc.string({ maxLength: 6 }), tree, (obj, key, extra) => {
      fc.pre(!(key in obj));
      const before = sizeOf(obj);
      (obj as Record<string, unknown>)[key] = extra;
      return sizeOf(obj) >= before;
    }),
  );
  fc.assert(
    fc.property(fc.array(tree, { maxLength: 8 }), tree, (arr, extra) => {
      const before = sizeOf(arr);
      arr.push(extra);
      return sizeOf(arr) >= before;
    }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(tree, tree), { maxLength: 8 }), tree, tree, (pairs, k, v) => {
      const m = new Map(pairs);
      fc.pre(!m.has(k));
      const before = sizeOf(m);
      m.set(k, v);
      return sizeOf(m) >= before;
    }),
  );
});

test('sizeOf: cycle-safe on random graphs of objects', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(9), fc.nat(9)), { maxLength: 30 }), (edges) => {
      const nodes = Array.from({ length: 10 }, (_, i) => ({ id: i, out: [] as unknown[] }));
      for (const [a, b] of edges) nodes[a].out.push(nodes[b]);
      const s = sizeOf(nodes[0]);
      return Number.isFinite(s) && s > 0;
    }),
  );
});
