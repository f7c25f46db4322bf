// DiskTier benchmark (npm run bench:disk). Not a test: prints figures for docs/disk.md.
//
//   node bench/disk.mjs [--only hit,bw,lat,peers,restart] [--dir /path] [--quick]
//
// Sections:
//   hit      hit ratio of a memory Cache + DiskTier (memory's victims go down, a disk hit is
//            promoted) against one all-memory Cache of the same total capacity, on a Zipf
//            workload whose key space is 10x the memory tier (cache-aside: a miss sets).
//   bw       region write bandwidth (4 KiB values, a writer that backs off when refused)
//            against plain sequential 16 MiB fs writes, both fsynced at the end; 3 runs each,
//            alternating, medians.
//   lat      disk-hit latency p50/p99 and ops/s for 4 KiB values (memory tier bypassed),
//            one get at a time and 16 at a time.
//   peers    the same set-then-get workload of 4 KiB values on DiskTier, lmdb and cacache
//            (neither bounds its size).
//   restart  warm restart (close + open) and crash recovery (scan) with 1M items.
//
// The files live under os.tmpdir() unless --dir is given; they are removed at the end.
// Figures depend on the page cache: the data fits in RAM here, so reads are memory copies
// plus syscalls, and fsync is what reaches the device.
import { mkdtemp, rm, open, unlink } from 'node:fs/promises';
import { tmpdir, cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { Cache } from 'cortado';
import { DiskTier } from 'cortado/disk';
import { prng, zipf } from 'cortado/sim';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const quick = args.includes('--quick');
const EXCLUSIVE = args.includes('--exclusive');
const DOWN_REJECTED = args.includes('--down-rejected');
const POLICY = arg('policy', undefined);
const RECLAIM = arg('reclaim', 'fifo');
const only = new Set((arg('only', 'hit,bw,lat,peers,restart')).split(','));
const base = await mkdtemp(join(arg('dir', tmpdir()), 'cortado-bench-disk-'));
const MiB = 2 ** 20;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const fmt = (n, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d });
let dirs = 0;
const fresh = () => join(base, `d${dirs++}`);
const now = () => Number(process.hrtime.bigint()) / 1e6;

console.log(`# DiskTier bench ${new Date().toISOString()} node ${process.version} ${cpus().length}x ${cpus()[0]?.model} ${fmt(totalmem() / 2 ** 30)} GiB linux ${release()}`);

/** A set that waits (yielding to the event loop) until the tier admits it: a loader that backs off. */
async function put(t, k, v) {
  for (;;) {
    const before = t.stats().rejected;
    await t.set(k, v);
    if (t.stats().rejected === before) return;
    await new Promise(setImmediate);
  }
}

function value4k(i) {
  const b = Buffer.allocUnsafe(4096);
  b.fill(i & 0xff);
  b.writeUInt32LE(i >>> 0, 0);
  return b;
}

// ---------------------------------------------------------------------------------------
if (only.has('hit')) {
  const M = quick ? 2_000 : 5_000; // memory tier entries
  const N = 10 * M; // key space: 10x the memory tier
  const OPS = quick ? 100_000 : 300_000;
  const regionSize = 1 * MiB;
  const itemBytes = Math.ceil((40 + 8 + 4096) / 16) * 16;
  // Disk of 4x memory (by items): maxBytes from the region count it needs.
  const diskItemsTarget = 4 * M;
  const regions = Math.ceil((diskItemsTarget * itemBytes) / regionSize);
  const disk = await DiskTier.open({ path: fresh(), maxBytes: Math.ceil(regions * regionSize * 1.05) + 64 * 1024, regionSize, smallShare: 0, smallItemThreshold: 0, reclaim: RECLAIM });
  const st0 = disk.stats();
  const diskCapacity = Math.floor(regionSize / itemBytes) * st0.regionCount;
  const total = M + diskCapacity;

  for (const alpha of [0.8, 1.0]) {
    const rand = prng(42);
    const next = zipf(N, alpha, rand);
    const trace = new Int32Array(OPS);
    for (let i = 0; i < OPS; i++) trace[i] = next();
    const keys = Array.from({ length: N }, (_, i) => `key:${i}`);

    // All memory, same total capacity.
    const all = new Cache({ maxEntries: total, ...(POLICY ? { policy: POLICY } : {}) });
    let allHits = 0;
    for (let i = 0; i < OPS; i++) {
      const k = keys[trace[i]];
      if (all.get(k) !== undefined) allHits++;
      else all.set(k, value4k(trace[i]));
    }

    // Memory + disk: memory's victims (evicted, or refused by its admission) go down.
    await disk.clear();
    const pending = [];
    const clean = new Set();
    const mem = new Cache({
      maxEntries: M,
      ...(POLICY ? { policy: POLICY } : {}),
      onRemove: (key, value, cause) => {
        if (cause !== 'evicted' && !(DOWN_REJECTED && cause === 'rejected')) return;
        // A clean copy (read from disk, unchanged) is still on disk: writing it again would
        // only punch the old copy and leave a hole in its region.
        if (clean.delete(key)) return;
        pending.push(disk.set(key, value));
      },
    });
    let memHits = 0;
    let diskHits = 0;
    const t0 = now();
    for (let i = 0; i < OPS; i++) {
      const k = keys[trace[i]];
      if (mem.get(k) !== undefined) {
        memHits++;
        continue;
      }
      const e = await disk.get(k);
      if (e !== undefined) {
        diskHits++;
        // Promoted. Inclusive (default): the disk copy stays and is not written again when
        // memory evicts it unchanged. --exclusive: the disk copy is deleted (a hole).
        mem.set(k, e.bytes);
        if (EXCLUSIVE) pending.push(disk.delete(k).then(() => {}));
        else clean.add(k);
      } else mem.set(k, value4k(trace[i]));
      if (pending.length > 64) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending.splice(0));
    const ms = now() - t0;
    const ds = disk.stats();
    const hybrid = (memHits + diskHits) / OPS;
    console.log(
      `hit zipf ${alpha}: keys ${N}, memory ${M}, disk ~${diskCapacity} items (${st0.regionCount} x ${regionSize / MiB} MiB regions), all-memory ${total}: ` +
        `all-memory ${(100 * allHits / OPS).toFixed(2)}%, memory+disk ${(100 * hybrid).toFixed(2)}% (memory ${(100 * memHits / OPS).toFixed(2)}% + disk ${(100 * diskHits / OPS).toFixed(2)}%), ` +
        `diff ${(100 * (hybrid - allHits / OPS)).toFixed(2)} points; disk items ${ds.items}, rejected ${ds.rejected}, ${fmt(OPS / (ms / 1000), 0)} ops/s`,
    );
  }
  await disk.close();
}

// ---------------------------------------------------------------------------------------
if (only.has('bw')) {
  const total = quick ? 128 * MiB : 512 * MiB;
  const chunk = 16 * MiB;
  const plain = [];
  const tier = [];
  const refused = [];
  const tierLarge = [];
  const setsPerSec = [];
  for (let run = 0; run < 3; run++) {
    {
      const file = join(base, `plain${run}`);
      const fh = await open(file, 'w');
      const buf = Buffer.alloc(chunk, 7);
      const t0 = now();
      for (let off = 0; off < total; off += chunk) await fh.write(buf, 0, chunk, off);
      await fh.sync();
      const ms = now() - t0;
      await fh.close();
      await unlink(file);
      plain.push(total / MiB / (ms / 1000));
    }
    for (const size of [4096, 256 * 1024]) {
      const path = fresh();
      const t = await DiskTier.open({ path, maxBytes: total + 64 * MiB, regionSize: 16 * MiB, smallShare: 0 });
      const v = Buffer.alloc(size, 3);
      const t0 = now();
      let i = 0;
      // A writer that never waits for the device: a refused set (all region buffers in
      // flight) yields to the event loop so that completions run, and the next set retries.
      while (t.stats().deviceBytesWritten + t.stats().inFlightBytes < total) {
        const before = t.stats().rejected;
        await t.set(`k${i++}`, v);
        if (t.stats().rejected !== before) await new Promise(setImmediate);
      }
      await t.close(); // writes the last region, fsyncs, saves the index
      const ms = now() - t0;
      const st = t.stats();
      (size === 4096 ? tier : tierLarge).push(st.deviceBytesWritten / MiB / (ms / 1000));
      if (size === 4096) refused.push(st.rejected);
      if (size === 4096) setsPerSec.push(st.writes / (ms / 1000));
      await rm(path, { recursive: true, force: true });
    }
  }
  // Page cache only (no fsync): what the CPU and the syscalls allow.
  const pcPlain = [];
  const pcTier = [];
  for (let run = 0; run < 3; run++) {
    const file = join(base, `pc${run}`);
    const fh = await open(file, 'w');
    const buf = Buffer.alloc(chunk, 7);
    let t0 = now();
    for (let off = 0; off < total / 2; off += chunk) await fh.write(buf, 0, chunk, off);
    pcPlain.push(total / 2 / MiB / ((now() - t0) / 1000));
    await fh.close();
    await unlink(file);
    const path = fresh();
    const t = await DiskTier.open({ path, maxBytes: total + 64 * MiB, regionSize: 16 * MiB, smallShare: 0 });
    const v = Buffer.alloc(4096, 3);
    t0 = now();
    let i = 0;
    while (t.stats().deviceBytesWritten + t.stats().inFlightBytes < total / 2) {
      const before = t.stats().rejected;
      await t.set(`k${i++}`, v);
      if (t.stats().rejected !== before) await new Promise(setImmediate);
    }
    await t.flush();
    pcTier.push(t.stats().deviceBytesWritten / MiB / ((now() - t0) / 1000));
    await t.close();
    await rm(path, { recursive: true, force: true });
  }
  console.log(`bw (page cache, no fsync): ${total / 2 / MiB} MiB; plain ${fmt(median(pcPlain))} MiB/s (runs ${pcPlain.map((x) => fmt(x, 0)).join(', ')}), DiskTier 4 KiB values ${fmt(median(pcTier))} MiB/s = ${(100 * median(pcTier) / median(pcPlain)).toFixed(0)}% (runs ${pcTier.map((x) => fmt(x, 0)).join(', ')})`);
  const p = median(plain);
  const d = median(tier);
  const dl = median(tierLarge);
  const runs = (xs) => xs.map((x) => fmt(x, 0)).join(', ');
  console.log(`bw: ${total / MiB} MiB, fsync at the end; plain sequential 16 MiB writes ${fmt(p)} MiB/s (runs ${runs(plain)}); DiskTier 16 MiB regions: 4 KiB values ${fmt(d)} MiB/s = ${(100 * d / p).toFixed(0)}% of plain (runs ${runs(tier)}; ${fmt(median(setsPerSec), 0)} sets/s; refused ${refused.join(', ')}), 256 KiB values ${fmt(dl)} MiB/s = ${(100 * dl / p).toFixed(0)}% (runs ${runs(tierLarge)})`);
}

// ---------------------------------------------------------------------------------------
if (only.has('lat')) {
  const K = quick ? 20_000 : 50_000;
  const GETS = quick ? 50_000 : 200_000;
  const t = await DiskTier.open({ path: fresh(), maxBytes: K * 4200 + 64 * MiB, regionSize: 16 * MiB, smallShare: 0 });
  for (let i = 0; i < K; i++) await put(t, `k${i}`, value4k(i));
  await t.flush();
  const rand = prng(7);
  const keys = Array.from({ length: GETS }, () => `k${Math.floor(rand() * K)}`);
  // Warm-up.
  for (let i = 0; i < 5000; i++) await t.get(keys[i]);
  const lat = new Float64Array(GETS);
  const t0 = now();
  for (let i = 0; i < GETS; i++) {
    const a = process.hrtime.bigint();
    const e = await t.get(keys[i]);
    lat[i] = Number(process.hrtime.bigint() - a) / 1000;
    if (e === undefined) throw new Error('lat: unexpected miss');
  }
  const serialOps = GETS / ((now() - t0) / 1000);
  lat.sort();
  const t1 = now();
  let at = 0;
  const worker = async () => {
    while (at < GETS) await t.get(keys[at++]);
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const parallelOps = GETS / ((now() - t1) / 1000);
  console.log(`lat: 4 KiB disk hits (${K} items, page cache): p50 ${fmt(pct(lat, 0.5), 1)} µs, p99 ${fmt(pct(lat, 0.99), 1)} µs, p99.9 ${fmt(pct(lat, 0.999), 1)} µs; ${fmt(serialOps, 0)} gets/s one at a time, ${fmt(parallelOps, 0)} gets/s 16 at a time; reads ${t.stats().reads}`);
  await t.close();
}

// ---------------------------------------------------------------------------------------
if (only.has('peers')) {
  const K = quick ? 5_000 : 10_000;
  const GETS = quick ? 20_000 : 50_000;
  const rand = prng(9);
  const getKeys = Array.from({ length: GETS }, () => `k${Math.floor(rand() * K)}`);
  const vals = Array.from({ length: K }, (_, i) => value4k(i));
  const rows = [];
  const run = async (name, api) => {
    const t0 = now();
    for (let i = 0; i < K; i++) await api.set(`k${i}`, vals[i]);
    await api.sync?.();
    const setMs = now() - t0;
    const t1 = now();
    let hits = 0;
    for (let i = 0; i < GETS; i++) if ((await api.get(getKeys[i])) !== undefined) hits++;
    const getMs = now() - t1;
    rows.push(`${name}: sets ${fmt(K / (setMs / 1000), 0)}/s, gets ${fmt(GETS / (getMs / 1000), 0)}/s, hits ${(100 * hits / GETS).toFixed(1)}%${api.note ? `, ${api.note()}` : ''}`);
    await api.close();
  };
  {
    const t = await DiskTier.open({ path: fresh(), maxBytes: K * 4200 + 64 * MiB, regionSize: 16 * MiB, smallShare: 0 });
    await run('DiskTier', {
      set: (k, v) => put(t, k, v),
      get: (k) => t.get(k),
      sync: () => t.flush(),
      close: () => t.close(),
      note: () => `refused and retried ${t.stats().rejected}`,
    });
  }
  try {
    const { open: openLmdb } = await import('lmdb');
    // noSync: commits are not fsynced, like DiskTier's sets (lmdb's default fsyncs each
    // commit: about 135 awaited puts/s on this machine in a --quick run).
    const db = openLmdb({ path: fresh(), encoding: 'binary', compression: false, noSync: true });
    await run('lmdb (noSync)', { set: (k, v) => db.put(k, v), get: async (k) => db.get(k), sync: () => db.flushed, close: () => db.close() });
  } catch (e) {
    rows.push(`lmdb: unavailable (${e.message})`);
  }
  try {
    const cacache = (await import('cacache')).default;
    const dir = fresh();
    await run('cacache', {
      set: (k, v) => cacache.put(dir, k, v),
      get: async (k) => {
        try {
          return (await cacache.get(dir, k)).data;
        } catch {
          return undefined;
        }
      },
      close: async () => {},
    });
  } catch (e) {
    rows.push(`cacache: unavailable (${e.message})`);
  }
  console.log(`peers: ${K} sets of 4 KiB, then ${GETS} random gets, one at a time`);
  for (const r of rows) console.log(`  ${r}`);
}

// ---------------------------------------------------------------------------------------
if (only.has('restart')) {
  const N = quick ? 200_000 : 1_000_000;
  const path = fresh();
  const opts = { path, maxBytes: N * 300 + 64 * MiB, regionSize: 16 * MiB, smallShare: 0, smallItemThreshold: 0 };
  let t = await DiskTier.open(opts);
  const v = Buffer.alloc(200, 1); // 256 bytes on disk with header and key
  const t0 = now();
  for (let i = 0; i < N; i++) await put(t, `k${i}`, v);
  const loadMs = now() - t0;
  const items = t.stats().items;
  const indexBytes = t.stats().indexBytes;
  const t1 = now();
  await t.close();
  const closeMs = now() - t1;
  const t2 = now();
  t = await DiskTier.open(opts);
  const openMs = now() - t2;
  const warm = t.stats();
  await t.close();
  const dataFile = (await import('node:fs')).statSync(join(path, 'data')).size;
  // After a crash there is no index file: the next open scans the data (what SIGKILL leaves).
  await unlink(join(path, 'index'));
  const t3 = now();
  t = await DiskTier.open(opts);
  const scanMs = now() - t3;
  const scanned = t.stats();
  await t.close();
  console.log(`restart: ${fmt(items, 0)} items of 200 bytes loaded in ${fmt(loadMs / 1000, 2)} s; index ${fmt(indexBytes / MiB, 1)} MiB (${fmt(indexBytes / items, 1)} B/item); close ${fmt(closeMs, 0)} ms; warm open ${fmt(openMs, 0)} ms (${warm.recovery}, ${fmt(warm.recoveredItems, 0)} items); recovery scan ${fmt(scanMs, 0)} ms (${scanned.recovery}, ${fmt(scanned.recoveredItems, 0)} items, ${fmt(dataFile / MiB, 0)} MiB of data)`);
}

await rm(base, { recursive: true, force: true });
