/**
 * Doubly linked queues over slot numbers, stored in typed arrays.
 *
 * A slot belongs to at most one queue at a time, so every queue of a policy can share one
 * link array (older and newer neighbour, 4 bytes each per slot) and keep only its ends and
 * totals here. No per-entry objects exist: linking or unlinking writes a few integers.
 *
 * Orientation: the head is the newest (most recently inserted or promoted) slot, the tail
 * the oldest; `older(s)` walks from head to tail, `newer(s)` from tail to head.
 *
 * Memory comes from the store (a {@link SlotAllocator}, see typed-arrays.ts), under names
 * that start with the `name` given: `<name>.link` and `<name>.owner` per slot, and for
 * {@link Queues} the per-queue ends and totals as `<name>.head`, `.tail`, `.length` and
 * `.cost`, a small header that a shared store can place beside the links.
 */
import type { SlotAllocator } from './typed-arrays.js';

export const NIL = -1;

export class Queues {
  /**
   * Both links of every slot, interleaved: `link[2s]` is the older neighbour of `s` (towards
   * the tail), `link[2s + 1]` the newer one (towards the head). One array rather than two, so
   * that a slot's two links share a cache line: a hit on a large cache then misses one line
   * fewer.
   */
  link: Int32Array;
  /**
   * Which queue a slot is in, or -1 (one byte per slot; at most 127 queues). Kept only when
   * the policy asks (`trackOwner`): a one-queue policy, or one that knows the queue from its
   * own metadata, saves the byte per slot (it matters in the bytes-per-entry budget).
   */
  owner: Int8Array;
  readonly trackOwner: boolean;
  readonly head: Int32Array;
  readonly tail: Int32Array;
  /** Number of slots in each queue. */
  readonly length: Float64Array;
  /** Sum of the costs of the slots in each queue. */
  readonly cost: Float64Array;

  private readonly alloc: SlotAllocator;
  private readonly name: string;

  constructor(alloc: SlotAllocator, name: string, queues: number, slots: number, trackOwner = true) {
    this.alloc = alloc;
    this.name = name;
    this.trackOwner = trackOwner;
    this.link = alloc.i32(`${name}.link`, 2 * slots, NIL);
    this.owner = alloc.i8(`${name}.owner`, trackOwner ? slots : 0, -1);
    this.head = alloc.i32(`${name}.head`, queues, NIL);
    this.tail = alloc.i32(`${name}.tail`, queues, NIL);
    this.length = alloc.f64(`${name}.length`, queues);
    this.cost = alloc.f64(`${name}.cost`, queues);
  }

  /** Slots the link array has room for. */
  get slots(): number {
    return this.link.length >>> 1;
  }

  grow(slots: number): void {
    this.link = this.alloc.i32(`${this.name}.link`, 2 * slots, NIL);
    if (!this.trackOwner) return;
    this.owner = this.alloc.i8(`${this.name}.owner`, slots, -1);
  }

  /** The slot after `s` towards the tail (older), or NIL. */
  older(s: number): number {
    return this.link[2 * s]!;
  }

  /** The slot after `s` towards the head (newer), or NIL. */
  newer(s: number): number {
    return this.link[2 * s + 1]!;
  }

  /** Insert `s` as the newest slot of queue `q`. */
  pushHead(q: number, s: number, cost: number): void {
    const link = this.link;
    const h = this.head[q]!;
    link[2 * s] = h;
    link[2 * s + 1] = NIL;
    if (h === NIL) this.tail[q] = s;
    else link[2 * h + 1] = s;
    this.head[q] = s;
    if (this.trackOwner) this.owner[s] = q;
    this.length[q]!++;
    this.cost[q]! += cost;
  }

  /** Remove `s` from queue `q` (which must hold it). */
  unlink(q: number, s: number, cost: number): void {
    const link = this.link;
    const o = link[2 * s]!;
    const n = link[2 * s + 1]!;
    if (n === NIL) this.head[q] = o;
    else link[2 * n] = o;
    if (o === NIL) this.tail[q] = n;
    else link[2 * o + 1] = n;
    link[2 * s] = NIL;
    link[2 * s + 1] = NIL;
    if (this.trackOwner) this.owner[s] = -1;
    this.length[q]!--;
    this.cost[q]! -= cost;
  }

  /** Move `s`, already in queue `q`, to its head. */
  moveToHead(q: number, s: number): void {
    const h = this.head[q]!;
    if (h === s) return;
    const link = this.link;
    // unlink (s is not the head, so it has a newer neighbour)
    const o = link[2 * s]!;
    const n = link[2 * s + 1]!;
    link[2 * n] = o;
    if (o === NIL) this.tail[q] = n;
    else link[2 * o + 1] = n;
    // relink at head
    link[2 * s] = h;
    link[2 * s + 1] = NIL;
    link[2 * h + 1] = s;
    this.head[q] = s;
  }

  clear(): void {
    this.link.fill(NIL);
    this.owner.fill(-1);
    this.head.fill(NIL);
    this.tail.fill(NIL);
    this.length.fill(0);
    this.cost.fill(0);
  }

  /**
   * Walk queue `q` from head to tail checking links, ownership, length and cost against
   * `costOf`; returns the slots seen. Throws on the first inconsistency.
   */
  check(q: number, name: string, costOf: (s: number) => number): number[] {
    const seen: number[] = [];
    let total = 0;
    let prev = NIL;
    let s = this.head[q]!;
    const limit = this.slots + 1;
    while (s !== NIL) {
      if (seen.length > limit) throw new Error(`${name}: cycle in queue ${q}`);
      if (this.trackOwner && this.owner[s] !== q) throw new Error(`${name}: slot ${s} in queue ${q} owned by ${this.owner[s]}`);
      if (this.newer(s) !== prev) throw new Error(`${name}: slot ${s} back link ${this.newer(s)} != ${prev}`);
      seen.push(s);
      total += costOf(s);
      prev = s;
      s = this.older(s);
    }
    if (this.tail[q] !== prev) throw new Error(`${name}: queue ${q} tail ${this.tail[q]} != ${prev}`);
    if (this.length[q] !== seen.length) throw new Error(`${name}: queue ${q} length ${this.length[q]} != ${seen.length}`);
    if (Math.abs(this.cost[q]! - total) > 1e-6 * Math.max(1, total)) {
      throw new Error(`${name}: queue ${q} cost ${this.cost[q]} != ${total}`);
    }
    return seen;
  }
}

/**
 * One queue, for the policies that keep a single one (LRU, SIEVE): the same interleaved link
 * layout as {@link Queues}, but its ends and totals are plain fields instead of per-queue
 * typed arrays. A write to a full cache reads and updates them four to six times; as fields
 * that measured about 15% faster on SIEVE's write path (docs/perf-notes.md). They are four
 * plain numbers, so a store in shared memory would keep them in a four-word header instead
 * (and pay that 15%); only the links come from the allocator here.
 */
export class SingleQueue {
  /** `link[2s]`: the older neighbour of `s`; `link[2s + 1]`: the newer one (NIL at the ends). */
  link: Int32Array;
  head = NIL;
  tail = NIL;
  length = 0;
  /** Sum of the costs of the queued slots. */
  cost = 0;

  private readonly alloc: SlotAllocator;
  private readonly name: string;

  constructor(alloc: SlotAllocator, name: string, slots: number) {
    this.alloc = alloc;
    this.name = name;
    this.link = alloc.i32(`${name}.link`, 2 * slots, NIL);
  }

  /** Slots the link array has room for. */
  get slots(): number {
    return this.link.length >>> 1;
  }

  grow(slots: number): void {
    this.link = this.alloc.i32(`${this.name}.link`, 2 * slots, NIL);
  }

  /** The slot after `s` towards the head (newer), or NIL. */
  newer(s: number): number {
    return this.link[2 * s + 1]!;
  }

  /** Insert `s` as the newest slot. */
  pushHead(s: number, cost: number): void {
    const link = this.link;
    const h = this.head;
    link[2 * s] = h;
    link[2 * s + 1] = NIL;
    if (h === NIL) this.tail = s;
    else link[2 * h + 1] = s;
    this.head = s;
    this.length++;
    this.cost += cost;
  }

  /** Remove `s` (which must be queued). */
  unlink(s: number, cost: number): void {
    const link = this.link;
    const o = link[2 * s]!;
    const n = link[2 * s + 1]!;
    if (n === NIL) this.head = o;
    else link[2 * n] = o;
    if (o === NIL) this.tail = n;
    else link[2 * o + 1] = n;
    link[2 * s] = NIL;
    link[2 * s + 1] = NIL;
    this.length--;
    this.cost -= cost;
  }

  /** Move the queued slot `s` to the head. */
  moveToHead(s: number): void {
    const h = this.head;
    if (h === s) return;
    const link = this.link;
    const o = link[2 * s]!;
    const n = link[2 * s + 1]!;
    link[2 * n] = o;
    if (o === NIL) this.tail = n;
    else link[2 * o + 1] = n;
    link[2 * s] = h;
    link[2 * s + 1] = NIL;
    link[2 * h + 1] = s;
    this.head = s;
  }

  clear(): void {
    this.link.fill(NIL);
    this.head = this.tail = NIL;
    this.length = 0;
    this.cost = 0;
  }

  /** Walk head to tail checking links, length and cost; returns the slots seen. */
  check(name: string, costOf: (s: number) => number): number[] {
    const seen: number[] = [];
    let total = 0;
    let prev = NIL;
    let s = this.head;
    const limit = this.slots + 1;
    while (s !== NIL) {
      if (seen.length > limit) throw new Error(`${name}: cycle in queue`);
      if (this.link[2 * s + 1] !== prev) throw new Error(`${name}: slot ${s} back link ${this.link[2 * s + 1]} != ${prev}`);
      seen.push(s);
      total += costOf(s);
      prev = s;
      s = this.link[2 * s]!;
    }
    if (this.tail !== prev) throw new Error(`${name}: tail ${this.tail} != ${prev}`);
    if (this.length !== seen.length) throw new Error(`${name}: length ${this.length} != ${seen.length}`);
    if (Math.abs(this.cost - total) > 1e-6 * Math.max(1, total)) throw new Error(`${name}: cost ${this.cost} != ${total}`);
    return seen;
  }
}
