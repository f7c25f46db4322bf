/**
 * LHD, Least Hit Density (Beckmann, Chen and Cidon, "LHD: Improving Cache Hit Rate by
 * Maximizing Hit Density", NSDI'18).
 *
 * An entry's *hit density* is the hits it is expected to get from now on divided by the
 * space-time it is expected to occupy (its cost times its remaining lifetime). Evicting the
 * entry of least hit density maximises hits per unit of cache. LHD estimates it from what
 * happened to *similar* entries at the *same age*:
 *
 *  - Age: requests since the entry's last access, coarsened into MAX_AGE buckets of
 *    2^shift requests. The shift is chosen from the number of resident entries so that
 *    one turnover of the cache spans about AGE_BUCKETS_PER_TURNOVER buckets, and histograms
 *    are stretched or compressed when it changes (the paper's "age coarsening").
 *  - Class: entries are grouped by how long their last two hit intervals were (log scale,
 *    HIT_AGE_CLASSES classes), so frequently hit entries learn from each other.
 *  - Statistics: per class and age, the number of hits and of evictions. At every
 *    reconfiguration they decay by EWMA_DECAY (old behaviour fades) and the hit density
 *    of every (class, age) is recomputed in one backward pass: hits after age a, divided by
 *    the expected remaining lifetime of an entry that reached a.
 *  - Eviction: the least dense of SAMPLE random residents (density divided by the entry's
 *    cost, so that the policy is size-aware); entries older than the oldest bucket go first.
 *
 * Differences from the paper's code, and why:
 *  - it reconfigures every max(RECONFIG_MIN, RECONFIG_RATIO x capacity) requests instead of
 *    every 2^20, so it adapts on traces and caches far smaller than a CDN's;
 *  - MAX_AGE is 1024 buckets (not 20,000) so that a reconfiguration (three passes over
 *    classes x ages) stays cheap at that rate, with the coarsening rescaled to match;
 *  - no application classes (a cache here has one tenant) and no "explorer" entries.
 * Until the first reconfiguration the densities are GDSF-like, (class + 1) / (age + 1), as in
 * the paper's code.
 *
 * Hit cost: 'fields' (no reordering, but more than one store): a histogram increment and
 * three per-slot stores.
 */
import { DenseSlots, XorShift32 } from '../internal/sample.js';
import { type Policy, type PolicyHost, NO_SLOT, broken } from './policy.js';

/** Age buckets per class; ages beyond the last bucket are "overflow", evicted first. */
const MAX_AGE = 1024;
/** Classes by the sum of the last two hit ages, on a log scale (paper: 16). */
const HIT_AGE_CLASSES = 16;
/** Decay of the hit and eviction histograms at each reconfiguration (paper: 0.9). */
const EWMA_DECAY = 0.9;
/** Residents sampled per eviction (paper: 32, its "associativity"). */
const SAMPLE = 32;
/** Smallest number of requests between reconfigurations. */
const RECONFIG_MIN = 4096;
/** Requests between reconfigurations, in multiples of the capacity. */
const RECONFIG_RATIO = 2;
/** Age buckets that one cache turnover (requests ~ resident entries) should span. */
const AGE_BUCKETS_PER_TURNOVER = 16;
/** Sentinel hit age for the class of a new entry: it has never been hit (paper: MAX_AGE). */
const NEVER = MAX_AGE;

export class LhdPolicy implements Policy {
  readonly name = 'lhd';
  readonly hitCost = 'fields' as const;
  readonly needsHash = false;
  private readonly live: DenseSlots;
  private readonly rng: XorShift32;
  // per slot
  private stamp: Float64Array;
  /** Coarsened age at the last hit (below MAX_AGE: 2 bytes). */
  private lastHitAge: Uint16Array;
  private cls: Uint8Array;
  // per (class, age)
  readonly hits = new Float64Array(HIT_AGE_CLASSES * MAX_AGE);
  readonly evictions = new Float64Array(HIT_AGE_CLASSES * MAX_AGE);
  readonly density = new Float64Array(HIT_AGE_CLASSES * MAX_AGE);
  /** Request clock (hits and insertions). */
  private now = 0;
  private shift = 0;
  private scale = 1;
  private untilReconfig = RECONFIG_MIN;
  private ewmaObjects = 0;
  private ewmaMass = 0;
  /** Reconfigurations so far (for tests). */
  reconfigurations = 0;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.live = new DenseSlots(host, 'lhd.live', slots);
    this.rng = new XorShift32(host.seed ^ 0x1b873593);
    this.stamp = host.f64('lhd.stamp', slots);
    this.lastHitAge = host.u16('lhd.lastHitAge', slots);
    this.cls = host.u8('lhd.class', slots);
    this.initDensities();
    this.setCoarsening(Math.min(slots, host.capacity));
    this.resize();
  }

  private initDensities(): void {
    for (let c = 0; c < HIT_AGE_CLASSES; c++) {
      for (let a = 0; a < MAX_AGE; a++) this.density[c * MAX_AGE + a] = (c + 1) / (a + 1);
    }
  }

  private period(): number {
    const cap = this.host.capacity;
    // With weights the capacity is not an entry count: use the slot count instead.
    const entries = Math.min(cap, this.stamp.length);
    return Math.max(RECONFIG_MIN, Math.ceil(RECONFIG_RATIO * entries));
  }

  grow(slots: number): void {
    this.live.grow(slots);
    this.stamp = this.host.f64('lhd.stamp', slots);
    this.lastHitAge = this.host.u16('lhd.lastHitAge', slots);
    this.cls = this.host.u8('lhd.class', slots);
    // The cache grows its slots as it fills: until the first reconfiguration, scale ages to
    // the number of slots, or the young cache would see every entry as overflow.
    if (this.reconfigurations === 0) this.setCoarsening(Math.min(slots, this.host.capacity));
  }

  resize(): void {
    this.untilReconfig = Math.min(this.untilReconfig, this.period());
  }

  recordMiss(_hash: number): void {}

  /** Coarsened age of `slot`, capped at the overflow bucket MAX_AGE - 1. */
  private ageOf(slot: number): number {
    const a = Math.floor((this.now - this.stamp[slot]!) * this.scale);
    return a < MAX_AGE - 1 ? a : MAX_AGE - 1;
  }

  /** Class from the sum of the last two hit ages: short intervals, high class. */
  private static classOf(sum: number): number {
    let c = 0;
    let a = sum;
    while (a < MAX_AGE && c < HIT_AGE_CLASSES - 1) {
      a *= 2;
      c++;
    }
    return c;
  }

  /** Expected hits per unit of cost and time of `slot` now. */
  private rank(slot: number): number {
    const age = this.ageOf(slot);
    if (age === MAX_AGE - 1) return -Infinity;
    return this.density[this.cls[slot]! * MAX_AGE + age]! / Math.max(this.host.costOf(slot), Number.MIN_VALUE);
  }

  evictFor(_hash: number, _cost: number): number {
    return this.evict();
  }

  evict(): number {
    const live = this.live;
    if (live.size === 0) return NO_SLOT;
    let victim = -1;
    let best = Infinity;
    const n = Math.min(SAMPLE, live.size);
    for (let i = 0; i < n; i++) {
      const s = live.size <= SAMPLE ? live.dense[i]! : live.dense[this.rng.below(live.size)]!;
      const r = this.rank(s);
      if (r < best || victim < 0) {
        best = r;
        victim = s;
      }
    }
    this.evictions[this.cls[victim]! * MAX_AGE + this.ageOf(victim)]! += 1;
    live.remove(victim);
    return victim;
  }

  onInsert(slot: number): void {
    this.live.add(slot);
    this.lastHitAge[slot] = 0;
    this.cls[slot] = LhdPolicy.classOf(NEVER);
    this.stamp[slot] = this.now;
    this.tick();
  }

  onAccess(slot: number): void {
    const age = this.ageOf(slot);
    this.hits[this.cls[slot]! * MAX_AGE + age]! += 1;
    const last = this.lastHitAge[slot]!;
    this.lastHitAge[slot] = age;
    this.cls[slot] = LhdPolicy.classOf(last + age);
    this.stamp[slot] = this.now;
    this.tick();
  }

  onUpdate(slot: number, _oldCost: number): void {
    // A write is a reference like a read; the new cost is read from the host when ranking.
    this.onAccess(slot);
  }

  onRemove(slot: number): void {
    this.live.remove(slot);
  }

  clear(): void {
    this.live.clear();
  }

  private tick(): void {
    this.now++;
    if (--this.untilReconfig <= 0) {
      this.reconfigure();
      this.untilReconfig = this.period();
    }
  }

  /** Decay the histograms, adapt the age coarsening, recompute every hit density. */
  reconfigure(): void {
    const hits = this.hits;
    const evs = this.evictions;
    for (let i = 0; i < hits.length; i++) {
      hits[i]! *= EWMA_DECAY;
      evs[i]! *= EWMA_DECAY;
    }
    this.adaptCoarsening();
    const dens = this.density;
    for (let c = 0; c < HIT_AGE_CLASSES; c++) {
      const base = c * MAX_AGE;
      // Backward pass: hitsAfter = hits at ages >= a; events = hits + evictions at ages >= a;
      // lifetime = sum over ages >= a of the entries still alive there (expected space-time).
      let hitsAfter = 0;
      let events = 0;
      let lifetime = 0;
      for (let a = MAX_AGE - 1; a >= 0; a--) {
        hitsAfter += hits[base + a]!;
        events += hits[base + a]! + evs[base + a]!;
        lifetime += events;
        dens[base + a] = events > 1e-5 ? hitsAfter / lifetime : 0;
      }
    }
    this.reconfigurations++;
  }

  /** Pick 2^shift requests per bucket so a cache turnover spans AGE_BUCKETS_PER_TURNOVER. */
  private adaptCoarsening(): void {
    this.ewmaObjects = this.ewmaObjects * EWMA_DECAY + this.live.size;
    this.ewmaMass = this.ewmaMass * EWMA_DECAY + 1;
    this.setCoarsening(this.ewmaObjects / this.ewmaMass);
  }

  /** Rescale ages for a cache of about `objects` entries. */
  private setCoarsening(objects: number): void {
    const want = objects / AGE_BUCKETS_PER_TURNOVER;
    let shift = 0;
    while (2 ** shift < want) shift++;
    const delta = shift - this.shift;
    if (delta === 0) return;
    const hits = this.hits;
    const evs = this.evictions;
    for (let c = 0; c < HIT_AGE_CLASSES; c++) {
      const base = c * MAX_AGE;
      if (delta > 0) {
        // Coarser buckets: merge 2^delta old buckets into one (the overflow bucket stays).
        for (let a = 0; a < MAX_AGE; a++) {
          const to = a < MAX_AGE - 1 ? a >> delta : MAX_AGE - 1;
          if (to === a) continue;
          hits[base + to]! += hits[base + a]!;
          evs[base + to]! += evs[base + a]!;
          hits[base + a] = 0;
          evs[base + a] = 0;
        }
      } else {
        // Finer buckets: spread each old bucket over 2^-delta new ones; what no longer fits
        // stays in the overflow bucket.
        const d = -delta;
        const k = 1 << d;
        for (let a = (MAX_AGE - 2) >> d; a < MAX_AGE - 1; a++) {
          // buckets whose spread would pass the end fold into overflow
          if ((a << d) >= MAX_AGE - 1) {
            hits[base + MAX_AGE - 1]! += hits[base + a]!;
            evs[base + MAX_AGE - 1]! += evs[base + a]!;
            hits[base + a] = 0;
            evs[base + a] = 0;
          }
        }
        for (let a = MAX_AGE - 2; a >= 0; a--) {
          const from = a >> d;
          hits[base + a] = hits[base + from]! / k;
          evs[base + a] = evs[base + from]! / k;
        }
      }
    }
    this.shift = shift;
    this.scale = 1 / 2 ** shift;
  }

  validate(live: (slot: number) => boolean, size: number): void {
    const slots = this.live.check(this.name);
    if (slots.length !== size) broken(this.name, `tracks ${slots.length} slots, cache ${size}`);
    for (const s of slots) {
      if (!live(s)) broken(this.name, `slot ${s} tracked but not live`);
      if (this.stamp[s]! > this.now) broken(this.name, `slot ${s} stamped in the future`);
      if (this.cls[s]! >= HIT_AGE_CLASSES) broken(this.name, `slot ${s} class ${this.cls[s]}`);
    }
    for (let i = 0; i < this.hits.length; i++) {
      if (!(this.hits[i]! >= 0) || !(this.evictions[i]! >= 0) || !(this.density[i]! >= 0)) {
        broken(this.name, `histogram cell ${i} is negative or NaN`);
      }
    }
    if (this.untilReconfig < 1) broken(this.name, `reconfiguration overdue by ${-this.untilReconfig}`);
  }
}
