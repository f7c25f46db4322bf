/**
 * Named errors of the loading layer.
 *
 * Each class carries a stable `code` (match on it, not on the message) and, where another
 * error is the reason, a `cause`. `name` follows the Web platform where one exists
 * ('AbortError', 'TimeoutError'), so code that already checks `err.name === 'AbortError'`
 * for fetch()/undici aborts handles the cache's aborts too.
 *
 * What a loader itself throws is never wrapped: callers receive that very error object.
 */

/** A fetch() was given up: the caller's signal fired, or the load it waited on was cancelled. */
export class AbortError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'ERR_CORTADO_ABORTED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A load ran longer than `loadTimeout`; its signal was aborted with this error as the reason. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ERR_CORTADO_LOAD_TIMEOUT';
  /** The limit that was exceeded, in ms. */
  readonly timeout: number;
  constructor(message: string, timeout: number) {
    super(message);
    this.timeout = timeout;
  }
}

/** fetch()/fetchAll() was called on a cache with no loader, and the call gave none either. */
export class LoaderMissingError extends TypeError {
  override readonly name = 'LoaderMissingError';
  readonly code = 'ERR_CORTADO_NO_LOADER';
  constructor(message: string) {
    super(message);
  }
}

/** `loadAll` resolved without an entry for a key it was asked for. */
export class MissingKeyError extends Error {
  override readonly name = 'MissingKeyError';
  readonly code = 'ERR_CORTADO_LOADALL_MISSING_KEY';
  /** The key that loadAll left out. */
  readonly key: unknown;
  constructor(message: string, key: unknown) {
    super(message);
    this.key = key;
  }
}

/**
 * A user callback called back into the cache in a way the cache refuses, to stay consistent.
 *
 * The rule (docs/loading.md, README "Callbacks"): `weigher`, `shouldUpdate` and `clock` run in
 * the middle of an operation, so from inside them the cache is read-only (a write throws this
 * error, and the clock may not call the cache at all); a loader may not fetch or delete its
 * own key synchronously (that would wait on itself, or restart itself forever). `onRemove` runs
 * once the cache is consistent and may do anything.
 */
export class ReentrancyError extends Error {
  override readonly name = 'ReentrancyError';
  readonly code = 'ERR_CORTADO_REENTRANT';
  constructor(message: string) {
    super(message);
  }
}

/**
 * A fetch() gave up because its key was deleted during every one of its loads (each delete
 * makes the load under way stale and starts another; after {@link LoadInvalidatedError.limit}
 * in a row the callers are told instead of looping forever). The usual cause is a loader that
 * deletes its own key.
 */
export class LoadInvalidatedError extends Error {
  override readonly name = 'LoadInvalidatedError';
  readonly code = 'ERR_CORTADO_LOAD_INVALIDATED';
  /** How many loads in a row were invalidated. */
  readonly limit: number;
  constructor(message: string, limit: number) {
    super(message);
    this.limit = limit;
  }
}
