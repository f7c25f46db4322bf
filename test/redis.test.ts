/**
 * RedisTier, RedisBus and RedisLock in one process against a real redis-server: options,
 * bytes, ms TTL, clear by prefix, codecs, and the faults (server killed and restarted,
 * server paused with SIGSTOP). Multi-process behaviour is in redis-processes.test.ts.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from 'redis';
import { RedisBus, RedisLock, RedisTier, RedisTimeoutError, RedisUnavailableError, type RedisTierOptions } from 'cortado/redis';
import { Cache } from 'cortado';
import { TieredCache, type Invalidation, type InvalidationBus } from 'cortado/tiered';
import { RedisServer, freePort } from './redis-server.js';

let server: RedisServer;
/** Unhandled rejections seen while a test ran: each test fails if there was one. */
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await RedisServer.start();
});
after(async () => {
  process.off('unhandledRejection', onUnhandled);
  await server?.stop();
});
afterEach(async () => {
  // Let rejections of the test's last turn surface before judging.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(unhandled.splice(0), [], 'no unhandled rejection escaped');
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
let n = 0;
const fresh = (): string => `t${++n}:${process.pid}:`;

async function tier(options: Partial<RedisTierOptions> = {}): Promise<RedisTier> {
  return RedisTier.connect({ url: server.url, prefix: fresh(), timeout: 5_000, ...options });
}

/** A raw client, to look at what the tier left in Redis. */
// eslint-disable-next-line @typescript-eslint/explicit-function-return-type
async function raw() {
  const c = createClient({ url: server.url });
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** Resolves with the next breaker state the tier reports. */
function breakerEvents(): { options: Partial<RedisTierOptions>; next(state: 'open' | 'closed'): Promise<void> } {
  const waiters: { state: string; resolve: () => void }[] = [];
  const seen: string[] = [];
  return {
    options: {
      onBreaker: (state) => {
        seen.push(state);
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.state === state) {
            waiters[i]!.resolve();
            waiters.splice(i, 1);
            seen.pop();
          }
        }
      },
    },
    next(state) {
      const i = seen.indexOf(state);
      if (i >= 0) {
        seen.splice(i, 1);
        return Promise.resolve();
      }
      return new Promise((resolve) => waiters.push({ state, resolve }));
    },
  };
}

describe('options are checked before anything connects', () => {
  test('a bad url, a prefix that is not a string, a timeout that is not positive: errors naming the option', async () => {
    const cases: [Record<string, unknown>, new (...a: any[]) => Error, RegExp][] = [
      [{ url: 'http://127.0.0.1:6379' }, TypeError, /'url'/],
      [{ url: 'not a url' }, TypeError, /'url'/],
      [{ url: 42 }, TypeError, /'url'/],
      [{}, TypeError, /'url'/],
      [{ url: server.url, prefix: 7 }, TypeError, /'prefix'/],
      [{ url: server.url, prefix: null }, TypeError, /'prefix'/],
      [{ url: server.url, timeout: 0 }, RangeError, /'timeout'/],
      [{ url: server.url, timeout: -5 }, RangeError, /'timeout'/],
      [{ url: server.url, timeout: NaN }, RangeError, /'timeout'/],
      [{ url: server.url, timeout: '50' }, RangeError, /'timeout'/],
      [{ url: server.url, connectTimeout: Infinity }, RangeError, /'connectTimeout'/],
      [{ url: server.url, breaker: { failures: 0 } }, RangeError, /'breaker.failures'/],
      [{ url: server.url, breaker: { coolDown: -1 } }, RangeError, /'breaker.coolDown'/],
      [{ url: server.url, breaker: { other: 1 } }, TypeError, /'breaker.other'/],
      [{ url: server.url, onBreaker: 'x' }, TypeError, /'onBreaker'/],
      [{ url: server.url, client: {} }, TypeError, /'client'/],
      [{ url: server.url, timout: 5 }, TypeError, /"timout"/],
    ];
    for (const [options, cls, re] of cases) {
      await assert.rejects(RedisTier.connect(options as RedisTierOptions), (e: Error) => e instanceof cls && re.test(e.message), JSON.stringify(options));
    }
    for (const [options, cls, re] of [
      [{ url: server.url }, TypeError, /'channel'/],
      [{ url: 'ftp://x', channel: 'c' }, TypeError, /'url'/],
      [{ url: server.url, channel: 'c', timeout: 0 }, RangeError, /'timeout'/],
      [{ url: server.url, channel: '' }, TypeError, /'channel'/],
    ] as const) {
      assert.throws(() => new RedisBus(options as never), (e: Error) => e instanceof cls && re.test(e.message), JSON.stringify(options));
    }
  });

  test('connect() to a port where nothing listens rejects with RedisUnavailableError within connectTimeout', async () => {
    const port = await freePort();
    await assert.rejects(RedisTier.connect({ url: `redis://127.0.0.1:${port}`, connectTimeout: 300 }), (e: Error) => {
      return e instanceof RedisUnavailableError && e.code === 'ERR_CORTADO_REDIS_UNAVAILABLE';
    });
  });
});

describe('bytes, ttl, clear', () => {
  test('keys are prefix + bytes in Redis; values are the exact bytes', async () => {
    const t = await tier();
    const c = await raw();
    try {
      await t.set(new Uint8Array([0xff, 0x00, 0x41]), new Uint8Array([0, 1, 2, 255]));
      const stored = await c.withTypeMapping({ 36: Buffer } as never).get(Buffer.concat([Buffer.from(t.prefix), Buffer.from([0xff, 0x00, 0x41])]));
      assert.deepEqual([...(stored as unknown as Buffer)], [0, 1, 2, 255]);
      await t.set('é', text('utf8 key'));
      assert.equal(await c.get(`${t.prefix}é`), 'utf8 key');
    } finally {
      await t.close();
      c.destroy();
    }
  });

  test('ttl is milliseconds end to end (PX), and get reports what Redis has left', async () => {
    const t = await tier();
    const c = await raw();
    try {
      await t.set('k', text('v'), { ttl: 1_500 });
      const pttl = await c.pTTL(`${t.prefix}k`);
      assert.ok(pttl > 0 && pttl <= 1_500, `PTTL ${pttl} in (0, 1500]: milliseconds, not seconds`);
      const got = await t.get('k');
      assert.ok(got !== undefined && got.ttl > 0 && got.ttl <= 1_500, `remaining ${got?.ttl}`);
      // Redis shortens the key's life: get follows Redis, not what was given.
      await c.pExpire(`${t.prefix}k`, 100_000 - 99_990);
      const later = await t.get('k');
      assert.ok(later === undefined || later.ttl <= 10, `ttl follows Redis: ${later?.ttl}`);
      await t.set('forever', text('v'));
      assert.equal(await c.pTTL(`${t.prefix}forever`), -1);
      assert.equal((await t.get('forever'))?.ttl, Infinity);
      // A fractional ttl is rounded up to a whole ms (PX takes integers), never dropped.
      await t.set('frac', text('v'), { ttl: 2_000.4 });
      const fp = await c.pTTL(`${t.prefix}frac`);
      assert.ok(fp > 0 && fp <= 2_001, `PTTL ${fp}`);
    } finally {
      await t.close();
      c.destroy();
    }
  });

  test('clear() removes the prefix with SCAN + UNLINK, and only the prefix (glob characters in it are literal)', async () => {
    const c = await raw();
    const prefix = `glob*[a]?\\:${n++}:`;
    const t = await RedisTier.connect({ url: server.url, prefix, timeout: 5_000 });
    try {
      // Keys an unescaped pattern would match, and keys of other prefixes.
      const outsiders = [`globX[a]?\\:${n - 1}:k`, `glob*a?\\:${n - 1}:k`, `glob*[a]x\\:${n - 1}:k`, 'other:k', prefix.slice(0, -1)];
      for (const k of outsiders) await c.set(k, 'keep');
      for (let i = 0; i < 2_500; i++) await t.set(`k${i}`, text(String(i)));
      await t.set(new Uint8Array([0, 255]), text('bin'));
      await c.set('cmdstat-probe', 'x');
      await c.configResetStat();
      await t.clear();
      for (let i = 0; i < 2_500; i += 97) assert.equal(await t.get(`k${i}`), undefined);
      assert.equal(await t.get(new Uint8Array([0, 255])), undefined);
      for (const k of outsiders) assert.equal(await c.get(k), 'keep', `outsider ${k} survives`);
      const info = await c.info('commandstats');
      assert.match(info, /cmdstat_scan:calls=\d+/);
      assert.match(info, /cmdstat_unlink:calls=\d+/);
      assert.doesNotMatch(info, /cmdstat_keys:/, 'KEYS never used');
      const scans = Number(/cmdstat_scan:calls=(\d+)/.exec(info)![1]);
      assert.ok(scans >= 2, `clear walked in batches (${scans} SCAN calls)`);
    } finally {
      await t.close();
      c.destroy();
    }
  });

  test('with the v8 codec, Buffer, Date, Map, Set and BigInt round-trip through Redis', async () => {
    const t = await tier();
    try {
      const value = {
        buf: Buffer.from([0, 1, 2, 250]),
        date: new Date('2024-02-29T12:34:56.789Z'),
        map: new Map<unknown, unknown>([
          ['a', 1],
          [2, new Set(['x'])],
        ]),
        set: new Set([1n, 2n ** 70n]),
        big: -(2n ** 65n),
        nested: [new Date(0), { u8: new Uint8Array([9]) }],
      };
      // codec.ts has no public entry point of its own yet: the built module, as the package ships it.
      const { v8Codec } = (await import(new URL('../../dist/codec.js', import.meta.url).href)) as typeof import('../dist/codec.js');
      await t.set('v8', v8Codec.encode(value));
      const back = v8Codec.decode((await t.get('v8'))!.bytes) as typeof value;
      assert.ok(Buffer.isBuffer(back.buf), 'a Buffer comes back as a Buffer');
      assert.deepEqual(back, value);
      assert.ok(back.date instanceof Date && back.map instanceof Map && back.set instanceof Set);
      assert.equal(typeof back.big, 'bigint');
    } finally {
      await t.close();
    }
  });

  test('a value of another Redis type under the key rejects as a server reply error and does not open the breaker', async () => {
    const t = await tier({ breaker: { failures: 1 } });
    const c = await raw();
    try {
      await c.lPush(`${t.prefix}list`, 'x');
      await assert.rejects(t.get('list'), (e: Error & { code?: string }) => e.code === 'ERR_CORTADO_REDIS_REPLY');
      assert.equal(t.stats().breakerOpen, false);
      assert.equal(t.stats().errors, 1);
    } finally {
      await t.close();
      c.destroy();
    }
  });
});

describe('a client of your own', () => {
  test('RedisTier and RedisBus use a given node-redis client and leave it open on close', async () => {
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on('error', () => {});
    await client.connect();
    const t = await RedisTier.connect({ client, prefix: fresh(), timeout: 5_000 });
    const listener = new RedisBus({ url: server.url, channel: `ch:${fresh()}` });
    const bus = new RedisBus({ client, channel: listener.channel });
    try {
      await t.set('k', text('mine'));
      assert.equal(await client.get(`${t.prefix}k`), 'mine');
      let heard!: (m: Invalidation) => void;
      const got = new Promise<Invalidation>((r) => (heard = r));
      await listener.subscribe((m) => heard(m), () => {});
      await bus.publish({ type: 'clear' });
      assert.deepEqual(await got, { type: 'clear' });
      await t.close();
      await bus.close();
      assert.equal(client.isOpen, true, 'the caller still owns the client');
      assert.equal(await client.get(`${t.prefix}k`), 'mine');
    } finally {
      await t.close();
      await bus.close();
      await listener.close();
      client.destroy();
    }
  });
});

describe('lock', () => {
  test('SET NX PX with a token; release deletes only its own lock', async () => {
    const t = await tier();
    const c = await raw();
    try {
      const lock = new RedisLock(t, { ttl: 10_000 });
      const a = await lock.acquire('k');
      assert.ok(a !== undefined);
      assert.equal(await lock.acquire('k'), undefined, 'held');
      const pttl = await c.pTTL(`${t.prefix}lock:k`);
      assert.ok(pttl > 0 && pttl <= 10_000, `lock expires (${pttl})`);
      // The lock expired and someone else took it: the old holder's release must not delete it.
      await c.set(`${t.prefix}lock:k`, 'someone-else', { PX: 10_000 });
      assert.equal(await a.release(), false);
      assert.equal(await c.get(`${t.prefix}lock:k`), 'someone-else');
      await c.del(`${t.prefix}lock:k`);
      const b = await lock.acquire('k');
      assert.equal(await b!.release(), true);
      assert.equal(await c.exists(`${t.prefix}lock:k`), 0);
    } finally {
      await t.close();
      c.destroy();
    }
  });

  test('singleFlight: concurrent misses in one process share one load; a waiter is served by the holder', async () => {
    const t = await tier();
    try {
      const lock = new RedisLock(t, { ttl: 5_000 });
      let loads = 0;
      const load = async (): Promise<string> => {
        loads++;
        await t.set('v', text('loaded'));
        return 'loaded';
      };
      const reread = async (): Promise<string | undefined> => {
        const e = await t.get('v');
        return e && new TextDecoder().decode(e.bytes);
      };
      const results = await Promise.all(Array.from({ length: 100 }, () => lock.singleFlight('v', load, reread)));
      assert.ok(results.every((r) => r === 'loaded'));
      assert.equal(loads, 1);
      // Another "process" (a second lock object) holds the lock: this one waits and rereads.
      const other = new RedisLock(t, { ttl: 5_000 });
      await t.delete('v');
      const held = await other.acquire('v');
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const waiting = lock.singleFlight('v', load, reread);
      // The holder finishes its load, writes the value and releases.
      void (async () => {
        await released;
        await t.set('v', text('from-holder'));
        await held!.release();
      })();
      release();
      assert.equal(await waiting, 'from-holder');
      assert.equal(loads, 1, 'the waiter did not load');
      assert.equal(lock.stats().servedByOthers, 1);
    } finally {
      await t.close();
    }
  });

  test('singleFlight loads by itself when Redis cannot be asked', async () => {
    const t = await tier();
    const lock = new RedisLock(t);
    await t.close();
    // A closed tier is one way Redis cannot be asked; the loader still answers.
    assert.equal(await lock.singleFlight('k', async () => 'direct', async () => undefined), 'direct');
    assert.equal(lock.stats().unlockedLoads, 1);
  });
});

describe('bus in one process', () => {
  test('two bus instances hear each other but not themselves; messages keep their order', async () => {
    const a = new RedisBus({ url: server.url, channel: `ch:${fresh()}` });
    const b = new RedisBus({ url: server.url, channel: a.channel });
    const heardA: Invalidation[] = [];
    const heardB: Invalidation[] = [];
    let gapsA = 0;
    let onA: () => void = () => {};
    try {
      await a.subscribe(
        (m) => {
          heardA.push(m);
          onA();
        },
        () => gapsA++,
      );
      let done!: () => void;
      const all = new Promise<void>((r) => (done = r));
      await b.subscribe(
        (m) => {
          heardB.push(m);
          if (heardB.length === 3) done();
        },
        () => {},
      );
      assert.equal(gapsA, 1, 'onGap once after the first subscription');
      await a.publish({ type: 'delete', keys: ['x', 'y'] });
      await a.publish({ type: 'clear' });
      await a.publish({ type: 'delete', keys: ['é\u0000z'] });
      await all;
      assert.deepEqual(heardB, [{ type: 'delete', keys: ['x', 'y'] }, { type: 'clear' }, { type: 'delete', keys: ['é\u0000z'] }]);
      // A message b sends reaches a; a's own three never came back to a.
      const got = new Promise<void>((r) => (onA = r));
      await b.publish({ type: 'delete', keys: ['from-b'] });
      await got;
      assert.deepEqual(heardA, [{ type: 'delete', keys: ['from-b'] }]);
      assert.equal(a.stats().ownSkipped, 3);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('the first publish of a new bus waits for its connection (within the timeout) instead of failing', async () => {
    const a = new RedisBus({ url: server.url, channel: `ch:${fresh()}` });
    let heard!: (m: Invalidation) => void;
    const got = new Promise<Invalidation>((r) => (heard = r));
    await a.subscribe((m) => heard(m), () => {});
    const c = new RedisBus({ url: server.url, channel: a.channel, timeout: 5_000 });
    try {
      await c.publish({ type: 'delete', keys: ['first'] });
      assert.deepEqual(await got, { type: 'delete', keys: ['first'] });
    } finally {
      await a.close();
      await c.close();
    }
  });

  test('bad messages: publish rejects a malformed invalidation with a TypeError', async () => {
    const a = new RedisBus({ url: server.url, channel: `ch:${fresh()}` });
    try {
      await assert.rejects(a.publish({ type: 'nope' } as never), TypeError);
      await assert.rejects(a.publish({ type: 'delete', keys: [1] } as never), TypeError);
      await assert.rejects(a.publish(null as never), TypeError);
    } finally {
      await a.close();
    }
  });
});

describe('faults', () => {
  test('server killed mid-run: calls settle within the timeout, the breaker opens and skips, and the tier resumes after a restart', async () => {
    const ev = breakerEvents();
    const t = await tier({ timeout: 200, breaker: { failures: 3, coolDown: 50 }, ...ev.options });
    try {
      await t.set('k', text('before'));
      assert.ok(await t.get('k'));
      await server.kill();
      // Every call settles: a get as a miss or a rejection with a code; writes reject.
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => t.get(`k${i}`)));
      for (const o of outcomes) {
        if (o.status === 'fulfilled') assert.equal(o.value, undefined);
        else assert.match((o.reason as { code: string }).code, /^ERR_CORTADO_REDIS_/);
      }
      await ev.next('open');
      const skippedBefore = t.stats().skipped;
      assert.equal(await t.get('k'), undefined, 'an open breaker answers a get as a miss');
      await assert.rejects(t.set('k', text('during')), RedisUnavailableError, 'a write is never silently dropped');
      await assert.rejects(t.delete('k'), RedisUnavailableError);
      assert.ok(t.stats().skipped >= skippedBefore + 3);
      await server.restart();
      await ev.next('closed');
      // The restarted server has no data (no persistence), and the set refused during the
      // outage was not queued and replayed on reconnect (no offline queue).
      assert.equal(await t.get('k'), undefined, 'no write from the outage was replayed');
      await t.set('k', text('after'));
      assert.deepEqual((await t.get('k'))?.bytes, Buffer.from('after'));
    } finally {
      await t.close();
    }
  });

  test('connect() while the server is still down resolves once it is up, and the tier works at once', async () => {
    await server.kill();
    let connected = false;
    const pending = RedisTier.connect({ url: server.url, prefix: fresh(), timeout: 5_000, connectTimeout: 30_000 }).then((t) => {
      connected = true;
      return t;
    });
    // Refused attempts are happening now; the server comes back.
    await server.restart();
    const t = await pending;
    try {
      assert.equal(connected, true);
      assert.equal(t.stats().breakerOpen, false, 'refused attempts before the first connection do not leave the breaker open');
      await t.set('k', text('at once'));
      assert.deepEqual((await t.get('k'))?.bytes, Buffer.from('at once'));
    } finally {
      await t.close();
    }
  });

  test('server paused with SIGSTOP: calls time out, the breaker opens, and SIGCONT resumes', async () => {
    const ev = breakerEvents();
    const t = await tier({ timeout: 100, breaker: { failures: 3, coolDown: 50 }, ...ev.options });
    try {
      await t.set('k', text('v'));
      server.pause();
      const results = await Promise.allSettled([t.get('k'), t.set('k', text('w')), t.get('k')]);
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.ok((r as PromiseRejectedResult).reason instanceof RedisTimeoutError);
      }
      await ev.next('open');
      assert.equal(t.stats().timeouts, 3);
      assert.equal(await t.get('k'), undefined, 'skipped while open');
      server.resume();
      await ev.next('closed');
      // The timed-out set may or may not have been applied: one of the two values, never another.
      const v = await t.get('k');
      assert.ok(v !== undefined && ['v', 'w'].includes(Buffer.from(v.bytes).toString()));
    } finally {
      if (server.paused) server.resume();
      await t.close();
    }
  });

  test('bus: after the server restarts, the subscriber re-subscribes and onGap fires; messages flow again', async () => {
    const a = new RedisBus({ url: server.url, channel: `ch:${fresh()}`, timeout: 1_000 });
    const b = new RedisBus({ url: server.url, channel: a.channel, timeout: 1_000 });
    let gaps = 0;
    let onGap: () => void = () => {};
    const heard: Invalidation[] = [];
    let onHeard: () => void = () => {};
    try {
      await a.subscribe(
        (m) => {
          heard.push(m);
          onHeard();
        },
        () => {
          gaps++;
          onGap();
        },
      );
      await b.subscribe(() => {}, () => {});
      assert.equal(gaps, 1);
      const gap = new Promise<void>((r) => (onGap = r));
      await server.restart();
      await gap;
      assert.equal(gaps, 2, 'onGap after the reconnect');
      // Publishing works again once b's publisher is back; retry until it is (each try bounded).
      const got = new Promise<void>((r) => (onHeard = r));
      for (let i = 0; i < 200; i++) {
        try {
          await b.publish({ type: 'delete', keys: ['after-restart'] });
          break;
        } catch (e) {
          assert.match((e as { code: string }).code, /^ERR_CORTADO_REDIS_/);
          await delay(20); // a retry back-off while b's publisher reconnects; the assertion waits on `got`
        }
      }
      await got;
      assert.deepEqual(heard, [{ type: 'delete', keys: ['after-restart'] }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('through TieredCache while Redis is down: memory keeps serving, misses reach the loader, nothing hangs; then Redis is used again', async () => {
    const ev = breakerEvents();
    // Generous per-call timeouts: the outage is seen through the dropped connection, not the
    // timeout, and a loaded machine must not turn the last write-through into a timeout.
    const t = await tier({ timeout: 1_000, breaker: { failures: 2, coolDown: 50 }, ...ev.options });
    const redisBus = new RedisBus({ url: server.url, channel: `ch:${fresh()}`, timeout: 1_000 });
    // The bus reports a gap after each confirmed subscription; a gap makes TieredCache drop
    // what was in flight (it may have missed messages), so the test waits for the one after
    // the restart before it checks that a load goes down to Redis again.
    let gaps = 0;
    let gapWaiter: { n: number; resolve: () => void } | undefined;
    const bus: InvalidationBus = {
      subscribe: (onMessage, onGap) =>
        redisBus.subscribe(onMessage, () => {
          onGap();
          gaps++;
          if (gapWaiter !== undefined && gaps >= gapWaiter.n) gapWaiter.resolve();
        }),
      publish: (m) => redisBus.publish(m),
      close: () => redisBus.close(),
    };
    const gapNumber = (n: number): Promise<void> => (gaps >= n ? Promise.resolve() : new Promise((resolve) => (gapWaiter = { n, resolve })));
    let loads = 0;
    const cache = new TieredCache<string, string>({
      memory: new Cache({ maxEntries: 100 }),
      tiers: [{ tier: t, write: 'through' }],
      bus,
      loader: async (key) => {
        loads++;
        return `loaded:${key}`;
      },
      ttl: 60_000,
    });
    try {
      await cache.ready();
      await cache.set('a', 'A');
      await server.kill();
      assert.equal(await cache.get('a'), 'A', 'memory serves during the outage');
      assert.equal(await cache.fetch('b'), 'loaded:b', 'a miss reaches the loader');
      assert.equal(await cache.fetch('c'), 'loaded:c');
      assert.equal(loads, 2);
      await ev.next('open');
      assert.equal(await cache.fetch('d'), 'loaded:d', 'with the breaker open too');
      assert.ok(t.stats().skipped > 0, 'skipped calls are counted');
      const gapsBefore = gaps;
      await server.restart();
      await ev.next('closed');
      await gapNumber(gapsBefore + 1);
      assert.equal(await cache.fetch('e'), 'loaded:e');
      const below = await t.get('e');
      assert.equal(below && Buffer.from(below.bytes).length > 0, true, 'the loaded value went down to Redis again');
    } finally {
      await cache.close();
    }
  });

  test('bus publish while the server is paused rejects within its timeout, and the invalidation is sent again after SIGCONT', { timeout: 20_000 }, async () => {
    const a = new RedisBus({ url: server.url, channel: `ch:${fresh()}`, timeout: 100 });
    const b = new RedisBus({ url: server.url, channel: a.channel, timeout: 100 });
    const heard: Invalidation[] = [];
    let onHeard: () => void = () => {};
    let gaps = 0;
    try {
      await a.subscribe(() => {}, () => {});
      await b.subscribe(
        (m) => {
          heard.push(m);
          onHeard();
        },
        () => gaps++,
      );
      const warm = new Promise<void>((r) => (onHeard = r));
      await a.publish({ type: 'delete', keys: ['warm-up'] });
      await warm;
      server.pause();
      await assert.rejects(a.publish({ type: 'delete', keys: ['x'] }), RedisTimeoutError);
      await assert.rejects(a.publish({ type: 'delete', keys: ['y'] }), RedisTimeoutError);
      assert.notEqual(a.stats().pendingRetry, 0, 'what failed waits to be sent again');
      // The paused server runs the two timed-out PUBLISHes when resumed (2 deliveries); the
      // retry sends the backlog again (a third at least). Without the retry this wait fails.
      const again = new Promise<void>((r) => (onHeard = () => heard.length >= 1 + 3 && r()));
      server.resume();
      await again;
      assert.ok(a.stats().retried >= 1);
      const keys = new Set(heard.slice(1).flatMap((m) => (m.type === 'delete' ? m.keys : [])));
      assert.deepEqual([...keys].sort(), ['x', 'y'], 'only x and y were (re)sent');
      assert.equal(gaps, 1, 'only the gap of the first subscription');
    } finally {
      if (server.paused) server.resume();
      await a.close();
      await b.close();
    }
  });
});

