/**
 * Hierarchical timer wheel for expiry (Varghese & Lauck, "Hashed and Hierarchical Timing
 * Wheels", SOSP'87), shaped like Caffeine's TimerWheel.
 *
 * Five levels of buckets; a level-i bucket spans SPANS[i] ms, and an entry is filed at the
 * lowest level whose whole wheel covers its remaining time. Scheduling, rescheduling and
 * cancelling are O(1) (doubly linked lists in typed arrays, indexed by slot). Advancing the
 * clock visits only the buckets whose tick has passed: their entries are either expired or
 * refiled at a finer level. The work per advance is bounded by the entries that actually
 * move, so expiry costs O(1) amortised per entry, with no scan of the cache and no timer.
 *
 * The wheel is a cleaner, not an oracle: an entry is expired the moment its deadline passes,
 * and the cache checks the exact deadline on every read. The wheel only makes sure expired
 * entries are eventually removed (and their removal events fired) without anyone reading them.
 */
import { NIL } from './queues.js';
import { growFloat64, growInt32 } from './typed-arrays.js';

/** Bucket widths in ms: ~1 s, ~65 s, ~70 min, ~18.6 h, ~12.4 days (powers of two). */
const SPANS = [2 ** 10, 2 ** 16, 2 ** 22, 2 ** 26, 2 ** 30] as const;
/** Buckets per level: level 0 covers 64 s, level 1 ~70 min, level 2 ~37 h, level 3 ~3 days; level 4 is the overflow. */
const BUCKETS = [64, 64, 32, 4, 1] as const;
const LEVELS = SPANS.length;
const OFFSETS: number[] = [];
{
  let o = 0;
  for (const b of BUCKETS) {
    OFFSETS.push(o);
    o += b;
  }
}
const TOTAL_BUCKETS = BUCKETS.reduce((a, b) => a + b, 0);
const NOT_SCHEDULED = -1;

export class TimerWheel {
  /** Time of the last advance (ms). */
  now: number;
  private readonly heads = new Int32Array(TOTAL_BUCKETS).fill(NIL);
  private next: Int32Array;
  private prev: Int32Array;
  private bucket: Int32Array;
  private time: Float64Array;
  scheduled = 0;

  constructor(slots: number, now: number) {
    this.now = now;
    this.next = new Int32Array(slots).fill(NIL);
    this.prev = new Int32Array(slots).fill(NIL);
    this.bucket = new Int32Array(slots).fill(NOT_SCHEDULED);
    this.time = new Float64Array(slots);
  }

  grow(slots: number): void {
    this.next = growInt32(this.next, slots, NIL);
    this.prev = growInt32(this.prev, slots, NIL);
    this.bucket = growInt32(this.bucket, slots, NOT_SCHEDULED);
    this.time = growFloat64(this.time, slots);
  }

  isScheduled(slot: number): boolean {
    return this.bucket[slot] !== NOT_SCHEDULED;
  }

  /** File `slot` to expire at `time` (ms), replacing any earlier schedule. */
  schedule(slot: number, time: number): void {
    if (this.bucket[slot] !== NOT_SCHEDULED) this.unschedule(slot);
    this.time[slot] = time;
    const b = this.bucketFor(time);
    const h = this.heads[b]!;
    this.next[slot] = h;
    this.prev[slot] = NIL;
    if (h !== NIL) this.prev[h] = slot;
    this.heads[b] = slot;
    this.bucket[slot] = b;
    this.scheduled++;
  }

  unschedule(slot: number): void {
    const b = this.bucket[slot]!;
    if (b === NOT_SCHEDULED) return;
    const n = this.next[slot]!;
    const p = this.prev[slot]!;
    if (p === NIL) this.heads[b] = n;
    else this.next[p] = n;
    if (n !== NIL) this.prev[n] = p;
    this.next[slot] = NIL;
    this.prev[slot] = NIL;
    this.bucket[slot] = NOT_SCHEDULED;
    this.scheduled--;
  }

  private bucketFor(time: number): number {
    // A deadline already past is filed in the current level-0 bucket, which the next
    // advance (and purgeCurrent) visits.
    const t = time < this.now ? this.now : time;
    const delay = t - this.now;
    for (let i = 0; i < LEVELS - 1; i++) {
      if (delay < SPANS[i + 1]!) {
        const ticks = Math.floor(t / SPANS[i]!);
        return OFFSETS[i]! + (ticks & (BUCKETS[i]! - 1));
      }
    }
    return OFFSETS[LEVELS - 1]!;
  }

  /**
   * Move the wheel to `now`, calling `expire(slot)` for every entry found due in the buckets
   * whose tick has passed (the entry is already unscheduled when called). Entries not yet
   * due are refiled at a finer level.
   */
  advance(now: number, expire: (slot: number) => void): void {
    const prev = this.now;
    if (!(now > prev)) return;
    this.now = now;
    for (let i = 0; i < LEVELS; i++) {
      const prevTicks = Math.floor(prev / SPANS[i]!);
      const delta = Math.floor(now / SPANS[i]!) - prevTicks;
      if (delta <= 0) break;
      const mask = BUCKETS[i]! - 1;
      const steps = Math.min(delta + 1, BUCKETS[i]!);
      for (let j = 0; j < steps; j++) {
        this.flush(OFFSETS[i]! + ((prevTicks + j) & mask), now, expire);
      }
    }
  }

  /** Detach bucket `b` and expire or refile each of its entries. */
  private flush(b: number, now: number, expire: (slot: number) => void): void {
    let s = this.heads[b]!;
    this.heads[b] = NIL;
    while (s !== NIL) {
      const n = this.next[s]!;
      this.next[s] = NIL;
      this.prev[s] = NIL;
      this.bucket[s] = NOT_SCHEDULED;
      this.scheduled--;
      const t = this.time[s]!;
      if (t <= now) expire(s);
      else this.schedule(s, t);
      s = n;
    }
  }

  /**
   * Advance to `now`, then also expire what is due in the current level-0 bucket. After an
   * advance, that bucket is the only place an overdue entry can be (see bucketFor), so this
   * removes every expired entry.
   */
  purgeCurrent(now: number, expire: (slot: number) => void): void {
    this.advance(now, expire);
    const b = OFFSETS[0]! + (Math.floor(Math.max(now, this.now) / SPANS[0]!) & (BUCKETS[0]! - 1));
    let s = this.heads[b]!;
    while (s !== NIL) {
      const n = this.next[s]!;
      if (this.time[s]! <= now) {
        this.unschedule(s);
        expire(s);
      }
      s = n;
    }
  }

  clear(): void {
    this.heads.fill(NIL);
    this.next.fill(NIL);
    this.prev.fill(NIL);
    this.bucket.fill(NOT_SCHEDULED);
    this.scheduled = 0;
  }

  /** Check that every scheduled slot is listed once in the bucket it claims. */
  validate(isScheduledLive: (slot: number) => boolean): void {
    let count = 0;
    for (let b = 0; b < TOTAL_BUCKETS; b++) {
      let prev = NIL;
      for (let s = this.heads[b]!; s !== NIL; s = this.next[s]!) {
        if (this.bucket[s] !== b) throw new Error(`timer wheel: slot ${s} in bucket ${b} claims ${this.bucket[s]}`);
        if (this.prev[s] !== prev) throw new Error(`timer wheel: slot ${s} back link broken`);
        if (!isScheduledLive(s)) throw new Error(`timer wheel: slot ${s} scheduled but not live`);
        if (++count > this.next.length) throw new Error('timer wheel: cycle');
        prev = s;
      }
    }
    if (count !== this.scheduled) throw new Error(`timer wheel: ${count} listed, ${this.scheduled} counted`);
  }
}
