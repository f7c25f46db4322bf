/**
 * The eviction-policy contract.
 *
 * The cache is split in two (see the banner of cache.ts): the *store* owns the slots (key,
 * value, weight, expiry and hash live in parallel arrays indexed by a small integer, the
 * slot), and the *policy* decides which slot should leave. A policy sees only slot numbers
 * and the few facts the store exposes through {@link PolicyHost}; it never sees keys or
 * values. Its per-slot arrays come from the store too (the {@link SlotAllocator} half of
 * PolicyHost): the store decides whether they live on the heap, in a SharedArrayBuffer, or
 * in a fixed region that cannot grow.
 *
 * Call protocol (the cache guarantees the order; a policy may rely on it):
 *
 *   new key:   recordMiss(hash)                        once, before anything else
 *              evictFor(hash, cost) ... (0..n times)   while the newcomer does not fit
 *              onInsert(slot)                          unless evictFor returned REJECT
 *   hit:       onAccess(slot)
 *   update:    onUpdate(slot, oldCost)                 value replaced in place; cost may change
 *   removal:   onRemove(slot)                          delete, expiry, clear-by-one; never for a
 *                                                      slot the policy itself returned as victim
 *   shrink:    evict()                                 resize() or a weight increase
 *   growth:    grow(slots)                             the store's slot arrays doubled; never
 *                                                      in fixed-capacity mode (below)
 *
 * Contract for implementers:
 *  - evict() and evictFor() MUST unlink the victim from every structure of the policy before
 *    returning it; the cache then frees the slot and will not call onRemove for it.
 *  - evict() MUST return a live slot whenever the policy tracks at least one entry, and
 *    NO_SLOT only when it tracks none.
 *  - evictFor() MAY return REJECT to refuse the newcomer (admission); it MUST NOT return
 *    REJECT forever on an empty policy (the cache guards against that anyway).
 *  - onAccess() runs on every hit: it MUST NOT allocate and SHOULD be O(1). What it writes
 *    MUST match the policy's declared {@link HitCost} (test/policy-host.test.ts checks it).
 *  - Per-slot arrays MUST come from the host's allocator (`host.u8('<policy>.<field>', n)`),
 *    asked for at construction and again in grow(), and be kept in the policy's own fields:
 *    the hot path reads a field, never looks an array up by name.
 *  - Scalar state (queue ends and lengths, SIEVE's hand, limits, counters) MUST be plain
 *    numbers or typed arrays, never objects or closures per entry: that is what lets a
 *    shared store keep it in a small typed-array header (multi-queue ends and totals already
 *    come from the allocator, see internal/queues.ts).
 *  - Costs come from `host.costOf(slot)` and capacity from `host.capacity`: they are entry
 *    weights when the cache is bounded by weight, and 1 per entry otherwise.
 *  - validate() walks the policy's structures and throws an Error naming the broken
 *    invariant. Tests call it after every case; it may be slow.
 *
 * Fixed-capacity mode. A store that cannot grow (a SharedArrayBuffer sized once) builds the
 * policy with its final slot count and never calls grow(); its allocator
 * (internal/typed-arrays.ts, FixedArrays) carves each array once and throws if asked to
 * regrow. Every policy sizes itself from the `slots` it is built with, so it needs nothing
 * more (test/policy-host.test.ts runs each over a SharedArrayBuffer, decision for decision
 * equal to the in-process cache).
 *
 * Over a store shared by worker threads. Each worker would hold its own policy object over
 * the same shared arrays, writers serialised by a lock and hits ideally lock-free; what is
 * still per-object must then move into shared memory. Per policy:
 *  - SIEVE ('bit'): the best fit: a hit is one Atomics.store of its visited byte. Needs its
 *    hand and its queue's four scalars (SingleQueue keeps head, tail, length and cost as
 *    fields, measured 15% faster than a typed array here) in a five-word shared header.
 *  - S3-FIFO ('bit'): a hit is one byte store (a capped counter; a racing hit may be lost,
 *    which only under-counts). Its queue ends and totals already come from the allocator;
 *    needs its ghost table (internal/ghost.ts, heap today) from the allocator, sized once.
 *  - TinyLFU ('bit'): a hit is one byte store plus one add to the sketch's halving counter
 *    (an Atomics.add, or a per-worker tally). Needs the sketch, doorkeeper, sample scratch,
 *    `used` and its PRNG state in shared memory; halving under the writers' lock.
 *  - W-TinyLFU ('reorder'): main-space hits are 'bit' like TinyLFU's, but window hits move
 *    the slot to the window's head, so they need the lock (or a hit buffer replayed under
 *    it, as Caffeine does). Also needs the sketch, ghost lists, adaptive limits and PRNG
 *    state in shared memory.
 *  - LHD ('fields'): a hit writes three fields of the slot and a histogram cell: no lock is
 *    needed for correctness (torn updates only steer sampling), but the histograms and
 *    request clock must be shared.
 *  - LRU ('reorder'): every hit relinks the list: under the lock, or buffered.
 */
import type { SlotAllocator } from '../internal/typed-arrays.js';


/** What the store exposes to a policy: a few facts about its slots, and their memory. */
export interface PolicyHost extends SlotAllocator {
  /**
   * Capacity in cost units: `maxWeight` when the cache is bounded by weight, otherwise
   * `maxEntries`. Re-read it after {@link Policy.resize}.
   */
  readonly capacity: number;
  /** Cost of the entry in `slot`: its weight when bounded by weight, otherwise 1. */
  costOf(slot: number): number;
  /** The seeded 32-bit hash of the key in `slot` (valid only when the policy `needsHash`). */
  hashOf(slot: number): number;
  /** Seed for the policy's own hashing (per cache, so that sketches resist hash flooding). */
  readonly seed: number;
  /**
   * Hits served so far (every hit, whatever queue it lands in). A policy that paces periodic
   * work by requests reads it when it next acts instead of counting each hit itself: a
   * counter in the policy would be a second increment on every hit (W-TinyLFU's sketch
   * period; measured in docs/perf-notes.md).
   */
  readonly hits: number;
}

/** Returned by {@link Policy.evictFor} to refuse the newcomer. */
export const REJECT = -1;
/** Returned by {@link Policy.evict} when the policy tracks no entry. */
export const NO_SLOT = -2;

/**
 * What one hit (onAccess) writes, which is what decides whether a store shared by threads
 * can record a hit without its lock (amortised maintenance, such as a sketch's halving or
 * LHD's reconfiguration, is done under the lock and not counted here):
 *  - 'none':    nothing;
 *  - 'bit':     one element of one per-slot array, the slot's own (a flag or a small
 *               counter), plus at most a policy-wide tally: one atomic store records it;
 *  - 'fields':  several elements, all the slot's own, of several per-slot arrays (plus
 *               policy-wide statistics): no reordering, but not one atomic store either;
 *  - 'reorder': elements of other slots too (list links) or queue ends: a lock, or a hit
 *               buffer replayed under it.
 */
export type HitCost = 'none' | 'bit' | 'fields' | 'reorder';

export interface Policy {
  /** The `policy` option value that selects this policy. */
  readonly name: string;
  /** What onAccess writes (see {@link HitCost}); equal to its registry entry's. */
  readonly hitCost: HitCost;
  /** True when the policy reads key hashes; the cache then computes and keeps them. */
  readonly needsHash: boolean;
  /**
   * True when the policy reads `hashOf` rarely or never on its hot paths (S3-FIFO keeps the
   * fingerprints it needs in its own metadata): the cache then recomputes hashes from the
   * keys instead of keeping 4 bytes per slot. `recordMiss` and `evictFor` still receive the
   * newcomer's hash.
   */
  readonly hashOnDemand?: boolean;
  /**
   * Slot arrays grew: slots below `slots` may now be used. Existing slots keep their numbers.
   * The policy asks the host again for each of its per-slot arrays (same names, new length).
   * Never called in fixed-capacity mode.
   */
  grow(slots: number): void;
  /** The host's capacity changed (resize); the policy re-derives its segment sizes. */
  resize(): void;
  /** A key that is not cached is about to be inserted (its frequency may be recorded). */
  recordMiss(hash: number): void;
  /**
   * Make room for a newcomer with this hash and cost: return the slot to evict (already
   * unlinked), or REJECT to refuse the newcomer.
   */
  evictFor(hash: number, cost: number): number;
  /** Return the next victim (already unlinked), or NO_SLOT when empty. */
  evict(): number;
  /** A new entry now lives in `slot` (its hash and cost are readable from the host). */
  onInsert(slot: number): void;
  /** A hit on `slot`. */
  onAccess(slot: number): void;
  /** The value of `slot` was replaced; `oldCost` is its cost before, the host has the new one. */
  onUpdate(slot: number, oldCost: number): void;
  /** `slot` leaves for a reason of the cache's (delete, expiry); the policy forgets it. */
  onRemove(slot: number): void;
  /** Forget every entry. */
  clear(): void;
  /** Check internal invariants against the store; throw on the first broken one. */
  validate(live: (slot: number) => boolean, size: number): void;
}

/** Builds a policy over a host with `slots` initial slot capacity. */
export type PolicyFactory = (host: PolicyHost, slots: number) => Policy;

/** Throw an invariant failure naming the policy. */
export function broken(policy: string, what: string): never {
  throw new Error(`${policy} invariant broken: ${what}`);
}
