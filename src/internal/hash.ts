/**
 * Seeded 32-bit key hashing for policies that need it (frequency sketches, ghost queues).
 *
 * The seed is drawn per cache so that an attacker who controls keys cannot precompute a
 * set of keys that collide in every cache's sketch (hash flooding would let them inflate the
 * frequency of keys they want admitted).
 *  - strings: one pass over the UTF-16 code units (a multiply-xorshift per unit), then a
 *    murmur3 finaliser;
 *  - numbers: small integers are mixed directly; other numbers by their IEEE-754 bits;
 *  - objects, functions and symbols hash by identity (a number assigned on first sight, kept
 *    in a WeakMap so the key can still be collected);
 *  - other primitives (booleans, bigints, null, undefined) by their string form.
 */

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** murmur3 fmix32: full avalanche of a 32-bit value. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export function hashString(s: string, seed: number): number {
  let h = seed ^ s.length;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return mix32(h);
}

export function hashNumber(n: number, seed: number): number {
  if ((n | 0) === n) return mix32(n ^ seed);
  f64[0] = n;
  return mix32(Math.imul(u32[0]! ^ seed, 0x9e3779b1) ^ u32[1]!);
}

let nextIdentity = 1;
const identities = new WeakMap<object, number>();
const symbolIdentities = new Map<symbol, number>();

function identityOf(key: object | symbol): number {
  if (typeof key === 'symbol') {
    let id = symbolIdentities.get(key);
    if (id === undefined) symbolIdentities.set(key, (id = nextIdentity++));
    return id;
  }
  let id = identities.get(key);
  if (id === undefined) identities.set(key, (id = nextIdentity++));
  return id;
}

export function hashKey(key: unknown, seed: number): number {
  switch (typeof key) {
    case 'string':
      return hashString(key, seed);
    case 'number':
      return hashNumber(key, seed);
    case 'object':
      if (key === null) return hashString('null', seed);
      return mix32(identityOf(key) ^ seed);
    case 'function':
      return mix32(identityOf(key) ^ seed);
    case 'symbol':
      return mix32(identityOf(key) ^ seed);
    default:
      return hashString(typeof key + ':' + String(key), seed);
  }
}

/** A fresh random 32-bit seed. */
export function randomSeed(): number {
  return (Math.random() * 0x100000000) | 0;
}
