/** `cortado/redis`: Redis as the shared tier of many processes (RedisTier), their invalidation bus (RedisBus), and a cross-process load lock (RedisLock). */
export { RedisTier, type RedisTierOptions, type RedisTierStats, type RedisBreakerOptions } from './redis-tier.js';
export { RedisBus, type RedisBusOptions, type RedisBusStats } from './redis-bus.js';
export { RedisLock, type RedisLockOptions, type RedisLockHandle, type RedisLockStats, type RedisLockWrapOptions, type LockedLoader } from './redis-lock.js';
export { RedisUnavailableError, RedisTimeoutError, RedisReplyError } from './errors.js';
export type { RedisClientLike } from './connection.js';
