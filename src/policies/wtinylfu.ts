/**
 * W-TinyLFU with an adaptive window, as in Caffeine.
 *
 * Papers: [1] Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM ToS 2017 (W-TinyLFU is section 5); [2] Einziger, Eytan, Friedman and Manes,
 * "Adaptive Software Cache Management", Middleware 2018 (the hill climber); [3] Megiddo and
 * Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST'03 (ghost-driven sizing).
 *
 * Layout. Three queues over slots: a small admission *window*, and a segmented main
 * space split into *probation* and *protected*. A new entry always enters the window (so a
 * burst of new keys is served by recency). When the window overflows, its LRU entry becomes
 * the *candidate* for the main space; when the main space is full too, the candidate duels
 * the main space's *victim* (the LRU entry of probation): the one the frequency sketch has
 * seen more often recently stays, the other leaves [1]. A hit in probation promotes to
 * protected (lazily, below); protected overflow is demoted back to the head of probation.
 *
 * Lazy moves (our choice; Caffeine keeps both segments LRU and moves on every hit). A hit in
 * the main space only sets a reference bit in the slot's metadata byte. A marked probation
 * entry is promoted when it reaches probation's tail and would have been the victim (the
 * promotion LRU makes at the hit, made late; it is never evicted unless promoted and demoted
 * again). Protected is a clock: when it overflows, a marked tail loses its mark and goes back
 * to the head (a second chance) until an unmarked one is demoted. Each move consumes a mark
 * that a hit set, so there are at most as many moves as with LRU segments and, when entries
 * are hit repeatedly between passes, far fewer; a main-space hit is one byte store. On the
 * shared traces the hit ratio is unchanged within noise (+9.06 points over LRU on average
 * against +8.97 with LRU segments, worst -0.61 against -0.57, mean distance to libCacheSim's
 * best -0.23 against -0.32: docs/hit-ratio.md).
 *
 * Frequency. A count-min sketch of 4-bit counters, halved every HALVING_RATIO x capacity
 * additions (see internal/sketch.ts). Every miss and every hit outside the window counts
 * once towards a key's frequency (see onAccess); every request counts towards the period. The sketch is seeded per cache; and, as Caffeine does against hash
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
 * that lost their duel and of recent *main victims* (one table, internal/ghost-table.ts:
 * both lists' records of a key sit in one 16-byte cell, so a miss probes one line; a key is
 * in at most one of them). A miss on a
 * candidate ghost means a larger window would have hit, so the window grows; a miss on a
 * victim ghost means a larger main space would have hit, so it shrinks. Each step is ARC's,
 * max(1, other ghost size / this ghost size) entries, in cost units of the average entry.
 * The ghosts hold about GHOST_RATIO x capacity records each (the newest two per cell, so
 * roughly the most recent ones, not exactly): short ghosts react only to near misses, which keeps loops (reuse just beyond the cache) from dragging the window up.
 * Moving the boundary is lazy: the limits change at once and entries drift across as the
 * queues are next trimmed.
 *
 * Cost. With a weight-bounded cache the limits are in weight and each queue keeps its total
 * cost; an oversized candidate (heavier than the whole main space) is evicted at once, and a
 * heavy candidate that wins keeps dueling the next victim until it fits (one eviction per
 * duel), as Caffeine does.
 *
 * Hit cost: one metadata byte (hit count and reference bit) in the main space; a queue move
 * in the window (1% of the capacity, so hits there are few).
 *
 * Speed (docs/perf-notes.md). A hit outside the window does not touch the sketch: it adds one
 * to its slot's own 4-bit hit count (a byte per slot), and that is all it writes. Hits join
 * the sketch's halving period in bulk before the next miss, from the hit count the cache keeps
 * anyway (PolicyHost.hits): a counter of the policy's own was a second increment per hit and
 * cost 20-50% of hit throughput (measured, perf-notes). A slot's hit count joins the sketch when its key leaves the cache
 * (evicted, lost a duel, deleted or expired), so that a returning key is remembered; while
 * the key is resident its estimate is the sketch's plus its hit count (at most 15). Aging
 * halves both. The sketch, a megabyte at 100,000 entries, is thus read and written on misses
 * and duels only, and with the lazy moves above a hit costs less than an LRU hit. Hits of
 * resident keys are invisible to the keys that share their counters until they leave, which
 * if anything makes the count-min estimates of newcomers more accurate. The sketch and the
 * counts, their sizing, aging and release, are the frequency component shared with TinyLFU
 * (internal/frequency.ts), here with no doorkeeper and the count in the metadata byte's high
 * nibble; the hit itself is inlined in onAccess, where the same store sets the reference mark.
 */
import { Queues, type Lane, NIL } from '../internal/queues.js';
import type { FrequencySketch } from '../internal/sketch.js';
import { Frequency, MAX_HITS } from '../internal/frequency.js';
import { XorShift32 } from '../internal/sample.js';
import { GhostTable } from '../internal/ghost-table.js';
import { type Policy, type PolicyHost, NO_SLOT, broken } from './policy.js';

const WINDOW = 0;
const PROBATION = 1;
const PROTECTED = 2;
/** The two ghost lists. */
const CANDIDATES = 0;
const VICTIMS = 1;

/** Initial share of the capacity given to the window (Caffeine: 1%). */
const INITIAL_WINDOW = 0.01;
/** Share of the main space kept for protected entries (Caffeine and [1]: 80%). */
const PROTECTED_RATIO = 0.8;
/**
 * Records each ghost list remembers, as a share of the capacity in entries. Swept over
 * 0.1-1.0 on the shared traces with exact FIFO ghosts: every value stays within 1 point of
 * LRU, but long ghosts chase loops (on cpp, mean loss to the best policy 0.5 points at 0.25,
 * 1.6 at 0.5, 2.9 at 1.0) and short ones react to fewer misses (0.1: worst loss to LRU 0.8
 * points); 0.25 sat between. With the 2-way table (which keeps roughly, not exactly, the
 * newest records) `npm run hit-ratio -- --policies wtinylfu` gave, mean points over LRU /
 * against the best online / worst against LRU: 0.2: +9.16 / -0.12 / -0.70; 0.25: +9.10 /
 * -0.19 / -0.70; 0.3: +9.02 / -0.26 / -0.63 (exact FIFO at 0.25: +9.12 / -0.16 / -0.66).
 */
const GHOST_RATIO = 0.2;
/**
 * Smallest main space, as a share of the capacity (at least one entry). With no main space
 * there would be no duels and no victims, so no ghost could ever say "shrink the window":
 * a cache that went pure-LRU in a recency phase would stay LRU through a frequency phase.
 */
const MIN_MAIN = 0.01;
/**
 * Sketch halving period, in multiples of the expected entries. Caffeine and [1] use 10 with
 * hits of saturated keys left out of the count; here every hit counts (the host's hit count,
 * see countHits), saturated and window hits too, so the same period would age faster. Swept
 * on the shared traces (`npm run hit-ratio -- --policies wtinylfu`, mean points over LRU /
 * against libCacheSim's best online): 10: +8.93 / -0.35, 12: +9.08 / -0.21, 15: +9.12 /
 * -0.16, 20: +9.16 / -0.12; per-hit counting with 10 gave +9.06 / -0.23. 15 recovers that and
 * stays near the period the papers use: longer periods adapt more slowly to a change of
 * popularity, which these short traces hardly show.
 */
const HALVING_RATIO = 15;
/** Smallest estimate for which a losing candidate may still win at random (Caffeine: 6). */
const ADMIT_WARM = 6;
/** Random admission of a warm loser happens when `rand & ADMIT_MASK === 0`: 1 in 128. */
const ADMIT_MASK = 127;

/**
 * Per-slot metadata byte: the queue in bits 0-1 (so Queues keeps no owner byte), the
 * reference mark in bit 2, the hit count (0..15, see the banner) in bits 4-7. One byte, so a
 * main-space hit reads and writes one line.
 */
const QUEUE_BITS = 3;
/**
 * Bit 2, the reference mark: a main-space entry was hit since it last moved (see the banner,
 * "Lazy moves"). Never set in the window.
 */
const REFERENCED = 4;
/** The bits below the hit count: queue and reference bit. */
const LOW_BITS = 0x0f;
/** The hit count's position in the byte (the frequency component's `shift`). */
const HIT_SHIFT = 4;
const ONE_HIT = 1 << HIT_SHIFT;

export class WTinyLfuPolicy implements Policy {
  readonly name = 'wtinylfu';
  readonly hitCost = 'reorder' as const;
  readonly needsHash = true;
  private readonly q: Queues;
  /** The three queues (lanes of `q`): the admission window and the main space's two segments. */
  private readonly window: Lane;
  private readonly probation: Lane;
  private readonly protect: Lane;
  /** Sketch and per-slot hit counts (internal/frequency.ts); the counts share `meta`. */
  private readonly freq: Frequency;
  readonly sketch: FrequencySketch;
  private readonly rng: XorShift32;
  /** The host capacity the limits were derived from. */
  private capacity = 0;
  windowMax = 0;
  mainMax = 0;
  protectedMax = 0;
  /**
   * Two ghost lists in one table: recent candidates that lost their duel (CANDIDATES: the
   * window was too small if they come back) and recent main victims (VICTIMS: the main space
   * was too small).
   */
  private readonly ghosts: GhostTable;
  /**
   * Per slot: its queue and its hits not yet added to the sketch (QUEUE_BITS, HIT_SHIFT): the
   * frequency component's `counts`, whose bits below HIT_SHIFT are this policy's.
   */
  private meta: Uint8Array;
  /** The host's hit count when the sketch last took its hits (countHits). */
  private seenHits = 0;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.q = new Queues(host, 'wtinylfu', 3, slots); // the queue of a slot lives in `meta`
    this.window = this.q.lanes[WINDOW]!;
    this.probation = this.q.lanes[PROBATION]!;
    this.protect = this.q.lanes[PROTECTED]!;
    this.freq = new Frequency(host, {
      name: 'wtinylfu.meta',
      slots,
      tableEntries: slots,
      resetPeriod: HALVING_RATIO * slots,
      resetRatio: HALVING_RATIO,
      seed: host.seed,
      shift: HIT_SHIFT,
    });
    this.sketch = this.freq.sketch;
    this.rng = new XorShift32(host.seed);
    this.capacity = host.capacity;
    this.setWindow(this.initialWindow(host.capacity));
    this.ghosts = new GhostTable(1);
    this.meta = this.freq.counts;
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

  /** Size the sketch (see Frequency.size) and the ghosts for `slots` slots. */
  private sizeSketch(slots: number): void {
    this.freq.size(slots, this.capacity);
    // The ghosts follow the same expected entries as the sketch.
    const entries = Math.max(1, Math.min(slots, this.capacity));
    const ghosts = Math.max(1, Math.ceil(GHOST_RATIO * entries));
    this.ghosts.resize(ghosts);
  }

  grow(slots: number): void {
    this.q.grow(slots);
    this.freq.grow(slots);
    this.meta = this.freq.counts;
    this.sizeSketch(slots);
  }

  resize(): void {
    const old = this.capacity;
    const cap = this.host.capacity;
    this.capacity = cap;
    const share = old > 0 ? this.windowMax / old : INITIAL_WINDOW;
    const w = Math.max(this.initialWindow(cap), Number.isInteger(cap) ? Math.round(share * cap) : share * cap);
    this.setWindow(w);
    this.sizeSketch(this.q.slots);
    this.demote();
  }

  // ---- adaptation ---------------------------------------------------------------------

  /** Move the window boundary by `entries` average entries (negative: shrink the window). */
  private adapt(entries: number): void {
    const q = this.q;
    const n = this.window.length + this.probation.length + this.protect.length;
    const unit = n > 0 ? (this.window.cost + this.probation.cost + this.protect.cost) / n : 1;
    // The window keeps room for one entry (the newcomer), the main space for MIN_MAIN.
    const floor = Math.min(unit, this.capacity);
    const ceiling = this.capacity - Math.max(unit, MIN_MAIN * this.capacity);
    this.setWindow(Math.max(floor, Math.min(ceiling, this.windowMax + entries * unit)));
    this.demote();
  }

  // ---- protocol -----------------------------------------------------------------------

  // ---- frequency ----------------------------------------------------------------------

  /**
   * The key in `slot` leaves the main space: its hit count joins the sketch. (Window slots
   * never have a count, since window hits are not counted, so a window candidate that leaves
   * needs no release.)
   */
  private release(slot: number): void {
    this.freq.release(slot, this.host);
  }

  /**
   * The hits served since the policy last looked join the sketch's halving period (see the
   * banner, "Speed"): every hit, in any queue, saturated or not, is one addition. A run of
   * hits longer than the period ages the sketch once. Called before each miss and update is
   * recorded, so the sketch ages before it is next read or written.
   */
  private countHits(): void {
    const hits = this.host.hits;
    const n = hits - this.seenHits;
    if (n === 0) return;
    this.seenHits = hits;
    const sketch = this.sketch;
    const a = sketch.additions + n;
    if (a < sketch.resetPeriod) sketch.additions = a;
    else {
      sketch.additions = sketch.resetPeriod;
      this.freq.age();
    }
  }

  recordMiss(hash: number): void {
    this.countHits();
    this.freq.record(hash);
    const g = this.ghosts;
    const list = g.take(hash);
    if (list < 0) return;
    const c = g.sizeOf(CANDIDATES);
    const v = g.sizeOf(VICTIMS);
    if (list === CANDIDATES) this.adapt(Math.max(1, v / Math.max(1, c)));
    else this.adapt(-Math.max(1, c / Math.max(1, v)));
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
    const win = this.window;
    for (;;) {
      const cand = win.tail;
      if (cand !== NIL && win.cost + cost > this.windowMax) {
        const cc = host.costOf(cand);
        if (cc > this.mainMax) {
          q.unlink(win, cand, cc);
          return cand;
        }
        if (this.probation.cost + this.protect.cost + cc <= this.mainMax) {
          q.unlink(win, cand, cc);
          this.enter(PROBATION, cand, cc);
          continue;
        }
        const victim = this.mainVictim();
        if (victim === NIL) {
          q.unlink(win, cand, cc);
          return cand;
        }
        const ch = host.hashOf(cand);
        if (this.admit(cand, ch, victim)) return this.evictMain(victim);
        q.unlink(win, cand, cc);
        this.ghosts.add(ch, CANDIDATES);
        return cand;
      }
      const victim = this.mainVictim();
      if (victim !== NIL) return this.evictMain(victim);
      if (cand === NIL) return NO_SLOT;
      q.unlink(win, cand, host.costOf(cand));
      return cand;
    }
  }

  /** Push `s` at the head of queue `to`, record the queue in its metadata, clear its reference bit. */
  private enter(to: number, s: number, cost: number): void {
    this.q.pushHead(this.q.lanes[to]!, s, cost);
    this.meta[s] = (this.meta[s]! & ~LOW_BITS) | to;
  }

  /** Evict `victim` from the main space: unlink it, count its hits, remember it as a ghost. */
  private evictMain(victim: number): number {
    const host = this.host;
    this.q.unlink(this.q.lanes[this.meta[victim]! & QUEUE_BITS]!, victim, host.costOf(victim));
    this.release(victim);
    this.ghosts.add(host.hashOf(victim), VICTIMS);
    return victim;
  }

  /**
   * The main space's victim: probation's tail, else protected's. A probation tail hit since it
   * entered probation is promoted instead (the promotion an LRU segment makes on the hit,
   * made late), and the next tail is looked at.
   */
  private mainVictim(): number {
    const q = this.q;
    for (;;) {
      const p = this.probation.tail;
      if (p === NIL) return this.protect.tail;
      if ((this.meta[p]! & REFERENCED) === 0) return p;
      this.promote(p);
    }
  }

  /**
   * TinyLFU admission [1]: does the candidate (in `cand`, its key's hash `ch`) deserve the
   * victim's place? The victim's estimate goes through the sketch's remembered one: a victim
   * usually keeps its place for a run of duels (newcomers that lose), and its estimate is then
   * computed once per run instead of once per duel (exact: the sketch forgets it as soon as
   * a write reaches the victim's counters).
   */
  private admit(cand: number, ch: number, victim: number): boolean {
    const freq = this.freq;
    const cf = freq.residentEstimate(cand, ch);
    const vf = freq.heldEstimate(victim, this.host.hashOf(victim));
    if (cf > vf) return true;
    return cf >= ADMIT_WARM && (this.rng.next() & ADMIT_MASK) === 0;
  }

  onInsert(slot: number): void {
    const q = this.q;
    const host = this.host;
    this.meta[slot] = WINDOW; // a new key: no hits
    const win = this.window;
    q.pushHead(win, slot, host.costOf(slot));
    // While the cache fills, window overflow flows into probation without a duel.
    while (win.cost > this.windowMax && win.length > 1) {
      const t = win.tail;
      const c = host.costOf(t);
      q.unlink(win, t, c);
      this.enter(PROBATION, t, c);
    }
  }

  onAccess(slot: number): void {
    const q = this.q;
    const m = this.meta[slot]!;
    const o = m & QUEUE_BITS;
    // Hits inside the window are not counted: they are mostly one burst of correlated
    // references, which says little about long-term popularity (measured: it helps on
    // block traces and costs nothing elsewhere; libCacheSim counts only main hits too).
    if (o === WINDOW) {
      q.moveToHead(this.window, slot);
      return;
    }
    // A main-space hit only marks the slot: a marked probation slot is promoted when it
    // reaches probation's tail (mainVictim), a marked protected one gets a second chance
    // from the clock of demote(); either move clears the mark (enter).
    // (Frequency.hit, inlined: the same store sets the reference mark.)
    // The hit joins the sketch's halving period later, from the host's hit count (countHits).
    this.meta[slot] = m < MAX_HITS << HIT_SHIFT ? (m + ONE_HIT) | REFERENCED : m | REFERENCED;
  }

  /** Move a marked probation slot to protected; protected overflow goes back to probation. */
  private promote(slot: number): void {
    const q = this.q;
    const c = this.host.costOf(slot);
    q.unlink(this.probation, slot, c);
    this.enter(PROTECTED, slot, c);
    if (this.protect.cost > this.protectedMax) this.demote();
  }

  /** Reorder after an update, as after a hit. */
  private touch(slot: number): void {
    const m = this.meta[slot]!;
    const o = m & QUEUE_BITS;
    if (o !== WINDOW) this.meta[slot] = m | REFERENCED;
    else this.q.moveToHead(this.window, slot);
  }

  /**
   * Move protected overflow to the head of probation. Protected is a clock: its tail, if hit
   * since the hand last passed it, loses its mark and goes back to the head instead (second
   * chance); the first unmarked tail is demoted. Each step either demotes or clears a mark
   * that one hit set, so the clock moves at most once per protected hit, where an LRU
   * protected segment moves on every one.
   */
  private demote(): void {
    const q = this.q;
    const meta = this.meta;
    const prot = this.protect;
    while (prot.cost > this.protectedMax && prot.length > 0) {
      const t = prot.tail;
      const m = meta[t]!;
      if ((m & REFERENCED) !== 0) {
        meta[t] = m & ~REFERENCED;
        q.moveToHead(prot, t);
        continue;
      }
      const c = this.host.costOf(t);
      q.unlink(prot, t, c);
      this.enter(PROBATION, t, c);
    }
  }

  onUpdate(slot: number, oldCost: number): void {
    this.q.lanes[this.meta[slot]! & QUEUE_BITS]!.cost += this.host.costOf(slot) - oldCost;
    this.countHits();
    this.freq.record(this.host.hashOf(slot));
    this.touch(slot);
    this.demote();
  }

  onRemove(slot: number): void {
    this.q.unlink(this.q.lanes[this.meta[slot]! & QUEUE_BITS]!, slot, this.host.costOf(slot));
    this.release(slot);
  }

  clear(): void {
    this.q.clear();
    this.freq.clear(); // zeroes `meta` too
    this.ghosts.clear();
  }

  validate(live: (slot: number) => boolean, size: number): void {
    const costOf = (s: number) => this.host.costOf(s);
    const w = this.q.check(this.window, 'wtinylfu window', costOf);
    const p = this.q.check(this.probation, 'wtinylfu probation', costOf);
    const r = this.q.check(this.protect, 'wtinylfu protected', costOf);
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
    if (this.protect.cost > this.protectedMax + 1e-9 * Math.max(1, this.protectedMax)) {
      broken(this.name, `protected holds ${this.protect.cost} > limit ${this.protectedMax}`);
    }
    for (const s of [...w, ...p, ...r]) {
      const n = this.meta[s]! >>> HIT_SHIFT;
      if ((this.meta[s]! & ~LOW_BITS & ~0xf0) !== 0 || (this.meta[s]! & 8) !== 0) broken(this.name, `slot ${s} metadata ${this.meta[s]} has stray bits`);
      if ((this.meta[s]! & REFERENCED) !== 0 && (this.meta[s]! & QUEUE_BITS) === WINDOW) broken(this.name, `window slot ${s} has its reference bit set`);
      if (n !== 0 && (this.meta[s]! & QUEUE_BITS) === WINDOW) broken(this.name, `window slot ${s} has hit count ${n} (window hits are not counted)`);
    }
    for (const [queue, slots] of [[WINDOW, w], [PROBATION, p], [PROTECTED, r]] as const) {
      for (const s of slots) if ((this.meta[s]! & QUEUE_BITS) !== queue) broken(this.name, `slot ${s} in queue ${queue} but its metadata says ${this.meta[s]! & QUEUE_BITS}`);
    }
    this.freq.validate(this.name);
    this.ghosts.check(`${this.name} ghosts`);
  }
}
