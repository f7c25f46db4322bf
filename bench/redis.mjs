// npm run bench:redis  (node bench/redis.mjs [--quick])
//
// Starts its own redis-server on a free 127.0.0.1 port (no persistence) and measures, in one run:
//   1. Redis-tier hit latency p50/p99 (RedisTier.get: one EVALSHA of GET+PTTL), next to a bare
//      node-redis GET (what the client alone costs).
//   2. Invalidation latency p50/p99 between two processes (RedisBus publish -> the other
//      process's onMessage), timed with performance.timeOrigin + performance.now() on both
//      sides (one machine, one clock).
//   3. Memory-tier hit cost: TieredCache.get() of a key memory holds, against Cache.get() of a
//      plain Cache (the target: at most 5% more).
//   4. Cache-aside throughput (memory 1,000 entries + Redis + bus, 10,000 keys, Zipf 0.99,
//      64 concurrent callers): cortado TieredCache.fetch, bentocache getOrSet, cacheable
//      getOrSet (cacheable has no Redis bus installed here: memory + Redis only).
// Each figure is the median of rounds; the machine is shared, so medians, not bests.
import { spawn, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cache } from 'cortado';
import { TieredCache } from 'cortado/tiered';
import { RedisBus, RedisTier } from 'cortado/redis';
import { createClient } from 'redis';

const QUICK = process.argv.includes('--quick');
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- child: bus subscriber
if (process.argv[2] === 'subscriber') {
  // Echoes every message back on the same channel (its own origin, so the sender hears it).
  const [, , , url, channel] = process.argv;
  const bus = new RedisBus({ url, channel, timeout: 1_000 });
  await bus.subscribe(
    (m) => {
      if (m.type === 'clear') {
        void bus.close().then(() => process.disconnect());
        return;
      }
      if (m.keys[0].startsWith('ping:')) void bus.publish({ type: 'delete', keys: ['pong:' + m.keys[0].slice(5)] });
    },
    () => {},
  );
  await bus.publish({ type: 'delete', keys: ['hello'] });
  process.send({ ready: true });
} else {
  await main();
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function us(ms) {
  return `${(ms * 1000).toFixed(1)} µs`;
}

async function freePort() {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cortado-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let log = '';
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      log += d;
      if (log.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server exited:\n${log}`)));
  });
  child.stdout.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGKILL');
      await once(child, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Zipf(s) sampler over n ranks (inverse CDF on a precomputed table). */
function zipf(n, s, seed) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** s;
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  let a = seed >>> 0;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = rnd();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

async function main() {
  const redis = await startRedis();
  const url = redis.url;
  const rounds = QUICK ? 3 : 5;
  const out = [];
  const say = (line) => {
    out.push(line);
    console.log(line);
  };
  say(`# bench:redis  ${new Date().toISOString()}  node ${process.version}  ${cpus().length} x ${cpus()[0]?.model ?? '?'}  redis-server on loopback${QUICK ? '  (quick)' : ''}`);
  try {
    // ------------------------------------------------------------ 1. tier hit latency
    {
      const tier = await RedisTier.connect({ url, prefix: 'bench:', timeout: 1_000 });
      const raw = createClient({ url });
      raw.on('error', () => {});
      await raw.connect();
      await tier.set('hit', new Uint8Array(100).fill(7), { ttl: 600_000 });
      const n = QUICK ? 5_000 : 20_000;
      const p50s = [];
      const p99s = [];
      const rawP50 = [];
      const rawP99 = [];
      for (let r = 0; r < rounds; r++) {
        const lat = new Float64Array(n);
        for (let i = 0; i < 1_000; i++) await tier.get('hit');
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await tier.get('hit');
          lat[i] = performance.now() - t0;
        }
        lat.sort();
        p50s.push(pct(lat, 50));
        p99s.push(pct(lat, 99));
        const rl = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await raw.get('bench:hit');
          rl[i] = performance.now() - t0;
        }
        rl.sort();
        rawP50.push(pct(rl, 50));
        rawP99.push(pct(rl, 99));
      }
      say(`redis-tier hit (100 B, sequential, ${n} x ${rounds} rounds): p50 ${us(median(p50s))}  p99 ${us(median(p99s))}   | bare node-redis GET: p50 ${us(median(rawP50))}  p99 ${us(median(rawP99))}`);
      await tier.close();
      raw.destroy();
    }

    // ------------------------------------------------------------ 2. invalidation latency
    {
      // Two processes have no common high-resolution clock (performance.timeOrigin differs by
      // milliseconds between processes), so: a ping from here, echoed by the other process over
      // the same bus, timed on this side; one way is half the round trip (same path both ways).
      const channel = 'bench:inv';
      const total = QUICK ? 2_000 : 10_000;
      const bus = new RedisBus({ url, channel, timeout: 1_000 });
      let waiting;
      await bus.subscribe(
        (m) => waiting?.(m),
        () => {},
      );
      const child = fork(fileURLToPath(import.meta.url), ['subscriber', url, channel]);
      process.on('exit', () => child.kill('SIGKILL'));
      const [ready] = await once(child, 'message');
      if (!ready.ready) throw new Error('subscriber did not start');
      const rtt = new Float64Array(total);
      for (let i = 0; i < total; i++) {
        const pong = new Promise((r) => (waiting = r));
        const t0 = performance.now();
        await bus.publish({ type: 'delete', keys: [`ping:${i}`] });
        const m = await pong;
        rtt[i] = performance.now() - t0;
        if (m.keys[0] !== `pong:${i}`) throw new Error(`out of order: ${m.keys[0]} for ${i}`);
      }
      await bus.publish({ type: 'clear' });
      await once(child, 'exit');
      await bus.close();
      const sorted = Float64Array.from(rtt).sort();
      say(`invalidation between two processes (${total} pings echoed over RedisBus): one way = round trip / 2: p50 ${us(pct(sorted, 50) / 2)}  p99 ${us(pct(sorted, 99) / 2)}  (round trip p50 ${us(pct(sorted, 50))}  p99 ${us(pct(sorted, 99))})  target p99 <= 5 ms`);
    }

    // ------------------------------------------------------------ 3. memory-tier hit cost
    {
      const keys = Array.from({ length: 1_000 }, (_, i) => `key:${i}`);
      const plain = new Cache({ maxEntries: 10_000 });
      for (const k of keys) plain.set(k, k);
      const tier = await RedisTier.connect({ url, prefix: 'bench-mem:', timeout: 1_000 });
      const tiered = new TieredCache({ memory: new Cache({ maxEntries: 10_000 }), tiers: [{ tier, write: 'through' }], ttl: 600_000 });
      for (const k of keys) await tiered.set(k, k);
      const n = QUICK ? 200_000 : 1_000_000;
      const plainNs = [];
      const syncAwaitNs = [];
      const tieredNs = [];
      let sink = 0;
      for (let r = 0; r < rounds; r++) {
        let t0 = performance.now();
        for (let i = 0; i < n; i++) sink += plain.get(keys[i % 1_000]).length;
        plainNs.push(((performance.now() - t0) * 1e6) / n);
        t0 = performance.now();
        for (let i = 0; i < n; i++) sink += (await plain.get(keys[i % 1_000])).length;
        syncAwaitNs.push(((performance.now() - t0) * 1e6) / n);
        t0 = performance.now();
        for (let i = 0; i < n; i++) sink += (await tiered.get(keys[i % 1_000])).length;
        tieredNs.push(((performance.now() - t0) * 1e6) / n);
      }
      if (sink === 42) console.log('');
      const p = median(plainNs);
      const a = median(syncAwaitNs);
      const t = median(tieredNs);
      say(
        `memory-tier hit: Cache.get ${p.toFixed(1)} ns, await Cache.get ${a.toFixed(1)} ns, await TieredCache.get ${t.toFixed(1)} ns  -> TieredCache/Cache ${(t / p).toFixed(2)}x, TieredCache/await Cache ${(t / a).toFixed(2)}x (target <= 1.05x)`,
      );
      await tiered.close();
    }

    // ------------------------------------------------------------ 4. cache-aside throughput
    {
      const N_KEYS = 10_000;
      const OPS = QUICK ? 50_000 : 200_000;
      const CONC = 64;
      const value = (k) => ({ id: k, name: `item ${k}`, tags: ['a', 'b'], n: 42 });
      const raw = createClient({ url });
      raw.on('error', () => {});
      await raw.connect();

      async function run(name, get, close) {
        const next = zipf(N_KEYS, 0.99, 1234);
        let ops = 0;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: CONC }, async () => {
            while (ops < OPS) {
              ops++;
              const k = `k${next()}`;
              const v = await get(k);
              if (v === undefined || v.id !== k) throw new Error(`${name}: wrong value for ${k}`);
            }
          }),
        );
        const secs = (performance.now() - t0) / 1000;
        await close?.();
        return OPS / secs;
      }

      const makers = {
        cortado: async () => {
          const tier = await RedisTier.connect({ url, prefix: 'ca-cortado:', timeout: 1_000 });
          const bus = new RedisBus({ url, channel: 'ca-cortado:bus' });
          const cache = new TieredCache({ memory: new Cache({ maxEntries: 1_000 }), tiers: [{ tier, write: 'through' }], bus, loader: async (k) => value(k), ttl: 600_000 });
          await cache.ready();
          return [(k) => cache.fetch(k), () => cache.close()];
        },
        bentocache: async () => {
          const { BentoCache, bentostore } = await import('bentocache');
          const { memoryDriver } = await import('bentocache/drivers/memory');
          const { redisDriver, redisBusDriver } = await import('bentocache/drivers/redis');
          const port = Number(new URL(url).port);
          const connection = { host: '127.0.0.1', port };
          const bento = new BentoCache({
            default: 'c',
            stores: { c: bentostore().useL1Layer(memoryDriver({ maxItems: 1_000 })).useL2Layer(redisDriver({ connection, prefix: 'ca-bento' })).useBus(redisBusDriver({ connection })) },
          });
          return [(k) => bento.getOrSet({ key: k, factory: async () => value(k), ttl: '10m' }), () => bento.disconnectAll()];
        },
        cacheable: async () => {
          const { Cacheable, createKeyv } = await import('cacheable');
          const KeyvRedis = (await import('@keyv/redis')).default;
          const { Keyv } = await import('@keyv/redis');
          const secondary = new Keyv({ store: new KeyvRedis(url), namespace: 'ca-cacheable' });
          const c = new Cacheable({ primary: createKeyv({ lruSize: 1_000 }), secondary, ttl: 600_000 });
          return [(k) => c.getOrSet(k, async () => value(k)), () => c.disconnect?.()];
        },
      };
      const results = {};
      for (const name of Object.keys(makers)) results[name] = [];
      for (let r = 0; r < rounds; r++) {
        for (const name of Object.keys(makers)) {
          await raw.flushDb();
          let made;
          try {
            made = await makers[name]();
          } catch (e) {
            results[name].push(NaN);
            if (r === 0) say(`  ${name}: not run (${e.message})`);
            continue;
          }
          results[name].push(await run(name, made[0], made[1]));
        }
      }
      raw.destroy();
      say(`cache-aside throughput (memory 1,000 + Redis + bus, ${N_KEYS} keys Zipf 0.99, ${OPS} ops, ${CONC} concurrent, median of ${rounds}):`);
      for (const [name, xs] of Object.entries(results)) say(`  ${name.padEnd(11)} ${Math.round(median(xs)).toLocaleString('en-US')} ops/s   (rounds: ${xs.map((x) => Math.round(x)).join(', ')})`);
    }
  } finally {
    await redis.stop();
  }
}
