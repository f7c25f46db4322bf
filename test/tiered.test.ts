/**
 * TieredCache: memory in front of MemoryTiers (and a faulty wrapper that fails, hangs or
 * holds calls until the test lets them go). Time is a FakeClock shared by the memory Cache and
 * the tiers; in-flight tier calls are held by deferreds; the only real timers are the per-tier
 * `timeout`s of the hang tests (a hung promise and a short timeout: nothing asserts a duration).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache, TimeoutError } from 'cortado';
import {
  type Invalidation,
  type InvalidationBus,
  MemoryTier,
  type Tier,
  TierClosedError,
  type TierEntry,
  type TierKey,
  type TierSetOptions,
  type TierStats,
  TieredCache,
  type TieredCacheOptions,
  TierWriteError,
} from 'cortado/tiered';
import { FakeClock } from './helpers.js';
import { deferred, turn, type Deferred } from './helpers.js';

/** Every promise TieredCache leaves behind must be handled: a rejection nobody handles fails the file. */
const unhandled: unknown[] = [];
process.on('unhandledRejection', (e) => unhandled.push(e));
after(() => assert.deepEqual(unhandled, [], 'unhandled rejections'));

// ---------------------------------------------------------------------------------------
// scaffolding
// ---------------------------------------------------------------------------------------



type Mode = 'ok' | 'fail' | 'hang' | 'hold';

/**
 * A MemoryTier behind switches: each operation can succeed, fail, hang forever, or be held
 * until the test calls `release(op)`. Calls are counted.
 */
class FaultyTier implements Tier {
  readonly inner: MemoryTier;
  readonly name: string;
  mode: Record<'get' | 'set' | 'delete' | 'clear', Mode> = { get: 'ok', set: 'ok', delete: 'ok', clear: 'ok' };
  readonly calls = { get: 0, set: 0, delete: 0, clear: 0, close: 0 };
  private held: Record<string, Deferred<void>[]> = { get: [], set: [], delete: [], clear: [] };
  /** When set, 'hold' applies only to calls on this key (others go through). */
  holdOnly: string | undefined;
  /** Resolves when some call is held (so a test can wait for a spill to reach the tier). */
  private heldSignal = deferred<void>();

  constructor(name: string, clock: () => number) {
    this.name = name;
    this.inner = new MemoryTier({ name, clock });
  }

  /** Waits until at least `n` calls of `op` are held. */
  async whenHeld(op: 'get' | 'set' | 'delete' | 'clear', n = 1): Promise<void> {
    for (let i = 0; i < 1000 && this.held[op]!.length < n; i++) await this.heldSignal.promise;
    assert.ok(this.held[op]!.length >= n, `${op} held ${this.held[op]!.length} < ${n}`);
  }

  release(op: 'get' | 'set' | 'delete' | 'clear'): void {
    const list = this.held[op]!;
    this.held[op] = [];
    for (const d of list) d.resolve();
  }

  private async gate(op: 'get' | 'set' | 'delete' | 'clear', key?: TierKey): Promise<void> {
    this.calls[op]++;
    let mode = this.mode[op];
    if (mode === 'hold' && this.holdOnly !== undefined && key !== this.holdOnly) mode = 'ok';
    if (mode === 'fail') throw new Error(`${this.name}: ${op} failed (injected)`);
    if (mode === 'hang') await new Promise<never>(() => {});
    if (mode === 'hold') {
      const d = deferred();
      this.held[op]!.push(d);
      const s = this.heldSignal;
      this.heldSignal = deferred();
      s.resolve();
      await d.promise;
    }
  }

  async get(key: TierKey): Promise<TierEntry | undefined> {
    // Read first, answer later: a held get returns what the tier held when it was called.
    const found = this.mode.get === 'hold' ? await this.inner.get(key) : undefined;
    await this.gate('get', key);
    return found ?? this.inner.get(key);
  }
  async set(key: TierKey, bytes: Uint8Array, options?: TierSetOptions): Promise<void> {
    const copy = bytes.slice(); // the caller may reuse its buffer once we resolve, not before
    await this.gate('set', key);
    return this.inner.set(key, copy, options);
  }
  async delete(key: TierKey): Promise<boolean> {
    await this.gate('delete', key);
    return this.inner.delete(key);
  }
  async clear(): Promise<void> {
    await this.gate('clear');
    return this.inner.clear();
  }
  async close(): Promise<void> {
    this.calls.close++;
    return this.inner.close();
  }
  stats(): TierStats {
    return this.inner.stats();
  }
}

/** Two (or more) ends of one in-process channel; an end never hears itself. */
class Hub {
  readonly ends: HubBus[] = [];
  end(): HubBus {
    const e = new HubBus(this);
    this.ends.push(e);
    return e;
  }
}
class HubBus implements InvalidationBus {
  onMessage: ((m: Invalidation) => void) | undefined;
  onGap: (() => void) | undefined;
  closed = false;
  published: Invalidation[] = [];
  failPublish = false;
  constructor(private readonly hub: Hub) {}
  async subscribe(onMessage: (m: Invalidation) => void, onGap: () => void): Promise<void> {
    this.onMessage = onMessage;
    this.onGap = onGap;
  }
  async publish(message: Invalidation): Promise<void> {
    if (this.failPublish) throw new Error('bus down (injected)');
    this.published.push(message);
    for (const other of this.hub.ends) {
      if (other !== this && !other.closed) other.onMessage?.(message);
    }
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  /** Tell the subscriber messages may have been lost. */
  gap(): void {
    this.onGap?.();
  }
}

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

function setup<V = unknown>(
  opts: {
    maxEntries?: number;
    memoryTtl?: number;
    write?: 'on-evict' | 'through';
    extra?: Partial<TieredCacheOptions<string, V>>;
    timeout?: number;
  } = {},
) {
  const clock = new FakeClock();
  const memory = new Cache<string, V>({ maxEntries: opts.maxEntries ?? 100, clock: clock.fn, policy: 'lru', ...(opts.memoryTtl === undefined ? {} : { ttl: opts.memoryTtl }) });
  const tier = new FaultyTier('t0', clock.fn);
  const cache = new TieredCache<string, V>({
    memory,
    tiers: [{ tier, write: opts.write ?? 'on-evict', ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }) }],
    codec: 'json',
    ...opts.extra,
  });
  return { clock, memory, tier, cache };
}

// ---------------------------------------------------------------------------------------

describe('TieredCache: reads and promotion', () => {
  test('get tries memory, then the tier; a tier hit is promoted with the ttl it has left', async () => {
    const { clock, memory, tier, cache } = setup();
    await tier.inner.set('k', enc({ v: 1 }), { ttl: 1_000 });
    clock.advance(400);
    assert.deepEqual(await cache.get('k'), { v: 1 });
    assert.equal(memory.ttlOf('k'), 600, 'memory keeps it only as long as the tier would');
    const tierHits = tier.inner.stats().hits;
    assert.deepEqual(await cache.get('k'), { v: 1 });
    assert.equal(tier.inner.stats().hits, tierHits, 'the second get is a memory hit');
    clock.advance(600);
    assert.equal(memory.get('k'), undefined, 'gone from memory when the tier copy expires');
    assert.equal(await cache.get('k'), undefined, 'and from the tier');
    const s = cache.stats();
    assert.equal(s.promotions, 1);
    assert.equal(s.tiers[0]!.promotions, 1);
    assert.equal(s.hits, 2);
    assert.equal(s.misses, 1);
  });

  test("a promotion is capped by memory's own ttl; a value without expiry below takes memory's default", async () => {
    const { memory, tier, cache } = setup({ memoryTtl: 300 });
    await tier.inner.set('short', enc(1), { ttl: 200 });
    await tier.inner.set('long', enc(2), { ttl: 5_000 });
    await tier.inner.set('forever', enc(3));
    await cache.get('short');
    await cache.get('long');
    await cache.get('forever');
    assert.equal(memory.ttlOf('short'), 200);
    assert.equal(memory.ttlOf('long'), 300);
    assert.equal(memory.ttlOf('forever'), 300);
  });

  test('a miss everywhere is undefined; tiers are tried in order and the first hit wins', async () => {
    const clock = new FakeClock();
    const memory = new Cache<string, unknown>({ maxEntries: 10, clock: clock.fn });
    const t0 = new FaultyTier('t0', clock.fn);
    const t1 = new FaultyTier('t1', clock.fn);
    const cache = new TieredCache<string, unknown>({ memory, tiers: [{ tier: t0, write: 'on-evict' }, { tier: t1, write: 'on-evict' }], codec: 'json' });
    assert.equal(await cache.get('nope'), undefined);
    assert.equal(t0.calls.get, 1);
    assert.equal(t1.calls.get, 1);
    await t0.inner.set('a', enc('from t0'));
    await t1.inner.set('a', enc('from t1'));
    await t1.inner.set('b', enc('from t1'));
    assert.equal(await cache.get('a'), 'from t0');
    assert.equal(t1.calls.get, 1, 't1 not asked when t0 has it');
    assert.equal(await cache.get('b'), 'from t1');
  });

  test("a hit in a lower tier is written to the 'through' tiers above it, with its ttl", async () => {
    const clock = new FakeClock();
    const memory = new Cache<string, unknown>({ maxEntries: 10, clock: clock.fn });
    const upper = new FaultyTier('upper', clock.fn);
    const lower = new FaultyTier('lower', clock.fn);
    const cache = new TieredCache<string, unknown>({ memory, tiers: [{ tier: upper, write: 'through' }, { tier: lower, write: 'on-evict' }], codec: 'json' });
    await lower.inner.set('k', enc('deep'), { ttl: 1_000 });
    clock.advance(250);
    assert.equal(await cache.get('k'), 'deep');
    await cache.flush();
    const up = await upper.inner.get('k');
    assert.ok(up !== undefined, 'promoted to the through tier above');
    assert.equal(up.ttl, 750);
  });

  test('has() looks through every layer without promoting', async () => {
    const { memory, tier, cache } = setup();
    await tier.inner.set('below', enc(1));
    assert.equal(await cache.has('below'), true);
    assert.equal(memory.has('below'), false, 'not promoted');
    assert.equal(await cache.has('nowhere'), false);
  });

  test('the default v8 codec keeps Dates, Maps, Sets, BigInts and Buffers', async () => {
    const clock = new FakeClock();
    const memory = new Cache<string, unknown>({ maxEntries: 1, clock: clock.fn, policy: 'lru' });
    const tier = new MemoryTier({ clock: clock.fn });
    const cache = new TieredCache<string, unknown>({ memory, tiers: [{ tier, write: 'on-evict' }] });
    const value = { d: new Date(5), m: new Map([[1, 'x']]), s: new Set([2n]), b: Buffer.from('hi') };
    await cache.set('rich', value);
    await cache.set('other', 1); // evicts 'rich' to the tier
    await cache.flush();
    assert.equal(memory.has('rich'), false);
    const back = (await cache.get('rich')) as typeof value;
    assert.deepEqual(back, value);
    assert.ok(Buffer.isBuffer(back.b));
  });

  test('a value that fails to decode is a counted miss', async () => {
    const { tier, cache } = setup();
    await tier.inner.set('bad', new TextEncoder().encode('{not json'));
    assert.equal(await cache.get('bad'), undefined);
    assert.equal(cache.stats().decodeErrors, 1);
  });

  test('keys: numbers and bigints go down as strings; other keys are a TypeError; a custom key function is used', async () => {
    const clock = new FakeClock();
    const tier = new MemoryTier({ clock: clock.fn });
    const cache = new TieredCache<unknown, unknown>({ memory: new Cache({ maxEntries: 10, clock: clock.fn }), tiers: [{ tier, write: 'through' }], codec: 'json' });
    await cache.set(42, 'n');
    await cache.set(7n, 'b');
    assert.ok((await tier.get('42')) !== undefined);
    assert.ok((await tier.get('7')) !== undefined);
    await assert.rejects(cache.set({}, 'x'), TypeError);
    await assert.rejects(cache.get(Symbol('s')), TypeError);
    const t2 = new MemoryTier({ clock: clock.fn });
    const custom = new TieredCache<{ id: number }, unknown>({ memory: new Cache({ maxEntries: 10 }), tiers: [{ tier: t2, write: 'through' }], codec: 'json', key: (k) => `user:${k.id}` });
    await custom.set({ id: 3 }, 'u');
    assert.ok((await t2.get('user:3')) !== undefined);
    const broken = new TieredCache<string, unknown>({ memory: new Cache({ maxEntries: 10 }), tiers: [{ tier: new MemoryTier(), write: 'through' }], key: () => 5 as unknown as string });
    await assert.rejects(broken.set('a', 1), /option 'key' must return a string or a Uint8Array/);
  });
});

describe('TieredCache: writes', () => {
  test("'on-evict': memory's victims are spilled with the ttl they have left; deletes and clears are not spilled", async () => {
    const { clock, memory, tier, cache } = setup({ maxEntries: 2 });
    await cache.set('a', 'A', { ttl: 1_000 });
    await cache.set('b', 'B');
    assert.equal(tier.inner.size, 0, 'nothing written down yet');
    clock.advance(300);
    await cache.set('c', 'C'); // lru: evicts a
    await cache.flush();
    assert.equal(memory.has('a'), false);
    const a = await tier.inner.get('a');
    assert.ok(a !== undefined, 'the victim reached the tier');
    assert.equal(a.ttl, 700);
    await cache.delete('b');
    await cache.flush();
    assert.equal(await tier.inner.get('b'), undefined, 'a deleted entry is not spilled');
    assert.equal(cache.stats().tiers[0]!.spills, 1);
    // The spilled value comes back through get.
    assert.equal(await cache.get('a'), 'A');
  });

  test('a value promoted from an on-evict tier and evicted again unchanged is not written again', async () => {
    const { memory, tier, cache } = setup({ maxEntries: 1 });
    await cache.set('a', 'A', { ttl: 1_000 });
    await cache.set('b', 'B'); // spills a
    await cache.flush();
    const writes = tier.inner.stats().writes;
    assert.equal(await cache.get('a'), 'A'); // promoted; evicts b (spilled)
    await cache.get('b'); // promoted; evicts a, which the tier still holds
    await cache.flush();
    assert.equal(tier.inner.stats().writes, writes + 1, 'only b was written (its first spill)');
    assert.equal(cache.stats().tiers[0]!.spillsAvoided, 1);
    assert.equal(memory.has('a'), false);
    assert.equal(await cache.get('a'), 'A', 'still served from the tier');
    // A promoted value that is then written is dirty again: its eviction writes it.
    await cache.set('a', 'A2');
    await cache.get('b');
    await cache.flush();
    assert.equal(new TextDecoder().decode((await tier.inner.get('a'))!.bytes), '"A2"');
  });

  test('a victim that has expired in memory is not spilled', async () => {
    const { clock, tier, cache } = setup({ maxEntries: 1 });
    await cache.set('a', 'A', { ttl: 100 });
    clock.advance(100);
    await cache.set('b', 'B'); // the expired a leaves (as expired or evicted): either way not written
    await cache.flush();
    assert.equal(await tier.inner.get('a'), undefined);
  });

  test("'through': set writes down before it resolves, with the ttl; delete and clear reach the tier", async () => {
    const { clock, tier, cache } = setup({ write: 'through' });
    await cache.set('k', { n: 1 }, { ttl: 2_000 });
    const e = await tier.inner.get('k');
    assert.ok(e !== undefined);
    assert.equal(e.ttl, 2_000);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(e.bytes)), { n: 1 });
    await cache.set('k2', 'x');
    assert.equal((await tier.inner.get('k2'))?.ttl, Infinity);
    assert.equal(await cache.delete('k'), true);
    assert.equal(await tier.inner.get('k'), undefined);
    await cache.set('k3', 'y');
    await cache.clear();
    assert.equal(tier.inner.size, 0);
    clock.advance(1);
    assert.equal(await cache.get('k2'), undefined);
  });

  test("the cache's ttl option is the default of every layer; memory's own ttl applies when it is absent", async () => {
    const { memory, tier, cache } = setup({ write: 'through', extra: { ttl: 5_000 } });
    await cache.set('k', 1);
    assert.equal(memory.ttlOf('k'), 5_000);
    assert.equal((await tier.inner.get('k'))?.ttl, 5_000);
    await cache.set('n', 1, { ttl: 0 });
    assert.equal(memory.ttlOf('n'), Infinity);
    assert.equal((await tier.inner.get('n'))?.ttl, Infinity);
    const other = setup({ write: 'through', memoryTtl: 700 });
    await other.cache.set('k', 1);
    assert.equal(other.memory.ttlOf('k'), 700);
    assert.equal((await other.tier.inner.get('k'))?.ttl, 700, "the tier gets memory's default ttl, not forever");
  });

  test("set removes an older copy from an 'on-evict' tier, so it cannot come back", async () => {
    const { memory, tier, cache } = setup({ maxEntries: 1 });
    await cache.set('k', 'old');
    await cache.set('x', 'x'); // spills k=old
    await cache.flush();
    assert.ok((await tier.inner.get('k')) !== undefined);
    await cache.set('k', 'new'); // memory: k=new (x spilled)
    assert.equal(await tier.inner.get('k'), undefined, 'the old copy is gone from the tier');
    memory.delete('k'); // memory drops the new value without a spill (as a user's direct delete would)
    assert.equal(await cache.get('k'), undefined, 'old value never served');
  });

  test('a value memory refuses (too heavy) goes straight to the on-evict tier', async () => {
    const clock = new FakeClock();
    const memory = new Cache<string, string>({ maxWeight: 10, weigher: (v) => v.length, clock: clock.fn });
    const tier = new MemoryTier({ clock: clock.fn });
    const cache = new TieredCache<string, string>({ memory, tiers: [{ tier, write: 'on-evict' }], codec: 'utf8' });
    await cache.set('big', 'x'.repeat(50), { ttl: 900 });
    assert.equal(memory.has('big'), false);
    assert.equal((await tier.get('big'))?.ttl, 900);
    assert.equal(await cache.get('big'), 'x'.repeat(50));
  });

  test('an unencodable value is a TypeError and changes nothing', async () => {
    const { memory, tier, cache } = setup({ write: 'through' });
    await cache.set('k', 'kept');
    await assert.rejects(cache.set('k', { f: 1n } as unknown), TypeError); // json cannot encode a bigint
    assert.equal(memory.get('k'), 'kept');
    assert.ok((await tier.inner.get('k')) !== undefined);
    await assert.rejects(cache.set('k', undefined as unknown), /must not be undefined/);
    await assert.rejects(cache.set('k', 1, { ttl: -1 }), RangeError);
    await assert.rejects(cache.set('k', 1, 5 as never), TypeError);
    assert.equal(memory.get('k'), 'kept');
  });
});

describe('TieredCache: ordering of in-flight writes', () => {
  test('a delete during an in-flight spill wins: nothing deleted comes back', async () => {
    const { memory, tier, cache } = setup({ maxEntries: 1 });
    tier.mode.set = 'hold';
    await cache.set('a', 'A');
    await cache.set('b', 'B'); // spill of a starts and is held inside the tier
    await tier.whenHeld('set');
    assert.equal(await cache.get('a'), 'A', 'a get during the spill is served the value on its way down');
    memory.delete('a'); // drop the promoted copy: the next part is about the tier
    const deleting = cache.delete('a');
    await turn();
    tier.mode.set = 'ok';
    tier.release('set'); // the spill lands now, before the delete that was queued behind it
    assert.equal(await deleting, true);
    await cache.flush();
    assert.equal(await tier.inner.get('a'), undefined, 'the tier does not hold the deleted value');
    assert.equal(await cache.get('a'), undefined);
  });

  test('a spill still queued when its key is written is dropped; a set during a spill leaves the new value', async () => {
    const { memory, tier, cache } = setup({ maxEntries: 1 });
    tier.mode.set = 'hold';
    await cache.set('a', 'A1');
    await cache.set('b', 'B'); // spill a=A1 held
    await tier.whenHeld('set');
    tier.holdOnly = 'a';
    // Evicts b; a's older tier copy is deleted after the held spill, so this set waits for it.
    const setting = cache.set('a', 'A2');
    await turn();
    await cache.set('c', 'C'); // evicts a=A2: a second spill of a, queued behind that delete
    tier.mode.set = 'ok';
    tier.release('set');
    await setting;
    await cache.flush();
    assert.equal(memory.has('a'), false);
    assert.equal(await cache.get('a'), 'A2', 'the latest value, never A1');
    const spilled = await tier.inner.get('a');
    assert.equal(new TextDecoder().decode(spilled!.bytes), '"A2"');
  });

  test('a spill queued behind a slow write is dropped when the key is deleted before it runs', async () => {
    const { tier, cache } = setup({ maxEntries: 1 });
    await cache.set('a', 'A1');
    tier.mode.delete = 'hold';
    tier.holdOnly = 'a';
    const setting = cache.set('a', 'A2'); // queues a delete of a's older copy: held
    await tier.whenHeld('delete');
    await cache.set('b', 'B'); // evicts a=A2: its spill waits behind the held delete
    const deleting = cache.delete('a'); // supersedes the queued spill
    tier.mode.delete = 'ok';
    tier.release('delete');
    await setting;
    await deleting;
    await cache.flush();
    assert.equal(await tier.inner.get('a'), undefined);
    assert.equal(await cache.get('a'), undefined);
    assert.ok(cache.stats().tiers[0]!.spillsDropped >= 1);
  });

  test('clear during an in-flight spill: nothing cleared comes back', async () => {
    const { tier, cache } = setup({ maxEntries: 1 });
    tier.mode.set = 'hold';
    await cache.set('a', 'A');
    await cache.set('b', 'B'); // spill a held
    await tier.whenHeld('set');
    const clearing = cache.clear();
    await turn();
    tier.mode.set = 'ok';
    tier.release('set');
    await clearing;
    await cache.flush();
    assert.equal(tier.inner.size, 0);
    assert.equal(await cache.get('a'), undefined);
    assert.equal(await cache.get('b'), undefined);
  });

  test('a get that read the tier before a set does not promote the old value over the new one', async () => {
    const { memory, tier, cache } = setup({ write: 'through' });
    await tier.inner.set('k', enc('old'));
    tier.mode.get = 'hold';
    const reading = cache.get('k');
    await tier.whenHeld('get');
    tier.mode.get = 'ok';
    await cache.set('k', 'new');
    tier.release('get');
    const got = await reading;
    assert.ok(got === 'old' || got === 'new', 'an overlapping get sees the old or the new value');
    assert.equal(memory.get('k'), 'new', 'memory holds the new value');
  });

  test('a tier read waits for the writes of its key queued before it (no stale read behind a pending delete)', async () => {
    const { memory, tier, cache } = setup({ maxEntries: 1 });
    await cache.set('a', 'A1');
    await cache.set('b', 'B'); // spills a=A1
    await cache.flush();
    assert.ok((await tier.inner.get('a')) !== undefined);
    tier.mode.delete = 'hold';
    tier.holdOnly = 'a';
    const setting = cache.set('a', 'A2'); // the delete of the tier's A1 is held
    await tier.whenHeld('delete');
    memory.delete('a'); // memory loses A2 without a spill
    const reading = cache.get('a');
    await turn();
    tier.mode.delete = 'ok';
    tier.release('delete');
    await setting;
    assert.equal(await reading, undefined, 'never the overwritten A1');
  });

  test('spills over maxInFlightBytes are dropped and counted, not queued', async () => {
    const clock = new FakeClock();
    const memory = new Cache<string, string>({ maxEntries: 1, clock: clock.fn, policy: 'lru' });
    const tier = new FaultyTier('t0', clock.fn);
    const cache = new TieredCache<string, string>({ memory, tiers: [{ tier, write: 'on-evict', maxInFlightBytes: 250 }], codec: 'utf8' });
    tier.mode.set = 'hold';
    await cache.set('a', 'x'.repeat(200));
    await cache.set('b', 'y'.repeat(200)); // spill a (200 bytes) in flight
    await tier.whenHeld('set');
    assert.equal(cache.stats().tiers[0]!.spillBytesInFlight, 200);
    await cache.set('c', 'z'); // spill b: 400 > 250, dropped
    assert.equal(cache.stats().tiers[0]!.spillsDropped, 1);
    tier.mode.set = 'ok';
    tier.release('set');
    await cache.flush();
    assert.equal(cache.stats().tiers[0]!.spillBytesInFlight, 0);
    assert.ok((await tier.inner.get('a')) !== undefined);
    assert.equal(await tier.inner.get('b'), undefined);
  });
});

describe('TieredCache: fetch', () => {
  test('concurrent fetches share one walk down the tiers and one load', async () => {
    const { memory, tier, cache } = setup({ write: 'through' });
    let loads = 0;
    const load = deferred<string>();
    const loader = (): Promise<string> => {
      loads++;
      return load.promise;
    };
    tier.mode.get = 'hold';
    const fetches = [cache.fetch('k', { loader }), cache.fetch('k', { loader }), cache.fetch('k', { loader })];
    await tier.whenHeld('get');
    tier.mode.get = 'ok';
    tier.release('get');
    await turn();
    assert.equal(tier.calls.get, 1, 'the tier was asked once');
    load.resolve('loaded');
    assert.deepEqual(await Promise.all(fetches), ['loaded', 'loaded', 'loaded']);
    assert.equal(loads, 1, 'the loader ran once');
    assert.equal(memory.get('k'), 'loaded');
    assert.ok((await tier.inner.get('k')) !== undefined, 'the loaded value went to the through tier');
    assert.equal(cache.stats().loads, 1);
  });

  test('fetch finds a value in a tier without calling the loader', async () => {
    const { tier, cache } = setup();
    await tier.inner.set('k', enc('below'));
    let called = false;
    assert.equal(await cache.fetch('k', { loader: () => ((called = true), 'x') }), 'below');
    assert.equal(called, false);
  });

  test("the TieredCache loader is what fetch uses, not the memory Cache's", async () => {
    const clock = new FakeClock();
    const memory = new Cache<string, string>({ maxEntries: 10, clock: clock.fn, loader: () => 'memory loader' });
    const cache = new TieredCache<string, string>({ memory, tiers: [{ tier: new MemoryTier({ clock: clock.fn }), write: 'through' }], loader: (k) => `tiered loader ${k}` });
    assert.equal(await cache.fetch('a'), 'tiered loader a');
  });

  test('a value loaded while the key was written is returned to its callers but not stored', async () => {
    const { memory, cache } = setup({ write: 'through' });
    const load = deferred<string>();
    const fetching = cache.fetch('k', { loader: () => load.promise });
    await turn();
    await cache.set('k', 'written');
    load.resolve('loaded');
    assert.equal(await fetching, 'loaded');
    assert.equal(memory.get('k'), 'written');
    assert.equal(await cache.get('k'), 'written');
  });

  test('loader errors reach every caller as they are; no loader is a LoaderMissingError; a caller can abort', async () => {
    const { cache } = setup();
    const boom = new Error('boom');
    await assert.rejects(cache.fetch('k', { loader: () => Promise.reject(boom) }), (e) => e === boom);
    await assert.rejects(cache.fetch('k'), { code: 'ERR_CORTADO_NO_LOADER' });
    await assert.rejects(cache.fetch('k', { signal: {} as AbortSignal, loader: () => 1 }), /signal must be an AbortSignal/);
    await assert.rejects(cache.fetch('k', { loader: 'x' as never }), /loader must be a function/);
    await assert.rejects(cache.fetch('k', { loader: () => 1, ttl: -5 }), RangeError);
    const ac = new AbortController();
    let signal: AbortSignal | undefined;
    const never = deferred<string>();
    const fetching = cache.fetch('slow', {
      signal: ac.signal,
      loader: (_k, ctx) => {
        signal = ctx.signal;
        return never.promise;
      },
    });
    await turn();
    ac.abort();
    await assert.rejects(fetching, { name: 'AbortError' });
    assert.equal(signal?.aborted, true, 'the load is aborted once nobody waits for it');
    assert.equal(cache.stats().loadFailures, 1);
  });

  test('loadTimeout bounds a load (and aborts its signal)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { cache } = setup({ extra: { loadTimeout: 5_000 } });
    let signal: AbortSignal | undefined;
    const fetching = cache.fetch('k', {
      loader: (_k, ctx) => {
        signal = ctx.signal;
        return new Promise<string>(() => {});
      },
    });
    for (let i = 0; i < 5 && signal === undefined; i++) await Promise.resolve();
    await turn();
    t.mock.timers.tick(5_000);
    await assert.rejects(fetching, (e) => e instanceof TimeoutError && e.timeout === 5_000);
    assert.ok(signal?.aborted);
  });
});

describe('TieredCache: invalidation bus', () => {
  function pair() {
    const clock = new FakeClock();
    const shared = new MemoryTier({ name: 'shared', clock: clock.fn });
    const hub = new Hub();
    const mk = () => {
      const bus = hub.end();
      const memory = new Cache<string, unknown>({ maxEntries: 100, clock: clock.fn });
      const cache = new TieredCache<string, unknown>({ memory, tiers: [{ tier: shared, write: 'through' }], bus, codec: 'json' });
      return { bus, memory, cache };
    };
    return { clock, shared, hub, a: mk(), b: mk() };
  }

  test("set, delete and clear in one process drop the other process's memory copy; a process never hears itself", async () => {
    const { a, b } = pair();
    await a.cache.ready();
    await b.cache.ready();
    await a.cache.set('k', 1);
    assert.equal(await b.cache.get('k'), 1, 'b reads the shared tier');
    assert.equal(b.memory.has('k'), true);
    await a.cache.set('k', 2);
    assert.equal(b.memory.has('k'), false, "a's set dropped b's copy");
    assert.equal(await b.cache.get('k'), 2);
    assert.equal(a.memory.get('k'), 2, "a's own message did not drop a's copy");
    await a.cache.delete('k');
    assert.equal(b.memory.has('k'), false);
    assert.equal(await b.cache.get('k'), undefined);
    await b.cache.set('x', 'x');
    await a.cache.get('x');
    assert.equal(a.memory.has('x'), true);
    await b.cache.clear();
    assert.equal(a.memory.size, 0, "b's clear emptied a's memory");
    assert.equal(a.cache.stats().invalidationsReceived, 2, "b's set of x and b's clear");
    assert.equal(b.cache.stats().invalidationsSent, 2);
  });

  test('onGap clears memory (and tiers that are not shared); nothing is published', async () => {
    const clock = new FakeClock();
    const local = new MemoryTier({ name: 'local', clock: clock.fn });
    const shared = new MemoryTier({ name: 'shared', clock: clock.fn });
    const hub = new Hub();
    const bus = hub.end();
    const memory = new Cache<string, unknown>({ maxEntries: 10, clock: clock.fn });
    const cache = new TieredCache<string, unknown>({ memory, tiers: [{ tier: local, write: 'on-evict' }, { tier: shared, write: 'through' }], bus, codec: 'json' });
    await cache.set('k', 1);
    await local.set('l', enc(2));
    bus.gap();
    await cache.flush();
    assert.equal(memory.size, 0);
    assert.equal(local.size, 0, 'the local tier may hold what was invalidated during the gap');
    assert.ok((await shared.get('k')) !== undefined, 'the shared tier is the truth: kept');
    assert.equal(cache.stats().gaps, 1);
    assert.equal(bus.published.length, 1, 'only the set published');
  });

  test('a remote delete removes the key from a local on-evict tier too', async () => {
    const clock = new FakeClock();
    const hub = new Hub();
    const shared = new MemoryTier({ name: 'shared', clock: clock.fn });
    const localA = new MemoryTier({ name: 'diskA', clock: clock.fn });
    const localB = new MemoryTier({ name: 'diskB', clock: clock.fn });
    const mk = (local: MemoryTier) =>
      new TieredCache<string, unknown>({
        memory: new Cache({ maxEntries: 10, clock: clock.fn }),
        tiers: [{ tier: local, write: 'on-evict' }, { tier: shared, write: 'through' }],
        bus: hub.end(),
        codec: 'json',
      });
    const a = mk(localA);
    const b = mk(localB);
    await localB.set('k', enc('stale local copy'));
    await a.set('k', 'fresh');
    await b.flush();
    assert.equal(await localB.get('k'), undefined);
    assert.equal(await b.get('k'), 'fresh');
  });

  test('number keys: a bus message drops the number key from memory', async () => {
    const clock = new FakeClock();
    const hub = new Hub();
    const shared = new MemoryTier({ clock: clock.fn });
    const mk = () => {
      const memory = new Cache<number, unknown>({ maxEntries: 10, clock: clock.fn });
      return { memory, cache: new TieredCache<number, unknown>({ memory, tiers: [{ tier: shared, write: 'through' }], bus: hub.end(), codec: 'json' }) };
    };
    const a = mk();
    const b = mk();
    await a.cache.set(7, 'one');
    assert.equal(await b.cache.get(7), 'one');
    await a.cache.set(7, 'two');
    assert.equal(b.memory.has(7), false);
    assert.equal(await b.cache.get(7), 'two');
  });

  test('a custom key without parseKey: a message clears memory; with parseKey only the key goes', async () => {
    const clock = new FakeClock();
    const hub = new Hub();
    const shared = new MemoryTier({ clock: clock.fn });
    const memA = new Cache<{ id: number }, unknown>({ maxEntries: 10 });
    const a = new TieredCache<{ id: number }, unknown>({ memory: memA, tiers: [{ tier: shared, write: 'through' }], bus: hub.end(), codec: 'json', key: (k) => `u${k.id}` });
    const memB = new Cache<number, unknown>({ maxEntries: 10 });
    const b = new TieredCache<number, unknown>({ memory: memB, tiers: [{ tier: shared, write: 'through' }], bus: hub.end(), codec: 'json', key: (k) => `u${k}`, parseKey: (s) => Number(s.slice(1)) });
    const one = { id: 1 };
    await a.set(one, 'a1');
    await a.set({ id: 2 }, 'a2');
    memB.set(1, 'b1');
    memB.set(2, 'b2');
    await b.set(3, 'b3'); // a has no parseKey: clears its memory
    assert.equal(memA.size, 0);
    await a.set(one, 'a1 again');
    assert.equal(memB.has(1), false, 'b dropped exactly u1');
    assert.equal(memB.has(2), true);
  });

  test('a message that arrives while a read is in flight keeps the read from promoting what it found', async () => {
    const clock = new FakeClock();
    const shared = new FaultyTier('shared', clock.fn);
    const hub = new Hub();
    const mk = () => {
      const memory = new Cache<string, unknown>({ maxEntries: 10, clock: clock.fn });
      return { memory, cache: new TieredCache<string, unknown>({ memory, tiers: [{ tier: shared, write: 'through' }], bus: hub.end(), codec: 'json' }) };
    };
    const a = mk();
    const b = mk();
    await a.cache.set('k', 'old');
    shared.mode.get = 'hold';
    const reading = b.cache.get('k'); // reads 'old', answer held
    await shared.whenHeld('get');
    shared.mode.get = 'ok';
    await a.cache.set('k', 'new'); // b hears it while its read is in flight
    shared.release('get');
    assert.equal(await reading, 'old', 'the overlapping read may answer what it read');
    assert.equal(b.memory.has('k'), false, 'but does not keep it');
    assert.equal(await b.cache.get('k'), 'new');
  });

  test('Uint8Array keys: a message clears memory (entries keyed by bytes cannot be found by identity)', async () => {
    const clock = new FakeClock();
    const hub = new Hub();
    const shared = new MemoryTier({ clock: clock.fn });
    const memA = new Cache<Uint8Array, unknown>({ maxEntries: 10 });
    const memB = new Cache<Uint8Array, unknown>({ maxEntries: 10 });
    const a = new TieredCache<Uint8Array, unknown>({ memory: memA, tiers: [{ tier: shared, write: 'through' }], bus: hub.end(), codec: 'json' });
    const b = new TieredCache<Uint8Array, unknown>({ memory: memB, tiers: [{ tier: shared, write: 'through' }], bus: hub.end(), codec: 'json' });
    const key = new Uint8Array([0, 255, 7]);
    await b.set(key, 'b');
    await b.set(new Uint8Array([1]), 'other');
    assert.equal(memB.size, 2);
    await a.set(new Uint8Array([0, 255, 7]), 'a'); // another instance, same bytes
    assert.equal(memB.size, 0, "b's memory was cleared");
    assert.equal(await b.get(key), 'a', 'and b reads the new value from the shared tier');
    assert.equal(hub.ends[0]!.published.at(-1)?.type, 'delete');
  });

  test('a failing publish is counted and reported, not thrown', async () => {
    const errors: string[] = [];
    const hub = new Hub();
    const bus = hub.end();
    const cache = new TieredCache<string, unknown>({ memory: new Cache({ maxEntries: 10 }), tiers: [], bus, onError: (_e, ctx) => errors.push(ctx.op) });
    bus.failPublish = true;
    await cache.set('k', 1);
    assert.equal(cache.stats().publishFailures, 1);
    assert.deepEqual(errors, ['publish']);
  });
});

describe('TieredCache: tier faults', () => {
  test('tier errors on get are counted and read as misses; the next tier, then the loader, answers', async () => {
    const clock = new FakeClock();
    const memory = new Cache<string, unknown>({ maxEntries: 10, clock: clock.fn });
    const broken = new FaultyTier('broken', clock.fn);
    const good = new FaultyTier('good', clock.fn);
    const seen: { op: string; tier?: string | undefined }[] = [];
    const cache = new TieredCache<string, unknown>({
      memory,
      tiers: [{ tier: broken, write: 'on-evict' }, { tier: good, write: 'on-evict' }],
      codec: 'json',
      loader: (k) => `loaded ${k}`,
      onError: (_e, ctx) => seen.push(ctx),
    });
    broken.mode.get = 'fail';
    await good.inner.set('g', enc('from good'));
    assert.equal(await cache.get('g'), 'from good');
    assert.equal(await cache.get('none'), undefined);
    assert.equal(await cache.fetch('f'), 'loaded f');
    assert.equal(cache.stats().tiers[0]!.callFailures, 3);
    assert.deepEqual(seen[0], { op: 'get', tier: 'broken' });
  });

  test('a tier whose get never resolves is bounded by its timeout', async () => {
    const { tier, cache } = setup({ timeout: 5, extra: { loader: () => 'loaded' } });
    tier.mode.get = 'hang';
    assert.equal(await cache.get('k'), undefined);
    assert.equal(await cache.fetch('k'), 'loaded');
    const s = cache.stats().tiers[0]!;
    assert.equal(s.callTimeouts, 2);
    assert.equal(s.callFailures, 2);
  });

  test("a 'through' set that the tier fails rejects with TierWriteError, drops the key from memory, and still publishes", async () => {
    const hub = new Hub();
    const bus = hub.end();
    const { memory, tier, cache } = setup({ write: 'through', extra: { bus } });
    tier.mode.set = 'fail';
    await assert.rejects(cache.set('k', 1), (e: unknown) => e instanceof TierWriteError && e.code === 'ERR_CORTADO_TIER_WRITE' && e.failures[0]!.tier === 't0' && /injected/.test(e.message));
    assert.equal(memory.has('k'), false);
    assert.equal(bus.published.length, 1);
    tier.mode.delete = 'fail';
    await assert.rejects(cache.delete('k'), TierWriteError);
    tier.mode.clear = 'fail';
    await assert.rejects(cache.clear(), TierWriteError);
  });

  test('a write that times out still holds back later writes of its key, so it cannot land after them', async () => {
    const { tier, cache } = setup({ write: 'through', timeout: 5 });
    tier.mode.set = 'hold';
    tier.holdOnly = 'k';
    const isTimeout = (e: unknown): boolean => e instanceof TierWriteError && (e.cause as { code?: string }).code === 'ERR_CORTADO_TIER_TIMEOUT';
    await assert.rejects(cache.set('k', 1), isTimeout);
    await assert.rejects(cache.set('k', 2), isTimeout, 'queued behind the stuck write: bounded too');
    await cache.set('other', 3); // other keys are not held back
    assert.ok((await tier.inner.get('other')) !== undefined);
    assert.equal(await cache.get('k'), undefined, 'a read behind the stuck write gives up as a miss');
    tier.mode.set = 'ok';
    tier.release('set'); // the stuck write lands at last, then the queued one
    await cache.flush();
    assert.equal(new TextDecoder().decode((await tier.inner.get('k'))!.bytes), '2', 'the later write is the one that stays');
    assert.ok(cache.stats().tiers[0]!.callTimeouts >= 3);
  });

  test('a failing spill is counted, reported, and does not disturb the cache', async () => {
    const errors: string[] = [];
    const { tier, cache } = setup({ maxEntries: 1, extra: { onError: (_e, ctx) => errors.push(ctx.op) } });
    tier.mode.set = 'fail';
    await cache.set('a', 'A');
    await cache.set('b', 'B');
    await cache.flush();
    assert.equal(cache.stats().tiers[0]!.callFailures, 1);
    assert.deepEqual(errors, ['spill']);
    assert.equal(await cache.get('b'), 'B');
  });
});

describe('TieredCache: close', () => {
  test('close flushes spills, closes tiers and bus, and later calls reject with TierClosedError; idempotent', async () => {
    const hub = new Hub();
    const bus = hub.end();
    const { tier, cache } = setup({ maxEntries: 1, extra: { bus } });
    tier.mode.set = 'hold';
    await cache.set('a', 'A');
    await cache.set('b', 'B'); // spill held
    await tier.whenHeld('set');
    const closing = cache.close();
    assert.equal(cache.close(), closing, 'idempotent');
    tier.mode.set = 'ok';
    tier.release('set');
    await closing;
    assert.equal(tier.calls.close, 1);
    assert.equal(bus.closed, true);
    assert.equal(tier.inner.stats().writes, 1, 'the held spill was written before the tier closed');
    for (const call of [() => cache.get('a'), () => cache.set('a', 1), () => cache.delete('a'), () => cache.clear(), () => cache.fetch('a', { loader: () => 1 }), () => cache.has('a')]) {
      await assert.rejects(call(), (e: unknown) => e instanceof TierClosedError && e.code === 'ERR_CORTADO_TIER_CLOSED');
    }
    assert.equal(typeof cache.stats().memory.hits, 'number', 'stats after close');
  });
});

describe('TieredCache: stats', () => {
  test("a tier's own counters (and its extra fields) are kept beside TieredCache's", async () => {
    const clock = new FakeClock();
    const inner = new MemoryTier({ clock: clock.fn });
    // A tier that reports fields named like TieredCache's concerns (as DiskTier's inFlightBytes).
    const tier: Tier = Object.assign(Object.create(inner) as MemoryTier, {
      name: 'own',
      stats: () => ({ ...inner.stats(), inFlightBytes: 123, timeouts: 7 }),
    });
    const cache = new TieredCache<string, unknown>({ memory: new Cache({ maxEntries: 10, clock: clock.fn }), tiers: [{ tier, write: 'through' }], codec: 'json' });
    await cache.set('k', 1);
    await inner.set('below', enc(2));
    await cache.get('below');
    const s = cache.stats().tiers[0]!;
    assert.equal(s.inFlightBytes, 123);
    assert.equal(s.timeouts, 7);
    assert.equal(s.callTimeouts, 0);
    assert.equal(s.spillBytesInFlight, 0);
    assert.equal(s.name, 'own');
    assert.equal(s.write, 'through');
    assert.equal(s.writes, 2, 'the through write and the direct one');
    assert.equal(s.hits, 1);
    assert.equal(s.promotions, 1);
    assert.equal(cache.stats().memory.inserts, 2);
  });
});

describe('TieredCache: close({ spillMemory })', () => {
  test('writes what memory holds to the on-evict tiers with the ttl left, waiting for room; values the tier holds already are skipped', async () => {
    const clock = new FakeClock();
    const inner = new MemoryTier({ clock: clock.fn });
    let closed = 0;
    // A tier that keeps its contents when closed (as a disk does), so the test can look after close.
    const disk: Tier = Object.assign(Object.create(inner) as MemoryTier, { name: 'disk', close: async () => void closed++ });
    const shared = new MemoryTier({ name: 'shared', clock: clock.fn });
    const memory = new Cache<string, string>({ maxEntries: 10, clock: clock.fn });
    const cache = new TieredCache<string, string>({
      memory,
      tiers: [{ tier: disk, write: 'on-evict', maxInFlightBytes: 1 }, { tier: shared, write: 'through' }],
      codec: 'utf8',
    });
    await cache.set('a', 'A', { ttl: 1_000 });
    await cache.set('b', 'B');
    await inner.set('c', new TextEncoder().encode('C'));
    assert.equal(await cache.get('c'), 'C'); // promoted from disk: disk still has it
    await cache.set('gone', 'G', { ttl: 50 });
    clock.advance(100);
    const writes = inner.stats().writes;
    await cache.close({ spillMemory: true });
    assert.equal(closed, 1);
    assert.equal((await inner.get('a'))?.ttl, 900);
    assert.equal((await inner.get('b'))?.ttl, Infinity);
    assert.equal(await inner.get('gone'), undefined, 'an expired entry is not written');
    assert.equal(inner.stats().writes, writes + 2, 'a and b; c was already there');
    const s = cache.stats().tiers[0]!;
    assert.equal(s.spillsDropped, 0, 'waited for room under maxInFlightBytes instead of dropping');
    assert.equal(s.spills, 2);
    assert.equal(memory.size, 4, 'memory is left to its owner');
  });

  test('bad close options are a TypeError', async () => {
    const { cache } = setup();
    await assert.rejects(cache.close({ spillMemory: 'yes' as never }), /spillMemory/);
    await assert.rejects(cache.close(5 as never), /close\(\) options must be an object/);
    await cache.close();
  });
});

describe('TieredCache: close with a hung tier', () => {
  test('flush and close give up on a tier that makes no progress for its timeout', async () => {
    const { tier, cache } = setup({ maxEntries: 1, timeout: 5 });
    tier.mode.set = 'hang';
    await cache.set('a', 'A');
    await cache.set('b', 'B'); // the spill of a hangs
    await cache.flush();
    assert.equal(cache.stats().tiers[0]!.spillBytesInFlight > 0, true, 'the hung spill is still in flight');
    await cache.close();
    assert.equal(tier.calls.close, 1, 'the tier was closed anyway');
  });
});

describe('TieredCache: options', () => {
  const memory = new Cache<string, unknown>({ maxEntries: 10 });
  const tier = new MemoryTier();
  const cases: [string, unknown, RegExp][] = [
    ['not an object', null, /options must be an object/],
    ['memory missing', { tiers: [] }, /option 'memory' must be a Cache/],
    ['memory a Map', { memory: new Map(), tiers: [] }, /option 'memory' must be a Cache/],
    ['tiers missing', { memory }, /option 'tiers' must be an array/],
    ['tier not a Tier', { memory, tiers: [{ tier: {}, write: 'through' }] }, /'tiers\[0\]\.tier' must be a Tier/],
    ['write mode', { memory, tiers: [{ tier, write: 'write-back' }] }, /'tiers\[0\]\.write' must be 'on-evict' or 'through'/],
    ['timeout', { memory, tiers: [{ tier, write: 'through', timeout: -1 }] }, /tiers\[0\]\.timeout/],
    ['shared', { memory, tiers: [{ tier, write: 'through', shared: 'yes' }] }, /'tiers\[0\]\.shared' must be a boolean/],
    ['maxInFlightBytes', { memory, tiers: [{ tier, write: 'on-evict', maxInFlightBytes: -5 }] }, /maxInFlightBytes/],
    ['unknown layer option', { memory, tiers: [{ tier, write: 'through', mode: 1 }] }, /unknown TieredCache option 'tiers\[0\]\.mode'/],
    ['tier twice', { memory, tiers: [{ tier, write: 'through' }, { tier, write: 'on-evict' }] }, /'tiers\[1\]\.tier' is given twice/],
    ['codec', { memory, tiers: [], codec: 'yaml' }, /option 'codec' must be one of/],
    ['key', { memory, tiers: [], key: 'id' }, /key must be a function/],
    ['loader', { memory, tiers: [], loader: 5 }, /loader must be a function/],
    ['ttl', { memory, tiers: [], ttl: -1 }, /ttl must be/],
    ['loadTimeout', { memory, tiers: [], loadTimeout: NaN }, /loadTimeout must be/],
    ['bus', { memory, tiers: [], bus: {} }, /option 'bus' must be an InvalidationBus/],
    ['unknown option', { memory, tiers: [], fetchMethod: () => 1 }, /unknown TieredCache option "fetchMethod"/],
  ];
  for (const [name, options, message] of cases) {
    test(`bad option: ${name}`, () => {
      assert.throws(() => new TieredCache(options as TieredCacheOptions<string, unknown>), (e: unknown) => (e instanceof TypeError || e instanceof RangeError) && message.test((e as Error).message));
    });
  }
});
