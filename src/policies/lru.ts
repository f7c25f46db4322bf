/**
 * LRU: evict the least recently used entry.
 *
 * One queue in typed arrays; a hit moves the slot to the head (a "reorder" hit: two to six
 * integer stores). It is the baseline every other policy is measured against, and the right
 * choice for workloads with strong recency and no scans.
 */
import { SingleQueue, NIL } from '../internal/queues.js';
import { type Policy, type PolicyHost, NO_SLOT, broken } from './policy.js';


export class LruPolicy implements Policy {
  readonly name = 'lru';
  readonly hitCost = 'reorder' as const;
  readonly needsHash = false;
  private readonly q: SingleQueue;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.q = new SingleQueue(host, 'lru', slots);
  }

  grow(slots: number): void {
    this.q.grow(slots);
  }
  resize(): void {}
  recordMiss(_hash: number): void {}

  evictFor(_hash: number, _cost: number): number {
    return this.evict();
  }

  evict(): number {
    const s = this.q.tail;
    if (s === NIL) return NO_SLOT;
    this.q.unlink(s, this.host.costOf(s));
    return s;
  }

  onInsert(slot: number): void {
    this.q.pushHead(slot, this.host.costOf(slot));
  }

  onAccess(slot: number): void {
    this.q.moveToHead(slot);
  }

  onUpdate(slot: number, oldCost: number): void {
    this.q.cost += this.host.costOf(slot) - oldCost;
    this.q.moveToHead(slot);
  }

  onRemove(slot: number): void {
    this.q.unlink(slot, this.host.costOf(slot));
  }

  clear(): void {
    this.q.clear();
  }

  validate(live: (slot: number) => boolean, size: number): void {
    const seen = this.q.check(this.name, (s) => this.host.costOf(s));
    if (seen.length !== size) broken(this.name, `queue holds ${seen.length} slots, cache ${size}`);
    for (const s of seen) if (!live(s)) broken(this.name, `slot ${s} queued but not live`);
  }
}
