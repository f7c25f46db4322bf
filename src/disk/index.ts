/**
 * `cortado/disk`: DiskTier, a flash-style cache tier in a directory (regions for large items,
 * buckets for small ones, checksums, warm restart, admission); see docs/disk.md.
 */
export { DiskTier, BUCKET_SIZE } from './disk-tier.js';
export type { DiskTierOptions, DiskAdmissionOptions, DiskRecovery, DiskTierStats } from './disk-tier.js';
export { DiskTierError, DiskLockedError, DiskPathError, DiskSpaceError, DiskRecoveryError, DiskTierClosedError } from './errors.js';
