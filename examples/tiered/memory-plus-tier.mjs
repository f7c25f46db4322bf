// A memory Cache in front of a lower tier, with cortado/tiered.
//
//   npm run build && node examples/tiered/memory-plus-tier.mjs
//
// MemoryTier stands in for a disk or Redis tier here (DiskTier from 'cortado/disk' and
// RedisTier from 'cortado/redis' take its place unchanged): it keeps bytes in a Map, so the
// example needs no directory and no server.
import { Cache } from 'cortado';
import { MemoryTier, TieredCache } from 'cortado/tiered';

// A tiny memory layer (3 entries) so that evictions happen at once.
const memory = new Cache({ maxEntries: 3, policy: 'lru' }); // lru: the victims are easy to predict here
const lower = new MemoryTier({ name: 'lower' });

let loads = 0;
const cache = new TieredCache({
  memory,
  tiers: [{ tier: lower, write: 'on-evict' }], // memory's victims are written down
  codec: 'v8', // the default: Dates, Maps, Sets, BigInts and Buffers come back as they went in
  ttl: 60_000, // ms, in every layer
  loader: async (id) => {
    loads++;
    return { id, name: `user ${id}`, seen: new Date(0) };
  },
});

// Five users through a memory of three: two are evicted and spilled to the lower tier.
for (let id = 1; id <= 5; id++) await cache.set(`user:${id}`, { id, name: `user ${id}`, seen: new Date(id) });
await cache.flush(); // spills run in the background; wait for them here only to print the state
console.log('in memory:', [...memory.keys()].join(', '));
console.log('in the lower tier:', lower.size, 'entries');

// A get of an evicted user is served by the lower tier and promoted back into memory,
// with the time it has left there (never longer).
const u1 = await cache.get('user:1');
console.log('user:1 from below:', u1.name, u1.seen instanceof Date ? '(a Date again)' : '');
console.log('user:1 ttl left in memory (ms):', Math.round(memory.ttlOf('user:1')));

// fetch(): memory, then every tier, then the loader, once for many concurrent callers.
const [a, b, c] = await Promise.all([cache.fetch('user:9'), cache.fetch('user:9'), cache.fetch('user:9')]);
console.log('three fetches of user:9, loads:', loads, a === b && b === c ? '(one shared value)' : '');

// delete() removes the key from every layer; nothing deleted comes back.
await cache.delete('user:2');
console.log('user:2 after delete:', await cache.get('user:2'));

const s = cache.stats();
console.log('stats:', {
  hits: s.hits,
  misses: s.misses,
  promotions: s.promotions,
  memoryEvictions: s.memory.evictions,
  lower: { spills: s.tiers[0].spills, hits: s.tiers[0].hits, writes: s.tiers[0].writes, spillBytesInFlight: s.tiers[0].spillBytesInFlight },
});

await cache.close(); // waits for spills, closes the tiers (and the bus, when there is one)
