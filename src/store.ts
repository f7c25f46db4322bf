/**
 * SlotStore: where a Cache's entries live, and what a policy sees of them (PolicyHost).
 *
 * Representation (lru-cache's struct of arrays, Caffeine's "the policy sees nodes, not
 * keys"): each entry occupies a slot, a small integer. The key index takes a key to its slot:
 * number keys go to an open-addressing table of slot numbers (internal/number-table.ts:
 * seeded, 8 to 16 bytes per entry, no `Map` operation on the paths of a number-keyed cache),
 * every other key (strings, which V8 hashes once and caches; objects; NaN) to a `Map`.
 * Plain arrays indexed by slot hold keys and values; typed arrays hold weights and key hashes,
 * each allocated only when the cache needs it. Freed slots go on a free list and are reused first,
 * so once the cache is full no operation allocates. The arrays double up to the entry bound
 * as the cache fills, and never shrink.
 *
 * What it owns: the key index, the slot arrays, the free list, the total weight, the bounds,
 * and the memory of the policy's per-slot arrays (it is the policy's allocator: see
 * internal/typed-arrays.ts). What it does not know: which entry should leave (the policy),
 * when entries expire (the Cache's timer wheel), who hears about removals (removals.ts).
 * It never calls user code.
 *
 * Protocol with its owner (cache.ts): `allocate()` a slot, `put()` an entry in it, `remove()`
 * it (which frees the slot); a slot the policy returned as a victim is `remove()`d the same
 * way. When the arrays grow, `allocate()` calls the owner's `grown(slots)` hook so that
 * arrays the owner keeps beside the store (expiry deadlines, the policy's) grow with them.
 *
 * A store over shared memory (src/shared/) implements the same PolicyHost over a
 * SharedArrayBuffer with a fixed slot count; the policies cannot tell the difference.
 */
import type { PolicyHost } from './policies/policy.js';
import { GrowableArrays, growFloat64, growInt32 } from './internal/typed-arrays.js';
import { hashKey } from './internal/hash.js';
import { NumberTable, isTableKey } from './internal/number-table.js';

/** First slot allocation; arrays double from here up to the entry bound. */
const INITIAL_SLOTS = 64;
/** First free-list allocation; it doubles when deletes or expiries free more slots at once. */
const FREE_LIST_INITIAL = 16;
/** Slot numbers are int32 and array lengths stay below 2^31. */
const MAX_SLOTS = 2 ** 31 - 1;

export interface StoreConfig {
  /** Entry bound (Infinity when only weight bounds the cache). */
  maxEntries: number;
  /** Weight bound (Infinity when the cache is bounded by entries only). */
  maxWeight: number;
  /** Entries carry weights (maxWeight, maxBytes or a weigher given). */
  weighted: boolean;
  /** Seed for key hashes and the policy's own hashing. */
  seed: number;
}

export class SlotStore<K, V> extends GrowableArrays implements PolicyHost {
  /** Key -> slot for keys that are not numbers, and NaN (see {@link find}). */
  readonly map = new Map<K, number>();
  /** Key -> slot for number keys but NaN. */
  readonly nums: NumberTable;
  /** Per slot: the key and the value (grown in place, so their owners may keep references). */
  readonly keyAt: (K | undefined)[];
  readonly valAt: (V | undefined)[];
  /** Per slot: the entry's weight (empty when the cache keeps no weights). */
  weights: Float64Array;
  /** Per slot: the key's seeded hash, when the policy reads hashes often enough to keep them. */
  hashes: Int32Array;
  /** Sum of the live entries' weights. */
  totalWeight = 0;
  /** Hits served (PolicyHost.hits; the cache's statistics read it too). */
  hits = 0;

  maxEntries: number;
  maxWeight: number;
  /** Capacity is counted in weight (maxWeight given), not entries. */
  readonly byWeight: boolean;
  readonly weighted: boolean;
  readonly seed: number;
  /** Hashes are kept per slot (set once the policy is known: {@link keepHashes}). */
  storeHash = false;

  /** Slots allocated in the arrays, and the most they may grow to. */
  slots: number;
  slotLimit: number;
  /** Slots below this have been handed out at least once. */
  nextFresh = 0;
  private free: Int32Array;
  private freeTop = 0;
  /** Called after the arrays grew to `slots`, for arrays kept beside the store. */
  grown: (slots: number) => void = () => {};

  constructor(c: StoreConfig) {
    super();
    this.maxEntries = c.maxEntries;
    this.maxWeight = c.maxWeight;
    this.byWeight = c.maxWeight !== Infinity;
    this.weighted = c.weighted;
    this.seed = c.seed;
    this.slotLimit = Math.min(c.maxEntries, MAX_SLOTS);
    this.slots = Math.min(INITIAL_SLOTS, this.slotLimit);
    this.keyAt = new Array<K | undefined>(this.slots).fill(undefined);
    this.valAt = new Array<V | undefined>(this.slots).fill(undefined);
    this.nums = new NumberTable(this.keyAt, c.seed);
    // The free list grows only as slots are freed: evictions free a slot and reuse it at
    // once, so a cache that only evicts never pays 4 bytes per slot for it.
    this.free = new Int32Array(FREE_LIST_INITIAL);
    this.weights = new Float64Array(this.weighted ? this.slots : 0);
    this.hashes = new Int32Array(0);
  }

  /** Keep a hash per slot (for a policy that reads them often; see Policy.hashOnDemand). */
  keepHashes(): void {
    this.storeHash = true;
    this.hashes = new Int32Array(this.slots);
  }

  // ---- PolicyHost ----

  get capacity(): number {
    return this.byWeight ? this.maxWeight : this.maxEntries;
  }
  costOf(slot: number): number {
    return this.byWeight ? this.weights[slot]! : 1;
  }
  hashOf(slot: number): number {
    return this.storeHash ? this.hashes[slot]! : hashKey(this.keyAt[slot], this.seed);
  }

  // ---- slots ----

  /**
   * Entries held (both indexes). A field kept by put/remove rather than a getter over the two
   * indexes' sizes: measured, the getter cost string-keyed writes 14% at 1,000 entries.
   */
  size = 0;

  /** The slot holding `key`, or -1. */
  find(key: K): number {
    if (isTableKey(key)) return this.nums.find(key);
    const slot = this.map.get(key);
    return slot === undefined ? -1 : slot;
  }

  /** Index `slot` under `key` (absent from the index); -0 is stored as 0, as a Map does. */
  private link(key: K, slot: number): void {
    if (isTableKey(key)) {
      this.keyAt[slot] = (key === 0 ? 0 : key) as K;
      this.nums.insert(key, slot);
    } else {
      this.keyAt[slot] = key;
      this.map.set(key, slot);
    }
  }

  /** Take the key in `slot` out of the index. */
  private unlink(slot: number): void {
    const key = this.keyAt[slot] as K;
    if (isTableKey(key)) this.nums.remove(key, slot);
    else this.map.delete(key);
  }

  /**
   * The slots holding entries, in slot order. Live: an entry removed before the walk reaches
   * it is skipped; one added meanwhile is seen if its slot is still ahead.
   */
  *live(): IterableIterator<number> {
    for (let s = 0; s < this.nextFresh; s++) if (this.valAt[s] !== undefined) yield s;
  }

  /** A free slot (reused first, else fresh; grows the arrays when they are full). */
  allocate(): number {
    if (this.freeTop > 0) return this.free[--this.freeTop]!;
    if (this.nextFresh === this.slots) this.grow();
    return this.nextFresh++;
  }

  /** Fill an allocated slot with an entry of weight `w` and hash `hash` (ignored unless kept). */
  put(slot: number, key: K, value: V, w: number, hash: number): void {
    this.valAt[slot] = value;
    if (this.weighted) {
      this.weights[slot] = w;
      this.totalWeight += w;
    }
    if (this.storeHash) this.hashes[slot] = hash;
    this.link(key, slot);
    this.size++;
  }

  /**
   * Give the victim's `slot` to a new unweighted entry in one step (the plain set path of a
   * full cache): the old key leaves the index, the slot is never on the free list.
   */
  reuse(slot: number, key: K, value: V, hash: number): void {
    this.unlink(slot);
    this.valAt[slot] = value;
    if (this.storeHash) this.hashes[slot] = hash;
    this.link(key, slot);
  }

  /** Set the weight of a live entry (an update in place). */
  reweigh(slot: number, w: number): void {
    this.totalWeight += w - this.weights[slot]!;
    this.weights[slot] = w;
  }

  /** Take the entry out of `slot` and free the slot. */
  remove(slot: number): void {
    this.unlink(slot);
    this.size--;
    if (this.weighted) this.totalWeight -= this.weights[slot]!;
    if (this.size === 0) this.totalWeight = 0; // no float drift once empty
    this.keyAt[slot] = undefined;
    this.valAt[slot] = undefined;
    if (this.freeTop === this.free.length) this.free = growInt32(this.free, this.free.length * 2);
    this.free[this.freeTop++] = slot;
  }

  /** Forget every entry (the arrays keep their size). */
  clear(): void {
    this.size = 0;
    this.map.clear();
    this.nums.clear();
    this.keyAt.fill(undefined);
    this.valAt.fill(undefined);
    this.nextFresh = 0;
    this.freeTop = 0;
    this.totalWeight = 0;
  }

  /** New bounds (resize); the arrays grow on demand up to the new entry bound, never shrink. */
  setBounds(maxEntries: number, maxWeight: number): void {
    this.maxEntries = maxEntries;
    this.maxWeight = maxWeight;
    this.slotLimit = Math.max(this.slots, Math.min(maxEntries, MAX_SLOTS));
  }

  private grow(): void {
    const n = Math.min(this.slots * 2, this.slotLimit);
    if (n <= this.slots) throw new Error('cortado: slot store is full');
    this.keyAt.length = n;
    this.valAt.length = n;
    this.keyAt.fill(undefined, this.slots);
    this.valAt.fill(undefined, this.slots);
    if (this.weighted) this.weights = growFloat64(this.weights, n);
    if (this.storeHash) this.hashes = growInt32(this.hashes, n);
    this.slots = n;
    if (this.nums.size > 0) this.nums.reserve(n);
    this.grown(n);
  }

  /**
   * The store's half of the invariant walk: index, slots and free list agree, the weight is
   * the sum, bounds hold, kept hashes are current. Returns the live slots for the rest of the
   * walk (policy, expiry). Throws on the first broken invariant (tests only; slow).
   */
  validate(): Set<number> {
    const live = new Set<number>();
    for (const [key, slot] of this.map) {
      if (slot < 0 || slot >= this.nextFresh) throw new Error(`store: key maps to slot ${slot} outside 0..${this.nextFresh}`);
      if (live.has(slot)) throw new Error(`store: slot ${slot} mapped twice`);
      if (!Object.is(this.keyAt[slot], key) && !(this.keyAt[slot] === key)) throw new Error(`store: slot ${slot} holds another key`);
      if (isTableKey(key)) throw new Error(`store: number key ${key} is in the Map`);
      live.add(slot);
    }
    for (const slot of this.nums.validate()) {
      if (slot < 0 || slot >= this.nextFresh) throw new Error(`store: int key maps to slot ${slot} outside 0..${this.nextFresh}`);
      if (live.has(slot)) throw new Error(`store: slot ${slot} mapped twice`);
      live.add(slot);
    }
    for (let s = 0; s < this.nextFresh; s++) {
      if ((this.valAt[s] !== undefined) !== live.has(s)) throw new Error(`store: slot ${s} holds a value but is not indexed, or the reverse`);
    }
    const freeSet = new Set<number>();
    for (let i = 0; i < this.freeTop; i++) {
      const s = this.free[i]!;
      if (live.has(s)) throw new Error(`store: live slot ${s} on the free list`);
      if (freeSet.has(s)) throw new Error(`store: slot ${s} twice on the free list`);
      if (this.valAt[s] !== undefined || this.keyAt[s] !== undefined) throw new Error(`store: free slot ${s} still holds a key or value`);
      freeSet.add(s);
    }
    if (live.size + freeSet.size !== this.nextFresh) {
      throw new Error(`store: ${live.size} live + ${freeSet.size} free != ${this.nextFresh} used slots`);
    }
    if (this.weighted) {
      let total = 0;
      for (const s of live) total += this.weights[s]!;
      if (Math.abs(total - this.totalWeight) > 1e-6 * Math.max(1, total)) throw new Error(`store: weight ${this.totalWeight} != sum ${total}`);
    }
    if (this.size !== this.map.size + this.nums.size) throw new Error(`store: size ${this.size} != ${this.map.size} in the Map + ${this.nums.size} in the table`);
    if (this.size > this.maxEntries) throw new Error(`bound: ${this.size} entries > maxEntries ${this.maxEntries}`);
    if (this.totalWeight > this.maxWeight * (1 + 1e-12)) throw new Error(`bound: weight ${this.totalWeight} > maxWeight ${this.maxWeight}`);
    if (this.storeHash) {
      for (const s of live) {
        if (this.hashes[s] !== hashKey(this.keyAt[s], this.seed)) throw new Error(`store: slot ${s} hash is stale`);
      }
    }
    return live;
  }
}
