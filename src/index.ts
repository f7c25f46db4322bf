export { Cache, DEFAULT_POLICY } from './cache.js';
export type { CacheDump, CacheDumpEntry } from './cache.js';
export type { CacheBound, CacheOptions, CacheSettings, CacheStats, PolicyName, RemovalCause, SetOptions } from './options.js';
export type { BatchLoader, FetchAllOptions, FetchOptions, LoadContext, Loader } from './options.js';
export { AbortError, LoaderMissingError, LoadInvalidatedError, MissingKeyError, ReentrancyError, TimeoutError } from './errors.js';
export type { Policy, PolicyHost, HitCost } from './policies/policy.js';
export { sizeOf } from './sizeof.js';
export { memo } from './memo.js';
export type { DefaultKeyArgs, MemoCache, Memoized, MemoOptions, MemoValue } from './memo.js';
