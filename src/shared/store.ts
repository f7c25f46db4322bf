/**
 * SharedStore: the shared-memory structures of a SharedCache and every operation on them.
 * One instance per thread, all over the same SharedArrayBuffer (layout.ts has the map).
 *
 * Concurrency design (why it is shaped so):
 *  - Reads take no lock. An item's descriptor carries a version (a seqlock): a reader loads
 *    it (even = stable), reads the key, expiry and value, and loads it again; any change
 *    means the item was replaced, freed or reused meanwhile, and the reader retries from the
 *    bucket (a bounded number of times, then reports a miss). A descriptor's version only
 *    grows (odd on free, the next even value for each new item on it), so reuse of a
 *    descriptor is detected (the ABA protection of the lock-free S3-FIFO seed: a tag
 *    validated before and after). The writer's side of the seqlock: no byte a reader may
 *    copy (descriptor fields, the block's value length, key and value) changes while the
 *    version still holds a value a reader may have loaded: the version changes first.
 *  - Descriptors are type-stable: 32-byte records at fixed places that are never anything
 *    else. That is what makes the two writes a lock-free thread may do safe: a hit mark
 *    (SIEVE's visited bit, S3-FIFO's 2-bit counter: one atomic store or compare-exchange on
 *    the policy byte) and a pin (Atomics.add on the 16-bit pin count). Either may land on a
 *    descriptor that was freed or reused since it was looked up; a wrong hit mark only nudges
 *    the policy, and a pin is validated after it is taken and undone if the item changed.
 *    With variable-size blocks in the heap, a write through a stale pointer could land in
 *    the middle of another item's bytes; through a descriptor it cannot.
 *  - Writes (set, delete, insert, eviction, frees) take one writer lock: every insert
 *    touches the policy's queues, the allocator and the ghost, which are global, so striping
 *    the index alone would not let two inserts run at once (CacheLib likewise serialises
 *    each pool's eviction container). Writes are the minority in a cache; reads and pins
 *    never wait for them.
 *  - The lock records its owner (participant + 1). Every word the holder changes is first
 *    written to an undo log (index, old value), and the log is cleared when the structures
 *    are consistent again ("commit", after each step: one victim, one insert). A worker
 *    terminated at any instant leaves at most one step half done; watch() in the creating
 *    thread rolls it back, releases the lock, and unpins what the dead worker's handles held
 *    (its registry). Version words are rolled back to old + 2, never to a value a reader may
 *    already have seen, and only after the words they guard are restored. A step whose
 *    publication (the store that makes its new item reachable, its last write) was done is
 *    complete and kept: what lookups found and pinned is never taken back.
 *  - A pin (handle) is a count in the descriptor plus an entry in the holder's registry,
 *    written in an order that leaves, at worst, one pin too many (the item stays pinned)
 *    when a worker dies between two adjacent atomic instructions, and never one too few.
 *
 * Memory: descriptors 32 bytes, data blocks (a 12-byte header, key, value, padded to 8) in a
 * boundary-tag heap with segregated free lists (exact 8-byte bins below 512 bytes, 8 bins per
 * power of two above: TLSF-like good fit), coalescing on free. When a block cannot be found,
 * the policy names a victim; if freeing it leaves too small a hole, its unpinned physical
 * neighbours go with it (as CacheLib's slab release or Segcache's segment eviction evict by
 * place rather than by rank), so large items do not fragment the heap. With an entry bound
 * the policy alone decides, exactly as the in-process Cache does.
 *
 * Policies (decisions identical to src/policies/sieve.ts and s3fifo.ts on one thread):
 * SIEVE (Zhang et al., NSDI'24) and S3-FIFO (Yang et al., SOSP'23), with queues linked
 * through the descriptors. A pinned item is skipped by the SIEVE hand and recycled to the
 * main queue's head by S3-FIFO. The S3-FIFO ghost here is an exact FIFO of key hashes.
 */
import { mix32 } from '../internal/hash.js';
import {
  B_FREE, B_PREV_FREE, BLOCK_HEADER, D_DATA, D_EXPLO, D_HNEXT, D_KEYW, D_NEWER, D_OLDER, D_REF, D_VER,
  DESC_WORDS, F_ALLOC, F_LINKED, F_MAIN, F_USED, FLAGS_MASK, FORMAT, H_BINS, H_BITMAP, H_BUCKET0, H_CODEC,
  H_CONTENDED, H_COUNT, H_DESC0, H_DESC_FREE, H_DESC_HIGH, H_EPOCH_F64, H_FORMAT, H_G_HEAD, H_G_LIVE, H_G_USED,
  H_GHOST_CAP, H_GHOST_RING0, H_GHOST_RING_SIZE, H_GHOST_TABLE0, H_GHOST_TMASK, H_HAND, H_HANDLES,
  H_HEAP_END, H_HEAP_START, H_LIVE_BYTES, H_LOCK, H_LOG0, H_LOG_LEN, H_M_BYTES, H_M_CAP_B, H_M_CAP_E,
  H_M_COUNT, H_M_HEAD, H_M_TAIL, H_MAGIC, H_MAX_ENTRIES, H_NBUCKETS, H_NDESC, H_PART0,
  H_PARTS, H_POLICY, H_REG_STRIDE, H_RECOVERED, H_ROLLED_BACK, H_Q_HEAD, H_Q_TAIL, H_REG0, H_S_BYTES, H_S_CAP_B, H_S_CAP_E, H_S_COUNT, H_S_HEAD,
  H_S_TAIL, H_SEED, H_STATS0, H_TTL, H_USED_BYTES, LOG_ENTRIES, M_FREQ, M_VISITED, M_WRITING, MAGIC,
  MIN_BLOCK, NBINS, NIL, S_DELETES, S_EVICTIONS, S_EXPIRATIONS, S_HITS, S_INSERTS, S_MISSES,
  S_REJECTIONS, S_UPDATES, STATS_PER_PART, binOf, blockSize, type Sizes,
} from './layout.js';

/** find() copy modes: none, the value bytes (a pooled Buffer), the value decoded as UTF-8. */
export const COPY_NONE = 0;
export const COPY_BYTES = 1;
export const COPY_STRING = 2;

/** Lock-free lookups retry this often when an item changes under them, then report a miss. */
const READ_RETRIES = 64;
/**
 * Spins on the lock before sleeping. A critical section lasts a few microseconds, and waking
 * a thread parked in Atomics.wait costs far more on a loaded machine: with 64 spins, two
 * workers parked hundreds of times per 40,000 sets and ran slower than one; with 4,096 about
 * ten times (the spin-tmp measurement in docs/shared.md).
 */
const SPINS = 4096;
/** Sleep between lock checks (ms): a bound on how late a waiter notices a free lock if a notify is lost. */
const WAIT_MS = 2;
/** Physical neighbours evicted at most to widen one hole. */
const MAX_NEIGHBOURS = 64;
/** Undo-log mark of a publication (wp()); word indices are below 2^29 (maxBytes <= 2^31). */
const L_PUBLISH = 1 << 30;

/** Registry entry: descriptor + 1 in bits 0-26, kind in 27-28, state bits 29-30. */
export const R_DESC = (1 << 27) - 1;
export const R_READ = 1 << 27;
export const R_WRITE = 2 << 27;
export const R_ALLOC = 3 << 27;
export const R_KIND = 3 << 27;
export const R_INTENT = 1 << 29;
export const R_RELEASING = 1 << 30;

export const POLICY_SIEVE = 0;
export const POLICY_S3FIFO = 1;

/** The lock was not obtained in `lockTimeout` ms (its holder is stuck, or died and nobody watched it). */
export class SharedCacheLockTimeoutError extends Error {
  override readonly name = 'SharedCacheLockTimeoutError';
  readonly code = 'ERR_CORTADO_SHARED_LOCK_TIMEOUT';
  constructor(message: string) {
    super(message);
  }
}

/** A broken invariant found by validate(). */
function broken(what: string): never {
  throw new Error(`cortado: SharedCache structure broken: ${what}`);
}

export class SharedStore {
  readonly sab: SharedArrayBuffer;
  readonly I: Int32Array;
  readonly U8: Uint8Array;
  readonly U16: Uint16Array;
  readonly F64: Float64Array;
  readonly policy: number;
  readonly desc0: number;
  readonly ndesc: number;
  readonly bucket0: number;
  readonly bmask: number;
  readonly heapStart: number;
  readonly heapEnd: number;
  readonly maxEntries: number;
  readonly seed: number;
  readonly epoch: number;
  readonly parts: number;
  readonly handles: number;
  readonly reg0: number;
  readonly regStride: number;
  readonly part0: number;
  readonly log0: number;
  readonly ghostCap: number;
  readonly ghostRing0: number;
  readonly ghostRingSize: number;
  readonly ghostTable0: number;
  readonly ghostTMask: number;
  /** This thread's participant index, its stats base (float64 index) and registry base (word). */
  me = -1;
  statBase = 0;
  regBase = 0;
  lockTimeout = 5000;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.I = new Int32Array(sab);
    this.U8 = new Uint8Array(sab);
    this.U16 = new Uint16Array(sab);
    this.F64 = new Float64Array(sab);
    this.B = Buffer.from(sab);
    const I = this.I;
    this.policy = I[H_POLICY]!;
    this.desc0 = I[H_DESC0]! >>> 2;
    this.ndesc = I[H_NDESC]!;
    this.bucket0 = I[H_BUCKET0]! >>> 2;
    this.bmask = I[H_NBUCKETS]! - 1;
    this.heapStart = I[H_HEAP_START]! >>> 0;
    this.heapEnd = I[H_HEAP_END]! >>> 0;
    this.maxEntries = I[H_MAX_ENTRIES]!;
    this.seed = I[H_SEED]!;
    this.epoch = this.F64[H_EPOCH_F64]!;
    this.parts = I[H_PARTS]!;
    this.handles = I[H_HANDLES]!;
    this.reg0 = I[H_REG0]! >>> 2;
    this.regStride = I[H_REG_STRIDE]!;
    this.part0 = I[H_PART0]! >>> 2;
    this.log0 = I[H_LOG0]! >>> 2;
    this.ghostCap = I[H_GHOST_CAP]!;
    this.ghostRing0 = I[H_GHOST_RING0]! >>> 2;
    this.ghostRingSize = I[H_GHOST_RING_SIZE]!;
    this.ghostTable0 = I[H_GHOST_TABLE0]! >>> 2;
    this.ghostTMask = I[H_GHOST_TMASK]!;
  }

  /** Lay out a fresh buffer (creating thread, before anyone else can see it). */
  static format(sab: SharedArrayBuffer, z: Sizes, policy: number, seed: number, epoch: number, codec: number, ttl: number): void {
    const I = new Int32Array(sab);
    I[H_MAGIC] = MAGIC;
    I[H_FORMAT] = FORMAT;
    I[H_POLICY] = policy;
    I[H_SEED] = seed;
    I[H_MAX_ENTRIES] = z.maxEntries;
    I[H_NDESC] = z.ndesc;
    I[H_NBUCKETS] = z.nbuckets;
    I[H_PARTS] = z.parts;
    I[H_HANDLES] = z.handles;
    I[H_REG_STRIDE] = z.regStride;
    I[H_HEAP_START] = z.heapStart;
    I[H_HEAP_END] = z.heapEnd;
    I[H_DESC0] = z.desc0;
    I[H_BUCKET0] = z.bucket0;
    I[H_GHOST_RING0] = z.ghostRing0;
    I[H_GHOST_CAP] = z.ghostCap;
    I[H_GHOST_RING_SIZE] = z.ghostRing;
    I[H_GHOST_TABLE0] = z.ghostTable0;
    I[H_GHOST_TMASK] = z.ghostTable > 0 ? z.ghostTable - 1 : 0;
    I[H_LOG0] = z.log0;
    I[H_PART0] = z.part0;
    I[H_REG0] = z.reg0;
    I[H_STATS0] = z.stats0;
    I[H_CODEC] = codec;
    I[H_TTL] = ttl;
    new Float64Array(sab)[H_EPOCH_F64] = epoch;
    I[H_Q_HEAD] = NIL;
    I[H_Q_TAIL] = NIL;
    I[H_HAND] = NIL;
    I[H_S_HEAD] = NIL;
    I[H_S_TAIL] = NIL;
    I[H_M_HEAD] = NIL;
    I[H_M_TAIL] = NIL;
    // S3-FIFO shares: 10% of the capacity for S (at least one entry), the rest for M, in
    // entries and in heap bytes (libCacheSim's and src/policies/s3fifo.ts's split).
    const small = Math.max(1, Math.floor(z.maxEntries * 0.1));
    I[H_S_CAP_E] = small;
    I[H_M_CAP_E] = z.maxEntries - small;
    const heap = z.heapEnd - z.heapStart;
    I[H_S_CAP_B] = Math.floor(heap * 0.1);
    I[H_M_CAP_B] = heap - Math.floor(heap * 0.1);
    I[H_DESC_FREE] = NIL;
    I[H_DESC_HIGH] = 0;
    const b0 = z.bucket0 >>> 2;
    I.fill(NIL, b0, b0 + z.nbuckets);
    // Descriptors start odd (free).
    for (let d = 0; d < z.ndesc; d++) I[(z.desc0 >>> 2) + d * DESC_WORDS + D_VER] = 1;
    // Heap: one free block, then an 8-byte allocated sentinel that stops forward coalescing.
    const st = new SharedStore(sab);
    const size = z.heapEnd - 8 - z.heapStart;
    const w = z.heapStart >>> 2;
    I[w] = size | B_FREE;
    I[((z.heapStart + size) >>> 2) - 1] = size;
    I[(z.heapEnd - 8) >>> 2] = 8 | B_PREV_FREE;
    st.binInsertRaw(z.heapStart, size);
  }

  // =====================================================================================
  // Participants and stats
  // =====================================================================================

  /** Take a participant slot for this thread; -1 when all are taken. */
  join(threadId: number): number {
    const I = this.I;
    for (let p = 0; p < this.parts; p++) {
      if (Atomics.compareExchange(I, this.part0 + p, 0, threadId + 1) === 0) {
        this.me = p;
        const stats0 = I[H_STATS0]! >>> 3;
        this.statBase = stats0 + p * STATS_PER_PART;
        this.regBase = this.reg0 + p * this.regStride;
        return p;
      }
    }
    return -1;
  }

  stat(i: number): number {
    const F = this.F64;
    const stats0 = this.I[H_STATS0]! >>> 3;
    let t = 0;
    for (let p = 0; p <= this.parts; p++) t += F[stats0 + p * STATS_PER_PART + i]!;
    return t;
  }

  count(i: number, n = 1): void {
    this.F64[this.statBase + i]! += n;
  }

  // =====================================================================================
  // Keys
  // =====================================================================================

  /** Seeded 32-bit hash of key bytes (a multiply-xorshift per byte, the length, then murmur3's finaliser); cache.ts computes the same while it encodes a string key. */
  hashBytes(b: Uint8Array, len: number): number {
    let h = this.seed;
    for (let i = 0; i < len; i++) {
      h = Math.imul(h ^ b[i]!, 0x5bd1e995);
      h ^= h >>> 15;
    }
    return mix32(h ^ len);
  }

  /** Hash of the key stored in a data block. */
  hashAt(data: number, klen: number): number {
    const U8 = this.U8;
    let h = this.seed;
    const s = data + BLOCK_HEADER;
    for (let i = 0; i < klen; i++) {
      h = Math.imul(h ^ U8[s + i]!, 0x5bd1e995);
      h ^= h >>> 15;
    }
    return mix32(h ^ klen);
  }

  descWord(d: number): number {
    return this.desc0 + d * DESC_WORDS;
  }

  nowRel(now: number): number {
    return now - this.epoch;
  }

  /** Expiry of descriptor word base w in ms since the epoch; 0 = none. */
  expiryOf(w: number): number {
    return (this.I[w + D_KEYW]! >>> 24) * 4294967296 + (this.I[w + D_EXPLO]! >>> 0);
  }

  // =====================================================================================
  // Lock-free lookup
  // =====================================================================================

  /** Version of the last item found by find(). */
  foundVersion = 0;

  /** Expiry (ms since the epoch, 0 none) of the last item find() returned. */
  foundExp = 0;

  /**
   * Find the linked item for key bytes kb[0, klen) with hash h, without a lock. Returns its
   * descriptor (its version in foundVersion, its expiry in foundExp), or -1 when absent or
   * being written in place (acquireForWrite). When `copy` is set the value bytes are copied
   * into `out`, and only a copy made while the item did not change is returned.
   */
  find(kb: Uint8Array, klen: number, h: number, copy: number): number {
    const I = this.I;
    const U8 = this.U8;
    const heapStart = this.heapStart;
    const heapEnd = this.heapEnd;
    const ndesc = this.ndesc;
    const head = this.bucket0 + (h & this.bmask);
    attempts: for (let attempt = 0; attempt < READ_RETRIES; attempt++) {
      // A plain load: the Atomics.load of the version that follows orders it, and the
      // writer publishes with an atomic store (an atomic load here costs ~30 ns on the
      // benchmark machine, a tenth of a hit).
      let d = I[head]!;
      let steps = 0;
      while (d !== NIL) {
        if (d < 0 || d >= ndesc || ++steps > ndesc) continue attempts;
        const w = this.desc0 + d * DESC_WORDS;
        const v1 = Atomics.load(I, w);
        if ((v1 & 1) !== 0) continue attempts;
        const kw = I[w + D_KEYW]!;
        const next = I[w + D_HNEXT]!;
        if ((kw & 0xffff) === klen && (kw & F_LINKED) !== 0 && U8[(w << 2) + 7] === h >>> 24) {
          const data = I[w + D_DATA]! >>> 0;
          const ks = data + BLOCK_HEADER;
          if (data >= heapStart && ks + klen <= heapEnd) {
            let i = 0;
            while (i < klen && U8[ks + i] === kb[i]) i++;
            if (i === klen) {
              if ((U8[(w << 2) + 6]! & M_WRITING) !== 0) return -1;
              const vlen = I[(data >>> 2) + 2]! >>> 0;
              const vs = ks + klen;
              if (vs + vlen > heapEnd) continue attempts;
              const exp = (kw >>> 24) * 4294967296 + (I[w + D_EXPLO]! >>> 0);
              if (copy === COPY_BYTES) {
                // Buffer.allocUnsafe takes small sizes from Node's 8 KiB pool: an
                // ArrayBuffer per value would cost more than the whole lookup.
                const out = Buffer.allocUnsafe(vlen);
                out.set(U8.subarray(vs, vs + vlen));
                this.out = out;
              } else if (copy === COPY_STRING) this.outString = this.B.toString('utf8', vs, vs + vlen);
              if (Atomics.load(I, w) !== v1) continue attempts;
              this.foundVersion = v1;
              this.foundExp = exp;
              return d;
            }
          }
        }
        if (Atomics.load(I, w) !== v1) continue attempts;
        d = next;
      }
      return -1;
    }
    return -1;
  }

  out: Uint8Array = new Uint8Array(0);
  outString = '';
  /** The whole buffer as a Node Buffer, for native copies and UTF-8 decoding. */
  readonly B: Buffer;

  /** A hit: one atomic store (SIEVE's visited bit) or compare-exchange (S3-FIFO's counter). */
  markHit(d: number): void {
    const m = ((this.desc0 + d * DESC_WORDS) << 2) + 6;
    const U8 = this.U8;
    const f = U8[m]!;
    if (this.policy === POLICY_SIEVE) {
      if ((f & M_VISITED) === 0) Atomics.or(U8, m, M_VISITED);
    } else if ((f & M_FREQ) < 3) {
      Atomics.compareExchange(U8, m, f, f + 1);
    }
  }

  // =====================================================================================
  // The writer lock and the undo log
  // =====================================================================================

  lock(): void {
    const I = this.I;
    const mine = this.me + 1;
    if (Atomics.compareExchange(I, H_LOCK, 0, mine) === 0) return;
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(I, H_LOCK) === 0 && Atomics.compareExchange(I, H_LOCK, 0, mine) === 0) return;
    }
    const start = performance.now();
    for (;;) {
      Atomics.store(I, H_CONTENDED, 1);
      const cur = Atomics.load(I, H_LOCK);
      if (cur === 0) {
        if (Atomics.compareExchange(I, H_LOCK, 0, mine) === 0) return;
        continue;
      }
      if (cur === mine) throw new Error('cortado: SharedCache lock taken twice by one thread (a bug)');
      Atomics.wait(I, H_LOCK, cur, WAIT_MS);
      if (performance.now() - start > this.lockTimeout) {
        throw new SharedCacheLockTimeoutError(`cortado: SharedCache writer lock not obtained in ${this.lockTimeout} ms (held by participant ${cur - 1}; if that worker died, watch() it in the creating thread)`);
      }
    }
  }

  unlock(): void {
    const I = this.I;
    Atomics.store(I, H_LOCK, 0);
    if (Atomics.load(I, H_CONTENDED) !== 0) {
      Atomics.store(I, H_CONTENDED, 0);
      Atomics.notify(I, H_LOCK);
    }
  }

  /**
   * Logged write of word i: the old value goes to the undo log before the word changes.
   * Plain stores: nobody reads the log while its writer lives, and stores keep their program
   * order (V8 keeps typed-array stores on the effect chain; x86 stores are not reordered with
   * each other), so a recoverer that takes the lock after the writer died sees the log entry
   * of every change it sees. Words that lock-free readers follow use wa().
   */
  w(i: number, v: number): void {
    this.log(i, i);
    this.I[i] = v;
  }

  /** Append the undo entry of word i (its current value), tagged `entry` (i, ~i or i | L_PUBLISH). */
  private log(i: number, entry: number): void {
    const I = this.I;
    const n = I[H_LOG_LEN]!;
    if (n >= LOG_ENTRIES) throw new Error('cortado: SharedCache undo log overflow (a bug)');
    const e = this.log0 + 2 * n;
    I[e] = entry;
    I[e + 1] = I[i]!;
    I[H_LOG_LEN] = n + 1;
  }

  /** Logged write with an atomic (sequentially consistent) store: publication, and flags read by lock-free threads. */
  wa(i: number, v: number): void {
    this.log(i, i);
    Atomics.store(this.I, i, v);
  }

  /** Logged write of a version word: undone to old + 2 (never back to a value a reader saw). */
  wv(i: number, v: number): void {
    this.log(i, ~i);
    Atomics.store(this.I, i, v);
  }

  /**
   * Logged publication: the store that makes a new item reachable from its bucket, always
   * the last write of its step. Its log entry is marked, so that a step whose publication
   * was done counts as committed (rollback() keeps it): an item that lock-free threads may
   * have found, and pinned, is never taken back.
   */
  wp(i: number, v: number): void {
    this.log(i, i | L_PUBLISH);
    Atomics.store(this.I, i, v);
  }

  commit(): void {
    Atomics.store(this.I, H_LOG_LEN, 0);
  }

  /**
   * Undo the current step (the holder's own exception, or a dead holder's step), unless its
   * publication was done (then the step is complete: kept); true when something was undone.
   * In three passes, so that lock-free readers never see an even version over bytes that
   * are still changing: every version word the step wrote goes odd, then the other words
   * are restored (newest first), then each version word gets its value from before the step
   * + 2 (never a value a reader may have seen on that descriptor).
   */
  rollback(): boolean {
    const I = this.I;
    const n = Math.min(I[H_LOG_LEN]!, LOG_ENTRIES);
    if (n === 0) return false;
    const last = this.log0 + 2 * (n - 1);
    const li = I[last]!;
    if (li >= 0 && (li & L_PUBLISH) !== 0 && I[li & ~L_PUBLISH] !== I[last + 1]) {
      Atomics.store(I, H_LOG_LEN, 0);
      return false;
    }
    for (let k = 0; k < n; k++) {
      const i = I[this.log0 + 2 * k]!;
      if (i < 0) Atomics.or(I, ~i, 1);
    }
    for (let k = n - 1; k >= 0; k--) {
      const e = this.log0 + 2 * k;
      const i = I[e]!;
      if (i >= 0) Atomics.store(I, i & ~L_PUBLISH, I[e + 1]!);
    }
    // Oldest entry first, and only that one per word: no transient value in between.
    const done = new Set<number>();
    for (let k = 0; k < n; k++) {
      const e = this.log0 + 2 * k;
      const i = I[e]!;
      if (i >= 0 || done.has(~i)) continue;
      done.add(~i);
      Atomics.store(I, ~i, (I[e + 1]! + 2) | 0);
    }
    Atomics.store(I, H_LOG_LEN, 0);
    return true;
  }

  /** Run fn under the lock; an exception rolls its unfinished step back. */
  locked<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } catch (e) {
      this.rollback();
      throw e;
    } finally {
      this.unlock();
    }
  }

  // =====================================================================================
  // Allocator (under the lock; every change logged)
  // =====================================================================================

  private binInsertRaw(off: number, size: number): void {
    // Only for format(): unlogged.
    const I = this.I;
    const b = binOf(size);
    const head = I[H_BINS + b]!;
    I[(off >>> 2) + 1] = head;
    I[(off >>> 2) + 2] = 0;
    if (head !== 0) I[(head >>> 2) + 2] = off;
    I[H_BINS + b] = off;
    I[H_BITMAP + (b >>> 5)]! |= 1 << (b & 31);
  }

  private binInsert(off: number, size: number): void {
    const I = this.I;
    const b = binOf(size);
    const head = I[H_BINS + b]!;
    const ow = off >>> 2;
    this.w(ow + 1, head);
    this.w(ow + 2, 0);
    if (head !== 0) this.w((head >>> 2) + 2, off);
    this.w(H_BINS + b, off);
    const bm = I[H_BITMAP + (b >>> 5)]!;
    if ((bm & (1 << (b & 31))) === 0) this.w(H_BITMAP + (b >>> 5), bm | (1 << (b & 31)));
  }

  private binRemove(off: number, size: number): void {
    const I = this.I;
    const b = binOf(size);
    const ow = off >>> 2;
    const next = I[ow + 1]!;
    const prev = I[ow + 2]!;
    if (prev !== 0) this.w((prev >>> 2) + 1, next);
    else {
      this.w(H_BINS + b, next);
      if (next === 0) this.w(H_BITMAP + (b >>> 5), I[H_BITMAP + (b >>> 5)]! & ~(1 << (b & 31)));
    }
    if (next !== 0) this.w((next >>> 2) + 2, prev);
  }

  /** First non-empty bin at or above b, or -1. */
  private nextBin(b: number): number {
    const I = this.I;
    let word = b >>> 5;
    if (word >= 8) return -1;
    let bits = I[H_BITMAP + word]! & (-1 << (b & 31));
    for (;;) {
      if (bits !== 0) return (word << 5) + (31 - Math.clz32(bits & -bits));
      if (++word >= 8) return -1;
      bits = I[H_BITMAP + word]!;
    }
  }

  /** A free block of at least `size` bytes (multiple of 8), or 0 when none is large enough. */
  findFit(size: number): number {
    const I = this.I;
    const b = binOf(size);
    // Good fit: a few blocks of the request's own bin, then the head of any larger bin
    // (every block there is at least as large as the request).
    let off = I[H_BINS + b]!;
    for (let n = 0; off !== 0 && n < 8; n++) {
      if (((I[off >>> 2]! & ~7) >>> 0) >= size) return off;
      off = I[(off >>> 2) + 1]!;
    }
    const b2 = b + 1 < NBINS ? this.nextBin(b + 1) : -1;
    return b2 < 0 ? 0 : I[H_BINS + b2]!;
  }

  /** Allocate `size` bytes from free block `off` (from findFit), splitting off the rest. */
  take(off: number, size: number): number {
    const I = this.I;
    const ow = off >>> 2;
    const hdr = I[ow]!;
    const have = (hdr & ~7) >>> 0;
    this.binRemove(off, have);
    if (have - size >= MIN_BLOCK) {
      const rest = off + size;
      const rsize = have - size;
      this.w(rest >>> 2, rsize | B_FREE);
      this.w(((rest + rsize) >>> 2) - 1, rsize);
      this.binInsert(rest, rsize);
      this.w(ow, size | (hdr & B_PREV_FREE));
    } else {
      this.w(ow, have | (hdr & B_PREV_FREE));
      // The whole block is taken, so its footer (its last word, the size that a backward
      // coalesce of the next block reads) may be overwritten by the new item's key and
      // value, which build() copies unlogged. Log it, so that a rolled-back step gives the
      // free block back whole: a footer left holding value bytes made a later free() read a
      // garbage size and write far outside the block (the header's format word, the lock).
      const nw = (off + have) >>> 2;
      this.w(nw - 1, I[nw - 1]!);
      this.w(nw, I[nw]! & ~B_PREV_FREE);
    }
    this.w(H_USED_BYTES, ((I[H_USED_BYTES]! >>> 0) + ((I[ow]! & ~7) >>> 0)) | 0);
    return off;
  }

  /** Free a block, coalescing with free neighbours; returns the start of the merged free block. */
  free(off: number): number {
    const I = this.I;
    let ow = off >>> 2;
    const hdr = I[ow]!;
    let size = (hdr & ~7) >>> 0;
    this.w(H_USED_BYTES, ((I[H_USED_BYTES]! >>> 0) - size) | 0);
    const nxt = off + size;
    const nh = I[nxt >>> 2]!;
    if ((nh & B_FREE) !== 0) {
      const ns = (nh & ~7) >>> 0;
      this.binRemove(nxt, ns);
      size += ns;
    }
    if ((hdr & B_PREV_FREE) !== 0) {
      const ps = I[ow - 1]! >>> 0;
      const p = off - ps;
      this.binRemove(p, ps);
      off = p;
      ow = off >>> 2;
      size += ps;
    }
    this.w(ow, size | B_FREE);
    this.w(((off + size) >>> 2) - 1, size);
    const after = (off + size) >>> 2;
    this.w(after, I[after]! | B_PREV_FREE);
    this.binInsert(off, size);
    this.lastHole = off;
    return off;
  }

  /** Start of the free block the last free() made. */
  lastHole = 0;

  // =====================================================================================
  // Descriptors
  // =====================================================================================

  /** A free descriptor (its version still odd), or NIL. */
  descAlloc(): number {
    const I = this.I;
    const f = I[H_DESC_FREE]!;
    if (f !== NIL) {
      this.w(H_DESC_FREE, I[this.descWord(f) + D_HNEXT]!);
      return f;
    }
    const hi = I[H_DESC_HIGH]!;
    if (hi >= this.ndesc) return NIL;
    this.w(H_DESC_HIGH, hi + 1);
    return hi;
  }

  /**
   * Give an item's descriptor and block back (it is unlinked and unpinned). The version goes
   * odd first, before free() writes the free-list links and the footer into the block (over
   * its value length and its last value bytes): a lock-free reader that found the item
   * before it was unlinked and copies its value meanwhile must see the version change at
   * its second load. (With the version changed after free(), such a reader could copy the
   * footer as the value's last bytes and still load the old version: a torn value.)
   */
  destroy(d: number): void {
    const I = this.I;
    const w = this.descWord(d);
    this.wv(w + D_VER, (I[w + D_VER]! + 1) | 0); // odd: free
    this.free(I[w + D_DATA]! >>> 0);
    this.wa(w + D_KEYW, 0);
    this.w(w + D_HNEXT, I[H_DESC_FREE]!);
    this.w(H_DESC_FREE, d);
  }

  /**
   * Build an unlinked item: descriptor + block holding key kb[0,klen) and room for vlen
   * value bytes (copied from vb when given). Evicts (one committed step per victim) until a
   * descriptor and a block are both free, then takes both in the caller's step, so that a
   * step cut short never leaves a half-built item. NIL when nothing can be evicted.
   */
  build(kb: Uint8Array, klen: number, h: number, vb: Uint8Array | null, vlen: number, flags: number, exp: number, nowRel: number): number {
    const I = this.I;
    const size = blockSize(klen, vlen);
    let off = 0;
    for (;;) {
      off = this.findFit(size);
      const descFree = I[H_DESC_FREE] !== NIL || I[H_DESC_HIGH]! < this.ndesc;
      if (off !== 0 && descFree) break;
      if (!this.evictOne(off === 0 ? size : 0, nowRel)) return NIL;
      this.commit();
    }
    const d = this.descAlloc();
    this.take(off, size);
    const ow = off >>> 2;
    this.w(ow + 1, d);
    this.w(ow + 2, vlen);
    const U8 = this.U8;
    const ks = off + BLOCK_HEADER;
    if (klen === kb.length) U8.set(kb, ks);
    else if (klen <= 64) for (let i = 0; i < klen; i++) U8[ks + i] = kb[i]!; // no view for a short key
    else U8.set(kb.subarray(0, klen), ks);
    if (vb !== null) U8.set(vb, off + BLOCK_HEADER + klen);
    const w = this.descWord(d);
    this.w(w + D_DATA, off);
    this.w(w + D_EXPLO, exp >>> 0);
    this.wa(w + D_KEYW, klen | flags | F_USED | (Math.floor(exp / 4294967296) << 24));
    Atomics.store(U8, (w << 2) + 6, 0);
    // Byte 7 of word 1: the hash's top byte, a tag that lets lookups skip most other keys of
    // a chain without touching their blocks (a fresh descriptor: nobody reads it yet).
    U8[(w << 2) + 7] = h >>> 24;
    // The descriptor's own next (even) version: a descriptor's version only ever grows (by 1
    // per free and build, 2 per in-place write or rollback), so no reader can see a value it
    // saw before on the same descriptor with other contents. (A global counter of versions
    // was rolled back with a dead writer's step and handed the same version to the next
    // item built on the same descriptor, and in-place writes' +2 could meet its values.)
    this.wv(w + D_VER, (I[w + D_VER]! + 1) | 0);
    return d;
  }

  // =====================================================================================
  // Index (hash chains; under the lock)
  // =====================================================================================

  /** The linked item with this key, or NIL (writer's view: no seqlock needed). */
  lookupLocked(kb: Uint8Array, klen: number, h: number): number {
    const I = this.I;
    const U8 = this.U8;
    let d = I[this.bucket0 + (h & this.bmask)]!;
    while (d !== NIL) {
      const w = this.descWord(d);
      if ((I[w + D_KEYW]! & 0xffff) === klen) {
        const ks = (I[w + D_DATA]! >>> 0) + BLOCK_HEADER;
        let i = 0;
        while (i < klen && U8[ks + i] === kb[i]) i++;
        if (i === klen) return d;
      }
      d = I[w + D_HNEXT]!;
    }
    return NIL;
  }

  private chainLink(d: number, h: number): void {
    const b = this.bucket0 + (h & this.bmask);
    this.wa(this.descWord(d) + D_HNEXT, this.I[b]!);
    this.wp(b, d); // publication
  }

  /** Put `nd` where `od` is in its chain (od leaves it): the publication of nd. */
  private chainReplace(od: number, nd: number, h: number): void {
    const I = this.I;
    this.wa(this.descWord(nd) + D_HNEXT, I[this.descWord(od) + D_HNEXT]!);
    this.chainSet(od, nd, h, true);
  }

  private chainUnlink(d: number, h: number): void {
    this.chainSet(d, this.I[this.descWord(d) + D_HNEXT]!, h, false);
  }

  /** Make whatever points at d in its chain point at `to` (a publication of `to` when `publish`). */
  private chainSet(d: number, to: number, h: number, publish: boolean): void {
    const I = this.I;
    const b = this.bucket0 + (h & this.bmask);
    let p = I[b]!;
    if (p === d) {
      if (publish) this.wp(b, to);
      else this.wa(b, to);
      return;
    }
    while (p !== NIL) {
      const pw = this.descWord(p) + D_HNEXT;
      const n = I[pw]!;
      if (n === d) {
        if (publish) this.wp(pw, to);
        else this.wa(pw, to);
        return;
      }
      p = n;
    }
    broken(`descriptor ${d} not in its hash chain`);
  }

  // =====================================================================================
  // Policy queues (under the lock)
  // =====================================================================================

  private qPush(hh: number, ht: number, d: number): void {
    const I = this.I;
    const w = this.descWord(d);
    const head = I[hh]!;
    this.w(w + D_NEWER, NIL);
    this.w(w + D_OLDER, head);
    if (head !== NIL) this.w(this.descWord(head) + D_NEWER, d);
    else this.w(ht, d);
    this.w(hh, d);
  }

  private qUnlink(hh: number, ht: number, d: number): void {
    const I = this.I;
    const w = this.descWord(d);
    const newer = I[w + D_NEWER]!;
    const older = I[w + D_OLDER]!;
    if (newer !== NIL) this.w(this.descWord(newer) + D_OLDER, older);
    else this.w(hh, older);
    if (older !== NIL) this.w(this.descWord(older) + D_NEWER, newer);
    else this.w(ht, newer);
  }

  /** Put nd in od's place in its queue. */
  private qReplace(hh: number, ht: number, od: number, nd: number): void {
    const I = this.I;
    const ow = this.descWord(od);
    const nw = this.descWord(nd);
    const newer = I[ow + D_NEWER]!;
    const older = I[ow + D_OLDER]!;
    this.w(nw + D_NEWER, newer);
    this.w(nw + D_OLDER, older);
    if (newer !== NIL) this.w(this.descWord(newer) + D_OLDER, nd);
    else this.w(hh, nd);
    if (older !== NIL) this.w(this.descWord(older) + D_NEWER, nd);
    else this.w(ht, nd);
  }

  itemBytes(d: number): number {
    return (this.I[(this.I[this.descWord(d) + D_DATA]! >>> 0) >>> 2]! & ~7) >>> 0;
  }

  private metaIdx(d: number): number {
    return (this.descWord(d) << 2) + 6;
  }

  private policyInsert(d: number, ghostHit: boolean): void {
    const I = this.I;
    if (this.policy === POLICY_SIEVE) {
      this.qPush(H_Q_HEAD, H_Q_TAIL, d);
      return;
    }
    const c = this.itemBytes(d);
    const w = this.descWord(d);
    if (ghostHit || I[H_S_CAP_E]! < 1 || c > I[H_S_CAP_B]!) {
      this.wa(w + D_KEYW, I[w + D_KEYW]! | F_MAIN);
      this.qPush(H_M_HEAD, H_M_TAIL, d);
      this.w(H_M_COUNT, I[H_M_COUNT]! + 1);
      this.w(H_M_BYTES, I[H_M_BYTES]! + c);
    } else {
      this.qPush(H_S_HEAD, H_S_TAIL, d);
      this.w(H_S_COUNT, I[H_S_COUNT]! + 1);
      this.w(H_S_BYTES, I[H_S_BYTES]! + c);
    }
  }

  private policyRemove(d: number): void {
    const I = this.I;
    if (this.policy === POLICY_SIEVE) {
      if (I[H_HAND] === d) this.w(H_HAND, I[this.descWord(d) + D_NEWER]!);
      this.qUnlink(H_Q_HEAD, H_Q_TAIL, d);
      return;
    }
    const c = this.itemBytes(d);
    if ((I[this.descWord(d) + D_KEYW]! & F_MAIN) !== 0) {
      this.qUnlink(H_M_HEAD, H_M_TAIL, d);
      this.w(H_M_COUNT, I[H_M_COUNT]! - 1);
      this.w(H_M_BYTES, I[H_M_BYTES]! - c);
    } else {
      this.qUnlink(H_S_HEAD, H_S_TAIL, d);
      this.w(H_S_COUNT, I[H_S_COUNT]! - 1);
      this.w(H_S_BYTES, I[H_S_BYTES]! - c);
    }
  }

  /** nd takes od's place in the policy (an update of the key: the access counts as a hit). */
  private policyReplace(od: number, nd: number): void {
    const I = this.I;
    const U8 = this.U8;
    const om = U8[this.metaIdx(od)]! & ~M_WRITING;
    if (this.policy === POLICY_SIEVE) {
      if (I[H_HAND] === od) this.w(H_HAND, nd);
      this.qReplace(H_Q_HEAD, H_Q_TAIL, od, nd);
      Atomics.store(U8, this.metaIdx(nd), om | M_VISITED);
      return;
    }
    const dc = this.itemBytes(nd) - this.itemBytes(od);
    const nw = this.descWord(nd);
    if ((I[this.descWord(od) + D_KEYW]! & F_MAIN) !== 0) {
      this.wa(nw + D_KEYW, I[nw + D_KEYW]! | F_MAIN);
      this.qReplace(H_M_HEAD, H_M_TAIL, od, nd);
      this.w(H_M_BYTES, I[H_M_BYTES]! + dc);
    } else {
      this.qReplace(H_S_HEAD, H_S_TAIL, od, nd);
      this.w(H_S_BYTES, I[H_S_BYTES]! + dc);
    }
    Atomics.store(U8, this.metaIdx(nd), (om & M_FREQ) < 3 ? om + 1 : om);
  }

  private pinned(d: number): boolean {
    return this.U16[(this.descWord(d) << 1) + 2] !== 0 || (this.U8[this.metaIdx(d)]! & M_WRITING) !== 0;
  }

  /** The policy's victim (unpinned, still linked), or NIL when every candidate is pinned. */
  private victim(): number {
    return this.policy === POLICY_SIEVE ? this.sieveVictim() : this.s3Victim();
  }

  private sieveVictim(): number {
    const I = this.I;
    const U8 = this.U8;
    const tail = I[H_Q_TAIL]!;
    if (tail === NIL) return NIL;
    let s = I[H_HAND] === NIL ? tail : I[H_HAND]!;
    // Every entry is visited at most twice (once to clear its bit): a bound that also ends a
    // walk over a queue whose entries are all pinned.
    let budget = 2 * I[H_COUNT]! + 2;
    while (budget-- > 0) {
      const m = this.metaIdx(s);
      if (this.pinned(s)) {
        // skipped, bit left as it is
      } else if ((U8[m]! & M_VISITED) !== 0) {
        Atomics.and(U8, m, ~M_VISITED);
      } else {
        this.w(H_HAND, I[this.descWord(s) + D_NEWER]!);
        return s;
      }
      const n = I[this.descWord(s) + D_NEWER]!;
      s = n === NIL ? I[H_Q_TAIL]! : n;
    }
    return NIL;
  }

  /** Set by s3Victim for the ghost. */
  private s3Victim(): number {
    const I = this.I;
    if (I[H_M_COUNT]! > I[H_M_CAP_E]! || I[H_M_BYTES]! >>> 0 > I[H_M_CAP_B]! >>> 0 || I[H_S_COUNT] === 0) {
      const v = this.s3EvictMain();
      return v !== NIL ? v : this.s3EvictSmall();
    }
    const s = this.s3EvictSmall();
    return s !== NIL ? s : this.s3EvictMain();
  }

  private s3EvictSmall(): number {
    const I = this.I;
    const U8 = this.U8;
    let budget = I[H_S_COUNT]! + 1;
    while (budget-- > 0) {
      const s = I[H_S_TAIL]!;
      if (s === NIL) return NIL;
      const c = this.itemBytes(s);
      const f = U8[this.metaIdx(s)]! & M_FREQ;
      if (f >= 2 || this.pinned(s)) {
        this.qUnlink(H_S_HEAD, H_S_TAIL, s);
        this.w(H_S_COUNT, I[H_S_COUNT]! - 1);
        this.w(H_S_BYTES, I[H_S_BYTES]! - c);
        const w = this.descWord(s);
        this.wa(w + D_KEYW, I[w + D_KEYW]! | F_MAIN);
        if (f >= 2) Atomics.and(U8, this.metaIdx(s), M_WRITING);
        this.qPush(H_M_HEAD, H_M_TAIL, s);
        this.w(H_M_COUNT, I[H_M_COUNT]! + 1);
        this.w(H_M_BYTES, I[H_M_BYTES]! + c);
        this.commit(); // a finished move: the walk may be long, the log is not
      } else {
        const w = this.descWord(s);
        this.ghostAdd(this.hashAt(I[w + D_DATA]! >>> 0, I[w + D_KEYW]! & 0xffff));
        return s;
      }
    }
    return NIL;
  }

  private s3EvictMain(): number {
    const I = this.I;
    const U8 = this.U8;
    // Each entry is recycled at most three times (its counter) plus once if pinned.
    let budget = 4 * I[H_M_COUNT]! + 1;
    while (budget-- > 0) {
      const s = I[H_M_TAIL]!;
      if (s === NIL) return NIL;
      const m = this.metaIdx(s);
      const mv = U8[m]!;
      const f = mv & M_FREQ;
      if (this.pinned(s)) {
        this.qUnlink(H_M_HEAD, H_M_TAIL, s);
        this.qPush(H_M_HEAD, H_M_TAIL, s);
        this.commit();
      } else if (f > 0) {
        Atomics.compareExchange(U8, m, mv, mv - 1);
        this.qUnlink(H_M_HEAD, H_M_TAIL, s);
        this.qPush(H_M_HEAD, H_M_TAIL, s);
        this.commit();
      } else {
        return s;
      }
    }
    return NIL;
  }

  // =====================================================================================
  // Ghost (S3-FIFO): an exact FIFO of key hashes, ring + linear-probing table
  // =====================================================================================

  private gFind(h: number): number {
    const I = this.I;
    const mask = this.ghostTMask;
    let i = mix32(h ^ 0x2545f491) & mask;
    for (;;) {
      const p = I[this.ghostTable0 + i]!;
      if (p === 0) return -1;
      if (I[this.ghostRing0 + p - 1] === h) return i;
      i = (i + 1) & mask;
    }
  }

  /** Delete table slot i, shifting later entries of its probe run back (no tombstones). */
  private gDelete(i: number): void {
    const I = this.I;
    const mask = this.ghostTMask;
    const t0 = this.ghostTable0;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const p = I[t0 + j]!;
      if (p === 0) break;
      const k = mix32(I[this.ghostRing0 + p - 1]! ^ 0x2545f491) & mask;
      // Move j's entry into the hole at i unless its home k lies cyclically in (i, j].
      if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
      this.w(t0 + i, p);
      i = j;
    }
    this.w(t0 + i, 0);
  }

  private gPopHead(): void {
    const I = this.I;
    const R = this.ghostRingSize;
    const pos = I[H_G_HEAD]!;
    const h = I[this.ghostRing0 + pos]!;
    const i = this.gFind(h);
    if (i >= 0 && I[this.ghostTable0 + i] === pos + 1) {
      this.gDelete(i);
      this.w(H_G_LIVE, I[H_G_LIVE]! - 1);
    }
    this.w(H_G_HEAD, pos + 1 === R ? 0 : pos + 1);
    this.w(H_G_USED, I[H_G_USED]! - 1);
  }

  ghostAdd(h: number): void {
    const I = this.I;
    if (this.ghostCap <= 0) return;
    const i = this.gFind(h);
    if (i >= 0) {
      this.gDelete(i);
      this.w(H_G_LIVE, I[H_G_LIVE]! - 1);
    }
    while (I[H_G_USED]! >= this.ghostRingSize || I[H_G_LIVE]! >= this.ghostCap) this.gPopHead();
    let pos = I[H_G_HEAD]! + I[H_G_USED]!;
    if (pos >= this.ghostRingSize) pos -= this.ghostRingSize;
    this.w(this.ghostRing0 + pos, h);
    const mask = this.ghostTMask;
    let j = mix32(h ^ 0x2545f491) & mask;
    while (I[this.ghostTable0 + j] !== 0) j = (j + 1) & mask;
    this.w(this.ghostTable0 + j, pos + 1);
    this.w(H_G_USED, I[H_G_USED]! + 1);
    this.w(H_G_LIVE, I[H_G_LIVE]! + 1);
  }

  ghostTake(h: number): boolean {
    if (this.ghostCap <= 0) return false;
    const i = this.gFind(h);
    if (i < 0) return false;
    this.gDelete(i);
    this.w(H_G_LIVE, this.I[H_G_LIVE]! - 1);
    return true;
  }

  // =====================================================================================
  // Item lifecycle (under the lock)
  // =====================================================================================

  /** A new key is about to be inserted: S3-FIFO's ghost check (Cache's recordMiss). */
  recordMiss(h: number): boolean {
    return this.policy === POLICY_S3FIFO ? this.ghostTake(h) : false;
  }

  /** Make room for one more entry under the entry bound; false when all candidates are pinned. */
  makeRoomForEntry(nowRel: number): boolean {
    while (this.I[H_COUNT]! + 1 > this.maxEntries) {
      if (!this.evictOne(0, nowRel)) return false;
      this.commit();
    }
    return true;
  }

  /** Link unlinked item d under hash h as a new entry. */
  linkNew(d: number, h: number, ghostHit: boolean, liveBytes: number): void {
    const I = this.I;
    const w = this.descWord(d);
    this.wa(w + D_KEYW, (I[w + D_KEYW]! & ~F_ALLOC) | F_LINKED);
    this.policyInsert(d, ghostHit);
    this.w(H_COUNT, I[H_COUNT]! + 1);
    this.w(H_LIVE_BYTES, ((I[H_LIVE_BYTES]! >>> 0) + liveBytes) | 0);
    this.chainLink(d, h); // publication
  }

  /**
   * Item nd replaces linked od (same key): same queue place, counted as an access. The
   * publication of nd is the step's last write (see wp()), so od is marked unlinked just
   * before it: a lookup of the key in between misses for that instant.
   */
  linkReplace(od: number, nd: number, h: number, liveBytes: number): void {
    const I = this.I;
    const nw = this.descWord(nd);
    const ow = this.descWord(od);
    this.wa(nw + D_KEYW, (I[nw + D_KEYW]! & ~F_ALLOC) | F_LINKED);
    this.policyReplace(od, nd);
    this.w(H_LIVE_BYTES, ((I[H_LIVE_BYTES]! >>> 0) + liveBytes - this.liveOf(od)) | 0);
    this.wa(ow + D_KEYW, I[ow + D_KEYW]! & ~(F_LINKED | F_MAIN));
    this.chainReplace(od, nd, h); // publication
  }

  liveOf(d: number): number {
    const I = this.I;
    const w = this.descWord(d);
    return (I[w + D_KEYW]! & 0xffff) + (I[((I[w + D_DATA]! >>> 0) >>> 2) + 2]! >>> 0);
  }

  /** Unlink a linked item from index, policy and counts (it stays allocated). */
  unlink(d: number, h: number): void {
    const I = this.I;
    const w = this.descWord(d);
    this.policyRemove(d);
    this.w(H_COUNT, I[H_COUNT]! - 1);
    this.w(H_LIVE_BYTES, ((I[H_LIVE_BYTES]! >>> 0) - this.liveOf(d)) | 0);
    this.wa(w + D_KEYW, I[w + D_KEYW]! & ~(F_LINKED | F_MAIN));
    this.chainUnlink(d, h);
  }

  /** Free an unlinked item unless a handle pins it (then its last release frees it). */
  freeIfUnpinned(d: number): void {
    const w = this.descWord(d);
    const kw = this.I[w + D_KEYW]!;
    if ((kw & F_USED) === 0 || (kw & (F_LINKED | F_ALLOC)) !== 0) return;
    if (Atomics.load(this.U16, (w << 1) + 2) !== 0) return;
    this.destroy(d);
  }

  /** Hash of a stored item's key. */
  hashOf(d: number): number {
    const w = this.descWord(d);
    return this.hashAt(this.I[w + D_DATA]! >>> 0, this.I[w + D_KEYW]! & 0xffff);
  }

  /**
   * Evict one entry: the policy's victim (an expired entry counts as an expiration); when
   * `need` > 0, widen the freed hole with unpinned physical neighbours until a block of
   * `need` bytes exists. False when nothing could be evicted.
   */
  evictOne(need: number, nowRel: number): boolean {
    const I = this.I;
    const v = this.victim();
    if (v === NIL) return false;
    this.dropVictim(v, nowRel);
    if (need > 0) this.widen(v, need, nowRel);
    return true;
  }

  private dropVictim(v: number, nowRel: number): void {
    const w = this.descWord(v);
    const exp = this.expiryOf(w);
    this.count(exp !== 0 && nowRel >= exp ? S_EXPIRATIONS : S_EVICTIONS);
    this.unlink(v, this.hashOf(v));
    this.freeIfUnpinned(v);
  }

  /** After v's block was freed: evict the blocks that follow the hole until it holds `need`. */
  private widen(v: number, need: number, nowRel: number): void {
    const I = this.I;
    if ((I[this.descWord(v) + D_KEYW]! & F_USED) !== 0) return; // pinned: not freed
    const off = this.lastHole;
    for (let n = 0; n < MAX_NEIGHBOURS; n++) {
      const size = (I[off >>> 2]! & ~7) >>> 0;
      if (size >= need) return;
      const nxt = off + size;
      if (nxt >= this.heapEnd - 8) return;
      const d = I[(nxt >>> 2) + 1]!;
      if (d < 0 || d >= this.ndesc) return;
      const kw = I[this.descWord(d) + D_KEYW]!;
      if ((kw & F_LINKED) === 0 || this.pinned(d)) return;
      this.dropVictim(d, nowRel);
      // The neighbour's block coalesced into the hole, which still starts at off.
    }
  }

  /** Unlink every entry (one committed step each; pinned ones are freed by their last release) and forget the ghost. Lock held. */
  clearAll(): void {
    const I = this.I;
    const hi = I[H_DESC_HIGH]!;
    for (let d = 0; d < hi; d++) {
      if ((I[this.descWord(d) + D_KEYW]! & F_LINKED) === 0) continue;
      this.unlink(d, this.hashOf(d));
      this.commit();
      this.freeIfUnpinned(d);
      this.commit();
    }
    while (this.ghostCap > 0 && I[H_G_USED]! > 0) {
      this.gPopHead();
      this.commit();
    }
    this.w(H_HAND, NIL);
    this.commit();
  }

  // =====================================================================================
  // Recovery (watch(): a participant's thread is gone)
  // =====================================================================================

  /** Whether participant p (0-based) belongs to thread tid. */
  partThread(p: number): number {
    return this.I[this.part0 + p]! - 1;
  }

  /**
   * Release everything participant p held: roll back its unfinished step and take over the
   * lock if it held it, unpin its handles, free what nobody holds any more, retire its stats
   * and free its slot. Runs in the watching thread, without blocking it: when the lock is
   * held by a live thread this returns false and the caller tries again later (blocking
   * here could wait forever on another dead worker whose 'exit' event this very thread has
   * not handled yet). `dead` names every participant known to be gone: the lock is taken
   * over from any of them (rolling back its step).
   */
  tryRecover(p: number, dead: ReadonlySet<number>): boolean {
    const I = this.I;
    const mine = this.me + 1;
    const cur = Atomics.load(I, H_LOCK);
    if (cur === 0) {
      if (Atomics.compareExchange(I, H_LOCK, 0, mine) !== 0) return false;
    } else if (dead.has(cur - 1)) {
      if (Atomics.compareExchange(I, H_LOCK, cur, mine) !== cur) return false;
      if (this.rollback()) Atomics.add(I, H_ROLLED_BACK, 1);
    } else {
      return false;
    }
    try {
      const reg = this.reg0 + p * this.regStride;
      for (let i = 0; i < this.handles; i++) {
        const e = I[reg + i]!;
        if (e === 0) continue;
        // RELEASING: the pin may or may not have been dropped: leave it (at worst the item
        // stays pinned; never unpinned twice). INTENT (allocate(), between its commit and
        // its pin): the item is its own (F_ALLOC, found by no lookup), so a pin on it is the
        // one the dead worker took, unless another thread's pin on an earlier item of that
        // descriptor is being validated and dropped at this very instant (then it stays
        // pinned). Leaving it, as before, left the item pinned for good about once per 500
        // terminations under load (scripts/shared-stress.mjs).
        const mine =
          (e & R_RELEASING) === 0 &&
          ((e & R_INTENT) === 0 || this.allocPinned((e & R_DESC) - 1));
        if (mine) {
          const d = (e & R_DESC) - 1;
          const w = this.descWord(d);
          const kind = e & R_KIND;
          if (kind === R_WRITE) {
            // An in-place write cut short: the bytes may be half old, half new, and nothing
            // logged them. The entry goes (lookups miss it, as they did while it was being
            // written), rather than coming back torn; the sweep below frees it.
            if ((I[w + D_KEYW]! & F_LINKED) !== 0) this.unlink(d, this.hashOf(d));
            this.wv(w + D_VER, (I[w + D_VER]! + 2) | 0);
            Atomics.and(this.U8, (w << 2) + 6, ~M_WRITING);
          }
          if (kind === R_ALLOC) this.wa(w + D_KEYW, I[w + D_KEYW]! & ~F_ALLOC);
          Atomics.sub(this.U16, (w << 1) + 2, 1);
        }
        this.w(reg + i, 0);
        this.commit();
      }
      // Retire its counters and give its slot back before the sweep (its registry is empty).
      const F = this.F64;
      const stats0 = I[H_STATS0]! >>> 3;
      const from = stats0 + p * STATS_PER_PART;
      const to = stats0 + this.parts * STATS_PER_PART;
      for (let k = 0; k < STATS_PER_PART; k++) {
        F[to + k]! += F[from + k]!;
        F[from + k] = 0;
      }
      Atomics.store(I, this.part0 + p, 0);
      this.sweepOrphans();
      Atomics.add(I, H_RECOVERED, 1);
    } finally {
      this.unlock();
    }
    return true;
  }

  /** Whether descriptor d holds an allocate()d item not inserted yet, with a pin on it. */
  private allocPinned(d: number): boolean {
    const w = this.descWord(d);
    const kw = this.I[w + D_KEYW]!;
    return (kw & (F_USED | F_ALLOC | F_LINKED)) === (F_USED | F_ALLOC) && Atomics.load(this.U16, (w << 1) + 2) > 0;
  }

  /** Free items that are neither linked nor pinned nor claimed by a live handle (left by a step cut short between its commits). */
  sweepOrphans(): void {
    const I = this.I;
    const claimed = new Set<number>();
    for (let p = 0; p < this.parts; p++) {
      if (I[this.part0 + p] === 0) continue;
      const reg = this.reg0 + p * this.regStride;
      for (let i = 0; i < this.handles; i++) {
        const e = I[reg + i]!;
        if (e !== 0) claimed.add((e & R_DESC) - 1);
      }
    }
    const hi = I[H_DESC_HIGH]!;
    for (let d = 0; d < hi; d++) {
      const w = this.descWord(d);
      const kw = I[w + D_KEYW]!;
      if ((kw & F_USED) === 0 || (kw & F_LINKED) !== 0 || claimed.has(d)) continue;
      if (Atomics.load(this.U16, (w << 1) + 2) !== 0) continue;
      if ((kw & F_ALLOC) !== 0) this.wa(w + D_KEYW, kw & ~F_ALLOC);
      this.destroy(d);
      this.commit();
    }
  }

  // =====================================================================================
  // Validation (tests): every invariant of every structure
  // =====================================================================================

  /** Throws on the first broken invariant. Call with the lock held and no thread mid-operation. */
  validate(): { entries: number; pinned: number; orphans: number; threads: number } {
    const I = this.I;
    const U16 = this.U16;
    if (I[H_LOG_LEN] !== 0) broken(`undo log holds ${I[H_LOG_LEN]} entries outside a step`);
    // Heap: blocks tile it; flags agree; no two free blocks adjacent; free blocks in their bins.
    const freeBlocks = new Set<number>();
    const blockOf = new Map<number, number>(); // data offset -> descriptor
    let off = this.heapStart;
    let prevFree = false;
    let used = 0;
    while (off < this.heapEnd - 8) {
      const h = I[off >>> 2]!;
      const size = (h & ~7) >>> 0;
      if (size < 16 || off + size > this.heapEnd - 8 || (size & 7) !== 0) broken(`block at ${off} has size ${size}`);
      if (((h & B_PREV_FREE) !== 0) !== prevFree) broken(`block at ${off}: prev-free flag wrong`);
      const free = (h & B_FREE) !== 0;
      if (free) {
        if (prevFree) broken(`adjacent free blocks at ${off}`);
        if (I[((off + size) >>> 2) - 1]! >>> 0 !== size) broken(`free block at ${off}: footer`);
        freeBlocks.add(off);
      } else {
        used += size;
        blockOf.set(off, I[(off >>> 2) + 1]!);
      }
      prevFree = free;
      off += size;
    }
    if (off !== this.heapEnd - 8) broken(`heap ends at ${off}, not ${this.heapEnd - 8}`);
    if (((I[off >>> 2]! & B_PREV_FREE) !== 0) !== prevFree) broken('sentinel prev-free flag');
    if (used !== I[H_USED_BYTES]! >>> 0) broken(`used bytes ${I[H_USED_BYTES]! >>> 0}, blocks ${used}`);
    let inBins = 0;
    for (let b = 0; b < NBINS; b++) {
      let f = I[H_BINS + b]!;
      const bit = (I[H_BITMAP + (b >>> 5)]! >>> (b & 31)) & 1;
      if ((f !== 0) !== (bit === 1)) broken(`bin ${b} bitmap bit ${bit}`);
      let prev = 0;
      while (f !== 0) {
        if (!freeBlocks.has(f)) broken(`bin ${b} holds ${f}, not a free block`);
        if (binOf((I[f >>> 2]! & ~7) >>> 0) !== b) broken(`block ${f} in wrong bin ${b}`);
        if (I[(f >>> 2) + 2] !== prev) broken(`bin ${b}: back link of ${f}`);
        prev = f;
        f = I[(f >>> 2) + 1]!;
        if (++inBins > freeBlocks.size) broken(`bin ${b} cycles`);
      }
    }
    if (inBins !== freeBlocks.size) broken(`${freeBlocks.size} free blocks, ${inBins} in bins`);
    // Descriptors.
    const hi = I[H_DESC_HIGH]!;
    let linked = 0;
    let live = 0;
    let pinned = 0;
    const onFree = new Set<number>();
    for (let d = I[H_DESC_FREE]!; d !== NIL; d = I[this.descWord(d) + D_HNEXT]!) {
      if (onFree.has(d) || d >= hi) broken(`descriptor free list: ${d}`);
      onFree.add(d);
    }
    let orphans = 0;
    for (let d = 0; d < hi; d++) {
      const w = this.descWord(d);
      const kw = I[w + D_KEYW]!;
      const ver = I[w + D_VER]!;
      const ref = U16[(w << 1) + 2]!;
      if ((kw & F_USED) === 0) {
        if (!onFree.has(d)) broken(`descriptor ${d} unused but not on the free list`);
        if ((ver & 1) === 0) broken(`free descriptor ${d} has even version`);
        continue;
      }
      if (onFree.has(d)) broken(`descriptor ${d} used and on the free list`);
      if ((ver & 1) !== 0) broken(`descriptor ${d} in use with odd version`);
      const data = I[w + D_DATA]! >>> 0;
      if (blockOf.get(data) !== d) broken(`descriptor ${d}: block ${data} does not point back`);
      blockOf.delete(data);
      if (ref > 0) pinned++;
      if ((kw & F_LINKED) !== 0) {
        linked++;
        live += this.liveOf(d);
        if (this.lookupLocked(this.keyBytes(d), kw & 0xffff, this.hashOf(d)) !== d) broken(`descriptor ${d} not found by its key`);
      } else if (ref === 0 && (kw & F_ALLOC) === 0) orphans++;
    }
    if (blockOf.size !== 0) broken(`${blockOf.size} allocated blocks without a descriptor`);
    if (linked !== I[H_COUNT]) broken(`count ${I[H_COUNT]}, linked ${linked}`);
    if (live !== I[H_LIVE_BYTES]! >>> 0) broken(`live bytes ${I[H_LIVE_BYTES]! >>> 0}, counted ${live}`);
    if (linked > this.maxEntries) broken(`${linked} entries over maxEntries ${this.maxEntries}`);
    // Buckets: every chain entry linked, in its bucket, no cycles.
    let chained = 0;
    for (let b = 0; b <= this.bmask; b++) {
      let steps = 0;
      for (let d = I[this.bucket0 + b]!; d !== NIL; d = I[this.descWord(d) + D_HNEXT]!) {
        if ((I[this.descWord(d) + D_KEYW]! & F_LINKED) === 0) broken(`bucket ${b} holds unlinked ${d}`);
        if ((this.hashOf(d) & this.bmask) !== b) broken(`descriptor ${d} in bucket ${b}`);
        if (++steps > linked) broken(`bucket ${b} cycles`);
        chained++;
      }
    }
    if (chained !== linked) broken(`chains hold ${chained}, linked ${linked}`);
    // Queues.
    if (this.policy === POLICY_SIEVE) {
      const n = this.checkQueue(H_Q_HEAD, H_Q_TAIL, 'queue', 0);
      if (n.count !== linked) broken(`queue holds ${n.count}, linked ${linked}`);
      const hand = I[H_HAND]!;
      if (hand !== NIL && !n.members.has(hand)) broken(`hand ${hand} not in queue`);
    } else {
      const s = this.checkQueue(H_S_HEAD, H_S_TAIL, 'S', 0);
      const m = this.checkQueue(H_M_HEAD, H_M_TAIL, 'M', F_MAIN);
      if (s.count + m.count !== linked) broken(`queues hold ${s.count}+${m.count}, linked ${linked}`);
      if (s.count !== I[H_S_COUNT] || m.count !== I[H_M_COUNT]) broken('queue counts');
      if (s.bytes !== I[H_S_BYTES] || m.bytes !== I[H_M_BYTES]) broken('queue bytes');
      // Ghost: table entries point at distinct ring positions in use holding their hash.
      let inTable = 0;
      const R = this.ghostRingSize;
      const head = I[H_G_HEAD]!;
      const usedR = I[H_G_USED]!;
      for (let i = 0; i <= this.ghostTMask; i++) {
        const p = I[this.ghostTable0 + i]!;
        if (p === 0) continue;
        inTable++;
        const rel = (p - 1 - head + R) % R;
        if (rel >= usedR) broken(`ghost table points at ring position ${p - 1} not in use`);
        if (this.gFind(I[this.ghostRing0 + p - 1]!) !== i) broken(`ghost entry ${i} not found by its hash`);
      }
      if (inTable !== I[H_G_LIVE]) broken(`ghost live ${I[H_G_LIVE]}, table ${inTable}`);
      if (inTable > this.ghostCap) broken('ghost over capacity');
    }
    let threads = 0;
    for (let p = 0; p < this.parts; p++) if (I[this.part0 + p] !== 0) threads++;
    return { entries: linked, pinned, orphans, threads };
  }

  private checkQueue(hh: number, ht: number, name: string, mainFlag: number): { count: number; bytes: number; members: Set<number> } {
    const I = this.I;
    const members = new Set<number>();
    let bytes = 0;
    let prev = NIL;
    for (let d = I[hh]!; d !== NIL; d = I[this.descWord(d) + D_OLDER]!) {
      if (members.has(d)) broken(`${name} cycles at ${d}`);
      members.add(d);
      const w = this.descWord(d);
      if (I[w + D_NEWER] !== prev) broken(`${name}: newer link of ${d}`);
      if ((I[w + D_KEYW]! & F_LINKED) === 0) broken(`${name} holds unlinked ${d}`);
      if (this.policy === POLICY_S3FIFO && (I[w + D_KEYW]! & F_MAIN) !== mainFlag) broken(`${name}: main flag of ${d}`);
      bytes += this.itemBytes(d);
      prev = d;
    }
    if (I[ht] !== prev) broken(`${name}: tail ${I[ht]}, last ${prev}`);
    return { count: members.size, bytes, members };
  }

  keyBytes(d: number): Uint8Array {
    const w = this.descWord(d);
    const s = (this.I[w + D_DATA]! >>> 0) + BLOCK_HEADER;
    return this.U8.slice(s, s + (this.I[w + D_KEYW]! & 0xffff));
  }
}

export { FLAGS_MASK, S_DELETES, S_EVICTIONS, S_EXPIRATIONS, S_HITS, S_INSERTS, S_MISSES, S_REJECTIONS, S_UPDATES };
