/**
 * Named errors of the tiered layer, each with a stable `code` (match on it, not on the message).
 *
 * Why a shared class for "closed": every tier (memory, disk, Redis, a user's own) rejects calls
 * after `close()`, and `TieredCache` treats that rejection as "this tier is gone" rather than as
 * an outage to retry. One class and one code let callers handle every tier the same way.
 */

/** A call reached a tier (or a TieredCache) after its `close()`. */
export class TierClosedError extends Error {
  override readonly name = 'TierClosedError';
  readonly code = 'ERR_CORTADO_TIER_CLOSED';
  constructor(message: string) {
    super(message);
  }
}

/** A tier call ran past the per-tier `timeout` of a TieredCache (the call is abandoned, not cancelled). */
export class TierTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ERR_CORTADO_TIER_TIMEOUT';
  /** The limit that was exceeded, in ms. */
  readonly timeout: number;
  constructor(message: string, timeout: number) {
    super(message);
    this.timeout = timeout;
  }
}
