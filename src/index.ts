export { Cache, DEFAULT_POLICY } from './cache.js';
export type { CacheOptions, CacheStats, PolicyName, RemovalCause, SetOptions } from './options.js';
export type { Policy, PolicyHost, HitCost } from './policies/policy.js';
