/**
 * The frequency component of the TinyLFU family: a count-min sketch (sketch.ts), an optional
 * doorkeeper, and a 4-bit hit count per slot, aged together. W-TinyLFU and TinyLFU + sampled
 * LFU both use one; what differs between them is passed in (where the count sits in its byte,
 * whether a doorkeeper screens first sightings), not written twice.
 *
 * Why per-slot counts. A hit on a resident key does not touch the sketch (a megabyte at
 * 100,000 entries: a random cache line per hit); it adds one to the slot's own 4-bit count
 * and one to the sketch's `additions` (so hits still advance the halving period). The count
 * joins the sketch when the key leaves (evicted, refused, deleted, expired: {@link release}),
 * so a returning key is remembered; meanwhile a resident's estimate is the sketch's plus its
 * count. Aging halves both at once: whenever the sketch halves, on its own inside
 * `increment` or from {@link age}, the owner calls {@link checkAging} (or goes through a
 * method that does) and the counts are halved and the doorkeeper cleared with it
 * (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", ACM
 * ToS 2017, section 3.3: reset; 3.4.2: doorkeeper).
 *
 * Where the count lives. In `counts[slot]`, bits [shift, shift + 4). TinyLFU gives the count
 * its own byte (shift 0); W-TinyLFU packs it into the high nibble of its metadata byte (shift
 * 4), beside its queue bits and reference mark, so that a hit reads and writes one byte. The
 * bits below `shift` belong to the owner and are kept by every operation here. The byte array
 * comes from the store's allocator (`<name>`), like every per-slot array of a policy.
 *
 * Hot path. The per-hit increment is {@link hit} (TinyLFU). W-TinyLFU writes its count inline,
 * because its byte also takes the reference mark in the same store, and lets its hits join
 * the halving period in bulk from the cache's hit count instead of one by one. Everything else here
 * (misses, duels, leaving keys, sizing) runs off the hit path.
 */
import { FrequencySketch, Doorkeeper } from './sketch.js';
import type { SlotAllocator } from './typed-arrays.js';

/** Ceiling of a per-slot count: 4 bits, like the sketch's counters. */
export const MAX_HITS = 15;
/** Sketch halving period, in multiples of the expected entries (Caffeine, Ristretto and [TinyLFU]: 10). */
export const RESET_RATIO = 10;
/** Shortest halving period after a resize, so a tiny cache does not age on every request. */
const MIN_RESET_PERIOD = 16;

export interface FrequencyOptions {
  /** Name of the per-slot byte array in the store. */
  readonly name: string;
  /** Initial slot count. */
  readonly slots: number;
  /** Expected entries the sketch's table is first sized for. */
  readonly tableEntries: number;
  /** First halving period (increments); {@link Frequency.size} sets it from then on. */
  readonly resetPeriod: number;
  /** Halving period in multiples of the expected entries (default RESET_RATIO). */
  readonly resetRatio?: number;
  /** The cache's seed (sketch and doorkeeper hashes are seeded from it). */
  readonly seed: number;
  /** Bit position of the count in its byte (0: the byte is the count's; 4: the high nibble). */
  readonly shift: 0 | 4;
  /** Screen first sightings with a doorkeeper sized for this many entries; absent: none. */
  readonly doorkeeper?: number;
}

export class Frequency {
  readonly sketch: FrequencySketch;
  /** The doorkeeper, or null when first sightings go straight to the sketch. */
  readonly door: Doorkeeper | null;
  /** Per slot: the count in bits [shift, shift + 4); the lower bits are the owner's. */
  counts: Uint8Array;
  /** The sketch's halving count when the counts (and doorkeeper) last aged with it. */
  private seenResets = 0;
  private readonly shift: number;
  /** One count: 1 << shift. */
  private readonly one: number;
  /** A byte at or above this has a saturated count: MAX_HITS << shift. */
  private readonly full: number;
  /** Mask of the owner's bits below the count. */
  private readonly low: number;
  /** Largest resident estimate: a saturated sketch count, plus one with a doorkeeper. */
  private readonly maxEstimate: number;
  private readonly alloc: SlotAllocator;
  private readonly name: string;
  private readonly resetRatio: number;

  constructor(alloc: SlotAllocator, o: FrequencyOptions) {
    this.alloc = alloc;
    this.name = o.name;
    this.resetRatio = o.resetRatio ?? RESET_RATIO;
    this.shift = o.shift;
    this.one = 1 << o.shift;
    this.low = this.one - 1;
    this.full = MAX_HITS << o.shift;
    this.sketch = new FrequencySketch(o.tableEntries, o.seed, o.resetPeriod);
    this.door = o.doorkeeper === undefined ? null : new Doorkeeper(o.doorkeeper, o.seed);
    this.maxEstimate = MAX_HITS + (this.door === null ? 0 : 1);
    this.counts = alloc.u8(o.name, o.slots);
  }

  /** The slot arrays grew to `slots`. */
  grow(slots: number): void {
    this.counts = this.alloc.u8(this.name, slots);
  }

  /**
   * Size for a cache of `slots` slots and `capacity` (entries, or weight): the expected
   * entries are the slot count (it tracks the entry count as the cache fills, and equals
   * maxEntries once full), or the capacity when smaller. Grows the sketch (keeping its
   * estimates) and the doorkeeper, sets the halving period, and ages at once if the new
   * period has already passed.
   */
  size(slots: number, capacity: number): void {
    const entries = Math.max(1, Math.min(slots, capacity));
    const sketch = this.sketch;
    sketch.ensureCapacity(entries);
    const before = sketch.resetPeriod;
    const period = Math.max(this.resetRatio * entries, MIN_RESET_PERIOD);
    // A shorter period (a shrinking resize) keeps the sketch at the same point of its aging
    // cycle: the additions scale with it. Left as they were, they would exceed the new period
    // many times over, and the next requests would halve the sketch again and again, wiping
    // the frequency history the smaller cache still needs.
    if (period < before) sketch.additions = Math.floor((sketch.additions * period) / before);
    sketch.resetPeriod = period;
    if (this.door !== null) this.door.ensureCapacity(entries);
    if (sketch.additions >= sketch.resetPeriod) this.age();
  }

  /** Halve the sketch and, with it, the counts (and clear the doorkeeper). */
  age(): void {
    this.sketch.halve();
    this.checkAging();
  }

  /** After a sketch call that may have halved on its own: age the counts and doorkeeper with it. */
  checkAging(): void {
    if (this.sketch.resets !== this.seenResets) {
      if (this.door !== null) this.door.clear();
      halveCounts(this.counts, this.shift, this.low);
      this.seenResets = this.sketch.resets;
    }
  }

  /**
   * Count one occurrence of a key seen outside the cache's hits (a miss, an update): with a
   * doorkeeper, a first sighting only sets its bits there.
   */
  record(hash: number): void {
    if (this.door === null || this.door.add(hash)) {
      this.sketch.increment(hash);
      this.checkAging();
    }
  }

  /** A hit on the resident `slot`: one more count (saturating), one step of the halving period. */
  hit(slot: number): void {
    const counts = this.counts;
    const m = counts[slot]!;
    if (m < this.full) {
      counts[slot] = m + this.one;
      const sketch = this.sketch;
      if (++sketch.additions >= sketch.resetPeriod) this.age();
    }
  }

  /** The uncounted hits of `slot` (0..15). */
  countOf(slot: number): number {
    return this.counts[slot]! >>> this.shift;
  }

  /** Estimated recent frequency of a key: its sketch count, plus one if the doorkeeper knows it. */
  estimate(hash: number): number {
    const f = this.sketch.frequency(hash);
    return this.door === null ? f : f + (this.door.has(hash) ? 1 : 0);
  }

  /** Estimate of the resident key `hash` in `slot`: the key's estimate plus the slot's count, capped. */
  residentEstimate(slot: number, hash: number): number {
    const f = this.estimate(hash) + (this.counts[slot]! >>> this.shift);
    return f < this.maxEstimate ? f : this.maxEstimate;
  }

  /**
   * {@link residentEstimate} through the sketch's one remembered estimate
   * (FrequencySketch.heldFrequency): for the one resident a caller asks about repeatedly,
   * W-TinyLFU's main victim. The slot's own count is read each time, so the result is always
   * the same as residentEstimate's.
   */
  heldEstimate(slot: number, hash: number): number {
    let f = this.sketch.heldFrequency(hash) + (this.counts[slot]! >>> this.shift);
    if (this.door !== null && this.door.has(hash)) f++;
    return f < this.maxEstimate ? f : this.maxEstimate;
  }

  /**
   * The key in `slot` leaves the cache: its count joins the sketch (with a doorkeeper, a
   * first sighting since the last clear takes one of them) and is reset, keeping the owner's
   * low bits. `host.hashOf` is called only when there is a count to release.
   */
  release(slot: number, host: { hashOf(slot: number): number }): void {
    const m = this.counts[slot]!;
    if (m < this.one) return;
    let n = m >>> this.shift;
    this.counts[slot] = m & this.low;
    const h = host.hashOf(slot);
    if (this.door !== null && !this.door.add(h)) n--;
    if (n > 0) this.sketch.addCount(h, n);
  }

  /** Forget everything (counts, with the owner's bits, are zeroed). */
  clear(): void {
    this.sketch.clear();
    if (this.door !== null) this.door.clear();
    this.counts.fill(0);
    this.seenResets = this.sketch.resets;
  }

  /** Check the sketch and that the counts aged with it; throws naming `policy`. */
  validate(policy: string): void {
    if (this.seenResets !== this.sketch.resets) {
      const what = this.door === null ? 'the hit counts' : 'the doorkeeper and hit counts';
      throw new Error(`${policy} invariant broken: the sketch halved without ${what}`);
    }
    this.sketch.validate(policy);
  }
}

/** Halve every count in `a` (bits [shift, shift + 4)), keeping the bits below it. */
function halveCounts(a: Uint8Array, shift: number, low: number): void {
  const one = low + 1;
  const mask = (MAX_HITS >>> 1) << shift;
  for (let i = 0; i < a.length; i++) {
    const m = a[i]!;
    if (m >= one) a[i] = ((m >>> 1) & mask) | (m & low);
  }
}
