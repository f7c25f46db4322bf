import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache, memo } from 'cortado';
import { FakeClock, deferred } from './helpers.js';

test('memo sync: one call of fn per key; hits come from the cache', () => {
  const calls: number[] = [];
  const square = memo(
    (n: number) => {
      calls.push(n);
      return n * n;
    },
    { maxEntries: 100 },
  );
  assert.equal(square(3), 9);
  assert.equal(square(3), 9);
  assert.equal(square(4), 16);
  assert.equal(square(3), 9);
  assert.deepEqual(calls, [3, 4]);
  assert.equal(square.cache.size, 2);
  assert.equal(square.cache.peek(4), 16);
  assert.equal(square.cache.stats().hits, 2);
});

test('memo sync: a thrown error propagates and nothing is cached', () => {
  let calls = 0;
  const boom = new Error('boom');
  const f = memo(
    (s: string) => {
      calls++;
      if (calls === 1) throw boom;
      return s.toUpperCase();
    },
    { maxEntries: 10 },
  );
  assert.throws(() => f('a'), (e) => e === boom);
  assert.equal(f.cache.size, 0);
  assert.equal(f('a'), 'A');
  assert.equal(f('a'), 'A');
  assert.equal(calls, 2);
});

test('memo: undefined results are not stored (null is)', () => {
  let calls = 0;
  const find = memo(
    (id: string): string | null | undefined => {
      calls++;
      return id === 'none' ? null : undefined;
    },
    { maxEntries: 10 },
  );
  assert.equal(find('x'), undefined);
  assert.equal(find('x'), undefined);
  assert.equal(calls, 2);
  assert.equal(find('none'), null);
  assert.equal(find('none'), null);
  assert.equal(calls, 3);
});

test('memo: `this` is the caller\'s, for fn and for key', () => {
  class Repo {
    calls = 0;
    constructor(readonly prefix: string) {}
    name = memo(
      function (this: Repo, id: number) {
        this.calls++;
        return `${this.prefix}${id}`;
      },
      {
        maxEntries: 10,
        key(this: Repo, id: number) {
          return `${this.prefix}:${id}`;
        },
      },
    );
  }
  const a = new Repo('a');
  assert.equal(a.name(1), 'a1');
  assert.equal(a.name(1), 'a1');
  assert.equal(a.calls, 1);
  assert.deepEqual([...a.name.cache.keys()], ['a:1']);
});

test('memo: the default key is a single primitive argument; anything else needs options.key, before fn runs', () => {
  let calls = 0;
  const f = memo((x: string | number | null | undefined) => {
    calls++;
    return String(x);
  }, { maxEntries: 10 }) as unknown as (...args: unknown[]) => string;
  assert.equal(f(1), '1');
  assert.equal(f('1'), '1'); // a different key: 1 and '1' do not collide
  assert.equal(f(null), 'null');
  assert.equal(f(undefined), 'undefined');
  assert.equal(calls, 4);
  assert.throws(() => f({ id: 1 }), { name: 'TypeError', message: /has an object: pass options\.key/ });
  assert.throws(() => f(1, 2), { name: 'TypeError', message: /2 arguments.*options\.key/ });
  assert.equal(calls, 4);

  const noArgs = memo(() => {
    calls++;
    return 'once';
  }, { maxEntries: 1 });
  assert.equal(noArgs(), 'once');
  assert.equal(noArgs(), 'once');
  assert.equal(calls, 5);

  // The types require options.key wherever the default cannot make a key.
  // @ts-expect-error a function of two parameters needs options.key
  assert.throws(() => memo((a: number, b: number) => a + b, { maxEntries: 10 }), { name: 'TypeError', message: /2 parameters.*options\.key/ });
  // @ts-expect-error an object argument needs options.key
  const byObject = memo((o: { id: number }) => o.id, { maxEntries: 10 });
  assert.throws(() => (byObject as unknown as (o: object) => number)({ id: 1 }), { name: 'TypeError', message: /has an object: pass options\.key/ });
  const add = memo((a: number, b: number) => {
    calls++;
    return a + b;
  }, { maxEntries: 10, key: (a, b) => `${a},${b}` });
  assert.equal(add(1, 2), 3);
  assert.equal(add(1, 2), 3);
  assert.equal(add(2, 1), 3);
  assert.equal(calls, 7);
});

test('memo: bad options are TypeErrors that name the option', () => {
  assert.throws(() => memo(42 as unknown as () => number, { maxEntries: 1 }), { name: 'TypeError', message: /memo\(\) needs a function/ });
  assert.throws(() => memo((x: number) => x, null as never), { name: 'TypeError', message: /options must be an object/ });
  assert.throws(() => memo((x: number) => x, { maxEntries: 1, key: 'id' as never }), { name: 'TypeError', message: /key must be a function/ });
  assert.throws(() => memo((x: number) => x, { cache: new Map() as never }), { name: 'TypeError', message: /cache must be a Cache/ });
  const cache = new Cache<number, number>({ maxEntries: 1 });
  assert.throws(() => memo((x: number) => x, { cache, maxEntries: 5 } as never), { name: 'TypeError', message: /not both.*maxEntries/ });
  assert.throws(() => memo((x: number) => x, {} as never), { name: 'TypeError', message: /maxEntries/ });
});

test('memo: results live in a given cache, under its bound and policy', () => {
  const cache = new Cache<number, number>({ maxEntries: 2, policy: 'lru' });
  let calls = 0;
  const f = memo((n: number) => {
    calls++;
    return n + 100;
  }, { cache });
  assert.equal(f.cache, cache);
  f(1);
  f(2);
  f(3); // evicts 1 (LRU)
  assert.equal(calls, 3);
  assert.equal(cache.has(1), false);
  f(1);
  assert.equal(calls, 4);
  assert.equal(f.delete(1), true);
  assert.equal(f.delete(1), false);
  f(1);
  assert.equal(calls, 5);
});

test('memo: a ttl on the cache expires results (injected clock)', () => {
  const clock = new FakeClock();
  let calls = 0;
  const f = memo((s: string) => `${s}${++calls}`, { maxEntries: 10, ttl: 1_000, clock: clock.fn });
  assert.equal(f('a'), 'a1');
  clock.advance(999);
  assert.equal(f('a'), 'a1');
  clock.advance(1);
  assert.equal(f('a'), 'a2');
});

test('memo async: concurrent calls with one key share one call of fn; later calls are hits that still return promises', async () => {
  const gate = deferred<string>();
  let calls = 0;
  const load = memo(async (id: string) => {
    calls++;
    return `${id}:${await gate.promise}`;
  }, { maxEntries: 10 });
  const pending = Array.from({ length: 10 }, () => load('u1'));
  const other = load('u2');
  assert.equal(calls, 2); // one per key
  gate.resolve('ok');
  assert.deepEqual(await Promise.all(pending), Array(10).fill('u1:ok'));
  assert.equal(await other, 'u2:ok');
  const again = load('u1');
  assert.ok(again instanceof Promise);
  assert.equal(await again, 'u1:ok');
  assert.equal(calls, 2);
  assert.equal(load.cache.peek('u1'), 'u1:ok'); // the resolved value is stored, not the promise
});

test('memo async: a rejection reaches every waiting caller and is not cached', async () => {
  const gate = deferred<number>();
  let calls = 0;
  const boom = new Error('db down');
  const load = memo((id: number) => {
    calls++;
    return calls === 1 ? gate.promise : Promise.resolve(id * 10);
  }, { maxEntries: 10 });
  const a = load(7);
  const b = load(7);
  gate.reject(boom);
  await assert.rejects(a, (e) => e === boom);
  await assert.rejects(b, (e) => e === boom);
  assert.equal(calls, 1);
  assert.equal(load.cache.has(7), false);
  assert.equal(await load(7), 70);
  assert.equal(await load(7), 70);
  assert.equal(calls, 2);
});

test('memo async: a set() during the call wins over its result', async () => {
  const gate = deferred<string>();
  const load = memo(async (_k: string) => gate.promise, { maxEntries: 10 });
  const p = load('k');
  load.cache.set('k', 'written');
  gate.resolve('loaded');
  assert.equal(await p, 'written');
  assert.equal(load.cache.peek('k'), 'written');
});

test('memo async: a function that returns promises without `async` is learned on its first call', async () => {
  let calls = 0;
  const gate = deferred<number>();
  const load = memo((n: number) => {
    calls++;
    return gate.promise.then((v) => v + n);
  }, { maxEntries: 10 });
  const first = load(1);
  const second = load(1); // asynchronous now known: joins the first call
  gate.resolve(10);
  assert.equal(await first, 11);
  assert.equal(await second, 11);
  assert.equal(calls, 1);
});

test('memo: a given cache that already holds a key: an async function is served from it; a sync one runs once to learn its kind', async () => {
  const asyncCache = new Cache<string, string>({ maxEntries: 10 });
  asyncCache.set('k', 'warm');
  let asyncCalls = 0;
  const viaAsync = memo(async (_k: string) => {
    asyncCalls++;
    return 'cold';
  }, { cache: asyncCache });
  assert.equal(await viaAsync('k'), 'warm');
  assert.equal(asyncCalls, 0);

  const syncCache = new Cache<string, string>({ maxEntries: 10 });
  syncCache.set('k', 'warm');
  let syncCalls = 0;
  const viaSync = memo((_k: string) => {
    syncCalls++;
    return 'cold';
  }, { cache: syncCache });
  assert.equal(viaSync('k'), 'cold');
  assert.equal(viaSync('k'), 'cold');
  assert.equal(syncCalls, 1);
});

test('memo: a first call whose key is already cached drops its own promise without an unhandled rejection', async () => {
  const cache = new Cache<string, string>({ maxEntries: 10 });
  cache.set('k', 'warm');
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const load = memo((_k: string): Promise<string> => Promise.reject(new Error('never awaited')), { cache });
    assert.equal(await load('k'), 'warm');
    // Let rejection tracking run: unhandled rejections are reported after the microtask queue drains.
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
