/**
 * Unstable internals for tests and tools (`cortado/internal`); not part of the public API.
 *
 * It lives at the top of src/ and not in src/internal/ because it gathers pieces from every
 * layer (policies, the simulator's PRNG), while src/internal/ holds building blocks that
 * import nothing above them.
 */
import type { Cache } from './cache.js';

/** Walk every internal structure of `cache` and throw on the first broken invariant. */
export function validate(cache: Cache<unknown, unknown>): void {
  (cache as unknown as { _validate(): void })._validate();
}

export { POLICY_FACTORIES, POLICY_NAMES, REGISTRY, policyDescriptor } from './policies/index.js';
export { hashKey } from './internal/hash.js';
export { TimerWheel } from './internal/timer-wheel.js';
export { FrequencySketch, Doorkeeper } from './internal/sketch.js';
export { Frequency, MAX_HITS } from './internal/frequency.js';
export { GrowableArrays, FixedArrays } from './internal/typed-arrays.js';
export { Ghost } from './internal/ghost.js';
export { GhostTable } from './internal/ghost-table.js';
export { NumberTable, isTableKey } from './internal/number-table.js';
export { prng } from './sim/synthetic.js';
