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
 * answered from a per-bucket summary without reading the table) and 9.1 to 18.3 bytes per
 * record; a false ghost hit only promotes a newcomer straight to M, which is harmless.
 *
 * The ghost needs the evicted key's fingerprint (the low 24 bits of its hash). The cache does
 * not keep hashes for S3-FIFO (`hashOnDemand`), and recomputing one from the key cost a string
 * hash per eviction from S (13% of a string-keyed write at 1,000 entries). So the per-slot
 * metadata word keeps the fingerprint beside the counter: it is written on insert anyway, and
 * read on eviction anyway, so keeping it touches no extra memory line (a separate hash array,
 * as the store keeps for other policies, cost number-keyed writes up to a quarter: one more
 * random line on every insert and eviction). 3 bytes per slot more than a metadata byte.
 *
 * The two queues share one interleaved link array (internal/queues.ts's layout) and keep
 * their ends and costs as plain fields, as SingleQueue does for LRU and SIEVE, rather than in
 * Queues' per-queue typed arrays: a write to a full cache reads and updates them several times
 * (docs/perf-notes.md, "S3-FIFO miss path"). The slot's queue is the IN_MAIN bit.
 */
import { NIL } from '../internal/queues.js';
import { Ghost } from '../internal/ghost.js';
import { type Policy, type PolicyHost, NO_SLOT, broken } from './policy.js';

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
  /**
   * Both queues' links, interleaved: `link[2s]` is the older neighbour of `s` (towards the
   * tail), `link[2s + 1]` the newer one; NIL at the ends.
   */
  private link: Int32Array;
  /** S (small): newest and oldest slot, and the sum of its costs. */
  private smallHead = NIL;
  private smallTail = NIL;
  private smallCost = 0;
  /** M (main): the same. */
  private mainHead = NIL;
  private mainTail = NIL;
  private mainCost = 0;
  /**
   * Per slot: counter, queue (FREQ_BITS | IN_MAIN) and the key's fingerprint (see FP_SHIFT).
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
    this.link = host.i32('s3fifo.link', 2 * slots, NIL);
    this.meta = host.i32('s3fifo.meta', slots);
    this.ghost = new Ghost(0, GHOST_RATIO * slots);
    this.resize();
  }

  grow(slots: number): void {
    this.link = this.host.i32('s3fifo.link', 2 * slots, NIL);
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
    this.ghost.resize(Math.floor(cap * GHOST_RATIO), GHOST_RATIO * (this.link.length >>> 1));
  }

  recordMiss(hash: number): void {
    this.ghostHit = this.ghost.take(hash);
    this.incoming = hash << FP_SHIFT;
  }

  evictFor(_hash: number, _cost: number): number {
    return this.evict();
  }

  evict(): number {
    if (this.mainCost > this.mainCapacity || this.smallTail === NIL) {
      return this.evictMain();
    }
    const s = this.evictSmall();
    return s === NIL ? this.evictMain() : s;
  }

  /** Walk S's tail: promote entries hit twice, evict the first that was not. */
  private evictSmall(): number {
    const link = this.link;
    const meta = this.meta;
    const host = this.host;
    for (;;) {
      const s = this.smallTail;
      if (s === NIL) return NIL;
      const c = host.costOf(s);
      // Unlink S's tail.
      const n = link[2 * s + 1]!;
      this.smallTail = n;
      if (n === NIL) this.smallHead = NIL;
      else link[2 * n] = NIL;
      this.smallCost -= c;
      const m = meta[s]!;
      if ((m & FREQ_BITS) >= MOVE_TO_MAIN_THRESHOLD) {
        meta[s] = (m & ~FLAGS) | IN_MAIN;
        this.pushMain(s, c);
      } else {
        link[2 * s + 1] = NIL;
        this.ghost.add(m >>> FP_SHIFT, c);
        return s;
      }
    }
  }

  /** 2-bit CLOCK over M: reinsert while the counter is positive, decrementing it. */
  private evictMain(): number {
    const link = this.link;
    const meta = this.meta;
    for (;;) {
      const s = this.mainTail;
      if (s === NIL) return NO_SLOT;
      const m = meta[s]!;
      const n = link[2 * s + 1]!;
      if ((m & FREQ_BITS) > 0) {
        meta[s] = m - 1; // the counter is in the low bits: IN_MAIN and the fingerprint stay
        if (n === NIL) continue; // alone in M: already its head
        // Move the tail to the head.
        this.mainTail = n;
        link[2 * n] = NIL;
        const h = this.mainHead;
        link[2 * s] = h;
        link[2 * s + 1] = NIL;
        link[2 * h + 1] = s;
        this.mainHead = s;
      } else {
        this.mainTail = n;
        if (n === NIL) this.mainHead = NIL;
        else link[2 * n] = NIL;
        link[2 * s + 1] = NIL;
        this.mainCost -= this.host.costOf(s);
        return s;
      }
    }
  }

  private pushSmall(s: number, c: number): void {
    const link = this.link;
    const h = this.smallHead;
    link[2 * s] = h;
    link[2 * s + 1] = NIL;
    if (h === NIL) this.smallTail = s;
    else link[2 * h + 1] = s;
    this.smallHead = s;
    this.smallCost += c;
  }

  private pushMain(s: number, c: number): void {
    const link = this.link;
    const h = this.mainHead;
    link[2 * s] = h;
    link[2 * s + 1] = NIL;
    if (h === NIL) this.mainTail = s;
    else link[2 * h + 1] = s;
    this.mainHead = s;
    this.mainCost += c;
  }

  onInsert(slot: number): void {
    const c = this.host.costOf(slot);
    if (this.ghostHit || c > this.smallCapacity) {
      this.meta[slot] = this.incoming | IN_MAIN;
      this.pushMain(slot, c);
    } else {
      this.meta[slot] = this.incoming;
      this.pushSmall(slot, c);
    }
    this.ghostHit = false;
  }

  onAccess(slot: number): void {
    const m = this.meta[slot]!;
    if ((m & FREQ_BITS) < MAX_FREQ) this.meta[slot] = m + 1;
  }

  onUpdate(slot: number, oldCost: number): void {
    const d = this.host.costOf(slot) - oldCost;
    if ((this.meta[slot]! & IN_MAIN) !== 0) this.mainCost += d;
    else this.smallCost += d;
    this.onAccess(slot);
  }

  onRemove(slot: number): void {
    const link = this.link;
    const c = this.host.costOf(slot);
    const inMain = (this.meta[slot]! & IN_MAIN) !== 0;
    const o = link[2 * slot]!;
    const n = link[2 * slot + 1]!;
    if (n !== NIL) link[2 * n] = o;
    else if (inMain) this.mainHead = o;
    else this.smallHead = o;
    if (o !== NIL) link[2 * o + 1] = n;
    else if (inMain) this.mainTail = n;
    else this.smallTail = n;
    link[2 * slot] = NIL;
    link[2 * slot + 1] = NIL;
    if (inMain) this.mainCost -= c;
    else this.smallCost -= c;
    this.meta[slot] = 0;
  }

  clear(): void {
    this.link.fill(NIL);
    this.smallHead = this.smallTail = this.mainHead = this.mainTail = NIL;
    this.smallCost = this.mainCost = 0;
    this.meta.fill(0);
    this.ghost.clear();
    this.ghostHit = false;
  }

  /** Walk one queue from its head: links both ways, ends and cost; returns its slots. */
  private walk(what: string, head: number, tail: number, cost: number): number[] {
    const link = this.link;
    const seen: number[] = [];
    const limit = (link.length >>> 1) + 1;
    let total = 0;
    let prev = NIL;
    for (let s = head; s !== NIL; s = link[2 * s]!) {
      if (seen.length > limit) broken(this.name, `cycle in ${what}`);
      if (link[2 * s + 1] !== prev) broken(this.name, `${what}: slot ${s} newer link ${link[2 * s + 1]} != ${prev}`);
      seen.push(s);
      total += this.host.costOf(s);
      prev = s;
    }
    if (prev !== tail) broken(this.name, `${what}: tail ${tail} != ${prev}`);
    if (Math.abs(total - cost) > 1e-6 * Math.max(1, total)) broken(this.name, `${what}: cost ${cost} != ${total}`);
    return seen;
  }

  validate(live: (slot: number) => boolean, size: number): void {
    const small = this.walk('s3fifo small', this.smallHead, this.smallTail, this.smallCost);
    const main = this.walk('s3fifo main', this.mainHead, this.mainTail, this.mainCost);
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
