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
 * The ghost stores 30-bit key fingerprints in a ring indexed by an open-addressing table in
 * typed arrays (no Map, nothing allocated per eviction); a false ghost hit only promotes a
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
/** Per-slot metadata byte: the 2-bit counter in bits 0-1, and this bit when the slot is in M. */
const FREQ_BITS = 3;
const IN_MAIN = 4;
const FINGERPRINT_MASK = 0x3fffffff;

/**
 * FIFO of fingerprints with O(1) membership and removal (tombstones in the ring).
 *
 * The index is an open-addressing table in an Int32Array (ring position + 1 per bucket, 0 for
 * empty; linear probing, backward-shift deletion, at most half full), not a Map: a Map entry
 * costs 30 to 60 bytes and three hash-table operations per eviction, the table 8 to 16 bytes
 * and a probe or two. Fingerprints are already mixed hashes, so their low bits pick the bucket.
 */
class Ghost {
  private fp: Int32Array;
  private cost: Float64Array;
  private alive: Uint8Array;
  /** Bucket of the table that indexes each ring position (valid while the record is alive). */
  private bucket: Int32Array;
  private table: Int32Array;
  private mask: number;
  private live = 0; // records alive (and in the table)
  private first = 0; // ring position of the oldest record
  private count = 0; // records in the ring, dead or alive
  total = 0; // cost of the live records
  capacity = 0;

  constructor(initial: number) {
    let n = 16;
    while (n < initial) n *= 2;
    this.fp = new Int32Array(n);
    this.cost = new Float64Array(n);
    this.alive = new Uint8Array(n);
    this.bucket = new Int32Array(n);
    this.table = new Int32Array(2 * n);
    this.mask = 2 * n - 1;
  }

  get size(): number {
    return this.live;
  }

  /** Bucket holding `fp`, or -1. */
  private find(fp: number): number {
    const table = this.table;
    const mask = this.mask;
    let i = fp & mask;
    for (;;) {
      const e = table[i]!;
      if (e === 0) return -1;
      if (this.fp[e - 1] === fp) return i;
      i = (i + 1) & mask;
    }
  }

  private insertIndex(fp: number, pos: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = fp & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = pos + 1;
    this.bucket[pos] = i;
  }

  /** Empty bucket `i`, shifting later members of its probe run back (no tombstones). */
  private removeIndex(i: number): void {
    const table = this.table;
    const mask = this.mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = table[j]!;
      if (e === 0) break;
      const home = this.fp[e - 1]! & mask;
      // Move it back unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!stays) {
        table[i] = e;
        this.bucket[e - 1] = i;
        i = j;
      }
    }
    table[i] = 0;
  }

  /** Remove `fp` if present; true when it was. */
  take(fp: number): boolean {
    if (this.live === 0) return false;
    const b = this.find(fp);
    if (b < 0) return false;
    const pos = this.table[b]! - 1;
    this.removeIndex(b);
    this.alive[pos] = 0;
    this.live--;
    this.total -= this.cost[pos]!;
    return true;
  }

  add(fp: number, cost: number): void {
    if (this.capacity <= 0 || cost > this.capacity) return;
    if (this.find(fp) >= 0) return; // already remembered: FIFO position unchanged
    while (this.total + cost > this.capacity) this.popOldest();
    if (this.count === this.fp.length) this.makeRoom();
    const pos = (this.first + this.count) & (this.fp.length - 1);
    this.fp[pos] = fp;
    this.cost[pos] = cost;
    this.alive[pos] = 1;
    this.count++;
    this.live++;
    this.total += cost;
    this.insertIndex(fp, pos);
  }

  private popOldest(): void {
    const n1 = this.fp.length - 1;
    while (this.count > 0) {
      const pos = this.first;
      this.first = (pos + 1) & n1;
      this.count--;
      if (this.alive[pos] === 1) {
        this.alive[pos] = 0;
        this.removeIndex(this.bucket[pos]!);
        this.live--;
        this.total -= this.cost[pos]!;
        return;
      }
    }
  }

  /** Ring full: compact away tombstones, growing when most records are alive. */
  private makeRoom(): void {
    const n = this.fp.length;
    const size = this.live * 2 > n ? n * 2 : n;
    const fp = new Int32Array(size);
    const cost = new Float64Array(size);
    const alive = new Uint8Array(size);
    if (size !== n) this.bucket = new Int32Array(size);
    let j = 0;
    for (let i = 0; i < this.count; i++) {
      const pos = (this.first + i) & (n - 1);
      if (this.alive[pos] === 1) {
        fp[j] = this.fp[pos]!;
        cost[j] = this.cost[pos]!;
        alive[j] = 1;
        j++;
      }
    }
    this.fp = fp;
    this.cost = cost;
    this.alive = alive;
    this.first = 0;
    this.count = j;
    if (this.table.length !== 2 * size) {
      this.table = new Int32Array(2 * size);
      this.mask = 2 * size - 1;
    } else this.table.fill(0);
    for (let i = 0; i < j; i++) this.insertIndex(fp[i]!, i);
  }

  /** Shrink to a new capacity, forgetting the oldest records. */
  trim(): void {
    while (this.total > this.capacity && this.live > 0) this.popOldest();
  }

  clear(): void {
    this.table.fill(0);
    this.alive.fill(0);
    this.live = 0;
    this.first = 0;
    this.count = 0;
    this.total = 0;
  }

  check(): void {
    let live = 0;
    let total = 0;
    for (let i = 0; i < this.count; i++) {
      const pos = (this.first + i) & (this.fp.length - 1);
      if (this.alive[pos] === 1) {
        live++;
        total += this.cost[pos]!;
        const b = this.find(this.fp[pos]!);
        if (b < 0 || this.table[b]! - 1 !== pos) broken('s3fifo', `ghost index misses record ${pos}`);
        if (this.bucket[pos] !== b) broken('s3fifo', `ghost record ${pos} thinks it is in bucket ${this.bucket[pos]}, not ${b}`);
      }
    }
    let indexed = 0;
    for (let i = 0; i < this.table.length; i++) if (this.table[i] !== 0) indexed++;
    if (live !== this.live || indexed !== live) broken('s3fifo', `ghost has ${live} live records, ${this.live} counted, ${indexed} indexed`);
    if (Math.abs(total - this.total) > 1e-6 * Math.max(1, total)) broken('s3fifo', `ghost cost ${this.total} != ${total}`);
    if (this.total > this.capacity) broken('s3fifo', `ghost cost ${this.total} over capacity ${this.capacity}`);
  }
}

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
    this.q = new Queues(2, slots, false);
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
      if ((freq[s]! & FREQ_BITS) >= MOVE_TO_MAIN_THRESHOLD) {
        freq[s] = IN_MAIN;
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
    this.ghost.check();
  }
}
