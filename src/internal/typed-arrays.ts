/**
 * Typed-array helpers, and the allocator through which a policy gets its per-slot arrays.
 *
 * Why an allocator. A policy's metadata is a few arrays indexed by slot (queue links, a
 * visited byte, hit counts). If the policy created and regrew them itself, it would be tied
 * to the heap: a store in a SharedArrayBuffer, shared by worker threads, must lay every
 * array out in its own memory and cannot grow at all. So the store owns the memory and the
 * policy asks it for arrays by name (`alloc.u8('sieve.visited', slots)`): the store decides
 * where they live (heap, a SharedArrayBuffer, a fixed region) and whether they can grow. A
 * policy keeps what it gets in its own fields and asks again only on `grow()`, so the hot
 * path reads a field exactly as before: no lookup by name per access, one array shape.
 *
 * Protocol for a name: the first request allocates (zeroed, or filled with `fill`); a request
 * for the same length returns the same array; a longer one returns a new array with the old
 * contents at the front and `fill` after them (the old array must no longer be used); a
 * shorter one is an error (slot arrays never shrink). Names are unique per store, so a
 * policy prefixes them with its own name.
 *
 * Two allocators here: {@link GrowableArrays}, over the heap, for the in-process cache, which
 * grows its slots by doubling; and {@link FixedArrays}, for stores that cannot grow: every
 * array is carved once from one buffer (an ArrayBuffer or a SharedArrayBuffer) and a request
 * to regrow throws. The `grow*` functions are the plain heap helpers the store itself uses.
 */

/** Grow a typed array to `n` elements, keeping its contents; new elements are `fill`. */
export function growInt32(a: Int32Array, n: number, fill = 0): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}

export function growUint8(a: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}

export function growFloat64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

/**
 * Where a policy (or a structure it is built of) gets its arrays: one method per element
 * type. `name` identifies the array in the store; `length` is in elements (per-slot arrays
 * pass a multiple of the slot count); `fill` is the value of elements never written.
 */
export interface SlotAllocator {
  u8(name: string, length: number, fill?: number): Uint8Array;
  i8(name: string, length: number, fill?: number): Int8Array;
  u16(name: string, length: number, fill?: number): Uint16Array;
  i32(name: string, length: number, fill?: number): Int32Array;
  f64(name: string, length: number, fill?: number): Float64Array;
}

type Typed = Uint8Array | Int8Array | Uint16Array | Int32Array | Float64Array;
interface TypedCtor<T extends Typed> {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/**
 * The typed methods of an allocator, over one `get` that each kind of allocator defines (where
 * the memory comes from, whether it can grow).
 */
abstract class Allocator implements SlotAllocator {
  protected readonly arrays = new Map<string, Typed>();
  protected abstract get<T extends Typed>(ctor: TypedCtor<T>, name: string, length: number, fill: number): T;

  u8(name: string, length: number, fill = 0): Uint8Array {
    return this.get(Uint8Array, name, length, fill);
  }
  i8(name: string, length: number, fill = 0): Int8Array {
    return this.get(Int8Array, name, length, fill);
  }
  u16(name: string, length: number, fill = 0): Uint16Array {
    return this.get(Uint16Array, name, length, fill);
  }
  i32(name: string, length: number, fill = 0): Int32Array {
    return this.get(Int32Array, name, length, fill);
  }
  f64(name: string, length: number, fill = 0): Float64Array {
    return this.get(Float64Array, name, length, fill);
  }

  /** The names allocated so far, in allocation order. */
  names(): string[] {
    return [...this.arrays.keys()];
  }

  /** The current array of `name`, or undefined (for validators, memory accounting, tests). */
  array(name: string): Typed | undefined {
    return this.arrays.get(name);
  }
}

/** Heap arrays that regrow on request (the in-process cache's store). */
export class GrowableArrays extends Allocator {
  protected get<T extends Typed>(ctor: TypedCtor<T>, name: string, length: number, fill: number): T {
    const old = this.arrays.get(name) as T | undefined;
    if (old !== undefined) {
      if (!(old instanceof ctor)) throw new TypeError(`cortado: slot array '${name}' was allocated with another element type`);
      if (length === old.length) return old;
      if (length < old.length) throw new RangeError(`cortado: slot array '${name}' cannot shrink from ${old.length} to ${length}`);
    }
    const a = new ctor(length);
    if (old !== undefined) a.set(old as never);
    const from = old === undefined ? 0 : old.length;
    if (fill !== 0 && from < length) a.fill(fill, from);
    this.arrays.set(name, a);
    return a;
  }


  /** Bytes held by the arrays allocated so far (for memory accounting and tests). */
  get byteLength(): number {
    let n = 0;
    for (const a of this.arrays.values()) n += a.byteLength;
    return n;
  }
}

/**
 * Arrays carved once from one buffer, for a store that cannot grow (a SharedArrayBuffer
 * region, say). Each name is allocated once, 8-byte aligned, in request order; asking for a
 * name again with the same length returns the same view, with another length throws a
 * RangeError (the store promised its policy a fixed slot count: a `grow()` is a bug).
 */
export class FixedArrays extends Allocator {
  private used = 0;

  /** @param buffer the memory to carve (an ArrayBuffer or a SharedArrayBuffer) */
  constructor(readonly buffer: ArrayBufferLike) {
    super();
  }

  protected get<T extends Typed>(ctor: TypedCtor<T>, name: string, length: number, fill: number): T {
    const old = this.arrays.get(name) as T | undefined;
    if (old !== undefined) {
      if (!(old instanceof ctor)) throw new TypeError(`cortado: slot array '${name}' was allocated with another element type`);
      if (length === old.length) return old;
      throw new RangeError(`cortado: slot array '${name}' has fixed length ${old.length}; a fixed-capacity store cannot give it ${length}`);
    }
    const at = (this.used + 7) & ~7;
    const bytes = length * ctor.BYTES_PER_ELEMENT;
    if (at + bytes > this.buffer.byteLength) {
      throw new RangeError(`cortado: slot array '${name}' needs ${bytes} bytes at ${at}; the fixed buffer holds ${this.buffer.byteLength}`);
    }
    const a = new ctor(this.buffer, at, length);
    if (fill !== 0) a.fill(fill);
    this.used = at + bytes;
    this.arrays.set(name, a);
    return a;
  }


  /** Bytes of the buffer carved so far. */
  get byteLength(): number {
    return this.used;
  }
}
