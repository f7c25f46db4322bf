/**
 * An exact FIFO set of key fingerprints with unit costs: W-TinyLFU's two ghost lists, which
 * remember recently evicted keys without keeping the keys themselves. (S3-FIFO's larger,
 * weight-aware ghost uses the denser, epoch-aged table of ghost.ts instead: that one takes 8
 * to 16 bytes per record against 20 to 28 here, but an operation there scans a bucket, about
 * 3x the time of a lookup here. W-TinyLFU's ghosts hold a quarter of the capacity each and
 * are read twice per miss, so speed wins.)
 *
 * Representation, all typed arrays (no Map, nothing allocated after construction):
 *  - a ring of `capacity` fingerprints in insertion order; -1 marks a position that is unused
 *    or stale (its fingerprint was taken, or re-added at a newer position). So a record still
 *    in the ring is live, and the ring wrapping over it is what forgets it;
 *  - a chained hash index over the ring positions: `heads` (2 buckets or more per record)
 *    holds the newest position of each bucket's chain, and `after`/`before` link the
 *    positions of one chain both ways.
 * Every change is O(1) pointer writes: forgetting the oldest record unlinks its position
 * directly (no lookup), and only `take` and a re-add walk a chain (about one position at
 * this load). Fingerprints are 30 bits of the key's hash: a false match only nudges an
 * adaptation step, which is harmless.
 */

const FINGERPRINT_MASK = 0x3fffffff;
/** Multiplier of the index's hash (golden ratio): spreads fingerprints over the buckets. */
const GOLDEN = 0x9e3779b1 | 0;
const NONE = -1;

export class GhostRing {
  private ring: Int32Array;
  private next = 0;
  /** Newest ring position of each bucket's chain, or NONE. */
  private heads: Int32Array;
  /** Per ring position: the next (older) position of its chain, or NONE. */
  private after: Int32Array;
  /** Per ring position: the previous (newer) position of its chain, or NONE at the head. */
  private before: Int32Array;
  private bits: number;
  private count = 0;

  constructor(capacity: number) {
    const n = Math.max(1, Math.floor(capacity));
    this.ring = new Int32Array(n).fill(NONE);
    this.after = new Int32Array(n).fill(NONE);
    this.before = new Int32Array(n).fill(NONE);
    this.bits = GhostRing.bitsFor(n);
    this.heads = new Int32Array(1 << this.bits).fill(NONE);
  }

  private static bitsFor(n: number): number {
    let b = 1;
    while (1 << b < 2 * n) b++;
    return b;
  }

  get capacity(): number {
    return this.ring.length;
  }

  /** Number of fingerprints remembered. */
  get size(): number {
    return this.count;
  }

  private bucket(fp: number): number {
    return Math.imul(fp + 1, GOLDEN) >>> (32 - this.bits);
  }

  /** Ring position of the live record of `fp`, or NONE. */
  private find(fp: number): number {
    const ring = this.ring;
    const after = this.after;
    let p = this.heads[this.bucket(fp)]!;
    while (p !== NONE && ring[p] !== fp) p = after[p]!;
    return p;
  }

  /** Take the live record at `pos` out of its chain and out of the set. */
  private drop(pos: number): void {
    const a = this.after[pos]!;
    const b = this.before[pos]!;
    if (b === NONE) this.heads[this.bucket(this.ring[pos]!)] = a;
    else this.after[b] = a;
    if (a !== NONE) this.before[a] = b;
    this.ring[pos] = NONE;
    this.count--;
  }

  /** Remember the key with this hash (as the newest record). */
  add(hash: number): void {
    const fp = hash & FINGERPRINT_MASK;
    const pos = this.next;
    this.next = pos + 1 === this.ring.length ? 0 : pos + 1;
    if (this.ring[pos]! >= 0) this.drop(pos); // the oldest record is forgotten
    const old = this.find(fp);
    if (old !== NONE) this.drop(old); // re-added: only the newest record stays
    const b = this.bucket(fp);
    const head = this.heads[b]!;
    this.ring[pos] = fp;
    this.after[pos] = head;
    this.before[pos] = NONE;
    if (head !== NONE) this.before[head] = pos;
    this.heads[b] = pos;
    this.count++;
  }

  /** Forget the key with this hash; true when it was remembered. */
  take(hash: number): boolean {
    const pos = this.find(hash & FINGERPRINT_MASK);
    if (pos === NONE) return false;
    this.drop(pos);
    return true;
  }

  /** Change the capacity, keeping the newest live records that fit. */
  resize(capacity: number): void {
    const n = Math.max(1, Math.floor(capacity));
    if (n === this.ring.length) return;
    const live: number[] = [];
    const old = this.ring.length;
    for (let k = 0; k < old; k++) {
      const fp = this.ring[(this.next + k) % old]!; // oldest first
      if (fp >= 0) live.push(fp);
    }
    this.ring = new Int32Array(n).fill(NONE);
    this.after = new Int32Array(n).fill(NONE);
    this.before = new Int32Array(n).fill(NONE);
    this.next = 0;
    this.bits = GhostRing.bitsFor(n);
    this.heads = new Int32Array(1 << this.bits).fill(NONE);
    this.count = 0;
    for (let i = Math.max(0, live.length - n); i < live.length; i++) this.add(live[i]!);
  }

  clear(): void {
    this.ring.fill(NONE);
    this.after.fill(NONE);
    this.before.fill(NONE);
    this.heads.fill(NONE);
    this.next = 0;
    this.count = 0;
  }

  /** Check that the chains and the ring agree; throws naming `name`. */
  check(name: string): void {
    const bad = (what: string): never => {
      throw new Error(`${name} invariant broken: ghost ${what}`);
    };
    const seen = new Set<number>();
    const fps = new Set<number>();
    for (let b = 0; b < this.heads.length; b++) {
      let prev = NONE;
      for (let p = this.heads[b]!; p !== NONE; p = this.after[p]!) {
        if (seen.has(p)) bad(`position ${p} chained twice (or a cycle)`);
        seen.add(p);
        const fp = this.ring[p]!;
        if (fp < 0) bad(`chain ${b} holds stale position ${p}`);
        if (this.bucket(fp) !== b) bad(`fingerprint ${fp} at ${p} chained in bucket ${b}`);
        if (this.before[p] !== prev) bad(`position ${p} back link ${this.before[p]} != ${prev}`);
        if (fps.has(fp)) bad(`fingerprint ${fp} live twice`);
        fps.add(fp);
        prev = p;
      }
    }
    let inRing = 0;
    for (let pos = 0; pos < this.ring.length; pos++) {
      if (this.ring[pos]! < 0) continue;
      inRing++;
      if (!seen.has(pos)) bad(`ring ${pos} holds ${this.ring[pos]} but is in no chain`);
    }
    if (inRing !== this.count || seen.size !== this.count) bad(`counts ${this.count}, ring holds ${inRing}, chains ${seen.size}`);
    if (this.count > this.ring.length) bad(`holds ${this.count} > capacity ${this.ring.length}`);
  }
}
