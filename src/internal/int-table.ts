/**
 * IntTable: the key index for int32 keys, an open-addressing hash table of slot numbers.
 *
 * Why not a `Map`. For a cache whose keys are small integers (ids, offsets, block numbers) the
 * `Map` is most of the cost of every operation: a lookup walks a bucket chain in V8's ordered
 * hash table, and a write that evicts deletes one entry and adds another, which leaves a hole
 * that the table later pays to compact. It is also most of the memory: 29 bytes per entry. And
 * V8 hashes small integers without a seed, so keys chosen to share their hash's low bits make
 * every lookup walk one long chain (measured: 8,192 such keys make a `Map` 50x slower).
 * Strings are another matter: V8 hashes a string once, seeded, and keeps the hash in the
 * string, where a table of ours would hash it again in JavaScript on every lookup (measured
 * slower than the `Map` for 18-character keys); so strings, other numbers and objects stay in
 * the store's `Map` and only int32 keys come here (see store.ts).
 *
 * Representation: `cells`, an Int32Array whose length is a power of two, holds slot + 1 (0 is
 * an empty cell); the keys themselves stay in the store's key array, where a probe compares
 * them. A key's home cell is the low bits of mix32(key ^ seed), the cache's seeded integer hash
 * (internal/hash.ts), so an attacker who does not know the seed cannot aim keys at one cell.
 * Linear probing, and deletion by backward shift (Knuth's algorithm R: later members of the
 * probe run move back into the hole when their home allows it), so the table never holds
 * tombstones and a lookup never walks past dead cells. The table is kept at most half full:
 * 2 to 4 cells (8 to 16 bytes) per entry, about 1.5 probes per hit and 2.5 per miss.
 *
 * The table is empty (a single cell) until the first int32 key arrives, so a cache of strings
 * pays four bytes for it.
 */
import { mix32 } from './hash.js';

/** Whether a key goes to the IntTable: an int32 (what V8 keeps as a small integer). -0 is 0. */
export function isInt32Key(key: unknown): key is number {
  return typeof key === 'number' && (key | 0) === key;
}

/** Smallest table once a key arrives. */
const MIN_CELLS = 16;

export class IntTable {
  /** slot + 1 per cell; 0 marks an empty cell. */
  cells: Int32Array = new Int32Array(1);
  /** cells.length - 1. */
  mask = 0;
  /** Keys held. */
  size = 0;

  /**
   * @param keyAt the store's key array, indexed by slot (read, never written, here)
   * @param seed the cache's hash seed
   */
  constructor(
    private readonly keyAt: readonly unknown[],
    private readonly seed: number,
  ) {}

  /** The slot of `key`, or -1. */
  find(key: number): number {
    const cells = this.cells;
    const mask = this.mask;
    const keyAt = this.keyAt;
    let i = mix32(key ^ this.seed) & mask;
    for (;;) {
      const c = cells[i]!;
      if (c === 0) return -1;
      if (keyAt[c - 1] === key) return c - 1;
      i = (i + 1) & mask;
    }
  }

  /** Index `slot` under `key`, which must not be in the table. */
  insert(key: number, slot: number): void {
    if (2 * (this.size + 1) > this.cells.length) this.rehash(Math.max(MIN_CELLS, 2 * this.cells.length));
    const cells = this.cells;
    const mask = this.mask;
    let i = mix32(key ^ this.seed) & mask;
    while (cells[i] !== 0) i = (i + 1) & mask;
    cells[i] = slot + 1;
    this.size++;
  }

  /** Take `key` (held in `slot`) out of the table. */
  remove(key: number, slot: number): void {
    const cells = this.cells;
    const mask = this.mask;
    const keyAt = this.keyAt;
    const seed = this.seed;
    const want = slot + 1;
    let hole = mix32(key ^ seed) & mask;
    while (cells[hole] !== want) {
      if (cells[hole] === 0) throw new Error(`IntTable: key ${key} (slot ${slot}) is not in the table`);
      hole = (hole + 1) & mask;
    }
    // Backward shift: walk the run after the hole; an entry whose home is not cyclically in
    // (hole, j] may move back into the hole, which then moves to where it was.
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const c = cells[j]!;
      if (c === 0) break;
      const home = mix32((keyAt[c - 1] as number) ^ seed) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        cells[hole] = c;
        hole = j;
      }
    }
    cells[hole] = 0;
    this.size--;
  }

  /** Forget every key (the table keeps its size). */
  clear(): void {
    this.cells.fill(0);
    this.size = 0;
  }

  /** Reserve room for `entries` keys at most half full (no-op when there is room). */
  reserve(entries: number): void {
    let n = this.cells.length;
    while (2 * entries > n) n *= 2;
    if (n > this.cells.length) this.rehash(Math.max(MIN_CELLS, n));
  }

  private rehash(n: number): void {
    const old = this.cells;
    const cells = new Int32Array(n);
    const mask = n - 1;
    const keyAt = this.keyAt;
    for (let k = 0; k < old.length; k++) {
      const c = old[k]!;
      if (c === 0) continue;
      let i = mix32((keyAt[c - 1] as number) ^ this.seed) & mask;
      while (cells[i] !== 0) i = (i + 1) & mask;
      cells[i] = c;
    }
    this.cells = cells;
    this.mask = mask;
  }

  /** Bytes held (the cells). */
  get bytes(): number {
    return this.cells.byteLength;
  }

  /**
   * Check the table against the key array (tests only; slow): every cell points at a slot
   * holding an int32 key that a lookup finds there, no slot twice, the count, and the load.
   * Returns the slots held.
   */
  validate(): Set<number> {
    const slots = new Set<number>();
    for (let i = 0; i < this.cells.length; i++) {
      const c = this.cells[i]!;
      if (c === 0) continue;
      const s = c - 1;
      if (slots.has(s)) throw new Error(`IntTable: slot ${s} in two cells`);
      slots.add(s);
      const key = this.keyAt[s];
      if (!isInt32Key(key)) throw new Error(`IntTable: cell ${i} points at slot ${s}, whose key ${String(key)} is not an int32`);
      if (this.find(key) !== s) throw new Error(`IntTable: key ${key} in cell ${i} is not found by a lookup`);
    }
    if (slots.size !== this.size) throw new Error(`IntTable: ${slots.size} cells used, size says ${this.size}`);
    if (this.mask !== this.cells.length - 1 || (this.cells.length & this.mask) !== 0) throw new Error(`IntTable: ${this.cells.length} cells, mask ${this.mask}`);
    if (this.size > 0 && 2 * this.size > this.cells.length) throw new Error(`IntTable: ${this.size} keys in ${this.cells.length} cells (over half full)`);
    return slots;
  }
}
