/**
 * Doubly linked queues over slot numbers, stored in typed arrays.
 *
 * A slot belongs to at most one queue at a time, so every queue of a policy can share one
 * pair of link arrays (`older`/`newer`, 4 bytes each per slot) and keep only its ends and
 * totals here. No per-entry objects exist: linking or unlinking writes a few integers.
 *
 * Orientation: the head is the newest (most recently inserted or promoted) slot, the tail
 * the oldest; `older[s]` walks from head to tail, `newer[s]` from tail to head.
 */
import { growInt32 } from '../policies/policy.js';

export const NIL = -1;

export class Queues {
  older: Int32Array;
  newer: Int32Array;
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

  constructor(queues: number, slots: number, trackOwner = true) {
    this.trackOwner = trackOwner;
    this.older = new Int32Array(slots).fill(NIL);
    this.newer = new Int32Array(slots).fill(NIL);
    this.owner = new Int8Array(trackOwner ? slots : 0).fill(-1);
    this.head = new Int32Array(queues).fill(NIL);
    this.tail = new Int32Array(queues).fill(NIL);
    this.length = new Float64Array(queues);
    this.cost = new Float64Array(queues);
  }

  grow(slots: number): void {
    this.older = growInt32(this.older, slots, NIL);
    this.newer = growInt32(this.newer, slots, NIL);
    if (!this.trackOwner) return;
    const owner = new Int8Array(slots).fill(-1);
    owner.set(this.owner);
    this.owner = owner;
  }

  /** Insert `s` as the newest slot of queue `q`. */
  pushHead(q: number, s: number, cost: number): void {
    const h = this.head[q]!;
    this.older[s] = h;
    this.newer[s] = NIL;
    if (h === NIL) this.tail[q] = s;
    else this.newer[h] = s;
    this.head[q] = s;
    if (this.trackOwner) this.owner[s] = q;
    this.length[q]!++;
    this.cost[q]! += cost;
  }

  /** Remove `s` from queue `q` (which must hold it). */
  unlink(q: number, s: number, cost: number): void {
    const o = this.older[s]!;
    const n = this.newer[s]!;
    if (n === NIL) this.head[q] = o;
    else this.older[n] = o;
    if (o === NIL) this.tail[q] = n;
    else this.newer[o] = n;
    this.older[s] = NIL;
    this.newer[s] = NIL;
    if (this.trackOwner) this.owner[s] = -1;
    this.length[q]!--;
    this.cost[q]! -= cost;
  }

  /** Move `s`, already in queue `q`, to its head. */
  moveToHead(q: number, s: number): void {
    const h = this.head[q]!;
    if (h === s) return;
    // unlink (s is not the head, so it has a newer neighbour)
    const o = this.older[s]!;
    const n = this.newer[s]!;
    this.older[n] = o;
    if (o === NIL) this.tail[q] = n;
    else this.newer[o] = n;
    // relink at head
    this.older[s] = h;
    this.newer[s] = NIL;
    this.newer[h] = s;
    this.head[q] = s;
  }

  clear(): void {
    this.older.fill(NIL);
    this.newer.fill(NIL);
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
    const limit = this.older.length + 1;
    while (s !== NIL) {
      if (seen.length > limit) throw new Error(`${name}: cycle in queue ${q}`);
      if (this.trackOwner && this.owner[s] !== q) throw new Error(`${name}: slot ${s} in queue ${q} owned by ${this.owner[s]}`);
      if (this.newer[s] !== prev) throw new Error(`${name}: slot ${s} back link ${this.newer[s]} != ${prev}`);
      seen.push(s);
      total += costOf(s);
      prev = s;
      s = this.older[s]!;
    }
    if (this.tail[q] !== prev) throw new Error(`${name}: queue ${q} tail ${this.tail[q]} != ${prev}`);
    if (this.length[q] !== seen.length) throw new Error(`${name}: queue ${q} length ${this.length[q]} != ${seen.length}`);
    if (Math.abs(this.cost[q]! - total) > 1e-6 * Math.max(1, total)) {
      throw new Error(`${name}: queue ${q} cost ${this.cost[q]} != ${total}`);
    }
    return seen;
  }
}
