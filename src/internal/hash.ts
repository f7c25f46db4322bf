/**
 * Seeded 32-bit key hashing for policies that need it (frequency sketches, ghost queues).
 *
 * The seed is drawn per cache so that an attacker who controls keys cannot precompute a
 * set of keys that collide in every cache's sketch (hash flooding would let them inflate the
 * frequency of keys they want admitted). For the same reason no two distinct keys may hash
 * alike for *every* seed: such a pair is a collision that no seed removes. So hashing is
 * type-tagged: each kind of key is hashed with its own function of the seed, and the kinds
 * cannot be made to line up.
 *  - strings: one pass over the UTF-16 code units (a multiply-xorshift per unit), then a
 *    murmur3 finaliser; the empty string is tagged (the bare pass would give it the hash of 0);
 *  - numbers: small integers (and -0, equal to 0 as a key) are mixed directly; other
 *    non-negative numbers by their IEEE-754 words, the low word multiplied into the high one;
 *    negative ones by the finalised low word, so that a double and its twin with the sign bit
 *    and bit 31 of the low word flipped (which the multiply maps to the same value) differ;
 *    every NaN alike (they are one key to a Map);
 *  - objects, functions and symbols that are not in the global registry hash by identity: a
 *    number assigned on first sight, kept in a WeakMap so the key can still be collected
 *    (symbols can be WeakMap keys since V8 10.8, so in every Node 20); a registered symbol
 *    (`Symbol.for`) by its registry key, which is what identifies it;
 *  - null, undefined, booleans and bigints by a tag and their value.
 * The small-integer and string paths are the ones the simulator's seeded results depend on:
 * they are kept bit for bit (changing them would move every published hit ratio a little).
 * A collision here only costs hit ratio (two keys share sketch counters or a ghost record);
 * it never makes one key read another's value.
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

// Type tags (arbitrary distinct odd constants). A tagged hash is mix32(payload ^ mix32(seed ^
// tag)): two tags never line up for every seed, because mix32(s ^ A) ^ mix32(s ^ B) is not
// constant in s.
const TAG_OBJECT = 0x2545f491;
const TAG_SYMBOL = 0x4f1bbcdd;
const TAG_BOOLEAN = 0x68e31da5;
const TAG_NULL = 0x1b873593;
const TAG_UNDEFINED = 0x7feb352d;
const TAG_BIGINT = 0x3c6ef373;
const TAG_NAN = 0x5851f42d;
const TAG_EMPTY_STRING = 0x61c88647;

function tagged(payload: number, seed: number, tag: number): number {
  return mix32(payload ^ mix32(seed ^ tag));
}

/** The one-pass string hash (kept bit for bit: see the module comment). */
function foldString(s: string, seed: number): number {
  let h = seed ^ s.length;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return mix32(h);
}

export function hashString(s: string, seed: number): number {
  return s.length === 0 ? tagged(0, seed, TAG_EMPTY_STRING) : foldString(s, seed);
}

export function hashNumber(n: number, seed: number): number {
  if ((n | 0) === n) return mix32(n ^ seed);
  if (n !== n) return tagged(0, seed, TAG_NAN);
  f64[0] = n;
  const lo = u32[0]!;
  const hi = u32[1]!;
  // hi's top bit is the sign.
  if (hi < 0x80000000) return mix32(Math.imul(lo ^ seed, 0x9e3779b1) ^ hi);
  return mix32(mix32(lo ^ seed) ^ hi);
}

/** Identities count up from 1; past 2^32 they wrap in the 32-bit mix, which only costs a collision. */
let nextIdentity = 1;
const identities = new WeakMap<object, number>();

/** Whether this engine lets (non-registered) symbols be WeakMap keys. */
const SYMBOLS_ARE_WEAK = ((): boolean => {
  try {
    new WeakMap<object, number>().set(Symbol('probe') as unknown as object, 0);
    return true;
  } catch {
    return false;
  }
})();

function identityOf(key: object): number {
  let id = identities.get(key);
  if (id === undefined) identities.set(key, (id = nextIdentity++));
  return id;
}

function hashSymbol(key: symbol, seed: number): number {
  const registered = Symbol.keyFor(key);
  if (registered !== undefined) return hashString(registered, mix32(seed ^ TAG_SYMBOL));
  // Holding a symbol strongly here would keep it alive forever; an engine that cannot hold it
  // weakly gets the description's hash (symbols of one description then share a hash).
  if (!SYMBOLS_ARE_WEAK) return hashString(key.description ?? '', mix32(seed ^ TAG_SYMBOL));
  return tagged(identityOf(key as unknown as object), seed, TAG_OBJECT);
}

export function hashKey(key: unknown, seed: number): number {
  switch (typeof key) {
    case 'string':
      return hashString(key, seed);
    case 'number':
      return hashNumber(key, seed);
    case 'object':
      if (key === null) return tagged(0, seed, TAG_NULL);
      return tagged(identityOf(key), seed, TAG_OBJECT);
    case 'function':
      return tagged(identityOf(key), seed, TAG_OBJECT);
    case 'symbol':
      return hashSymbol(key, seed);
    case 'boolean':
      return tagged(key ? 1 : 0, seed, TAG_BOOLEAN);
    case 'bigint':
      return hashString(key.toString(16), mix32(seed ^ TAG_BIGINT));
    default:
      return tagged(0, seed, TAG_UNDEFINED);
  }
}

/** A fresh random 32-bit seed. */
export function randomSeed(): number {
  return (Math.random() * 0x100000000) | 0;
}
