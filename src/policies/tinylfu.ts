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
 *
 * The sketch, doorkeeper and per-slot counts, their sizing, aging and release, are the
 * frequency component shared with W-TinyLFU (internal/frequency.ts), with a doorkeeper and
 * the count in a byte of its own.
 */
import type { FrequencySketch, Doorkeeper } from '../internal/sketch.js';
import { Frequency, MAX_HITS, RESET_RATIO } from '../internal/frequency.js';
import { DenseSlots, XorShift32 } from '../internal/sample.js';
import { type Policy, type PolicyHost, NO_SLOT, REJECT, broken } from './policy.js';

/** Residents sampled per victim choice (Ristretto's lfuSample: 5). */
const SAMPLE = 5;
/** Most victims one newcomer may displace before it is refused outright. */
const MAX_VICTIMS = 64;

export class TinyLfuPolicy implements Policy {
  readonly name = 'tinylfu';
  readonly hitCost = 'bit' as const;
  readonly needsHash = true;
  private readonly live: DenseSlots;
  /** Sketch, doorkeeper and per-slot hit counts (internal/frequency.ts). */
  private readonly freq: Frequency;
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

  constructor(private readonly host: PolicyHost, slots: number) {
    this.capacity = host.capacity;
    const entries = Math.max(1, Math.min(slots, this.capacity));
    this.freq = new Frequency(host, {
      name: 'tinylfu.hits',
      slots,
      tableEntries: entries,
      resetPeriod: RESET_RATIO * entries,
      seed: host.seed,
      shift: 0,
      doorkeeper: entries,
    });
    this.sketch = this.freq.sketch;
    this.door = this.freq.door!;
    this.live = new DenseSlots(host, 'tinylfu.live', slots);
    this.inSample = host.u8('tinylfu.inSample', slots);
    this.rng = new XorShift32(host.seed ^ 0x7f4a7c15);
  }

  grow(slots: number): void {
    this.live.grow(slots);
    this.inSample = this.host.u8('tinylfu.inSample', slots);
    this.freq.grow(slots);
    this.freq.size(slots, this.capacity);
  }

  resize(): void {
    this.capacity = this.host.capacity;
    this.freq.size(this.live.pos.length, this.capacity);
  }

  /** Estimated recent frequency: sketch count, plus one if the doorkeeper saw the key. */
  estimate(hash: number): number {
    return this.freq.estimate(hash);
  }

  /** Estimate of a resident: the key's estimate plus its slot's uncounted hits. */
  private residentEstimate(slot: number): number {
    return this.freq.residentEstimate(slot, this.host.hashOf(slot));
  }

  /** The key in `slot` leaves: its uncounted hits join the doorkeeper and the sketch. */
  private release(slot: number): void {
    this.freq.release(slot, this.host);
  }

  recordMiss(hash: number): void {
    this.abandonPlan();
    this.freq.record(hash);
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
    this.freq.counts[slot] = 0;
  }

  onAccess(slot: number): void {
    this.freq.hit(slot);
  }

  onUpdate(slot: number, oldCost: number): void {
    this.used += this.host.costOf(slot) - oldCost;
    this.freq.record(this.host.hashOf(slot));
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
    this.freq.clear();
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
      if (this.freq.counts[s]! > MAX_HITS) broken(this.name, `slot ${s} hit count ${this.freq.counts[s]} > ${MAX_HITS}`);
      total += this.host.costOf(s);
    }
    if (Math.abs(total - this.used) > 1e-6 * Math.max(1, total)) broken(this.name, `used ${this.used} != sum of costs ${total}`);
    this.freq.validate(this.name);
  }
}
