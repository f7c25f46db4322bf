/**
 * Doubly linked queues over slot numbers, stored in typed arrays.
 *
 * A slot belongs to at most one queue at a time, so every queue of a policy can share one
 * link array (older and newer neighbour, 4 bytes each per slot) and keep only its ends and
 * totals apart. No per-entry objects exist: linking or unlinking writes a few integers.
 *
 * Orientation: the head is the newest (most recently inserted or promoted) slot, the tail
 * the oldest; `older(s)` walks from head to tail, `newer(s)` from tail to head.
 *
 * Memory comes from the store (a {@link SlotAllocator}, see typed-arrays.ts), under names
 * that start with the `name` given: `<name>.link` per slot. A slot's queue is the policy's to
 * know (W-TinyLFU keeps it in its metadata byte), so no owner byte is kept here. Each queue's
 * ends and totals are four plain numbers in fields ({@link Lane}, {@link SingleQueue}): they
 * were per-queue typed arrays, and fields measured faster on every policy's write path
 * (docs/perf-notes.md); a store in shared memory would keep them in a small header instead.
 */
import type { SlotAllocator } from './typed-arrays.js';

export const NIL = -1;

/**
 * One queue of a {@link Queues}: its ends and totals, as plain fields (a write to a full cache
 * reads and updates them several times; fields measured faster than per-queue typed arrays,
 * see SingleQueue below). `index` is the queue's number, for messages.
 */
export class Lane {
  head = NIL;
  tail = NIL;
  length = 0;
  /** Sum of the costs of the slots in the queue. */
  cost = 0;
  constructor(readonly index: number) {}
}

/**
 * Several doubly linked queues over slots, sharing one link array (a slot is in at most one
 * queue). Each queue is a {@link Lane} whose fields hold its ends and totals; operations take
 * the lane, so a caller that names a queue statically (W-TinyLFU's window) reads its fields
 * directly, and one that knows it only from per-slot metadata picks it from `lanes`.
 */
export class Queues {
  /**
   * Both links of every slot, interleaved: `link[2s]` is the older neighbour of `s` (towards
   * the tail), `link[2s + 1]` the newer one (towards the head). One array rather than two, so
   * that a slot's two links share a cache line: a hit on a large cache then misses one line
   * fewer.
   */
  link: Int32Array;
  /** The queues, by number. */
  readonly lanes: readonly Lane[];

  private readonly alloc: SlotAllocator;
  private readonly name: string;

  constructor(alloc: SlotAllocator, name: string, queues: number, slots: number) {
    this.alloc = alloc;
    this.name = name;
    this.link = alloc.i32(`${name}.link`, 2 * slots, NIL);
    this.lanes = Array.from({ length: queues }, (_, q) => new Lane(q));
  }

  /** Slots the link array has room for. */
  get slots(): number {
    return this.link.length >>> 1;
  }

  grow(slots: number): void {
    this.link = this.alloc.i32(`${this.name}.link`, 2 * slots, NIL);
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
  pushHead(q: Lane, s: number, cost: number): void {
    const link = this.link;
    const h = q.head;
    link[2 * s] = h;
    link[2 * s + 1] = NIL;
    if (h === NIL) q.tail = s;
    else link[2 * h + 1] = s;
    q.head = s;
    q.length++;
    q.cost += cost;
  }

  /** Remove `s` from queue `q` (which must hold it). */
  unlink(q: Lane, s: number, cost: number): void {
    const link = this.link;
    const o = link[2 * s]!;
    const n = link[2 * s + 1]!;
    if (n === NIL) q.head = o;
    else link[2 * n] = o;
    if (o === NIL) q.tail = n;
    else link[2 * o + 1] = n;
    link[2 * s] = NIL;
    link[2 * s + 1] = NIL;
    q.length--;
    q.cost -= cost;
  }

  /** Move `s`, already in queue `q`, to its head. */
  moveToHead(q: Lane, s: number): void {
    const h = q.head;
    if (h === s) return;
    const link = this.link;
    // unlink (s is not the head, so it has a newer neighbour)
    const o = link[2 * s]!;
    const n = link[2 * s + 1]!;
    link[2 * n] = o;
    if (o === NIL) q.tail = n;
    else link[2 * o + 1] = n;
    // relink at head
    link[2 * s] = h;
    link[2 * s + 1] = NIL;
    link[2 * h + 1] = s;
    q.head = s;
  }

  clear(): void {
    this.link.fill(NIL);
    for (const q of this.lanes) {
      q.head = NIL;
      q.tail = NIL;
      q.length = 0;
      q.cost = 0;
    }
  }

  /**
   * Walk queue `q` from head to tail checking links, length and cost against
   * `costOf`; returns the slots seen. Throws on the first inconsistency.
   */
  check(q: Lane, name: string, costOf: (s: number) => number): number[] {
    const seen: number[] = [];
    let total = 0;
    let prev = NIL;
    let s = q.head;
    const limit = this.slots + 1;
    const i = q.index;
    while (s !== NIL) {
      if (seen.length > limit) throw new Error(`${name}: cycle in queue ${i}`);
      if (this.newer(s) !== prev) throw new Error(`${name}: slot ${s} back link ${this.newer(s)} != ${prev}`);
      seen.push(s);
      total += costOf(s);
      prev = s;
      s = this.older(s);
    }
    if (q.tail !== prev) throw new Error(`${name}: queue ${i} tail ${q.tail} != ${prev}`);
    if (q.length !== seen.length) throw new Error(`${name}: queue ${i} length ${q.length} != ${seen.length}`);
    if (Math.abs(q.cost - total) > 1e-6 * Math.max(1, total)) {
      throw new Error(`${name}: queue ${i} cost ${q.cost} != ${total}`);
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
