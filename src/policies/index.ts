/**
 * The one registry of eviction policies: a descriptor per policy, and everything else derived
 * from it (the `PolicyName` type and the `policy` option's check in options.ts, the
 * per-entry overheads behind `maxBytes` in sizeof.ts, POLICY_NAMES and POLICY_FACTORIES for
 * the cache, the simulator, the tests and the benchmarks). Adding a policy is adding one
 * descriptor here.
 */
import type { HitCost, Policy, PolicyFactory, PolicyHost } from './policy.js';
import { LruPolicy } from './lru.js';
import { SievePolicy } from './sieve.js';
import { S3FifoPolicy } from './s3fifo.js';
import { WTinyLfuPolicy } from './wtinylfu.js';
import { TinyLfuPolicy } from './tinylfu.js';
import { LhdPolicy } from './lhd.js';

/** Everything the rest of the package needs to know about one policy. */
export interface PolicyDescriptor {
  /** The `policy` option value. */
  readonly name: string;
  /** One line for listings (the simulator's, the docs'). */
  readonly summary: string;
  /** Builds the policy over a host with `slots` initial slots. */
  readonly create: PolicyFactory;
  /**
   * Bytes cortado itself retains per entry with this policy, beyond the key and value: the
   * index Map entry, the slot arrays (key, value, weight, hash, free list) and the policy's
   * metadata (links, counters, ghost or sketch), at steady state in a cache bounded by bytes.
   * `maxBytes` charges it to every entry. Measured by `node --expose-gc bench/bytes-bound.mjs
   * --overhead` (docs/memory.md); the store's arrays and Map grow by doubling, so the true
   * figure swings by about a third around it.
   */
  readonly entryOverhead: number;
  /** What a hit writes (policy.ts, HitCost); the policy's own `hitCost` must agree. */
  readonly hitCost: HitCost;
}

/** The registered policies, in listing order. */
export const REGISTRY = [
  {
    name: 'lru',
    summary: 'least recently used: one queue, a hit moves the entry to its head',
    create: (host: PolicyHost, slots: number): Policy => new LruPolicy(host, slots),
    entryOverhead: 126,
    hitCost: 'reorder',
  },
  {
    name: 'sieve',
    summary: 'SIEVE (NSDI\'24): one FIFO queue and a hand; a hit sets a visited bit',
    create: (host: PolicyHost, slots: number): Policy => new SievePolicy(host, slots),
    entryOverhead: 127,
    hitCost: 'bit',
  },
  {
    name: 's3fifo',
    summary: 'S3-FIFO (SOSP\'23): small, main and ghost FIFO queues; a hit bumps a 2-bit counter',
    create: (host: PolicyHost, slots: number): Policy => new S3FifoPolicy(host, slots),
    entryOverhead: 140,
    hitCost: 'bit',
  },
  {
    name: 'wtinylfu',
    summary: 'W-TinyLFU with an adaptive window (Caffeine\'s design): LRU window, sketch-admitted main space',
    create: (host: PolicyHost, slots: number): Policy => new WTinyLfuPolicy(host, slots),
    entryOverhead: 157,
    hitCost: 'reorder',
  },
  {
    name: 'tinylfu',
    summary: 'TinyLFU admission with a doorkeeper over sampled-LFU eviction (Ristretto\'s design)',
    create: (host: PolicyHost, slots: number): Policy => new TinyLfuPolicy(host, slots),
    entryOverhead: 148,
    hitCost: 'bit',
  },
  {
    name: 'lhd',
    summary: 'LHD (NSDI\'18): evict the least hit density among sampled entries',
    create: (host: PolicyHost, slots: number): Policy => new LhdPolicy(host, slots),
    entryOverhead: 144,
    hitCost: 'fields',
  },
] as const satisfies readonly PolicyDescriptor[];

/** A `policy` option value: the name of a registered policy. */
export type PolicyName = (typeof REGISTRY)[number]['name'];

/** Every registered policy's name, in listing order. */
export const POLICY_NAMES: readonly PolicyName[] = REGISTRY.map((d) => d.name);

/** The `policy` option value -> factory. */
export const POLICY_FACTORIES: Readonly<Record<string, PolicyFactory>> = Object.fromEntries(REGISTRY.map((d) => [d.name, d.create]));

/** The descriptor of `name`, or undefined when no policy has that name. */
export function policyDescriptor(name: string): PolicyDescriptor | undefined {
  for (const d of REGISTRY) if (d.name === name) return d;
  return undefined;
}

/**
 * Build the policy `name` over `host`, checking that it is the policy its descriptor says
 * (name and hit cost): the registry is what the cache, and later a shared store, trust.
 */
export function createPolicy(name: PolicyName, host: PolicyHost, slots: number): Policy {
  const d = policyDescriptor(name)!;
  const p = d.create(host, slots);
  if (p.name !== d.name || p.hitCost !== d.hitCost) {
    throw new Error(`cortado: policy '${d.name}' built a '${p.name}' with hit cost '${p.hitCost}', its descriptor says '${d.hitCost}'`);
  }
  return p;
}

export type { Policy, PolicyHost, PolicyFactory, HitCost } from './policy.js';
export { REJECT, NO_SLOT } from './policy.js';
