/**
 * Support for sampled eviction (TinyLFU + sampled LFU, LHD): a dense array of the live
 * slots, so that a uniformly random resident entry is one array read, and a small seeded
 * PRNG.
 *
 * `dense[0..size)` lists the tracked slots in no particular order and `pos[slot]` is the
 * slot's index there (-1 when untracked). Removal swaps the last element into the hole:
 * O(1) add, remove and uniform sampling, 8 bytes per slot, no allocation. Both arrays come
 * from the store's allocator (`<name>.dense`, `<name>.pos`); `size` is the one scalar.
 */
import type { SlotAllocator } from './typed-arrays.js';
import { mix32 } from './hash.js';

export class DenseSlots {
  dense: Int32Array;
  pos: Int32Array;
  size = 0;

  private readonly alloc: SlotAllocator;
  private readonly name: string;

  constructor(alloc: SlotAllocator, name: string, slots: number) {
    this.alloc = alloc;
    this.name = name;
    this.dense = alloc.i32(`${name}.dense`, slots);
    this.pos = alloc.i32(`${name}.pos`, slots, -1);
  }

  grow(slots: number): void {
    this.dense = this.alloc.i32(`${this.name}.dense`, slots);
    this.pos = this.alloc.i32(`${this.name}.pos`, slots, -1);
  }

  has(slot: number): boolean {
    return this.pos[slot]! >= 0;
  }

  add(slot: number): void {
    this.pos[slot] = this.size;
    this.dense[this.size++] = slot;
  }

  remove(slot: number): void {
    const i = this.pos[slot]!;
    const last = this.dense[--this.size]!;
    this.dense[i] = last;
    this.pos[last] = i;
    this.pos[slot] = -1;
  }

  clear(): void {
    this.pos.fill(-1);
    this.size = 0;
  }

  /** Check that dense and pos agree; returns the tracked slots. */
  check(name: string): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) {
      const s = this.dense[i]!;
      if (this.pos[s] !== i) throw new Error(`${name} invariant broken: dense[${i}]=${s} but pos=${this.pos[s]}`);
      out.push(s);
    }
    let tracked = 0;
    for (let s = 0; s < this.pos.length; s++) if (this.pos[s]! >= 0) tracked++;
    if (tracked !== this.size) throw new Error(`${name} invariant broken: ${tracked} slots marked, ${this.size} listed`);
    return out;
  }
}

/** xorshift32 (Marsaglia 2003): a fast, seedable 32-bit PRNG; never yields 0. */
export class XorShift32 {
  private state: number;
  constructor(seed: number) {
    this.state = mix32(seed ^ 0x6d2b79f5) || 0x1234567;
  }
  /** Next unsigned 32-bit value. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x;
    return x >>> 0;
  }
  /** Uniform integer in [0, n) for n <= 2^32 (multiply-shift, no modulo bias to speak of). */
  below(n: number): number {
    return Math.floor((this.next() / 4294967296) * n);
  }
}
