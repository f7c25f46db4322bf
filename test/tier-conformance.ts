/**
 * The Tier conformance suite: every behaviour src/tiered/tier.ts asks of a tier below memory,
 * as node:test `describe`/`test` blocks that any tier registers against itself:
 *
 *   import { tierConformance } from './tier-conformance.js';
 *   tierConformance('DiskTier', async ({ clock }) => {
 *     const dir = await mkdtemp(...);
 *     const tier = await DiskTier.open({ path: dir, clock });
 *     return { tier, cleanup: () => rm(dir, { recursive: true, force: true }) };
 *   }, { clock: true });
 *
 * Each test opens a fresh tier, closes it (errors ignored) and calls `cleanup` at the end.
 *
 * Time: with `clock: true` the tier must read expiry time from `ctx.clock` (a clock the suite
 * moves by hand; it starts at the wall-clock time the suite was loaded, so a tier that stores
 * absolute times works). Without it the suite never waits for anything to expire: it checks
 * only that `get` reports a remaining ttl in (0, given].
 *
 * The suite is self-contained on purpose (the structural types below, no import from the
 * package) so that a tier's branch can take this one file before the tiered module is merged:
 * any `Tier` of src/tiered/tier.ts is a `ConformanceTier`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

// ---------------------------------------------------------------------------------------
// what the suite needs (mirrors src/tiered/tier.ts)
// ---------------------------------------------------------------------------------------

export type ConformanceKey = string | Uint8Array;
export interface ConformanceTier {
  readonly name: string;
  get(key: ConformanceKey): Promise<{ bytes: Uint8Array; ttl: number } | undefined>;
  set(key: ConformanceKey, bytes: Uint8Array, options?: { ttl?: number | undefined }): Promise<void>;
  delete(key: ConformanceKey): Promise<boolean>;
  clear(): Promise<void>;
  close(): Promise<void>;
  stats(): { hits: number; misses: number; writes: number; bytesWritten: number; rejected: number; errors: number; corruptions: number };
}

/** What `open` is given. */
export interface ConformanceContext {
  /** A ms clock the suite moves by hand; give it to the tier when `options.clock` is true. */
  readonly clock: () => number;
}

export interface OpenedTier {
  tier: ConformanceTier;
  /** Remove what the tier left behind (files, keys); called after the tier is closed. */
  cleanup(): Promise<void>;
}

export interface TierConformanceOptions {
  /** The tier reads expiry time from `ctx.clock` (default false: real time, no expiry waits). */
  clock?: boolean;
  /**
   * Largest value the tier accepts as configured by `open` (default: no limit). When given,
   * the suite checks that a larger set is declined (resolves or rejects with a RangeError)
   * and removes the key's older value.
   */
  maxValueBytes?: number;
  /** Size of the "large value" test (default min(4 MiB, maxValueBytes)). */
  largeValueBytes?: number;
  /** The `code` a closed tier rejects with (default: any non-empty string, the same for every call). */
  closedCode?: string;
  /**
   * For tiers that persist: open the same storage again after the tier from `open` was closed
   * (the suite then checks that values survive and deleted keys stay deleted).
   */
  reopen?: (ctx: ConformanceContext) => Promise<ConformanceTier>;
  /** Operations in the one-key concurrency test (default 300). */
  concurrentOps?: number;
  /** Per-test timeout in ms (default 30,000): no test of the suite can hang past it. */
  timeout?: number;
}

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

class HandClock {
  now: number;
  constructor(start: number) {
    this.now = start;
  }
  readonly fn = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

/** Deterministic PRNG (mulberry32) so a failing sequence can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` bytes that depend on `seed` everywhere (a torn or shifted copy does not match). */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

function assertBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: expected ${expected.byteLength} bytes, got ${String(actual)}`);
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  assert.ok(same(actual, expected), `${what}: bytes differ`);
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Runs `fn` and returns what it threw or rejected with (undefined when it succeeded). */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

async function assertRejects(fn: () => Promise<unknown>, classes: readonly (new (...a: any[]) => Error)[], what: string): Promise<void> {
  const e = await failure(fn);
  assert.ok(e !== undefined, `${what}: expected ${classes.map((c) => c.name).join(' or ')}, but the call succeeded`);
  assert.ok(
    classes.some((c) => e instanceof c),
    `${what}: expected ${classes.map((c) => c.name).join(' or ')}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
  );
}

// ---------------------------------------------------------------------------------------
// the suite
// ---------------------------------------------------------------------------------------

/** Register the conformance tests for one tier. */
export function tierConformance(name: string, open: (ctx: ConformanceContext) => Promise<OpenedTier>, options: TierConformanceOptions = {}): void {
  const timeout = options.timeout ?? 30_000;
  const fake = options.clock === true;
  const maxValue = options.maxValueBytes;
  const large = options.largeValueBytes ?? Math.min(4 * 2 ** 20, maxValue ?? Infinity);
  const concurrentOps = options.concurrentOps ?? 300;

  /** Open a fresh tier on a fresh hand clock, run `body`, then close and clean up whatever happened. */
  async function withTier(body: (tier: ConformanceTier, clock: HandClock) => Promise<void>): Promise<void> {
    const clock = new HandClock(Math.floor(Date.now()));
    const opened = await open({ clock: clock.fn });
    try {
      await body(opened.tier, clock);
    } finally {
      await opened.tier.close().catch(() => {});
      await opened.cleanup();
    }
  }

  const t = (title: string, body: (tier: ConformanceTier, clock: HandClock) => Promise<void>): void => {
    test(title, { timeout }, () => withTier(body));
  };

  describe(`Tier conformance: ${name}`, () => {
    describe('get, set, delete, clear', () => {
      t('a key never set is a miss', async (tier) => {
        assert.equal(await tier.get('never-set'), undefined);
        assert.equal(await tier.get(new Uint8Array([1, 2, 3])), undefined);
      });

      t('get returns the bytes of the last set, with ttl Infinity when none was given', async (tier) => {
        const v = text('hello, tier');
        await tier.set('k', v);
        const got = await tier.get('k');
        assertBytes(got?.bytes, v, 'get after set');
        assert.equal(got!.ttl, Infinity);
        // ttl 0 and { ttl: undefined } both mean no expiry.
        await tier.set('k0', v, { ttl: 0 });
        assert.equal((await tier.get('k0'))?.ttl, Infinity);
        await tier.set('ku', v, { ttl: undefined });
        assert.equal((await tier.get('ku'))?.ttl, Infinity);
        await tier.set('ke', v, {});
        assert.equal((await tier.get('ke'))?.ttl, Infinity);
      });

      t('overwrite replaces bytes (longer and shorter) and ttl', async (tier) => {
        const a = pattern(100, 1);
        const b = pattern(5000, 2);
        const c = pattern(3, 3);
        await tier.set('k', a, { ttl: 3_600_000 });
        await tier.set('k', b);
        const got = await tier.get('k');
        assertBytes(got?.bytes, b, 'after a longer overwrite');
        assert.equal(got!.ttl, Infinity, 'an overwrite without ttl has no expiry');
        await tier.set('k', c, { ttl: 3_600_000 });
        const got2 = await tier.get('k');
        assertBytes(got2?.bytes, c, 'after a shorter overwrite');
        assert.ok(got2!.ttl > 0 && got2!.ttl <= 3_600_000, `ttl ${got2!.ttl} within (0, 3600000]`);
      });

      t('delete resolves true for a present key, false for an absent one, and removes it', async (tier) => {
        await tier.set('k', text('v'));
        await tier.set('other', text('w'));
        assert.equal(await tier.delete('k'), true);
        assert.equal(await tier.get('k'), undefined);
        assert.equal(await tier.delete('k'), false, 'second delete');
        assert.equal(await tier.delete('never-set'), false);
        assertBytes((await tier.get('other'))?.bytes, text('w'), 'a neighbour survives');
        // Set after delete works.
        await tier.set('k', text('again'));
        assertBytes((await tier.get('k'))?.bytes, text('again'), 'set after delete');
      });

      t('clear removes every key; the tier works afterwards', async (tier) => {
        for (let i = 0; i < 50; i++) await tier.set(`key-${i}`, pattern(10 + i, i));
        await tier.set(new Uint8Array([0, 255, 0]), text('binary'));
        await tier.clear();
        for (let i = 0; i < 50; i++) assert.equal(await tier.get(`key-${i}`), undefined, `key-${i} after clear`);
        assert.equal(await tier.get(new Uint8Array([0, 255, 0])), undefined);
        await tier.clear(); // clearing an empty tier is fine
        await tier.set('key-1', text('after'));
        assertBytes((await tier.get('key-1'))?.bytes, text('after'), 'set after clear');
      });

      t('many keys are held apart', async (tier) => {
        const n = 200;
        for (let i = 0; i < n; i++) await tier.set(`many:${i}`, pattern(1 + ((i * 37) % 700), i));
        for (let i = 0; i < n; i++) assertBytes((await tier.get(`many:${i}`))?.bytes, pattern(1 + ((i * 37) % 700), i), `many:${i}`);
      });
    });

    describe('values', () => {
      t('empty (0-byte) values are values, not misses', async (tier) => {
        await tier.set('empty', new Uint8Array(0));
        const got = await tier.get('empty');
        assert.ok(got !== undefined, 'an empty value is found');
        assert.equal(got.bytes.byteLength, 0);
        assert.equal(await tier.delete('empty'), true);
      });

      t(`a large value (${large} bytes) comes back intact`, async (tier) => {
        const v = pattern(large, 77);
        await tier.set('large', v);
        assertBytes((await tier.get('large'))?.bytes, v, 'large value');
        // And again after an overwrite with another large value.
        const w = pattern(large, 78);
        await tier.set('large', w);
        assertBytes((await tier.get('large'))?.bytes, w, 'large overwrite');
      });

      t('sizes around common block boundaries come back intact', async (tier) => {
        const sizes = [1, 2, 255, 256, 511, 512, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 4097, 8191, 8192, 65535, 65536, 65537].filter(
          (n) => maxValue === undefined || n <= maxValue,
        );
        for (const [i, n] of sizes.entries()) await tier.set(`size:${n}`, pattern(n, 1000 + i));
        for (const [i, n] of sizes.entries()) assertBytes((await tier.get(`size:${n}`))?.bytes, pattern(n, 1000 + i), `size ${n}`);
      });

      t('a view into a larger buffer stores only its own bytes', async (tier) => {
        const backing = pattern(1000, 5);
        const view = backing.subarray(100, 164);
        await tier.set('view', view);
        assertBytes((await tier.get('view'))?.bytes, backing.slice(100, 164), 'subarray value');
        await tier.set('buffer', Buffer.from('a Buffer is a Uint8Array'));
        assertBytes((await tier.get('buffer'))?.bytes, text('a Buffer is a Uint8Array'), 'Buffer value');
      });

      t('reusing the buffer after set resolves does not change what is stored', async (tier) => {
        const buf = pattern(4096, 9);
        const copy = buf.slice();
        await tier.set('reuse', buf);
        buf.fill(0xee);
        assertBytes((await tier.get('reuse'))?.bytes, copy, 'stored bytes after the caller reused its buffer');
      });

      t('bytes returned by get belong to the caller: later sets and gets do not change them', async (tier) => {
        const a = pattern(3000, 21);
        await tier.set('owned', a);
        const first = (await tier.get('owned'))!.bytes;
        for (let i = 0; i < 20; i++) {
          await tier.set('owned', pattern(3000, 100 + i));
          await tier.set(`neighbour:${i}`, pattern(3000, 200 + i));
          await tier.get(`neighbour:${i}`);
        }
        assertBytes(first, a, 'bytes kept from an earlier get');
        // Changing returned bytes does not change the stored value either.
        const second = (await tier.get('owned'))!.bytes;
        const expected = pattern(3000, 119);
        assertBytes(second, expected, 'latest value');
        second.fill(0);
        assertBytes((await tier.get('owned'))?.bytes, expected, 'stored value after the caller wrote into returned bytes');
      });

      if (maxValue !== undefined) {
        t(`a value larger than ${maxValue} bytes is declined and removes the older value`, async (tier) => {
          await tier.set('big', text('old'));
          const before = tier.stats().rejected;
          const e = await failure(() => tier.set('big', new Uint8Array(maxValue + 1)));
          if (e !== undefined) assert.ok(e instanceof RangeError, `an over-large set rejects with a RangeError, got ${String(e)}`);
          else assert.ok(tier.stats().rejected > before, 'a declined set is counted in rejected');
          assert.equal(await tier.get('big'), undefined, 'no older bytes are served after a declined set');
        });
      }
    });

    describe('keys', () => {
      t('a string key is its UTF-8 bytes: string and Uint8Array keys compare by bytes', async (tier) => {
        await tier.set('abc', text('1'));
        assertBytes((await tier.get(new Uint8Array([0x61, 0x62, 0x63])))?.bytes, text('1'), 'Uint8Array lookup of a string key');
        await tier.set(new Uint8Array([0x78, 0x79]), text('2'));
        assertBytes((await tier.get('xy'))?.bytes, text('2'), 'string lookup of a Uint8Array key');
        await tier.set('café ☕', text('3'));
        assertBytes((await tier.get(text('café ☕')))?.bytes, text('3'), 'non-ASCII string key by its UTF-8 bytes');
        // Distinct instances with equal bytes are one key; a view compares by its own bytes.
        const backing = new Uint8Array([9, 9, 0x78, 0x79, 9]);
        assertBytes((await tier.get(backing.subarray(2, 4)))?.bytes, text('2'), 'subarray key');
        assertBytes((await tier.get(Buffer.from('abc')))?.bytes, text('1'), 'Buffer key');
        assert.equal(await tier.delete(Buffer.from('xy')), true);
        assert.equal(await tier.get('xy'), undefined);
      });

      t('keys differ by any byte: prefixes, case, trailing NUL, invalid UTF-8', async (tier) => {
        const keys: ConformanceKey[] = [
          'ab',
          'abc',
          'ABC',
          'abc\0',
          '\0abc',
          new Uint8Array([0xff]),
          new Uint8Array([0xfe]),
          '\ufffd', // what [0xff] would become if a tier decoded keys as UTF-8
          new Uint8Array([0xc3, 0x28]), // invalid UTF-8 sequence
          'x'.repeat(250),
          'x'.repeat(251),
        ];
        for (const [i, k] of keys.entries()) await tier.set(k, pattern(8, 300 + i));
        for (const [i, k] of keys.entries()) assertBytes((await tier.get(k))?.bytes, pattern(8, 300 + i), `key #${i}`);
      });

      t('binary keys with NUL bytes are ordinary keys', async (tier) => {
        const k1 = new Uint8Array([0, 0, 0]);
        const k2 = new Uint8Array([0, 0]);
        const k3 = new Uint8Array([0, 1, 0, 2]);
        await tier.set(k1, text('three'));
        await tier.set(k2, text('two'));
        await tier.set(k3, text('mixed'));
        assertBytes((await tier.get(new Uint8Array([0, 0, 0])))?.bytes, text('three'), '[0,0,0]');
        assertBytes((await tier.get(new Uint8Array([0, 0])))?.bytes, text('two'), '[0,0]');
        assertBytes((await tier.get('\0\x01\0\x02'))?.bytes, text('mixed'), 'NUL string key equals its bytes');
        assert.equal(await tier.get(new Uint8Array([0])), undefined);
        assert.equal(await tier.delete(k2), true);
        assertBytes((await tier.get(k1))?.bytes, text('three'), '[0,0,0] after deleting [0,0]');
      });

      t('the empty key is an ordinary key', async (tier) => {
        await tier.set('', text('empty key'));
        assertBytes((await tier.get(new Uint8Array(0)))?.bytes, text('empty key'), 'empty key');
        assert.equal(await tier.get('\0'), undefined);
        assert.equal(await tier.delete(''), true);
      });

      t('a long binary key (1 KiB of every byte value) works', async (tier) => {
        const key = new Uint8Array(1024);
        for (let i = 0; i < key.length; i++) key[i] = i & 0xff;
        await tier.set(key, text('long'));
        assertBytes((await tier.get(key.slice()))?.bytes, text('long'), 'long key');
        key[1023] ^= 1;
        assert.equal(await tier.get(key), undefined, 'a key differing in its last byte');
      });
    });

    describe('ttl in milliseconds', () => {
      t('get reports the remaining ttl, never more than given', async (tier, clock) => {
        await tier.set('long', text('v'), { ttl: 3_600_000 });
        await tier.set('short', text('v'), { ttl: 1_500 });
        const long = await tier.get('long');
        assert.ok(long !== undefined && long.ttl > 0 && long.ttl <= 3_600_000, `remaining ttl ${long?.ttl} in (0, 3600000]`);
        const short = await tier.get('short');
        // Without a hand clock, real time may pass, but the value cannot have expired in the
        // milliseconds since the set... except on a very slow machine: a miss is allowed there.
        if (short !== undefined) assert.ok(short.ttl > 0 && short.ttl <= 1_500, `remaining ttl ${short.ttl} in (0, 1500]`);
        else assert.ok(!fake, 'a 1.5 s ttl expired while the hand clock did not move');
        if (fake) {
          clock.advance(400);
          const moved = await tier.get('short');
          assert.ok(moved !== undefined && moved.ttl > 0 && moved.ttl <= 1_100, `remaining ttl ${moved?.ttl} in (0, 1100] after 400 ms`);
        }
      });

      if (fake) {
        t('an entry expires at its deadline (hand clock)', async (tier, clock) => {
          await tier.set('k', text('v'), { ttl: 1_000 });
          await tier.set('forever', text('f'));
          clock.advance(999);
          assert.ok((await tier.get('k')) !== undefined, 'alive 1 ms before the deadline');
          clock.advance(1);
          assert.equal(await tier.get('k'), undefined, 'expired at the deadline');
          clock.advance(10 * 365 * 86_400_000);
          assertBytes((await tier.get('forever'))?.bytes, text('f'), 'no ttl: never expires');
        });

        t('an overwrite restarts the ttl; an overwrite without ttl removes it (hand clock)', async (tier, clock) => {
          await tier.set('k', text('a'), { ttl: 1_000 });
          clock.advance(800);
          await tier.set('k', text('b'), { ttl: 1_000 });
          clock.advance(800);
          assertBytes((await tier.get('k'))?.bytes, text('b'), 'new ttl counted from the overwrite');
          await tier.set('k', text('c'));
          clock.advance(5_000);
          assertBytes((await tier.get('k'))?.bytes, text('c'), 'no ttl after an overwrite without one');
        });

        t('an expired entry is a miss in stats and can be set again (hand clock)', async (tier, clock) => {
          await tier.set('k', text('v'), { ttl: 10 });
          clock.advance(10);
          const before = tier.stats().misses;
          assert.equal(await tier.get('k'), undefined);
          assert.equal(tier.stats().misses, before + 1);
          await tier.set('k', text('w'), { ttl: 10 });
          assertBytes((await tier.get('k'))?.bytes, text('w'), 'set after expiry');
        });
      }
    });

    describe('concurrency on one key', () => {
      t(`${concurrentOps} overlapping sets, gets and deletes: every get sees a written value or nothing; the last completed write stands`, async (tier) => {
        const random = rng(0xc0ffee);
        const written: Uint8Array[] = [];
        const ops: Promise<void>[] = [];
        const seen: (Uint8Array | undefined)[] = [];
        // Order in which writes (sets and deletes) completed; the last decides the final state.
        const completed: { value: Uint8Array | undefined }[] = [];
        await tier.set('hot', pattern(10, 0));
        written.push(pattern(10, 0));
        for (let i = 1; i <= concurrentOps; i++) {
          const r = random();
          if (r < 0.45) {
            // Sizes vary so a torn value or a mix of two writes is visible.
            const v = pattern(1 + Math.floor(random() * 9000), i);
            written.push(v);
            ops.push(tier.set('hot', v).then(() => void completed.push({ value: v })));
          } else if (r < 0.6) {
            ops.push(tier.delete('hot').then(() => void completed.push({ value: undefined })));
          } else {
            ops.push(tier.get('hot').then((e) => void seen.push(e?.bytes)));
          }
        }
        await Promise.all(ops);
        for (const bytes of seen) {
          if (bytes === undefined) continue;
          assert.ok(
            written.some((w) => same(w, bytes)),
            `a get returned ${bytes.byteLength} bytes that no set wrote`,
          );
        }
        const last = completed[completed.length - 1]!;
        const final = await tier.get('hot');
        if (last.value === undefined) assert.equal(final, undefined, 'the last completed write was a delete');
        else assertBytes(final?.bytes, last.value, 'final state is the last completed set');
      });

      t('overlapping operations on different keys do not mix', async (tier) => {
        const ops: Promise<unknown>[] = [];
        for (let i = 0; i < 100; i++) ops.push(tier.set(`k${i % 10}:${i}`, pattern(100 + i, i)));
        await Promise.all(ops);
        const gets = await Promise.all(Array.from({ length: 100 }, (_, i) => tier.get(`k${i % 10}:${i}`)));
        gets.forEach((g, i) => assertBytes(g?.bytes, pattern(100 + i, i), `k${i % 10}:${i}`));
      });

      t('a get overlapping a set returns the old bytes, the new bytes or nothing', async (tier) => {
        const old = pattern(2000, 1);
        const neu = pattern(3000, 2);
        await tier.set('k', old);
        const [got] = await Promise.all([tier.get('k'), tier.set('k', neu)]);
        if (got !== undefined) assert.ok(same(got.bytes, old) || same(got.bytes, neu), 'old or new bytes');
        assertBytes((await tier.get('k'))?.bytes, neu, 'after both settle');
      });
    });

    describe('bad arguments', () => {
      const badKeys: unknown[] = [undefined, null, 42, 42n, {}, [1, 2], new ArrayBuffer(4), new Uint16Array(2), Symbol('k')];
      t('a key that is neither a string nor a Uint8Array is a TypeError for every call', async (tier) => {
        for (const key of badKeys) {
          const what = typeof key === 'symbol' ? 'a symbol' : Object.prototype.toString.call(key);
          await assertRejects(() => tier.get(key as ConformanceKey), [TypeError], `get(${what})`);
          await assertRejects(() => tier.set(key as ConformanceKey, text('v')), [TypeError], `set(${what})`);
          await assertRejects(() => tier.delete(key as ConformanceKey), [TypeError], `delete(${what})`);
        }
      });

      t('bytes that are not a Uint8Array are a TypeError, and nothing changes', async (tier) => {
        await tier.set('k', text('kept'));
        for (const bytes of [undefined, null, 'text', 42, [1, 2, 3], new ArrayBuffer(3), new Uint16Array(2), { length: 1 }]) {
          await assertRejects(() => tier.set('k', bytes as Uint8Array), [TypeError], `set('k', ${Object.prototype.toString.call(bytes)})`);
        }
        assertBytes((await tier.get('k'))?.bytes, text('kept'), 'value after refused sets');
      });

      t('a negative, NaN or infinite ttl is a RangeError; a non-number ttl a TypeError or RangeError; nothing changes', async (tier) => {
        await tier.set('k', text('kept'));
        for (const ttl of [-1, -0.5, NaN, -Infinity, Infinity]) {
          await assertRejects(() => tier.set('k', text('new'), { ttl }), [RangeError], `ttl ${ttl}`);
        }
        for (const ttl of ['100', null, {}, 10n]) {
          await assertRejects(() => tier.set('k', text('new'), { ttl: ttl as number }), [TypeError, RangeError], `ttl ${String(ttl)}`);
        }
        const got = await tier.get('k');
        assertBytes(got?.bytes, text('kept'), 'value after refused sets');
        assert.equal(got!.ttl, Infinity, 'ttl unchanged');
      });
    });

    describe('close', () => {
      t('calls after close reject with an error that has a stable code; close is idempotent; stats still answer', async (tier) => {
        await tier.set('k', text('v'));
        await tier.close();
        await tier.close(); // idempotent
        const codes: unknown[] = [];
        for (const [what, call] of [
          ['get', () => tier.get('k')],
          ['set', () => tier.set('k', text('w'))],
          ['delete', () => tier.delete('k')],
          ['clear', () => tier.clear()],
        ] as const) {
          const e = await failure(call);
          assert.ok(e instanceof Error, `${what} after close rejects with an Error, got ${String(e)}`);
          const code = (e as { code?: unknown }).code;
          assert.equal(typeof code, 'string', `${what} after close: the error has a string code`);
          assert.notEqual(code, '', `${what} after close: the code is not empty`);
          if (options.closedCode !== undefined) assert.equal(code, options.closedCode, `${what} after close: code`);
          codes.push(code);
        }
        assert.equal(new Set(codes).size, 1, `one code for every call after close, got ${codes.join(', ')}`);
        const s = tier.stats();
        assert.equal(typeof s.hits, 'number', 'stats() after close');
      });

      t('calls in flight when close is called settle', async (tier) => {
        const inflight: Promise<unknown>[] = [];
        for (let i = 0; i < 50; i++) {
          inflight.push(tier.set(`f${i}`, pattern(1000, i)));
          inflight.push(tier.get(`f${i}`));
        }
        const closing = tier.close();
        inflight.push(tier.delete('f0'));
        const settled = await Promise.allSettled(inflight);
        await closing;
        assert.equal(settled.length, 101);
        for (const s of settled) {
          if (s.status === 'rejected') assert.ok(s.reason instanceof Error, 'a call cut off by close rejects with an Error');
        }
      });
    });

    describe('stats', () => {
      t('hits, misses, writes and bytesWritten move with the calls', async (tier) => {
        const s0 = tier.stats();
        for (const f of ['hits', 'misses', 'writes', 'bytesWritten', 'rejected', 'errors', 'corruptions'] as const) {
          assert.equal(typeof s0[f], 'number', `stats().${f} is a number`);
        }
        await tier.set('a', pattern(123, 1));
        await tier.set('b', pattern(7, 2));
        const s1 = tier.stats();
        assert.equal(s1.writes - s0.writes, 2, 'writes');
        assert.ok(s1.bytesWritten - s0.bytesWritten >= 130, `bytesWritten moved by ${s1.bytesWritten - s0.bytesWritten}, at least 130`);
        await tier.get('a');
        await tier.get('b');
        await tier.get('a');
        const s2 = tier.stats();
        assert.equal(s2.hits - s1.hits, 3, 'hits');
        assert.equal(s2.misses - s1.misses, 0, 'misses on hits');
        await tier.get('nope');
        await tier.get(new Uint8Array([1]));
        const s3 = tier.stats();
        assert.equal(s3.misses - s2.misses, 2, 'misses');
        assert.equal(s3.hits, s2.hits, 'hits on misses');
        assert.equal(s3.errors, s0.errors, 'no errors on a healthy tier');
        assert.equal(s3.corruptions, s0.corruptions, 'no corruptions on a healthy tier');
      });

      t('stats() returns a snapshot, not a live object', async (tier) => {
        const before = tier.stats();
        const hits = before.hits;
        await tier.set('a', text('x'));
        await tier.get('a');
        assert.equal(before.hits, hits, 'an earlier snapshot does not move');
        assert.equal(tier.stats().hits, hits + 1);
      });
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      describe('persistence', () => {
        test('values survive close and reopen; deleted and overwritten values do not come back', { timeout }, async () => {
          const clock = new HandClock(Math.floor(Date.now()));
          const ctx = { clock: clock.fn };
          const opened = await open(ctx);
          let second: ConformanceTier | undefined;
          try {
            const tier = opened.tier;
            await tier.set('kept', pattern(5000, 1));
            await tier.set('deleted', pattern(100, 2));
            await tier.set('overwritten', pattern(100, 3));
            await tier.delete('deleted');
            await tier.set('overwritten', pattern(200, 4));
            await tier.set('cleared-later', pattern(10, 5));
            await tier.close();
            second = await reopen(ctx);
            const kept = await second.get('kept');
            // A tier may forget (it is a cache), but what it returns must be the last write.
            if (kept !== undefined) assertBytes(kept.bytes, pattern(5000, 1), 'kept after reopen');
            assert.equal(await second.get('deleted'), undefined, 'a deleted key does not come back');
            const over = await second.get('overwritten');
            if (over !== undefined) assertBytes(over.bytes, pattern(200, 4), 'overwritten key after reopen');
            await second.clear();
            await second.close();
            second = await reopen(ctx);
            assert.equal(await second.get('kept'), undefined, 'a cleared key does not come back');
            assert.equal(await second.get('cleared-later'), undefined, 'a cleared key does not come back');
          } finally {
            await second?.close().catch(() => {});
            await opened.tier.close().catch(() => {});
            await opened.cleanup();
          }
        });
      });
    }
  });
}
