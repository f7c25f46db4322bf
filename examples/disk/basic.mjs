// DiskTier on its own, then behind a memory Cache (memory's victims go down to disk, a disk
// hit comes back up). Run: npm run build && node examples/disk/basic.mjs
// With cortado/tiered merged, TieredCache does the second part for you:
//   new TieredCache({ memory, tiers: [{ tier: disk, write: 'on-evict' }], codec: 'json' })
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cache } from 'cortado';
import { DiskTier, DiskLockedError } from 'cortado/disk';

const path = await mkdtemp(join(tmpdir(), 'cortado-example-'));
const disk = await DiskTier.open({ path, maxBytes: 64 * 2 ** 20 });

// Bytes in, bytes out; ttl in ms.
await disk.set('user:1', Buffer.from(JSON.stringify({ name: 'Ada' })), { ttl: 60_000 });
const hit = await disk.get('user:1');
console.log('disk get:', JSON.parse(Buffer.from(hit.bytes).toString()), `ttl left ~${Math.round(hit.ttl / 1000)} s`);

// One directory, one tier: a second open (here or in another process) is refused.
try {
  await DiskTier.open({ path, maxBytes: 64 * 2 ** 20 });
} catch (e) {
  console.log('second open:', e instanceof DiskLockedError, e.code);
}

// Memory in front: the cache's victims are written down, a disk hit is promoted.
const memory = new Cache({
  maxEntries: 100,
  onRemove: (key, value, cause) => {
    if (cause === 'evicted') void disk.set(key, Buffer.from(JSON.stringify(value)));
  },
});
async function get(key) {
  const v = memory.get(key);
  if (v !== undefined) return v;
  const e = await disk.get(key);
  if (e === undefined) return undefined;
  const value = JSON.parse(Buffer.from(e.bytes).toString());
  memory.set(key, value);
  return value;
}
for (let i = 0; i < 1000; i++) memory.set(`item:${i}`, { i });
await disk.flush(); // only so that this example sees every spill; not needed in real use
console.log('item:3 from disk:', await get('item:3'), 'disk items:', disk.stats().items);

// close() saves the index: the next open is a warm restart.
await disk.close();
const again = await DiskTier.open({ path, maxBytes: 64 * 2 ** 20 });
console.log('after restart:', again.stats().recovery, again.stats().items, 'items');
await again.close();
await rm(path, { recursive: true, force: true });
