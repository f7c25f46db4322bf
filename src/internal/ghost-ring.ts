/**
 * Exact FIFO sets of key fingerprints with unit costs, several lists over one index:
 * W-TinyLFU's two ghost lists, which remember recently evicted keys without keeping the keys
 * themselves. A key is in at most one list (adding it to one forgets it in the others), and
 * one lookup answers which list holds it: W-TinyLFU asks on every miss, so one index means
 * one probe (one random cache line) where two separate ghosts took two. (S3-FIFO's larger,
 * weight-aware ghost uses the denser, epoch-aged table of ghost.ts instead: that one takes 8
 * to 16 bytes per record against 20 to 28 here, but an operation there scans a bucket, about
 * 3x the time of a lookup here. W-TinyLFU's ghosts hold a quarter of the capacity each and
 * are read twice per miss, so speed wins.)
 *
 * Representation, all typed arrays (no Map, nothing allocated after construction):
 *  - per list, a ring of `capacity` fingerprints in insertion order (list l owns positions
 *    l x capacity to (l + 1) x capacity - 1 of one array); -1 marks a position that is unused
 *    or stale (its fingerprint was taken, or re-added at a newer position). So a record still
 *    in a ring is live, and the ring wrapping over it is what forgets it;
 *  - a chained hash index over all ring positions: `heads` (2 buckets or more per record)
 *    holds the newest position of each bucket's chain, and `after` links each position to
 *    the next (older) one of its chain. Singly linked: forgetting a record walks its chain
 *    from the head to find its predecessor (chains hold about one position at this load),
 *    which touches the chain's head where a back link would touch two neighbours, and saves
 *    4 bytes per position. (Doubly linked before; docs/perf-notes.md.)
 * Forgetting the oldest record needs no lookup by key: its position is the ring's next one.
 * Fingerprints are 30 bits of the key's hash: a false match only nudges an adaptation step,
 * which is harmless.
 */

const FINGERPRINT_MASK = 0x3fffffff;
/** Multiplier of the index's hash (golden ratio): spreads fingerprints over the buckets. */
const GOLDEN = 0x9e3779b1 | 0;
const NONE = -1;

export class GhostRing {
  /** Fingerprints by position: list l's ring is positions [l x cap, (l + 1) x cap). */
  private ring!: Int32Array;
  /** Per list: the position its next record goes to. */
  private readonly next: Int32Array;
  /** Per list: live records. */
  private readonly counts: Int32Array;
  /** Positions per list (the capacity of each list). */
  private cap = 0;
  /** Newest ring position of each bucket's chain, or NONE. */
  private heads!: Int32Array;
  /** Per ring position: the next (older) position of its chain, or NONE. */
  private after!: Int32Array;
  private bits = 0;
  private count = 0;

  /**
   * @param capacity records each list remembers
   * @param lists number of lists (default 1)
   */
  constructor(capacity: number, readonly lists = 1) {
    if (!Number.isInteger(lists) || lists < 1) throw new RangeError(`GhostRing: lists must be a positive integer, got ${lists}`);
    this.next = new Int32Array(lists);
    this.counts = new Int32Array(lists);
    this.allocate(Math.max(1, Math.floor(capacity)));
  }

  private allocate(n: number): void {
    const total = n * this.lists;
    this.cap = n;
    this.ring = new Int32Array(total).fill(NONE);
    this.after = new Int32Array(total).fill(NONE);
    this.bits = GhostRing.bitsFor(total);
    this.heads = new Int32Array(1 << this.bits).fill(NONE);
    for (let l = 0; l < this.lists; l++) this.next[l] = l * n;
    this.counts.fill(0);
    this.count = 0;
  }

  private static bitsFor(n: number): number {
    let b = 1;
    while (1 << b < 2 * n) b++;
    return b;
  }

  /** Records each list remembers at most. */
  get capacity(): number {
    return this.cap;
  }

  /** Number of fingerprints remembered, over all lists. */
  get size(): number {
    return this.count;
  }

  /** Number of fingerprints list `list` remembers. */
  sizeOf(list: number): number {
    return this.counts[list]!;
  }

  private bucket(fp: number): number {
    return Math.imul(fp + 1, GOLDEN) >>> (32 - this.bits);
  }

  /**
   * Take the live record at `pos` (of list `list`) out of its chain, whose position before it
   * is `prev` (NONE: `pos` heads bucket `b`), and out of its list.
   */
  private unlinkAt(pos: number, prev: number, b: number, list: number): void {
    const a = this.after[pos]!;
    if (prev === NONE) this.heads[b] = a;
    else this.after[prev] = a;
    this.ring[pos] = NONE;
    this.counts[list]!--;
    this.count--;
  }

  /** Take the live record at `pos` (of list `list`) out: find its predecessor, then unlink. */
  private drop(pos: number, list: number): void {
    const b = this.bucket(this.ring[pos]!);
    const after = this.after;
    let prev = NONE;
    let p = this.heads[b]!;
    while (p !== pos) {
      prev = p;
      p = after[p]!;
    }
    this.unlinkAt(pos, prev, b, list);
  }

  /** The list that owns ring position `pos` (no division: it is on the miss path). */
  private listOf(pos: number): number {
    let l = 0;
    for (let end = this.cap; pos >= end; end += this.cap) l++;
    return l;
  }

  /** Remember the key with this hash as the newest record of `list` (forgetting it in any other). */
  add(hash: number, list = 0): void {
    const fp = hash & FINGERPRINT_MASK;
    const pos = this.next[list]!;
    const end = (list + 1) * this.cap;
    this.next[list] = pos + 1 === end ? end - this.cap : pos + 1;
    const ring = this.ring;
    if (ring[pos]! >= 0) this.drop(pos, list); // the list's oldest record is forgotten
    const b = this.bucket(fp);
    const heads = this.heads;
    const after = this.after;
    // Re-added: only the newest record stays (find's chain walk, on the bucket at hand).
    let prev = NONE;
    let old = heads[b]!;
    while (old !== NONE && ring[old] !== fp) {
      prev = old;
      old = after[old]!;
    }
    if (old !== NONE) this.unlinkAt(old, prev, b, this.listOf(old));
    ring[pos] = fp;
    after[pos] = heads[b]!;
    heads[b] = pos;
    this.counts[list]!++;
    this.count++;
  }

  /** Forget the key with this hash; returns the list that remembered it, or -1. */
  take(hash: number): number {
    const fp = hash & FINGERPRINT_MASK;
    const b = this.bucket(fp);
    const ring = this.ring;
    const after = this.after;
    let prev = NONE;
    let pos = this.heads[b]!;
    while (pos !== NONE && ring[pos] !== fp) {
      prev = pos;
      pos = after[pos]!;
    }
    if (pos === NONE) return -1;
    const l = this.listOf(pos);
    this.unlinkAt(pos, prev, b, l);
    return l;
  }

  /** Change the capacity of every list, keeping the newest live records of each that fit. */
  resize(capacity: number): void {
    const n = Math.max(1, Math.floor(capacity));
    if (n === this.cap) return;
    const old = this.cap;
    const live: number[][] = [];
    for (let l = 0; l < this.lists; l++) {
      const kept: number[] = [];
      const start = this.next[l]! - l * old;
      for (let k = 0; k < old; k++) {
        const fp = this.ring[l * old + ((start + k) % old)]!; // oldest first
        if (fp >= 0) kept.push(fp);
      }
      live.push(kept);
    }
    this.allocate(n);
    for (let l = 0; l < this.lists; l++) {
      const kept = live[l]!;
      for (let i = Math.max(0, kept.length - n); i < kept.length; i++) this.add(kept[i]!, l);
    }
  }

  clear(): void {
    this.ring.fill(NONE);
    this.after.fill(NONE);
    this.heads.fill(NONE);
    for (let l = 0; l < this.lists; l++) this.next[l] = l * this.cap;
    this.counts.fill(0);
    this.count = 0;
  }

  /** Check that the chains, the rings and the counts agree; throws naming `name`. */
  check(name: string): void {
    const bad = (what: string): never => {
      throw new Error(`${name} invariant broken: ghost ${what}`);
    };
    const seen = new Set<number>();
    const fps = new Set<number>();
    for (let b = 0; b < this.heads.length; b++) {
      for (let p = this.heads[b]!; p !== NONE; p = this.after[p]!) {
        if (seen.has(p)) bad(`position ${p} chained twice (or a cycle)`);
        seen.add(p);
        const fp = this.ring[p]!;
        if (fp < 0) bad(`chain ${b} holds stale position ${p}`);
        if (this.bucket(fp) !== b) bad(`fingerprint ${fp} at ${p} chained in bucket ${b}`);
        if (fps.has(fp)) bad(`fingerprint ${fp} live twice`);
        fps.add(fp);
      }
    }
    let inRing = 0;
    for (let l = 0; l < this.lists; l++) {
      let n = 0;
      for (let pos = l * this.cap; pos < (l + 1) * this.cap; pos++) {
        if (this.ring[pos]! < 0) continue;
        n++;
        if (!seen.has(pos)) bad(`ring ${pos} holds ${this.ring[pos]} but is in no chain`);
      }
      if (n !== this.counts[l]) bad(`list ${l} counts ${this.counts[l]}, its ring holds ${n}`);
      const nx = this.next[l]!;
      if (nx < l * this.cap || nx >= (l + 1) * this.cap) bad(`list ${l} next position ${nx} outside its ring`);
      inRing += n;
    }
    if (inRing !== this.count || seen.size !== this.count) bad(`counts ${this.count}, rings hold ${inRing}, chains ${seen.size}`);
  }
}
