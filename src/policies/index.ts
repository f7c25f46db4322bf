/** Registry of eviction policies: the `policy` option value -> factory. */
import type { PolicyFactory } from './policy.js';
import { LruPolicy } from './lru.js';
import { SievePolicy } from './sieve.js';
import { S3FifoPolicy } from './s3fifo.js';
import { WTinyLfuPolicy } from './wtinylfu.js';
import { TinyLfuPolicy } from './tinylfu.js';
import { LhdPolicy } from './lhd.js';

export const POLICY_FACTORIES: Readonly<Record<string, PolicyFactory>> = {
  lru: (host, slots) => new LruPolicy(host, slots),
  sieve: (host, slots) => new SievePolicy(host, slots),
  s3fifo: (host, slots) => new S3FifoPolicy(host, slots),
  wtinylfu: (host, slots) => new WTinyLfuPolicy(host, slots),
  tinylfu: (host, slots) => new TinyLfuPolicy(host, slots),
  lhd: (host, slots) => new LhdPolicy(host, slots),
};

export const POLICY_NAMES: readonly string[] = Object.keys(POLICY_FACTORIES);

export type { Policy, PolicyHost, PolicyFactory, HitCost } from './policy.js';
export { REJECT, NO_SLOT } from './policy.js';
