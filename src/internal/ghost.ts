/**
 * Ghost lists: remember the fingerprints of recently evicted keys, without the keys, for
 * S3-FIFO's ghost queue and W-TinyLFU's window adaptation.
 *
 * A ghost is a FIFO of key fingerprints bounded by `capacity` cost units (entries, or weight
 * in a weight-bounded cache): adding past the bound forgets the oldest records, and taking a
 * key forgets it and frees its cost. An exact FIFO needs a ring in insertion order plus an
 * index over it: three or four random memory accesses per operation and 20-25 bytes per
 * record. Here the FIFO order is kept in coarse steps instead:
 *
 *  - Additions are grouped into *epochs* of capacity/64 cost units. Each record is one 32-bit
 *    word: a 24-bit fingerprint and the 8-bit number of the epoch it was added in. Each epoch
 *    keeps its count and cost of live records, so forgetting the oldest records means
 *    dropping the oldest epoch whole: the ghost holds within half an epoch (1/128 of the
 *    capacity) of `capacity` units, where an exact FIFO holds exactly that. Up to 64 unit
 *    records, an epoch holds one record, and the FIFO is exact while its live records span
 *    at most 96 epochs (below); takes leave holes, so after enough of them the oldest live
 *    records are forgotten early (a model test found it at 63 records after about 1,000
 *    operations, 2026-11-26).
 *  - Records sit in a hash table of buckets of 16 words: one 64-byte cache line. A key's
 *    fingerprint picks its bucket. Buckets are compact (words in use first, then zeros: a
 *    take moves the bucket's last word into the hole), and each keeps two small facts beside
 *    the table: how many words it has in use, and a 64-bit summary of its fingerprints (bit
 *    fp & 63 set for each word it holds; stale bits are allowed, missing ones never). So a
 *    take whose bit is clear is a miss without reading the bucket (about seven misses in
 *    eight), and an add whose bit is clear appends at the first empty word without reading it
 *    either. Only an add that may meet its own fingerprint, or finds the bucket full, scans
 *    it: that scan compacts the bucket (dead words out, live ones in order) and recomputes
 *    its summary. A bucket whose 16 words are all live forgets its oldest record early. The
 *    table has at least twice as many words as live records, so that is rare and only
 *    shortens one record's memory.
 *  - Epoch numbers wrap at 256 and at most 96 epochs are live at once (takes can stretch the
 *    FIFO back in time). A sweep clears dead words a few at a time as epochs pass, so every
 *    word is visited within 128 epochs and no dead record can look live again.
 *  - Costs: a taken record gives back its epoch's average cost (words do not store their
 *    cost). With unit costs, as in a cache bounded by entries, that is exact.
 *
 * 4 bytes per word and 2 to 4 words per live record, plus 9 bytes per 16 words for the
 * bucket facts: 9.1 to 18.3 bytes per remembered key, with at most one table line touched
 * per operation (the bucket facts are a 7th of the table's size, so they tend to stay
 * cached). A false match (two keys with one fingerprint in one
 * bucket: about 8 in 2^24) only nudges an adaptation step or admits one newcomer to
 * S3-FIFO's main queue, which is harmless.
 */
import { mix32 } from './hash.js';

/**
 * Epochs per capacity. With unit costs and a capacity of up to 64 entries, every epoch holds
 * one record and the FIFO is exact until takes stretch it past MAX_SPAN epochs (small S3-FIFO
 * caches are chaotic: one ghost hit more or less can change a miss ratio by points).
 */
const EPOCHS = 64;
/** At most this many epochs are live at once (takes can stretch the FIFO back in time). */
const MAX_SPAN = 96;
/** Epoch numbers are stored modulo 256 (8 bits). */
const EPOCH_BITS = 8;
const EPOCH_MASK = (1 << EPOCH_BITS) - 1;
/** Fingerprints: the 24 bits above the epoch. */
const FP_MASK = 0xffffff;
/** Words per bucket: 16 x 4 bytes, one cache line. */
const BUCKET = 16;
const BUCKET_SHIFT = 4;
/** Table words per expected live record, at least. */
const WORDS_PER_RECORD = 2;
/** First table size; it doubles while live records exceed half of it, up to the expected records. */
const INITIAL_WORDS = 1024;
/**
 * The sweep visits every word within this many epochs. A word dies at most MAX_SPAN epochs
 * after its own; it must be cleared before its epoch number comes round again (256).
 */
const SWEEP_EPOCHS = 128;

export class Ghost {
  private table: Int32Array;
  /**
   * Per bucket, a 64-bit summary of the fingerprints in it, as two words (`2k` and `2k + 1`,
   * one line): bit (fp & 63) is set for every word the bucket holds (live or dead; a bit may
   * outlive its word until the bucket is rewritten). A take whose bit is clear is a miss
   * without scanning the bucket: with eight to ten words in use per bucket that answers about
   * seven misses in eight from one word (a 32nd of the table, so it stays in cache), and an
   * add whose bit is clear appends without reading the bucket. A 32-bit summary (the first
   * version) answered three in four, and sent a quarter of the adds to {@link rewrite}: half of
   * the ghost's time. Bits are only ever cleared when the bucket is rewritten (add, sweep),
   * from the words it then holds, so the summary never misses a live record.
   */
  private summary: Int32Array;
  /** Per bucket, its words in use (the index of its first empty word): an add appends there. */
  private fill: Uint8Array;
  private bucketMask: number;
  /** Live records of each epoch (index: epoch number modulo 256). */
  private readonly count = new Int32Array(EPOCH_MASK + 1);
  /** Cost of the live records of each epoch. */
  private readonly costs = new Float64Array(EPOCH_MASK + 1);
  /** The current epoch, and the oldest live one. */
  private epoch = 0;
  private oldest = 0;
  /** Cost added in the current epoch so far. */
  private filled = 0;
  private epochCost: number;
  private live = 0;
  private total = 0;
  private sweepAt = 0;
  private sweepStep: number;
  /** Capacity in cost units. */
  private cap: number;
  /** Words the table may grow to (from the expected records); it starts small and doubles. */
  private maxWords: number;

  /**
   * @param capacity cost units to remember (entries, or weight)
   * @param records live records to expect at most (sizes the table; see {@link reserve})
   */
  constructor(capacity: number, records = capacity) {
    this.cap = Math.max(0, capacity);
    this.epochCost = this.cap / EPOCHS;
    this.maxWords = Ghost.wordsFor(records);
    const words = Math.min(this.maxWords, INITIAL_WORDS);
    this.table = new Int32Array(words);
    this.summary = new Int32Array(2 * (words >>> BUCKET_SHIFT));
    this.fill = new Uint8Array(words >>> BUCKET_SHIFT);
    this.bucketMask = (words >>> BUCKET_SHIFT) - 1;
    this.sweepStep = Ghost.sweepStepFor(words);
  }

  /** Words swept per epoch: whole buckets, so that every word is visited within SWEEP_EPOCHS. */
  private static sweepStepFor(words: number): number {
    return Math.max(BUCKET, Math.ceil(words / SWEEP_EPOCHS / BUCKET) * BUCKET);
  }

  private static wordsFor(records: number): number {
    let w = BUCKET;
    const want = Math.min(Math.max(records, 1) * WORDS_PER_RECORD, 2 ** 30);
    while (w < want) w *= 2;
    return w;
  }

  /** Cost units remembered. */
  get capacity(): number {
    return this.cap;
  }

  /** Number of live records. */
  get size(): number {
    return this.live;
  }

  /** Total cost of the live records. */
  get weight(): number {
    return this.total;
  }

  private static fingerprint(hash: number): number {
    const f = hash & FP_MASK;
    return f === 0 ? 1 : f; // 0 is the empty word
  }

  /** The summary word of bucket `k` that holds bit (fp & 63) (as bit fp & 31). */
  private static half(k: number, fp: number): number {
    return (k << 1) | ((fp >>> 5) & 1);
  }

  private base(fp: number): number {
    return (mix32(fp) & this.bucketMask) << BUCKET_SHIFT;
  }

  /** Whether a word of epoch `e` is live. */
  private isLive(e: number): boolean {
    return ((e - this.oldest) & EPOCH_MASK) <= ((this.epoch - this.oldest) & EPOCH_MASK);
  }

  /** Forget one record of epoch `e` (taken, or pushed out of a full bucket). */
  private forget(e: number): void {
    const n = this.count[e]!;
    const c = n === 1 ? this.costs[e]! : this.costs[e]! / n;
    this.count[e] = n - 1;
    this.costs[e]! -= c;
    this.live--;
    this.total -= c;
  }

  /** Remember the key with this hash and cost as the newest record. */
  add(hash: number, cost = 1): void {
    if (cost > this.cap) return; // would be forgotten at once
    if (this.filled >= this.epochCost) this.nextEpoch();
    const fp = Ghost.fingerprint(hash);
    const t = this.table;
    const b = this.base(fp);
    const k = b >>> BUCKET_SHIFT;
    const n = this.fill[k]!;
    const h = Ghost.half(k, fp);
    const sum = this.summary[h]!;
    let slot: number;
    if (n < BUCKET && (sum & (1 << fp)) === 0) {
      // The usual case: no word of the bucket has this fingerprint (the summary says so) and
      // the bucket has an empty word: append, without reading the bucket.
      slot = b + n;
      this.fill[k] = n + 1;
      this.summary[h] = sum | (1 << fp);
    } else {
      slot = this.rewrite(b, fp);
    }
    const now = this.epoch;
    t[slot] = (fp << EPOCH_BITS) | now;
    this.count[now]!++;
    this.costs[now]! += cost;
    this.live++;
    this.total += cost;
    this.filled += cost;
    if (this.total > this.cap) this.trim();
    if (this.live * WORDS_PER_RECORD > t.length && t.length < this.maxWords) this.growTo(2 * t.length);
  }

  /**
   * Make room for `fp` in the bucket at `b` when it is full or may hold `fp` already: compact
   * it (dead words out, live ones in order; a live record of `fp`, only a fingerprint
   * collision, is forgotten, as the new one replaces it), recompute its summary and return
   * the word the new record goes to. If all 16 words are live, the oldest is forgotten early.
   */
  private rewrite(b: number, fp: number): number {
    const t = this.table;
    const end = b + BUCKET;
    const first = this.oldest;
    const span = (this.epoch - first) & EPOCH_MASK;
    const k = b >>> BUCKET_SHIFT;
    const used = b + this.fill[k]!;
    let j = b;
    // The summary of the words kept and of the new one, low and high half (shifts count mod 32).
    let hi = -((fp >>> 5) & 1) & (1 << fp);
    let lo = (1 << fp) ^ hi;
    // Branch-free but for the rare live record of `fp`: whether a word is live, and which
    // half of the summary its fingerprint falls in, are coin tosses that a branch would
    // mispredict (measured: the branching loop cost about 80 ns per rewrite).
    for (let i = b; i < used; i++) {
      const w = t[i]!;
      const f = w >>> EPOCH_BITS;
      let keep = ((((w - first) & EPOCH_MASK) - span - 1) >>> 31); // 1 when live, else 0
      if (f === fp && keep !== 0) {
        this.forget(w & EPOCH_MASK);
        keep = 0;
      }
      t[j] = w; // j <= i: a word not kept is overwritten by the next kept one, or zeroed below
      j += keep;
      const bit = (1 << f) & -keep;
      const high = -((f >>> 5) & 1);
      hi |= bit & high;
      lo |= bit & ~high;
    }
    for (let i = j; i < used; i++) t[i] = 0;
    this.summary[k << 1] = lo;
    this.summary[(k << 1) | 1] = hi;
    let slot = j;
    if (slot === end) {
      // Every word of the bucket is live: forget its oldest record early (the first of the
      // oldest epoch, in bucket order).
      let oldestAge = -1;
      for (let i = b; i < end; i++) {
        const age = (this.epoch - t[i]!) & EPOCH_MASK;
        if (age > oldestAge) {
          oldestAge = age;
          slot = i;
        }
      }
      this.forget(t[slot]! & EPOCH_MASK);
      this.fill[k] = BUCKET;
    } else {
      this.fill[k] = j - b + 1;
    }
    return slot;
  }

  /** Forget the key with this hash; true when it was remembered. */
  take(hash: number): boolean {
    if (this.live === 0) return false;
    const fp = Ghost.fingerprint(hash);
    const b = this.base(fp);
    const k = b >>> BUCKET_SHIFT;
    if ((this.summary[Ghost.half(k, fp)]! & (1 << fp)) === 0) return false;
    const t = this.table;
    const last = b + this.fill[k]! - 1;
    for (let i = b; i <= last; i++) {
      const w = t[i]!;
      if (((w >> EPOCH_BITS) & FP_MASK) === fp && ((w - this.oldest) & EPOCH_MASK) <= ((this.epoch - this.oldest) & EPOCH_MASK)) {
        // Keep the bucket compact: its last word in use fills the hole.
        t[i] = t[last]!;
        t[last] = 0;
        this.fill[k] = last - b;
        this.forget(w & EPOCH_MASK);
        return true;
      }
    }
    return false;
  }

  /**
   * Drop the oldest epochs while the ghost is over its capacity by more than half of the
   * oldest epoch's cost (so the ghost holds `capacity` units on average, not at most).
   */
  private trim(): void {
    while (this.oldest !== this.epoch && this.total - this.costs[this.oldest]! / 2 > this.cap) this.dropOldest();
    if (this.oldest === this.epoch && this.total > this.cap) {
      // The current epoch alone is over capacity (a shrink, or heavy records): start afresh.
      this.nextEpoch();
      this.dropOldest();
    }
  }

  private dropOldest(): void {
    const e = this.oldest;
    this.live -= this.count[e]!;
    this.total -= this.costs[e]!;
    this.count[e] = 0;
    this.costs[e] = 0;
    this.oldest = (e + 1) & EPOCH_MASK;
    if (this.live === 0) this.total = 0; // no float drift once empty
  }

  private nextEpoch(): void {
    this.epoch = (this.epoch + 1) & EPOCH_MASK;
    this.filled = 0;
    if (((this.epoch - this.oldest) & EPOCH_MASK) >= MAX_SPAN) this.dropOldest();
    this.sweep();
  }

  /** Clear the dead words of the next stretch of buckets, compacting each bucket. */
  private sweep(): void {
    const t = this.table;
    const first = this.oldest;
    const span = (this.epoch - first) & EPOCH_MASK;
    let b = this.sweepAt;
    const stop = Math.min(t.length, b + this.sweepStep);
    const summary = this.summary;
    for (; b < stop; b += BUCKET) {
      let j = b;
      let i = b;
      let lo = 0;
      let hi = 0;
      const k = b >>> BUCKET_SHIFT;
      const used = b + this.fill[k]!;
      for (; i < used; i++) {
        // Branch-free, as in rewrite().
        const w = t[i]!;
        const f = w >>> EPOCH_BITS;
        const keep = ((((w - first) & EPOCH_MASK) - span - 1) >>> 31);
        t[j] = w;
        j += keep;
        const bit = (1 << f) & -keep;
        const high = -((f >>> 5) & 1);
        hi |= bit & high;
        lo |= bit & ~high;
      }
      this.fill[k] = j - b;
      for (; j < i; j++) t[j] = 0;
      summary[k << 1] = lo;
      summary[(k << 1) | 1] = hi;
    }
    this.sweepAt = b >= t.length ? 0 : b;
  }

  /** Change the capacity (cost units), forgetting the oldest records over it, and make room for `records` live records. */
  resize(capacity: number, records = capacity): void {
    this.cap = Math.max(0, capacity);
    this.epochCost = this.cap / EPOCHS;
    this.trim();
    this.reserve(records);
  }

  /**
   * Expect up to `records` live records: the table may grow to twice that many words (it
   * grows as records arrive, and never shrinks).
   */
  reserve(records: number): void {
    this.maxWords = Math.max(this.maxWords, Ghost.wordsFor(records));
  }

  /** Rehash into a table of `words` words. */
  private growTo(words: number): void {
    const old = this.table;
    this.table = new Int32Array(words);
    this.summary = new Int32Array(2 * (words >>> BUCKET_SHIFT));
    this.fill = new Uint8Array(words >>> BUCKET_SHIFT);
    this.bucketMask = (words >>> BUCKET_SHIFT) - 1;
    this.sweepStep = Ghost.sweepStepFor(words);
    this.sweepAt = 0;
    // Re-place the live records, oldest first, so that a full bucket keeps the newest.
    const span = (this.epoch - this.oldest) & EPOCH_MASK;
    for (let k = 0; k <= span; k++) {
      const e = (this.oldest + k) & EPOCH_MASK;
      for (let i = 0; i < old.length; i++) {
        const w = old[i]!;
        if (w !== 0 && (w & EPOCH_MASK) === e) this.place(w);
      }
    }
  }

  /** Put a live word back after the table grew (appended: buckets stay compact). */
  private place(w: number): void {
    const t = this.table;
    const b = this.base(w >>> EPOCH_BITS);
    this.summary[Ghost.half(b >>> BUCKET_SHIFT, w >>> EPOCH_BITS)]! |= 1 << (w >>> EPOCH_BITS);
    let oldest = b;
    let oldestAge = -1;
    for (let i = b; i < b + BUCKET; i++) {
      const x = t[i]!;
      if (x === 0) {
        t[i] = w;
        this.fill[b >>> BUCKET_SHIFT] = this.fill[b >>> BUCKET_SHIFT]! + 1;
        return;
      }
      const age = (this.epoch - x) & EPOCH_MASK;
      if (age > oldestAge) {
        oldestAge = age;
        oldest = i;
      }
    }
    this.forget(t[oldest]! & EPOCH_MASK);
    t[oldest] = w;
  }

  clear(): void {
    this.table.fill(0);
    this.summary.fill(0);
    this.fill.fill(0);
    this.count.fill(0);
    this.costs.fill(0);
    this.oldest = this.epoch;
    this.live = 0;
    this.total = 0;
    this.filled = 0;
  }

  /** Table words now (it grows up to the expected records; for memory accounting in tests). */
  get words(): number {
    return this.table.length;
  }

  /** Check the live count and the per-epoch counts against the table; throws naming `name`. */
  check(name: string): void {
    const bad = (what: string): never => {
      throw new Error(`${name} invariant broken: ghost ${what}`);
    };
    const counts = new Int32Array(EPOCH_MASK + 1);
    let live = 0;
    const t = this.table;
    const span = (this.epoch - this.oldest) & EPOCH_MASK;
    if (span >= MAX_SPAN) bad(`${span + 1} live epochs`);
    for (let b = 0; b < t.length; b += BUCKET) {
      const fps = new Set<number>();
      let ended = false;
      for (let i = b; i < b + BUCKET; i++) {
        const w = t[i]!;
        if (w === 0) {
          if (!ended && this.fill[b >>> BUCKET_SHIFT] !== i - b) bad(`bucket ${b >>> BUCKET_SHIFT} fill ${this.fill[b >>> BUCKET_SHIFT]}, first empty word ${i - b}`);
          ended = true;
          continue;
        }
        if (ended) bad(`bucket ${b >>> BUCKET_SHIFT} is not compact (word ${i} follows an empty one)`);
        if (!this.isLive(w & EPOCH_MASK)) continue;
        const fp = w >>> EPOCH_BITS;
        if (this.base(fp) !== b) bad(`fingerprint ${fp} in bucket ${b >>> BUCKET_SHIFT}, not its own`);
        if (fps.has(fp)) bad(`fingerprint ${fp} live twice in bucket ${b >>> BUCKET_SHIFT}`);
        if ((this.summary[Ghost.half(b >>> BUCKET_SHIFT, fp)]! & (1 << fp)) === 0) bad(`bucket ${b >>> BUCKET_SHIFT}'s summary misses fingerprint ${fp}`);
        fps.add(fp);
        counts[w & EPOCH_MASK]!++;
        live++;
      }
      if (!ended && this.fill[b >>> BUCKET_SHIFT] !== BUCKET) bad(`bucket ${b >>> BUCKET_SHIFT} is full, fill ${this.fill[b >>> BUCKET_SHIFT]}`);
    }
    if (live !== this.live) bad(`counts ${this.live} live records, table holds ${live}`);
    let total = 0;
    for (let e = 0; e <= EPOCH_MASK; e++) {
      if (counts[e] !== this.count[e]) bad(`epoch ${e}: ${this.count[e]} counted, ${counts[e]} in the table`);
      if (counts[e] === 0 && Math.abs(this.costs[e]!) > 1e-6) bad(`epoch ${e} has no records but cost ${this.costs[e]}`);
      total += this.costs[e]!;
    }
    if (Math.abs(total - this.total) > 1e-6 * Math.max(1, total)) bad(`cost ${this.total} != sum of epochs ${total}`);
    if (this.filled < 0) bad(`epoch fill ${this.filled}`);
  }
}
