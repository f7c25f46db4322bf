/**
 * The offline optimum, as the ceiling that online policies are measured against.
 *
 * Belady's MIN (L. A. Belady, "A study of replacement algorithms for a virtual-storage
 * computer", IBM Systems Journal 5(2), 1966): on a miss with the cache full, evict the
 * resident object whose next use lies farthest in the future. For unit sizes this is exact
 * (Mattson et al. 1970 proved it optimal), provided the newcomer itself may be the one that
 * "leaves": when its own next use is farther than every resident's, it is not cached at all
 * (bypass), and an object that is never used again is never cached.
 *
 * Representation. The simulator gives each request the index of the next request for the
 * same key (from the trace, as oracleGeneral carries it, or from a backward pass). A resident
 * object is then identified by its next-use index alone: request i hits exactly when some
 * resident is waiting for index i. So the optimum needs no keys at all: a set of awaited
 * indices (with their sizes) and a max-heap of them for eviction. A hit re-keys the object to
 * its following use; the heap entry it leaves behind is stale and is skipped on pop (lazy
 * deletion), and the heap is rebuilt when stale entries outnumber live ones.
 *
 * With object sizes (bytes mode) no polynomial algorithm is known to be optimal. Two
 * approximations are offered: `belady` evicts by farthest next use as above, ignoring size;
 * `belady-size` evicts, among a random sample of residents, the one with the largest
 * size x time-to-next-use (the product libCacheSim's BeladySize uses), and bypasses a
 * newcomer whose own product is larger than the victim's. Neither is a proven optimum.
 */
import { prng } from './synthetic.js';

/** Residents sampled per eviction by belady-size (libCacheSim samples 64 too). */
const SIZE_SAMPLE = 64;
/** Rebuild the heap once it holds this many times more entries than there are residents. */
const STALE_FACTOR = 2;

export interface OfflinePolicy {
  readonly name: string;
  /** Request number `i` (0-based), its key's next request (-1: none) and size; true on a hit. */
  access(i: number, next: number, size: number): boolean;
}

/** Belady's MIN by farthest next use (exact for unit sizes). */
export class Belady implements OfflinePolicy {
  readonly name: string = 'belady';
  /** Awaited request index -> size of the object waiting for it. */
  private readonly resident = new Map<number, number>();
  private heap = new Float64Array(1024);
  private heapLen = 0;
  private used = 0;

  /**
   * `admitAll`: cache every missed object, evicting the farthest *resident* to make room,
   * which is how libCacheSim's Belady works (its reference numbers are reproduced this way);
   * it is not optimal, and is used only for the parity check.
   */
  constructor(private readonly capacity: number, private readonly admitAll = false) {
    if (admitAll) this.name = 'belady-admit-all';
  }

  access(i: number, next: number, size: number): boolean {
    if (this.admitAll) return this.accessAdmitAll(i, next, size);
    const resident = this.resident;
    const held = resident.get(i);
    if (held !== undefined) {
      resident.delete(i);
      if (next >= 0) {
        resident.set(next, held);
        this.push(next);
      } else {
        this.used -= held; // never used again: dropping it now frees room at no cost
      }
      return true;
    }
    if (next < 0 || size > this.capacity) return false; // caching it could never pay
    while (this.used + size > this.capacity) {
      const far = this.peekMax();
      if (far < next) return false; // the newcomer is the farthest: bypass it
      this.popMax();
      this.used -= resident.get(far)!;
      resident.delete(far);
    }
    resident.set(next, size);
    this.used += size;
    this.push(next);
    return false;
  }

  private accessAdmitAll(i: number, next: number, size: number): boolean {
    const resident = this.resident;
    const held = resident.get(i);
    // An object never used again waits for an index no request reaches; the largest such
    // indices are evicted first, as libCacheSim's infinite next-access time is.
    const key = next >= 0 ? next : Number.MAX_SAFE_INTEGER - i;
    if (held !== undefined) {
      resident.delete(i);
      resident.set(key, held);
      this.push(key);
      return true;
    }
    if (size > this.capacity) return false;
    while (this.used + size > this.capacity) {
      const far = this.peekMax();
      this.popMax();
      this.used -= resident.get(far)!;
      resident.delete(far);
    }
    resident.set(key, size);
    this.used += size;
    this.push(key);
    return false;
  }

  /** Largest live entry (stale entries above it are dropped). */
  private peekMax(): number {
    for (;;) {
      const top = this.heap[0]!;
      if (this.resident.has(top)) return top;
      this.popMax();
    }
  }

  private push(v: number): void {
    if (this.heapLen === this.heap.length) {
      if (this.heapLen > STALE_FACTOR * this.resident.size + 1024) this.rebuild();
      if (this.heapLen === this.heap.length) {
        const h = new Float64Array(this.heap.length * 2);
        h.set(this.heap);
        this.heap = h;
      }
    }
    const h = this.heap;
    let c = this.heapLen++;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (h[p]! >= v) break;
      h[c] = h[p]!;
      c = p;
    }
    h[c] = v;
  }

  private popMax(): void {
    const h = this.heap;
    const n = --this.heapLen;
    if (n === 0) return;
    const v = h[n]!;
    let p = 0;
    for (;;) {
      let c = 2 * p + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1]! > h[c]!) c++;
      if (h[c]! <= v) break;
      h[p] = h[c]!;
      p = c;
    }
    h[p] = v;
  }

  /** Drop stale entries: refill the heap from the live residents. */
  private rebuild(): void {
    this.heapLen = 0;
    for (const v of this.resident.keys()) this.push(v);
  }
}

/** Size-aware approximation: sampled eviction by size x distance to next use. */
export class BeladySize implements OfflinePolicy {
  readonly name = 'belady-size';
  /** Awaited request index -> position in `order`. */
  private readonly pos = new Map<number, number>();
  /** Dense array of awaited indices (for sampling) and their sizes. */
  private order: number[] = [];
  private sizes: number[] = [];
  private used = 0;
  private readonly rand: () => number;

  constructor(private readonly capacity: number, seed = 1) {
    this.rand = prng(seed);
  }

  access(i: number, next: number, size: number): boolean {
    const at = this.pos.get(i);
    if (at !== undefined) {
      this.pos.delete(i);
      if (next >= 0) {
        this.order[at] = next;
        this.pos.set(next, at);
      } else {
        this.removeAt(at);
      }
      return true;
    }
    if (next < 0 || size > this.capacity) return false;
    const mine = size * (next - i);
    while (this.used + size > this.capacity) {
      const victim = this.sample(i);
      const v = this.order[victim]!;
      if (this.sizes[victim]! * (v - i) <= mine) return false; // the newcomer is worth less: bypass
      this.pos.delete(v);
      this.removeAt(victim);
    }
    this.pos.set(next, this.order.length);
    this.order.push(next);
    this.sizes.push(size);
    this.used += size;
    return false;
  }

  /** Position of the sampled resident with the largest size x distance. */
  private sample(now: number): number {
    const n = this.order.length;
    let best = 0;
    let bestScore = -1;
    const k = Math.min(SIZE_SAMPLE, n);
    for (let s = 0; s < k; s++) {
      const j = n <= SIZE_SAMPLE ? s : Math.floor(this.rand() * n);
      const score = this.sizes[j]! * (this.order[j]! - now);
      if (score > bestScore) {
        bestScore = score;
        best = j;
      }
    }
    return best;
  }

  /** Remove the resident at position `at` (its pos entry must already be gone). */
  private removeAt(at: number): void {
    this.used -= this.sizes[at]!;
    const last = this.order.length - 1;
    if (at !== last) {
      const moved = this.order[last]!;
      this.order[at] = moved;
      this.sizes[at] = this.sizes[last]!;
      this.pos.set(moved, at);
    }
    this.order.pop();
    this.sizes.pop();
  }
}

/**
 * Next-use indices by a backward pass over dense key ids: next[i] is the index of the next
 * request with the same id as request i, or -1.
 */
export function nextUses(ids: Int32Array, count: number, distinct: number): Int32Array {
  const next = new Int32Array(count);
  const seen = new Int32Array(distinct).fill(-1);
  for (let i = count - 1; i >= 0; i--) {
    const id = ids[i]!;
    next[i] = seen[id]!;
    seen[id] = i;
  }
  return next;
}
