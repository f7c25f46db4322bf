/**
 * NumberTable: the key index for number keys, an open-addressing hash table of slot numbers.
 *
 * Why not a `Map`. For a cache whose keys are small integers (ids, offsets, block numbers) the
 * `Map` is most of the cost of every operation: a lookup walks a bucket chain in V8's ordered
 * hash table, and a write that evicts deletes one entry and adds another, which leaves a hole
 * that the table later pays to compact. It is also most of the memory: 29 bytes per entry. And
 * V8 hashes numbers without a seed, so keys chosen to share their hash's low bits make every
 * lookup walk one long chain (`npm run bench:flood`: 8,192 such keys make a `Map` 300 to 1,600x slower).
 * Strings are another matter: V8 hashes a string once, seeded, and keeps the hash in the
 * string, where a table of ours would hash it again in JavaScript on every lookup (measured
 * slower than the `Map` for 18-character keys); so strings, objects, bigints and the rest stay
 * in the store's `Map` and only numbers come here (every number but NaN, which is not equal to
 * itself and so goes to the `Map`, where it is one key; see store.ts).
 *
 * Representation: `cells`, an Int32Array whose length is a power of two, holds slot + 1 (0 is
 * an empty cell); the keys themselves stay in the store's key array, where a probe compares
 * them with `===` (so -0 finds 0, as in a `Map`). A key's home cell is the low bits of the
 * cache's seeded hash of the number (internal/hash.ts: mix32(key ^ seed) for an int32, the
 * mixed IEEE-754 words for any other number), the hash the policies get too, so an attacker
 * who does not know the seed cannot aim keys at one cell.
 * Linear probing, and deletion by backward shift (Knuth's algorithm R: later members of the
 * probe run move back into the hole when their home allows it), so the table never holds
 * tombstones and a lookup never walks past dead cells. A large table is kept at most half full:
 * 2 to 4 cells (8 to 16 bytes) per entry, about 1.5 probes per hit and 2.5 per miss; a small
 * one (up to 16K cells) at most a quarter full.
 *
 * The table is empty (a single cell) until the first number key arrives, so a cache of strings
 * pays four bytes for it.
 */
import { hashNumber, mix32 } from './hash.js';

/** The cache's seeded hash of a number (hashNumber), with the int32 case inline. */
function hashOf(key: number, seed: number): number {
  return (key | 0) === key ? mix32(key ^ seed) : hashNumber(key, seed);
}

/** Whether a key goes to the NumberTable: any number but NaN. */
export function isTableKey(key: unknown): key is number {
  return typeof key === 'number' && key === key;
}

/** Smallest table once a key arrives. */
const MIN_CELLS = 16;
/**
 * Up to this many cells (64 KiB) the table is kept at most a quarter full, beyond it at most
 * half: a small table costs little memory either way, and fits in the core's caches, where
 * the time of a write that evicts is the probes and the backward shift themselves.
 */
const SPARSE_CELLS = 1 << 14;

/** Cells needed for `entries` keys. */
function cellsFor(entries: number): number {
  let n = MIN_CELLS;
  while (n < SPARSE_CELLS ? 4 * entries > n : 2 * entries > n) n *= 2;
  return n;
}

export class NumberTable {
  /** slot + 1 per cell; 0 marks an empty cell. */
  cells: Int32Array = new Int32Array(1);
  /** cells.length - 1. */
  mask = 0;
  /** Keys held. */
  size = 0;
  /** Keys the cells may hold before the table doubles (see SPARSE_CELLS). */
  private limit = 0;

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
    let i = hashOf(key, this.seed) & mask;
    for (;;) {
      const c = cells[i]!;
      if (c === 0) return -1;
      if (keyAt[c - 1] === key) return c - 1;
      i = (i + 1) & mask;
    }
  }

  /** Index `slot` under `key`, which must not be in the table. */
  insert(key: number, slot: number): void {
    if (this.size >= this.limit) this.rehash(cellsFor(this.size + 1));
    const cells = this.cells;
    const mask = this.mask;
    let i = hashOf(key, this.seed) & mask;
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
    let hole = hashOf(key, seed) & mask;
    while (cells[hole] !== want) {
      if (cells[hole] === 0) throw new Error(`NumberTable: key ${key} (slot ${slot}) is not in the table`);
      hole = (hole + 1) & mask;
    }
    // Backward shift: walk the run after the hole; an entry whose home is not cyclically in
    // (hole, j] may move back into the hole, which then moves to where it was.
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const c = cells[j]!;
      if (c === 0) break;
      const home = hashOf(keyAt[c - 1] as number, seed) & mask;
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
    const n = cellsFor(entries);
    if (n > this.cells.length) this.rehash(n);
  }

  private rehash(n: number): void {
    const old = this.cells;
    const cells = new Int32Array(n);
    const mask = n - 1;
    const keyAt = this.keyAt;
    for (let k = 0; k < old.length; k++) {
      const c = old[k]!;
      if (c === 0) continue;
      let i = hashOf(keyAt[c - 1] as number, this.seed) & mask;
      while (cells[i] !== 0) i = (i + 1) & mask;
      cells[i] = c;
    }
    this.cells = cells;
    this.mask = mask;
    this.limit = n < SPARSE_CELLS ? n >>> 2 : n >>> 1;
  }

  /** Bytes held (the cells). */
  get bytes(): number {
    return this.cells.byteLength;
  }

  /**
   * Check the table against the key array (tests only; slow): every cell points at a slot
   * holding a number key that a lookup finds there, no slot twice, the count, and the load.
   * Returns the slots held.
   */
  validate(): Set<number> {
    const slots = new Set<number>();
    for (let i = 0; i < this.cells.length; i++) {
      const c = this.cells[i]!;
      if (c === 0) continue;
      const s = c - 1;
      if (slots.has(s)) throw new Error(`NumberTable: slot ${s} in two cells`);
      slots.add(s);
      const key = this.keyAt[s];
      if (!isTableKey(key)) throw new Error(`NumberTable: cell ${i} points at slot ${s}, whose key ${String(key)} is not a number`);
      if (this.find(key) !== s) throw new Error(`NumberTable: key ${key} in cell ${i} is not found by a lookup`);
    }
    if (slots.size !== this.size) throw new Error(`NumberTable: ${slots.size} cells used, size says ${this.size}`);
    if (this.mask !== this.cells.length - 1 || (this.cells.length & this.mask) !== 0) throw new Error(`NumberTable: ${this.cells.length} cells, mask ${this.mask}`);
    if (this.size > 0 && this.size > this.limit) throw new Error(`NumberTable: ${this.size} keys in ${this.cells.length} cells (over the limit ${this.limit})`);
    return slots;
  }
}
