/**
 * W-TinyLFU with an adaptive window, as in Caffeine.
 *
 * Papers: [1] Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM ToS 2017 (W-TinyLFU is section 5); [2] Einziger, Eytan, Friedman and Manes,
 * "Adaptive Software Cache Management", Middleware 2018 (the hill climber); [3] Megiddo and
 * Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST'03 (ghost-driven sizing).
 *
 * Layout. Three LRU queues over slots: a small admission *window*, and a segmented-LRU main
 * space split into *probation* and *protected*. A new entry always enters the window (so a
 * burst of new keys is served by recency). When the window overflows, its LRU entry becomes
 * the *candidate* for the main space; when the main space is full too, the candidate duels
 * the main space's *victim* (the LRU entry of probation): the one the frequency sketch has
 * seen more often recently stays, the other leaves [1]. A hit in probation promotes to
 * protected; protected overflow is demoted back to the head of probation.
 *
 * Frequency. A count-min sketch of 4-bit counters, halved every RESET_RATIO x capacity
 * increments (see internal/sketch.ts). Every miss and every hit outside the window counts
 * once (see onAccess). The sketch is seeded per cache; and, as Caffeine does against hash
 * flooding, a candidate that loses its duel but is itself warm (estimate >= ADMIT_WARM) is
 * still admitted with probability 1/128, so an attacker who inflates a victim's counters
 * cannot pin it forever.
 *
 * Adaptivity. Recency-heavy workloads want a large window, frequency-heavy ones a small
 * one. Caffeine moves the boundary with a hill climber [2] that compares the hit ratio of
 * successive samples of requests. We implemented that climber and measured it on the shared
 * traces (docs/hit-ratio.md): it needs tens of samples to settle, so on traces only ~10-100x
 * the cache size it lost up to 5.6 points of hit ratio to LRU. Here each miss is itself the
 * signal, as in ARC [3]: two ghost lists remember the fingerprints of recent *candidates*
 * that lost their duel and of recent *main victims*. A miss on a
 * candidate ghost means a larger window would have hit, so the window grows; a miss on a
 * victim ghost means a larger main space would have hit, so it shrinks. Each step is ARC's,
 * max(1, other ghost size / this ghost size) entries, in cost units of the average entry.
 * The ghosts hold GHOST_RATIO x capacity fingerprints each: short ghosts react only to
 * near misses, which keeps loops (reuse just beyond the cache) from dragging the window up.
 * Moving the boundary is lazy: the limits change at once and entries drift across as the
 * queues are next trimmed.
 *
 * Cost. With a weight-bounded cache the limits are in weight and each queue keeps its total
 * cost; an oversized candidate (heavier than the whole main space) is evicted at once, and a
 * heavy candidate that wins keeps dueling the next victim until it fits (one eviction per
 * duel), as Caffeine does.
 *
 * Hit cost: a reorder (one queue move) plus four counter increments.
 *
 * Speed (docs/perf-notes.md). A hit outside the window only notes its slot in a small buffer;
 * the sketch increments of buffered hits run in one batch, in hit order, before anything reads
 * or reshapes the sketch (a miss, an update, a removal, a duel, grow/resize) or when the
 * buffer fills. The sketch therefore goes through exactly the same sequence of increments
 * and halvings as if each hit had counted at once, so every decision is unchanged; but the
 * hit path loses two dependent memory reads (the key's hash, then its sketch block), and the
 * batch overlaps the reads of many hits instead of stalling on each.
 *
 * A slot whose key's four counters are all saturated (15) is marked in a bitmap (1 bit per
 * slot); a hit on a marked slot skips the sketch altogether, since its increment would
 * change nothing. Marks are set when an increment leaves the counters saturated, cleared when
 * the slot gets a new key, and all dropped when the sketch halves, grows or clears; skipping
 * is allowed only while the buffered increments cannot reach a halving. On skewed workloads
 * the hot keys stay saturated between halvings, so most hits never touch the sketch.
 */
import { Queues, NIL } from '../internal/queues.js';
import { FrequencySketch } from '../internal/sketch.js';
import { XorShift32 } from '../internal/sample.js';
import { GhostRing } from '../internal/ghost.js';
import { type Policy, type PolicyHost, NO_SLOT, broken } from './policy.js';

const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;

/** Initial share of the capacity given to the window (Caffeine: 1%). */
const INITIAL_WINDOW = 0.01;
/** Share of the main space kept for protected entries (Caffeine and [1]: 80%). */
const PROTECTED_RATIO = 0.8;
/** Sketch halving period, in multiples of the capacity (Caffeine and [1]: 10). */
const RESET_RATIO = 10;
/**
 * Fingerprints each ghost list remembers, as a share of the capacity in entries. Swept over
 * 0.1-1.0 on the shared traces: every value stays within 1 point of LRU, but long ghosts
 * chase loops (on cpp, mean loss to the best policy 0.5 points at 0.25, 1.6 at 0.5, 2.9 at
 * 1.0) and short ones react to fewer misses (0.1: worst loss to LRU 0.8 points); 0.25 sits
 * between.
 */
const GHOST_RATIO = 0.25;
/**
 * Smallest main space, as a share of the capacity (at least one entry). With no main space
 * there would be no duels and no victims, so no ghost could ever say "shrink the window":
 * a cache that went pure-LRU in a recency phase would stay LRU through a frequency phase.
 */
const MIN_MAIN = 0.01;
/** Smallest estimate for which a losing candidate may still win at random (Caffeine: 6). */
const ADMIT_WARM = 6;
/** Random admission of a warm loser happens when `rand & ADMIT_MASK === 0`: 1 in 128. */
const ADMIT_MASK = 127;
/**
 * Hits buffered before their sketch increments run (see the banner). 64 slots: large enough
 * to overlap the memory reads of many hits, small enough to stay in L1 (256 bytes).
 */
const PENDING_HITS = 64;
/** A saturated estimate: the sketch's 4-bit counter ceiling. */
const MAX_FREQUENCY = 15;

export class WTinyLfuPolicy implements Policy {
  readonly name = 'wtinylfu';
  readonly hitCost = 'reorder' as const;
  readonly needsHash = true;
  private readonly q: Queues;
  readonly sketch: FrequencySketch;
  private readonly rng: XorShift32;
  /** The host capacity the limits were derived from. */
  private capacity = 0;
  windowMax = 0;
  mainMax = 0;
  protectedMax = 0;
  /** Recent candidates that lost their duel (window too small if they come back). */
  private readonly candidateGhosts: GhostRing;
  /** Recent main victims (main space too small if they come back). */
  private readonly victimGhosts: GhostRing;
  /** Slots hit outside the window whose sketch increments have not run yet, oldest first. */
  private readonly pending = new Int32Array(PENDING_HITS);
  /** Scratch: the hashes of the buffered slots while they are counted. */
  private readonly pendingHashes = new Int32Array(PENDING_HITS);
  private pendingCount = 0;
  /** Bit per slot: its key's counters are all saturated (a hit may skip the sketch). */
  private saturated: Int32Array;
  /** The sketch's halving count when the marks were last valid. */
  private saturatedResets = 0;
  /**
   * True while PENDING_HITS more increments cannot trigger a halving, so that skipping the
   * (no-op) increment of a marked slot cannot move a halving relative to the other increments.
   */
  private canSkip = false;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.q = new Queues(3, slots);
    this.sketch = new FrequencySketch(slots, host.seed, RESET_RATIO * slots);
    this.rng = new XorShift32(host.seed);
    this.capacity = host.capacity;
    this.setWindow(this.initialWindow(host.capacity));
    this.candidateGhosts = new GhostRing(1);
    this.victimGhosts = new GhostRing(1);
    this.saturated = new Int32Array((slots + 31) >>> 5);
    this.sizeSketch(slots);
  }

  // ---- sizing -------------------------------------------------------------------------

  /** Caffeine's split: window = capacity - floor(99% of capacity), i.e. at least 1 unit. */
  private initialWindow(cap: number): number {
    return cap - Math.floor(cap * (1 - INITIAL_WINDOW));
  }

  /** Set the window limit (clamped to [0, capacity]) and derive the main-space limits. */
  private setWindow(w: number): void {
    const cap = this.capacity;
    this.windowMax = Math.min(Math.max(w, 0), cap);
    this.mainMax = cap - this.windowMax;
    this.protectedMax = Math.floor(this.mainMax * PROTECTED_RATIO);
  }

  private sizeSketch(slots: number): void {
    // Expected entries: the slot count (it tracks the entry count as the cache fills, and
    // equals maxEntries once full); the capacity when it is smaller (entry-bounded caches).
    const entries = Math.max(1, Math.min(slots, this.capacity));
    this.sketch.ensureCapacity(entries);
    this.sketch.resetPeriod = Math.max(RESET_RATIO * entries, 16);
    if (this.sketch.additions >= this.sketch.resetPeriod) this.sketch.halve();
    const ghosts = Math.max(1, Math.ceil(GHOST_RATIO * entries));
    this.candidateGhosts.resize(ghosts);
    this.victimGhosts.resize(ghosts);
    this.dropSaturation();
  }

  grow(slots: number): void {
    this.countHits();
    this.q.grow(slots);
    this.saturated = new Int32Array((slots + 31) >>> 5);
    this.sizeSketch(slots);
  }

  resize(): void {
    this.countHits();
    const old = this.capacity;
    const cap = this.host.capacity;
    this.capacity = cap;
    const share = old > 0 ? this.windowMax / old : INITIAL_WINDOW;
    const w = Math.max(this.initialWindow(cap), Number.isInteger(cap) ? Math.round(share * cap) : share * cap);
    this.setWindow(w);
    this.sizeSketch(this.q.older.length);
    this.demote();
  }

  // ---- adaptation ---------------------------------------------------------------------

  /** Move the window boundary by `entries` average entries (negative: shrink the window). */
  private adapt(entries: number): void {
    const q = this.q;
    const n = q.length[WINDOW]! + q.length[PROBATION]! + q.length[PROTECTED]!;
    const unit = n > 0 ? (q.cost[WINDOW]! + q.cost[PROBATION]! + q.cost[PROTECTED]!) / n : 1;
    // The window keeps room for one entry (the newcomer), the main space for MIN_MAIN.
    const floor = Math.min(unit, this.capacity);
    const ceiling = this.capacity - Math.max(unit, MIN_MAIN * this.capacity);
    this.setWindow(Math.max(floor, Math.min(ceiling, this.windowMax + entries * unit)));
    this.demote();
  }

  // ---- protocol -----------------------------------------------------------------------

  /**
   * Run the sketch increments of the buffered hits, in hit order. Every slot in the buffer is
   * still live with the key it was hit with: a slot changes key only by an insertion, which
   * starts with recordMiss, and a removal (onRemove) counts the buffer first.
   */
countHits(): void {
    const n = this.pendingCount;
    if (n === 0) return;
    const slots = this.pending;
    const hashes = this.pendingHashes;
    const host = this.host;
    // Two passes: all the hash reads, then all the increments, so that the memory reads of
    // one pass do not wait on each other.
    for (let i = 0; i < n; i++) hashes[i] = host.hashOf(slots[i]!);
    const sketch = this.sketch;
    const sat = this.saturated;
    for (let i = 0; i < n; i++) {
      if (sketch.increment(hashes[i]!)) {
        const s = slots[i]!;
        sat[s >>> 5] = sat[s >>> 5]! | (1 << (s & 31));
      } else if (sketch.resets !== this.saturatedResets) {
        sat.fill(0); // this increment halved the sketch
        this.saturatedResets = sketch.resets;
      }
    }
    this.pendingCount = 0;
    this.afterIncrements();
  }

  /** After increments outside countHits: drop the marks if the sketch halved; re-derive canSkip. */
  private afterIncrements(): void {
    const sketch = this.sketch;
    if (sketch.resets !== this.saturatedResets) {
      this.saturated.fill(0);
      this.saturatedResets = sketch.resets;
    }
    this.canSkip = sketch.additions + PENDING_HITS < sketch.resetPeriod;
  }

  /** The sketch was reshaped (grown, re-periodised, maybe halved): forget every mark. */
  private dropSaturation(): void {
    this.saturated.fill(0);
    this.saturatedResets = this.sketch.resets;
    this.canSkip = this.sketch.additions + PENDING_HITS < this.sketch.resetPeriod;
  }


  recordMiss(hash: number): void {
    if (this.pendingCount !== 0) this.countHits();
    this.sketch.increment(hash);
    this.afterIncrements();
    const cg = this.candidateGhosts;
    const vg = this.victimGhosts;
    if (cg.take(hash)) this.adapt(Math.max(1, vg.size / Math.max(1, cg.size)));
    else if (vg.take(hash)) this.adapt(-Math.max(1, cg.size / Math.max(1, vg.size)));
  }

  evictFor(_hash: number, cost: number): number {
    return this.makeRoom(cost);
  }

  evict(): number {
    return this.makeRoom(0);
  }

  /**
   * One eviction to make room for a newcomer of `cost` that will enter the window: push
   * window overflow into the main space while it has room, then let the window's LRU
   * candidate duel the main victim; if the window has room, evict from the main space.
   */
  private makeRoom(cost: number): number {
    const q = this.q;
    const host = this.host;
    for (;;) {
      const cand = q.tail[WINDOW]!;
      if (cand !== NIL && q.cost[WINDOW]! + cost > this.windowMax) {
        const cc = host.costOf(cand);
        if (cc > this.mainMax) {
          q.unlink(WINDOW, cand, cc);
          return cand;
        }
        if (q.cost[PROBATION]! + q.cost[PROTECTED]! + cc <= this.mainMax) {
          q.unlink(WINDOW, cand, cc);
          q.pushHead(PROBATION, cand, cc);
          continue;
        }
        const victim = this.mainVictim();
        if (victim === NIL || this.admit(cand, victim)) {
          if (victim === NIL) {
            q.unlink(WINDOW, cand, cc);
            return cand;
          }
          q.unlink(q.owner[victim]!, victim, host.costOf(victim));
          this.victimGhosts.add(host.hashOf(victim));
          return victim;
        }
        q.unlink(WINDOW, cand, cc);
        this.candidateGhosts.add(host.hashOf(cand));
        return cand;
      }
      const victim = this.mainVictim();
      if (victim !== NIL) {
        q.unlink(q.owner[victim]!, victim, host.costOf(victim));
        this.victimGhosts.add(host.hashOf(victim));
        return victim;
      }
      if (cand === NIL) return NO_SLOT;
      q.unlink(WINDOW, cand, host.costOf(cand));
      return cand;
    }
  }

  /** The main space's LRU entry: probation's tail, else protected's. */
  private mainVictim(): number {
    const p = this.q.tail[PROBATION]!;
    return p !== NIL ? p : this.q.tail[PROTECTED]!;
  }

  /** TinyLFU admission [1]: does the candidate deserve the victim's place? */
  private admit(cand: number, victim: number): boolean {
    if (this.pendingCount !== 0) this.countHits();
    const cf = this.sketch.frequency(this.host.hashOf(cand));
    const vf = this.sketch.frequency(this.host.hashOf(victim));
    if (cf > vf) return true;
    return cf >= ADMIT_WARM && (this.rng.next() & ADMIT_MASK) === 0;
  }

  onInsert(slot: number): void {
    const q = this.q;
    const host = this.host;
    this.saturated[slot >>> 5] = this.saturated[slot >>> 5]! & ~(1 << (slot & 31)); // a new key
    q.pushHead(WINDOW, slot, host.costOf(slot));
    // While the cache fills, window overflow flows into probation without a duel.
    while (q.cost[WINDOW]! > this.windowMax && q.length[WINDOW]! > 1) {
      const t = q.tail[WINDOW]!;
      const c = host.costOf(t);
      q.unlink(WINDOW, t, c);
      q.pushHead(PROBATION, t, c);
    }
  }

  onAccess(slot: number): void {
    const q = this.q;
    const o = q.owner[slot]!;
    // Hits inside the window are not counted: they are mostly one burst of correlated
    // references, which says little about long-term popularity (measured: it helps on
    // block traces and costs nothing elsewhere; libCacheSim counts only main hits too).
    if (o === WINDOW) {
      q.moveToHead(WINDOW, slot);
      return;
    }
    if (!this.canSkip || (this.saturated[slot >>> 5]! & (1 << (slot & 31))) === 0) {
      const n = this.pendingCount;
      this.pending[n] = slot;
      this.pendingCount = n + 1;
      if (n + 1 === PENDING_HITS) this.countHits();
    }
    if (o === PROBATION) this.promote(slot);
    else q.moveToHead(PROTECTED, slot);
  }

  /** A probation hit moves to protected; protected overflow goes back to probation. */
  private promote(slot: number): void {
    const q = this.q;
    const c = this.host.costOf(slot);
    q.unlink(PROBATION, slot, c);
    q.pushHead(PROTECTED, slot, c);
    if (q.cost[PROTECTED]! > this.protectedMax) this.demote();
  }

  /** Reorder after a hit or an update. */
  private touch(slot: number): void {
    const q = this.q;
    const o = q.owner[slot]!;
    if (o === PROBATION) this.promote(slot);
    else q.moveToHead(o, slot);
  }

  /** Move protected overflow to the head of probation. */
  private demote(): void {
    const q = this.q;
    while (q.cost[PROTECTED]! > this.protectedMax && q.length[PROTECTED]! > 0) {
      const t = q.tail[PROTECTED]!;
      const c = this.host.costOf(t);
      q.unlink(PROTECTED, t, c);
      q.pushHead(PROBATION, t, c);
    }
  }

  onUpdate(slot: number, oldCost: number): void {
    if (this.pendingCount !== 0) this.countHits();
    this.q.cost[this.q.owner[slot]!]! += this.host.costOf(slot) - oldCost;
    this.sketch.increment(this.host.hashOf(slot));
    this.afterIncrements();
    this.touch(slot);
    this.demote();
  }

  onRemove(slot: number): void {
    if (this.pendingCount !== 0) this.countHits();
    this.q.unlink(this.q.owner[slot]!, slot, this.host.costOf(slot));
  }

  clear(): void {
    this.pendingCount = 0; // the sketch is cleared: buffered increments would be wiped anyway
    this.q.clear();
    this.sketch.clear();
    this.dropSaturation();
    this.candidateGhosts.clear();
    this.victimGhosts.clear();
  }

  validate(live: (slot: number) => boolean, size: number): void {
    const costOf = (s: number) => this.host.costOf(s);
    const w = this.q.check(WINDOW, 'wtinylfu window', costOf);
    const p = this.q.check(PROBATION, 'wtinylfu probation', costOf);
    const r = this.q.check(PROTECTED, 'wtinylfu protected', costOf);
    if (w.length + p.length + r.length !== size) {
      broken(this.name, `queues hold ${w.length}+${p.length}+${r.length} slots, cache ${size}`);
    }
    for (const s of [...w, ...p, ...r]) if (!live(s)) broken(this.name, `slot ${s} queued but not live`);
    if (this.capacity !== this.host.capacity) broken(this.name, `capacity ${this.capacity} != host ${this.host.capacity}`);
    if (this.windowMax < 0 || this.windowMax > this.capacity) broken(this.name, `window limit ${this.windowMax} outside 0..${this.capacity}`);
    if (Math.abs(this.windowMax + this.mainMax - this.capacity) > 1e-9 * Math.max(1, this.capacity)) {
      broken(this.name, `window ${this.windowMax} + main ${this.mainMax} != capacity ${this.capacity}`);
    }
    if (this.protectedMax < 0 || this.protectedMax > this.mainMax) broken(this.name, `protected limit ${this.protectedMax} outside 0..${this.mainMax}`);
    if (this.q.cost[PROTECTED]! > this.protectedMax + 1e-9 * Math.max(1, this.protectedMax)) {
      broken(this.name, `protected holds ${this.q.cost[PROTECTED]} > limit ${this.protectedMax}`);
    }
    if (this.pendingCount < 0 || this.pendingCount >= PENDING_HITS) broken(this.name, `${this.pendingCount} buffered hits`);
    for (let i = 0; i < this.pendingCount; i++) {
      const s = this.pending[i]!;
      if (!live(s) || this.q.owner[s] === WINDOW) broken(this.name, `buffered hit on slot ${s}, which is not live outside the window`);
    }
    for (const s of [...w, ...p, ...r]) {
      if ((this.saturated[s >>> 5]! & (1 << (s & 31))) !== 0 && this.sketch.frequency(this.host.hashOf(s)) !== MAX_FREQUENCY) {
        broken(this.name, `slot ${s} marked saturated but its estimate is ${this.sketch.frequency(this.host.hashOf(s))}`);
      }
    }
    if (this.canSkip && this.sketch.additions + PENDING_HITS >= this.sketch.resetPeriod) broken(this.name, 'skipping saturated hits this close to a halving');
    this.sketch.validate(this.name);
    this.candidateGhosts.check(`${this.name} candidate ghosts`);
    this.victimGhosts.check(`${this.name} victim ghosts`);
  }
}
