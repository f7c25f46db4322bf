/**
 * Keys of the disk tier: their bytes and their 64-bit hash.
 *
 * A key is a string (its UTF-8 bytes) or a Uint8Array (its bytes), so 'abc' and
 * Uint8Array [0x61, 0x62, 0x63] are the same key, as for every cortado tier. The hash is two
 * independent 32-bit multiply-xorshift passes finished with murmur3's fmix32, seeded by a
 * random number stored in the directory's superblock: seeded so that a client choosing keys
 * cannot aim them all at one bucket (hash flooding), stored so that the same key lands in the
 * same bucket and index slot after a restart. 64 bits keep accidental collisions in the index
 * negligible (about n^2 / 2^65); a collision can still never return another key's bytes,
 * because the key is stored next to the value and compared on every read.
 */

const encoder = new TextEncoder();

/** Largest key in bytes (the item header stores the length in 16 bits). */
export const MAX_KEY_BYTES = 0xffff;

/** The bytes of a key: a string's UTF-8, a Uint8Array as it is (not copied). */
export function keyBytes(key: string | Uint8Array): Uint8Array {
  return typeof key === 'string' ? encoder.encode(key) : key;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The result of hashKey, reused by the caller: [hi, lo]. */
export interface KeyHash {
  hi: number;
  lo: number;
}

/** Fills `out` with the 64-bit hash of `bytes` under `seed`. */
export function hashBytes(bytes: Uint8Array, seed: number, out: KeyHash): void {
  let a = (seed ^ bytes.length) | 0;
  let b = (Math.imul(seed, 0x9e3779b1) ^ 0x7f4a7c15 ^ bytes.length) | 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    a = Math.imul(a ^ c, 0x5bd1e995);
    a ^= a >>> 15;
    b = Math.imul(b ^ c, 0x27d4eb2f);
    b ^= b >>> 13;
  }
  out.hi = fmix32(a ^ Math.imul(b, 0x165667b1));
  out.lo = fmix32(b);
}
