/**
 * Named errors of the disk tier, each with a stable `code` (match on it, not on the message)
 * and, where an operating-system error is the reason, that error as `cause`.
 *
 * Why separate classes: a caller that opens a cache directory at start-up wants to tell
 * "another process has it" (wait, or pick another path) from "this path can never work"
 * (a file, unwritable, too small) without parsing messages. The closed error has the name and
 * code every cortado tier uses ('TierClosedError', ERR_CORTADO_TIER_CLOSED) so that
 * TieredCache handles a closed disk tier like any other closed tier.
 */

/** Base class of the disk tier's errors. */
export class DiskTierError extends Error {
  readonly code: string;
  /** The directory the tier was opened on. */
  readonly path: string;
  constructor(code: string, message: string, path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.path = path;
  }
}

/** Another DiskTier (in this process or another live one) holds the directory's lock. */
export class DiskLockedError extends DiskTierError {
  override readonly name = 'DiskLockedError';
  /** pid written in the lock file by the holder. */
  readonly pid: number;
  constructor(message: string, path: string, pid: number) {
    super('ERR_CORTADO_DISK_LOCKED', message, path);
    this.pid = pid;
  }
}

/** The path cannot hold a tier: it is a file, under a file, or not writable. */
export class DiskPathError extends DiskTierError {
  override readonly name = 'DiskPathError';
  constructor(message: string, path: string, cause?: unknown) {
    super('ERR_CORTADO_DISK_PATH', message, path, cause === undefined ? undefined : { cause });
  }
}

/** maxBytes cannot hold the tier's layout, or the device has less free space than maxBytes needs. */
export class DiskSpaceError extends DiskTierError {
  override readonly name = 'DiskSpaceError';
  constructor(message: string, path: string) {
    super('ERR_CORTADO_DISK_SPACE', message, path);
  }
}

/** recovery: 'strict' and the directory was not closed cleanly (or its index failed verification). */
export class DiskRecoveryError extends DiskTierError {
  override readonly name = 'DiskRecoveryError';
  constructor(message: string, path: string) {
    super('ERR_CORTADO_DISK_UNCLEAN', message, path);
  }
}

/** A call reached the tier after close(): the class every cortado tier throws (tiered/errors.ts). */
export { TierClosedError as DiskTierClosedError } from '../tiered/errors.js';
