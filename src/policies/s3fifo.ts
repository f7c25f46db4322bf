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
/** Per-slot metadata byte: the 2-bit counter in bits 0-1, and this bit when the slot is in M. */
const FREQ_BITS = 3;
const IN_MAIN = 4;

export class S3FifoPolicy implements Policy {
  readonly name = 's3fifo';
  readonly hitCost = 'bit' as const;
  readonly needsHash = true;
  /**
   * Hashes are read once per eviction from S (for the ghost), so the cache recomputes them
   * from the key instead of keeping 4 bytes per slot (see docs/benchmarks.md, memory).
   */
  readonly hashOnDemand = true;
  private readonly q: Queues;
  /** Counter and queue per slot (FREQ_BITS | IN_MAIN): one byte, so Queues keeps no owner byte. */
  private freq: Uint8Array;
  private readonly ghost: Ghost;
  private smallCapacity = 0;
  private mainCapacity = 0;
  /** Set by recordMiss when the incoming key was found (and removed) in the ghost. */
  private ghostHit = false;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.q = new Queues(host, 's3fifo', 2, slots, false);
    this.freq = host.u8('s3fifo.freq', slots);
    this.ghost = new Ghost(0, GHOST_RATIO * slots);
    this.resize();
  }

  grow(slots: number): void {
    this.q.grow(slots);
    this.freq = this.host.u8('s3fifo.freq', slots);
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
    const freq = this.freq;
    const host = this.host;
    for (;;) {
      const s = q.tail[SMALL]!;
      if (s === NIL) return NIL;
      const c = host.costOf(s);
      q.unlink(SMALL, s, c);
      if ((freq[s]! & FREQ_BITS) >= MOVE_TO_MAIN_THRESHOLD) {
        freq[s] = IN_MAIN;
        q.pushHead(MAIN, s, c);
      } else {
        this.ghost.add(host.hashOf(s), c);
        return s;
      }
    }
  }

  /** 2-bit CLOCK over M: reinsert while the counter is positive, decrementing it. */
  private evictMain(): number {
    const q = this.q;
    const freq = this.freq;
    for (;;) {
      const s = q.tail[MAIN]!;
      if (s === NIL) return NO_SLOT;
      const f = freq[s]! & FREQ_BITS;
      if (f > 0) {
        freq[s] = IN_MAIN | (f - 1);
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
      this.freq[slot] = IN_MAIN;
      this.q.pushHead(MAIN, slot, c);
    } else {
      this.freq[slot] = 0;
      this.q.pushHead(SMALL, slot, c);
    }
    this.ghostHit = false;
  }

  onAccess(slot: number): void {
    const f = this.freq[slot]!;
    if ((f & FREQ_BITS) < MAX_FREQ) this.freq[slot] = f + 1;
  }

  onUpdate(slot: number, oldCost: number): void {
    this.q.cost[(this.freq[slot]! & IN_MAIN) !== 0 ? MAIN : SMALL]! += this.host.costOf(slot) - oldCost;
    this.onAccess(slot);
  }

  onRemove(slot: number): void {
    this.q.unlink((this.freq[slot]! & IN_MAIN) !== 0 ? MAIN : SMALL, slot, this.host.costOf(slot));
    this.freq[slot] = 0;
  }

  clear(): void {
    this.q.clear();
    this.freq.fill(0);
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
    for (const s of small) if (this.freq[s]! > MAX_FREQ) broken(this.name, `slot ${s} in S has metadata ${this.freq[s]}`);
    for (const s of main) if ((this.freq[s]! & ~FREQ_BITS) !== IN_MAIN) broken(this.name, `slot ${s} in M has metadata ${this.freq[s]}`);
    this.ghost.check(this.name);
  }
}
