/**
 * deadline(): a promise bounded in time, for every call cortado makes to something that may
 * hang (a tier, a Redis server). The call itself is not cancelled (a promise cannot be); the
 * caller stops waiting. Written once so that the timer is always cleared when the call settles
 * first, and never outlives it.
 */

/** Resolves as `promise` does, or rejects after `ms` with `onTimeout()`; the timer never outlives it. */
export function deadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
