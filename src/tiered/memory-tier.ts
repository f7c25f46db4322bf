/**
 * MemoryTier: the reference `Tier` over a `Map`, with ms TTL read from an injected clock.
 *
 * Why it exists: it is the model the conformance suite (test/tier-conformance.ts) is checked
 * against first, the tier `TieredCache`'s own tests stack (so they need no disk and no
 * server), and a readable statement of the contract in tier.ts: copy bytes in, copy bytes out,
 * one identity per key's bytes, expiry by deadline, stats that move. It is not meant to be
 * fast; a `Cache` is the fast in-memory layer.
 *
 * Shape: one `Map` from the key's byte string (tierKeyId) to { bytes, expiresAt }. The Map's
 * insertion order doubles as LRU order (a hit re-inserts), so an optional `maxBytes` bound
 * evicts from the front. Every operation completes synchronously and then resolves, so
 * operations on one key take effect in call order.
 */
import { checkFunction, checkPositive, describe } from '../options.js';
import { checkTierBytes, checkTierKey, readTierTtl, tierKeyId } from './args.js';
import { TierClosedError } from './errors.js';
import type { Tier, TierEntry, TierKey, TierSetOptions, TierStats } from './tier.js';

export interface MemoryTierOptions {
  /** Name in stats and messages (default 'memory'). */
  name?: string | undefined;
  /** Millisecond clock for expiry (default `performance.now()`); inject one in tests. */
  clock?: (() => number) | undefined;
  /** Bound on the bytes of the values held (least recently used go first); default: none. */
  maxBytes?: number | undefined;
  /** Largest value accepted; a larger set is declined (counted in `rejected`). Default: maxBytes. */
  maxValueBytes?: number | undefined;
}

interface Slot {
  bytes: Uint8Array;
  /** Absolute deadline on the tier's clock; Infinity for none. */
  expiresAt: number;
}

const KNOWN = new Set(['name', 'clock', 'maxBytes', 'maxValueBytes']);
const defaultClock = (): number => performance.now();

export class MemoryTier implements Tier {
  readonly name: string;
  private readonly clock: () => number;
  private readonly maxBytes: number;
  private readonly maxValueBytes: number;
  private readonly map = new Map<string, Slot>();
  private held = 0;
  private closed = false;
  private readonly counters: TierStats = { hits: 0, misses: 0, writes: 0, bytesWritten: 0, rejected: 0, errors: 0, corruptions: 0 };
  private evictions = 0;

  constructor(options: MemoryTierOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`cortado: MemoryTier options must be an object, got ${describe(options)}`);
    }
    for (const k of Object.keys(options)) {
      if (!KNOWN.has(k)) throw new TypeError(`cortado: unknown MemoryTier option ${JSON.stringify(k)}`);
    }
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
      throw new TypeError(`cortado: MemoryTier name must be a non-empty string, got ${describe(options.name)}`);
    }
    checkFunction('clock', options.clock);
    this.name = options.name ?? 'memory';
    this.clock = options.clock ?? defaultClock;
    this.maxBytes = options.maxBytes === undefined ? Infinity : checkPositive('maxBytes', options.maxBytes);
    this.maxValueBytes = options.maxValueBytes === undefined ? this.maxBytes : checkPositive('maxValueBytes', options.maxValueBytes);
  }

  /** Entries held (expired ones included until a read or a write finds them). */
  get size(): number {
    return this.map.size;
  }

  async get(key: TierKey): Promise<TierEntry | undefined> {
    checkTierKey('get', key);
    this.open('get');
    const id = tierKeyId(key);
    const slot = this.map.get(id);
    if (slot === undefined) {
      this.counters.misses++;
      return undefined;
    }
    const left = slot.expiresAt - this.clock();
    if (left <= 0) {
      this.drop(id, slot);
      this.counters.misses++;
      return undefined;
    }
    // Re-insert: the Map's order is the LRU order.
    this.map.delete(id);
    this.map.set(id, slot);
    this.counters.hits++;
    // A copy: the caller owns what it gets.
    return { bytes: slot.bytes.slice(), ttl: left };
  }

  async set(key: TierKey, bytes: Uint8Array, options?: TierSetOptions): Promise<void> {
    checkTierKey('set', key);
    checkTierBytes('set', bytes);
    const ttl = readTierTtl('set', options);
    this.open('set');
    const id = tierKeyId(key);
    const old = this.map.get(id);
    if (old !== undefined) this.drop(id, old);
    if (bytes.byteLength > this.maxValueBytes) {
      // Declined; the older value went above, so no get returns bytes older than this set.
      this.counters.rejected++;
      return;
    }
    const slot: Slot = { bytes: bytes.slice(), expiresAt: ttl > 0 ? this.clock() + ttl : Infinity };
    this.map.set(id, slot);
    this.held += bytes.byteLength;
    this.counters.writes++;
    this.counters.bytesWritten += bytes.byteLength;
    while (this.held > this.maxBytes) {
      const first = this.map.entries().next().value as [string, Slot];
      this.drop(first[0], first[1]);
      this.evictions++;
    }
  }

  async delete(key: TierKey): Promise<boolean> {
    checkTierKey('delete', key);
    this.open('delete');
    const id = tierKeyId(key);
    const slot = this.map.get(id);
    if (slot === undefined) return false;
    this.drop(id, slot);
    return slot.expiresAt > this.clock();
  }

  async clear(): Promise<void> {
    this.open('clear');
    this.map.clear();
    this.held = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.map.clear();
    this.held = 0;
  }

  stats(): TierStats & { evictions: number; entries: number; bytes: number } {
    return { ...this.counters, evictions: this.evictions, entries: this.map.size, bytes: this.held };
  }

  private drop(id: string, slot: Slot): void {
    this.map.delete(id);
    this.held -= slot.bytes.byteLength;
  }

  private open(where: string): void {
    if (this.closed) throw new TierClosedError(`cortado: ${where}() on the closed tier ${JSON.stringify(this.name)}`);
  }
}
