/**
 * Unstable internals for tests and tools (`cortado/internal`); not part of the public API.
 */
import type { Cache } from '../cache.js';

/** Walk every internal structure of `cache` and throw on the first broken invariant. */
export function validate(cache: Cache<unknown, unknown>): void {
  (cache as unknown as { _validate(): void })._validate();
}

export { POLICY_FACTORIES, POLICY_NAMES } from '../policies/index.js';
export { hashKey } from './hash.js';
export { TimerWheel } from './timer-wheel.js';
export { FrequencySketch, Doorkeeper } from './sketch.js';
export { Ghost } from './ghost.js';
export { GhostRing } from './ghost-ring.js';
export { prng } from '../sim/synthetic.js';
