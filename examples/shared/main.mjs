// One cache for every worker thread: run with `npm run build && node examples/shared/main.mjs`.
// The main thread creates the cache, hands its descriptor to the workers, and watches them
// (so that whatever a worker holds is released when it exits, however it exits).
import { Worker } from 'node:worker_threads';
import { SharedCache } from 'cortado/shared';

const cache = new SharedCache({ maxBytes: 16 * 2 ** 20, maxEntries: 10_000, codec: 'json', ttl: 60_000 });

const workers = [1, 2, 3].map((id) => {
  const w = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { id, cache: cache.share() } });
  cache.watch(w);
  return new Promise((resolve, reject) => {
    w.on('message', (m) => console.log(`worker ${id}:`, m));
    w.once('error', reject);
    w.once('exit', resolve);
  });
});
await Promise.all(workers);

// The main thread uses the same entries.
console.log('main sees user:7 =', cache.get('user:7'));
const { hits, misses, inserts, size } = cache.stats(); // totals of every thread
console.log({ hits, misses, inserts, size });
