/**
 * A bounded FIFO set of key fingerprints: the "ghost" lists of ARC-style adaptation, which
 * remember recently evicted keys without keeping the keys themselves.
 *
 * Representation, all typed arrays (no Map, nothing allocated after construction):
 *  - a ring of `capacity` fingerprints in insertion order (-1 marks a position that is
 *    unused or stale);
 *  - an open-addressing table (linear probing, load <= 1/2) from fingerprint to its ring
 *    position. `take` deletes from the table (backward-shift deletion, no tombstones) and
 *    marks the ring record stale; re-adding a fingerprint moves it to the newest position
 *    and marks its older record stale. So a record still in the ring is live, and the ring
 *    wrapping over it is what forgets it: one table lookup, none for a stale record.
 * The probe loops keep the arrays in locals and compute the home cell inline: these run
 * two lookups on every miss of the cache and one insertion on most evictions.
 * About 12 bytes per remembered fingerprint. Fingerprints are 30 bits of the key's hash: a
 * false match only nudges an adaptation step, which is harmless.
 */

const FINGERPRINT_MASK = 0x3fffffff;
/** Multiplier of the table's hash (golden ratio): spreads fingerprints over the table. */
const GOLDEN = 0x9e3779b1 | 0;

export class GhostRing {
  private ring: Int32Array;
  private next = 0;
  /** Table keys: fingerprint + 1, 0 for an empty cell. */
  private keys: Int32Array;
  /** Table values: ring position of the fingerprint's live record. */
  private vals: Int32Array;
  private bits: number;
  private count = 0;

  constructor(capacity: number) {
    const n = Math.max(1, Math.floor(capacity));
    this.ring = new Int32Array(n).fill(-1);
    this.bits = GhostRing.bitsFor(n);
    this.keys = new Int32Array(1 << this.bits);
    this.vals = new Int32Array(1 << this.bits);
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

  /** Table cell holding `fp`, or -1. */
  private find(fp: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    const key = fp + 1;
    let i = Math.imul(key, GOLDEN) >>> (32 - this.bits);
    for (;;) {
      const k = keys[i]!;
      if (k === key) return i;
      if (k === 0) return -1;
      i = (i + 1) & mask;
    }
  }

  /** Remove the entry in cell `i`, shifting later cells of its probe run back. */
  private removeCell(i: number): void {
    const keys = this.keys;
    const vals = this.vals;
    const mask = keys.length - 1;
    const shift = 32 - this.bits;
    let hole = i;
    let j = (i + 1) & mask;
    for (let k = keys[j]!; k !== 0; k = keys[j]!) {
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j], that
      // is unless it is nearer to its home than the hole is.
      const h = Math.imul(k, GOLDEN) >>> shift;
      if (((j - h) & mask) >= ((j - hole) & mask)) {
        keys[hole] = k;
        vals[hole] = vals[j]!;
        hole = j;
      }
      j = (j + 1) & mask;
    }
    keys[hole] = 0;
    this.count--;
  }

  /** Remember the key with this hash (as the newest record). */
  add(hash: number): void {
    const fp = hash & FINGERPRINT_MASK;
    const ring = this.ring;
    const pos = this.next;
    this.next = pos + 1 === ring.length ? 0 : pos + 1;
    // A record still in the ring is live (stale ones are marked -1 when their fingerprint is
    // taken or re-added), so the oldest record leaves the table here.
    const old = ring[pos]!;
    if (old >= 0) this.removeCell(this.find(old));
    ring[pos] = fp;
    const keys = this.keys;
    const mask = keys.length - 1;
    const key = fp + 1;
    let i = Math.imul(key, GOLDEN) >>> (32 - this.bits);
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        // Re-added: the older record goes stale, this one is the newest.
        ring[this.vals[i]!] = -1;
        this.vals[i] = pos;
        return;
      }
      if (k === 0) break;
      i = (i + 1) & mask;
    }
    keys[i] = key;
    this.vals[i] = pos;
    this.count++;
  }

  /** Forget the key with this hash; true when it was remembered. */
  take(hash: number): boolean {
    const cell = this.find(hash & FINGERPRINT_MASK);
    if (cell < 0) return false;
    this.ring[this.vals[cell]!] = -1;
    this.removeCell(cell);
    return true;
  }

  /** Change the capacity, keeping the newest live records that fit. */
  resize(capacity: number): void {
    const n = Math.max(1, Math.floor(capacity));
    if (n === this.ring.length) return;
    const live: number[] = [];
    const old = this.ring.length;
    for (let k = 0; k < old; k++) {
      const pos = (this.next + k) % old; // oldest first
      const fp = this.ring[pos]!;
      if (fp >= 0) live.push(fp);
    }
    this.ring = new Int32Array(n).fill(-1);
    this.next = 0;
    this.bits = GhostRing.bitsFor(n);
    this.keys = new Int32Array(1 << this.bits);
    this.vals = new Int32Array(1 << this.bits);
    this.count = 0;
    for (let i = Math.max(0, live.length - n); i < live.length; i++) this.add(live[i]!);
  }

  clear(): void {
    this.ring.fill(-1);
    this.keys.fill(0);
    this.next = 0;
    this.count = 0;
  }

  /** Check that the table and the ring agree; throws naming `name`. */
  check(name: string): void {
    let inTable = 0;
    for (let i = 0; i < this.keys.length; i++) {
      const k = this.keys[i]!;
      if (k === 0) continue;
      inTable++;
      const pos = this.vals[i]!;
      if (this.ring[pos] !== k - 1) throw new Error(`${name} invariant broken: ghost cell ${i} points at ring ${pos} holding ${this.ring[pos]}`);
      if (this.find(k - 1) !== i) throw new Error(`${name} invariant broken: ghost fingerprint ${k - 1} unreachable from its home`);
    }
    let inRing = 0;
    for (let pos = 0; pos < this.ring.length; pos++) {
      const fp = this.ring[pos]!;
      if (fp < 0) continue;
      inRing++;
      const cell = this.find(fp);
      if (cell < 0 || this.vals[cell] !== pos) throw new Error(`${name} invariant broken: ghost ring ${pos} holds ${fp}, which is not live there`);
    }
    if (inRing !== this.count) throw new Error(`${name} invariant broken: ghost counts ${this.count}, ring holds ${inRing} live records`);
    if (inTable !== this.count) throw new Error(`${name} invariant broken: ghost counts ${this.count}, table holds ${inTable}`);
    if (this.count > this.ring.length) throw new Error(`${name} invariant broken: ghost holds ${this.count} > capacity ${this.ring.length}`);
  }
}
