/**
 * The removal-event queue: every entry that leaves a cache, or value that never enters it,
 * is reported exactly once, to the user's onRemove, to internal taps (a tier hearing memory's
 * evictions) and to the `cortado:remove` diagnostics channel.
 *
 * Why a queue and not direct calls: a removal happens in the middle of an operation (an
 * eviction inside set(), an expiry inside get()), when the store is not yet consistent. The
 * cache queues events while it works and delivers them once it is consistent again, so a
 * listener may call back into the cache. Events that such a call causes are appended and
 * delivered by the same loop (no recursion), in order.
 *
 * Errors: a listener that throws does not stop delivery of the others; the first error is
 * rethrown once the queue is drained, from the operation (which has already taken effect).
 * In quiet mode (writes a load makes on its callers' behalf) it is rethrown on the next tick
 * instead, as Node does for a diagnostics_channel subscriber that throws, so that a broken
 * listener cannot spoil a load's result.
 *
 * Cost: nothing is queued when nobody listens; the queue's arrays are reused.
 */
import type { RemovalCause } from './options.js';
import { removeChannel } from './metrics/channels.js';

export type RemovalListener<K, V> = (key: K, value: V, cause: RemovalCause) => void;

export class RemovalQueue<K, V> {
  private keys: (K | undefined)[] = [];
  private vals: (V | undefined)[] = [];
  private causes: RemovalCause[] = [];
  private count = 0;
  private delivering = false;
  /** Internal listeners beside the user's; null when none. */
  private taps: RemovalListener<K, V>[] | null = null;
  /** True when onRemove or a tap listens (the channel is checked separately: it can change any time). */
  listened: boolean;

  constructor(
    /** The cache named in channel messages. */
    private readonly source: object,
    private readonly listener: RemovalListener<K, V> | undefined,
  ) {
    this.listened = listener !== undefined;
  }

  /** Whether a removal would be heard now (so a caller can skip building events). */
  get heard(): boolean {
    return this.listened || removeChannel.hasSubscribers;
  }

  /** Add an internal listener; returns the function that removes it. */
  tap(fn: RemovalListener<K, V>): () => void {
    (this.taps ??= []).push(fn);
    this.listened = true;
    return () => {
      const taps = this.taps;
      if (taps === null) return;
      const i = taps.indexOf(fn);
      if (i < 0) return;
      taps.splice(i, 1);
      if (taps.length === 0) this.taps = null;
      this.listened = this.listener !== undefined || this.taps !== null;
    };
  }

  enqueue(key: K, value: V, cause: RemovalCause): void {
    if (!this.listened && !removeChannel.hasSubscribers) return;
    // A Map key -0 is the key 0 (SameValueZero); report it as the Map would.
    if ((key as unknown) === 0) key = 0 as K;
    const i = this.count++;
    this.keys[i] = key;
    this.vals[i] = value;
    this.causes[i] = cause;
  }

  /** Deliver what is queued (see the module comment); `quiet`: rethrow listener errors later. */
  deliver(quiet: boolean): void {
    if (this.count === 0 || this.delivering) return;
    const listener = this.listener;
    const taps = this.taps;
    const publish = removeChannel.hasSubscribers;
    this.delivering = true;
    let failed = false;
    let error: unknown;
    try {
      for (let i = 0; i < this.count; i++) {
        const key = this.keys[i] as K;
        const value = this.vals[i] as V;
        this.keys[i] = undefined;
        this.vals[i] = undefined;
        const cause = this.causes[i]!;
        if (publish) removeChannel.publish({ cache: this.source, key, value, cause });
        if (taps !== null) {
          // Internal listeners first: a tier hears an eviction even when the user's throws.
          for (let t = 0; t < taps.length; t++) {
            try {
              taps[t]!(key, value, cause);
            } catch (e) {
              if (!failed) {
                failed = true;
                error = e;
              }
            }
          }
        }
        if (listener === undefined) continue;
        try {
          listener(key, value, cause);
        } catch (e) {
          if (!failed) {
            failed = true;
            error = e;
          }
        }
      }
    } finally {
      this.count = 0;
      this.delivering = false;
    }
    if (!failed) return;
    if (!quiet) throw error;
    process.nextTick(() => {
      throw error;
    });
  }

  /** Throw when events were left undelivered outside delivery (tests). */
  validate(): void {
    if (this.count !== 0 && !this.delivering) throw new Error(`events: ${this.count} undelivered`);
  }
}
