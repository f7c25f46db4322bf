/**
 * The contract of a tier below memory (disk, Redis, or a user's own), as `TieredCache` uses it.
 *
 * Why bytes and strings: a lower tier lives outside the JS heap (a file, another process,
 * another machine), so what crosses into it is bytes made by a `Codec` (codec.ts), under a key
 * that is a string or a Uint8Array compared by its bytes. Keeping the tier byte-oriented lets
 * one conformance suite (test/tier-conformance.ts) hold every tier to the same behaviour.
 *
 * What a tier MUST do:
 * - `get` resolves the bytes of the last completed `set` of that key, with the time it has
 *   left, or `undefined` (never expired bytes, never another key's bytes, never bytes that
 *   fail the tier's own integrity check). A tier may forget anything at any time (it is a
 *   cache): `undefined` is always an allowed answer, a wrong value never is.
 * - `ttl` is in milliseconds; 0 or absent means no expiry (callers pass 0, never Infinity; a
 *   negative, NaN or infinite ttl is a RangeError). `get` reports the remaining time as `ttl`
 *   (Infinity for none; at most the ttl given) so that a value promoted to memory never
 *   outlives its copy below.
 * - A `set` the tier declines (too large, admission, throttling; counted in `rejected`) still
 *   removes any older value of that key: a `get` never returns bytes older than the last
 *   `set` that resolved.
 * - After `delete(key)` or `clear()` resolves, no `get` that starts later returns what was
 *   removed (not after a restart either, for a tier that persists).
 * - Operations on one key that overlap resolve in some order consistent with their calls:
 *   a `get` overlapping a `set` returns the old bytes, the new bytes or undefined. (TieredCache
 *   itself never overlaps two writes of one key on one tier: it queues them per key.)
 * - A tier owns the bytes given to `set` only until the promise resolves; the caller may
 *   reuse the buffer afterwards. The bytes `get` resolves belong to the caller: no later call
 *   on the tier changes them (a tier that reads into a reused buffer copies out of it).
 * - Keys compare by bytes: a string key is its UTF-8 bytes, so 'abc' and the Uint8Array
 *   [0x61, 0x62, 0x63] name one entry; [0xff] and [0xfe] name two; NUL bytes and the empty
 *   key are ordinary keys.
 * - Bad arguments reject (or throw) a TypeError/RangeError naming the argument, and change
 *   nothing; a tier that is closed rejects with an error with a stable `code` (tiers in this
 *   package use `TierClosedError`, code 'ERR_CORTADO_TIER_CLOSED', from errors.ts; args.ts
 *   has the shared argument checks). `stats()` still answers after `close()`. A call in
 *   flight when `close()` is called settles (resolves or rejects); it never hangs.
 * - Errors of the backing store reject the call; they never hang it past the tier's own
 *   timeout and never escape as unhandled rejections.
 */

/** Keys of byte-oriented tiers: strings, or Uint8Arrays compared by bytes. */
export type TierKey = string | Uint8Array;

/** What a tier's `get` finds. */
export interface TierEntry {
  /** The stored bytes. */
  bytes: Uint8Array;
  /** ms left before the entry expires; Infinity when it does not expire. */
  ttl: number;
}

export interface TierSetOptions {
  /** Time-to-live in ms; 0 or absent: no expiry. */
  ttl?: number | undefined;
}

/** Counters every tier reports; a tier may add its own fields. */
export interface TierStats {
  hits: number;
  misses: number;
  /** Completed sets. */
  writes: number;
  /** Bytes accepted by completed sets. */
  bytesWritten: number;
  /** Sets the tier declined to keep (admission, throttling, too large, outage). */
  rejected: number;
  /** Calls that failed with an error of the backing store. */
  errors: number;
  /** Items whose bytes failed verification (counted as misses too). */
  corruptions: number;
}

export interface Tier {
  /** A short name for stats and messages ('disk', 'redis', 'memory', ...). */
  readonly name: string;
  get(key: TierKey): Promise<TierEntry | undefined>;
  set(key: TierKey, bytes: Uint8Array, options?: TierSetOptions): Promise<void>;
  /** Resolves true when the key was present. */
  delete(key: TierKey): Promise<boolean>;
  clear(): Promise<void>;
  /** Flushes what must survive, releases resources; later calls reject. Idempotent. */
  close(): Promise<void>;
  stats(): TierStats;
}
