/**
 * The eviction-policy contract.
 *
 * The cache is split in two (see DESIGN.md): the *store* owns the slots (key, value, weight,
 * expiry and hash live in parallel arrays indexed by a small integer, the slot), and the
 * *policy* decides which slot should leave. A policy sees only slot numbers and the few facts
 * the store exposes through {@link PolicyHost}; it never sees keys or values. That is what
 * lets every policy run unchanged over the in-process store today and over a
 * SharedArrayBuffer-backed store later.
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
 *
 * Contract for implementers:
 *  - evict() and evictFor() MUST unlink the victim from every structure of the policy before
 *    returning it; the cache then frees the slot and will not call onRemove for it.
 *  - evict() MUST return a live slot whenever the policy tracks at least one entry, and
 *    NO_SLOT only when it tracks none.
 *  - evictFor() MAY return REJECT to refuse the newcomer (admission); it MUST NOT return
 *    REJECT forever on an empty policy (the cache guards against that anyway).
 *  - onAccess() runs on every hit: it MUST NOT allocate and SHOULD be O(1).
 *  - Costs come from `host.costOf(slot)` and capacity from `host.capacity`: they are entry
 *    weights when the cache is bounded by weight, and 1 per entry otherwise.
 *  - validate() walks the policy's structures and throws an Error naming the broken
 *    invariant. Tests call it after every case; it may be slow.
 */

/** What the store exposes to a policy. */
export interface PolicyHost {
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
}

/** Returned by {@link Policy.evictFor} to refuse the newcomer. */
export const REJECT = -1;
/** Returned by {@link Policy.evict} when the policy tracks no entry. */
export const NO_SLOT = -2;

/** What one hit costs a policy: nothing, one flag/counter store, or a list reorder. */
export type HitCost = 'none' | 'bit' | 'reorder';

export interface Policy {
  /** The `policy` option value that selects this policy. */
  readonly name: string;
  readonly hitCost: HitCost;
  /** True when the policy reads key hashes; the cache then computes and keeps them. */
  readonly needsHash: boolean;
  /**
   * True when the policy reads `hashOf` rarely (S3-FIFO: once per eviction from its small
   * queue): the cache then recomputes hashes from the keys instead of keeping 4 bytes per
   * slot. `recordMiss` and `evictFor` still receive the newcomer's hash.
   */
  readonly hashOnDemand?: boolean;
  /** Slot arrays grew: slots below `capacity` may now be used. Existing slots keep their numbers. */
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
