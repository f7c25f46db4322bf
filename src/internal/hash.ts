/**
 * Seeded 32-bit key hashing for policies that need it (frequency sketches, ghost queues).
 *
 * The seed is drawn per cache so that an attacker who controls keys cannot precompute a
 * set of keys that collide in every cache's sketch (hash flooding would let them inflate the
 * frequency of keys they want admitted). For the same reason no two distinct keys should hash
 * alike for *every* seed: such a pair is a collision that no seed removes. So hashing is
 * type-tagged: each kind of key is hashed with its own function of the seed, and the kinds
 * cannot be made to line up.
 *  - strings of at most WHOLE_STRING_MAX (128) UTF-16 units: one pass over the code units (a
 *    multiply-xorshift per unit), then a murmur3 finaliser; the empty string is tagged (the
 *    bare pass would give it the hash of 0);
 *  - longer strings: a bounded sample (issue #15), see below;
 *  - numbers: small integers (and -0, equal to 0 as a key) are mixed directly; other
 *    non-negative numbers by their IEEE-754 words, the low word multiplied into the high one;
 *    negative ones by the finalised low word, so that a double and its twin with the sign bit
 *    and bit 31 of the low word flipped (which the multiply maps to the same value) differ;
 *    every NaN alike (they are one key to a Map);
 *  - objects, functions and symbols that are not in the global registry hash by identity: a
 *    number assigned on first sight, kept in a WeakMap so the key can still be collected
 *    (symbols can be WeakMap keys since V8 10.8, so in every Node 20); a registered symbol
 *    (`Symbol.for`) by its registry key, which is what identifies it;
 *  - null, undefined, booleans and bigints by a tag and their value (a bigint by its hex digits,
 *    so one of more than 512 bits is sampled like a long string).
 * The small-integer and short-string paths are the ones the simulator's seeded results depend
 * on: they are kept bit for bit (changing them would move every published hit ratio a little).
 * A collision here only costs hit ratio (two keys share sketch counters or a ghost record);
 * it never makes one key read another's value: the key index compares keys, not these hashes.
 *
 * Long strings. The whole-string fold costs about 4.5 ns per unit on the benchmark machine, so
 * a 1 KB key cost microseconds on every miss (and on every S3-FIFO eviction, which re-hashes
 * the victim): up to 9x the per-operation cost of a short key (docs/perf-notes.md, "Long
 * string keys"), against 2x to 4.6x for the policies that hash nothing. A string of more than
 * 128 units is hashed by its length, its first 16 and last 16 units (prefixes such as a URL's
 * scheme and host are shared, and so, often, are suffixes), and six chunks of 8 units in
 * between, one in each sixth of the rest of the string, at an offset inside its sixth drawn
 * from the seed: 80 units, whatever the length. What that gives and what it does not:
 *  - keys that differ only in units no chunk reads share a hash for that cache. The first and
 *    last 16 units are read under every seed; any other unit of a 1 KB key under about 1 seed
 *    in 20. A workload whose long keys differ only in a few units of their middle (an id
 *    between a long constant prefix and a long constant suffix) therefore puts many keys on
 *    one hash: W-TinyLFU and TinyLFU then see them as one frequently requested key, and
 *    S3-FIFO's ghost as one returning key. That costs hit ratio (docs/perf-notes.md: 15
 *    points for TinyLFU, 4.8 for S3-FIFO, 1.8 for W-TinyLFU in the worst case), never a
 *    wrong value;
 *  - because the interior offsets move with the seed, every unit is read under some seed:
 *    two strings still never hash alike for every seed (the property above), and someone who
 *    does not know a cache's seed does not know which middle units it reads;
 *  - someone who controls keys can still make many distinct keys share one hash without
 *    knowing the seed, by varying only the middle of a long key (most seeds miss any one
 *    unit). Each new key of such a family enters W-TinyLFU's duel with the family's summed
 *    count: it displaces victims colder than that, and hotter ones at the 1-in-128 rate of
 *    any warm candidate (wtinylfu.ts, ADMIT_WARM); TinyLFU admits it the same way, without a
 *    window to soften it, and S3-FIFO's ghost sends it straight to the main queue. So the
 *    attacker's keys get past the admission filter that would stop a flood of new keys, at
 *    the cost of hit ratio for everyone else. What they cannot do through this hash is read
 *    or overwrite another key's value, slow a lookup down, or grow the cache past its bound.
 *    Applications that take long keys from untrusted input and want the admission filter to
 *    hold against them should digest such keys to a fixed length (SHA-256 hex: 64 units,
 *    hashed whole here) before they reach the cache.
 *
 * Flooding resistance in cortado as a whole. The structures whose *speed* an attacker could
 * attack are the key indexes, not this hash (whose worst is said above: hit ratio):
 *  - string keys live in a V8 Map. V8 hashes a string once, with a seed drawn at process start,
 *    and caches the hash in the string, so colliding keys cannot be precomputed. Two
 *    exceptions an application that takes keys from untrusted input should know: (1) V8
 *    hashes a string of more than 16,383 units by its length alone, so such keys of one
 *    length all collide in the Map and each operation costs time in proportion to how many
 *    are resident (`node bench/long-keys.mjs --v8-long` measures it); cap key length (or
 *    digest long keys) before they reach the cache; (2) strings that look like array indices
 *    ("1234") had an unseeded hash until CVE-2026-21717, fixed in Node 20.20.2, 22.22.2 and
 *    24.14.1: run a fixed Node;
 *  - number keys are moving to a seeded open-addressing table of cortado's own (int32 keys);
 *    doubles, objects, symbols and bigints stay in V8's Map (objects and symbols by an
 *    identity hash, which the attacker does not choose);
 *  - the disk and shared tiers hash keys with their own seeded 64-bit hashes over every byte
 *    (src/disk/key.ts, src/shared/store.ts).
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

/**
 * Longest string hashed whole. The whole fold costs about 4.5 ns per unit on the benchmark
 * machine and the sample below about as much as 80 units of it (`node bench/long-keys.mjs
 * --hash`), so sampling would start to pay from about 80 units. But keys of 65 to 128 units
 * (URLs, composite keys) often differ only in a few units in their middle, where a sample may
 * not look, so they keep the whole fold, at most about 1.6 times the sample's cost. Strings of
 * at most this many units also keep the hash they always had (the simulator's seeded results
 * depend on it).
 */
export const WHOLE_STRING_MAX = 128;
/** Units read at each end of a long string, under every seed (two chunks: 2 * CHUNK). */
const END = 16;
/** Units per interior chunk (foldChunk is unrolled for exactly this many). */
const CHUNK = 8;
/** Interior chunks, each moving inside its own segment of the string between the ends. */
const INTERIOR = 6;
/** Tag of the long-string path (its start state differs from the whole-string fold's). */
const TAG_LONG_STRING = 0x2f4c7e89;
/** Tag of the seed-derived chunk positions. */
const TAG_POSITIONS = 0x7b1e6d43;

/** Fold CHUNK (8) units of `s` from `at` into `h`, two units (one 32-bit word) per step. */
function foldChunk(s: string, at: number, h: number): number {
  h = Math.imul(h ^ (s.charCodeAt(at) | (s.charCodeAt(at + 1) << 16)), 0x5bd1e995);
  h ^= h >>> 15;
  h = Math.imul(h ^ (s.charCodeAt(at + 2) | (s.charCodeAt(at + 3) << 16)), 0x5bd1e995);
  h ^= h >>> 15;
  h = Math.imul(h ^ (s.charCodeAt(at + 4) | (s.charCodeAt(at + 5) << 16)), 0x5bd1e995);
  h ^= h >>> 15;
  h = Math.imul(h ^ (s.charCodeAt(at + 6) | (s.charCodeAt(at + 7) << 16)), 0x5bd1e995);
  return h ^ (h >>> 15);
}

/**
 * A string longer than WHOLE_STRING_MAX: its length, its first and last END units, and
 * INTERIOR chunks of CHUNK units in between (80 units in all), not the whole string (the
 * whole fold costs time in proportion to the key: about 5 us for a 1 KB key, 0.5 us sampled).
 * The ends are always read (keys often share a long prefix, such as a URL's scheme and host,
 * and differ at the end, or the reverse). The units between them are cut into INTERIOR
 * segments of equal length (each at least CHUNK long, since the string has more than
 * END * 2 + INTERIOR * CHUNK units), and each interior chunk starts at an offset inside its
 * segment drawn from the seed (a 32-bit LCG started from the mixed seed): which units are read
 * depends on the cache, and over all seeds every unit of the string is read by some.
 */
function sampleString(s: string, seed: number): number {
  const n = s.length;
  let h = mix32(seed ^ TAG_LONG_STRING) ^ n;
  h = foldChunk(s, 0, h);
  h = foldChunk(s, CHUNK, h);
  const inner = n - 2 * END;
  let r = mix32(seed ^ TAG_POSITIONS);
  let start = END;
  for (let j = 1; j <= INTERIOR; j++) {
    const end = END + Math.floor((j * inner) / INTERIOR);
    const span = end - start - CHUNK + 1; // possible offsets inside this segment (>= 1)
    r = (Math.imul(r, 0x2c9277b5) + 0xac564b05) | 0; // LCG step; its high bits pick the offset
    h = foldChunk(s, start + Math.floor(((r >>> 0) / 0x100000000) * span), h);
    start = end;
  }
  h = foldChunk(s, n - END, h);
  h = foldChunk(s, n - CHUNK, h);
  return mix32(h);
}

export function hashString(s: string, seed: number): number {
  const n = s.length;
  if (n <= WHOLE_STRING_MAX) return n === 0 ? tagged(0, seed, TAG_EMPTY_STRING) : foldString(s, seed);
  return sampleString(s, seed);
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
