// Two processes sharing one Redis through cortado: a memory tier in each, Redis below both,
// invalidations over pub/sub, and a cross-process lock so a cold key is loaded once.
//
//   redis-server --port 6379 --save '' &          (or any Redis 6+)
//   npm run build && REDIS_URL=redis://127.0.0.1:6379 node examples/redis/two-processes.mjs
//
// The parent forks a reader; the parent writes, the reader sees every change at once (its
// memory copy is dropped by the invalidation, the next read finds the new value in Redis).
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Cache } from 'cortado';
import { TieredCache } from 'cortado/tiered';
import { RedisBus, RedisLock, RedisTier } from 'cortado/redis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const role = process.argv[2] ?? 'writer';

const redis = await RedisTier.connect({ url, prefix: 'example:', timeout: 100 });
const lock = new RedisLock(redis, { ttl: 5_000 });
let loads = 0;
const cache = new TieredCache({
  memory: new Cache({ maxEntries: 10_000 }),
  tiers: [{ tier: redis, write: 'through' }],
  bus: new RedisBus({ url, channel: 'example:invalidate' }),
  // A "database" read, made single-flight across both processes by the lock.
  loader: lock.wrap(
    async (key) => {
      loads++;
      return { key, loadedBy: role, at: new Date() };
    },
    { ttl: 60_000 },
  ),
  ttl: 60_000,
});
await cache.ready();

if (role === 'writer') {
  await cache.clear();
  const reader = fork(fileURLToPath(import.meta.url), ['reader'], { stdio: 'inherit' });
  const ask = async (cmd) => {
    reader.send(cmd);
    const [reply] = await once(reader, 'message');
    return reply;
  };
  await once(reader, 'message'); // ready
  const first = await cache.fetch('user:1');
  console.log('writer fetched user:1 ->', first.loadedBy, first.at instanceof Date ? '(a Date came back as a Date)' : '');
  console.log('reader fetches user:1 ->', await ask({ get: 'user:1' }));
  await cache.set('user:1', { key: 'user:1', loadedBy: 'writer (updated)', at: new Date() });
  // The reader's memory copy was dropped by the bus; its next read sees the update.
  await new Promise((r) => setTimeout(r, 50));
  console.log('after the writer set it, the reader sees ->', await ask({ get: 'user:1' }));
  console.log(`loader calls in the writer: ${loads}`);
  reader.send({ quit: true });
  await once(reader, 'exit');
  await cache.close();
} else {
  process.on('message', async (m) => {
    if (m.quit) {
      await cache.close();
      process.disconnect();
      return;
    }
    const v = await cache.fetch(m.get);
    process.send(`${v.loadedBy} (reader loader calls: ${loads})`);
  });
  process.send('ready');
}
