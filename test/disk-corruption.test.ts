/**
 * Corruption between close and open: bytes of the data, index and super files flipped, files
 * truncated or deleted. Whatever is done to the files, open succeeds, no get returns bytes
 * other than the ones last set for that key, and what failed verification is counted.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, open, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskTier, type DiskTierOptions } from 'cortado/disk';
import { prng } from './helpers.js';

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'cortado-disk-corrupt-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
let dirs = 0;

const OPTIONS = { maxBytes: 2 * 2 ** 20, regionSize: 64 * 1024, smallShare: 0.2 } satisfies Omit<DiskTierOptions, 'path'>;
const KEYS = 300;

function valueOf(i: number, round: number): Buffer {
  const rand = prng(i * 7919 + round);
  const len = rand() < 0.5 ? 20 + Math.floor(rand() * 1500) : 2100 + Math.floor(rand() * 5000);
  const b = Buffer.allocUnsafe(len);
  for (let j = 0; j < len; j++) b[j] = Math.floor(rand() * 256);
  return b;
}

/** A directory with KEYS keys written (some twice, some deleted), closed; and the model of it. */
async function populated(): Promise<{ path: string; model: Map<string, Buffer> }> {
  const path = join(root, `d${dirs++}`);
  const tier = await DiskTier.open({ path, ...OPTIONS });
  const model = new Map<string, Buffer>();
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < KEYS; i++) {
      if (round === 1 && i % 3 !== 0) continue;
      const v = valueOf(i, round);
      // Retried after drain() when admission refuses it (the device behind): every set kept.
      for (let attempt = 0; ; attempt++) {
        const before = tier.stats().rejected;
        await tier.set(`k${i}`, v);
        if (tier.stats().rejected === before) break;
        assert.ok(attempt < 100, 'a set refused 100 times');
        await tier.drain();
      }
      model.set(`k${i}`, v);
    }
  }
  for (let i = 0; i < KEYS; i += 10) {
    await tier.delete(`k${i}`);
    model.delete(`k${i}`);
  }
  await tier.close();
  return { path, model };
}

/** Opens, checks every key against the model (absent is allowed), and returns stats and hit count. */
async function verify(path: string, model: Map<string, Buffer>): Promise<{ hits: number; stats: ReturnType<DiskTier['stats']> }> {
  const tier = await DiskTier.open({ path, ...OPTIONS });
  try {
    let hits = 0;
    for (let i = 0; i < KEYS; i++) {
      const got = await tier.get(`k${i}`);
      if (got === undefined) continue;
      const want = model.get(`k${i}`);
      assert.ok(want !== undefined, `k${i} was deleted but came back`);
      assert.ok(Buffer.from(got.bytes).equals(want), `k${i}: wrong bytes`);
      hits++;
    }
    // The tier still works after whatever it found.
    await tier.set('fresh', Buffer.alloc(3000, 1));
    assert.ok(Buffer.from((await tier.get('fresh'))!.bytes).equals(Buffer.alloc(3000, 1)));
    return { hits, stats: tier.stats() };
  } finally {
    await tier.close();
  }
}

async function flip(file: string, count: number, seed: number, from = 0): Promise<void> {
  const size = (await stat(file)).size;
  const rand = prng(seed);
  const fh = await open(file, 'r+');
  try {
    const one = Buffer.alloc(1);
    for (let i = 0; i < count; i++) {
      const at = from + Math.floor(rand() * (size - from));
      await fh.read(one, 0, 1, at);
      one[0] = one[0]! ^ (1 + Math.floor(rand() * 255));
      await fh.write(one, 0, 1, at);
    }
  } finally {
    await fh.close();
  }
}

describe('DiskTier: corrupted files', () => {
  test('the table CRC-32 and the native one agree', async () => {
    // Not exported by the package: loaded from the built module beside the tests' build.
    type Crc = (b: Uint8Array, start?: number, end?: number) => number;
    const mod = (await import(new URL('../../dist/disk/crc32.js', import.meta.url).href)) as { crc32: Crc; crc32Table: Crc };
    const { crc32, crc32Table } = mod;
    const rand = prng(1);
    for (const len of [0, 1, 7, 100, 4096, 10_000]) {
      const b = Buffer.allocUnsafe(len);
      for (let i = 0; i < len; i++) b[i] = Math.floor(rand() * 256);
      assert.equal(crc32Table(b), crc32(b), `length ${len}`);
      assert.equal(crc32Table(b, 3, Math.max(3, len - 2)), crc32(b, 3, Math.max(3, len - 2)));
    }
    assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926); // the standard check value
  });

  test('flipped bytes in the data file: never wrong bytes, corruptions counted', async () => {
    const { path, model } = await populated();
    await flip(join(path, 'data'), 400, 11);
    const { hits, stats } = await verify(path, model);
    assert.equal(stats.recovery, 'warm');
    assert.ok(stats.corruptions > 0, `corruptions ${stats.corruptions}`);
    assert.ok(hits > 0, 'some items survived');
  });

  test('flipped bytes in the data file, then a recovery scan (index removed): never wrong bytes', async () => {
    const { path, model } = await populated();
    await flip(join(path, 'data'), 400, 12);
    await unlink(join(path, 'index'));
    const { hits, stats } = await verify(path, model);
    assert.equal(stats.recovery, 'scanned');
    assert.ok(stats.corruptions > 0, `corruptions ${stats.corruptions}`);
    assert.ok(hits > 0);
  });

  test('a flipped index file is not trusted: the data is scanned instead', async () => {
    const { path, model } = await populated();
    await flip(join(path, 'index'), 5, 13);
    const { hits, stats } = await verify(path, model);
    assert.equal(stats.recovery, 'scanned');
    assert.ok(hits > model.size / 4, `hits ${hits} of ${model.size}`);
  });

  test('truncated data and index files', async () => {
    const { path, model } = await populated();
    const size = (await stat(join(path, 'data'))).size;
    await truncate(join(path, 'data'), Math.floor(size * 0.6));
    const warm = await verify(path, model);
    assert.equal(warm.stats.recovery, 'warm');
    assert.ok(warm.stats.corruptions > 0, 'items cut off by the truncation are counted');

    const second = await populated();
    await truncate(join(second.path, 'index'), 100);
    await truncate(join(second.path, 'data'), Math.floor(size * 0.5));
    const scanned = await verify(second.path, second.model);
    assert.equal(scanned.stats.recovery, 'scanned');
  });

  test('a corrupt bucket is counted once, then answered without reads', async () => {
    const { path, model } = await populated();
    // Damage the body of every written bucket (a 4 KiB page that starts with magic 'CDB1').
    const fh = await open(join(path, 'data'), 'r+');
    const page = Buffer.alloc(4096);
    let damaged = 0;
    try {
      for (let at = 0; ; at += 4096) {
        const { bytesRead } = await fh.read(page, 0, 4096, at);
        if (bytesRead < 4096) break;
        if (page.readUInt32LE(0) !== 0x31424443) continue;
        page[100] = page[100]! ^ 0xff;
        await fh.write(page, 0, 4096, at);
        damaged++;
      }
    } finally {
      await fh.close();
    }
    assert.ok(damaged > 0, 'buckets were found and damaged');
    const tier = await DiskTier.open({ path, ...OPTIONS });
    try {
      for (const k of model.keys()) await tier.get(k);
      const first = tier.stats();
      assert.ok(first.corruptions > 0 && first.corruptions <= damaged, `corruptions ${first.corruptions} of ${damaged} damaged buckets`);
      for (const k of model.keys()) await tier.get(k);
      const second = tier.stats();
      assert.equal(second.corruptions, first.corruptions, 'not counted again');
      assert.ok(second.reads - first.reads < first.reads, `the second pass skips the corrupt buckets (reads ${first.reads}, then ${second.reads - first.reads})`);
    } finally {
      await tier.close();
    }
  });

  test('a corrupt or missing superblock starts empty; garbage over the whole data file is harmless', async () => {
    const { path, model } = await populated();
    await flip(join(path, 'super'), 3, 14);
    const { hits, stats } = await verify(path, model);
    assert.equal(stats.recovery, 'empty');
    assert.equal(hits, 0);

    const second = await populated();
    const size = (await stat(join(second.path, 'data'))).size;
    const rand = prng(15);
    const junk = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) junk[i] = Math.floor(rand() * 256);
    await writeFile(join(second.path, 'data'), junk);
    const r = await verify(second.path, second.model);
    assert.equal(r.hits, 0);
    assert.ok(r.stats.corruptions > 0);

    const third = await populated();
    await unlink(join(third.path, 'super'));
    assert.equal((await verify(third.path, third.model)).stats.recovery, 'empty');
  });
});
