// A worker of examples/shared/main.mjs: look up users, computing (and caching) the ones no
// thread has computed yet; then read a value through a handle, without copying it.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedCache } from 'cortado/shared';

const cache = SharedCache.attach(workerData.cache);
let computed = 0;

function user(id) {
  const key = `user:${id}`;
  let u = cache.get(key);
  if (u === undefined) {
    u = { id, name: `user ${id}`, score: id * 7 }; // stands for an expensive load
    cache.set(key, u);
    computed++;
  }
  return u;
}

let total = 0;
for (let i = 0; i < 1000; i++) total += user(i % 50).score;

// Zero-copy: a ReadHandle pins the entry until release(); bytes are the stored JSON.
const h = cache.acquire('user:7');
if (h !== undefined) {
  try {
    parentPort.postMessage({ computed, total, storedBytesOfUser7: h.bytes.length });
  } finally {
    h.release();
  }
}
