/**
 * DiskTier: a flash-style cache tier in one directory, after CacheLib's Navy (Berg et al.,
 * "The CacheLib Caching Engine", OSDI'20): large items in log-structured regions, small items
 * in set-associative buckets, a checksum on every item, warm restart, and admission that
 * refuses work rather than queue it when the device falls behind.
 *
 * Files (all inside `path`, all counted in maxBytes):
 *   lock   "pid start-time" of the holder (lock.ts)
 *   super  4 KiB: epoch, hash seed, geometry; rewritten by clear() (a new epoch hides every
 *          item written before it, on disk too, without touching the data)
 *   data   [buckets: bucketCount x 4 KiB][regions: regionCount x regionSize]
 *   index  written by close(), read and removed by open(): the large-item index, the bucket
 *          Bloom filters and the region ring, so a clean restart reads no data
 *
 * Large items (key + value >= smallItemThreshold) are appended to an in-memory region buffer;
 * a full buffer is written whole with one positional write (the device sees only large
 * sequential writes, which is what flash and page caches do best) and regions are reused in
 * FIFO order: reusing a region evicts everything in it at once, so there is no per-item
 * eviction work and no fragmentation. FIFO rather than LRU-by-region by default: a hit then
 * costs no bookkeeping, the memory tier in front already keeps what is hot, and LRU-by-region
 * (reclaim: 'lru') measured no better here (bench/disk.mjs --reclaim lru: -3.31 against -3.16
 * points of hit ratio on Zipf 0.8, a --quick run).
 *
 * Small items go to the bucket chosen by their hash: a 4 KiB read-modify-write per set or
 * delete, FIFO eviction inside the bucket, and a 64-bit Bloom filter per bucket in memory
 * (8 bytes per 4 KiB of bucket space) so that most misses read nothing. Operations on one
 * bucket run one after another (a promise chain per busy bucket), which orders them exactly
 * as they were called and keeps a read from ever seeing a half-written bucket.
 *
 * What is promised after a crash (SIGKILL; a power loss is covered only for what close()
 * fsynced): get never returns bytes that fail their checksum or belong to another key, and a
 * delete, clear or overwrite that resolved before the crash is never undone. How: a delete or
 * overwrite of a large item zeroes the old copy's magic on disk ("punch", 4 bytes) or in its
 * still-unwritten buffer, and does not resolve before that write and every earlier punch and
 * region invalidation completed (the durability barrier); a small item's delete or overwrite
 * is the rewrite of its bucket. Reusing a region first zeroes its header on disk, and every
 * item records the region sequence it was written under, so an interrupted rewrite can never
 * expose an evicted (and since deleted) item. Sets that have resolved may be lost (this is a
 * cache: a region still in memory dies with the process).
 */
import { mkdir, open as openFile, readFile, rename, stat, statfs, unlink, access, realpath, type FileHandle } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import type { Tier, TierEntry, TierKey, TierSetOptions, TierStats } from '../tiered/tier.js';
import { describe } from '../options.js';
import { crc32 } from './crc32.js';
import { DiskPathError, DiskRecoveryError, DiskSpaceError, DiskTierClosedError } from './errors.js';
import { ItemIndex } from './item-index.js';
import { ITEM_HEADER, ItemStatus, newParsed, parseItem, sameKey, writeItem, type ParsedItem } from './item.js';
import { hashBytes, keyBytes, MAX_KEY_BYTES, type KeyHash } from './key.js';
import { DirLock } from './lock.js';

// ---------------------------------------------------------------------------------------
// constants
// ---------------------------------------------------------------------------------------

/** Bucket size: the page size of Linux and of most SSDs, so a bucket write is one page. */
export const BUCKET_SIZE = 4096;
/** Bucket header: magic, crc32 of [8, 4096), epoch, item count, used bytes. */
const BUCKET_HEADER = 16;
const BUCKET_MAGIC = 0x31424443; // 'CDB1'
/** Region header: magic, crc32 of [8, 32), epoch, region sequence, used bytes. */
const REGION_HEADER = 32;
const REGION_MAGIC = 0x31524443; // 'CDR1'
const SUPER_MAGIC = 0x31534443; // 'CDS1'
const INDEX_MAGIC = 0x31584443; // 'CDX1'
const FORMAT_VERSION = 1;
/** super and lock files, rounded up to a file-system block each. */
const META_RESERVE = 2 * 4096;
/**
 * Items are 16-aligned in regions, so a 32-bit index address covers 64 GiB of regions; a
 * larger region area doubles the alignment as often as needed (256 bytes per TiB), which
 * costs at most align-1 bytes per large item (under 13% for the smallest, 2 KiB, at 1 TiB).
 */
const MIN_ALIGN = 16;
/** Default region size: CacheLib's, large enough that a write is sequential for any device. */
const DEFAULT_REGION_SIZE = 16 * 2 ** 20;
/** Smallest region chosen automatically: below this the per-write cost dominates on SSDs. */
const MIN_AUTO_REGION = 64 * 1024;
/** Regions the automatic size aims for at least: FIFO eviction then drops 1/8 of the space at a time. */
const MIN_AUTO_REGIONS = 8;
/** Default small-item threshold: items below it waste less than half a bucket page. */
const DEFAULT_SMALL_THRESHOLD = 2048;
/** Default share of the space for buckets (small items are usually a small share of bytes). */
const DEFAULT_SMALL_SHARE = 0.1;
/**
 * Bytes of regions per entry of the saved index's reserve, at least (see geometry()): 16/256,
 * so the reserve never takes more than 6% of the space, and items of 256 bytes or more
 * (header included) always fit in it.
 */
const INDEX_RESERVE_ITEM = 256;
/** Bytes read per call while scanning buckets at recovery. */
const SCAN_CHUNK = 256 * BUCKET_SIZE;

// ---------------------------------------------------------------------------------------
// options and stats
// ---------------------------------------------------------------------------------------

export type DiskRecovery = 'quiet' | 'strict' | 'none';

export interface DiskAdmissionOptions {
  /** Share of sets admitted at random, in [0, 1] (default 1: all). */
  probability?: number;
  /** Write budget in bytes per second (token bucket, one second of burst; default Infinity). */
  writeRateBytesPerSec?: number;
  /**
   * Bytes of device writes in flight before new sets are refused: region flushes (at least
   * one region) and, separately, bucket rewrites (at least 1 MiB of them); default 2 x regionSize.
   */
  maxInFlightBytes?: number;
}

export interface DiskTierOptions {
  /** Directory the tier owns (created if missing). */
  path: string;
  /** Bound on the bytes of every file in the directory. */
  maxBytes: number;
  /** Region size in bytes, a multiple of 4096 (default 16 MiB, smaller when maxBytes is small). */
  regionSize?: number;
  /** key + value bytes below which an item goes to a bucket (default 2048; 0: no buckets). */
  smallItemThreshold?: number;
  /** Share of the space for buckets, in [0, 0.9] (default 0.1). */
  smallShare?: number;
  admission?: DiskAdmissionOptions;
  /** Clock in ms for expiry and the write budget; absolute (wall) time so expiry survives restarts (default Date.now). */
  clock?: () => number;
  /**
   * Which region is reused when a new one is needed: 'fifo' (default: the one written
   * longest ago) or 'lru' (the one whose items were read longest ago; a hit stamps its region).
   */
  reclaim?: 'fifo' | 'lru';
  /**
   * After an unclean stop: 'quiet' (default) scans and keeps what verifies; 'strict' rejects
   * open() with DiskRecoveryError; 'none' always starts empty.
   */
  recovery?: DiskRecovery;
}

export interface DiskTierStats extends TierStats {
  /** How this open found the directory: 'warm' (index saved by close), 'scanned' (after a crash), 'empty'. */
  recovery: 'warm' | 'scanned' | 'empty';
  /** Items found by the warm load or the scan. */
  recoveredItems: number;
  items: number;
  largeItems: number;
  smallItems: number;
  /** Device reads issued by get/set/delete (not counting recovery). */
  reads: number;
  /** Small-item gets answered by the Bloom filter with no read. */
  bloomSkips: number;
  /** Items dropped because their region was reused or their bucket was full. */
  evictions: number;
  /** Bytes written to the device (regions, buckets, punches). */
  deviceBytesWritten: number;
  regionsWritten: number;
  /** Memory: large-item index, Bloom filters, region buffers, region table. */
  indexBytes: number;
  bloomBytes: number;
  bufferBytes: number;
  inFlightBytes: number;
  /** Geometry. */
  regionSize: number;
  regionCount: number;
  bucketCount: number;
  /** Bytes the files may take (maxBytes minus what the layout cannot use). */
  maxBytes: number;
}

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

const noop = (): void => {};
const ZERO4 = Buffer.alloc(4);
const ZERO_REGION_HEADER = Buffer.alloc(REGION_HEADER);

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function checkKey(where: string, key: unknown): Uint8Array {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw new TypeError(`cortado: DiskTier.${where}() key must be a string or a Uint8Array, got ${describe(key)}`);
  }
  const bytes = keyBytes(key);
  if (bytes.length > MAX_KEY_BYTES) {
    throw new RangeError(`cortado: DiskTier.${where}() key must be at most ${MAX_KEY_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function readTtl(options: TierSetOptions | undefined): number {
  if (options === undefined) return 0;
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`cortado: DiskTier.set() options must be an object, got ${describe(options)}`);
  }
  const ttl: unknown = options.ttl;
  if (ttl === undefined) return 0;
  if (typeof ttl !== 'number') throw new TypeError(`cortado: DiskTier.set() ttl must be a number of milliseconds, got ${describe(ttl)}`);
  if (!Number.isFinite(ttl) || ttl < 0) {
    throw new RangeError(`cortado: DiskTier.set() ttl must be a finite number of milliseconds >= 0 (0: no expiry), got ${describe(ttl)}`);
  }
  return ttl;
}

function numberOption(name: string, v: unknown, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`cortado: DiskTier ${name} must be a number, got ${describe(v)}`);
  if (v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new RangeError(`cortado: DiskTier ${name} must be ${integer ? 'an integer ' : ''}in [${min}, ${max}], got ${describe(v)}`);
  }
  return v;
}

interface Geometry {
  regionSize: number;
  regionCount: number;
  bucketCount: number;
  /** Alignment of items in regions (the unit of index addresses). */
  align: number;
  /** Bytes of the data file. */
  dataBytes: number;
  /** Most entries the saved index holds. */
  indexItems: number;
  /** Largest index file close() can write. */
  indexBytes: number;
}

function indexFileBytes(regionCount: number, bucketCount: number, items: number): number {
  return 64 + regionCount * 8 + bucketCount * 8 + items * 16 + 4;
}

/** Splits maxBytes into buckets, regions and the index file's reserve. */
function geometry(path: string, maxBytes: number, regionOption: number | undefined, threshold: number, share: number): Geometry {
  const avail = maxBytes - META_RESERVE;
  let bucketCount = threshold > 0 ? Math.floor((avail * share) / BUCKET_SIZE) : 0;
  // The saved index is given room for one entry per `perEntry` bytes of regions: a large item
  // is at least minLarge bytes, and below INDEX_RESERVE_ITEM the reserve is capped (6% of
  // the space) and close() saves only the newest regions' entries that fit (the rest are
  // forgotten at restart, not lost to the bound).
  const minLarge = alignUp(ITEM_HEADER + (bucketCount > 0 ? threshold : 1), MIN_ALIGN);
  const perEntry = Math.max(minLarge, INDEX_RESERVE_ITEM);
  const fit = (regionSize: number): number => {
    const rest = avail - bucketCount * BUCKET_SIZE - indexFileBytes(0, bucketCount, 0);
    const perRegion = regionSize + 8 + Math.ceil(regionSize / perEntry) * 16;
    return Math.max(0, Math.floor(rest / perRegion));
  };
  let regionSize = regionOption ?? DEFAULT_REGION_SIZE;
  if (regionOption === undefined) {
    while (regionSize > MIN_AUTO_REGION && fit(regionSize) < MIN_AUTO_REGIONS) regionSize /= 2;
  }
  let regionCount = fit(regionSize);
  if (regionCount < 2) {
    throw new DiskSpaceError(`cortado: DiskTier maxBytes ${maxBytes} is too small: it must hold at least 2 regions of ${regionSize} bytes${bucketCount > 0 ? ` besides ${bucketCount} buckets` : ''} and the index (about ${2 * regionSize + bucketCount * BUCKET_SIZE + META_RESERVE} bytes; lower regionSize or smallShare, or raise maxBytes)`, path);
  }
  if (bucketCount > 0 && bucketCount < 1) bucketCount = 0;
  const indexItems = regionCount * Math.ceil(regionSize / perEntry);
  const indexBytes = indexFileBytes(regionCount, bucketCount, indexItems);
  let align = MIN_ALIGN;
  while (regionCount * regionSize > 2 ** 32 * align) align *= 2;
  return { regionSize, regionCount, bucketCount, align, indexItems, dataBytes: bucketCount * BUCKET_SIZE + regionCount * regionSize, indexBytes };
}

/** A resolved promise's bookkeeping shared by the ops of one bucket. */
type Chain = Promise<void>;

// ---------------------------------------------------------------------------------------
// the tier
// ---------------------------------------------------------------------------------------

export class DiskTier implements Tier {
  readonly name = 'disk';
  readonly path: string;

  // geometry
  private readonly regionSize: number;
  private readonly regionCount: number;
  private readonly bucketCount: number;
  private readonly regionBase: number;
  private readonly align: number;
  private readonly maxBytes: number;
  private readonly threshold: number;
  private readonly maxLargeItem: number;
  private readonly indexItems: number;

  // options
  private readonly clock: () => number;
  private readonly probability: number;
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private lastRefill: number;
  private readonly flushSlots: number;
  private readonly maxBucketInFlight: number;

  // files
  private readonly fh: FileHandle;
  private readonly lock: DirLock;
  private epoch: number;
  private readonly seed: number;

  // large items
  private readonly index: ItemIndex;
  /** Region write sequence of each region's content (0: nothing valid). */
  private readonly regionSeq: Uint32Array;
  /** Bytes used in each region (header included). */
  private readonly regionUsed: Uint32Array;
  /** Buffers of regions not yet on disk (the active one and those being written). */
  private readonly regionBuf: (Buffer | null)[];
  /** The write of each region being flushed. */
  private readonly regionFlush: (Promise<void> | null)[];
  private readonly freeBuffers: Buffer[] = [];
  private buffersAllocated = 0;
  /** The region being filled, or -1. */
  private active = -1;
  /** The region last filled (the ring continues after it). */
  private head: number;
  private nextRegionSeq: number;
  private flushing = 0;
  /** reclaim 'lru': last use of each region (write or hit), on a counter. */
  private readonly regionTouch: Float64Array | null;
  private touchClock = 0;

  // small items
  private readonly bloom: Uint32Array;
  private readonly chains = new Map<number, Chain>();
  private bucketInFlight = 0;
  private smallItems = 0;

  /** Resolves when every punch and region invalidation issued so far has landed. */
  private barrier: Promise<void> = Promise.resolve();
  private seq: number;
  /** Bumped by clear(): queued bucket sets from before it are dropped. */
  private generation = 0;
  private closing: Promise<void> | null = null;

  // scratch (one per tier: nothing allocated per call for these)
  private readonly h: KeyHash = { hi: 0, lo: 0 };
  private readonly parsed: ParsedItem = newParsed();

  // stats
  private readonly counters = {
    hits: 0, misses: 0, writes: 0, bytesWritten: 0, rejected: 0, errors: 0, corruptions: 0,
    reads: 0, bloomSkips: 0, evictions: 0, deviceBytesWritten: 0, regionsWritten: 0,
  };
  private readonly recovery: 'warm' | 'scanned' | 'empty';
  private readonly recoveredItems: number;

  private constructor(init: OpenState) {
    this.path = init.path;
    this.regionSize = init.geo.regionSize;
    this.regionCount = init.geo.regionCount;
    this.bucketCount = init.geo.bucketCount;
    this.regionBase = init.geo.bucketCount * BUCKET_SIZE;
    this.align = init.geo.align;
    this.maxBytes = init.maxBytes;
    this.threshold = init.threshold;
    this.maxLargeItem = this.regionSize - REGION_HEADER;
    this.indexItems = init.geo.indexItems;
    this.clock = init.clock;
    this.probability = init.probability;
    this.rate = init.rate;
    this.burst = Number.isFinite(init.rate) ? Math.max(init.rate, this.regionSize) : Infinity;
    this.tokens = this.burst;
    this.lastRefill = init.clock();
    this.flushSlots = Math.max(1, Math.floor(init.maxInFlight / this.regionSize));
    // Bucket rewrites hold 4 KiB each while queued: at least 256 of them may wait.
    this.maxBucketInFlight = Math.max(init.maxInFlight, 256 * BUCKET_SIZE);
    this.fh = init.fh;
    this.lock = init.lock;
    this.epoch = init.epoch;
    this.seed = init.seed;
    this.index = init.index;
    this.regionSeq = init.regionSeq;
    this.regionUsed = init.regionUsed;
    this.regionBuf = new Array<Buffer | null>(this.regionCount).fill(null);
    this.regionFlush = new Array<Promise<void> | null>(this.regionCount).fill(null);
    this.head = init.head;
    this.regionTouch = init.lru ? Float64Array.from(init.regionSeq) : null;
    if (this.regionTouch !== null) for (const t of this.regionTouch) if (t > this.touchClock) this.touchClock = t;
    this.nextRegionSeq = init.nextRegionSeq;
    this.bloom = init.bloom;
    this.smallItems = init.smallItems;
    this.seq = init.seq;
    this.recovery = init.recovery;
    this.recoveredItems = init.index.size + init.smallItems;
    this.counters.corruptions = init.corruptions;
  }

  /** Opens (creating if needed) the tier in `options.path`; see DiskTierOptions. */
  static async open(options: DiskTierOptions): Promise<DiskTier> {
    if (options === null || typeof options !== 'object') throw new TypeError(`cortado: DiskTier.open() takes an options object, got ${describe(options)}`);
    const o = options;
    if (typeof o.path !== 'string' || o.path === '') throw new TypeError(`cortado: DiskTier path must be a non-empty string, got ${describe(o.path)}`);
    const maxBytes = numberOption('maxBytes', o.maxBytes, 1, Number.MAX_SAFE_INTEGER, true);
    let regionSize: number | undefined;
    if (o.regionSize !== undefined) {
      regionSize = numberOption('regionSize', o.regionSize, 16 * 1024, 2 ** 30, true);
      if (regionSize % 4096 !== 0) throw new RangeError(`cortado: DiskTier regionSize must be a multiple of 4096, got ${regionSize}`);
    }
    const threshold = o.smallItemThreshold === undefined ? DEFAULT_SMALL_THRESHOLD
      : numberOption('smallItemThreshold', o.smallItemThreshold, 0, BUCKET_SIZE - BUCKET_HEADER - ITEM_HEADER, true);
    const share = o.smallShare === undefined ? DEFAULT_SMALL_SHARE : numberOption('smallShare', o.smallShare, 0, 0.9, false);
    const a = o.admission;
    if (a !== undefined && (a === null || typeof a !== 'object')) throw new TypeError(`cortado: DiskTier admission must be an object, got ${describe(a)}`);
    const probability = a?.probability === undefined ? 1 : numberOption('admission.probability', a.probability, 0, 1, false);
    const rate = a?.writeRateBytesPerSec === undefined ? Infinity : numberOption('admission.writeRateBytesPerSec', a.writeRateBytesPerSec, 1, Infinity, false);
    const clock = o.clock ?? Date.now;
    if (typeof clock !== 'function') throw new TypeError(`cortado: DiskTier clock must be a function, got ${describe(clock)}`);
    const reclaim = o.reclaim ?? 'fifo';
    if (reclaim !== 'fifo' && reclaim !== 'lru') throw new TypeError(`cortado: DiskTier reclaim must be 'fifo' or 'lru', got ${describe(reclaim)}`);
    const recovery = o.recovery ?? 'quiet';
    if (recovery !== 'quiet' && recovery !== 'strict' && recovery !== 'none') {
      throw new TypeError(`cortado: DiskTier recovery must be 'quiet', 'strict' or 'none', got ${describe(recovery)}`);
    }
    const geo = geometry(o.path, maxBytes, regionSize, threshold, share);
    const maxInFlight = a?.maxInFlightBytes === undefined ? 2 * geo.regionSize
      : numberOption('admission.maxInFlightBytes', a.maxInFlightBytes, 1, Number.MAX_SAFE_INTEGER, false);

    const dir = await prepareDir(o.path);
    const lock = await DirLock.acquire(dir);
    try {
      const state = await load(dir, geo, recovery, maxBytes);
      return new DiskTier({ ...state, path: dir, maxBytes, threshold: geo.bucketCount > 0 ? threshold : 0, clock, probability, rate, maxInFlight, lock, lru: reclaim === 'lru' });
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  // -------------------------------------------------------------------------------------
  // get
  // -------------------------------------------------------------------------------------

  async get(key: TierKey): Promise<TierEntry | undefined> {
    const kb = checkKey('get', key);
    this.checkOpen('get');
    const h = this.h;
    hashBytes(kb, this.seed, h);
    const slot = this.index.find(h.hi, h.lo);
    if (slot >= 0) return this.getLarge(kb, h.hi, h.lo, this.index.addrAt(slot), this.index.lenAt(slot));
    if (this.bucketCount === 0) return this.miss();
    const b = this.bucketOf(h.hi);
    if (!this.bloomMaybe(b, h.lo) && !this.chains.has(b)) {
      this.counters.bloomSkips++;
      return this.miss();
    }
    const gen = this.generation;
    return this.onBucket(b, async () => {
      if (gen !== this.generation) return this.miss();
      const buf = await this.readBucket(b);
      if (buf === null) return this.miss();
      const p = this.parsed;
      const used = buf.readUInt16LE(14);
      for (let at = BUCKET_HEADER; at < used;) {
        if (parseItem(buf, at, used, p) !== ItemStatus.Live) break;
        if (p.epoch === this.epoch && sameKey(buf, p, kb)) return this.found(buf, p);
        at += p.size;
      }
      return this.miss();
    });
  }

  private miss(): undefined {
    this.counters.misses++;
    return undefined;
  }

  /**
   * A hit on the item parsed in `p`, or a miss when it expired. The value is copied out of
   * `buf` unless `owned` (a buffer read for this call alone, handed to the caller as it is).
   */
  private found(buf: Buffer, p: ParsedItem, owned = false): TierEntry | undefined {
    let ttl = Infinity;
    if (p.expires !== 0) {
      ttl = p.expires - this.clock();
      if (ttl <= 0) return this.miss();
    }
    const start = p.keyAt + p.keyLen;
    const view = buf.subarray(start, start + p.valueLen);
    const bytes = owned ? view : Buffer.from(view);
    this.counters.hits++;
    return { bytes, ttl };
  }

  private async getLarge(kb: Uint8Array, hi: number, lo: number, addr: number, len: number): Promise<TierEntry | undefined> {
    const off = addr * this.align;
    const r = Math.floor(off / this.regionSize);
    const inRegion = off - r * this.regionSize;
    const p = this.parsed;
    const mem = this.regionBuf[r];
    if (mem !== null && mem !== undefined) {
      // Still in memory (being filled or being written): served from the buffer.
      if (parseItem(mem, inRegion, inRegion + len, p) !== ItemStatus.Live || !sameKey(mem, p, kb)) return this.miss();
      return this.foundOrExpire(mem, p, hi, lo, addr, len);
    }
    const seqBefore = this.regionSeq[r]!;
    const buf = Buffer.allocUnsafe(len);
    let n: number;
    try {
      this.counters.reads++;
      n = (await this.tracked(this.fh.read(buf, 0, len, this.regionBase + off))).bytesRead;
    } catch (e) {
      this.counters.errors++;
      throw e;
    }
    // Re-read the scratch after the await: other calls used it meanwhile.
    const q = this.parsed;
    const reused = this.regionSeq[r] !== seqBefore;
    const status = parseItem(buf, 0, n, q);
    if (status === ItemStatus.Bad) {
      // A region reused under the read is a race, not a corruption.
      if (!reused) {
        this.counters.corruptions++;
        this.index.removeIf(hi, lo, addr, len);
      }
      return this.miss();
    }
    if (status === ItemStatus.Dead || reused || q.epoch !== this.epoch || q.region !== seqBefore || !sameKey(buf, q, kb)) return this.miss();
    return this.foundOrExpire(buf, q, hi, lo, addr, len, true);
  }

  private foundOrExpire(buf: Buffer, p: ParsedItem, hi: number, lo: number, addr: number, len: number, owned = false): TierEntry | undefined {
    if (p.expires !== 0 && p.expires <= this.clock()) {
      // Expired: forget it (no punch needed: expiry holds after a restart too).
      this.index.removeIf(hi, lo, addr, len);
      return this.miss();
    }
    if (this.regionTouch !== null) this.regionTouch[Math.floor((addr * this.align) / this.regionSize)] = ++this.touchClock;
    return this.found(buf, p, owned);
  }

  // -------------------------------------------------------------------------------------
  // set
  // -------------------------------------------------------------------------------------

  async set(key: TierKey, bytes: Uint8Array, options?: TierSetOptions): Promise<void> {
    const kb = checkKey('set', key);
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`cortado: DiskTier.set() bytes must be a Uint8Array or Buffer, got ${describe(bytes)}`);
    const ttl = readTtl(options);
    this.checkOpen('set');
    const h = this.h;
    hashBytes(kb, this.seed, h);
    const hi = h.hi;
    const lo = h.lo;
    const size = ITEM_HEADER + kb.length + bytes.length;
    const small = kb.length + bytes.length < this.threshold;
    const cost = small ? BUCKET_SIZE : size;
    if ((!small && size > this.maxLargeItem) || !this.admit(cost, small)) {
      // Declined: the key must not keep an older value (the set resolved, so the old bytes
      // would otherwise be served as if this set had never happened).
      this.counters.rejected++;
      await this.remove(kb, hi, lo);
      return;
    }
    const expires = ttl > 0 ? this.clock() + ttl : 0;
    const seq = this.seq++;
    if (small) {
      // The large copy (if any) goes now, in call order; the bucket rewrite follows its chain.
      this.dropLarge(hi, lo);
      const b = this.bucketOf(hi);
      const gen = this.generation;
      this.bucketInFlight += cost;
      try {
        await this.onBucket(b, () => this.rewriteBucket(b, kb, lo, bytes, seq, expires, gen));
      } finally {
        this.bucketInFlight -= cost;
      }
    } else {
      if (!this.append(kb, hi, lo, bytes, seq, expires)) {
        this.counters.rejected++;
        await this.remove(kb, hi, lo);
        return;
      }
      if (this.bucketCount > 0) {
        const b = this.bucketOf(hi);
        const gen = this.generation;
        if (this.bloomMaybe(b, lo) || this.chains.has(b)) await this.onBucket(b, () => this.rewriteBucket(b, kb, lo, null, 0, 0, gen));
      }
    }
    await this.barrier;
    this.counters.writes++;
    this.counters.bytesWritten += bytes.length;
  }

  /** Token bucket and in-flight bound; true when the write may go ahead. */
  private admit(cost: number, small: boolean): boolean {
    if (this.probability < 1 && Math.random() >= this.probability) return false;
    if (small && this.bucketInFlight + cost > this.maxBucketInFlight) return false;
    if (this.rate !== Infinity) {
      const now = this.clock();
      if (now > this.lastRefill) {
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * this.rate) / 1000);
        this.lastRefill = now;
      }
      if (this.tokens < cost) return false;
      this.tokens -= cost;
    }
    return true;
  }

  // -------------------------------------------------------------------------------------
  // delete / clear
  // -------------------------------------------------------------------------------------

  async delete(key: TierKey): Promise<boolean> {
    const kb = checkKey('delete', key);
    this.checkOpen('delete');
    const h = this.h;
    hashBytes(kb, this.seed, h);
    return this.remove(kb, h.hi, h.lo);
  }

  /** Removes the key from both engines; resolves once the removal would survive a crash. */
  private async remove(kb: Uint8Array, hi: number, lo: number): Promise<boolean> {
    let found = this.dropLarge(hi, lo);
    if (this.bucketCount > 0) {
      const b = this.bucketOf(hi);
      if (this.bloomMaybe(b, lo) || this.chains.has(b)) {
        const gen = this.generation;
        const inBucket = await this.onBucket(b, () => this.rewriteBucket(b, kb, lo, null, 0, 0, gen));
        found = found || inBucket;
      }
    }
    await this.barrier;
    return found;
  }

  /** Removes the large copy of a key (index now, punch on disk tracked by the barrier). */
  private dropLarge(hi: number, lo: number): boolean {
    const slot = this.index.find(hi, lo);
    if (slot < 0) return false;
    const addr = this.index.addrAt(slot);
    this.index.removeSlot(slot);
    this.punch(addr);
    return true;
  }

  /** Zeroes the magic of the item at `addr`: in its buffer, after its flush, or on disk. */
  private punch(addr: number): void {
    const off = addr * this.align;
    const r = Math.floor(off / this.regionSize);
    const inRegion = off - r * this.regionSize;
    const flush = this.regionFlush[r];
    if (r === this.active) {
      this.regionBuf[r]!.writeUInt32LE(0, inRegion);
      return;
    }
    const seq = this.regionSeq[r]!;
    const write = async (): Promise<void> => {
      if (this.regionSeq[r] !== seq) return; // reused since: its invalidation covers it
      await this.fh.write(ZERO4, 0, 4, this.regionBase + off);
      this.counters.deviceBytesWritten += 4;
    };
    this.track(flush !== null && flush !== undefined ? flush.then(write) : write());
  }

  /** Large-item reads in flight, which close() lets finish before it closes the file. */
  private readonly reading = new Set<Promise<unknown>>();

  private tracked<T>(p: Promise<T>): Promise<T> {
    this.reading.add(p);
    const done = (): void => {
      this.reading.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /** Adds a durability write to the barrier; its failure is counted, never unhandled. */
  private track(p: Promise<void>): void {
    const safe = p.catch(() => {
      this.counters.errors++;
    });
    const prev = this.barrier;
    this.barrier = prev.then(() => safe);
  }

  async clear(): Promise<void> {
    this.checkOpen('clear');
    this.generation++;
    this.index.clear();
    this.bloom.fill(0);
    this.smallItems = 0;
    // Items already in the active buffer keep the old epoch: never indexed again, and
    // ignored by a recovery scan. A new epoch in the superblock hides all the rest.
    this.epoch = (this.epoch + 1) >>> 0 || 1;
    const sb = superBlock(this.epoch, this.seed, this.regionSize, this.regionCount, this.bucketCount);
    try {
      await writeSuper(this.path, sb);
    } catch (e) {
      this.counters.errors++;
      throw e;
    }
    await this.barrier;
  }

  // -------------------------------------------------------------------------------------
  // regions
  // -------------------------------------------------------------------------------------

  /** Appends a large item to the active region (rotating when full); false when it cannot. */
  private append(kb: Uint8Array, hi: number, lo: number, value: Uint8Array, seq: number, expires: number): boolean {
    const size = ITEM_HEADER + kb.length + value.length;
    const aligned = alignUp(size, this.align);
    if (this.active < 0 || this.regionUsed[this.active]! + aligned > this.regionSize) {
      if (!this.rotate()) return false;
    }
    const r = this.active;
    const at = this.regionUsed[r]!;
    writeItem(this.regionBuf[r]!, at, this.epoch, this.regionSeq[r]!, seq, expires, kb, value);
    this.regionUsed[r] = at + aligned;
    const addr = (r * this.regionSize + at) / this.align;
    this.index.put(hi, lo, addr, size);
    if (this.index.prevLen !== 0) this.punch(this.index.prevAddr);
    return true;
  }

  /** Seals the active region (starting its write) and opens the next one; false when no buffer or region is free. */
  private rotate(): boolean {
    const next = this.regionTouch === null ? (this.head + 1) % this.regionCount : this.leastRecent();
    if (next < 0 || this.regionFlush[next] !== null) return false;
    let buf = this.freeBuffers.pop();
    if (buf === undefined) {
      if (this.buffersAllocated >= 1 + this.flushSlots) return false;
      buf = Buffer.allocUnsafe(this.regionSize);
      this.buffersAllocated++;
    }
    if (this.active >= 0) this.seal();
    // Reuse `next`: evict what it holds and invalidate it on disk before anything new lands.
    const from = (next * this.regionSize) / this.align;
    this.counters.evictions += this.index.removeRange(from, from + this.regionSize / this.align);
    let s = this.nextRegionSeq++ >>> 0;
    if (s === 0) s = this.nextRegionSeq++ >>> 0;
    this.regionSeq[next] = s;
    this.regionUsed[next] = REGION_HEADER;
    this.regionBuf[next] = buf;
    if (this.regionTouch !== null) this.regionTouch[next] = ++this.touchClock;
    this.active = next;
    this.head = next;
    const off = this.regionBase + next * this.regionSize;
    this.track(this.fh.write(ZERO_REGION_HEADER, 0, REGION_HEADER, off).then(noop));
    return true;
  }

  /** reclaim 'lru': the region used longest ago that is neither being filled nor written. */
  private leastRecent(): number {
    const touch = this.regionTouch!;
    let best = -1;
    let bestTouch = Infinity;
    for (let r = 0; r < this.regionCount; r++) {
      if (r === this.active || this.regionFlush[r] !== null) continue;
      if (touch[r]! < bestTouch) {
        bestTouch = touch[r]!;
        best = r;
      }
    }
    return best;
  }

  /** Writes the active region's buffer whole; the buffer returns to the pool when done. */
  private seal(): void {
    const r = this.active;
    this.active = -1;
    const buf = this.regionBuf[r]!;
    const used = this.regionUsed[r]!;
    buf.writeUInt32LE(this.epoch, 8);
    buf.writeUInt32LE(this.regionSeq[r]!, 12);
    buf.writeUInt32LE(used, 16);
    buf.fill(0, 20, REGION_HEADER);
    buf.writeUInt32LE(crc32(buf, 8, REGION_HEADER), 4);
    buf.writeUInt32LE(REGION_MAGIC, 0);
    const len = Math.min(this.regionSize, alignUp(used, 4096));
    const off = this.regionBase + r * this.regionSize;
    const seq = this.regionSeq[r]!;
    this.flushing++;
    // After the barrier: the region's invalidation and every punch aimed at its old
    // content must land before the new content does.
    const flush = this.barrier.then(() => this.fh.write(buf, 0, len, off)).then(
      () => {
        this.counters.regionsWritten++;
        this.counters.deviceBytesWritten += len;
      },
      () => {
        // Lost: forget its items (only if the region was not reused meanwhile).
        this.counters.errors++;
        if (this.regionSeq[r] === seq) {
          const from = (r * this.regionSize) / this.align;
          this.index.removeRange(from, from + this.regionSize / this.align);
          this.regionSeq[r] = 0;
        }
      },
    ).finally(() => {
      this.flushing--;
      this.regionFlush[r] = null;
      this.regionBuf[r] = null;
      this.freeBuffers.push(buf);
    });
    this.regionFlush[r] = flush;
  }

  // -------------------------------------------------------------------------------------
  // buckets
  // -------------------------------------------------------------------------------------

  private bucketOf(hi: number): number {
    return Math.floor((hi / 4294967296) * this.bucketCount);
  }

  private bloomMaybe(b: number, lo: number): boolean {
    const w0 = this.bloom[b * 2]!;
    const w1 = this.bloom[b * 2 + 1]!;
    for (let k = 0; k < 3; k++) {
      const bit = (lo >>> (k * 6)) & 63;
      const w = bit < 32 ? w0 : w1;
      if ((w & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  /** Runs `fn` after every earlier operation on bucket `b`. */
  private onBucket<T>(b: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(b);
    const p = prev === undefined ? fn() : prev.then(fn);
    const tail: Chain = p.then(noop, noop);
    this.chains.set(b, tail);
    void tail.then(() => {
      if (this.chains.get(b) === tail) this.chains.delete(b);
    });
    return p;
  }

  /** The bucket's bytes, or null when it holds nothing valid (never written, old epoch, corrupt). */
  private async readBucket(b: number): Promise<Buffer | null> {
    const buf = Buffer.allocUnsafe(BUCKET_SIZE);
    let n: number;
    try {
      this.counters.reads++;
      n = (await this.fh.read(buf, 0, BUCKET_SIZE, b * BUCKET_SIZE)).bytesRead;
    } catch (e) {
      this.counters.errors++;
      throw e;
    }
    const before = this.counters.corruptions;
    if (this.checkBucket(buf, 0, n)) return buf;
    // A corrupt bucket holds nothing: its filter is cleared, so it is counted once, not on every get.
    if (this.counters.corruptions !== before) {
      this.bloom[b * 2] = 0;
      this.bloom[b * 2 + 1] = 0;
    }
    return null;
  }

  /** Whether the bucket at `at` in `buf` (n bytes read) is valid; counts corruption. */
  private checkBucket(buf: Buffer, at: number, n: number): boolean {
    if (n - at < BUCKET_SIZE) return false;
    const magic = buf.readUInt32LE(at);
    if (magic !== BUCKET_MAGIC) {
      if (magic !== 0) this.counters.corruptions++;
      return false;
    }
    if (crc32(buf, at + 8, at + BUCKET_SIZE) !== buf.readUInt32LE(at + 4)) {
      this.counters.corruptions++;
      return false;
    }
    return buf.readUInt32LE(at + 8) === this.epoch;
  }

  /**
   * Rewrites bucket `b` without the key (and with `value` appended when given), evicting the
   * oldest items until it fits; rebuilds its Bloom filter. Resolves whether the key was there.
   */
  private async rewriteBucket(b: number, kb: Uint8Array, lo: number, value: Uint8Array | null, seq: number, expires: number, gen: number): Promise<boolean> {
    if (gen !== this.generation) return false; // cleared since the call
    const old = await this.readBucket(b);
    if (gen !== this.generation) return false;
    const out = Buffer.alloc(BUCKET_SIZE);
    const p = this.parsed;
    const now = this.clock();
    // Live items of the old bucket other than the key, oldest first.
    const starts: number[] = [];
    const sizes: number[] = [];
    let found = false;
    let oldCount = 0;
    if (old !== null) {
      const used = old.readUInt16LE(14);
      for (let at = BUCKET_HEADER; at < used;) {
        if (parseItem(old, at, used, p) !== ItemStatus.Live) break;
        oldCount++;
        if (p.epoch !== this.epoch) {
          // Copied in by a rewrite that raced a clear(): dropped.
        } else if (sameKey(old, p, kb)) found = true;
        else if (p.expires === 0 || p.expires > now) {
          starts.push(at);
          sizes.push(p.size);
        }
        at += p.size;
      }
    }
    if (!found && value === null) return false; // nothing to remove: no write
    const newSize = value === null ? 0 : ITEM_HEADER + kb.length + value.length;
    let total = 0;
    for (const s of sizes) total += s;
    let first = 0;
    while (BUCKET_HEADER + total + newSize > BUCKET_SIZE && first < sizes.length) {
      total -= sizes[first]!;
      first++;
    }
    this.counters.evictions += first;
    let at = BUCKET_HEADER;
    let bloom0 = 0;
    let bloom1 = 0;
    const kh: KeyHash = { hi: 0, lo: 0 };
    for (let i = first; i < starts.length; i++) {
      old!.copy(out, at, starts[i]!, starts[i]! + sizes[i]!);
      const keyLen = out.readUInt16LE(at + 32);
      hashBytes(out.subarray(at + ITEM_HEADER, at + ITEM_HEADER + keyLen), this.seed, kh);
      for (let k = 0; k < 3; k++) {
        const bit = (kh.lo >>> (k * 6)) & 63;
        if (bit < 32) bloom0 |= 1 << bit;
        else bloom1 |= 1 << (bit - 32);
      }
      at += sizes[i]!;
    }
    let count = starts.length - first;
    if (value !== null) {
      at += writeItem(out, at, this.epoch, 0, seq, expires, kb, value);
      for (let k = 0; k < 3; k++) {
        const bit = (lo >>> (k * 6)) & 63;
        if (bit < 32) bloom0 |= 1 << bit;
        else bloom1 |= 1 << (bit - 32);
      }
      count++;
    }
    out.writeUInt32LE(this.epoch, 8);
    out.writeUInt16LE(count, 12);
    out.writeUInt16LE(at, 14);
    out.writeUInt32LE(crc32(out, 8, BUCKET_SIZE), 4);
    out.writeUInt32LE(BUCKET_MAGIC, 0);
    try {
      await this.fh.write(out, 0, BUCKET_SIZE, b * BUCKET_SIZE);
    } catch (e) {
      this.counters.errors++;
      throw e;
    }
    this.counters.deviceBytesWritten += BUCKET_SIZE;
    this.bloom[b * 2] = bloom0;
    this.bloom[b * 2 + 1] = bloom1;
    this.smallItems += count - (old === null ? 0 : oldCount);
    return found;
  }

  // -------------------------------------------------------------------------------------
  // close / stats
  // -------------------------------------------------------------------------------------

  /**
   * Writes the region being filled (even if not full) and waits for every write in flight:
   * afterwards everything set so far would survive a crash (SIGKILL) and the in-flight
   * bound is free again.
   */
  async flush(): Promise<void> {
    this.checkOpen('flush');
    await Promise.all([...this.chains.values()]);
    if (this.active >= 0 && this.regionUsed[this.active]! > REGION_HEADER) this.seal();
    await Promise.all(this.regionFlush.filter((f) => f !== null));
    await this.barrier;
  }

  /**
   * Resolves when no region write, bucket rewrite or punch issued before the call is still in
   * flight; unlike flush() it leaves the region being filled in memory. A loader that must not
   * lose sets to admission waits on it after a refusal and sets again.
   */
  async drain(): Promise<void> {
    this.checkOpen('drain');
    await Promise.all([...this.chains.values()]);
    await Promise.all(this.regionFlush.filter((f) => f !== null));
    await this.barrier;
  }

  private checkOpen(where: string): void {
    if (this.closing !== null) throw new DiskTierClosedError(`cortado: DiskTier.${where}() after close() (${this.path})`);
  }

  /** Writes what is in memory, saves the index for a warm restart, releases the lock. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    try {
      await Promise.all([...this.chains.values()]);
      if (this.active >= 0 && this.regionUsed[this.active]! > REGION_HEADER) this.seal();
      else if (this.active >= 0) {
        const r = this.active;
        this.active = -1;
        this.regionSeq[r] = 0;
        this.regionBuf[r] = null;
      }
      await Promise.all(this.regionFlush.filter((f) => f !== null));
      await this.barrier;
      await Promise.allSettled([...this.reading]);
      await this.fh.sync();
      await this.saveIndex();
    } finally {
      await this.fh.close().catch(noop);
      await this.lock.release();
    }
  }

  private async saveIndex(): Promise<void> {
    // Within the reserve: the newest regions' entries (by region sequence) that fit.
    let minSeq = 0;
    if (this.index.size > this.indexItems) {
      const perRegion = new Float64Array(this.regionCount);
      const rs = this.regionSize;
      const al = this.align;
      this.index.forEach((_hi, _lo, addr) => perRegion[Math.floor((addr * al) / rs)]!++);
      const order = Array.from({ length: this.regionCount }, (_, r) => r).sort((a, b) => this.regionSeq[b]! - this.regionSeq[a]!);
      let kept = 0;
      minSeq = Infinity;
      for (const r of order) {
        if (kept + perRegion[r]! > this.indexItems) break;
        kept += perRegion[r]!;
        minSeq = this.regionSeq[r]!;
      }
    }
    const keep = (addr: number): boolean => minSeq === 0 || this.regionSeq[Math.floor((addr * this.align) / this.regionSize)]! >= minSeq;
    let n = 0;
    this.index.forEach((_hi, _lo, addr) => {
      if (keep(addr)) n++;
    });
    const size = indexFileBytes(this.regionCount, this.bucketCount, n);
    const buf = Buffer.alloc(size);
    buf.writeUInt32LE(INDEX_MAGIC, 0);
    buf.writeUInt32LE(FORMAT_VERSION, 4);
    buf.writeUInt32LE(this.epoch, 8);
    buf.writeUInt32LE(this.seed, 12);
    buf.writeUInt32LE(this.regionSize, 16);
    buf.writeUInt32LE(this.regionCount, 20);
    buf.writeUInt32LE(this.bucketCount, 24);
    buf.writeUInt32LE(n, 28);
    buf.writeDoubleLE(this.seq, 32);
    buf.writeUInt32LE(this.nextRegionSeq >>> 0, 40);
    buf.writeUInt32LE(this.head < 0 ? 0xffffffff : this.head, 44);
    buf.writeUInt32LE(this.smallItems, 48);
    let at = 64;
    for (let r = 0; r < this.regionCount; r++) {
      buf.writeUInt32LE(this.regionSeq[r]!, at);
      buf.writeUInt32LE(this.regionUsed[r]!, at + 4);
      at += 8;
    }
    Buffer.from(this.bloom.buffer, this.bloom.byteOffset, this.bloom.byteLength).copy(buf, at);
    at += this.bloom.byteLength;
    this.index.forEach((hi, lo, addr, len) => {
      if (!keep(addr)) return;
      buf.writeUInt32LE(hi, at);
      buf.writeUInt32LE(lo, at + 4);
      buf.writeUInt32LE(addr, at + 8);
      buf.writeUInt32LE(len, at + 12);
      at += 16;
    });
    buf.writeUInt32LE(crc32(buf, 0, at), at);
    const tmp = join(this.path, 'index.tmp');
    const fh = await openFile(tmp, 'w');
    try {
      await fh.write(buf, 0, buf.length, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.path, 'index'));
  }

  stats(): DiskTierStats {
    const c = this.counters;
    let inFlight = this.bucketInFlight;
    for (let r = 0; r < this.regionCount; r++) if (this.regionFlush[r] !== null) inFlight += this.regionUsed[r]!;
    return {
      hits: c.hits,
      misses: c.misses,
      writes: c.writes,
      bytesWritten: c.bytesWritten,
      rejected: c.rejected,
      errors: c.errors,
      corruptions: c.corruptions,
      recovery: this.recovery,
      recoveredItems: this.recoveredItems,
      items: this.index.size + this.smallItems,
      largeItems: this.index.size,
      smallItems: this.smallItems,
      reads: c.reads,
      bloomSkips: c.bloomSkips,
      evictions: c.evictions,
      deviceBytesWritten: c.deviceBytesWritten,
      regionsWritten: c.regionsWritten,
      indexBytes: this.index.bytes + this.regionSeq.byteLength + this.regionUsed.byteLength,
      bloomBytes: this.bloom.byteLength,
      bufferBytes: this.buffersAllocated * this.regionSize,
      inFlightBytes: inFlight,
      regionSize: this.regionSize,
      regionCount: this.regionCount,
      bucketCount: this.bucketCount,
      maxBytes: this.maxBytes,
    };
  }
}

// ---------------------------------------------------------------------------------------
// open: directory, superblock, warm load, recovery scan
// ---------------------------------------------------------------------------------------

interface OpenState {
  path: string;
  lru: boolean;
  maxBytes: number;
  threshold: number;
  clock: () => number;
  probability: number;
  rate: number;
  maxInFlight: number;
  lock: DirLock;
  geo: Geometry;
  fh: FileHandle;
  epoch: number;
  seed: number;
  index: ItemIndex;
  regionSeq: Uint32Array;
  regionUsed: Uint32Array;
  head: number;
  nextRegionSeq: number;
  bloom: Uint32Array;
  smallItems: number;
  seq: number;
  recovery: 'warm' | 'scanned' | 'empty';
  corruptions: number;
}

async function prepareDir(path: string): Promise<string> {
  try {
    await mkdir(path, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'it exists and is not a directory' : code === 'ENOTDIR' ? 'a part of it is a file' : code ?? (e as Error).message;
    throw new DiskPathError(`cortado: DiskTier path ${JSON.stringify(path)} cannot be used as a directory: ${why}`, path, e);
  }
  let dir: string;
  try {
    dir = await realpath(path);
    const st = await stat(dir);
    if (!st.isDirectory()) throw new DiskPathError(`cortado: DiskTier path ${JSON.stringify(path)} is not a directory`, path);
    await access(dir, fsConstants.W_OK | fsConstants.R_OK | fsConstants.X_OK);
  } catch (e) {
    if (e instanceof DiskPathError) throw e;
    throw new DiskPathError(`cortado: DiskTier path ${JSON.stringify(path)} is not a writable directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, path, e);
  }
  return dir;
}

function superBlock(epoch: number, seed: number, regionSize: number, regionCount: number, bucketCount: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(SUPER_MAGIC, 0);
  b.writeUInt32LE(FORMAT_VERSION, 8);
  b.writeUInt32LE(epoch, 12);
  b.writeUInt32LE(seed, 16);
  b.writeUInt32LE(regionSize, 20);
  b.writeUInt32LE(regionCount, 24);
  b.writeUInt32LE(bucketCount, 28);
  b.writeUInt32LE(crc32(b, 8, 64), 4);
  return b;
}

/** Writes the superblock in place (64 bytes: one sector, so never torn on a crash). */
async function writeSuper(dir: string, sb: Buffer): Promise<void> {
  const file = join(dir, 'super');
  const fh = await openFile(file, 'r+').catch(() => openFile(file, 'w'));
  try {
    await fh.write(sb, 0, sb.length, 0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch {
    return null;
  }
}

async function load(dir: string, geo: Geometry, recovery: DiskRecovery, maxBytes: number): Promise<Omit<OpenState, 'lru' | 'path' | 'maxBytes' | 'threshold' | 'clock' | 'probability' | 'rate' | 'maxInFlight' | 'lock'>> {
  // Free space: the data file may grow to geo.dataBytes (it is sparse until written).
  const dataPath = join(dir, 'data');
  let dataSize = 0;
  try {
    dataSize = (await stat(dataPath)).size;
  } catch {
    dataSize = 0;
  }
  try {
    const fsinfo = await statfs(dir);
    const free = fsinfo.bavail * fsinfo.bsize;
    const need = geo.dataBytes + geo.indexBytes - dataSize;
    if (free < need) {
      throw new DiskSpaceError(`cortado: DiskTier maxBytes ${maxBytes} needs ${need} more bytes in ${JSON.stringify(dir)} but the device has ${free} free`, dir);
    }
  } catch (e) {
    if (e instanceof DiskSpaceError) throw e;
  }

  const sb = await readOrNull(join(dir, 'super'));
  const indexFile = join(dir, 'index');
  const saved = await readOrNull(indexFile);
  let epoch = 0;
  let seed = 0;
  let fresh = true;
  if (sb !== null && sb.length >= 64 && sb.readUInt32LE(0) === SUPER_MAGIC && crc32(sb, 8, 64) === sb.readUInt32LE(4)
    && sb.readUInt32LE(8) === FORMAT_VERSION && sb.readUInt32LE(20) === geo.regionSize
    && sb.readUInt32LE(24) === geo.regionCount && sb.readUInt32LE(28) === geo.bucketCount && recovery !== 'none') {
    epoch = sb.readUInt32LE(12);
    seed = sb.readUInt32LE(16);
    fresh = false;
  }

  let fh: FileHandle;
  try {
    fh = await openFile(dataPath, 'r+');
  } catch {
    fh = await openFile(dataPath, 'w+');
  }
  try {
    if (dataSize > geo.dataBytes) await fh.truncate(geo.dataBytes);
    const regionSeq = new Uint32Array(geo.regionCount);
    const regionUsed = new Uint32Array(geo.regionCount);
    const bloom = new Uint32Array(geo.bucketCount * 2);
    const base = { fh, regionSeq, regionUsed, bloom, geo };

    if (fresh) {
      if (saved !== null) await unlink(indexFile).catch(noop);
      epoch = randomInt(1, 2 ** 32 - 1);
      seed = randomInt(0, 2 ** 32 - 1);
      await writeSuper(dir, superBlock(epoch, seed, geo.regionSize, geo.regionCount, geo.bucketCount));
      return { ...base, epoch, seed, index: new ItemIndex(), head: geo.regionCount - 1, nextRegionSeq: 1, smallItems: 0, seq: 1, recovery: 'empty', corruptions: 0 };
    }

    // Warm: the index close() saved, if it verifies and matches this superblock.
    if (saved !== null) {
      // Removed before anything is served: after a crash from here on, the next open must scan.
      await unlink(indexFile);
      const warm = warmLoad(saved, epoch, seed, geo, regionSeq, regionUsed, bloom);
      if (warm !== null) return { ...base, ...warm, epoch, seed, recovery: 'warm', corruptions: 0 };
    }
    if (recovery === 'strict') {
      throw new DiskRecoveryError(`cortado: DiskTier ${JSON.stringify(dir)} was not closed cleanly (no valid index); recovery 'strict' refuses to scan it (use 'quiet' to recover what verifies, or 'none' to start empty)`, dir);
    }
    const scanned = await scan(fh, epoch, seed, geo, regionSeq, regionUsed, bloom);
    return { ...base, ...scanned, epoch, seed, recovery: 'scanned' };
  } catch (e) {
    await fh.close().catch(noop);
    throw e;
  }
}

function warmLoad(
  buf: Buffer, epoch: number, seed: number, geo: Geometry, regionSeq: Uint32Array, regionUsed: Uint32Array, bloom: Uint32Array,
): { index: ItemIndex; head: number; nextRegionSeq: number; smallItems: number; seq: number } | null {
  if (buf.length < 68 || buf.readUInt32LE(0) !== INDEX_MAGIC || buf.readUInt32LE(4) !== FORMAT_VERSION) return null;
  if (buf.readUInt32LE(8) !== epoch || buf.readUInt32LE(12) !== seed || buf.readUInt32LE(16) !== geo.regionSize
    || buf.readUInt32LE(20) !== geo.regionCount || buf.readUInt32LE(24) !== geo.bucketCount) return null;
  const n = buf.readUInt32LE(28);
  const size = indexFileBytes(geo.regionCount, geo.bucketCount, n);
  if (buf.length !== size || crc32(buf, 0, size - 4) !== buf.readUInt32LE(size - 4)) return null;
  const seq = buf.readDoubleLE(32);
  const nextRegionSeq = buf.readUInt32LE(40);
  const headRaw = buf.readUInt32LE(44);
  const smallItems = buf.readUInt32LE(48);
  let at = 64;
  for (let r = 0; r < geo.regionCount; r++) {
    regionSeq[r] = buf.readUInt32LE(at);
    regionUsed[r] = buf.readUInt32LE(at + 4);
    at += 8;
  }
  for (let i = 0; i < bloom.length; i++, at += 4) bloom[i] = buf.readUInt32LE(at);
  const index = new ItemIndex(n);
  for (let i = 0; i < n; i++, at += 16) {
    index.put(buf.readUInt32LE(at), buf.readUInt32LE(at + 4), buf.readUInt32LE(at + 8), buf.readUInt32LE(at + 12));
  }
  const head = headRaw === 0xffffffff || headRaw >= geo.regionCount ? geo.regionCount - 1 : headRaw;
  return { index, head, nextRegionSeq, smallItems, seq };
}

/**
 * Rebuilds the index and the Bloom filters from the data file after an unclean stop.
 * Regions are replayed oldest first (by region sequence), so a later copy of a key replaces
 * an earlier one and a punched later copy removes it. Only items of the current epoch, of
 * the region's current sequence, and verifying their checksum are kept.
 */
async function scan(
  fh: FileHandle, epoch: number, seed: number, geo: Geometry, regionSeq: Uint32Array, regionUsed: Uint32Array, bloom: Uint32Array,
): Promise<{ index: ItemIndex; head: number; nextRegionSeq: number; smallItems: number; seq: number; corruptions: number }> {
  let corruptions = 0;
  let maxSeq = 0;
  const p = newParsed();
  const h: KeyHash = { hi: 0, lo: 0 };
  const regionBase = geo.bucketCount * BUCKET_SIZE;
  // Region headers first, to order the regions.
  const hdr = Buffer.alloc(REGION_HEADER);
  const order: number[] = [];
  for (let r = 0; r < geo.regionCount; r++) {
    const { bytesRead } = await fh.read(hdr, 0, REGION_HEADER, regionBase + r * geo.regionSize);
    if (bytesRead < REGION_HEADER || hdr.readUInt32LE(0) !== REGION_MAGIC) continue;
    if (crc32(hdr, 8, REGION_HEADER) !== hdr.readUInt32LE(4)) {
      corruptions++;
      continue;
    }
    if (hdr.readUInt32LE(8) !== epoch) continue;
    const used = hdr.readUInt32LE(16);
    if (used < REGION_HEADER || used > geo.regionSize) {
      corruptions++;
      continue;
    }
    regionSeq[r] = hdr.readUInt32LE(12);
    regionUsed[r] = used;
    order.push(r);
  }
  order.sort((a, b) => regionSeq[a]! - regionSeq[b]!);
  const index = new ItemIndex();
  // Older copies of a key that a later copy (live or punched) supersedes: an overwrite or
  // delete that was cut short by the crash. They are punched before the tier serves, so that
  // no live duplicate is left for a later reuse order (reclaim 'lru') to bring back.
  const superseded: number[] = [];
  const buf = Buffer.allocUnsafe(geo.regionSize);
  for (const r of order) {
    const used = regionUsed[r]!;
    const { bytesRead } = await fh.read(buf, 0, used, regionBase + r * geo.regionSize);
    const limit = Math.min(used, bytesRead);
    for (let at = REGION_HEADER; at < limit;) {
      const status = parseItem(buf, at, limit, p);
      if (status === ItemStatus.Bad) {
        corruptions++;
        break;
      }
      if (p.region !== regionSeq[r]) break; // stale tail of an interrupted rewrite
      if (p.epoch === epoch) {
        hashBytes(buf.subarray(p.keyAt, p.keyAt + p.keyLen), seed, h);
        if (p.seq > maxSeq) maxSeq = p.seq;
        if (status === ItemStatus.Live) {
          index.put(h.hi, h.lo, (r * geo.regionSize + at) / geo.align, p.size);
          if (index.prevLen !== 0) superseded.push(index.prevAddr);
        } else {
          const slot = index.find(h.hi, h.lo);
          if (slot >= 0) {
            superseded.push(index.addrAt(slot));
            index.removeSlot(slot);
          }
        }
      }
      at += alignUp(p.size, geo.align);
    }
  }
  for (const addr of superseded) await fh.write(ZERO4, 0, 4, regionBase + addr * geo.align);
  let head = geo.regionCount - 1;
  let nextRegionSeq = 1;
  if (order.length > 0) {
    head = order[order.length - 1]!;
    nextRegionSeq = regionSeq[head]! + 1;
  }
  // Buckets: verify each, count its items, rebuild its filter.
  let smallItems = 0;
  const chunk = Buffer.allocUnsafe(SCAN_CHUNK);
  for (let first = 0; first < geo.bucketCount; first += SCAN_CHUNK / BUCKET_SIZE) {
    const want = Math.min(SCAN_CHUNK, (geo.bucketCount - first) * BUCKET_SIZE);
    const { bytesRead } = await fh.read(chunk, 0, want, first * BUCKET_SIZE);
    for (let i = 0; i * BUCKET_SIZE < want; i++) {
      const at = i * BUCKET_SIZE;
      const b = first + i;
      if (bytesRead - at < BUCKET_SIZE) break;
      const magic = chunk.readUInt32LE(at);
      if (magic !== BUCKET_MAGIC) {
        if (magic !== 0) corruptions++;
        continue;
      }
      if (crc32(chunk, at + 8, at + BUCKET_SIZE) !== chunk.readUInt32LE(at + 4)) {
        corruptions++;
        continue;
      }
      if (chunk.readUInt32LE(at + 8) !== epoch) continue;
      const used = at + chunk.readUInt16LE(at + 14);
      let w0 = 0;
      let w1 = 0;
      for (let o = at + BUCKET_HEADER; o < used;) {
        if (parseItem(chunk, o, used, p) !== ItemStatus.Live) break;
        hashBytes(chunk.subarray(p.keyAt, p.keyAt + p.keyLen), seed, h);
        for (let k = 0; k < 3; k++) {
          const bit = (h.lo >>> (k * 6)) & 63;
          if (bit < 32) w0 |= 1 << bit;
          else w1 |= 1 << (bit - 32);
        }
        if (p.seq > maxSeq) maxSeq = p.seq;
        smallItems++;
        o += p.size;
      }
      bloom[b * 2] = w0;
      bloom[b * 2 + 1] = w1;
    }
  }
  return { index, head, nextRegionSeq, smallItems, seq: maxSeq + 1, corruptions };
}
