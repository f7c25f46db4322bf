/**
 * The replay engine behind `cortado sim`.
 *
 * Every policy x size is a real `Cache` from this package, so what is measured is what ships.
 * Requests are replayed as libCacheSim does (and as an application using the cache as a
 * look-aside store would): `if (cache.get(k) === undefined) cache.set(k, v)`; every request
 * counts, cold misses included (no warm-up). In bytes mode the cache is bounded by
 * `maxWeight` and each object is stored with its size as weight; a hit does not change the
 * stored size.
 *
 * Passes. All caches advance together over one stream of batches, so a trace is read once
 * for the online policies. A first, cheaper pass runs only when needed: to count the trace's
 * unique keys (sizes given as percentages), and, for the offline optimum on a trace that
 * does not carry next-use times, to record each request's key as a dense 32-bit id so that a
 * backward pass can compute next uses. That record is the one thing held in memory for the
 * whole trace: 8 bytes per request (ids + next uses; up to 12 while the id array grows).
 */
import { Cache } from '../cache.js';
import { POLICY_NAMES } from '../policies/index.js';
import type { PolicyName } from '../options.js';
import { Belady, BeladySize, type OfflinePolicy, nextUses } from './belady.js';
import { type TraceBatch, type TraceInfo, type TraceKey, readTrace, TraceError } from './trace.js';
import { WORKLOADS, DEFAULT_SEED, batchesOf, type Workload } from './synthetic.js';

/** A cache size as given: an absolute count (or bytes) or a percentage of the trace's unique keys (or bytes). */
export interface SizeSpec {
  value: number;
  percent: boolean;
  /** As the user wrote it, e.g. "1%" or "1000". */
  label: string;
}

export interface SimOptions {
  /** Online policies to run (names from the policy registry). */
  policies: readonly string[];
  sizes: readonly SizeSpec[];
  /** Bound caches by bytes and weigh objects by their size. */
  bytes: boolean;
  /** Also run the offline optimum. */
  optimum: boolean;
  /**
   * Also run libCacheSim's variant of Belady, which admits every miss (row 'belady-admit-all');
   * only for the parity check against its reference numbers.
   */
  admitAllOptimum?: boolean | undefined;
  /** Seed of every cache's hashing and sampling, so runs repeat exactly (default 1). */
  seed?: number | undefined;
  /**
   * Progress, called after each batch of requests is replayed: work done and the total work
   * of this source (see simulationWork), so it follows the replay rather than the reading.
   */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

/** Something to replay. */
export interface Source {
  name: string;
  description: string;
  format: string;
  hasSizes: boolean;
  hasNext: boolean;
  /** Progress units in one pass (the `units` of its batches add up to this, or nearly). */
  total: number;
  /** One pass over the requests; each batch says how many progress units it accounts for. */
  batches(onProgress?: (units: number) => void): AsyncIterable<TraceBatch> | Iterable<TraceBatch>;
}

export interface Row {
  policy: string;
  /** True for the offline optimum (and its size-aware approximation). */
  offline: boolean;
  /** The size as requested ("1%", "1000"). */
  size: string;
  /** Capacity in entries (count mode) or bytes (bytes mode). */
  capacity: number;
  hits: number;
  misses: number;
  hitRatio: number;
  missRatio: number;
  /** Bytes mode only: missed bytes / requested bytes. */
  byteMissRatio?: number;
}

export interface TraceResult {
  trace: string;
  description: string;
  format: string;
  mode: 'count' | 'bytes';
  requests: number;
  /**
   * Distinct keys, or null when they were not counted: a trace with more than
   * MAX_DISTINCT distinct keys and nothing that needed the count.
   */
  uniqueKeys: number | null;
  /** Sum of the sizes of the distinct objects (first size seen), bytes mode only (null: not counted). */
  uniqueBytes?: number | null;
  rows: Row[];
}

/** Source over a trace file. */
export function fileSource(info: TraceInfo, bytes: boolean): Source {
  return {
    name: info.name,
    description: info.path,
    format: info.format,
    hasSizes: info.format === 'oracle' || (info.format === 'text' && bytes),
    hasNext: info.format === 'oracle',
    total: info.dataBytes ?? info.fileBytes,
    batches: (onProgress) => readTrace(info, bytes, onProgress),
  };
}

/** Source over a built-in synthetic workload. */
export function workloadSource(w: Workload, seed = DEFAULT_SEED): Source {
  let seq: Int32Array | null = null;
  const get = (): Int32Array => (seq ??= w.generate(seed));
  return {
    name: w.name,
    description: w.description,
    format: 'synthetic',
    hasSizes: false,
    hasNext: false,
    get total() {
      return get().length;
    },
    *batches(onProgress) {
      for (const b of batchesOf(get())) {
        b.units = b.count;
        onProgress?.(b.count);
        yield b;
      }
    },
  };
}

export function syntheticSources(seed = DEFAULT_SEED): Source[] {
  return WORKLOADS.map((w) => workloadSource(w, seed));
}

/** Policies the registry knows now (others' policies join at run time). */
export function knownPolicies(): readonly string[] {
  return POLICY_NAMES;
}

/**
 * Most distinct keys we keep a table of (V8's Map and Set hold at most 2^24 entries). Beyond
 * it, percentage sizes and the optimum of a trace without next-use times cannot be computed.
 */
export const MAX_DISTINCT = 16_000_000;

/** Facts from the first pass. */
interface Census {
  requests: number;
  uniqueKeys: number;
  uniqueBytes: number;
  /** Next-use index per request (when the optimum needs them and the trace lacks them). */
  next: Int32Array | null;
}

async function census(src: Source, wantNext: boolean, sized: boolean, progress: (units: number) => void): Promise<Census> {
  const ids = new Map<TraceKey, number>();
  let seq = new Int32Array(wantNext ? 1 << 16 : 0);
  let requests = 0;
  let uniqueBytes = 0;
  for await (const b of src.batches()) {
    const { keys, sizes, count } = b;
    if (wantNext && requests + count > seq.length) {
      if (requests + count > 2 ** 31 - 1) {
        throw new TraceError(`${src.description}: more than 2^31 requests: the optimum would need over 16 GB; run with --no-optimum`);
      }
      let n = seq.length * 2;
      while (n < requests + count) n *= 2;
      const grown = new Int32Array(Math.min(n, 2 ** 31 - 1));
      grown.set(seq);
      seq = grown;
    }
    for (let i = 0; i < count; i++) {
      const k = keys[i]!;
      let id = ids.get(k);
      if (id === undefined) {
        id = ids.size;
        if (id >= MAX_DISTINCT) {
          throw new TraceError(
            `${src.description}: more than ${MAX_DISTINCT.toLocaleString('en-US')} distinct keys: percentage sizes and the optimum need a table of every key, ` +
              'which is more than a JavaScript Map holds; give absolute --sizes and --no-optimum',
          );
        }
        ids.set(k, id);
        if (sized && sizes !== null) uniqueBytes += sizes[i]!;
      }
      if (wantNext) seq[requests + i] = id;
    }
    requests += count;
    progress(b.units ?? 0);
  }
  const uniqueKeys = ids.size;
  ids.clear();
  return { requests, uniqueKeys, uniqueBytes, next: wantNext ? nextUses(seq, requests, uniqueKeys) : null };
}

/** Resolve sizes to capacities (deduplicated, ascending). */
export function resolveSizes(sizes: readonly SizeSpec[], basis: number): { label: string; capacity: number }[] {
  const out: { label: string; capacity: number }[] = [];
  for (const s of sizes) {
    const capacity = s.percent ? Math.max(1, Math.round((s.value / 100) * basis)) : s.value;
    if (!out.some((o) => o.capacity === capacity)) out.push({ label: s.label, capacity });
  }
  return out.sort((a, b) => a.capacity - b.capacity);
}

interface OnlineRun {
  policy: string;
  label: string;
  capacity: number;
  cache: Cache<TraceKey, true>;
  hits: number;
  missBytes: number;
}

interface OfflineRun {
  sim: OfflinePolicy;
  label: string;
  capacity: number;
  hits: number;
  missBytes: number;
}

/**
 * How the work of simulating `src` is counted for progress: each pass over the trace costs
 * its progress units (bytes of data, or requests) times a weight, 1 for the first pass (one
 * Map operation per request) and one per cache replayed for the main pass. So progress and
 * its ETA follow the time the replay takes.
 */
export function simulationWork(src: Source, opts: SimOptions): { census: number; replay: number; total: number } {
  const needPercent = opts.sizes.some((s) => s.percent);
  const anyOffline = opts.optimum || opts.admitAllOptimum === true;
  const wantNext = anyOffline && !src.hasNext;
  const n = opts.sizes.length;
  const runs = opts.policies.length * n + (opts.optimum ? n * (opts.bytes ? 2 : 1) : 0) + (opts.admitAllOptimum === true ? n : 0);
  const census = needPercent || wantNext ? src.total : 0;
  const replay = src.total * Math.max(1, runs);
  return { census, replay, total: census + replay };
}

/** Replay one source through every policy x size (and the optimum). */
export async function simulate(src: Source, opts: SimOptions): Promise<TraceResult> {
  const bytes = opts.bytes;
  if (bytes && !src.hasSizes) {
    throw new TraceError(`${src.description}: --bytes needs object sizes, and the ${src.format} format has none (use an oracleGeneral or key,size text trace)`);
  }
  const sized = bytes && src.hasSizes;
  const needPercent = opts.sizes.some((s) => s.percent);
  const anyOffline = opts.optimum || opts.admitAllOptimum === true;
  const wantNext = anyOffline && !src.hasNext;
  const passes = needPercent || wantNext ? 2 : 1;
  const work = simulationWork(src, opts);
  const replayWeight = work.replay / Math.max(1, src.total);
  let done = 0;
  const progress = (units: number, weight: number): void => {
    done = Math.min(work.total, done + units * weight);
    opts.onProgress?.(done, work.total);
  };

  let c: Census | null = null;
  if (passes === 2) c = await census(src, wantNext, sized, (units) => progress(units, 1));
  else done = work.census;

  const basis = c === null ? 0 : bytes ? c.uniqueBytes : c.uniqueKeys;
  const capacities = resolveSizes(opts.sizes, basis);

  const seed = opts.seed ?? 1;
  const online: OnlineRun[] = [];
  for (const policy of opts.policies) {
    for (const { label, capacity } of capacities) {
      const cache = bytes
        ? new Cache<TraceKey, true>({ maxWeight: capacity, policy: policy as PolicyName, seed })
        : new Cache<TraceKey, true>({ maxEntries: capacity, policy: policy as PolicyName, seed });
      online.push({ policy, label, capacity, cache, hits: 0, missBytes: 0 });
    }
  }
  const offline: OfflineRun[] = [];
  if (opts.optimum) {
    for (const { label, capacity } of capacities) offline.push({ sim: new Belady(capacity), label, capacity, hits: 0, missBytes: 0 });
    if (bytes) {
      for (const { label, capacity } of capacities) offline.push({ sim: new BeladySize(capacity), label, capacity, hits: 0, missBytes: 0 });
    }
  }
  if (opts.admitAllOptimum === true) {
    for (const { label, capacity } of capacities) offline.push({ sim: new Belady(capacity, true), label, capacity, hits: 0, missBytes: 0 });
  }

  // Count distinct keys on the way when no first pass did: from next-use times when the
  // trace has them (a key's last request has none), else with a Set, given up past MAX_DISTINCT.
  const countByNext = c === null && src.hasNext;
  let unique = c === null && !src.hasNext ? new Set<TraceKey>() : null;
  let lastUses = 0;
  let uniqueBytes = 0;
  let requests = 0;
  let totalBytes = 0;
  const nextArr = c?.next ?? null;
  const setOpts = { weight: 0 };
  for await (const b of src.batches()) {
    const { keys, count } = b;
    const sizes = sized ? b.sizes! : null;
    if (sizes !== null) for (let i = 0; i < count; i++) totalBytes += sizes[i]!;
    if (countByNext) {
      const next = b.next!;
      for (let i = 0; i < count; i++) {
        if (next[i]! < 0) {
          lastUses++;
          if (sizes !== null) uniqueBytes += sizes[i]!;
        }
      }
    } else if (unique !== null) {
      for (let i = 0; i < count; i++) {
        const k = keys[i]!;
        if (!unique.has(k)) {
          if (unique.size >= MAX_DISTINCT) {
            unique = null; // too many to count; report null rather than fail the run
            uniqueBytes = NaN;
            break;
          }
          unique.add(k);
          if (sizes !== null) uniqueBytes += sizes[i]!;
        }
      }
    }
    for (const run of online) {
      const cache = run.cache;
      let hits = 0;
      if (sizes === null) {
        for (let i = 0; i < count; i++) {
          const k = keys[i]!;
          if (cache.get(k) === undefined) cache.set(k, true);
          else hits++;
        }
      } else {
        let missBytes = 0;
        for (let i = 0; i < count; i++) {
          const k = keys[i]!;
          if (cache.get(k) === undefined) {
            const s = sizes[i]!;
            missBytes += s;
            setOpts.weight = s;
            cache.set(k, true, setOpts);
          } else hits++;
        }
        run.missBytes += missBytes;
      }
      run.hits += hits;
    }
    if (offline.length > 0) {
      const next = b.next;
      for (const run of offline) {
        const sim = run.sim;
        let hits = 0;
        let missBytes = 0;
        for (let i = 0; i < count; i++) {
          const nx = next !== null ? next[i]! : nextArr![requests + i]!;
          const s = sizes === null ? 1 : sizes[i]!;
          if (sim.access(requests + i, nx, s)) hits++;
          else missBytes += s;
        }
        run.hits += hits;
        run.missBytes += missBytes;
      }
    }
    requests += count;
    progress(b.units ?? 0, replayWeight);
  }
  if (done < work.total) {
    done = work.total; // the estimate of the data's size was short: finish at 100%
    opts.onProgress?.(done, work.total);
  }
  if (requests === 0) throw new TraceError(`${src.description}: no requests in the trace`);
  if (c !== null && c.requests !== requests) {
    throw new TraceError(`${src.description}: the trace changed while it was read (${c.requests} then ${requests} requests)`);
  }

  const row = (policy: string, isOffline: boolean, label: string, capacity: number, hits: number, missBytes: number): Row => {
    const misses = requests - hits;
    const r: Row = {
      policy,
      offline: isOffline,
      size: label,
      capacity,
      hits,
      misses,
      hitRatio: requests === 0 ? 0 : hits / requests,
      missRatio: requests === 0 ? 0 : misses / requests,
    };
    if (bytes) r.byteMissRatio = totalBytes === 0 ? 0 : missBytes / totalBytes;
    return r;
  };
  const rows: Row[] = [];
  for (const r of online) rows.push(row(r.policy, false, r.label, r.capacity, r.hits, r.missBytes));
  for (const r of offline) rows.push(row(r.sim.name, true, r.label, r.capacity, r.hits, r.missBytes));

  const result: TraceResult = {
    trace: src.name,
    description: src.description,
    format: src.format,
    mode: bytes ? 'bytes' : 'count',
    requests,
    uniqueKeys: c !== null ? c.uniqueKeys : countByNext ? lastUses : unique === null ? null : unique.size,
    rows,
  };
  if (bytes) result.uniqueBytes = c !== null ? c.uniqueBytes : Number.isNaN(uniqueBytes) ? null : uniqueBytes;
  return result;
}
