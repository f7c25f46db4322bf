/**
 * The loading layer: fetch()/fetchAll() with single flight, aborts, stale serving, refresh,
 * timeouts and write races. Every test drives time by hand: an injected clock for expiry,
 * hand-resolved promises (deferreds) for loads, node:test's mock timers for loadTimeout.
 * Nothing sleeps.
 */
import { afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AbortError, Cache, type CacheOptions, type CacheSettings, LoaderMissingError, type LoadContext, MissingKeyError, type RemovalCause, TimeoutError, type PolicyName } from 'cortado';
import { validate } from 'cortado/internal';
import { POLICY_NAMES } from './helpers.js';
import { deferred, turn, type Deferred } from './helpers.js';

// ---------------------------------------------------------------------------------------
// scaffolding
// ---------------------------------------------------------------------------------------


const flush = turn;

/** A loader whose every call is recorded and answered by hand. */
class Source<K, V> {
  readonly calls: { key: K; ctx: LoadContext<V>; d: Deferred<V> }[] = [];
  readonly loader = (key: K, ctx: LoadContext<V>): Promise<V> => {
    const d = deferred<V>();
    this.calls.push({ key, ctx, d });
    return d.promise;
  };
  last() {
    const c = this.calls[this.calls.length - 1];
    assert.ok(c, 'no load was started');
    return c;
  }
}

/** A batch loader whose every call is recorded and answered by hand. */
class BatchSource<K, V> {
  readonly calls: { keys: K[]; signal: AbortSignal; d: Deferred<Map<K, V>> }[] = [];
  readonly loadAll = (keys: K[], ctx: { signal: AbortSignal }): Promise<Map<K, V>> => {
    const d = deferred<Map<K, V>>();
    this.calls.push({ keys, signal: ctx.signal, d });
    return d.promise;
  };
}

/** Record how a promise settles without leaving a rejection unhandled. */
function track<T>(p: Promise<T>) {
  const t: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (v) => {
      t.settled = true;
      t.value = v;
    },
    (e: unknown) => {
      t.settled = true;
      t.error = e;
    },
  );
  return t;
}

function setup<V = string>(options: Partial<CacheSettings<string, V>> = {}) {
  const clock = { now: 1_000 };
  const src = new Source<string, V>();
  const removals: [string, V, RemovalCause][] = [];
  const cache = new Cache<string, V>({
    maxEntries: 100,
    policy: currentPolicy,
    clock: () => clock.now,
    loader: src.loader,
    onRemove: (k, v, c) => removals.push([k, v, c]),
    ...options,
  } as CacheOptions<string, V>);
  created.push(cache as Cache<unknown, unknown>);
  return { cache, clock, src, removals };
}

/** The policy the suite is running under, and the caches setup() made for the current test. */
let currentPolicy: PolicyName = 'wtinylfu';
const created: Cache<unknown, unknown>[] = [];

// The whole suite runs once per policy, with the invariant walk over every cache a test made.
for (const policy of POLICY_NAMES) {
  describe(`loading (${policy})`, () => {
    before(() => {
      currentPolicy = policy;
    });
    beforeEach(() => {
      created.length = 0;
    });
    afterEach(() => {
      for (const c of created) validate(c);
      created.length = 0;
    });
    suite();
  });
}

function suite(): void {

// ---------------------------------------------------------------------------------------
// single flight
// ---------------------------------------------------------------------------------------

describe('single flight', () => {
  test('N concurrent fetches of one key share one load', async () => {
    const { cache, src } = setup();
    const ps = Array.from({ length: 10 }, () => cache.fetch('a'));
    assert.equal(src.calls.length, 1, 'one loader call for ten fetches');
    assert.equal(cache.inflight, 1);
    assert.equal(src.last().key, 'a');
    assert.equal(src.last().ctx.staleValue, undefined);
    src.last().d.resolve('A');
    assert.deepEqual(await Promise.all(ps), Array(10).fill('A'));
    assert.equal(cache.inflight, 0);
    assert.equal(cache.get('a'), 'A');
    // Now cached: no further load.
    assert.equal(await cache.fetch('a'), 'A');
    assert.equal(src.calls.length, 1);
    const s = cache.stats();
    assert.equal(s.loadSuccesses, 1);
    assert.equal(s.loadFailures, 0);
    validate(cache as Cache<unknown, unknown>);
  });

  test('different keys load independently', async () => {
    const { cache, src } = setup();
    const a = cache.fetch('a');
    const b = cache.fetch('b');
    assert.equal(src.calls.length, 2);
    assert.equal(cache.inflight, 2);
    src.calls[1]!.d.resolve('B');
    src.calls[0]!.d.resolve('A');
    assert.deepEqual(await Promise.all([a, b]), ['A', 'B']);
  });

  test('a loader may return a plain value, and a per-call loader overrides the cache one', async () => {
    const cache = new Cache<string, number>({ maxEntries: 10 });
    assert.equal(await cache.fetch('x', { loader: (k) => k.length }), 1);
    assert.equal(cache.get('x'), 1);
    const { cache: c2, src } = setup();
    assert.equal(await c2.fetch('y', { loader: () => 'own' }), 'own');
    assert.equal(src.calls.length, 0);
  });

  test('total load time is measured with the cache clock', async () => {
    const { cache, clock, src } = setup();
    const p = cache.fetch('a');
    clock.now += 30;
    src.last().d.resolve('A');
    await p;
    const p2 = cache.fetch('b');
    clock.now += 12;
    src.last().d.reject(new Error('down'));
    await assert.rejects(p2);
    const s = cache.stats();
    assert.equal(s.totalLoadTime, 42);
    assert.equal(s.loadSuccesses, 1);
    assert.equal(s.loadFailures, 1);
  });

  test('a fetch counts a hit when served from the cache and a miss when it waits', async () => {
    const { cache, src } = setup();
    const p = cache.fetch('a');
    const q = cache.fetch('a');
    src.last().d.resolve('A');
    await Promise.all([p, q]);
    await cache.fetch('a');
    const s = cache.stats();
    assert.equal(s.misses, 2);
    assert.equal(s.hits, 1);
  });
});

// ---------------------------------------------------------------------------------------
// aborts
// ---------------------------------------------------------------------------------------

describe('abort', () => {
  test("one caller's signal rejects only that caller; the load goes on", async () => {
    const { cache, src } = setup();
    const ac = new AbortController();
    const p1 = track(cache.fetch('a', { signal: ac.signal }));
    const p2 = cache.fetch('a');
    const p3 = cache.fetch('a', { signal: new AbortController().signal });
    assert.equal(src.calls.length, 1);
    ac.abort('user went away');
    await flush();
    assert.ok(p1.settled);
    assert.ok(p1.error instanceof AbortError);
    assert.equal((p1.error as AbortError).name, 'AbortError');
    assert.equal((p1.error as AbortError).code, 'ERR_CORTADO_ABORTED');
    assert.equal((p1.error as AbortError).cause, 'user went away');
    assert.equal(src.last().ctx.signal.aborted, false, 'other callers still wait: the load is not aborted');
    assert.equal(cache.inflight, 1);
    src.last().d.resolve('A');
    assert.deepEqual(await Promise.all([p2, p3]), ['A', 'A']);
    assert.equal(cache.get('a'), 'A');
  });

  test('the load is aborted once every caller has given up, and the next fetch starts afresh', async () => {
    const { cache, src } = setup();
    const a1 = new AbortController();
    const a2 = new AbortController();
    const p1 = track(cache.fetch('a', { signal: a1.signal }));
    const p2 = track(cache.fetch('a', { signal: a2.signal }));
    const first = src.last();
    a1.abort();
    assert.equal(first.ctx.signal.aborted, false);
    a2.abort();
    assert.equal(first.ctx.signal.aborted, true);
    assert.ok(first.ctx.signal.reason instanceof AbortError);
    assert.equal(cache.inflight, 0);
    await flush();
    assert.ok(p1.error instanceof AbortError && p2.error instanceof AbortError);
    const p3 = cache.fetch('a');
    assert.equal(src.calls.length, 2, 'a new load');
    first.d.resolve('OLD'); // the abandoned load resolves late: ignored
    src.last().d.resolve('NEW');
    assert.equal(await p3, 'NEW');
    await flush();
    assert.equal(cache.get('a'), 'NEW');
  });

  test('an already aborted signal rejects at once and starts no load', async () => {
    const { cache, src } = setup();
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(cache.fetch('a', { signal: ac.signal }), (e: unknown) => e instanceof AbortError);
    assert.equal(src.calls.length, 0);
    assert.equal(cache.inflight, 0);
  });

  test('a signal that fires after the value arrived changes nothing', async () => {
    const { cache, src } = setup();
    const ac = new AbortController();
    const p = cache.fetch('a', { signal: ac.signal });
    src.last().d.resolve('A');
    assert.equal(await p, 'A');
    ac.abort();
    assert.equal(cache.get('a'), 'A');
  });
});

// ---------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------

describe('errors', () => {
  test('a failed load reaches every caller, is not cached, and the next fetch retries', async () => {
    const { cache, src } = setup();
    const ps = [track(cache.fetch('a')), track(cache.fetch('a')), track(cache.fetch('a'))];
    const boom = new Error('db down');
    src.last().d.reject(boom);
    await flush();
    for (const p of ps) assert.equal(p.error, boom, 'the very error object, unwrapped');
    assert.equal(cache.inflight, 0);
    assert.equal(cache.has('a'), false);
    assert.equal(cache.size, 0);
    const retry = cache.fetch('a');
    assert.equal(src.calls.length, 2);
    src.last().d.resolve('A');
    assert.equal(await retry, 'A');
    assert.equal(cache.stats().loadFailures, 1);
    assert.equal(cache.stats().loadSuccesses, 1);
  });

  test('a loader that throws synchronously fails the same way', async () => {
    let n = 0;
    const cache = new Cache<string, string>({
      maxEntries: 4,
      loader: () => {
        if (n++ === 0) throw new RangeError('bad');
        return 'ok';
      },
    });
    await assert.rejects(cache.fetch('a'), RangeError);
    assert.equal(await cache.fetch('a'), 'ok');
  });

  test('a loader resolving undefined stores nothing and removes the stale entry', async () => {
    const { cache, clock, src, removals } = setup({ ttl: 100, staleIfError: 100 });
    cache.set('a', 'A');
    clock.now += 150;
    const p = cache.fetch('a');
    assert.equal(src.last().ctx.staleValue, 'A');
    src.last().d.resolve(undefined as unknown as string);
    assert.equal(await p, undefined);
    assert.equal(cache.size, 0);
    assert.deepEqual(removals, [['a', 'A', 'expired']], 'the entry was expired: that is its cause');
  });
});

// ---------------------------------------------------------------------------------------
// stale serving
// ---------------------------------------------------------------------------------------

describe('staleWhileRevalidate', () => {
  test('serves the stale value at once while exactly one background reload runs', async () => {
    const { cache, clock, src, removals } = setup({ ttl: 100, staleWhileRevalidate: 50 });
    cache.set('a', 'v1');
    clock.now += 120; // expired 20 ms ago, inside the 50 ms window
    // Expired for everything but fetch.
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.peek('a'), undefined);
    assert.equal(cache.has('a'), false);
    assert.deepEqual([...cache.keys()], []);
    assert.equal(cache.size, 1, 'kept in the store for fetch');
    assert.equal(await cache.fetch('a'), 'v1');
    assert.equal(await cache.fetch('a'), 'v1');
    assert.equal(await cache.fetch('a'), 'v1');
    assert.equal(src.calls.length, 1, 'one reload for three stale fetches');
    assert.equal(src.last().ctx.staleValue, 'v1');
    assert.equal(cache.inflight, 1);
    src.last().d.resolve('v2');
    await flush();
    assert.equal(cache.inflight, 0);
    assert.equal(cache.get('a'), 'v2');
    assert.equal(await cache.fetch('a'), 'v2');
    assert.equal(src.calls.length, 1);
    assert.deepEqual(removals, [['a', 'v1', 'expired']], 'the stale value had expired: that is its cause');
    validate(cache as Cache<unknown, unknown>);
  });

  test('past the window a fetch waits for the load', async () => {
    const { cache, clock, src } = setup({ ttl: 100, staleWhileRevalidate: 50 });
    cache.set('a', 'v1');
    clock.now += 150; // exactly at the end of the window
    const p = track(cache.fetch('a'));
    await flush();
    assert.equal(p.settled, false, 'nothing stale to serve');
    assert.equal(src.last().ctx.staleValue, undefined);
    src.last().d.resolve('v2');
    await flush();
    assert.equal(p.value, 'v2');
  });

  test('a failed background reload keeps the stale value and is counted', async () => {
    const { cache, clock, src } = setup({ ttl: 100, staleWhileRevalidate: 50 });
    cache.set('a', 'v1');
    clock.now += 110;
    assert.equal(await cache.fetch('a'), 'v1');
    src.last().d.reject(new Error('flaky'));
    await flush();
    assert.equal(cache.stats().loadFailures, 1);
    assert.equal(cache.inflight, 0);
    assert.equal(await cache.fetch('a'), 'v1', 'still stale, still served');
    assert.equal(src.calls.length, 2, 'and a new reload is tried');
  });

  test('the store drops a stale entry when its window closes (size, purge, timer wheel)', () => {
    const { cache, clock, removals } = setup({ ttl: 100, staleWhileRevalidate: 50 });
    cache.set('a', 'A');
    clock.now += 120;
    assert.equal(cache.purgeExpired(), 0, 'inside the window: kept');
    assert.equal(cache.size, 1);
    clock.now += 30; // 150 past the write: window closed
    assert.equal(cache.purgeExpired(), 1);
    assert.equal(cache.size, 0);
    assert.deepEqual(removals, [['a', 'A', 'expired']]);
    cache.set('b', 'B');
    clock.now += 160;
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.size, 0, 'get() removes an entry past its window');
    validate(cache as Cache<unknown, unknown>);
  });

  test('delete() of a stale entry removes it: fetch cannot serve it any more', async () => {
    const { cache, clock, src } = setup({ ttl: 100, staleWhileRevalidate: 50 });
    cache.set('a', 'A');
    clock.now += 120;
    assert.equal(cache.delete('a'), false, 'it was expired');
    const p = track(cache.fetch('a'));
    await flush();
    assert.equal(p.settled, false);
    src.last().d.resolve('B');
    await flush();
    assert.equal(p.value, 'B');
  });
});

describe('staleIfError', () => {
  test('a failed load serves the stale value within the window, and rejects past it', async () => {
    const { cache, clock, src } = setup({ ttl: 100, staleIfError: 50 });
    cache.set('a', 'v1');
    clock.now += 120;
    const p = track(cache.fetch('a'));
    await flush();
    assert.equal(p.settled, false, 'staleIfError alone does not serve before the load fails');
    assert.equal(src.last().ctx.staleValue, 'v1');
    src.last().d.reject(new Error('db down'));
    await flush();
    assert.equal(p.value, 'v1');
    assert.equal(cache.stats().loadFailures, 1);
    assert.equal(cache.get('a'), undefined, 'still expired for get()');
    clock.now += 30; // 150: window closed
    const q = track(cache.fetch('a'));
    const boom = new Error('still down');
    src.last().d.reject(boom);
    await flush();
    assert.equal(q.error, boom);
  });

  test('with both windows: stale at once inside SWR, stale on error inside staleIfError', async () => {
    const { cache, clock, src } = setup({ ttl: 100, staleWhileRevalidate: 20, staleIfError: 200 });
    cache.set('a', 'v1');
    clock.now += 110;
    assert.equal(await cache.fetch('a'), 'v1');
    src.last().d.reject(new Error('x'));
    await flush();
    clock.now += 50; // 160: past SWR, inside staleIfError
    const p = track(cache.fetch('a'));
    await flush();
    assert.equal(p.settled, false);
    src.last().d.reject(new Error('y'));
    await flush();
    assert.equal(p.value, 'v1');
  });
});

// ---------------------------------------------------------------------------------------
// refreshAfter and forceRefresh
// ---------------------------------------------------------------------------------------

describe('refreshAfter', () => {
  test('an access past refreshAfter reloads in the background while the value stays served', async () => {
    const { cache, clock, src, removals } = setup({ ttl: 1_000, refreshAfter: 50 });
    const p = cache.fetch('a');
    src.last().d.resolve('v1');
    assert.equal(await p, 'v1');
    clock.now += 49;
    assert.equal(await cache.fetch('a'), 'v1');
    assert.equal(src.calls.length, 1, 'not yet due');
    clock.now += 1;
    assert.equal(cache.get('a'), 'v1');
    assert.equal(src.calls.length, 1, 'get() never loads');
    assert.equal(await cache.fetch('a'), 'v1');
    assert.equal(await cache.fetch('a'), 'v1');
    assert.equal(src.calls.length, 2, 'one background reload');
    assert.equal(src.last().ctx.staleValue, 'v1');
    src.last().d.resolve('v2');
    await flush();
    assert.equal(await cache.fetch('a'), 'v2');
    assert.equal(src.calls.length, 2, 'the reload reset the write time');
    assert.deepEqual(removals, [['a', 'v1', 'replaced']]);
  });

  test('set() resets the refresh time', async () => {
    const { cache, clock, src } = setup({ refreshAfter: 50 });
    cache.set('a', 'v1');
    clock.now += 40;
    cache.set('a', 'v2');
    clock.now += 40;
    assert.equal(await cache.fetch('a'), 'v2');
    assert.equal(src.calls.length, 0);
  });
});

describe('forceRefresh', () => {
  test('loads even when fresh, hands the loader the current value, and joins a load under way', async () => {
    const { cache, src } = setup({ ttl: 1_000 });
    cache.set('a', 'v1');
    const p = cache.fetch('a', { forceRefresh: true });
    const q = cache.fetch('a', { forceRefresh: true });
    assert.equal(src.calls.length, 1);
    assert.equal(src.last().ctx.staleValue, 'v1');
    assert.equal(await cache.fetch('a'), 'v1', 'plain fetches are still served meanwhile');
    src.last().d.resolve('v2');
    assert.deepEqual(await Promise.all([p, q]), ['v2', 'v2']);
    assert.equal(cache.get('a'), 'v2');
  });
});

// ---------------------------------------------------------------------------------------
// timeouts
// ---------------------------------------------------------------------------------------

describe('loadTimeout', () => {
  test('a slow load is aborted and fails with a TimeoutError; its late result is ignored', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { cache, src } = setup({ loadTimeout: 1_000 });
    const p1 = track(cache.fetch('a'));
    const p2 = track(cache.fetch('a'));
    t.mock.timers.tick(999);
    await flush();
    assert.equal(p1.settled, false);
    assert.equal(src.last().ctx.signal.aborted, false);
    t.mock.timers.tick(1);
    await flush();
    for (const p of [p1, p2]) {
      assert.ok(p.error instanceof TimeoutError);
      assert.equal((p.error as TimeoutError).name, 'TimeoutError');
      assert.equal((p.error as TimeoutError).code, 'ERR_CORTADO_LOAD_TIMEOUT');
    }
    const signal = src.last().ctx.signal;
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof TimeoutError);
    assert.equal(cache.inflight, 0);
    src.last().d.resolve('late');
    await flush();
    assert.equal(cache.has('a'), false, 'a timed-out load stores nothing');
    const s = cache.stats();
    assert.equal(s.loadFailures, 1);
    assert.equal(s.loadSuccesses, 0, 'counted once, at the timeout');
  });

  test('a load that finishes in time clears its timer', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { cache, src } = setup({ loadTimeout: 1_000 });
    const p = cache.fetch('a');
    src.last().d.resolve('A');
    assert.equal(await p, 'A');
    t.mock.timers.tick(5_000);
    await flush();
    assert.equal(src.last().ctx.signal.aborted, false);
    assert.equal(cache.stats().loadFailures, 0);
    assert.equal(cache.get('a'), 'A');
  });

  test('a timed-out reload serves the stale value within staleIfError', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { cache, clock } = setup({ ttl: 100, staleIfError: 1_000, loadTimeout: 500 });
    cache.set('a', 'v1');
    clock.now += 200;
    const p = track(cache.fetch('a'));
    t.mock.timers.tick(500);
    await flush();
    assert.equal(p.value, 'v1');
  });

  test('a pending load with a timeout does not keep the process alive', () => {
    const entry = fileURLToPath(import.meta.resolve('cortado'));
    const script = `
      const { Cache } = await import(${JSON.stringify(entry)});
      const c = new Cache({ maxEntries: 2, loadTimeout: 3_600_000, loader: () => new Promise(() => {}) });
      c.fetch('a').catch(() => {});
      process.exitCode = c.inflight === 1 ? 0 : 3;
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000, encoding: 'utf8' });
    assert.equal(r.signal, null, `the child had to be killed: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
  });
});

// ---------------------------------------------------------------------------------------
// writes racing loads
// ---------------------------------------------------------------------------------------

describe('writes win over loads', () => {
  test('set() during a load: callers get the written value, the late result is dropped', async () => {
    const { cache, src } = setup();
    const p = cache.fetch('a');
    const q = cache.fetch('a');
    const load = src.last();
    cache.set('a', 'written');
    assert.equal(load.ctx.signal.aborted, true, 'nobody needs the load any more');
    assert.equal(cache.inflight, 0);
    assert.deepEqual(await Promise.all([p, q]), ['written', 'written']);
    load.d.resolve('loaded-before-the-write');
    await flush();
    assert.equal(cache.get('a'), 'written');
    validate(cache as Cache<unknown, unknown>);
  });

  test('set() during a background refresh wins too', async () => {
    const { cache, clock, src } = setup({ ttl: 100, staleWhileRevalidate: 100 });
    cache.set('a', 'v1');
    clock.now += 150;
    assert.equal(await cache.fetch('a'), 'v1');
    cache.set('a', 'v3');
    src.last().d.resolve('v2');
    await flush();
    assert.equal(cache.get('a'), 'v3');
  });

  test('a refused set() does not supersede the load', async () => {
    const { cache, src } = setup({ shouldUpdate: (_old, nu) => nu !== 'refused' });
    cache.set('a', 'v0');
    const p = cache.fetch('a', { forceRefresh: true });
    assert.equal(cache.set('a', 'refused'), false);
    assert.equal(cache.inflight, 1);
    src.last().d.resolve('v1');
    assert.equal(await p, 'v1');
    assert.equal(cache.get('a'), 'v1');
  });

  test('delete() during a load: the result is not stored, waiting callers get a load started after the delete', async () => {
    const { cache, src } = setup();
    const p = track(cache.fetch('a'));
    const first = src.last();
    cache.delete('a');
    assert.equal(first.ctx.signal.aborted, true);
    assert.equal(src.calls.length, 2, 'a fresh load for the caller still waiting');
    assert.equal(cache.inflight, 1);
    first.d.resolve('before-delete');
    await flush();
    assert.equal(p.settled, false);
    assert.equal(cache.has('a'), false, 'no resurrection');
    src.last().d.resolve('after-delete');
    await flush();
    assert.equal(p.value, 'after-delete');
    assert.equal(cache.get('a'), 'after-delete');
  });

  test('delete() during a background refresh: nothing is resurrected', async () => {
    const { cache, clock, src } = setup({ ttl: 100, staleWhileRevalidate: 100 });
    cache.set('a', 'v1');
    clock.now += 150;
    assert.equal(await cache.fetch('a'), 'v1');
    cache.delete('a');
    assert.equal(cache.inflight, 0);
    assert.equal(src.calls.length, 1, 'nobody waits: no new load');
    src.last().d.resolve('v2');
    await flush();
    assert.equal(cache.has('a'), false);
    assert.equal(cache.size, 0);
  });

  test('clear() invalidates every load under way', async () => {
    const { cache, src } = setup();
    const p = track(cache.fetch('a'));
    const q = track(cache.fetch('b'));
    const [la, lb] = src.calls;
    cache.clear();
    assert.equal(src.calls.length, 4);
    la!.d.resolve('A0');
    lb!.d.resolve('B0');
    src.calls[2]!.d.resolve('A1');
    src.calls[3]!.d.resolve('B1');
    await flush();
    assert.equal(p.value, 'A1');
    assert.equal(q.value, 'B1');
  });

  test('set() then delete() during a load: callers got the set value; nothing is stored', async () => {
    const { cache, src } = setup();
    const p = cache.fetch('a');
    const load = src.last();
    cache.set('a', 'w');
    cache.delete('a');
    load.d.resolve('late');
    assert.equal(await p, 'w');
    await flush();
    assert.equal(cache.has('a'), false);
  });
});

// ---------------------------------------------------------------------------------------
// fetchAll
// ---------------------------------------------------------------------------------------

describe('fetchAll', () => {
  test('cached keys are served, loading keys shared, the rest loaded in one loadAll call', async () => {
    const batch = new BatchSource<string, string>();
    const { cache, src } = setup({ loadAll: batch.loadAll });
    cache.set('a', 'A');
    const b = cache.fetch('b'); // a single load under way for b
    const all = cache.fetchAll(['a', 'b', 'c', 'd', 'c']);
    assert.equal(batch.calls.length, 1);
    assert.deepEqual(batch.calls[0]!.keys, ['c', 'd'], 'only the missing keys, once each');
    assert.equal(cache.inflight, 3);
    batch.calls[0]!.d.resolve(new Map([['c', 'C'], ['d', 'D']]));
    src.last().d.resolve('B');
    const m = await all;
    assert.deepEqual([...m], [['a', 'A'], ['b', 'B'], ['c', 'C'], ['d', 'D']]);
    assert.equal(await b, 'B');
    assert.equal(cache.get('c'), 'C');
    assert.equal(cache.stats().loadSuccesses, 2, 'one batch, one single load');
  });

  test('a single fetch joins a key of a batch under way', async () => {
    const batch = new BatchSource<string, string>();
    const { cache, src } = setup({ loadAll: batch.loadAll });
    const all = cache.fetchAll(['x', 'y']);
    const y = cache.fetch('y');
    assert.equal(src.calls.length, 0);
    batch.calls[0]!.d.resolve(new Map([['x', 'X'], ['y', 'Y']]));
    assert.equal(await y, 'Y');
    assert.deepEqual([...(await all).values()], ['X', 'Y']);
  });

  test('a key that loadAll leaves out rejects clearly; the keys it returned are kept', async () => {
    const batch = new BatchSource<string, string>();
    const { cache } = setup({ loadAll: batch.loadAll });
    const all = cache.fetchAll(['a', 'b', 'c']);
    batch.calls[0]!.d.resolve(new Map([['a', 'A'], ['c', 'C']]));
    await assert.rejects(all, (e: unknown) => {
      assert.ok(e instanceof MissingKeyError);
      assert.equal(e.code, 'ERR_CORTADO_LOADALL_MISSING_KEY');
      assert.equal(e.key, 'b');
      assert.match(e.message, /"b"/);
      return true;
    });
    assert.equal(cache.get('a'), 'A');
    assert.equal(cache.get('c'), 'C');
    assert.equal(cache.inflight, 0);
    // A retry loads only what is missing.
    const again = cache.fetchAll(['a', 'b', 'c']);
    assert.deepEqual(batch.calls[1]!.keys, ['b']);
    batch.calls[1]!.d.resolve(new Map([['b', undefined as unknown as string]]));
    assert.deepEqual([...(await again)], [['a', 'A'], ['b', undefined], ['c', 'C']]);
    assert.equal(cache.has('b'), false, 'mapped to undefined: no value stored');
  });

  test('loadAll resolving something other than a Map fails every key with a TypeError', async () => {
    const batch = new BatchSource<string, string>();
    const { cache } = setup({ loadAll: batch.loadAll });
    const all = cache.fetchAll(['a']);
    batch.calls[0]!.d.resolve({ a: 'A' } as unknown as Map<string, string>);
    await assert.rejects(all, (e: unknown) => e instanceof TypeError && /loadAll must resolve a Map/.test(e.message));
    assert.equal(cache.stats().loadFailures, 1);
  });

  test('without loadAll, each missing key is loaded by the loader', async () => {
    const { cache, src } = setup();
    cache.set('a', 'A');
    const all = cache.fetchAll(['a', 'b', 'c']);
    assert.deepEqual(src.calls.map((c) => c.key), ['b', 'c']);
    src.calls[0]!.d.resolve('B');
    src.calls[1]!.d.resolve('C');
    assert.deepEqual([...(await all).values()], ['A', 'B', 'C']);
  });

  test("fetchAll's signal rejects the call; the batch is aborted when no caller is left", async () => {
    const batch = new BatchSource<string, string>();
    const { cache } = setup({ loadAll: batch.loadAll });
    const ac = new AbortController();
    const all = track(cache.fetchAll(['a', 'b'], { signal: ac.signal }));
    const b = cache.fetch('b');
    ac.abort();
    await flush();
    assert.ok(all.error instanceof AbortError);
    assert.equal(batch.calls[0]!.signal.aborted, false, 'b still has a caller');
    batch.calls[0]!.d.resolve(new Map([['a', 'A'], ['b', 'B']]));
    assert.equal(await b, 'B');
    assert.equal(cache.has('a'), false, 'a was abandoned: its result is not stored');
  });

  test('an onRemove listener that fetches during the lookup does not cause a second load', async () => {
    const batch = new BatchSource<string, string>();
    let cache!: Cache<string, string>;
    const clock = { now: 0 };
    const src = new Source<string, string>();
    const background: Promise<string>[] = [];
    cache = new Cache<string, string>({
      maxEntries: 10,
      ttl: 10,
      clock: () => clock.now,
      loader: src.loader,
      loadAll: batch.loadAll,
      onRemove: (k, _v, cause) => {
        if (cause === 'expired') background.push(cache.fetch(k));
      },
    });
    cache.set('a', 'A0');
    clock.now += 20;
    const all = cache.fetchAll(['a', 'b']);
    assert.equal(src.calls.length, 1, "the listener's fetch of a");
    assert.deepEqual(batch.calls[0]!.keys, ['b'], 'a joined that load instead of being batched again');
    assert.equal(cache.inflight, 2);
    src.last().d.resolve('A1');
    batch.calls[0]!.d.resolve(new Map([['b', 'B']]));
    assert.deepEqual([...(await all)], [['a', 'A1'], ['b', 'B']]);
    assert.deepEqual(await Promise.all(background), ['A1']);
  });

  test('stale keys are served and refreshed in the same batch as the missing ones', async () => {
    const batch = new BatchSource<string, string>();
    const { cache, clock } = setup({ loadAll: batch.loadAll, ttl: 100, staleWhileRevalidate: 100 });
    cache.set('s', 'S1');
    clock.now += 150;
    const all = cache.fetchAll(['s', 'm']);
    assert.deepEqual(batch.calls[0]!.keys, ['s', 'm'], 'one call, keys in the order asked');
    batch.calls[0]!.d.resolve(new Map([['s', 'S2'], ['m', 'M']]));
    assert.deepEqual([...(await all)], [['s', 'S1'], ['m', 'M']]);
    assert.equal(cache.get('s'), 'S2');
  });
});

// ---------------------------------------------------------------------------------------
// bad input
// ---------------------------------------------------------------------------------------

describe('bad input', () => {
  test('fetch with no loader anywhere rejects with LoaderMissingError', async () => {
    const cache = new Cache<string, string>({ maxEntries: 2 });
    cache.set('a', 'A');
    await assert.rejects(cache.fetch('a'), (e: unknown) => {
      assert.ok(e instanceof LoaderMissingError);
      assert.ok(e instanceof TypeError);
      assert.equal(e.code, 'ERR_CORTADO_NO_LOADER');
      assert.match(e.message, /loader/);
      return true;
    });
    await assert.rejects(cache.fetchAll(['a']), LoaderMissingError);
    assert.equal(cache.inflight, 0);
  });

  test('invalid loading options throw at construction, naming the option', () => {
    const cases: [Record<string, unknown>, ErrorConstructor, RegExp][] = [
      [{ loader: 5 }, TypeError, /loader/],
      [{ loadAll: 'x' }, TypeError, /loadAll/],
      [{ staleWhileRevalidate: -1 }, RangeError, /staleWhileRevalidate/],
      [{ staleWhileRevalidate: Infinity }, RangeError, /staleWhileRevalidate/],
      [{ staleIfError: Number.NaN }, RangeError, /staleIfError/],
      [{ refreshAfter: -5 }, RangeError, /refreshAfter/],
      [{ loadTimeout: '10' }, RangeError, /loadTimeout/],
    ];
    for (const [o, type, name] of cases) {
      assert.throws(() => new Cache({ maxEntries: 2, ...o }), (e: unknown) => e instanceof type && name.test((e as Error).message), JSON.stringify(o));
    }
  });

  test('invalid fetch options reject, naming the option, and start nothing', async () => {
    const { cache, src } = setup();
    const bad: [unknown, ErrorConstructor, RegExp][] = [
      [null, TypeError, /options/],
      [{ signal: 'x' }, TypeError, /signal/],
      [{ ttl: -1 }, RangeError, /ttl/],
      [{ weight: 3 }, TypeError, /weight/],
      [{ forceRefresh: 'yes' }, TypeError, /forceRefresh/],
      [{ loader: 1 }, TypeError, /loader/],
    ];
    for (const [o, type, name] of bad) {
      await assert.rejects(cache.fetch('a', o as never), (e: unknown) => e instanceof type && name.test((e as Error).message), JSON.stringify(o));
    }
    await assert.rejects(cache.fetchAll(5 as never), /iterable/);
    await assert.rejects(cache.fetchAll(['a'], { loadAll: 3 } as never), /loadAll/);
    assert.equal(src.calls.length, 0);
    assert.equal(cache.inflight, 0);
  });
});

// ---------------------------------------------------------------------------------------
// options carried by a load
// ---------------------------------------------------------------------------------------

describe('interplay with the rest of the cache', () => {
  test('a plain cache reports zero load stats and no loads', () => {
    const cache = new Cache<string, string>({ maxEntries: 2 });
    cache.set('a', 'A');
    const s = cache.stats();
    assert.equal(s.loadSuccesses, 0);
    assert.equal(s.loadFailures, 0);
    assert.equal(s.totalLoadTime, 0);
    assert.equal(cache.inflight, 0);
  });

  test('a fetch hit pushes back idle expiry, as get() does', async () => {
    const { cache, clock, src } = setup({ expireAfterAccess: 100 });
    cache.set('a', 'A');
    clock.now += 80;
    assert.equal(await cache.fetch('a'), 'A');
    clock.now += 80;
    assert.equal(await cache.fetch('a'), 'A', 'still alive: the previous fetch was an access');
    assert.equal(src.calls.length, 0);
  });

  test('setIfPresent() during a load wins like set()', async () => {
    const { cache, src } = setup();
    cache.set('a', 'v0');
    const p = cache.fetch('a', { forceRefresh: true });
    assert.equal(cache.setIfPresent('a', 'v2'), true);
    src.last().d.resolve('v1');
    assert.equal(await p, 'v2');
    await flush();
    assert.equal(cache.get('a'), 'v2');
  });

  test('a loaded value too heavy to keep is reported rejected; callers still get it', async () => {
    const { cache, removals } = setup<{ w: number }>({ maxWeight: 10, weigher: (v) => v.w, loader: () => ({ w: 50 }) });
    assert.deepEqual(await cache.fetch('a'), { w: 50 });
    assert.equal(cache.has('a'), false);
    assert.deepEqual(removals, [['a', { w: 50 }, 'rejected']]);
  });
});

describe('fetch options', () => {
  test('ttl and weight of the fetch that starts the load apply to the stored value', async () => {
    const clock = { now: 0 };
    const cache = new Cache<string, string>({ maxWeight: 10, weigher: () => 1, clock: () => clock.now });
    await cache.fetch('a', { loader: () => 'A', ttl: 100, weight: 7 });
    assert.equal(cache.weight, 7);
    assert.equal(cache.ttlOf('a'), 100);
    clock.now += 100;
    assert.equal(cache.get('a'), undefined);
  });
});
}
