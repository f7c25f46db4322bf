/** `cortado/tiered`: memory in front of lower tiers (TieredCache), the Tier and bus contracts, a reference tier. */
export { MemoryTier, type MemoryTierOptions } from './memory-tier.js';
export { TierClosedError, TierTimeoutError } from './errors.js';
export { checkTierBytes, checkTierKey, readTierTtl, tierKeyId } from './args.js';
export type { Tier, TierEntry, TierKey, TierSetOptions, TierStats } from './tier.js';
export type { Invalidation, InvalidationBus } from './bus.js';
export type { Codec, CodecName } from '../codec.js';
export { TieredCache, TierWriteError } from './tiered-cache.js';
export type { TierLayer, TieredCacheOptions, TieredErrorHandler, TieredFetchOptions, TieredLayerStats, TieredLoader, TieredSetOptions, TieredStats, WriteMode } from './tiered-cache.js';
