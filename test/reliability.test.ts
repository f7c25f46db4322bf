/**
 * Regression tests for the defects an adversarial review found at the edges of the core
 * (issue #10), one test (or a few) per defect, numbered as in the issue.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AbortError, Cache, LoadInvalidatedError, ReentrancyError, type RemovalCause } from 'cortado';
import { FakeClock, POLICY_NAMES, check } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Run an ES module snippet in a fresh node that imports the built package; its stdout lines. */
function runSnippet(code: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', timeout: 20_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('#2 a loader that deletes its own key settles', () => {
  test('synchronously: the fetch rejects with LoadInvalidatedError after a bounded number of loads', async () => {
    let calls = 0;
    let c!: Cache<string, string>;
    c = new Cache<string, string>({
      maxEntries: 10,
      loader: (k) => {
        calls++;
        c.delete(k);
        return 'v';
      },
    });
    await assert.rejects(c.fetch('k'), (e: unknown) => e instanceof LoadInvalidatedError && e.code === 'ERR_CORTADO_LOAD_INVALIDATED' && e.limit === 10);
    assert.equal(calls, 10);
    assert.equal(c.inflight, 0);
    check(c);
  });

  test('asynchronously (after a tick): no livelock, the same bounded answer', async () => {
    let calls = 0;
    let c!: Cache<string, string>;
    c = new Cache<string, string>({
      maxEntries: 10,
      loader: async (k) => {
        calls++;
        await Promise.resolve();
        c.delete(k);
        return 'v';
      },
    });
    await assert.rejects(c.fetch('k'), LoadInvalidatedError);
    assert.equal(calls, 10);
    assert.equal(c.inflight, 0);
    check(c);
  });

  test('a key deleted once during its load is loaded again and served', async () => {
    let calls = 0;
    let c!: Cache<string, string>;
    c = new Cache<string, string>({
      maxEntries: 10,
      loader: (k) => {
        calls++;
        if (calls === 1) c.delete(k);
        return `v${calls}`;
      },
    });
    assert.equal(await c.fetch('k'), 'v2');
    assert.equal(c.get('k'), 'v2');
  });
});

describe('#5 loadTimeout is limited to what a Node timer honours', () => {
  test('2^31 ms and more are refused, naming the option', () => {
    assert.throws(() => new Cache({ maxEntries: 1, loadTimeout: 2 ** 31 }), { name: 'RangeError', message: /loadTimeout/ });
    assert.throws(() => new Cache({ maxEntries: 1, loadTimeout: 1e12 }), RangeError);
  });
  test('2^31 - 1 and Infinity (off) are accepted', () => {
    new Cache({ maxEntries: 1, loadTimeout: 2 ** 31 - 1 });
    new Cache({ maxEntries: 1, loadTimeout: Infinity });
  });
});

describe('#6 the clock is checked', () => {
  for (const [what, value] of [
    ['undefined', undefined],
    ['NaN', NaN],
    ['a string', '12'],
    ['Infinity', Infinity],
  ] as const) {
    test(`a clock returning ${what} is refused at construction`, () => {
      assert.throws(() => new Cache({ maxEntries: 4, ttl: 10, clock: () => value as unknown as number }), { name: 'TypeError', message: /clock/ });
      assert.throws(() => new Cache({ maxEntries: 4, clock: () => value as unknown as number }), TypeError);
    });
  }

  test('a clock that goes bad later makes the write throw before anything changes', () => {
    let t: unknown = 1_000;
    const c = new Cache<string, number>({ maxEntries: 4, ttl: 100, clock: () => t as number });
    c.set('a', 1);
    t = NaN;
    assert.throws(() => c.set('b', 2), { name: 'TypeError', message: /clock/ });
    assert.throws(() => c.set('a', 3), TypeError);
    t = 1_050;
    assert.equal(c.size, 1);
    assert.equal(c.get('a'), 1);
    assert.equal(c.ttlOf('a'), 50);
    check(c);
    // And expiry still works once the clock is sane again.
    t = 1_200;
    assert.equal(c.get('a'), undefined);
    assert.equal(c.purgeExpired() + c.size, 0);
  });
});

describe('#9 weights stay in the range where sums are exact', () => {
  test('weights and bounds of 2^53 or more are refused', () => {
    assert.throws(() => new Cache({ maxWeight: 2 ** 53 }), { name: 'RangeError', message: /maxWeight/ });
    assert.throws(() => new Cache({ maxBytes: 2 ** 53 }), { name: 'RangeError', message: /maxBytes/ });
    const c = new Cache<string, number>({ maxWeight: 2 ** 53 - 1 });
    assert.throws(() => c.set('a', 1, { weight: 2 ** 53 }), { name: 'RangeError', message: /weight/ });
    const w = new Cache<string, number>({ maxWeight: 100, weigher: () => 2 ** 60 });
    assert.throws(() => w.set('a', 1), { name: 'RangeError', message: /weigher/ });
    assert.equal(w.size, 0);
  });
  test('the largest accepted weights keep the accounting exact', () => {
    const c = new Cache<string, number>({ maxWeight: 2 ** 53 - 1 });
    c.set('a', 1, { weight: 2 ** 52 });
    c.set('b', 1, { weight: 1 });
    c.set('c', 1, { weight: 2 ** 52 - 2 });
    c.delete('a');
    assert.equal(c.weight, 2 ** 52 - 1);
    c.delete('c');
    assert.equal(c.weight, 1);
    assert.equal(c.size, 1);
    check(c);
  });
  test('durations beyond 2^53 ms are refused (Infinity still means none)', () => {
    assert.throws(() => new Cache({ maxEntries: 1, ttl: 2 ** 54 }), { name: 'RangeError', message: /ttl/ });
    assert.throws(() => new Cache({ maxEntries: 1, staleIfError: 2 ** 54 }), { name: 'RangeError', message: /staleIfError/ });
    const c = new Cache<string, number>({ maxEntries: 1, ttl: Infinity });
    c.set('a', 1);
    assert.equal(c.ttlOf('a'), Infinity);
  });
});

describe('#10 a throwing onRemove does not spoil fetch()', () => {
  test('an expired entry found by fetch still starts the load; the listener error is reported on the next tick', () => {
    const r = runSnippet(`
      import { Cache } from 'cortado';
      let t = 0;
      const reported = [];
      process.on('uncaughtException', (e) => reported.push(e.message));
      const c = new Cache({ maxEntries: 4, ttl: 10, clock: () => t, loader: () => 'fresh', onRemove: () => { throw new Error('listener broke'); } });
      c.set('k', 'old');
      t = 100;
      const v = await c.fetch('k');
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify({ v, stored: c.peek('k'), reported }));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { v: 'fresh', stored: 'fresh', reported: ['listener broke'] });
  });

  test('storing a loaded value that evicts resolves every caller although the listener throws', () => {
    const r = runSnippet(`
      import { Cache } from 'cortado';
      const reported = [];
      process.on('uncaughtException', (e) => reported.push(e.message));
      const c = new Cache({ maxEntries: 1, policy: 'lru', loader: async (k) => 'v-' + k, onRemove: (k, v, cause) => { if (cause === 'evicted') throw new Error('evicted ' + k); } });
      c.set('a', 'A');
      const got = await Promise.all([c.fetch('b'), c.fetch('b'), c.fetch('b')]);
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify({ got, stored: c.peek('b'), gone: c.has('a'), reported }));
    `);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { got: ['v-b', 'v-b', 'v-b'], stored: 'v-b', gone: false, reported: ['evicted a'] });
  });

  test('a synchronous operation still throws the listener error after taking effect', () => {
    const c = new Cache<string, number>({
      maxEntries: 1,
      onRemove: () => {
        throw new Error('boom');
      },
    });
    c.set('a', 1);
    assert.throws(() => c.set('b', 2), /boom/);
    assert.equal(c.get('b'), 2);
  });
});

describe('#11 fetch in a maxWeight cache without a weigher', () => {
  test('fails before the loader runs, and counts no load', async () => {
    let calls = 0;
    const c = new Cache<string, number>({
      maxWeight: 10,
      loader: () => {
        calls++;
        return 1;
      },
    });
    await assert.rejects(c.fetch('a'), { name: 'TypeError', message: /weigher/ });
    await assert.rejects(c.fetchAll(['a', 'b']), { name: 'TypeError', message: /weigher/ });
    assert.equal(calls, 0);
    assert.equal(c.stats().loadSuccesses, 0);
    // With a weight given, it works.
    assert.equal(await c.fetch('a', { weight: 2 }), 1);
    assert.equal(c.weight, 2);
  });
});

describe('#12 a weigher that throws over an expired entry', () => {
  for (const policy of POLICY_NAMES) {
    test(`changes nothing, and the expiry is reported when the entry is removed (${policy})`, () => {
      const clock = new FakeClock();
      const log: [string, RemovalCause][] = [];
      const c = new Cache<string, string>({
        maxWeight: 100,
        policy,
        ttl: 100,
        clock: clock.fn,
        weigher: (v) => {
          if (v === 'bad') throw new Error('cannot weigh');
          return 1;
        },
        onRemove: (k, _v, cause) => log.push([k, cause]),
      });
      c.set('a', 'x');
      clock.advance(200);
      assert.throws(() => c.set('a', 'bad'), /cannot weigh/);
      assert.deepEqual(log, []);
      check(c);
      assert.equal(c.purgeExpired(), 1);
      assert.deepEqual(log, [['a', 'expired']]);
      check(c);
    });
  }
});

describe('#13 fetchAll with one signal', () => {
  test('adds one abort listener for the whole call, and an abort rejects it', async () => {
    const controller = new AbortController();
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const c = new Cache<number, number>({ maxEntries: 100, loader: () => new Promise<number>(() => {}) });
      const keys = Array.from({ length: 50 }, (_, i) => i);
      const p = c.fetchAll(keys, { signal: controller.signal });
      assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
      controller.abort();
      await assert.rejects(p, AbortError);
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
      assert.equal(c.inflight, 0);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('a settled fetchAll stops listening', async () => {
    const controller = new AbortController();
    const c = new Cache<number, number>({ maxEntries: 100, loader: (k) => k * 2 });
    const m = await c.fetchAll([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], { signal: controller.signal });
    assert.equal(m.get(12), 24);
    await new Promise((r) => setImmediate(r));
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });
});

describe('#14 a loader that fetches its own key', () => {
  test('is refused with ReentrancyError instead of waiting forever', async () => {
    let c!: Cache<string, string>;
    c = new Cache<string, string>({ maxEntries: 4, loader: (k) => c.fetch(k) });
    await assert.rejects(c.fetch('k'), (e: unknown) => e instanceof ReentrancyError && e.code === 'ERR_CORTADO_REENTRANT' && /own key/.test(e.message));
    assert.equal(c.inflight, 0);
    check(c);
  });
  test('from a batch loader too', async () => {
    let c!: Cache<string, string>;
    c = new Cache<string, string>({ maxEntries: 4, loadAll: (ks) => c.fetchAll(ks) });
    await assert.rejects(c.fetchAll(['a', 'b']), ReentrancyError);
  });
});

describe('#18 the key -0', () => {
  test('is reported as 0, as a Map would keep it', () => {
    const log: unknown[] = [];
    const c = new Cache<number, string>({ maxEntries: 4, onRemove: (k) => log.push(k) });
    c.set(-0, 'v');
    assert.equal(c.delete(0), true);
    assert.equal(log.length, 1);
    assert.ok(Object.is(log[0], 0), 'reported as +0');
  });
});

describe('#16 a shrinking resize keeps the frequency sketch whole', () => {
  for (const policy of ['wtinylfu', 'tinylfu'] as const) {
    test(`${policy}: the invariant walk passes and the next requests do not halve the sketch again and again`, () => {
      const c = new Cache<number, number>({ maxEntries: 1000, policy, seed: 1 });
      for (let i = 0; i < 5000; i++) {
        c.set(i % 1500, i);
        c.get(i % 700);
      }
      c.resize({ maxEntries: 10 });
      check(c);
      const sketch = (c as unknown as { policy: { freq: { sketch: { resets: number } } } }).policy.freq.sketch;
      const before = sketch.resets;
      for (let i = 0; i < 20; i++) c.set(10_000 + i, i);
      check(c);
      // 20 misses in a cache of 10 entries stay within one halving period (10 x entries).
      assert.ok(sketch.resets - before <= 1, `halved ${sketch.resets - before} times in 20 requests`);
    });
  }
});
