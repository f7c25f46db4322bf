/**
 * Named errors of the Redis tier and bus, each with a stable `code` (match on it, not on the
 * message) and, where the Redis client reported the reason, that error as `cause`.
 *
 * Why three classes: a caller reacts differently to "Redis is away" (fall back to memory and
 * the loader, retry later), "Redis is slow" (the same, but it may come back with the answer
 * after all) and "Redis said no" (a bug or a misconfigured server: WRONGTYPE, NOPERM, OOM), so
 * they are told apart by class and code rather than by parsing client messages.
 * A closed tier rejects with the shared `TierClosedError` of cortado/tiered.
 */

/** Redis cannot be reached: the connection is down, or the circuit breaker is open. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'ERR_CORTADO_REDIS_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A Redis call ran past its `timeout` (it is abandoned; Redis may still carry it out). */
export class RedisTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ERR_CORTADO_REDIS_TIMEOUT';
  /** The limit that was exceeded, in ms. */
  readonly timeout: number;
  constructor(message: string, timeout: number) {
    super(message);
    this.timeout = timeout;
  }
}

/** The server answered a command with an error reply (WRONGTYPE, NOPERM, OOM, ...). */
export class RedisReplyError extends Error {
  override readonly name = 'RedisReplyError';
  readonly code = 'ERR_CORTADO_REDIS_REPLY';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
