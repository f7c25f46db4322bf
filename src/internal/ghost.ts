/**
 * A bounded FIFO set of key fingerprints: the "ghost" lists of ARC-style adaptation, which
 * remember recently evicted keys without keeping the keys themselves.
 *
 * A ring of (fingerprint, sequence number) pairs and a Map from fingerprint to the sequence
 * number of its newest record. Adding past capacity overwrites the oldest record and drops it
 * from the Map unless the fingerprint was added again since (then the Map holds the newer
 * sequence). Fingerprints are 30-bit so that Map keys stay small integers (no heap numbers).
 * Removal by `take` only deletes the Map entry; the stale ring record is skipped later.
 */

const FINGERPRINT_MASK = 0x3fffffff;

export class GhostRing {
  private fps: Int32Array;
  private seqs: Float64Array;
  private readonly index = new Map<number, number>();
  private seq = 0;

  constructor(capacity: number) {
    const n = Math.max(1, Math.floor(capacity));
    this.fps = new Int32Array(n);
    this.seqs = new Float64Array(n).fill(-1);
  }

  get capacity(): number {
    return this.fps.length;
  }

  /** Number of fingerprints remembered. */
  get size(): number {
    return this.index.size;
  }

  /** Remember the key with this hash (as the newest record). */
  add(hash: number): void {
    const fp = hash & FINGERPRINT_MASK;
    const n = this.fps.length;
    const pos = this.seq % n;
    const old = this.seqs[pos]!;
    if (old >= 0 && this.index.get(this.fps[pos]!) === old) this.index.delete(this.fps[pos]!);
    this.fps[pos] = fp;
    this.seqs[pos] = this.seq;
    this.index.set(fp, this.seq);
    this.seq++;
  }

  /** Forget the key with this hash; true when it was remembered. */
  take(hash: number): boolean {
    return this.index.delete(hash & FINGERPRINT_MASK);
  }

  /** Change the capacity, keeping the newest records that fit. */
  resize(capacity: number): void {
    const n = Math.max(1, Math.floor(capacity));
    if (n === this.fps.length) return;
    const oldFps = this.fps;
    const oldSeqs = this.seqs;
    const oldN = oldFps.length;
    const live: number[] = [];
    for (let s = Math.max(0, this.seq - oldN); s < this.seq; s++) {
      const pos = s % oldN;
      if (this.index.get(oldFps[pos]!) === oldSeqs[pos]) live.push(oldFps[pos]!);
    }
    this.fps = new Int32Array(n);
    this.seqs = new Float64Array(n).fill(-1);
    this.index.clear();
    this.seq = 0;
    for (let i = Math.max(0, live.length - n); i < live.length; i++) this.add(live[i]!);
  }

  clear(): void {
    this.index.clear();
    this.seqs.fill(-1);
    this.seq = 0;
  }

  /** Check that the index and the ring agree; throws naming `name`. */
  check(name: string): void {
    const n = this.fps.length;
    let live = 0;
    for (let s = Math.max(0, this.seq - n); s < this.seq; s++) {
      const pos = s % n;
      if (this.index.get(this.fps[pos]!) === this.seqs[pos]) live++;
    }
    if (live !== this.index.size) throw new Error(`${name} invariant broken: ghost index has ${this.index.size} fingerprints, ring ${live}`);
    if (this.index.size > n) throw new Error(`${name} invariant broken: ghost holds ${this.index.size} > capacity ${n}`);
  }
}
