/**
 * The contract of an invalidation bus: how one process tells every other process that shares
 * a lower tier (Redis, typically) to drop its stale in-memory copies.
 *
 * Why only invalidations: a bus that carried values would race the shared tier (two writers,
 * two orders) and would cost bandwidth per write. Carrying "this key changed" is enough: the
 * next read in another process misses memory and reads the shared tier, which is the truth.
 * (bentocache's bus works the same way.)
 *
 * What a bus MUST do:
 * - `publish` sends to every other subscriber on the same channel; a process never receives
 *   its own messages (the bus tags them with an origin id and filters them out).
 * - `subscribe` calls `onMessage` for each message from another process, in the order the
 *   channel delivered them, and `onGap` whenever messages may have been lost (the
 *   subscription dropped and came back): the subscriber must then drop whatever it cannot
 *   prove fresh. `onGap` is also called if the first connection is late, so nothing from
 *   before the subscription is trusted.
 * - `publish` is bounded in time; failing to publish rejects (the caller counts it), it never
 *   hangs and never throws synchronously.
 */

/** What one process tells the others. Keys are the tier keys (strings, after the key codec). */
export type Invalidation = { readonly type: 'delete'; readonly keys: readonly string[] } | { readonly type: 'clear' };

export interface InvalidationBus {
  /** Start delivering other processes' messages. Resolves once subscribed. */
  subscribe(onMessage: (message: Invalidation) => void, onGap: () => void): Promise<void>;
  /** Tell every other process. */
  publish(message: Invalidation): Promise<void>;
  /** Stop; idempotent. */
  close(): Promise<void>;
}
