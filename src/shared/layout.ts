/**
 * The memory map of a SharedCache: where each structure lives inside its one
 * SharedArrayBuffer, computed from the options by the creating thread and re-read from the
 * header by every thread that attaches.
 *
 * Why one buffer allocated at `maxBytes` up front rather than a growable one: everything
 * (header, undo log, thread table, handle registries, stats, descriptors, hash buckets, the
 * S3-FIFO ghost and the data heap) must sit at fixed offsets that lock-free readers in other
 * threads can compute once, and a growable buffer would make the heap's end move under them.
 * On Linux an untouched SharedArrayBuffer is zero-filled virtual memory (pages are committed
 * when first written), so reserving maxBytes costs address space, not RSS, until it is used.
 *
 * Regions, in order (all 8-byte aligned):
 *   header      HEADER_WORDS Int32 words: configuration, the writer lock, policy state,
 *               allocator bins and bitmap;
 *   undo log    LOG_ENTRIES (word index, old value) pairs: what the lock holder changed in
 *               the current step, so that a step cut short by worker.terminate() is rolled
 *               back by whoever recovers the lock (write-ahead undo logging, as in
 *               persistent-memory transactions);
 *   threads     one word per participant (thread id + 1, 0 = free);
 *   registry    `maxHandles` words per participant: the items its handles pin, so that
 *               watch() can unpin what a dead worker held;
 *   stats       16 float64 counters per participant plus one block for retired participants
 *               (each thread writes only its own block: no shared counter cache line);
 *   descriptors 32 bytes per item slot (type-stable: a descriptor is always a descriptor,
 *               which is what makes lock-free pins and hit marks safe, see store.ts);
 *   buckets     hash-chain heads (one Int32 per bucket, a power of two);
 *   ghost       S3-FIFO only: a ring of key hashes and an open-addressing table over it;
 *   heap        key and value bytes in variable-size blocks (store.ts, the allocator).
 */

/** Magic number in word 0: "CRTD". */
export const MAGIC = 0x43525444;
/** Layout version in word 1; attach() refuses another. */
export const FORMAT = 3;

// ---- header words --------------------------------------------------------------------
export const H_MAGIC = 0;
export const H_FORMAT = 1;
/** The writer lock: 0 free, else the owner's participant index + 1. */
export const H_LOCK = 2;
/** Set by a thread about to wait for the lock, so the holder knows to notify. */
export const H_CONTENDED = 3;

/** 0 = sieve, 1 = s3fifo. */
export const H_POLICY = 5;

export const H_SEED = 9;
export const H_MAX_ENTRIES = 10;
export const H_NDESC = 11;
export const H_NBUCKETS = 12;
export const H_PARTS = 13;
export const H_HANDLES = 14;
export const H_HEAP_START = 15;
export const H_HEAP_END = 16;
export const H_DESC0 = 17;
export const H_BUCKET0 = 18;
export const H_GHOST_RING0 = 19;
export const H_GHOST_CAP = 20;
export const H_GHOST_RING_SIZE = 21;
export const H_GHOST_TABLE0 = 22;
export const H_GHOST_TMASK = 23;
export const H_LOG0 = 24;
export const H_PART0 = 25;
export const H_REG0 = 26;
/** Byte offset of the stats block. */
export const H_STATS0 = 27;
/** Codec of the creator: 0 bytes, 1 utf8, 2 json, 3 v8, 4 the user's own. */
export const H_CODEC = 28;
/** Default ttl in ms (0 none). */
export const H_TTL = 29;
/** Creation time on the creator's clock, float64 at byte 120 (words 30-31). */
export const H_EPOCH_F64 = 15; // float64 index: byte 120
// Policy state.
/** SIEVE: queue head (newest), tail (oldest), hand. */
export const H_Q_HEAD = 32;
export const H_Q_TAIL = 33;
export const H_HAND = 34;
/** S3-FIFO: small queue S and main queue M (head, tail, entries, bytes). */
export const H_S_HEAD = 35;
export const H_S_TAIL = 36;
export const H_S_COUNT = 37;
export const H_S_BYTES = 38;
export const H_M_HEAD = 39;
export const H_M_TAIL = 40;
export const H_M_COUNT = 41;
export const H_M_BYTES = 42;
export const H_S_CAP_E = 43;
export const H_M_CAP_E = 44;
export const H_S_CAP_B = 45;
export const H_M_CAP_B = 46;
/** Ghost ring: oldest position, positions in use, live records. */
export const H_G_HEAD = 47;
export const H_G_USED = 48;
export const H_G_LIVE = 49;
/** Dead participants recovered, and how many of them held the lock mid-step (rolled back). */
export const H_RECOVERED = 50;
export const H_ROLLED_BACK = 54;
/** Words between two participants' registries. */
export const H_REG_STRIDE = 55;
/** Descriptor free list (through the hash-next word) and the first never-used descriptor. */
export const H_DESC_FREE = 51;
export const H_DESC_HIGH = 52;
/** Word 53: unused (format 2's global version counter; versions are per descriptor since format 3). */
/** Allocator: bitmap of non-empty bins (8 words), then the bin heads. */
export const H_BITMAP = 56;
export const NBINS = 248;
export const H_BINS = 64;
/**
 * Words the lock holder writes on every step, after the bins: off the lock's cache line
 * (words 0-15), which spinning waiters read (sharing it made every logged write of the
 * holder invalidate the waiters' line and slowed the holder down).
 */
/** Entries in the undo log of the current step. */
export const H_LOG_LEN = H_BINS + NBINS; // 312
/** Linked entries. */
export const H_COUNT = H_LOG_LEN + 1;
/** Key + value bytes of linked entries (uint32). */
export const H_LIVE_BYTES = H_LOG_LEN + 2;
/** Bytes of heap blocks in use, headers and padding included (uint32). */
export const H_USED_BYTES = H_LOG_LEN + 3;
export const HEADER_WORDS = H_LOG_LEN + 16; // 328 words

/** Undo log capacity (entries of two words). A step changes at most a few dozen words. */
export const LOG_ENTRIES = 1024;
/** float64 counters per participant. */
export const STATS_PER_PART = 16;
export const S_HITS = 0;
export const S_MISSES = 1;
export const S_INSERTS = 2;
export const S_UPDATES = 3;
export const S_DELETES = 4;
export const S_EVICTIONS = 5;
export const S_EXPIRATIONS = 6;
export const S_REJECTIONS = 7;

// ---- descriptors (8 words) -------------------------------------------------------------
/** Seqlock / incarnation: odd while free, a new even value for each item it holds. */
export const D_VER = 0;
/** Word 1: pin count u16 (bytes 0-1), policy byte (byte 2: SIEVE visited / S3-FIFO counter, bit 7 = being written in place), byte 3 the key hash's top byte (a tag). */
export const D_REF = 1;
/** Expiry, low 32 bits (ms since the epoch; 0 with the high byte 0 = none). */
export const D_EXPLO = 2;
/** Policy queue links: newer (towards the head) and older (towards the tail). */
export const D_NEWER = 3;
export const D_OLDER = 4;
/** Next descriptor in the hash chain (free list link while free). */
export const D_HNEXT = 5;
/** Byte offset of the data block. */
export const D_DATA = 6;
/** Word 7: key length u16 (bits 0-15), flags (16-23), expiry high byte (24-31). */
export const D_KEYW = 7;
export const DESC_WORDS = 8;
export const DESC_BYTES = 32;

export const F_USED = 1 << 16;
export const F_LINKED = 2 << 16;
export const F_MAIN = 4 << 16;
export const F_ALLOC = 8 << 16;
export const FLAGS_MASK = 0xff << 16;

/** Policy byte bits. */
export const M_VISITED = 1;
export const M_FREQ = 3;
export const M_WRITING = 0x80;

// ---- heap blocks ------------------------------------------------------------------------
/** Block header: size | FREE | PREV_FREE; then the descriptor (or free-list next); then the value length (or free-list prev). */
export const B_FREE = 1;
export const B_PREV_FREE = 2;
export const BLOCK_HEADER = 12;
/** Smallest free block: three header words and a footer. */
export const MIN_BLOCK = 16;

export const NIL = -1;

/** Bytes of the data block holding a key and a value of these lengths. */
export function blockSize(klen: number, vlen: number): number {
  const n = BLOCK_HEADER + klen + vlen;
  return n <= MIN_BLOCK ? MIN_BLOCK : (n + 7) & ~7;
}

/** Free-list bin of a block size: exact 8-byte bins below 512 bytes, then 8 bins per power of two. */
export function binOf(size: number): number {
  const u = size >>> 3;
  if (u < 64) return u;
  const m = 31 - Math.clz32(u);
  return 64 + ((m - 6) << 3) + ((u >>> (m - 3)) & 7);
}

export interface Sizes {
  maxBytes: number;
  maxEntries: number;
  ndesc: number;
  nbuckets: number;
  parts: number;
  handles: number;
  /** Words between two participants' registries (a whole number of cache lines). */
  regStride: number;
  ghostCap: number;
  ghostRing: number;
  ghostTable: number;
  log0: number;
  part0: number;
  reg0: number;
  stats0: number;
  desc0: number;
  bucket0: number;
  ghostRing0: number;
  ghostTable0: number;
  heapStart: number;
  heapEnd: number;
}

function pow2AtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

const align8 = (n: number): number => (n + 7) & ~7;
const align64 = (n: number): number => (n + 63) & ~63;

/** Where everything goes; throws a RangeError naming `maxBytes` when it cannot all fit. */
export function computeSizes(maxBytes: number, maxEntries: number, s3fifo: boolean, parts: number, handles: number): Sizes {
  // Descriptors beyond maxEntries hold items that were replaced or deleted while pinned, and
  // allocate()d items not inserted yet: an eighth more, at least 16.
  const ndesc = maxEntries + Math.max(16, Math.min(maxEntries >>> 3, 1 << 16));
  // Chains of two on average at the bound: 2 bytes of buckets per entry.
  const nbuckets = pow2AtLeast(Math.ceil(maxEntries / 2));
  // S3-FIFO's ghost remembers 90% of the capacity (libCacheSim's default); the ring has a
  // quarter more positions so that taken (stale) records do not shorten its memory at once
  // (with an eighth, the cpp trace at 100 entries drifted 0.2 point from Cache), and the
  // linear-probing table is at most 80% full.
  const ghostCap = s3fifo ? Math.floor(maxEntries * 0.9) : 0;
  const ghostRing = s3fifo ? ghostCap + Math.max(16, ghostCap >>> 2) : 0;
  const ghostTable = s3fifo ? pow2AtLeast(Math.ceil(ghostCap * 1.25)) : 0;
  let off = HEADER_WORDS * 4;
  const log0 = off;
  off += LOG_ENTRIES * 8;
  const part0 = off;
  off = align64(off + parts * 4);
  // Registries and stats blocks start on cache lines, so that no two threads write one line.
  const reg0 = off;
  off = align64(off + parts * align64(handles * 4));
  const stats0 = off;
  off += (parts + 1) * STATS_PER_PART * 8;
  const desc0 = off;
  off += ndesc * DESC_BYTES;
  const bucket0 = off;
  off += nbuckets * 4;
  const ghostRing0 = off;
  off = align8(off + ghostRing * 4);
  const ghostTable0 = off;
  off += ghostTable * 4;
  const heapStart = align8(off);
  const heapEnd = maxBytes & ~7;
  if (heapEnd - heapStart < 4096) {
    throw new RangeError(`cortado: maxBytes ${maxBytes} is too small: the index and metadata for maxEntries ${maxEntries} take ${heapStart} bytes and the heap needs at least 4096 more`);
  }
  return { maxBytes, maxEntries, ndesc, nbuckets, parts, handles, regStride: align64(handles * 4) >>> 2, ghostCap, ghostRing, ghostTable, log0, part0, reg0, stats0, desc0, bucket0, ghostRing0, ghostTable0, heapStart, heapEnd };
}
