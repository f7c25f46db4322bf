// Benchmark for cortado/shared (npm run bench:shared): the workload (Zipf 0.99 keys,
// 90% get / 10% set, 100-byte values) through
//   - SharedCache from 1 and from 2 workers (one cache for both),
//   - one lru-cache per worker (unshared: N copies, N times the misses),
//   - an awaited postMessage to a Map in the main thread,
//   - Redis on 127.0.0.1 (a redis-server started here on a free port; skipped when absent),
// then a handle hit (acquire + read + release) per worker, the overhead per item, and the
// share of maxBytes holding live key and value bytes after churn with mixed sizes.
// Every figure is the median of --rounds runs, each in fresh workers; keys and operation
// streams are precomputed so that the loop measures the cache.
//
// Options: --rounds N (default 3), --ops N (timed operations per worker, default 1e6),
//          --keys N (key space, default 100000), --quick (rounds 1, ops 2e5).
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { SharedCache } from 'cortado/shared';
import { zipf, prng, inspectTrace, readTrace } from 'cortado/sim';

const VALUE_BYTES = 100;
const SET_SHARE = 0.1;

function opStream(n, keys, seed) {
  const rand = prng(seed);
  const z = zipf(keys, 0.99, rand);
  const ks = new Int32Array(n);
  const sets = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    ks[i] = z();
    sets[i] = rand() < SET_SHARE ? 1 : 0;
  }
  return { ks, sets };
}

const keyNames = (keys) => Array.from({ length: keys }, (_, i) => `key:${i}`);

// ---------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------

async function workerMain() {
  const { mode, descriptor, seed, ops, keys, barrier, parties } = workerData;
  const names = keyNames(keys);
  const { ks, sets } = opStream(ops, keys, seed);
  const value = new Uint8Array(VALUE_BYTES).fill(7);
  const sync = new Int32Array(barrier);
  const arrive = () => {
    Atomics.add(sync, 0, 1);
    Atomics.notify(sync, 0);
    for (;;) {
      const v = Atomics.load(sync, 0);
      if (v >= parties) return;
      Atomics.wait(sync, 0, v, 50);
    }
  };
  let run;
  if (mode === 'shared' || mode === 'handle') {
    const c = SharedCache.attach(descriptor);
    if (mode === 'shared') {
      run = () => {
        let hits = 0;
        for (let i = 0; i < ops; i++) {
          const k = names[ks[i]];
          if (sets[i] === 1) c.set(k, value);
          else if (c.get(k) !== undefined) hits++;
        }
        return hits;
      };
    } else {
      for (let i = 0; i < keys; i++) c.set(names[i], value);
      run = () => {
        let hits = 0;
        let x = 0;
        for (let i = 0; i < ops; i++) {
          const h = c.acquire(names[ks[i]]);
          if (h !== undefined) {
            x += h.bytes[0];
            h.release();
            hits++;
          }
        }
        return x >= 0 ? hits : -1;
      };
    }
  } else if (mode === 'lru') {
    const { LRUCache } = await import('lru-cache');
    const c = new LRUCache({ max: workerData.maxEntries });
    run = () => {
      let hits = 0;
      for (let i = 0; i < ops; i++) {
        const k = names[ks[i]];
        if (sets[i] === 1) c.set(k, value);
        else if (c.get(k) !== undefined) hits++;
      }
      return hits;
    };
  } else if (mode === 'post') {
    let pending = null;
    parentPort.on('message', (m) => {
      const r = pending;
      pending = null;
      r(m);
    });
    const ask = (m) => new Promise((resolve) => {
      pending = resolve;
      parentPort.postMessage(m);
    });
    run = async () => {
      let hits = 0;
      for (let i = 0; i < ops; i++) {
        const k = names[ks[i]];
        if (sets[i] === 1) await ask({ op: 'set', k, v: value });
        else if ((await ask({ op: 'get', k })) !== undefined) hits++;
      }
      return hits;
    };
  }
  await run(); // warm-up: fills the cache and lets the JIT settle
  arrive();
  const t0 = performance.now();
  const hits = await run();
  const ms = performance.now() - t0;
  parentPort.postMessage({ done: true, ms, ops, hits, lookups: mode === 'handle' ? ops : ops * (1 - SET_SHARE) });
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function runWorkers(n, data, onMessage) {
  const barrier = new SharedArrayBuffer(4);
  return Promise.all(
    Array.from({ length: n }, (_, i) => new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { ...data, seed: data.seed + i, barrier, parties: n } });
      w.on('message', (m) => {
        if (m.done) {
          resolve(m);
          void w.terminate();
        } else onMessage?.(w, m);
      });
      w.once('error', reject);
    })),
  );
}

/** ops/s of n workers together (total ops over the slowest worker's time), and the hit ratio. */
async function throughput(n, data, onMessage) {
  const rs = await runWorkers(n, data, onMessage);
  const ops = rs.reduce((a, r) => a + r.ops, 0);
  const ms = Math.max(...rs.map((r) => r.ms));
  const hits = rs.reduce((a, r) => a + r.hits, 0);
  const lookups = rs.reduce((a, r) => a + r.lookups, 0);
  return { opsPerSec: (ops / ms) * 1000, perWorker: rs.map((r) => (r.ops / r.ms) * 1000), hitRatio: hits / lookups };
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function redisRun(ops, keys, seed) {
  if (!existsSync('/usr/bin/redis-server')) return null;
  let createClient;
  try {
    ({ createClient } = await import('redis'));
  } catch {
    return null;
  }
  const port = await freePort();
  const server = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: (n) => (n > 50 ? new Error('redis did not start') : 20) } });
    client.on('error', () => {});
    await client.connect();
    const names = keyNames(keys);
    const { ks, sets } = opStream(ops, keys, seed);
    const value = Buffer.alloc(VALUE_BYTES, 7);
    const once = async () => {
      let hits = 0;
      for (let i = 0; i < ops; i++) {
        const k = names[ks[i]];
        if (sets[i] === 1) await client.set(k, value);
        else if ((await client.get(k)) !== null) hits++;
      }
      return hits;
    };
    await once();
    const t0 = performance.now();
    await once();
    const ms = performance.now() - t0;
    await client.quit();
    return { opsPerSec: (ops / ms) * 1000 };
  } finally {
    server.kill('SIGTERM');
  }
}

/** Overhead per item and live share after churn with mixed sizes, for one policy. */
function memory(policy) {
  // Overhead: 100k items of 100-byte values and ~10-byte keys in a cache sized for them.
  const n = 100_000;
  const c = new SharedCache({ maxBytes: 64 << 20, maxEntries: n, policy });
  const v = new Uint8Array(VALUE_BYTES);
  for (let i = 0; i < n; i++) c.set(`key:${i}`, v);
  const s = c.stats();
  const st = c._store;
  // Per item: its descriptor (32), its block minus the key and value (header + padding),
  // and its share of the hash buckets and (S3-FIFO) ghost, which are sized by maxEntries.
  const block = (s.usedBytes - s.liveBytes) / s.size;
  const index = ((st.bucket0 !== undefined ? (st.bmask + 1) * 4 : 0) + (st.ghostRingSize + st.ghostTMask + (st.ghostTMask ? 1 : 0)) * 4) / st.maxEntries;
  const perItem = 32 + block + index;
  // Churn: values of 64 B to 8 KiB (log-uniform) under 64 MiB with the default maxEntries,
  // five times the capacity in writes over a key space twice what fits.
  const maxBytes = 64 << 20;
  const churn = new SharedCache({ maxBytes, policy, maxEntries: Math.floor(maxBytes / 900) });
  const rand = prng(11);
  const avg = 1200;
  const keys = Math.floor((2 * maxBytes) / avg);
  const buf = new Uint8Array(8192);
  let written = 0;
  while (written < 5 * maxBytes) {
    const size = Math.floor(64 * Math.pow(128, rand()));
    churn.set(`k:${Math.floor(rand() * keys)}`, buf.subarray(0, size));
    written += size;
  }
  const cs = churn.stats();
  churn._validate();
  return { perItem, block, index, live: cs.liveBytes / maxBytes, used: cs.usedBytes / maxBytes, entries: cs.size, evictions: cs.evictions };
}

/** Hit ratio of each policy through SharedCache on the shared traces (the default policy's evidence). */
async function policyHitRatios() {
  const dir = [fileURLToPath(new URL('../../shared/traces', import.meta.url)), '/work/shared/traces'].find((d) => existsSync(d));
  if (dir === undefined) return [];
  const files = ['cpp.trc.bin.gz', 'glimpse.trc.bin.gz', 'multi2.trc.bin.gz', 'sprite.trc.bin.gz', 'mt-20121220.trc.bin.gz'];
  const v = new Uint8Array(8);
  const out = [];
  for (const f of files) {
    if (!existsSync(`${dir}/${f}`)) continue;
    const info = await inspectTrace(`${dir}/${f}`, null);
    const keys = [];
    for await (const b of readTrace(info, false)) for (let i = 0; i < b.count; i++) keys.push(String(b.keys[i]));
    const distinct = new Set(keys).size;
    for (const share of [0.01, 0.05, 0.2]) {
      const n = Math.max(10, Math.floor(distinct * share));
      const row = { trace: f.split('.')[0], entries: n };
      for (const policy of ['sieve', 's3fifo']) {
        const c = new SharedCache({ maxBytes: Math.max(1 << 20, n * 200), maxEntries: n, policy });
        let hits = 0;
        for (const k of keys) {
          if (c.get(k) !== undefined) hits++;
          else c.set(k, v);
        }
        row[policy] = (100 * hits) / keys.length;
      }
      out.push(row);
    }
  }
  return out;
}

async function main() {
  const quick = process.argv.includes('--quick');
  const rounds = arg('--rounds', quick ? 1 : 3);
  const ops = arg('--ops', quick ? 200_000 : 1_000_000);
  const keys = arg('--keys', 100_000);
  const maxEntries = keys / 2;
  const slowOps = Math.max(10_000, Math.floor(ops / 30));
  console.log(`cortado/shared benchmark: ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`);
  console.log(`Zipf 0.99 over ${keys} keys, ${100 * (1 - SET_SHARE)}% get / ${100 * SET_SHARE}% set, ${VALUE_BYTES}-byte values, maxEntries ${maxEntries}; ${ops} timed ops per worker (postMessage and Redis: ${slowOps}); median of ${rounds}`);
  const rows = {};
  const add = (name, r) => (rows[name] ??= []).push(r);
  for (let round = 0; round < rounds; round++) {
    for (const n of [1, 2]) {
      const cache = new SharedCache({ maxBytes: 64 << 20, maxEntries });
      add(`SharedCache, ${n} worker${n > 1 ? 's' : ''}`, await throughput(n, { mode: 'shared', descriptor: cache.share(), seed: 100 * round + 1, ops, keys }));
      add(`lru-cache per worker, ${n} worker${n > 1 ? 's' : ''}`, await throughput(n, { mode: 'lru', maxEntries, seed: 100 * round + 1, ops, keys }));
      const hc = new SharedCache({ maxBytes: 64 << 20, maxEntries: keys });
      add(`handle hit (acquire+release), ${n} worker${n > 1 ? 's' : ''}`, await throughput(n, { mode: 'handle', descriptor: hc.share(), seed: 100 * round + 1, ops, keys }));
    }
    const map = new Map();
    add('postMessage to a Map in the main thread, 1 worker', await throughput(1, { mode: 'post', seed: 100 * round + 1, ops: slowOps, keys }, (w, m) => {
      if (m.op === 'set') {
        map.set(m.k, m.v);
        w.postMessage(true);
      } else w.postMessage(map.get(m.k));
    }));
    const r = await redisRun(slowOps, keys, 100 * round + 1);
    if (r) add('Redis on 127.0.0.1 (node-redis, awaited)', r);
  }
  const table = Object.entries(rows).map(([name, rs]) => ({
    name,
    opsPerSec: median(rs.map((r) => r.opsPerSec)),
    perWorker: rs[0].perWorker ? median(rs.map((r) => Math.min(...r.perWorker))) : undefined,
    hitRatio: rs[0].hitRatio !== undefined ? median(rs.map((r) => r.hitRatio)) : undefined,
  }));
  const fmt = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`);
  console.log('\n| workload | ops/s (all workers) | ops/s per worker (slowest) | hit ratio |\n|---|---|---|---|');
  for (const t of table) console.log(`| ${t.name} | ${fmt(t.opsPerSec)} | ${t.perWorker ? fmt(t.perWorker) : ''} | ${t.hitRatio !== undefined ? (100 * t.hitRatio).toFixed(1) + '%' : ''} |`);
  const get = (name) => table.find((t) => t.name === name)?.opsPerSec;
  const s1 = get('SharedCache, 1 worker');
  const s2 = get('SharedCache, 2 workers');
  const pm = get('postMessage to a Map in the main thread, 1 worker');
  const rd = get('Redis on 127.0.0.1 (node-redis, awaited)');
  const h1 = table.find((t) => t.name.startsWith('handle hit (acquire+release), 1'))?.perWorker;
  const h2 = table.find((t) => t.name.startsWith('handle hit (acquire+release), 2'))?.perWorker;
  console.log('\nTargets:');
  const l1 = get('lru-cache per worker, 1 worker');
  const l2 = get('lru-cache per worker, 2 workers');
  console.log(`- 2 workers / 1 worker: ${(s2 / s1).toFixed(2)}x (target >= 1.7x); the machine's own ceiling, unshared lru-cache per worker: ${(l2 / l1).toFixed(2)}x; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
  console.log(`- SharedCache (1 worker) / postMessage per op: ${(s1 / pm).toFixed(1)}x (target >= 20x)`);
  if (rd) console.log(`- SharedCache (1 worker) / Redis per op: ${(s1 / rd).toFixed(1)}x (target >= 20x)`);
  else console.log('- Redis: skipped (no /usr/bin/redis-server or no redis client)');
  console.log(`- handle hit per worker: ${fmt(h1)}/s with 1 worker, ${fmt(h2)}/s each with 2 (target >= 2 M/s)`);
  console.log('\nHit ratio through SharedCache on the shared traces (entries = share of distinct keys):\n| trace | entries | sieve | s3fifo |\n|---|---|---|---|');
  let wins = 0;
  let rowsN = 0;
  for (const r of await policyHitRatios()) {
    console.log(`| ${r.trace} | ${r.entries} | ${r.sieve.toFixed(2)}% | ${r.s3fifo.toFixed(2)}% |`);
    rowsN++;
    if (r.s3fifo > r.sieve) wins++;
  }
  console.log(`s3fifo ahead in ${wins} of ${rowsN} rows`);
  for (const policy of ['s3fifo', 'sieve']) {
    const m = memory(policy);
    console.log(`- ${policy}: overhead per item ${m.perItem.toFixed(1)} bytes (descriptor 32 + block header and padding ${m.block.toFixed(1)} + index/ghost share ${m.index.toFixed(1)}; target <= 32)`);
    console.log(`- ${policy}: after churn with 64 B - 8 KiB values: ${(100 * m.live).toFixed(1)}% of maxBytes holds live key+value bytes (heap blocks in use ${(100 * m.used).toFixed(1)}%, ${m.entries} entries; target >= 85%)`);
  }
}

if (isMainThread) await main();
else await workerMain();
