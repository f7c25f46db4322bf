/**
 * A bounded FIFO set of key fingerprints: the "ghost" lists of ARC-style adaptation, which
 * remember recently evicted keys without keeping the keys themselves.
 *
 * Representation, all typed arrays (no Map, nothing allocated after construction):
 *  - a ring of `capacity` fingerprints in insertion order (-1 marks an unused position);
 *  - an open-addressing table (linear probing, load <= 1/2) from fingerprint to its ring
 *    position. A ring record is live only while the table points at it, so `take` just
 *    deletes from the table (backward-shift deletion, no tombstones) and the stale ring
 *    record is skipped when the ring wraps over it. Re-adding a fingerprint moves it to the
 *    newest position.
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

  private home(fp: number): number {
    return Math.imul(fp + 1, GOLDEN) >>> (32 - this.bits);
  }

  /** Table cell holding `fp`, or -1. */
  private find(fp: number): number {
    const mask = this.keys.length - 1;
    const key = fp + 1;
    for (let i = this.home(fp); ; i = (i + 1) & mask) {
      const k = this.keys[i]!;
      if (k === key) return i;
      if (k === 0) return -1;
    }
  }

  /** Remove the entry in cell `i`, shifting later cells of its probe run back. */
  private removeCell(i: number): void {
    const keys = this.keys;
    const vals = this.vals;
    const mask = keys.length - 1;
    let hole = i;
    for (let j = (i + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const h = this.home(keys[j]! - 1);
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (!stays) {
        keys[hole] = keys[j]!;
        vals[hole] = vals[j]!;
        hole = j;
      }
    }
    keys[hole] = 0;
    this.count--;
  }

  /** Remember the key with this hash (as the newest record). */
  add(hash: number): void {
    const fp = hash & FINGERPRINT_MASK;
    const pos = this.next;
    this.next = pos + 1 === this.ring.length ? 0 : pos + 1;
    const old = this.ring[pos]!;
    if (old >= 0) {
      const cell = this.find(old);
      if (cell >= 0 && this.vals[cell] === pos) this.removeCell(cell);
    }
    this.ring[pos] = fp;
    const cell = this.find(fp);
    if (cell >= 0) {
      this.vals[cell] = pos;
      return;
    }
    const mask = this.keys.length - 1;
    let i = this.home(fp);
    while (this.keys[i] !== 0) i = (i + 1) & mask;
    this.keys[i] = fp + 1;
    this.vals[i] = pos;
    this.count++;
  }

  /** Forget the key with this hash; true when it was remembered. */
  take(hash: number): boolean {
    const cell = this.find(hash & FINGERPRINT_MASK);
    if (cell < 0) return false;
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
      if (fp < 0) continue;
      const cell = this.find(fp);
      if (cell >= 0 && this.vals[cell] === pos) live.push(fp);
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
    if (inTable !== this.count) throw new Error(`${name} invariant broken: ghost counts ${this.count}, table holds ${inTable}`);
    if (this.count > this.ring.length) throw new Error(`${name} invariant broken: ghost holds ${this.count} > capacity ${this.ring.length}`);
  }
}
