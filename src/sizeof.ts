/**
 * sizeOf: an estimate of the bytes a value retains in V8, for byte-bounded caches.
 *
 * Why a model and not a measurement: V8 offers no per-object size at run time (heap
 * snapshots are far too slow for a weigher). So sizeOf walks the value and adds up the sizes
 * of the V8 objects it would be made of, using the layouts of 64-bit V8 in Node 20 (8-byte
 * pointers, no pointer compression). Every constant below was calibrated against measured
 * heap growth (`node --expose-gc bench/sizeof-calibrate.mjs`, results in docs/memory.md), not
 * taken from the V8 sources alone. The same approach as Java's object-layout estimators
 * (JOL, Caffeine's and Ehcache's sizeof agents), minus the agent.
 *
 * What it counts: strings (header + 1 or 2 bytes per character), heap numbers, bigints,
 * arrays (element storage, unboxed when every element is a number), plain objects (fast
 * in-object layout, or dictionary mode), Maps and Sets (their hash tables), Dates, Buffers,
 * typed arrays, DataViews and ArrayBuffers (view objects plus backing store), nested to
 * `maxDepth`, each object once per call (shared references and cycles are not counted twice).
 *
 * What it cannot see: strings shared with other values (internalized literals, property
 * names), slices and concatenations that V8 represents as views of other strings, spare
 * capacity in arrays that grew by push, hidden classes (shared per shape), functions and what
 * they close over, prototypes, symbol-keyed and non-enumerable properties, getters, private
 * fields, WeakMaps, and native memory outside the V8 heap and ArrayBuffers (malloc headers of
 * backing stores, addon allocations). A value that shares structure with another entry is
 * counted in full for each.
 */
import { REGISTRY } from './policies/index.js';

/** Bytes of an object header: map, properties, elements pointers (JSObject). */
const OBJECT_HEADER = 24;
/** One tagged field or element slot (64-bit pointers, no pointer compression in Node 20). */
const POINTER = 8;
/** A boxed double (HeapNumber: map + float64). */
const HEAP_NUMBER = 16;
/** String header: map, hash, length; characters follow, the total rounded up to 8. */
const STRING_HEADER = 16;
/** BigInt header: map + bitfield (padded); then 8 bytes per 64-bit digit. */
const BIGINT_HEADER = 16;
/** JSArray: object header + length. */
const ARRAY_HEADER = 32;
/** FixedArray / FixedDoubleArray header: map + length. */
const FIXED_ARRAY_HEADER = 16;
/** Above this many own keys, V8 keeps an object's properties in a dictionary (JSON.parse measured: 128 fast, 200 dictionary). */
const FAST_PROPERTIES_LIMIT = 128;
/** NameDictionary header (hash table bookkeeping), measured. */
const DICTIONARY_HEADER = 64;
/** NameDictionary entry: key, value, details; capacity is the power of two >= 1.5 x keys, at least 4. */
const DICTIONARY_ENTRY = 3 * POINTER;
/** JSMap / JSSet object: header + table pointer. */
const COLLECTION_HEADER = 32;
/** OrderedHashMap/Set header: map, length, element count, deleted count, bucket count. */
const ORDERED_TABLE_HEADER = 5 * POINTER;
/** Smallest OrderedHashTable capacity (entries); it doubles as it fills. */
const ORDERED_TABLE_MIN = 4;
/** JSDate: header + time value + nine cached fields (measured 96). */
const DATE_SIZE = 96;
/** A typed array or DataView object: view fields + two embedder slots (measured). */
const VIEW_SIZE = 96;
/** A JSArrayBuffer object: fields + embedder slots (measured; 184 - VIEW_SIZE). */
const ARRAY_BUFFER_SIZE = 88;
/** Typed arrays up to this many bytes keep their data on the V8 heap (V8's typed_array_max_size_in_heap). */
const ON_HEAP_TYPED_ARRAY_MAX = 64;
/** Default nesting depth walked; deeper values count as one pointer each. */
export const SIZEOF_MAX_DEPTH = 32;

const NON_LATIN1 = /[^\u0000-\u00ff]/;

const roundUp8 = (n: number): number => (n + 7) & ~7;

function nextPow2(n: number): number {
  let c = 1;
  while (c < n) c *= 2;
  return c;
}

/** Bytes of a string as V8 stores a flat copy of it. */
function stringSize(s: string): number {
  const n = s.length;
  const oneByte = !NON_LATIN1.test(s);
  // V8 keeps a table of the single one-byte characters (and the empty string): shared.
  if (oneByte && n <= 1) return 0;
  return roundUp8(STRING_HEADER + (oneByte ? n : 2 * n));
}

/** Bytes of a number stored in a generic slot: small integers are immediate (Smi), others boxed. */
function numberSize(x: number): number {
  return (x | 0) === x && !Object.is(x, -0) ? 0 : HEAP_NUMBER;
}

function bigintSize(x: bigint): number {
  let digits = 0;
  let v = x < 0n ? -x : x;
  while (v > 0n) {
    digits++;
    v >>= 64n;
  }
  return BIGINT_HEADER + POINTER * digits;
}

/** An ArrayBuffer view: its object, and the bytes it holds alone or its share of a pool. */
function viewSize(v: ArrayBufferView): number {
  const n = v.byteLength;
  if (n <= ON_HEAP_TYPED_ARRAY_MAX && v.byteOffset === 0) {
    // Own small buffer (reading .buffer here would move the data off the V8 heap, so a
    // pooled Buffer that happens to start at offset 0 is counted as if it owned its bytes).
    return VIEW_SIZE + ARRAY_BUFFER_SIZE + (n === 0 ? 0 : FIXED_ARRAY_HEADER + roundUp8(n));
  }
  if (v.byteOffset !== 0 || v.buffer.byteLength !== n) {
    // A slice of a larger buffer. Of Node's shared Buffer pool: its share of the slab; of
    // anything else (subarray): the view and its own bytes.
    const backing = v.buffer.byteLength;
    if (n > 0 && backing === bufferPoolSize() && n < backing >>> 1) return VIEW_SIZE + poolShare(n, backing);
    return VIEW_SIZE + roundUp8(n);
  }
  return VIEW_SIZE + ARRAY_BUFFER_SIZE + n;
}

/** Node's Buffer pool slab size (`Buffer.poolSize`, 8 KiB unless changed); 0 outside Node. */
function bufferPoolSize(): number {
  const B = (globalThis as { Buffer?: { poolSize?: unknown } }).Buffer;
  return B !== undefined && typeof B.poolSize === 'number' ? B.poolSize : 0;
}

/**
 * The bytes of a pool slab that one n-byte slice keeps, as `Buffer.from(string)` fills slabs
 * (Node 20, lib/buffer.js): before writing a string of L characters it needs room for the
 * longest encoding, 4L bytes (the exact byte length instead when 4L is half the pool or more),
 * and takes a new slab when the current one has less left; each slice then advances the
 * offset by its length rounded up to 8. So a slab holds k slices of n bytes (taking L = n, the
 * case of ASCII text), and each keeps pool / k: a 1,000-byte slice keeps 1,638 (5 to a slab),
 * a 100-byte one 109. Slices made by `Buffer.allocUnsafe` reserve nothing and are overcounted
 * (at most by the 4L reservation: 1,638 where 1,024 is kept at 1,000 bytes).
 */
function poolShare(n: number, pool: number): number {
  const step = roundUp8(n);
  const reserve = 4 * n < pool >>> 1 ? 4 * n : n;
  const perSlab = Math.floor((pool - reserve) / step) + 1;
  return Math.max(step, Math.round(pool / perSlab));
}

function orderedTableSize(size: number, wordsPerEntry: number): number {
  const capacity = Math.max(ORDERED_TABLE_MIN, nextPow2(size));
  return COLLECTION_HEADER + ORDERED_TABLE_HEADER + POINTER * (capacity / 2 + wordsPerEntry * capacity);
}

function propertiesSize(keys: number, dictionary: boolean): number {
  if (dictionary || keys > FAST_PROPERTIES_LIMIT) {
    return OBJECT_HEADER + DICTIONARY_HEADER + DICTIONARY_ENTRY * Math.max(4, nextPow2(keys + (keys >> 1)));
  }
  // Exact for literals and JSON.parse results. An empty `{}` literal really takes 56 (V8
  // reserves four property slots in it); counting 24 keeps sizeOf monotonic as keys are added.
  return OBJECT_HEADER + POINTER * keys;
}

/**
 * Estimate of the bytes `value` retains in the V8 heap (plus ArrayBuffer backing stores),
 * walking nested arrays, plain objects, Maps and Sets up to `maxDepth` levels, each object
 * counted once per call (cycles are safe).
 *
 * Known sizes (64-bit Node 20): `true`, `null`, `undefined`, symbols and small integers
 * (31-bit signed) are 0 (immediates and shared singletons); any other number is 16 (a boxed
 * double); a string of n one-byte (Latin-1) characters is 16 + n rounded up to 8 (two bytes
 * per character when any character is above U+00FF; the empty string and single Latin-1
 * characters are 0, V8 shares them); a bigint is 16 + 8 per 64-bit digit; a Buffer or typed
 * array that owns n > 64 bytes is 184 + n, one that owns n <= 64 bytes is 184 + 16 + n
 * rounded up to 8 (data on the V8 heap; 184 when empty); a slice of Node's shared Buffer pool
 * (a small `Buffer.from`) is 96 plus its share of the 8 KiB slab (see poolShare), and a slice
 * of any other buffer (`subarray`) is 96 + n rounded up to 8.
 *
 * It is an estimate: see docs/memory.md for what it cannot see (shared strings, array
 * spare capacity, closures, native memory) and for how the constants were calibrated.
 */
export function sizeOf(value: unknown, maxDepth: number = SIZEOF_MAX_DEPTH): number {
  if (typeof maxDepth !== 'number' || Number.isNaN(maxDepth) || maxDepth < 0) {
    throw new RangeError(`cortado: sizeOf maxDepth must be a number >= 0, got ${String(maxDepth)}`);
  }
  switch (typeof value) {
    case 'string':
      return stringSize(value);
    case 'number':
      return numberSize(value);
    case 'bigint':
      return bigintSize(value);
    case 'object':
      return value === null ? 0 : objectSize(value, maxDepth, new Set<object>());
    default:
      // boolean, undefined, symbol, function: shared or not seen.
      return 0;
  }
}

/** Bytes of a value held in a tagged slot, beyond the slot itself. */
function slotValue(v: unknown, depth: number, seen: Set<object>): number {
  switch (typeof v) {
    case 'string':
      return stringSize(v);
    case 'number':
      return numberSize(v);
    case 'bigint':
      return bigintSize(v);
    case 'object':
      return v === null || depth <= 0 ? 0 : objectSize(v, depth, seen);
    default:
      return 0;
  }
}

function objectSize(o: object, depth: number, seen: Set<object>): number {
  if (seen.has(o)) return 0;
  seen.add(o);
  const next = depth - 1;
  if (ArrayBuffer.isView(o)) return viewSize(o);
  if (o instanceof ArrayBuffer) return ARRAY_BUFFER_SIZE + o.byteLength;
  if (Array.isArray(o)) return arraySize(o, next, seen);
  if (o instanceof Map) {
    let bytes = orderedTableSize(o.size, 3);
    for (const [k, v] of o) bytes += slotValue(k, next, seen) + slotValue(v, next, seen);
    return bytes;
  }
  if (o instanceof Set) {
    let bytes = orderedTableSize(o.size, 2);
    for (const k of o) bytes += slotValue(k, next, seen);
    return bytes;
  }
  if (o instanceof Date) return DATE_SIZE;
  // Plain objects and class instances: own enumerable string-keyed properties.
  const keys = Object.keys(o);
  const dictionary = Object.getPrototypeOf(o) === null;
  let bytes = propertiesSize(keys.length, dictionary);
  const rec = o as Record<string, unknown>;
  for (let i = 0; i < keys.length; i++) bytes += slotValue(rec[keys[i]!], next, seen);
  return bytes;
}

function arraySize(a: unknown[], depth: number, seen: Set<object>): number {
  const n = a.length;
  if (n === 0) return ARRAY_HEADER;
  let numbers = true;
  for (let i = 0; i < n; i++) {
    if (typeof a[i] !== 'number') {
      numbers = false;
      break;
    }
  }
  const bytes = ARRAY_HEADER + FIXED_ARRAY_HEADER + POINTER * n;
  // Numbers only: small integers are immediate and, when any is a double, V8 switches the
  // whole array to unboxed 8-byte doubles; either way nothing beyond the slots.
  if (numbers) return bytes;
  let total = bytes;
  for (let i = 0; i < n; i++) total += slotValue(a[i], depth, seen);
  return total;
}

/**
 * Bytes cortado itself retains per entry, by policy, beyond the key and value: each policy's
 * `entryOverhead` in the registry (policies/index.ts), where the measurement is described.
 */
export const ENTRY_OVERHEAD: Readonly<Record<string, number>> = Object.fromEntries(REGISTRY.map((d) => [d.name, d.entryOverhead]));
/** Overhead assumed for a name the registry does not know (the largest of the registry's). */
export const DEFAULT_ENTRY_OVERHEAD = Math.max(...REGISTRY.map((d) => d.entryOverhead));

/** The weigher behind `maxBytes`: bytes of key and value (or the user's weigher) plus overhead. */
export function byteWeigher<K, V>(weigher: ((value: V, key: K) => number) | undefined, policy: string): (value: V, key: K) => number {
  const overhead = ENTRY_OVERHEAD[policy] ?? DEFAULT_ENTRY_OVERHEAD;
  if (weigher === undefined) return (value, key) => sizeOf(key) + sizeOf(value) + overhead;
  return (value, key) => {
    const w = weigher(value, key);
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new RangeError(`cortado: weigher result must be a finite number >= 0, got ${String(w)}`);
    }
    return w + overhead;
  };
}
