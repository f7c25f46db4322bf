/**
 * Frequency sketch for TinyLFU admission: a count-min sketch of 4-bit counters with periodic
 * halving, and a doorkeeper Bloom filter for policies that want one.
 *
 * TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM ToS 2017) only needs to know which of two keys was seen more often *recently*:
 *  - counters saturate at 15 (4 bits): beyond that, "often" is all that matters;
 *  - after `resetPeriod` increments every counter is halved ("aging" or "reset" in the
 *    paper), so old popularity fades and the sketch follows a shifting workload;
 *  - a count-min sketch (Cormode and Muthukrishnan, 2005) never under-estimates between two
 *    halvings: each key increments four counters and its estimate is the smallest.
 *
 * Layout: an Int32Array of blocks of four words; a word packs eight 4-bit counters. A key
 * maps to one block (so its four counters share a 16-byte run of memory, one cache line) and
 * takes one counter in each of the block's four words, chosen by the top twelve bits of
 * the mixed hash times an odd constant (three bits a word: the product's top bits depend on
 * every bit of the hash, where a second full mix cost a few more ns per estimate). The
 * block index is the low bits of the key's mixed hash, which makes growing cheap: doubling the table and copying the old one into both halves keeps every key's
 * counters (a key's new block is either its old one or its copy), so estimates never drop.
 * Sixteen counters per expected entry, as in Caffeine: 8 bytes per entry.
 *
 * Hashing is seeded per sketch (callers pass the cache's seed) on top of the cache's own
 * seeded key hash, so keys crafted to collide in one process do not collide in another.
 */
import { mix32 } from './hash.js';

/** Counter ceiling: 4 bits. */
const MAX_COUNT = 15;
/** Low bit of every nibble in a word: counts odd counters when halving. */
const ONE_BITS = 0x11111111;
/** Every nibble with its top bit cleared: the mask after a right shift by one. */
const RESET_MASK = 0x77777777;
/** Largest table, in expected entries (32 MiB of counters): beyond this accuracy is plenty. */
const MAX_ENTRIES = 1 << 22;
/** Odd constant (golden ratio) that decorrelates the second mix from the first. */
const GOLDEN = 0x9e3779b9 | 0;

function ceilPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Halve every 4-bit counter of `t` in place; returns how many counters were odd. A function of
 * its own so that its loop is optimised (on-stack) without leaving the caller's code after
 * the loop unoptimised: as a method it deoptimised once per halving at large sizes.
 */
function halveWords(t: Int32Array): number {
  let odd = 0;
  for (let i = 0; i < t.length; i++) {
    const w = t[i]!;
    odd += popcount32(w & ONE_BITS);
    t[i] = (w >>> 1) & RESET_MASK;
  }
  return odd;
}

export class FrequencySketch {
  /**
   * Blocks of four words, eight 4-bit counters per word. Int32Array rather than Uint32Array:
   * a word with its top counter at 8 or more is then still a small integer to V8, where an
   * unsigned word above 2^31 would be handled as a float on the hot path.
   */
  table: Int32Array;
  private blockMask: number;
  private readonly seed: number;
  /** Increments since the last halving. */
  additions = 0;
  /** Increments between two halvings. */
  resetPeriod: number;
  /** Number of halvings so far (for tests and diagnostics). */
  resets = 0;
  /**
   * One remembered estimate (see {@link heldFrequency}): the hash it is for, that key's block
   * (its four counters' words start at `heldBase`; -1 when nothing is held) and the estimate.
   * Every write to the table either checks the block (increment, addCount) or drops it
   * (halve, clear, growth), so a held estimate is always the one frequency() would return.
   */
  private heldHash = 0;
  private heldBase = -1;
  private heldCount = 0;

  /**
   * @param entries expected number of distinct keys resident in the cache
   * @param seed per-cache hash seed
   * @param resetPeriod increments between halvings (typically 10x `entries`)
   */
  constructor(entries: number, seed: number, resetPeriod: number) {
    const blocks = FrequencySketch.blocksFor(entries);
    this.table = new Int32Array(blocks * 4);
    this.blockMask = blocks - 1;
    this.seed = mix32(seed ^ 0x5f356495);
    this.resetPeriod = Math.max(1, resetPeriod);
  }

  private static blocksFor(entries: number): number {
    // 16 counters per entry = 2 words per entry = half a block per entry.
    const e = ceilPow2(Math.min(Math.max(entries, 2), MAX_ENTRIES));
    return Math.max(1, e >>> 1);
  }

  /** Grow for `entries` expected keys, keeping every estimate (see the banner). */
  ensureCapacity(entries: number): void {
    const blocks = FrequencySketch.blocksFor(entries);
    let table = this.table;
    while (table.length < blocks * 4) {
      const next = new Int32Array(table.length * 2);
      next.set(table, 0);
      next.set(table, table.length);
      table = next;
    }
    this.table = table;
    this.blockMask = (table.length >>> 2) - 1;
    this.heldBase = -1;
  }

  /** Count one occurrence of the key with this (32-bit) hash; halves when the period is reached. */
  increment(hash: number): void {
    const h = mix32(hash ^ this.seed);
    const base = (h & this.blockMask) << 2;
    const g = Math.imul(h, GOLDEN);
    const t = this.table;
    if (base === this.heldBase) this.heldBase = -1;
    // Unrolled and branch-free: it runs on every miss and update (hits of resident keys are
    // counted per slot and reach the sketch when the key leaves, see frequency.ts). inc_i is
    // 1 unless counter i is saturated; its word gains inc_i << shift_i. Every value stays an
    // int32 (an Int32Array word plus at most 1 << 28 wraps with `| 0`), so no step goes
    // through a float.
    const s0 = (g >>> 18) & 28;
    const s1 = (g >>> 21) & 28;
    const s2 = (g >>> 24) & 28;
    const s3 = (g >>> 27) & 28;
    const w0 = t[base]!;
    const w1 = t[base + 1]!;
    const w2 = t[base + 2]!;
    const w3 = t[base + 3]!;
    const n0 = (w0 >>> s0) & MAX_COUNT;
    const n1 = (w1 >>> s1) & MAX_COUNT;
    const n2 = (w2 >>> s2) & MAX_COUNT;
    const n3 = (w3 >>> s3) & MAX_COUNT;
    // ((c + 1) >> 4) is 1 exactly when c is 15: xor 1 turns it into "not saturated".
    const i0 = ((n0 + 1) >> 4) ^ 1;
    const i1 = ((n1 + 1) >> 4) ^ 1;
    const i2 = ((n2 + 1) >> 4) ^ 1;
    const i3 = ((n3 + 1) >> 4) ^ 1;
    t[base] = (w0 + (i0 << s0)) | 0;
    t[base + 1] = (w1 + (i1 << s1)) | 0;
    t[base + 2] = (w2 + (i2 << s2)) | 0;
    t[base + 3] = (w3 + (i3 << s3)) | 0;
    if ((i0 | i1 | i2 | i3) !== 0 && ++this.additions >= this.resetPeriod) this.halve();
  }

  /**
   * Count `n` (1..15) occurrences of the key with this hash at once: each of its four counters
   * gains n, saturating at 15. Unlike {@link increment} this neither counts additions nor
   * halves: it is for occurrences a caller counted on its own and already added to
   * `additions` when they happened (W-TinyLFU's per-slot hit counts).
   */
  addCount(hash: number, n: number): void {
    const h = mix32(hash ^ this.seed);
    const base = (h & this.blockMask) << 2;
    const g = Math.imul(h, GOLDEN);
    const t = this.table;
    if (base === this.heldBase) this.heldBase = -1;
    for (let i = 0; i < 4; i++) {
      const s = (g >>> (18 + 3 * i)) & 28;
      const w = t[base + i]!;
      const c = (w >>> s) & MAX_COUNT;
      const d = c + n > MAX_COUNT ? MAX_COUNT - c : n;
      t[base + i] = (w + (d << s)) | 0;
    }
  }

  /** Estimated recent count of the key with this hash (0..15). */
  frequency(hash: number): number {
    return this.countOf(mix32(hash ^ this.seed));
  }

  /** The smallest of the four counters of the key whose seeded mix is `h`. */
  private countOf(h: number): number {
    const base = (h & this.blockMask) << 2;
    const g = Math.imul(h, GOLDEN);
    const t = this.table;
    const c0 = (t[base]! >>> ((g >>> 18) & 28)) & MAX_COUNT;
    const c1 = (t[base + 1]! >>> ((g >>> 21) & 28)) & MAX_COUNT;
    const c2 = (t[base + 2]! >>> ((g >>> 24) & 28)) & MAX_COUNT;
    const c3 = (t[base + 3]! >>> ((g >>> 27) & 28)) & MAX_COUNT;
    // Branch-free minimum (m + (d & (d >> 31)) is min(m, m + d)): the counters of a random key
    // compare at random, and three mispredicted branches cost more than the rest of the
    // estimate (measured: 21 ns against 13 per estimate on an L1-resident table, perf-notes).
    const d01 = c0 - c1;
    const a = c1 + (d01 & (d01 >> 31));
    const d23 = c2 - c3;
    const b = c3 + (d23 & (d23 >> 31));
    const d = a - b;
    return b + (d & (d >> 31));
  }

  /**
   * {@link frequency}, remembered for the next call with the same hash until a write reaches
   * that key's block. For a caller that asks about one key again and again while others
   * change the table: W-TinyLFU's main victim, which keeps its place while newcomers lose
   * their duels against it. One remembered key; asking about another replaces it.
   */
  heldFrequency(hash: number): number {
    if (hash === this.heldHash && this.heldBase >= 0) return this.heldCount;
    const h = mix32(hash ^ this.seed);
    const f = this.countOf(h);
    const base = (h & this.blockMask) << 2;
    this.heldHash = hash;
    this.heldBase = base;
    this.heldCount = f;
    return f;
  }

  /** Halve every counter (aging). Exposed for tests. */
  halve(): void {
    this.heldBase = -1;
    const odd = halveWords(this.table);
    // Each key owns four counters: odd/4 estimates the increments lost to truncation.
    // Clamp before the shift: `>>> 1` of a negative difference is a huge unsigned number.
    this.additions = Math.max(0, this.additions - (odd >>> 2)) >>> 1;
    this.resets++;
  }

  clear(): void {
    this.table.fill(0);
    this.additions = 0;
    this.heldBase = -1;
  }

  validate(name: string): void {
    const blocks = this.table.length >>> 2;
    if (blocks < 1 || (blocks & (blocks - 1)) !== 0 || this.blockMask !== blocks - 1) {
      throw new Error(`${name} invariant broken: sketch has ${blocks} blocks, mask ${this.blockMask}`);
    }
    if (this.additions < 0 || this.additions >= this.resetPeriod) {
      throw new Error(`${name} invariant broken: sketch additions ${this.additions} outside 0..${this.resetPeriod}`);
    }
  }
}

/** Bits per expected entry in the doorkeeper (about 2% false positives with 3 probes). */
const DOOR_BITS_PER_ENTRY = 8;
/** Probes per key in the doorkeeper. */
const DOOR_PROBES = 3;

/**
 * Doorkeeper (TinyLFU paper, section 3.4.2): a plain Bloom filter in front of the sketch.
 * A key's first occurrence only sets its bits here; the sketch counts it from the second
 * on, so the crowd of one-hit wonders never reaches (and never pollutes) the counters. It
 * is cleared whenever the sketch halves.
 */
export class Doorkeeper {
  bits: Uint32Array;
  private mask: number;
  private readonly seed: number;

  constructor(entries: number, seed: number) {
    const n = ceilPow2(Math.max(64, Math.min(entries, MAX_ENTRIES) * DOOR_BITS_PER_ENTRY));
    this.bits = new Uint32Array(n >>> 5);
    this.mask = n - 1;
    this.seed = mix32(seed ^ 0x2545f491);
  }

  /** Resize (only between clears: the filter is emptied). */
  ensureCapacity(entries: number): void {
    const n = ceilPow2(Math.max(64, Math.min(entries, MAX_ENTRIES) * DOOR_BITS_PER_ENTRY));
    if (n <= this.mask + 1) return;
    this.bits = new Uint32Array(n >>> 5);
    this.mask = n - 1;
  }

  /** Whether the key may have been seen (false positives possible, no false negatives). */
  has(hash: number): boolean {
    const h1 = mix32(hash ^ this.seed);
    const h2 = mix32(h1 + GOLDEN) | 1;
    const b = this.bits;
    for (let i = 0; i < DOOR_PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((b[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  /** Record the key; returns true when it was (probably) already present. */
  add(hash: number): boolean {
    const h1 = mix32(hash ^ this.seed);
    const h2 = mix32(h1 + GOLDEN) | 1;
    const b = this.bits;
    let present = true;
    for (let i = 0; i < DOOR_PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      const w = bit >>> 5;
      const m = 1 << (bit & 31);
      if ((b[w]! & m) === 0) {
        present = false;
        b[w] = b[w]! | m;
      }
    }
    return present;
  }

  clear(): void {
    this.bits.fill(0);
  }
}
