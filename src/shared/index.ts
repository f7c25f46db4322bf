/**
 * cortado/shared: a cache shared by every worker_thread of a process (docs/shared.md).
 */
export { SharedCache, ReadHandle, WriteHandle, ReleasedHandleError, DEFAULT_SHARED_POLICY } from './cache.js';
export type { SharedCacheOptions, SharedAttachOptions, SharedSetOptions, SharedCacheDescriptor, SharedCacheStats, SharedPolicyName } from './cache.js';
export { SharedCacheLockTimeoutError } from './store.js';
