/**
 * W-TinyLFU's two ghost lists: the fingerprints of recent duel losers (candidates) and of
 * recent main-space victims, remembered without their keys, so that a returning key tells
 * the window adaptation which side was too small (see policies/wtinylfu.ts, "Adaptivity").
 *
 * Why not an exact FIFO. The ghosts were exact FIFOs (a ring per list and a chained index over
 * both): remembering a key meant forgetting the ring's oldest record (a walk of its chain),
 * looking for the key in the other list (a walk of another chain) and linking it in: 20-26% of
 * a W-TinyLFU miss at 1,000 entries, and 8 bytes per cached entry (docs/perf-notes.md, session
 * 6). The adaptation does not need that precision: a ghost hit only nudges the window
 * boundary, and what matters is that keys evicted about `capacity` evictions ago are still
 * remembered and much older ones mostly are not.
 *
 * Representation. A direct-mapped table of `n` cells (n = the capacity of each list), each
 * cell two 32-bit words side by side, one per list, in one Int32Array: word 2i + l holds the
 * key hash of list l's record in cell i (0: none; a hash of 0 is stored as 1). A key's cell is
 * picked from its hash by multiply-and-scale, so `n` need not be a power of two. Remembering a
 * key writes its word of its list's side, replacing whatever record was there (random
 * replacement: a record survives each later addition to its list with probability 1 - 1/n,
 * so records live n additions on average, where a FIFO keeps them exactly n), and clears the
 * other side if it holds the same key (a key is in at most one list). Taking a key reads both
 * words of its cell. Every operation touches one 8-byte cell: one random cache line, no
 * chains, and 2 bytes per cached entry at W-TinyLFU's ghost size (a quarter of the capacity
 * per list).
 *
 * A false match (two keys with one 32-bit hash in one cell) only nudges an adaptation step.
 */

/** Multiplier that spreads hashes before scaling to a cell (golden ratio). */
const GOLDEN = 0x9e3779b1 | 0;
/** 2^32, to scale a 32-bit unsigned value to [0, cells). */
const TWO_32 = 4294967296;
/** Words per cell: per list, its newer and its older record. */
const CELL = 4;

export class GhostTable {
  /**
   * Four words per cell: list l's newer record at 4i + 2l, its older at 4i + 2l + 1 (a key
   * hash, or 0). An older word is used only when the newer one is.
   */
  private cells: Int32Array;
  /** Cells: two records of each list per cell. */
  private n: number;
  /** Records each list remembers at most (2 per cell). */
  private cap: number;
  /** Live records per list. */
  private readonly counts = new Int32Array(2);

  /** @param capacity records each list remembers (rounded up to even, at least 2) */
  constructor(capacity: number) {
    this.n = GhostTable.cellsFor(capacity);
    this.cap = 2 * this.n;
    this.cells = new Int32Array(CELL * this.n);
  }

  private static cellsFor(capacity: number): number {
    return Math.max(1, Math.ceil(Math.floor(capacity) / 2));
  }

  /** Records each list remembers at most. */
  get capacity(): number {
    return this.cap;
  }

  /** Records remembered, over both lists. */
  get size(): number {
    return this.counts[0]! + this.counts[1]!;
  }

  /** Records list `list` (0 or 1) remembers. */
  sizeOf(list: number): number {
    return this.counts[list]!;
  }

  /** The cell a key hash maps to (0 .. cells - 1), for tests and diagnostics. */
  cellIndex(hash: number): number {
    return this.cellOf(hash === 0 ? 1 : hash) / CELL;
  }

  /** The first word of the cell of the record `v` (a key hash, 0 read as 1). */
  private cellOf(v: number): number {
    return (((Math.imul(v, GOLDEN) >>> 0) * this.n) / TWO_32) << 2;
  }

  /** Remove record `v` from the pair of words at `at` if it is there; true if it was. */
  private drop(at: number, v: number): boolean {
    const cells = this.cells;
    if (cells[at] === v) {
      cells[at] = cells[at + 1]!;
      cells[at + 1] = 0;
      return true;
    }
    if (cells[at + 1] === v) {
      cells[at + 1] = 0;
      return true;
    }
    return false;
  }

  /** Remember the key with this hash in list `list` (0 or 1), forgetting it in the other. */
  add(hash: number, list: number): void {
    const v = hash === 0 ? 1 : hash;
    const at = this.cellOf(v);
    const cells = this.cells;
    if (this.drop(at + 2 * (list ^ 1), v)) this.counts[list ^ 1]!--;
    const mine = at + 2 * list;
    const newer = cells[mine]!;
    if (newer === v) return;
    const older = cells[mine + 1]!;
    // The newer record moves to the older word; the older one is forgotten, unless the key is
    // the older one itself (it just swaps) or that word was empty (one record more).
    if (older === 0) this.counts[list]!++;
    cells[mine + 1] = newer;
    cells[mine] = v;
  }

  /** Forget the key with this hash; returns the list that remembered it, or -1. */
  take(hash: number): number {
    const v = hash === 0 ? 1 : hash;
    const at = this.cellOf(v);
    if (this.drop(at, v)) {
      this.counts[0]!--;
      return 0;
    }
    if (this.drop(at + 2, v)) {
      this.counts[1]!--;
      return 1;
    }
    return -1;
  }

  /**
   * Change the capacity of each list. The records are placed again in the new table, older
   * ones first (where more meet in one cell than it holds, the newest stay), so a growing
   * cache keeps what its ghosts knew.
   */
  resize(capacity: number): void {
    const n = GhostTable.cellsFor(capacity);
    if (n === this.n) return;
    const old = this.cells;
    this.n = n;
    this.cap = 2 * n;
    this.cells = new Int32Array(CELL * n);
    this.counts.fill(0);
    for (const way of [1, 0]) {
      for (let w = way; w < old.length; w += 2) {
        const v = old[w]!;
        if (v !== 0) this.add(v, (w >> 1) & 1);
      }
    }
  }

  clear(): void {
    this.cells.fill(0);
    this.counts.fill(0);
  }

  /** Check that every record sits in its own cell, once, and the counts; throws naming `name`. */
  check(name: string): void {
    const bad = (what: string): never => {
      throw new Error(`${name} invariant broken: ghost ${what}`);
    };
    const live = [0, 0];
    const cells = this.cells;
    for (let at = 0; at < cells.length; at += CELL) {
      const seen = new Set<number>();
      for (let w = at; w < at + CELL; w++) {
        const v = cells[w]!;
        if (v === 0) {
          if ((w & 1) === 0 && cells[w + 1] !== 0) bad(`cell ${at / CELL} holds an older record without a newer one`);
          continue;
        }
        live[(w >> 1) & 1]!++;
        if (this.cellOf(v) !== at) bad(`record ${v} in cell ${at / CELL}, its hash picks cell ${this.cellOf(v) / CELL}`);
        if (seen.has(v)) bad(`record ${v} twice in cell ${at / CELL}`);
        seen.add(v);
      }
    }
    for (let l = 0; l < 2; l++) if (live[l] !== this.counts[l]) bad(`list ${l} counts ${this.counts[l]}, its cells hold ${live[l]}`);
  }
}
