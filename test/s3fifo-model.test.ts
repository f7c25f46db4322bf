/**
 * S3-FIFO against a model written from the paper's description (small FIFO S, main FIFO M with
 * a 2-bit CLOCK, exact ghost FIFO of evicted keys), on caches small enough that cortado's ghost
 * is an exact FIFO (up to 64 records). Random gets, sets, updates and deletes; after every
 * operation the model's victims and resident keys must equal the cache's, on the plain set
 * path (no listener) and on the general one (an onRemove listener), and the cache's invariants
 * (queue links, costs, the fingerprints kept per slot, the ghost's counts) must hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache } from 'cortado';
import { check, prng } from './helpers.js';

/** The model: keys instead of fingerprints, arrays for the queues (index 0 is the oldest). */
class ModelS3Fifo {
  readonly small: string[] = [];
  readonly main: string[] = [];
  readonly ghost: string[] = [];
  readonly freq = new Map<string, number>();
  readonly evicted: string[] = [];
  private readonly smallCap: number;
  private readonly ghostCap: number;

  constructor(private readonly cap: number) {
    this.smallCap = Math.max(1, Math.floor(cap * 0.1));
    this.ghostCap = Math.floor(cap * 0.9);
  }

  has(k: string): boolean {
    return this.freq.has(k);
  }

  get(k: string): void {
    const f = this.freq.get(k);
    if (f !== undefined) this.freq.set(k, Math.min(3, f + 1));
  }

  set(k: string): void {
    if (this.freq.has(k)) return this.get(k); // an update counts as an access
    const g = this.ghost.indexOf(k);
    if (g >= 0) this.ghost.splice(g, 1);
    if (this.small.length + this.main.length >= this.cap) this.evicted.push(this.evict());
    this.freq.set(k, 0);
    if (g >= 0) this.main.push(k);
    else this.small.push(k);
  }

  delete(k: string): void {
    if (!this.freq.has(k)) return;
    this.freq.delete(k);
    const q = this.small.includes(k) ? this.small : this.main;
    q.splice(q.indexOf(k), 1);
  }

  private evict(): string {
    if (this.main.length > this.cap - this.smallCap || this.small.length === 0) return this.evictMain();
    while (this.small.length > 0) {
      const k = this.small.shift()!;
      if (this.freq.get(k)! >= 2) {
        this.freq.set(k, 0);
        this.main.push(k);
      } else {
        this.freq.delete(k);
        this.ghost.push(k);
        if (this.ghost.length > this.ghostCap) this.ghost.shift();
        return k;
      }
    }
    return this.evictMain();
  }

  private evictMain(): string {
    for (;;) {
      const k = this.main.shift()!;
      const f = this.freq.get(k)!;
      if (f > 0) {
        this.freq.set(k, f - 1);
        this.main.push(k);
      } else {
        this.freq.delete(k);
        return k;
      }
    }
  }
}

// Up to 40 entries (a ghost of 36 records). At 70 entries (63 records) the cache's ghost leaves
// an exact FIFO after about a thousand operations, the same way before and after the
// 2026-11-26 changes: takes leave holes, the live records then span more than the 96 epochs a
// ghost keeps, and the oldest are forgotten early (ghost.ts, MAX_SPAN).
for (const cap of [1, 3, 10, 25, 40]) {
  for (const listener of [false, true]) {
    test(`s3fifo: ${cap} entries, ${listener ? 'general path (listener)' : 'plain path'}: victims and residents equal the model's`, () => {
      const model = new ModelS3Fifo(cap);
      const evicted: string[] = [];
      const cache = new Cache<string, number>({
        maxEntries: cap,
        policy: 's3fifo',
        seed: 7,
        ...(listener ? { onRemove: (k: string, _v: number, cause: string) => void (cause === 'evicted' && evicted.push(k)) } : {}),
      });
      const rand = prng(cap * 31 + (listener ? 1 : 0));
      const universe = cap * 3 + 5;
      // Skewed keys, so that some are hit often enough to reach M and some come back from the ghost.
      const key = () => `k${Math.floor(rand() ** 2 * universe)}`;
      let ghostReturns = 0;
      for (let i = 0; i < 6000; i++) {
        const k = key();
        const r = rand();
        if (r < 0.45) {
          const hit = cache.get(k) !== undefined;
          assert.equal(hit, model.has(k), `op ${i}: get(${k})`);
          model.get(k);
        } else if (r < 0.93) {
          if (!model.has(k) && model.ghost.includes(k)) ghostReturns++;
          cache.set(k, i);
          model.set(k);
        } else {
          cache.delete(k);
          model.delete(k);
        }
        if (listener) assert.deepEqual(evicted, model.evicted, `op ${i}: victims`);
        if (i % 50 === 0 || i > 5900) {
          for (let j = 0; j < universe; j++) assert.equal(cache.has(`k${j}`), model.has(`k${j}`), `op ${i}: k${j} resident`);
          check(cache);
        }
      }
      assert.equal(cache.size, model.small.length + model.main.length);
      if (cap >= 10) assert.ok(ghostReturns > 50, `only ${ghostReturns} ghost returns: the test did not exercise the ghost`);
    });
  }
}
