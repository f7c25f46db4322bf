/**
 * DiskTier behaviour on real files: both engines, overwrite and delete across them, region
 * reuse within maxBytes, Bloom-filter misses without reads, warm restart, TTL on an injected
 * clock, admission, bad input, closed tier, and the races the tier must order.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskTier, type DiskTierOptions } from 'cortado/disk';
import { FakeClock, prng } from './helpers.js';

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'cortado-disk-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

let dirs = 0;
function freshDir(): string {
  return join(root, `t${dirs++}`);
}

const MiB = 2 ** 20;
/** A small geometry: 64 KiB regions, so tests fill and reuse regions quickly. */
function small(path: string, extra: Partial<DiskTierOptions> = {}): DiskTierOptions {
  return { path, maxBytes: 2 * MiB, regionSize: 64 * 1024, ...extra };
}

function bytesOf(seed: number, len: number): Buffer {
  const rand = prng(seed);
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** A set that is retried after drain() when admission refused it (tests that need every set kept). */
async function put(tier: DiskTier, key: string, value: Uint8Array, options?: { ttl?: number }): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = tier.stats().rejected;
    await tier.set(key, value, options);
    if (tier.stats().rejected === before) return;
    await tier.drain();
  }
  throw new Error(`set of ${key} refused 100 times`);
}

async function dirBytes(path: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(path)) total += (await stat(join(path, f))).size;
  return total;
}

describe('DiskTier: items', () => {
  test('small and large items round-trip; a string key and its UTF-8 bytes are one key', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    try {
      const s = bytesOf(1, 100);
      const l = bytesOf(2, 20_000);
      await tier.set('small', s);
      await tier.set('large', l);
      await tier.set('ünï', bytesOf(3, 10));
      assert.deepEqual((await tier.get('small'))?.bytes, s);
      assert.deepEqual((await tier.get('large'))?.bytes, l);
      assert.deepEqual((await tier.get(Buffer.from('small')))?.bytes, s);
      assert.deepEqual((await tier.get(new TextEncoder().encode('ünï')))?.bytes, bytesOf(3, 10));
      assert.equal(await tier.get('absent'), undefined);
      const st = tier.stats();
      assert.equal(st.smallItems, 2);
      assert.equal(st.largeItems, 1);
      assert.equal(st.writes, 3);
      assert.equal(st.bytesWritten, 20_110);
      assert.equal(st.hits, 4);
      assert.equal(st.misses, 1);
      // The caller may reuse its buffer once set resolved.
      const reused = Buffer.alloc(5000, 1);
      await tier.set('reuse', reused);
      reused.fill(2);
      assert.deepEqual((await tier.get('reuse'))?.bytes, Buffer.alloc(5000, 1));
    } finally {
      await tier.close();
    }
  });

  test('overwrite within and across engines returns the newest bytes; delete removes from both', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    try {
      const sizes = [10, 5000, 300, 3000, 2047, 2048, 1];
      for (let i = 0; i < sizes.length; i++) {
        await tier.set('k', bytesOf(i, sizes[i]!));
        assert.deepEqual((await tier.get('k'))?.bytes, bytesOf(i, sizes[i]!), `after set ${i}`);
        assert.equal(tier.stats().items, 1, `one item after set ${i}`);
      }
      assert.equal(await tier.delete('k'), true);
      assert.equal(await tier.get('k'), undefined);
      assert.equal(await tier.delete('k'), false);
      assert.equal(tier.stats().items, 0);
      await tier.set('l', bytesOf(9, 9000));
      assert.equal(await tier.delete('l'), true);
      assert.equal(await tier.get('l'), undefined);
    } finally {
      await tier.close();
    }
  });

  test('regions are reused FIFO: the files stay within maxBytes, old items go, recent ones stay', async () => {
    const path = freshDir();
    const tier = await DiskTier.open(small(path));
    try {
      const st0 = tier.stats();
      const n = 600; // 600 x ~10 KiB = 6 MB through a 2 MiB tier
      for (let i = 0; i < n; i++) await put(tier, `k${i}`, bytesOf(i, 10_000));
      const st = tier.stats();
      assert.ok(st.evictions > 0, 'regions were reused');
      assert.ok(st.regionsWritten > st0.regionCount, 'the ring went round');
      assert.equal(await tier.get('k0'), undefined);
      for (let i = n - 20; i < n; i++) assert.deepEqual((await tier.get(`k${i}`))?.bytes, bytesOf(i, 10_000));
      assert.ok(await dirBytes(path) <= 2 * MiB, 'files within maxBytes while open');
      assert.ok(st.largeItems <= (st0.regionCount * 64 * 1024) / 10_000);
    } finally {
      await tier.close();
    }
    assert.ok(await dirBytes(path) <= 2 * MiB, 'files within maxBytes after close');
  });

  test('a small-item miss answered by the Bloom filter does no read', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    try {
      for (let i = 0; i < 100; i++) await tier.get(`absent${i}`);
      assert.equal(tier.stats().reads, 0, 'empty buckets: no reads');
      assert.equal(tier.stats().bloomSkips, 100);
      const buckets = tier.stats().bucketCount;
      for (let i = 0; i < buckets; i++) await tier.set(`p${i}`, bytesOf(i, 50));
      const before = tier.stats().reads;
      for (let i = 0; i < 1000; i++) await tier.get(`q${i}`);
      const reads = tier.stats().reads - before;
      // About one item per bucket: 3 bits of 64 set, a false positive ~1e-4 (counted: < 5%).
      assert.ok(reads < 50, `reads for 1000 misses: ${reads}`);
      assert.equal(tier.stats().misses, 1100);
    } finally {
      await tier.close();
    }
  });

  test('a full bucket evicts its oldest items first', async () => {
    const tier = await DiskTier.open(small(freshDir(), { smallShare: 0.01 }));
    try {
      const buckets = tier.stats().bucketCount;
      assert.ok(buckets >= 1);
      const n = buckets * 20; // 20 x 1 KiB per 4 KiB bucket
      for (let i = 0; i < n; i++) await tier.set(`s${i}`, bytesOf(i, 1000));
      const st = tier.stats();
      assert.ok(st.evictions > 0);
      assert.ok(st.smallItems <= buckets * 4);
      assert.equal(st.smallItems, n - st.evictions);
      let recentHits = 0;
      for (let i = n - buckets; i < n; i++) if ((await tier.get(`s${i}`)) !== undefined) recentHits++;
      let oldHits = 0;
      for (let i = 0; i < buckets; i++) if ((await tier.get(`s${i}`)) !== undefined) oldHits++;
      assert.ok(recentHits > oldHits, `recent ${recentHits} > old ${oldHits}`);
    } finally {
      await tier.close();
    }
  });
});

describe('DiskTier: restart', () => {
  test('close then open serves the same data warm; deletes and overwrites hold; clear holds', async () => {
    const path = freshDir();
    let tier = await DiskTier.open(small(path));
    const model = new Map<string, Buffer>();
    const rand = prng(7);
    for (let i = 0; i < 400; i++) {
      const k = `k${Math.floor(rand() * 150)}`;
      if (rand() < 0.2) {
        await tier.delete(k);
        model.delete(k);
      } else {
        const v = bytesOf(i, rand() < 0.5 ? 200 : 4000);
        await put(tier, k, v);
        model.set(k, v);
      }
    }
    const items = tier.stats().items;
    await tier.close();
    tier = await DiskTier.open(small(path));
    try {
      assert.equal(tier.stats().recovery, 'warm');
      assert.equal(tier.stats().items, items);
      let hits = 0;
      for (let i = 0; i < 150; i++) {
        const k = `k${i}`;
        const got = await tier.get(k);
        if (!model.has(k)) assert.equal(got, undefined, `${k} was deleted`);
        else if (got !== undefined) {
          assert.deepEqual(got.bytes, model.get(k), k);
          hits++;
        }
      }
      assert.ok(hits >= model.size * 0.5, `hits after restart ${hits} of ${model.size}`);
      await tier.clear();
      assert.equal(await tier.get('k1'), undefined);
      await tier.set('after', bytesOf(1, 3000));
    } finally {
      await tier.close();
    }
    tier = await DiskTier.open(small(path));
    try {
      for (let i = 0; i < 150; i++) assert.equal(await tier.get(`k${i}`), undefined, 'cleared stays cleared');
      assert.deepEqual((await tier.get('after'))?.bytes, bytesOf(1, 3000));
    } finally {
      await tier.close();
    }
  });

  test("different geometry on the same path starts empty; recovery 'none' starts empty", async () => {
    const path = freshDir();
    let tier = await DiskTier.open(small(path));
    await tier.set('a', bytesOf(1, 5000));
    await tier.close();
    tier = await DiskTier.open(small(path, { regionSize: 128 * 1024 }));
    assert.equal(tier.stats().recovery, 'empty');
    assert.equal(await tier.get('a'), undefined);
    await tier.set('b', bytesOf(2, 5000));
    await tier.close();
    tier = await DiskTier.open(small(path, { regionSize: 128 * 1024, recovery: 'none' }));
    assert.equal(tier.stats().recovery, 'empty');
    assert.equal(await tier.get('b'), undefined);
    await tier.close();
  });
});

describe('DiskTier: the saved index stays within its reserve', () => {
  test('tiny items beyond the reserve: close keeps the newest regions, the files stay within maxBytes', async () => {
    const path = freshDir();
    const opts = small(path, { smallShare: 0, smallItemThreshold: 0 });
    let tier = await DiskTier.open(opts);
    const n = 20_000; // ~64 bytes each: far more entries than 1 per 256 bytes of regions
    for (let i = 0; i < n; i++) {
      await put(tier, `k${i}`, bytesOf(i, 10));
    }
    const before = tier.stats().items;
    await tier.close();
    assert.ok(await dirBytes(path) <= 2 * MiB, 'files within maxBytes');
    tier = await DiskTier.open(opts);
    try {
      const st = tier.stats();
      assert.equal(st.recovery, 'warm');
      assert.ok(st.items < before, `saved ${st.items} of ${before}`);
      assert.ok(st.items > 0);
      assert.deepEqual((await tier.get(`k${n - 1}`))?.bytes, bytesOf(n - 1, 10), 'the newest item was kept');
      let found = 0;
      for (let i = 0; i < n; i += 7) {
        const got = await tier.get(`k${i}`);
        if (got !== undefined) {
          assert.deepEqual(got.bytes, bytesOf(i, 10));
          found++;
        }
      }
      assert.ok(found > 0);
    } finally {
      await tier.close();
    }
  });
});

describe('DiskTier: TTL on an injected clock', () => {
  test('remaining ttl is reported, expired items are misses, also after a restart', async () => {
    const clock = new FakeClock();
    const path = freshDir();
    let tier = await DiskTier.open(small(path, { clock: clock.fn }));
    await tier.set('s', bytesOf(1, 100), { ttl: 1000 });
    await tier.set('l', bytesOf(2, 5000), { ttl: 1000 });
    await tier.set('forever', bytesOf(3, 5000), { ttl: 0 });
    clock.advance(400);
    assert.equal((await tier.get('s'))?.ttl, 600);
    assert.equal((await tier.get('l'))?.ttl, 600);
    assert.equal((await tier.get('forever'))?.ttl, Infinity);
    await tier.close();
    tier = await DiskTier.open(small(path, { clock: clock.fn }));
    try {
      assert.equal((await tier.get('l'))?.ttl, 600);
      clock.advance(600);
      assert.equal(await tier.get('s'), undefined);
      assert.equal(await tier.get('l'), undefined);
      assert.deepEqual((await tier.get('forever'))?.bytes, bytesOf(3, 5000));
    } finally {
      await tier.close();
    }
  });
});

describe('DiskTier: admission', () => {
  test('probability 0 refuses every set and removes the older value', async () => {
    const path = freshDir();
    let tier = await DiskTier.open(small(path));
    await tier.set('k', bytesOf(1, 5000));
    await tier.set('s', bytesOf(1, 50));
    await tier.close();
    tier = await DiskTier.open(small(path, { admission: { probability: 0 } }));
    try {
      await tier.set('k', bytesOf(2, 5000));
      await tier.set('s', bytesOf(2, 50));
      await tier.set('new', bytesOf(2, 50));
      assert.equal(tier.stats().rejected, 3);
      assert.equal(tier.stats().writes, 0);
      assert.equal(await tier.get('k'), undefined);
      assert.equal(await tier.get('s'), undefined);
      assert.equal(await tier.get('new'), undefined);
    } finally {
      await tier.close();
    }
  });

  test('the write budget refuses sets past it and refills with the clock', async () => {
    const clock = new FakeClock();
    // Budget 64 KiB/s, burst one second (= one region here).
    const tier = await DiskTier.open(small(freshDir(), { clock: clock.fn, admission: { writeRateBytesPerSec: 64 * 1024 } }));
    try {
      let admitted = 0;
      for (let i = 0; i < 20; i++) {
        await tier.set(`k${i}`, bytesOf(i, 10_000));
        admitted = tier.stats().writes;
      }
      assert.equal(admitted, 6, '6 x 10,040 bytes fit in 65,536');
      assert.equal(tier.stats().rejected, 14);
      clock.advance(500);
      for (let i = 20; i < 30; i++) await tier.set(`k${i}`, bytesOf(i, 10_000));
      assert.equal(tier.stats().writes, 6 + 3, 'half a second refills 32 KiB: 3 more');
    } finally {
      await tier.close();
    }
  });

  test('when region writes fall behind, sets are refused, never queued: buffers stay bounded', async () => {
    const tier = await DiskTier.open(small(freshDir(), { admission: { maxInFlightBytes: 64 * 1024 } }));
    try {
      // Nothing completes while these are issued (one synchronous burst): the active region
      // and one region in flight fill, then the rest are refused.
      const sets: Promise<void>[] = [];
      for (let i = 0; i < 100; i++) sets.push(tier.set(`k${i}`, bytesOf(i, 10_000)));
      const during = tier.stats();
      await Promise.all(sets);
      const st = tier.stats();
      assert.ok(st.rejected >= 100 - 12, `rejected ${st.rejected}`);
      assert.equal(st.writes + st.rejected, 100);
      assert.ok(during.bufferBytes <= 2 * 64 * 1024, `buffers ${during.bufferBytes}`);
      assert.ok(st.bufferBytes <= 2 * 64 * 1024);
      // Once the device caught up, sets are admitted again.
      await tier.flush();
      assert.equal(tier.stats().inFlightBytes, 0);
      await tier.set('later', bytesOf(1, 10_000));
      assert.deepEqual((await tier.get('later'))?.bytes, bytesOf(1, 10_000));
    } finally {
      await tier.close();
    }
  });

  test('a value larger than a region is declined and removes the older value', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    try {
      await tier.set('k', bytesOf(1, 5000));
      await tier.set('k', Buffer.alloc(64 * 1024));
      assert.equal(tier.stats().rejected, 1);
      assert.equal(await tier.get('k'), undefined);
    } finally {
      await tier.close();
    }
  });
});

describe('DiskTier: input and lifecycle', () => {
  test('bad arguments throw TypeError/RangeError naming them; nothing changes', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    try {
      await assert.rejects(tier.get(1 as never), (e: Error) => e instanceof TypeError && /key/.test(e.message));
      await assert.rejects(tier.set('k', 'v' as never), (e: Error) => e instanceof TypeError && /bytes/.test(e.message));
      await assert.rejects(tier.set('k', Buffer.alloc(1), { ttl: -1 }), (e: Error) => e instanceof RangeError && /ttl/.test(e.message));
      await assert.rejects(tier.set('k', Buffer.alloc(1), { ttl: 'x' as never }), (e: Error) => e instanceof TypeError && /ttl/.test(e.message));
      await assert.rejects(tier.set('x'.repeat(70_000), Buffer.alloc(1)), (e: Error) => e instanceof RangeError && /key/.test(e.message));
      await assert.rejects(tier.delete(null as never), TypeError);
      assert.equal(tier.stats().items, 0);
      assert.equal(tier.stats().writes, 0);
    } finally {
      await tier.close();
    }
    await assert.rejects(DiskTier.open({ path: '', maxBytes: MiB }), (e: Error) => e instanceof TypeError && /path/.test(e.message));
    await assert.rejects(DiskTier.open({ path: freshDir(), maxBytes: -1 }), (e: Error) => e instanceof RangeError && /maxBytes/.test(e.message));
    await assert.rejects(DiskTier.open({ path: freshDir(), maxBytes: MiB, regionSize: 5000 }), (e: Error) => e instanceof RangeError && /regionSize/.test(e.message));
    await assert.rejects(DiskTier.open({ path: freshDir(), maxBytes: MiB, smallShare: 2 }), (e: Error) => e instanceof RangeError && /smallShare/.test(e.message));
    await assert.rejects(DiskTier.open({ path: freshDir(), maxBytes: MiB, admission: { probability: 1.5 } }), (e: Error) => e instanceof RangeError && /probability/.test(e.message));
    await assert.rejects(DiskTier.open({ path: freshDir(), maxBytes: MiB, recovery: 'maybe' as never }), (e: Error) => e instanceof TypeError && /recovery/.test(e.message));
  });

  test('a closed tier rejects every call with ERR_CORTADO_TIER_CLOSED; close is idempotent', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    await tier.set('k', bytesOf(1, 10));
    await Promise.all([tier.close(), tier.close()]);
    await tier.close();
    for (const call of [() => tier.get('k'), () => tier.set('k', Buffer.alloc(1)), () => tier.delete('k'), () => tier.clear()]) {
      await assert.rejects(call(), (e: Error & { code?: string }) => e.name === 'TierClosedError' && e.code === 'ERR_CORTADO_TIER_CLOSED');
    }
  });
});

describe('DiskTier: races', () => {
  test('get during a region flush is served from the buffer being written', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    try {
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 8; i++) writes.push(tier.set(`k${i}`, bytesOf(i, 10_000)));
      // 7th item sealed the first region: its write is in flight now.
      assert.ok(tier.stats().inFlightBytes > 0, 'a region write is in flight');
      const reads = [];
      for (let i = 0; i < 8; i++) reads.push(tier.get(`k${i}`));
      const got = await Promise.all(reads);
      for (let i = 0; i < 8; i++) assert.deepEqual(got[i]?.bytes, bytesOf(i, 10_000));
      await Promise.all(writes);
      for (let i = 0; i < 8; i++) assert.deepEqual((await tier.get(`k${i}`))?.bytes, bytesOf(i, 10_000));
    } finally {
      await tier.close();
    }
  });

  test('delete during a write: the later call wins, for both engines', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    try {
      for (const len of [100, 10_000]) {
        for (let round = 0; round < 20; round++) {
          const k = `k${len}-${round}`;
          const set = tier.set(k, bytesOf(round, len));
          const del = tier.delete(k);
          await Promise.all([set, del]);
          assert.equal(await tier.get(k), undefined, `${k}: delete was called after set`);
          const del2 = tier.delete(k);
          const set2 = tier.set(k, bytesOf(round + 1, len));
          await Promise.all([set2, del2]);
          assert.deepEqual((await tier.get(k))?.bytes, bytesOf(round + 1, len), `${k}: set was called after delete`);
        }
      }
    } finally {
      await tier.close();
    }
  });

  test('an overwrite of an item being read: the read returns the old or the new bytes, never others', async () => {
    const tier = await DiskTier.open(small(freshDir()));
    try {
      const rand = prng(3);
      for (let round = 0; round < 200; round++) {
        const k = `k${round % 7}`;
        const len = rand() < 0.5 ? 300 : 6000;
        const old = bytesOf(round, len);
        await tier.set(k, old);
        // Push the item's region to disk sometimes, so the read hits the file.
        if (round % 3 === 0) for (let j = 0; j < 8; j++) await tier.set(`fill${j}`, bytesOf(j, 9000));
        const next = bytesOf(round + 1000, rand() < 0.5 ? 300 : 6000);
        const read = tier.get(k);
        const write = tier.set(k, next);
        const del = rand() < 0.3 ? tier.delete(k) : undefined;
        const got = await read;
        await write;
        await del;
        if (got !== undefined) assert.ok(Buffer.from(got.bytes).equals(old) || Buffer.from(got.bytes).equals(next), `round ${round}`);
      }
      assert.equal(tier.stats().corruptions, 0);
    } finally {
      await tier.close();
    }
  });
});

describe("DiskTier: reclaim 'lru'", () => {
  test('a region read recently outlives an older unread one; FIFO reuses in write order', async () => {
    for (const reclaim of ['fifo', 'lru'] as const) {
      const tier = await DiskTier.open(small(freshDir(), { reclaim, smallShare: 0, smallItemThreshold: 0 }));
      try {
        const regions = tier.stats().regionCount;
        // 6 items of 10,000 bytes fill a 64 KiB region: write exactly the ring, then read the first region's items.
        const perRegion = 6;
        for (let i = 0; i < regions * perRegion; i++) await put(tier, `k${i}`, bytesOf(i, 10_000));
        await tier.flush();
        for (let i = 0; i < perRegion; i++) assert.ok((await tier.get(`k${i}`)) !== undefined, `k${i} before reuse`);
        // Two more regions' worth: reuses two regions.
        for (let i = 0; i < 2 * perRegion; i++) await put(tier, `n${i}`, bytesOf(i, 10_000));
        let firstKept = 0;
        for (let i = 0; i < perRegion; i++) if ((await tier.get(`k${i}`)) !== undefined) firstKept++;
        if (reclaim === 'lru') assert.equal(firstKept, perRegion, 'the first region was read: kept');
        else assert.equal(firstKept, 0, 'FIFO reuses the oldest region');
      } finally {
        await tier.close();
      }
    }
  });
});
