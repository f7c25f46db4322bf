/**
 * SIEVE (Zhang et al., "SIEVE is Simpler than LRU", NSDI'24).
 *
 * One FIFO queue and a "hand". New entries go to the head with their visited bit clear; a
 * hit only sets the bit (a "bit" hit: one byte store, no reordering, which is what makes
 * SIEVE cheap and, later, lock-free in the shared-memory cache). To evict, the hand walks
 * from where it stopped towards the head, clearing visited bits, and evicts the first
 * unvisited entry; past the head it wraps to the tail. Survivors stay in place, so new
 * entries are examined soon (quick demotion) and popular ones keep their position.
 *
 * Matches libCacheSim's Sieve request for request: eviction happens before insertion, and
 * after an eviction the hand rests on the victim's newer neighbour.
 */
import { SingleQueue, NIL } from '../internal/queues.js';
import { type Policy, type PolicyHost, NO_SLOT, broken } from './policy.js';


export class SievePolicy implements Policy {
  readonly name = 'sieve';
  readonly hitCost = 'bit' as const;
  readonly needsHash = false;
  private readonly q: SingleQueue;
  private visited: Uint8Array;
  /** Next slot the hand examines; NIL means "start from the tail". */
  private hand = NIL;

  constructor(private readonly host: PolicyHost, slots: number) {
    this.q = new SingleQueue(host, 'sieve', slots);
    this.visited = host.u8('sieve.visited', slots);
  }

  grow(slots: number): void {
    this.q.grow(slots);
    this.visited = this.host.u8('sieve.visited', slots);
  }
  resize(): void {}
  recordMiss(_hash: number): void {}

  evictFor(_hash: number, _cost: number): number {
    return this.evict();
  }

  evict(): number {
    const q = this.q;
    let s = this.hand === NIL ? q.tail : this.hand;
    if (s === NIL) return NO_SLOT;
    const visited = this.visited;
    while (visited[s] !== 0) {
      visited[s] = 0;
      const n = q.newer(s);
      s = n === NIL ? q.tail : n;
    }
    this.hand = q.newer(s);
    q.unlink(s, this.host.costOf(s));
    return s;
  }

  onInsert(slot: number): void {
    this.visited[slot] = 0;
    this.q.pushHead(slot, this.host.costOf(slot));
  }

  onAccess(slot: number): void {
    this.visited[slot] = 1;
  }

  onUpdate(slot: number, oldCost: number): void {
    this.q.cost += this.host.costOf(slot) - oldCost;
    this.visited[slot] = 1;
  }

  onRemove(slot: number): void {
    if (this.hand === slot) this.hand = this.q.newer(slot);
    this.visited[slot] = 0;
    this.q.unlink(slot, this.host.costOf(slot));
  }

  clear(): void {
    this.q.clear();
    this.visited.fill(0);
    this.hand = NIL;
  }

  validate(live: (slot: number) => boolean, size: number): void {
    const seen = this.q.check(this.name, (s) => this.host.costOf(s));
    if (seen.length !== size) broken(this.name, `queue holds ${seen.length} slots, cache ${size}`);
    for (const s of seen) if (!live(s)) broken(this.name, `slot ${s} queued but not live`);
    if (this.hand !== NIL && !seen.includes(this.hand)) broken(this.name, `hand ${this.hand} not in queue`);
  }
}
