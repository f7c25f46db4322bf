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
 *  - a newcomer at least as heavy as all of S goes straight to M instead of being refused
 *    (libCacheSim drops it; a user who calls set() expects the value to be kept).
 * The ghost stores 30-bit key fingerprints in a ring with a Map index (30 bits keep the Map
 * keys small integers, so ghost updates do not allocate); a false ghost hit only promotes a
 * newcomer straight to M, which is harmless.
 */
import { Queues, NIL } from '../internal/queues.js';
import { type Policy, type PolicyHost, NO_SLOT, broken, growUint8 } from './policy.js';

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
const FINGERPRINT_MASK = 0x3fffffff;

/** FIFO of fingerprints with O(1) membership and removal (tombstones). */
class Ghost {
  private fp: Int32Array;
  private cost: Float64Array;
  private alive: Uint8Array;
  private readonly index = new Map<number, number>();
  private first = 0; // ring position of the oldest record
  private count = 0; // records in the ring, dead or alive
  total = 0; // cost of the live records
  capacity = 0;

  constructor(initial: number) {
    const n = Math.max(16, initial);
    this.fp = new Int32Array(n);
    this.cost = new Float64Array(n);
    this.alive = new Uint8Array(n);
  }

  get size(): number {
    return this.index.size;
  }

  /** Remove `fp` if present; true when it was. */
  take(fp: number): boolean {
    const pos = this.index.get(fp);
    if (pos === undefined) return false;
    this.index.delete(fp);
    this.alive[pos] = 0;
    this.total -= this.cost[pos]!;
    return true;
  }

  add(fp: number, cost: number): void {
    if (this.capacity <= 0 || cost > this.capacity) return;
    if (this.index.has(fp)) return; // already remembered: FIFO position unchanged
    while (this.total + cost > this.capacity) this.popOldest();
    if (this.count === this.fp.length) this.makeRoom();
    const pos = (this.first + this.count) % this.fp.length;
    this.fp[pos] = fp;
    this.cost[pos] = cost;
    this.alive[pos] = 1;
    this.count++;
    this.total += cost;
    this.index.set(fp, pos);
  }

  private popOldest(): void {
    while (this.count > 0) {
      const pos = this.first;
      this.first = (pos + 1) % this.fp.length;
      this.count--;
      if (this.alive[pos] === 1) {
        this.alive[pos] = 0;
        this.index.delete(this.fp[pos]!);
        this.total -= this.cost[pos]!;
        return;
      }
    }
  }

  /** Ring full: compact away tombstones, growing when most records are alive. */
  private makeRoom(): void {
    const n = this.fp.length;
    const live = this.index.size;
    const size = live * 2 > n ? n * 2 : n;
    const fp = new Int32Array(size);
    const cost = new Float64Array(size);
    const alive = new Uint8Array(size);
    let j = 0;
    for (let i = 0; i < this.count; i++) {
      const pos = (this.first + i) % n;
      if (this.alive[pos] === 1) {
        fp[j] = this.fp[pos]!;
        cost[j] = this.cost[pos]!;
        alive[j] = 1;
        this.index.set(fp[j]!, j);
        j++;
      }
    }
    this.fp = fp;
    this.cost = cost;
    this.alive = alive;
    this.first = 0;
    this.count = j;
  }

  /** Shrink to a new capacity, forgetting the oldest records. */
  trim(): void {
    while (this.total > this.capacity && this.index.size > 0) this.popOldest();
  }

  clear(): void {
    this.index.clear();
    this.alive.fill(0);
    this.first = 0;
    this.count = 0;
    this.total = 0;
  }

  check(): void {
    let live = 0;
    let total = 0;
    for (let i = 0; i < this.count; i++) {
      const pos = (this.first + i) % this.fp.length;
      if (this.alive[pos] === 1) {
        live++;
        total += this.cost[pos]!;
        if (this.index.get(this.fp[pos]!) !== pos) broken('s3fifo', `ghost index misses record ${pos}`);
      }
    }
    if (live !== this.index.size) broken('s3fifo', `ghost has ${live} live records, index ${this.index.size}`);
    if (Math.abs(total - this.total) > 1e-6 * Math.max(1, total)) broken('s3fifo', `ghost cost ${this.total} != ${total}`);
    if (this.total > this.capacity) broken('s3fifo', `ghost cost ${this.total} over capacity ${this.capacity}`);
  }
}

export class S3FifoPolicy implements Policy {
  readonly name = 's3fifo';
  readonly hitCost = 'bit' as const;
  readonly needsHash = true;
  private readonly q: Queues;
  private freq: Uint8Array;
  private readonly ghost: Ghost;
  private smallCapacity = 0;
  private mainCapacity = 0;
  /** Set by recordMiss when the incoming key was found (and removed) in the ghost. */
  private ghostHit = false;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.q = new Queues(2, slots);
    this.freq = new Uint8Array(slots);
    this.ghost = new Ghost(Math.min(slots, 1 << 16));
    this.resize();
  }

  grow(slots: number): void {
    this.q.grow(slots);
    this.freq = growUint8(this.freq, slots);
  }

  resize(): void {
    const cap = this.host.capacity;
    let small = Math.floor(cap * SMALL_RATIO);
    // With unit costs a queue of zero entries would refuse everything: keep one.
    if (small < 1 && cap >= 1) small = 1;
    this.smallCapacity = small;
    this.mainCapacity = cap - small;
    this.ghost.capacity = Math.floor(cap * GHOST_RATIO);
    this.ghost.trim();
  }

  recordMiss(hash: number): void {
    this.ghostHit = this.ghost.take(hash & FINGERPRINT_MASK);
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
      if (freq[s]! >= MOVE_TO_MAIN_THRESHOLD) {
        freq[s] = 0;
        q.pushHead(MAIN, s, c);
      } else {
        this.ghost.add(host.hashOf(s) & FINGERPRINT_MASK, c);
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
      const f = freq[s]!;
      if (f > 0) {
        freq[s] = f - 1;
        q.moveToHead(MAIN, s);
      } else {
        q.unlink(MAIN, s, this.host.costOf(s));
        return s;
      }
    }
  }

  onInsert(slot: number): void {
    this.freq[slot] = 0;
    const c = this.host.costOf(slot);
    if (this.ghostHit || c >= this.smallCapacity) this.q.pushHead(MAIN, slot, c);
    else this.q.pushHead(SMALL, slot, c);
    this.ghostHit = false;
  }

  onAccess(slot: number): void {
    const f = this.freq[slot]!;
    if (f < MAX_FREQ) this.freq[slot] = f + 1;
  }

  onUpdate(slot: number, oldCost: number): void {
    this.q.cost[this.q.owner[slot]!]! += this.host.costOf(slot) - oldCost;
    this.onAccess(slot);
  }

  onRemove(slot: number): void {
    this.q.unlink(this.q.owner[slot]!, slot, this.host.costOf(slot));
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
    for (const s of [...small, ...main]) if (this.freq[s]! > MAX_FREQ) broken(this.name, `slot ${s} counter ${this.freq[s]}`);
    this.ghost.check();
  }
}
