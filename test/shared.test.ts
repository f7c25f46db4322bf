/**
 * SharedCache on one thread: the same decisions as the in-process Cache (a trace and random
 * sequences), a model-based property test (values, deletes, replaces, TTL, pins, handles),
 * handles, TTL with an injected clock, and bad input. Every test ends with the structural
 * validator. Worker tests are in shared-workers.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Cache } from 'cortado';
import { SharedCache, ReleasedHandleError, type ReadHandle, type SharedPolicyName } from 'cortado/shared';
import { inspectTrace, readTrace } from 'cortado/sim';

/** The shared traces next to the repository (as the simulator's parity test finds them); the trace tests skip without them. */
const TRACE = [fileURLToPath(new URL('../../../shared/traces/cpp.trc.bin.gz', import.meta.url)), '/work/shared/traces/cpp.trc.bin.gz'].find((p) => existsSync(p));
const noTrace = TRACE === undefined ? 'no shared traces (../shared/traces); trace parity not checked' : false;

const POLICIES: SharedPolicyName[] = ['sieve', 's3fifo'];

const utf8 = new TextDecoder();

class FakeClock {
  now = 1_000;
  readonly fn = (): number => this.now;
}

function ok(c: SharedCache<unknown>): void {
  c._validate();
}

describe('SharedCache decisions match Cache on one thread', () => {
  test('hit ratio on the cpp trace, entry-bounded, both policies', { skip: noTrace }, async () => {
    const info = await inspectTrace(TRACE!, null);
    const keys: string[] = [];
    for await (const b of readTrace(info, false)) for (let i = 0; i < b.count; i++) keys.push(String(b.keys[i]));
    assert.ok(keys.length > 5000, `trace has ${keys.length} requests`);
    const v = new Uint8Array(4);
    for (const policy of POLICIES) {
      for (const n of [100, 400]) {
        const cache = new Cache<string, Uint8Array>({ maxEntries: n, policy });
        const shared = new SharedCache({ maxBytes: 1 << 21, maxEntries: n, policy });
        let h1 = 0;
        let h2 = 0;
        for (const k of keys) {
          if (cache.get(k) !== undefined) h1++;
          else cache.set(k, v);
          if (shared.get(k) !== undefined) h2++;
          else shared.set(k, v);
        }
        const r1 = (100 * h1) / keys.length;
        const r2 = (100 * h2) / keys.length;
        assert.ok(Math.abs(r1 - r2) <= 0.05, `${policy} ${n}: Cache ${r1.toFixed(3)}% vs SharedCache ${r2.toFixed(3)}%`);
        assert.ok(r2 > 20, `${policy} ${n}: hit ratio ${r2}`);
        assert.equal(shared.size, n);
        ok(shared);
      }
    }
  });

  for (const policy of POLICIES) {
    test(`${policy}: random get/set/delete sequences give the same hits as Cache`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 12 }),
          fc.array(fc.record({ k: fc.integer({ min: 0, max: 30 }), op: fc.integer({ min: 0, max: 9 }) }), { minLength: 1, maxLength: 300 }),
          (n, ops) => {
            const cache = new Cache<string, string>({ maxEntries: n, policy });
            const shared = new SharedCache<string>({ maxBytes: 1 << 17, maxEntries: n, policy, codec: 'utf8' });
            for (const { k, op } of ops) {
              const key = `k${k}`;
              if (op === 0) {
                assert.equal(shared.delete(key), cache.delete(key));
              } else if (op === 1) {
                cache.set(key, `u${k}`);
                shared.set(key, `u${k}`);
              } else {
                const a = cache.get(key);
                const b = shared.get(key);
                assert.equal(b, a, `get ${key}`);
                if (a === undefined) {
                  cache.set(key, `v${k}`);
                  shared.set(key, `v${k}`);
                }
              }
              assert.equal(shared.size, cache.size);
            }
            ok(shared);
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});

type MOp =
  | { t: 'set'; k: number; ttl: number | undefined }
  | { t: 'get'; k: number }
  | { t: 'peek'; k: number }
  | { t: 'has'; k: number }
  | { t: 'delete'; k: number }
  | { t: 'advance'; ms: number }
  | { t: 'clear' }
  | { t: 'acquire'; k: number }
  | { t: 'release'; i: number }
  | { t: 'allocate'; k: number; len: number; insert: boolean };

const KEYS = 12;
const mopArb: fc.Arbitrary<MOp> = (() => {
  const k = fc.integer({ min: 0, max: KEYS - 1 });
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ t: fc.constant('set' as const), k, ttl: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 500 })) }) },
    { weight: 8, arbitrary: fc.record({ t: fc.constant('get' as const), k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('peek' as const), k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('has' as const), k }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('delete' as const), k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('clear' as const) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('acquire' as const), k }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('release' as const), i: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('allocate' as const), k, len: fc.integer({ min: 0, max: 3000 }), insert: fc.boolean() }) },
  );
})();

interface MEntry {
  value: string;
  deadline: number; // Infinity for none
}

/**
 * Run ops against the cache and a model. The model cannot know the policy's victims: an
 * entry the model holds may vanish only on an operation that inserts a new entry or needs
 * memory (set / allocate), and never while a handle pins that very value.
 */
function runModel(policy: SharedPolicyName, maxEntries: number, maxBytes: number, ops: MOp[]): void {
  const clock = new FakeClock();
  const c = new SharedCache<string>({ maxBytes, maxEntries, policy, codec: 'utf8', clock: clock.fn, maxThreads: 2, maxHandles: 32 });
  const model = new Map<string, MEntry>();
  const held: { h: ReadHandle; key: string; value: string }[] = [];
  let serial = 0;
  const live = (k: string): MEntry | undefined => {
    const e = model.get(k);
    return e !== undefined && e.deadline > clock.now ? e : undefined;
  };
  const pinnedValue = (k: string, v: string): boolean => held.some((x) => x.key === k && x.value === v);
  for (const op of ops) {
    let mayEvict = false;
    switch (op.t) {
      case 'set': {
        const key = `k${op.k}`;
        const value = `${key}=${serial++}${'x'.repeat(serial % 7 === 0 ? 900 : 3)}`;
        const stored = op.ttl === undefined ? c.set(key, value) : c.set(key, value, { ttl: op.ttl });
        mayEvict = true;
        if (stored) model.set(key, { value, deadline: op.ttl === undefined ? Infinity : clock.now + op.ttl });
        else assert.ok(held.length > 0, 'set refused with no handle held');
        break;
      }
      case 'get':
      case 'peek': {
        const key = `k${op.k}`;
        const got = op.t === 'get' ? c.get(key) : c.peek(key);
        const e = live(key);
        if (got !== undefined) assert.equal(got, e?.value, `${op.t} ${key} returned a value the model does not hold`);
        else if (e !== undefined) assert.fail(`${op.t} ${key}: model holds ${e.value}, cache nothing`);
        break;
      }
      case 'has':
        assert.equal(c.has(`k${op.k}`), live(`k${op.k}`) !== undefined, `has k${op.k}`);
        break;
      case 'delete': {
        const key = `k${op.k}`;
        assert.equal(c.delete(key), live(key) !== undefined, `delete ${key}`);
        model.delete(key);
        break;
      }
      case 'advance':
        clock.now += op.ms;
        break;
      case 'clear':
        c.clear();
        model.clear();
        assert.equal(c.size, 0);
        break;
      case 'acquire': {
        const key = `k${op.k}`;
        const e = live(key);
        const h = c.acquire(key);
        assert.equal(h !== undefined, e !== undefined, `acquire ${key}`);
        if (h !== undefined) {
          assert.equal(utf8.decode(h.bytes), e!.value);
          held.push({ h, key, value: e!.value });
        }
        break;
      }
      case 'release': {
        if (held.length === 0) break;
        const [x] = held.splice(op.i % held.length, 1);
        x!.h.release();
        assert.throws(() => x!.h.bytes, ReleasedHandleError);
        break;
      }
      case 'allocate': {
        const key = `k${op.k}`;
        const w = c.allocate(key, op.len);
        mayEvict = true;
        if (w === undefined) {
          assert.ok(held.length > 0, 'allocate refused with no handle held');
          break;
        }
        const value = `${key}#${serial++}`.padEnd(op.len, '.').slice(0, op.len);
        w.bytes.set(new TextEncoder().encode(value));
        if (op.insert) {
          if (w.insert()) model.set(key, { value, deadline: Infinity });
          else assert.ok(held.length > 0, 'insert refused with no handle held');
        } else {
          w.release();
        }
        assert.throws(() => w.bytes, ReleasedHandleError);
        break;
      }
    }
    // Held handles keep their bytes, whatever happened to their keys.
    for (const x of held) assert.equal(utf8.decode(x.h.bytes), x.value, `held ${x.key}`);
    // Learn evictions; check nothing came back and nothing pinned was evicted.
    for (let k = 0; k < KEYS; k++) {
      const key = `k${k}`;
      const got = c.peek(key);
      const e = live(key);
      if (got !== undefined) assert.equal(got, e?.value, `peek ${key} after ${op.t}: a value the model does not hold`);
      else if (e !== undefined) {
        assert.ok(mayEvict, `${key} vanished on ${op.t}`);
        assert.ok(!pinnedValue(key, e.value), `${key} evicted while pinned`);
        model.delete(key);
      }
    }
    assert.ok(c.size <= maxEntries, `size ${c.size} over ${maxEntries}`);
    ok(c);
  }
  for (const x of held) x.h.release();
  const v = c._validate();
  assert.equal(v.pinned, 0, 'pins left after every handle was released');
  assert.equal(v.orphans, 0, 'unreachable items left allocated');
}

describe('SharedCache against a model (fast-check)', () => {
  for (const policy of POLICIES) {
    test(`${policy}: entry-bounded`, () => {
      fc.assert(fc.property(fc.array(mopArb, { minLength: 1, maxLength: 120 }), (ops) => runModel(policy, 6, 1 << 17, ops)), { numRuns: 120 });
    });
    test(`${policy}: byte-bounded (small heap, large values)`, () => {
      fc.assert(fc.property(fc.array(mopArb, { minLength: 1, maxLength: 120 }), (ops) => runModel(policy, 64, 65536, ops)), { numRuns: 120 });
    });
  }
});

describe('SharedCache handles', () => {
  test('a pinned entry is not evicted; delete hides it and its memory stays until release', () => {
    const c = new SharedCache<string>({ maxBytes: 1 << 17, maxEntries: 4, policy: 'sieve', codec: 'utf8' });
    c.set('a', 'alpha');
    const h = c.acquire('a')!;
    for (let i = 0; i < 50; i++) c.set(`x${i}`, `v${i}`);
    assert.equal(c.peek('a'), 'alpha', 'pinned entry evicted');
    assert.equal(c.delete('a'), true);
    assert.equal(c.get('a'), undefined);
    for (let i = 0; i < 50; i++) c.set(`y${i}`, `w${i}`.repeat(20));
    assert.equal(utf8.decode(h.bytes), 'alpha');
    assert.equal(c._validate().pinned, 1);
    h.release();
    h.release(); // idempotent
    assert.throws(() => h.bytes, (e: Error) => e instanceof ReleasedHandleError && (e as ReleasedHandleError).code === 'ERR_CORTADO_HANDLE_RELEASED');
    const v = c._validate();
    assert.equal(v.pinned, 0);
    assert.equal(v.orphans, 0);
  });

  test('set refuses (false, counted) when every entry is pinned', () => {
    const c = new SharedCache<string>({ maxBytes: 1 << 17, maxEntries: 2, policy: 's3fifo', codec: 'utf8' });
    c.set('a', '1');
    c.set('b', '2');
    const ha = c.acquire('a')!;
    const hb = c.acquire('b')!;
    assert.equal(c.set('c', '3'), false);
    assert.equal(c.allocate('c', 10), undefined);
    assert.equal(c.stats().rejections, 2);
    assert.equal(c.get('c'), undefined);
    ha.release();
    assert.equal(c.set('c', '3'), true);
    assert.equal(c.get('a'), undefined);
    hb.release();
    ok(c);
  });

  test('allocate/insert publishes; release without insert discards; replace keeps old bytes for a holder', () => {
    const c = new SharedCache({ maxBytes: 1 << 17, maxEntries: 8 });
    const w = c.allocate('k', 5)!;
    assert.deepEqual([...w.bytes], [0, 0, 0, 0, 0]);
    w.bytes.set([1, 2, 3, 4, 5]);
    assert.equal(c.get('k'), undefined, 'visible before insert');
    assert.equal(w.insert(), true);
    assert.deepEqual([...c.get('k')!], [1, 2, 3, 4, 5]);
    assert.throws(() => w.insert(), ReleasedHandleError);
    const r = c.acquire('k')!;
    const w2 = c.allocate('k', 2)!;
    w2.bytes.set([9, 9]);
    w2.release();
    assert.deepEqual([...c.get('k')!], [1, 2, 3, 4, 5], 'discarded allocation published');
    c.set('k', new Uint8Array([7]));
    assert.deepEqual([...c.get('k')!], [7]);
    assert.deepEqual([...r.bytes], [1, 2, 3, 4, 5], 'holder lost its bytes on replace');
    const stats = c.stats();
    assert.equal(stats.inserts, 1);
    assert.equal(stats.updates, 1);
    r.release();
    const v = c._validate();
    assert.equal(v.pinned + v.orphans, 0);
  });

  test('acquireForWrite updates in place; readers miss while it is held', () => {
    const c = new SharedCache<string>({ maxBytes: 1 << 17, codec: 'utf8' });
    c.set('k', 'abc');
    const w = c.acquireForWrite('k')!;
    assert.equal(c.get('k'), undefined);
    assert.equal(c.acquire('k'), undefined);
    w.bytes.set([65, 66, 67]);
    assert.throws(() => w.insert(), TypeError);
    w.release();
    assert.equal(c.get('k'), 'ABC');
    const dispose = (Symbol as unknown as { dispose: symbol }).dispose;
    const h = c.acquire('k')! as unknown as Record<symbol, () => void> & ReadHandle;
    h[dispose]!();
    assert.equal(h.released, true);
    ok(c);
  });

  test('maxHandles per thread is enforced with a RangeError, nothing changed', () => {
    const c = new SharedCache({ maxBytes: 1 << 17, maxHandles: 2 });
    c.set('k', new Uint8Array([1]));
    const a = c.acquire('k')!;
    const b = c.acquire('k')!;
    assert.throws(() => c.acquire('k'), /maxHandles/);
    a.release();
    b.release();
    assert.equal(c._validate().pinned, 0);
  });
});

describe('SharedCache TTL (injected clock)', () => {
  for (const policy of POLICIES) {
    test(`${policy}: expired entries are never returned; per-call ttl overrides the default`, () => {
      const clock = new FakeClock();
      const c = new SharedCache<string>({ maxBytes: 1 << 17, policy, ttl: 100, codec: 'utf8', clock: clock.fn });
      c.set('a', '1');
      c.set('b', '2', { ttl: 0 });
      c.set('c', '3', { ttl: 500 });
      clock.now += 99;
      assert.equal(c.get('a'), '1');
      clock.now += 1;
      assert.equal(c.get('a'), undefined);
      assert.equal(c.has('a'), false);
      assert.equal(c.peek('a'), undefined);
      assert.equal(c.acquire('a'), undefined);
      assert.equal(c.get('b'), '2');
      assert.equal(c.get('c'), '3');
      clock.now += 400;
      assert.equal(c.get('c'), undefined);
      assert.equal(c.delete('c'), false, 'delete of an expired entry reports false');
      c.set('a', 'again');
      assert.equal(c.get('a'), 'again');
      assert.ok(c.stats().expirations >= 2);
      ok(c);
    });
  }

  test('an attached instance uses its own clock', () => {
    const clock = new FakeClock();
    const other = new FakeClock();
    const c = new SharedCache<string>({ maxBytes: 1 << 17, codec: 'utf8', clock: clock.fn });
    const d = SharedCache.attach<string>(c.share(), { clock: other.fn });
    c.set('k', 'v', { ttl: 50 });
    other.now += 60;
    assert.equal(c.get('k'), 'v');
    assert.equal(d.get('k'), undefined);
    assert.equal(d.stats().hits, 1, 'stats are shared totals');
  });
});

describe('SharedCache keys and codecs', () => {
  test('string keys and Uint8Array keys are compared by bytes (UTF-8)', () => {
    const c = new SharedCache<string>({ maxBytes: 1 << 17, codec: 'utf8' });
    const keys = ['', 'a', 'é', '日本', '😀x', '\ud800'];
    for (const k of keys) c.set(k, `v:${k}`);
    for (const k of keys) assert.equal(c.get(k), utf8.decode(new TextEncoder().encode(`v:${k}`)));
    assert.equal(c.get(new TextEncoder().encode('日本')), 'v:日本');
    assert.equal(c.get('\ufffd'), 'v:\ufffd', 'a lone surrogate is U+FFFD as TextEncoder writes it');
    c.set(new Uint8Array([0xff, 0]), 'raw');
    assert.equal(c.get(new Uint8Array([0xff, 0])), 'raw');
    ok(c);
  });

  test('json and v8 codecs round-trip; attach takes the creator\'s codec by default', () => {
    const j = new SharedCache<unknown>({ maxBytes: 1 << 17, codec: 'json' });
    j.set('k', { a: [1, 2], b: 'x' });
    assert.deepEqual(SharedCache.attach(j.share()).get('k'), { a: [1, 2], b: 'x' });
    const v = new SharedCache<unknown>({ maxBytes: 1 << 17, codec: 'v8' });
    v.set('k', new Map([[1, new Date(5)]]));
    assert.deepEqual(v.get('k'), new Map([[1, new Date(5)]]));
    const own = { name: 'own', encode: (s: string) => new TextEncoder().encode(s), decode: (b: Uint8Array) => utf8.decode(b) };
    const o = new SharedCache<string>({ maxBytes: 1 << 17, codec: own });
    assert.throws(() => SharedCache.attach(o.share()), /codec/);
    assert.equal(SharedCache.attach<string>(o.share(), { codec: own }).get('x'), undefined);
  });
});

describe('SharedCache bad input: clear errors, nothing changed', () => {
  test('options', () => {
    assert.throws(() => new SharedCache({} as never), /maxBytes/);
    assert.throws(() => new SharedCache({ maxBytes: 100 }), /maxBytes/);
    assert.throws(() => new SharedCache({ maxBytes: 2 ** 31 + 8 }), (e: Error) => e instanceof RangeError && /maxBytes/.test(e.message));
    assert.throws(() => new SharedCache({ maxBytes: 1 << 20, maxEntries: 0 }), /maxEntries/);
    assert.throws(() => new SharedCache({ maxBytes: 1 << 16, maxEntries: 1 << 20 }), /maxBytes/);
    assert.throws(() => new SharedCache({ maxBytes: 1 << 20, policy: 'lru' as never }), /policy/);
    assert.throws(() => new SharedCache({ maxBytes: 1 << 20, ttl: -1 }), /ttl/);
    assert.throws(() => new SharedCache({ maxBytes: 1 << 20, codec: 'xml' as never }), /codec/);
    assert.throws(() => new SharedCache({ maxBytes: 1 << 20, clock: 5 as never }), /clock/);
  });

  test('keys, values, lengths, descriptors', () => {
    const c = new SharedCache<string>({ maxBytes: 1 << 17, codec: 'utf8' });
    c.set('keep', 'me');
    const before = c.stats();
    assert.throws(() => c.set(5 as never, 'x'), (e: Error) => e instanceof TypeError && /key/.test(e.message));
    assert.throws(() => c.get({} as never), TypeError);
    assert.throws(() => c.set('k'.repeat(70000), 'x'), (e: Error) => e instanceof RangeError && /key/.test(e.message));
    assert.throws(() => c.set('k', 5 as never), (e: Error) => e instanceof TypeError && /utf8/.test(e.message));
    assert.throws(() => c.set('k', 'x'.repeat(1 << 17)), (e: Error) => e instanceof RangeError && /larger than this SharedCache can ever hold/.test(e.message));
    assert.throws(() => c.set('k', 'x', { ttl: -5 }), /ttl/);
    assert.throws(() => c.allocate('k', -1), (e: Error) => e instanceof RangeError && /byteLength/.test(e.message));
    assert.throws(() => c.allocate('k', 1.5), RangeError);
    assert.throws(() => c.allocate('k', 1 << 20), RangeError);
    assert.throws(() => SharedCache.attach({} as never), (e: Error) => e instanceof TypeError && /descriptor/.test(e.message));
    assert.throws(() => SharedCache.attach({ kind: 'cortado.SharedCache', format: 1, buffer: new SharedArrayBuffer(8192) } as never), /not a SharedCache/);
    assert.throws(() => SharedCache.attach(null as never), TypeError);
    assert.equal(c.get('keep'), 'me');
    assert.equal(c.size, 1);
    const after = c.stats();
    assert.equal(after.inserts, before.inserts);
    assert.equal(after.rejections, before.rejections);
    const v = c._validate();
    assert.equal(v.orphans + v.pinned, 0);
  });
});

test('handles work with `using`: released at the end of the block', async () => {
  const { SharedCache } = await import('cortado/shared');
  const c = new SharedCache<Uint8Array>({ maxBytes: 1 << 20, codec: 'bytes' });
  c.set('k', new Uint8Array([1, 2, 3]));
  let seen: Uint8Array | undefined;
  let kept: { released: boolean } | undefined;
  {
    using h = c.acquire('k');
    assert.ok(h !== undefined);
    seen = Uint8Array.from(h.bytes);
    kept = h;
    assert.equal(h.released, false);
  }
  assert.deepEqual([...seen!], [1, 2, 3]);
  assert.equal(kept!.released, true);
  {
    using w = c.allocate('n', 2);
    assert.ok(w !== undefined);
    w.bytes.set([9, 9]);
    // not inserted: disposal discards it
  }
  assert.equal(c.has('n'), false);
  const v = c._validate();
  assert.equal(v.pinned, 0);
});
