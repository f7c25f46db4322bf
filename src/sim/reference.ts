/**
 * The libCacheSim reference (../shared/reference/miss_ratios.csv) and the parity check of
 * our policies against it. Used by the parity test and by scripts/hit-ratio.mjs.
 *
 * What must match (see the reference's README): LRU, Sieve and the admit-every-miss Belady
 * are deterministic algorithms, reproduced there to the exact miss count by an independent
 * implementation, so ours must match to the request. S3-FIFO is libCacheSim's variant with
 * its parameters; ours must be within 1 point of miss ratio.
 */
import type { Row } from './run.js';

export interface RefRow {
  trace: string;
  requests: number;
  unique: number;
  mode: 'count' | 'bytes';
  capacity: number;
  basis: string;
  algorithm: string;
  missRatio: number;
  byteMissRatio: number | null;
  misses: number;
  config: string;
}

/** Our name -> the reference's algorithm name (for the policies both have). */
export const REFERENCE_NAMES: Readonly<Record<string, string>> = {
  lru: 'LRU',
  sieve: 'Sieve',
  s3fifo: 'S3FIFO',
  wtinylfu: 'WTinyLFU',
  lhd: 'LHD',
  'belady-admit-all': 'Belady',
  'belady-size': 'BeladySize',
};

/** Reference algorithms that are offline (excluded from "best online"). */
export const OFFLINE_REFERENCE = new Set(['Belady', 'BeladySize']);

/** Trace name in the reference -> file in ../shared/traces. */
export const REFERENCE_TRACE_FILES: Readonly<Record<string, string>> = {
  cpp: 'cpp.trc.bin.gz',
  glimpse: 'glimpse.trc.bin.gz',
  multi2: 'multi2.trc.bin.gz',
  sprite: 'sprite.trc.bin.gz',
  'mt-20121220': 'mt-20121220.trc.bin.gz',
  P3: 'P3.lis.gz',
  cloudPhysicsIO: 'cloudPhysicsIO.oracleGeneral.bin.gz',
};

export function parseReference(csv: string): RefRow[] {
  const lines = csv.split('\n').filter((l) => l.trim().length > 0);
  const header = lines.shift();
  if (header === undefined || !header.startsWith('trace,requests,unique,size_mode,cache_size')) {
    throw new Error('reference: unexpected header in miss_ratios.csv');
  }
  return lines.map((line, i) => {
    const f = line.split(',');
    if (f.length < 11) throw new Error(`reference: line ${i + 2} has ${f.length} fields, expected 11`);
    return {
      trace: f[0]!,
      requests: Number(f[1]),
      unique: Number(f[2]),
      mode: f[3] === 'bytes' ? 'bytes' : 'count',
      capacity: Number(f[4]),
      basis: f[5]!,
      algorithm: f[6]!,
      missRatio: Number(f[7]),
      byteMissRatio: f[8] === '' ? null : Number(f[8]),
      misses: Number(f[9]),
      config: f.slice(10).join(','),
    };
  });
}

/** Capacities of one trace and mode in the reference, ascending, with their basis label. */
export function referenceSizes(ref: readonly RefRow[], trace: string, mode: 'count' | 'bytes'): { capacity: number; basis: string }[] {
  const m = new Map<number, string>();
  for (const r of ref) if (r.trace === trace && r.mode === mode && !m.has(r.capacity)) m.set(r.capacity, r.basis);
  return [...m].sort((a, b) => a[0] - b[0]).map(([capacity, basis]) => ({ capacity, basis }));
}

/** The reference's best online algorithm (lowest miss ratio) at one size. */
export function bestOnline(ref: readonly RefRow[], trace: string, mode: 'count' | 'bytes', capacity: number): RefRow | undefined {
  let best: RefRow | undefined;
  for (const r of ref) {
    if (r.trace !== trace || r.mode !== mode || r.capacity !== capacity || OFFLINE_REFERENCE.has(r.algorithm)) continue;
    if (best === undefined || r.missRatio < best.missRatio) best = r;
  }
  return best;
}

export function findReference(ref: readonly RefRow[], trace: string, mode: 'count' | 'bytes', capacity: number, algorithm: string): RefRow | undefined {
  return ref.find((r) => r.trace === trace && r.mode === mode && r.capacity === capacity && r.algorithm === algorithm);
}

/** Policies under the parity check and what "matching" means for each. */
export const PARITY: readonly { policy: string; exact: boolean; tolerance: number }[] = [
  { policy: 'lru', exact: true, tolerance: 0 },
  { policy: 'sieve', exact: true, tolerance: 0 },
  { policy: 'belady-admit-all', exact: true, tolerance: 0 },
  { policy: 's3fifo', exact: false, tolerance: 0.01 },
];

export interface ParityCheck {
  trace: string;
  mode: 'count' | 'bytes';
  capacity: number;
  policy: string;
  ours: number;
  theirs: number;
  /** Our miss ratio minus theirs, in points (percent). */
  diffPoints: number;
  ok: boolean;
}

/** Compare our rows of one trace and mode with the reference. */
export function parity(ref: readonly RefRow[], trace: string, mode: 'count' | 'bytes', rows: readonly Row[]): ParityCheck[] {
  const out: ParityCheck[] = [];
  for (const { policy, exact, tolerance } of PARITY) {
    for (const row of rows) {
      if (row.policy !== policy) continue;
      const r = findReference(ref, trace, mode, row.capacity, REFERENCE_NAMES[policy]!);
      if (r === undefined) continue; // a size the reference left out (queues too small)
      const diff = row.missRatio - r.misses / r.requests;
      out.push({
        trace,
        mode,
        capacity: row.capacity,
        policy,
        ours: row.misses,
        theirs: r.misses,
        diffPoints: diff * 100,
        ok: exact ? row.misses === r.misses : Math.abs(diff) <= tolerance,
      });
    }
  }
  return out;
}
