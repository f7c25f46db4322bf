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
 * arrays (element storage, unboxed when every element is a number; a sparse array by the
 * elements it has), plain objects (fast in-object layout, or dictionary mode), Maps and Sets
 * (their hash tables), Dates, Buffers, typed arrays, DataViews and ArrayBuffers (the view
 * objects plus the *whole* backing store a view keeps alive, except a slice of Node's shared
 * Buffer pool, which counts its share of the slab), nested to `maxDepth`, each object once per
 * call (shared references and cycles are not counted twice).
 *
 * It never runs user code: properties are read through their descriptors (a getter is not
 * called), Proxies are recognised by brand and not entered (no trap runs), Maps and Sets are
 * read through the built-in iteration (an overridden iterator is not called), and views
 * through the built-in accessors. So sizeOf cannot throw on a value and has no side effects,
 * except one: reading a small typed array's `buffer` moves its bytes off the V8 heap, as
 * Node's own code does when it touches that buffer.
 *
 * Work is bounded by what the value holds, not by what it claims: an array is walked by
 * index only while it is mostly elements; once it is mostly holes (V8 then keeps it as a
 * dictionary), the walk switches to its own keys, so `a[4e9] = 1` costs one element.
 *
 * What it cannot see: strings shared with other values (internalized literals, property
 * names), slices and concatenations that V8 represents as views of other strings (a
 * substring of 13 or more characters keeps its whole parent alive, and nothing in
 * JavaScript can tell), spare capacity in arrays that grew by push, hidden classes (shared
 * per shape), functions and what they close over, prototypes, symbol-keyed and
 * non-enumerable properties, what a getter would return, the target of a Proxy, private
 * fields, WeakMaps, and native memory outside the V8 heap and ArrayBuffers (malloc headers of
 * backing stores, addon allocations). A value that shares structure with another entry is
 * counted in full for each.
 */
import { types } from 'node:util';
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
/**
 * An array walk that has met more holes than this, and more than twice as many holes as
 * elements, stops walking by index and counts the array's own keys instead. V8 moves an
 * array to dictionary elements when a store lands 1,024 or more slots past its capacity
 * (JSObject::kMaxGap), so a fast array rarely has longer runs of holes than this.
 */
const SPARSE_HOLES = 1024;
/** JSMap / JSSet object: header + table pointer. */
const COLLECTION_HEADER = 32;
/** OrderedHashMap/Set header: map, length, element count, deleted count, bucket count. */
const ORDERED_TABLE_HEADER = 5 * POINTER;
/** Smallest OrderedHashTable capacity (entries); it doubles as it fills. */
const ORDERED_TABLE_MIN = 4;
/** JSDate: header + time value + nine cached fields (measured 96). */
const DATE_SIZE = 96;
/** JSProxy: map, properties, target, handler (its target and handler are not walked). */
const PROXY_SIZE = 4 * POINTER;
/** A typed array or DataView object: view fields + two embedder slots (measured). */
const VIEW_SIZE = 96;
/** A JSArrayBuffer object: fields + embedder slots (measured; 184 - VIEW_SIZE). */
const ARRAY_BUFFER_SIZE = 88;
/** Typed arrays up to this many bytes keep their data on the V8 heap (V8's typed_array_max_size_in_heap). */
const ON_HEAP_TYPED_ARRAY_MAX = 64;
/** Default nesting depth walked; deeper values count as one pointer each. */
export const SIZEOF_MAX_DEPTH = 32;

const NON_LATIN1 = /[^\u0000-\u00ff]/;

// The built-in operations sizeOf reads values through, taken once so that a subclass or a
// patched prototype cannot put user code (or a throw) in the walk.
const getOwn = Object.getOwnPropertyDescriptor;
const ownKeys = Object.keys;
const protoOf = Object.getPrototypeOf;
const hasOwn = Object.hasOwn;
// eslint-disable-next-line @typescript-eslint/unbound-method
const lookupGetter = (Object.prototype as unknown as { __lookupGetter__(key: PropertyKey): unknown }).__lookupGetter__;
/** Marks a missing element during the array walk. */
const HOLE: unique symbol = Symbol('hole');
function builtinGetter(proto: object, name: string): (this: unknown) => unknown {
  const d = getOwn(proto, name);
  if (d === undefined || d.get === undefined) throw new Error(`cortado: no built-in ${name} getter`);
  return d.get;
}
const TypedArrayPrototype = protoOf(Uint8Array.prototype) as object;
const typedArrayBuffer = builtinGetter(TypedArrayPrototype, 'buffer');
const typedArrayByteLength = builtinGetter(TypedArrayPrototype, 'byteLength');
const dataViewBuffer = builtinGetter(DataView.prototype, 'buffer');
const dataViewByteLength = builtinGetter(DataView.prototype, 'byteLength');
const arrayBufferByteLength = builtinGetter(ArrayBuffer.prototype, 'byteLength');
const sharedArrayBufferByteLength = typeof SharedArrayBuffer === 'function' ? builtinGetter(SharedArrayBuffer.prototype, 'byteLength') : null;
const mapSize = builtinGetter(Map.prototype, 'size');
const setSize = builtinGetter(Set.prototype, 'size');
const mapForEach = Map.prototype.forEach;
const setForEach = Set.prototype.forEach;

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

/** Byte length of an ArrayBuffer or SharedArrayBuffer, through the built-in getters. */
function backingLength(b: object): number {
  return (types.isSharedArrayBuffer(b) && sharedArrayBufferByteLength !== null ? sharedArrayBufferByteLength : arrayBufferByteLength).call(b) as number;
}

/**
 * An ArrayBuffer view: its object, plus the backing store it keeps alive. A view keeps its
 * whole buffer, whatever part of it the view spans, so a 16-byte window of a 1 MiB buffer is
 * charged the MiB: that is what holding it costs. Two exceptions: the buffer is charged once
 * per call (`seen`), and a slice of Node's shared Buffer pool is charged its share of the slab
 * (the slab is shared by many small Buffers; charging each the whole 8 KiB would overcount
 * them twentyfold).
 */
function viewSize(v: ArrayBufferView, seen: Set<object>): number {
  const dv = types.isDataView(v);
  const n = (dv ? dataViewByteLength : typedArrayByteLength).call(v) as number;
  // Reading the buffer of a small on-heap typed array moves its bytes into a backing store of
  // their own: the size below (data + 16, rounded) covers either representation.
  const buffer = (dv ? dataViewBuffer : typedArrayBuffer).call(v) as object;
  const backing = backingLength(buffer);
  if (n > 0 && n < backing >>> 1 && backing === bufferPoolSize()) return VIEW_SIZE + poolShare(n, backing);
  if (seen.has(buffer)) return VIEW_SIZE;
  seen.add(buffer);
  if (backing <= ON_HEAP_TYPED_ARRAY_MAX) return VIEW_SIZE + ARRAY_BUFFER_SIZE + (backing === 0 ? 0 : FIXED_ARRAY_HEADER + roundUp8(backing));
  return VIEW_SIZE + ARRAY_BUFFER_SIZE + backing;
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

/** A NameDictionary or NumberDictionary holding `keys` entries. */
function dictionarySize(keys: number): number {
  return DICTIONARY_HEADER + DICTIONARY_ENTRY * Math.max(4, nextPow2(keys + (keys >> 1)));
}

function propertiesSize(keys: number, dictionary: boolean): number {
  if (dictionary || keys > FAST_PROPERTIES_LIMIT) return OBJECT_HEADER + dictionarySize(keys);
  // Exact for literals and JSON.parse results. An empty `{}` literal really takes 56 (V8
  // reserves four property slots in it); counting 24 keeps sizeOf monotonic as keys are added.
  return OBJECT_HEADER + POINTER * keys;
}

/**
 * Estimate of the bytes `value` retains in the V8 heap (plus ArrayBuffer backing stores),
 * walking nested arrays, plain objects, Maps and Sets up to `maxDepth` levels, each object
 * counted once per call (cycles are safe). It calls no getter, Proxy trap or user method.
 *
 * Known sizes (64-bit Node 20): `true`, `null`, `undefined`, symbols and small integers
 * (31-bit signed) are 0 (immediates and shared singletons); any other number is 16 (a boxed
 * double); a string of n one-byte (Latin-1) characters is 16 + n rounded up to 8 (two bytes
 * per character when any character is above U+00FF; the empty string and single Latin-1
 * characters are 0, V8 shares them); a bigint is 16 + 8 per 64-bit digit; a Buffer, typed
 * array or DataView is 96 for the view plus the buffer it keeps alive: 88 + the buffer's
 * whole byte length B when B > 64, 88 + 16 + B rounded up to 8 when B <= 64 (88 when empty),
 * so a small window of a large buffer is charged the large buffer; a slice of Node's shared
 * Buffer pool (a small `Buffer.from`) is 96 plus its share of the 8 KiB slab (see poolShare);
 * a Proxy is 32 (what it wraps is not seen).
 *
 * It is an estimate: see docs/memory.md for what it cannot see (shared strings, substrings
 * that keep their parent alive, array spare capacity, closures, native memory) and for how
 * the constants were calibrated.
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

/** An own data property's value, or undefined for an accessor (whose getter is not called) or a missing key. */
function ownValue(o: object, key: string | number): unknown {
  const d = getOwn(o, key);
  return d === undefined ? undefined : d.value;
}

function objectSize(o: object, depth: number, seen: Set<object>): number {
  if (seen.has(o)) return 0;
  seen.add(o);
  // First: a Proxy answers every other question below through its handler's traps.
  if (types.isProxy(o)) return PROXY_SIZE;
  const next = depth - 1;
  if (types.isArrayBufferView(o)) return viewSize(o as ArrayBufferView, seen);
  if (types.isAnyArrayBuffer(o)) return ARRAY_BUFFER_SIZE + backingLength(o);
  if (Array.isArray(o)) return arraySize(o, next, seen);
  if (types.isMap(o)) {
    let bytes = orderedTableSize(mapSize.call(o) as number, 3);
    mapForEach.call(o, (v: unknown, k: unknown) => {
      bytes += slotValue(k, next, seen) + slotValue(v, next, seen);
    });
    return bytes;
  }
  if (types.isSet(o)) {
    let bytes = orderedTableSize(setSize.call(o) as number, 2);
    setForEach.call(o, (k: unknown) => {
      bytes += slotValue(k, next, seen);
    });
    return bytes;
  }
  if (types.isDate(o)) return DATE_SIZE;
  // Plain objects and class instances: own enumerable string-keyed properties, read through
  // their descriptors (an accessor counts its slot; its getter is not called).
  const keys = ownKeys(o);
  const dictionary = protoOf(o) === null;
  let bytes = propertiesSize(keys.length, dictionary);
  for (let i = 0; i < keys.length; i++) bytes += slotValue(ownValue(o, keys[i]!), next, seen);
  return bytes;
}

/**
 * An array: by index while it is mostly elements (V8's fast elements: one slot per index up
 * to the length), by its own keys once it turns out mostly holes (V8's dictionary elements:
 * a hash table of the elements present). An accessor element's getter is not called.
 */
function arraySize(a: unknown[], depth: number, seen: Set<object>): number {
  const n = a.length;
  if (n === 0) return ARRAY_HEADER;
  // With the standard prototypes (no index accessors, no Proxy on the chain), an element is
  // checked with __lookupGetter__ and then read: three times cheaper than a descriptor.
  const plain = protoOf(a) === Array.prototype && protoOf(Array.prototype) === Object.prototype;
  let numbers = true;
  let values = 0;
  let holes = 0;
  for (let i = 0; i < n; i++) {
    let v: unknown;
    if (plain) {
      if (lookupGetter.call(a, i) !== undefined) {
        numbers = false; // an accessor: its slot counts, the getter is not called
        continue;
      }
      v = a[i];
      if (v === undefined && !hasOwn(a, i)) v = HOLE;
    } else {
      const d = getOwn(a, i);
      v = d === undefined ? HOLE : d.value;
    }
    if (v === HOLE) {
      if (++holes > SPARSE_HOLES && holes > 2 * (i + 1 - holes)) return sparseArraySize(a, i, i + 1 - holes, values, depth, seen);
      continue;
    }
    if (typeof v !== 'number') numbers = false;
    values += slotValue(v, depth, seen);
  }
  const bytes = ARRAY_HEADER + FIXED_ARRAY_HEADER + POINTER * n;
  // Numbers only: small integers are immediate and, when any is a double, V8 switches the
  // whole array to unboxed 8-byte doubles; either way nothing beyond the slots.
  return numbers ? bytes : bytes + values;
}

/**
 * The rest of an array found sparse at index `at` (with `present` elements and their `values`
 * bytes counted below it): its remaining own index keys, as a dictionary of all its elements.
 */
function sparseArraySize(a: unknown[], at: number, present: number, values: number, depth: number, seen: Set<object>): number {
  const keys = ownKeys(a);
  let count = present;
  let bytes = values;
  for (let j = 0; j < keys.length; j++) {
    const key = keys[j]!;
    const index = Number(key);
    // Own keys list the indices in ascending order, then any named properties.
    if (!(index >= 0 && index < 4294967295 && String(index) === key)) break;
    if (index <= at) continue;
    count++;
    bytes += slotValue(ownValue(a, key), depth, seen);
  }
  return ARRAY_HEADER + dictionarySize(count) + bytes;
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
