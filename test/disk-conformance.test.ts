/**
 * DiskTier against the Tier conformance suite (test/tier-conformance.ts, from the tiered
 * module): once with the suite's hand clock and a persistence check across close/open, once
 * on real time with a tiny region so the value limit and region reuse are in play.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskTier } from 'cortado/disk';
import { tierConformance } from './tier-conformance.js';

const MiB = 2 ** 20;
/** Largest value for a 3-byte key ('big') in a region: region - region header (32) - item header (40) - key. */
const maxValue = (regionSize: number): number => regionSize - 32 - 40 - 3;

let lastDir = '';
tierConformance(
  'DiskTier (hand clock, 4 MiB regions)',
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), 'cortado-disk-conf-'));
    lastDir = dir;
    const tier = await DiskTier.open({ path: dir, maxBytes: 32 * MiB, regionSize: 4 * MiB, clock });
    return { tier, cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  {
    clock: true,
    closedCode: 'ERR_CORTADO_TIER_CLOSED',
    maxValueBytes: maxValue(4 * MiB),
    largeValueBytes: 2 * MiB,
    reopen: ({ clock }) => DiskTier.open({ path: lastDir, maxBytes: 32 * MiB, regionSize: 4 * MiB, clock }),
  },
);

tierConformance(
  'DiskTier (real time, 64 KiB regions)',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cortado-disk-conf-'));
    // The suite expects every set kept (a cache may forget, this suite checks it does not
    // without cause): room for 16 regions in flight, so admission refuses none of its 300-op
    // burst (refusing under load is tested in disk.test.ts), and 400 buckets, so its 200
    // small keys never overflow one (bucket eviction is tested there too).
    const tier = await DiskTier.open({ path: dir, maxBytes: 4 * MiB, regionSize: 64 * 1024, smallShare: 0.4, admission: { maxInFlightBytes: MiB } });
    return { tier, cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  { closedCode: 'ERR_CORTADO_TIER_CLOSED', maxValueBytes: maxValue(64 * 1024), largeValueBytes: 60 * 1024 },
);
