/**
 * TinyLFU admission over sampled-LFU eviction, as in Ristretto (Go) and Stretto (Rust).
 *
 * Papers: [1] Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM ToS 2017 (the sketch, aging and the doorkeeper); [2] Psounis and Prabhakar,
 * "A Randomized Web-Cache Replacement Scheme", INFOCOM 2001 (eviction by sampling: the
 * worst of a few random entries is almost as good a victim as the worst of all).
 *
 *  - Frequency: a count-min sketch of 4-bit counters halved every RESET_RATIO x capacity
 *    increments, behind a doorkeeper Bloom filter [1]: a key's first sighting only sets its
 *    doorkeeper bits, so one-hit wonders never reach the counters. The estimate of a key is
 *    its sketch count plus one when the doorkeeper knows it. Every hit and miss counts; a
 *    hit only adds one to its slot's own 4-bit count (a byte per slot, as in wtinylfu.ts),
 *    which joins the doorkeeper and the sketch when the key leaves the cache, and which a
 *    resident's estimate includes meanwhile. A hit is then one byte store, like SIEVE's.
 *  - Eviction: no queue at all. The resident entries live in a dense array; a victim is the
 *    least frequent of SAMPLE random residents. A hit touches one byte ("bit" hit).
 *  - Admission, cost-aware: to make room for a newcomer the policy picks victims one by one
 *    from the sample (refilled as it drains) until their total cost frees enough room. The
 *    newcomer is admitted only if its estimate is at least the *sum* of the victims'
 *    estimates: a heavy newcomer must be worth more than everything it displaces. Otherwise
 *    evictFor returns REJECT before any victim is touched. Ties admit, as in Ristretto.
 *
 * The plan of victims is built on the first evictFor call for a newcomer and handed out one
 * victim per call; planned victims are taken out of the dense array at once (so a refill
 * cannot pick them twice) and put back if the plan is abandoned.
 */
import { FrequencySketch, Doorkeeper } from '../internal/sketch.js';
import { DenseSlots, XorShift32 } from '../internal/sample.js';
import { type Policy, type PolicyHost, NO_SLOT, REJECT, broken } from './policy.js';
import { growUint8 } from '../internal/typed-arrays.js';

/** Residents sampled per victim choice (Ristretto's lfuSample: 5). */
const SAMPLE = 5;
/** Sketch halving period in multiples of the capacity (Ristretto: 10x counters). */
const RESET_RATIO = 10;
/** Most victims one newcomer may displace before it is refused outright. */
const MAX_VICTIMS = 64;
/** Ceiling of a slot's own hit count (the sketch's 4-bit counters saturate there too). */
const MAX_HITS = 15;
/** Ceiling of an estimate: a saturated sketch count plus the doorkeeper's one. */
const MAX_ESTIMATE = 16;

/** Halve every per-slot hit count (aging, with the sketch). */
function halveCounts(a: Uint8Array): void {
  for (let i = 0; i < a.length; i++) a[i] = a[i]! >>> 1;
}

export class TinyLfuPolicy implements Policy {
  readonly name = 'tinylfu';
  readonly hitCost = 'bit' as const;
  readonly needsHash = true;
  private readonly live: DenseSlots;
  readonly sketch: FrequencySketch;
  readonly door: Doorkeeper;
  private readonly rng: XorShift32;
  /** Sum of the costs of the tracked entries. */
  private used = 0;
  private capacity: number;
  // sample under construction (slots) and the plan of victims
  private readonly sample = new Int32Array(SAMPLE);
  private sampleLen = 0;
  private readonly plan = new Int32Array(MAX_VICTIMS);
  private planLen = 0;
  private planPos = 0;
  /** Per-slot mark: 1 while the slot sits in `sample` (avoids duplicates). */
  private inSample: Uint8Array;
  /** Per slot: hits not yet counted in the doorkeeper and the sketch (0..15; see the banner). */
  private hits: Uint8Array;
  /** The sketch's halving count when the doorkeeper and the hit counts last aged with it. */
  private seenResets = 0;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.capacity = host.capacity;
    const entries = Math.max(1, Math.min(slots, this.capacity));
    this.sketch = new FrequencySketch(entries, host.seed, RESET_RATIO * entries);
    this.door = new Doorkeeper(entries, host.seed);
    this.live = new DenseSlots(slots);
    this.inSample = new Uint8Array(slots);
    this.hits = new Uint8Array(slots);
    this.rng = new XorShift32(host.seed ^ 0x7f4a7c15);
  }

  private sizeSketch(slots: number): void {
    const entries = Math.max(1, Math.min(slots, this.capacity));
    this.sketch.ensureCapacity(entries);
    this.sketch.resetPeriod = Math.max(RESET_RATIO * entries, 16);
    this.door.ensureCapacity(entries);
    if (this.sketch.additions >= this.sketch.resetPeriod) {
      this.sketch.halve();
      this.checkAging();
    }
  }

  grow(slots: number): void {
    this.live.grow(slots);
    this.inSample = growUint8(this.inSample, slots);
    this.hits = growUint8(this.hits, slots);
    this.sizeSketch(slots);
  }

  resize(): void {
    this.capacity = this.host.capacity;
    this.sizeSketch(this.live.pos.length);
  }

  /** Count one occurrence: first sightings go to the doorkeeper only. */
  private count(hash: number): void {
    if (this.door.add(hash)) {
      this.sketch.increment(hash);
      this.checkAging();
    }
  }

  /** After the sketch halved (by itself, or from age()): clear the doorkeeper, halve the hit counts. */
  private checkAging(): void {
    if (this.sketch.resets !== this.seenResets) {
      this.door.clear();
      halveCounts(this.hits);
      this.seenResets = this.sketch.resets;
    }
  }

  /** Estimated recent frequency: sketch count, plus one if the doorkeeper saw the key. */
  estimate(hash: number): number {
    return this.sketch.frequency(hash) + (this.door.has(hash) ? 1 : 0);
  }

  /** Estimate of a resident: the key's estimate plus its slot's uncounted hits. */
  private residentEstimate(slot: number): number {
    const f = this.estimate(this.host.hashOf(slot)) + this.hits[slot]!;
    return f < MAX_ESTIMATE ? f : MAX_ESTIMATE;
  }

  /** The key in `slot` leaves: its uncounted hits join the doorkeeper and the sketch. */
  private release(slot: number): void {
    let n = this.hits[slot]!;
    if (n === 0) return;
    this.hits[slot] = 0;
    const h = this.host.hashOf(slot);
    if (!this.door.add(h)) n--; // a first sighting since the doorkeeper was cleared
    if (n > 0) this.sketch.addCount(h, n);
  }

  recordMiss(hash: number): void {
    this.abandonPlan();
    this.count(hash);
  }

  evictFor(hash: number, cost: number): number {
    if (this.planPos < this.planLen) return this.take();
    this.abandonPlan();
    if (this.live.size === 0) return NO_SLOT;
    const need = this.used + cost - this.capacity;
    const worth = this.estimate(hash);
    let freed = 0;
    let displaced = 0;
    while ((freed < need || this.planLen === 0) && this.live.size > 0) {
      if (this.planLen === MAX_VICTIMS) {
        this.abandonPlan();
        return REJECT;
      }
      const s = this.pickFromSample();
      this.plan[this.planLen++] = s;
      freed += this.host.costOf(s);
      displaced += this.residentEstimate(s);
      if (displaced > worth) {
        this.abandonPlan();
        return REJECT;
      }
    }
    this.clearSample();
    return this.take();
  }

  evict(): number {
    this.abandonPlan();
    if (this.live.size === 0) return NO_SLOT;
    const s = this.pickFromSample();
    this.clearSample();
    this.used -= this.host.costOf(s);
    this.release(s);
    return s;
  }

  /** Hand out the next planned victim (already out of the dense array). */
  private take(): number {
    const s = this.plan[this.planPos++]!;
    this.used -= this.host.costOf(s);
    this.release(s);
    if (this.planPos === this.planLen) this.planPos = this.planLen = 0;
    return s;
  }

  /** Put planned-but-not-taken victims back among the residents. */
  private abandonPlan(): void {
    for (let i = this.planPos; i < this.planLen; i++) this.live.add(this.plan[i]!);
    this.planPos = this.planLen = 0;
    this.clearSample();
  }

  private clearSample(): void {
    for (let i = 0; i < this.sampleLen; i++) this.inSample[this.sample[i]!] = 0;
    this.sampleLen = 0;
  }

  /**
   * Top the sample up to SAMPLE distinct residents, remove its least frequent member from the
   * residents and return it.
   */
  private pickFromSample(): number {
    const live = this.live;
    const want = Math.min(SAMPLE, live.size);
    if (live.size <= SAMPLE) {
      // Few residents: the sample is all of them (deterministic, no duplicate probes).
      for (let i = 0; i < live.size; i++) {
        const s = live.dense[i]!;
        if (this.inSample[s] === 0) {
          this.inSample[s] = 1;
          this.sample[this.sampleLen++] = s;
        }
      }
    }
    // Random probes; duplicates are skipped, with a bounded number of tries.
    for (let tries = 0; this.sampleLen < want && tries < 4 * SAMPLE; tries++) {
      const s = live.dense[this.rng.below(live.size)]!;
      if (this.inSample[s] === 0) {
        this.inSample[s] = 1;
        this.sample[this.sampleLen++] = s;
      }
    }
    if (this.sampleLen === 0) {
      const s = live.dense[0]!;
      this.inSample[s] = 1;
      this.sample[this.sampleLen++] = s;
    }
    let bi = 0;
    let bf = Infinity;
    for (let i = 0; i < this.sampleLen; i++) {
      const f = this.residentEstimate(this.sample[i]!);
      if (f < bf) {
        bf = f;
        bi = i;
      }
    }
    const victim = this.sample[bi]!;
    this.sample[bi] = this.sample[--this.sampleLen]!;
    this.inSample[victim] = 0;
    live.remove(victim);
    return victim;
  }

  onInsert(slot: number): void {
    this.abandonPlan();
    this.live.add(slot);
    this.used += this.host.costOf(slot);
    this.hits[slot] = 0;
  }

  onAccess(slot: number): void {
    const c = this.hits[slot]!;
    if (c < MAX_HITS) {
      this.hits[slot] = c + 1;
      const sketch = this.sketch;
      if (++sketch.additions >= sketch.resetPeriod) {
        sketch.halve();
        this.checkAging();
      }
    }
  }

  onUpdate(slot: number, oldCost: number): void {
    this.used += this.host.costOf(slot) - oldCost;
    this.count(this.host.hashOf(slot));
  }

  onRemove(slot: number): void {
    this.abandonPlan();
    this.live.remove(slot);
    this.used -= this.host.costOf(slot);
    this.release(slot);
    if (this.live.size === 0) this.used = 0; // no float drift once empty
  }

  clear(): void {
    this.planPos = this.planLen = 0;
    this.clearSample();
    this.live.clear();
    this.used = 0;
    this.sketch.clear();
    this.door.clear();
    this.hits.fill(0);
    this.seenResets = this.sketch.resets;
  }

  validate(live: (slot: number) => boolean, size: number): void {
    if (this.planLen !== 0 || this.planPos !== 0) broken(this.name, `a plan of ${this.planLen} victims is pending`);
    if (this.sampleLen !== 0) broken(this.name, `sample holds ${this.sampleLen} slots between operations`);
    const slots = this.live.check(this.name);
    if (slots.length !== size) broken(this.name, `tracks ${slots.length} slots, cache ${size}`);
    let total = 0;
    for (const s of slots) {
      if (!live(s)) broken(this.name, `slot ${s} tracked but not live`);
      if (this.inSample[s] !== 0) broken(this.name, `slot ${s} still marked as sampled`);
      if (this.hits[s]! > MAX_HITS) broken(this.name, `slot ${s} hit count ${this.hits[s]} > ${MAX_HITS}`);
      total += this.host.costOf(s);
    }
    if (Math.abs(total - this.used) > 1e-6 * Math.max(1, total)) broken(this.name, `used ${this.used} != sum of costs ${total}`);
    if (this.seenResets !== this.sketch.resets) broken(this.name, 'the sketch halved without the doorkeeper and hit counts');
    this.sketch.validate(this.name);
  }
}
