/**
 * S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP'23).
 *
 * Three FIFO queues: a small queue S (10% of capacity) that new entries enter, a main queue
 * M (the other 90%), and a ghost queue G that remembers only the fingerprints of entries
 * recently evicted from S. Each entry carries a 2-bit access counter; a hit only bumps it
 * (a "bit" hit, no reordering).
 *
 *  - insert: into M if the key's fingerprint is in G (it proved itself once), else into S.
 *  - evict:  from M when M is over its share (or S is empty), else from S.
 *  - S tail: counter >= 2 (hit twice while in S): move to M; otherwise evict and remember
 *            the fingerprint in G. Most one-hit wonders leave after one short stay in S.
 *  - M tail: counter > 0: reinsert at M's head with the counter decremented (2-bit CLOCK);
 *            otherwise evict.
 *
 * The parameters follow libCacheSim's S3FIFO (small share 0.10 rounded down, ghost 0.90 of
 * the capacity, move-to-main threshold 2), so that our miss ratios can be checked against
 * its published ones. Where we differ, for users rather than for the simulator:
 *  - in a cache bounded by entries, S holds at least one entry even when 10% rounds to zero;
 *  - a newcomer heavier than all of S goes straight to M instead of being refused
 *    (libCacheSim drops it; a user who calls set() expects the value to be kept).
 * The ghost (internal/ghost.ts) keeps 24-bit key fingerprints in a table of 64-byte buckets,
 * aged in 64ths of its capacity: it remembers the last 90% of the capacity evicted from S to
 * within 1/128 of the capacity (exactly, up to 64 records), where libCacheSim's FIFO
 * remembers exactly that. It costs at most one table line per operation (most misses are
 * answered from a per-bucket summary without reading the table) and 8.6 to 17 bytes per
 * record; a false ghost hit only promotes a newcomer straight to M, which is harmless.
 *
 * The ghost needs the evicted key's fingerprint (the low 24 bits of its hash). The cache does
 * not keep hashes for S3-FIFO (`hashOnDemand`), and recomputing one from the key cost a string
 * hash per eviction from S (13% of a string-keyed write at 1,000 entries). So the per-slot
 * metadata word keeps the fingerprint beside the counter: it is written on insert anyway, and
 * read on eviction anyway, so keeping it touches no extra memory line (a separate hash array,
 * as the store keeps for other policies, cost number-keyed writes up to a quarter: one more
 * random line on every insert and eviction). 3 bytes per slot more than a metadata byte.
 */
import { Queues, NIL } from '../internal/queues.js';
import { Ghost } from '../internal/ghost.js';
import { type Policy, type PolicyHost, NO_SLOT, broken } from './policy.js';

const SMALL = 0;
const MAIN = 1;
/** Share of the capacity given to the small queue (paper and libCacheSim: 10%). */
const SMALL_RATIO = 0.1;
/** Ghost capacity as a share of the cache capacity (libCacheSim default: 90%). */
const GHOST_RATIO = 0.9;
/** Hits needed in S to be moved to M on leaving S (libCacheSim default: 2). */
const MOVE_TO_MAIN_THRESHOLD = 2;
/** Counter ceiling: 2 bits. */
const MAX_FREQ = 3;
/**
 * Per-slot metadata word: the 2-bit counter in bits 0-1, IN_MAIN when the slot is in M, and
 * the key's fingerprint (its hash's low 24 bits, what the ghost keeps) in bits 8-31.
 */
const FREQ_BITS = 3;
const IN_MAIN = 4;
/** The flags (counter and IN_MAIN) below the fingerprint. */
const FLAGS = 0xff;
const FP_SHIFT = 8;

export class S3FifoPolicy implements Policy {
  readonly name = 's3fifo';
  readonly hitCost = 'bit' as const;
  readonly needsHash = true;
  /**
   * The cache keeps no hash per slot: the fingerprint the ghost needs on eviction from S is in
   * the policy's metadata word (see the module comment); `hashOf` is read only by validate().
   */
  readonly hashOnDemand = true;
  private readonly q: Queues;
  /**
   * Per slot: counter, queue (FREQ_BITS | IN_MAIN, so Queues keeps no owner byte) and the key's
   * fingerprint (see FP_SHIFT).
   */
  private meta: Int32Array;
  private readonly ghost: Ghost;
  private smallCapacity = 0;
  private mainCapacity = 0;
  /** Set by recordMiss when the incoming key was found (and removed) in the ghost. */
  private ghostHit = false;
  /** The incoming key's fingerprint, shifted into place, from recordMiss for onInsert. */
  private incoming = 0;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.q = new Queues(host, 's3fifo', 2, slots, false);
    this.meta = host.i32('s3fifo.meta', slots);
    this.ghost = new Ghost(0, GHOST_RATIO * slots);
    this.resize();
  }

  grow(slots: number): void {
    this.q.grow(slots);
    this.meta = this.host.i32('s3fifo.meta', slots);
    // The ghost holds about as many records as the cache holds entries (90% of it in cost).
    this.ghost.reserve(GHOST_RATIO * slots);
  }

  resize(): void {
    const cap = this.host.capacity;
    let small = Math.floor(cap * SMALL_RATIO);
    // With unit costs a queue of zero entries would refuse everything: keep one.
    if (small < 1 && cap >= 1) small = 1;
    this.smallCapacity = small;
    this.mainCapacity = cap - small;
    this.ghost.resize(Math.floor(cap * GHOST_RATIO), GHOST_RATIO * this.q.slots);
  }

  recordMiss(hash: number): void {
    this.ghostHit = this.ghost.take(hash);
    this.incoming = hash << FP_SHIFT;
  }

  evictFor(_hash: number, _cost: number): number {
    return this.evict();
  }

  evict(): number {
    const q = this.q;
    if (q.cost[MAIN]! > this.mainCapacity || q.length[SMALL] === 0) {
      return this.evictMain();
    }
    const s = this.evictSmall();
    return s === NIL ? this.evictMain() : s;
  }

  /** Walk S's tail: promote entries hit twice, evict the first that was not. */
  private evictSmall(): number {
    const q = this.q;
    const meta = this.meta;
    const host = this.host;
    for (;;) {
      const s = q.tail[SMALL]!;
      if (s === NIL) return NIL;
      const c = host.costOf(s);
      q.unlink(SMALL, s, c);
      const m = meta[s]!;
      if ((m & FREQ_BITS) >= MOVE_TO_MAIN_THRESHOLD) {
        meta[s] = (m & ~FLAGS) | IN_MAIN;
        q.pushHead(MAIN, s, c);
      } else {
        this.ghost.add(m >>> FP_SHIFT, c);
        return s;
      }
    }
  }

  /** 2-bit CLOCK over M: reinsert while the counter is positive, decrementing it. */
  private evictMain(): number {
    const q = this.q;
    const meta = this.meta;
    for (;;) {
      const s = q.tail[MAIN]!;
      if (s === NIL) return NO_SLOT;
      const m = meta[s]!;
      if ((m & FREQ_BITS) > 0) {
        meta[s] = m - 1; // the counter is in the low bits: IN_MAIN and the fingerprint stay
        q.moveToHead(MAIN, s);
      } else {
        q.unlink(MAIN, s, this.host.costOf(s));
        return s;
      }
    }
  }

  onInsert(slot: number): void {
    const c = this.host.costOf(slot);
    if (this.ghostHit || c > this.smallCapacity) {
      this.meta[slot] = this.incoming | IN_MAIN;
      this.q.pushHead(MAIN, slot, c);
    } else {
      this.meta[slot] = this.incoming;
      this.q.pushHead(SMALL, slot, c);
    }
    this.ghostHit = false;
  }

  onAccess(slot: number): void {
    const m = this.meta[slot]!;
    if ((m & FREQ_BITS) < MAX_FREQ) this.meta[slot] = m + 1;
  }

  onUpdate(slot: number, oldCost: number): void {
    this.q.cost[(this.meta[slot]! & IN_MAIN) !== 0 ? MAIN : SMALL]! += this.host.costOf(slot) - oldCost;
    this.onAccess(slot);
  }

  onRemove(slot: number): void {
    this.q.unlink((this.meta[slot]! & IN_MAIN) !== 0 ? MAIN : SMALL, slot, this.host.costOf(slot));
    this.meta[slot] = 0;
  }

  clear(): void {
    this.q.clear();
    this.meta.fill(0);
    this.ghost.clear();
    this.ghostHit = false;
  }

  validate(live: (slot: number) => boolean, size: number): void {
    const costOf = (s: number) => this.host.costOf(s);
    const small = this.q.check(SMALL, 's3fifo small', costOf);
    const main = this.q.check(MAIN, 's3fifo main', costOf);
    if (small.length + main.length !== size) {
      broken(this.name, `queues hold ${small.length}+${main.length} slots, cache ${size}`);
    }
    for (const s of small) if (!live(s)) broken(this.name, `slot ${s} in S but not live`);
    for (const s of main) if (!live(s)) broken(this.name, `slot ${s} in M but not live`);
    const flags = (s: number) => this.meta[s]! & FLAGS;
    for (const s of small) if (flags(s) > MAX_FREQ) broken(this.name, `slot ${s} in S has flags ${flags(s)}`);
    for (const s of main) if ((flags(s) & ~FREQ_BITS) !== IN_MAIN) broken(this.name, `slot ${s} in M has flags ${flags(s)}`);
    for (const s of [...small, ...main]) {
      const fp = this.meta[s]! >>> FP_SHIFT;
      const want = this.host.hashOf(s) & 0xffffff;
      if (fp !== want) broken(this.name, `slot ${s} keeps fingerprint ${fp}, its key's is ${want}`);
    }
    this.ghost.check(this.name);
  }
}
