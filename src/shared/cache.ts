/**
 * SharedCache: one cache for every worker_thread of a process, its entries (keys and values
 * as bytes) in one SharedArrayBuffer; see store.ts for the concurrency design and layout.ts
 * for the memory map.
 *
 * This module owns the public surface: options and their validation, key encoding (strings
 * as UTF-8, Uint8Arrays as they are: one key space, compared by bytes), the codec, time (a
 * per-thread clock; the creator's clock at creation is the epoch every expiry is measured
 * from), stats, the share()/attach() descriptor, watch(), and the CacheLib-style handles:
 * a ReadHandle (CacheLib's find()) and a WriteHandle (allocate()/insert(), and
 * findToWrite's acquireForWrite()) pin their item until released: it is not evicted and its
 * memory is not reused meanwhile.
 *
 * A handle's `bytes` is a Uint8Array over shared memory, which JavaScript cannot make
 * read-only; after release() the getter throws, so code that goes through the handle can
 * never read memory that was given back (a Uint8Array kept from before is the caller's
 * responsibility, as with any buffer view).
 */
import { threadId, type Worker } from 'node:worker_threads';
import { CODECS, resolveCodec, type Codec, type CodecName } from '../codec.js';
import { describe } from '../options.js';
import { mix32 } from '../internal/hash.js';
import {
  BLOCK_HEADER, D_DATA, D_EXPLO, D_KEYW, D_VER, F_ALLOC, F_LINKED, H_CODEC, H_COUNT, H_FORMAT, H_LIVE_BYTES,
  H_MAGIC, H_RECOVERED, H_ROLLED_BACK, H_TTL, H_USED_BYTES, FORMAT, MAGIC, M_WRITING, NIL, blockSize, computeSizes,
} from './layout.js';
import {
  COPY_BYTES, COPY_NONE, COPY_STRING, POLICY_S3FIFO, POLICY_SIEVE, R_ALLOC, R_INTENT, R_READ, R_RELEASING, R_WRITE, S_DELETES, S_EVICTIONS,
  S_EXPIRATIONS, S_HITS, S_INSERTS, S_MISSES, S_REJECTIONS, S_UPDATES, SharedStore,
} from './store.js';

export type SharedPolicyName = 'sieve' | 's3fifo';

/**
 * The default policy, chosen by measurement (bench/shared.mjs, docs/shared.md): through
 * SharedCache on the shared traces S3-FIFO had the higher hit ratio in 11 of 15 cases, by up
 * to 15 points, and was behind by at most 0.9; SIEVE keeps no ghost (about 10 bytes less per
 * entry).
 */
export const DEFAULT_SHARED_POLICY: SharedPolicyName = 's3fifo';

export interface SharedCacheOptions<V> {
  /** Everything (index, metadata, keys and values) lives in this many bytes of shared memory. Required. */
  maxBytes: number;
  /** Most entries; default maxBytes / 256 (the index and descriptors are sized for it). */
  maxEntries?: number;
  /** 'sieve' or 's3fifo' (default DEFAULT_SHARED_POLICY). */
  policy?: SharedPolicyName;
  /** Default time-to-live in ms (0 or Infinity: none). */
  ttl?: number;
  /** How values become bytes: 'bytes' (default), 'utf8', 'json', 'v8' or a { encode, decode } codec. */
  codec?: Codec<V> | CodecName;
  /** This thread's clock in ms (default Date.now); every thread's clock must share one timeline. */
  clock?: () => number;
  /** Threads (attach() calls) that may use the cache at once, creator included (default 64). */
  maxThreads?: number;
  /** Handles one thread may hold at once (default 64). */
  maxHandles?: number;
  /** How long a write waits for the writer lock before throwing SharedCacheLockTimeoutError (ms, default 5000). */
  lockTimeout?: number;
}

export interface SharedAttachOptions<V> {
  codec?: Codec<V> | CodecName;
  clock?: () => number;
  lockTimeout?: number;
}

export interface SharedSetOptions {
  /** Time-to-live in ms for this entry (0 or Infinity: none); default the cache's ttl. */
  ttl?: number;
}

/** What share() returns: structured-clonable, for workerData or postMessage. */
export interface SharedCacheDescriptor {
  readonly kind: 'cortado.SharedCache';
  readonly format: number;
  readonly buffer: SharedArrayBuffer;
}

export interface SharedCacheStats {
  hits: number;
  misses: number;
  hitRatio: number;
  inserts: number;
  updates: number;
  evictions: number;
  rejections: number;
  expirations: number;
  deletions: number;
  /** Entries stored now (expired ones not yet removed included). */
  size: number;
  /** Key + value bytes of the stored entries. */
  liveBytes: number;
  /** Heap bytes in use (block headers and padding included; items awaiting their last release included). */
  usedBytes: number;
  maxBytes: number;
  /** Threads whose exit watch() handled (their pins, lock and slot released). */
  recoveredThreads: number;
  /** Of those, how many died holding the writer lock mid-step (the step was rolled back). */
  rolledBackSteps: number;
}

/** A handle was used after release() (or a WriteHandle after insert()). */
export class ReleasedHandleError extends Error {
  override readonly name = 'ReleasedHandleError';
  readonly code = 'ERR_CORTADO_HANDLE_RELEASED';
  constructor(message: string) {
    super(message);
  }
}

const CODEC_IDS: Record<string, number> = { bytes: 0, utf8: 1, json: 2, v8: 3 };
const CODEC_NAMES: CodecName[] = ['bytes', 'utf8', 'json', 'v8'];
const MAX_KEY = 0xffff;
/** Expiries are 40-bit ms since the epoch (about 35 years). */
const MAX_EXP = 2 ** 40 - 1;
const MAX_TTL_OPTION = 2 ** 31 - 1;
/** While a live thread holds the writer lock, a dead worker's recovery is tried again this often (ms). */
const RECOVER_RETRY_MS = 1;

function checkTtl(name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
    throw new RangeError(`cortado: ${name} must be a number of milliseconds >= 0, got ${describe(v)}`);
  }
  return v === Infinity ? 0 : v;
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`cortado: ${name} must be an integer from ${min} to ${max}, got ${describe(v)}`);
  }
  return v;
}

class AttachArgs {
  constructor(readonly sab: SharedArrayBuffer, readonly opts: SharedAttachOptions<unknown>) {}
}

export class SharedCache<V = Uint8Array> {
  /** @internal */
  readonly _store: SharedStore;
  private readonly codec: Codec<V>;
  /** How find() hands over a value: the built-in text codecs decode straight from shared memory. */
  private readonly copyMode: number;
  private readonly codecKind: number;
  private readonly clock: () => number;
  private readonly defaultTtl: number;
  /** Scratch for string keys, and what the last key() call encoded into. */
  private scratch = new Uint8Array(256);
  private kb: Uint8Array = this.scratch;
  private kh = 0;
  /** Free registry slots of this thread (a stack). */
  private readonly freeSlots: Int32Array;
  private nFree: number;

  constructor(options: SharedCacheOptions<V>) {
    let sab: SharedArrayBuffer;
    let o: SharedAttachOptions<V>;
    if (options instanceof AttachArgs) {
      sab = options.sab;
      o = options.opts as SharedAttachOptions<V>;
      const I = new Int32Array(sab);
      const id = I[H_CODEC]!;
      if (o.codec === undefined && id === 4) {
        throw new TypeError('cortado: this SharedCache was created with a codec of the user\'s own: pass it to attach() as the codec option');
      }
      this.codec = resolveCodec<V>('codec', o.codec, CODEC_NAMES[id] ?? 'bytes');
    } else {
      if (options === null || typeof options !== 'object') throw new TypeError(`cortado: SharedCache options must be an object, got ${describe(options)}`);
      const maxBytes = checkInt('maxBytes', options.maxBytes, 65536, 2 ** 31);
      const maxEntries = options.maxEntries === undefined ? Math.max(16, Math.floor(maxBytes / 256)) : checkInt('maxEntries', options.maxEntries, 1, (1 << 26));
      const policyName = options.policy ?? DEFAULT_SHARED_POLICY;
      if (policyName !== 'sieve' && policyName !== 's3fifo') throw new TypeError(`cortado: policy must be 'sieve' or 's3fifo', got ${describe(policyName)}`);
      const ttl = options.ttl === undefined ? 0 : checkTtl('ttl', options.ttl);
      if (ttl > MAX_TTL_OPTION) throw new RangeError(`cortado: ttl must be at most ${MAX_TTL_OPTION} ms, got ${ttl}`);
      const parts = options.maxThreads === undefined ? 64 : checkInt('maxThreads', options.maxThreads, 1, 1024);
      const handles = options.maxHandles === undefined ? 64 : checkInt('maxHandles', options.maxHandles, 1, 4096);
      if (parts * handles > 60000) throw new RangeError(`cortado: maxThreads x maxHandles must be at most 60000 (pin counts are 16-bit), got ${parts * handles}`);
      if (options.clock !== undefined && typeof options.clock !== 'function') throw new TypeError(`cortado: clock must be a function, got ${describe(options.clock)}`);
      this.codec = resolveCodec<V>('codec', options.codec, 'bytes');
      const codecId = typeof options.codec === 'string' ? CODEC_IDS[options.codec]! : options.codec === undefined ? 0 : 4;
      const sizes = computeSizes(maxBytes, maxEntries, policyName === 's3fifo', parts, handles);
      const clock = options.clock ?? Date.now;
      sab = new SharedArrayBuffer(maxBytes - (maxBytes % 8));
      const seed = (Math.random() * 0x100000000) | 0;
      SharedStore.format(sab, sizes, policyName === 's3fifo' ? POLICY_S3FIFO : POLICY_SIEVE, seed, clock(), codecId, Math.ceil(ttl));
      o = options;
    }
    if (o.clock !== undefined && typeof o.clock !== 'function') throw new TypeError(`cortado: clock must be a function, got ${describe(o.clock)}`);
    this.codecKind = this.codec === (CODECS.utf8 as unknown) ? 1 : this.codec === (CODECS.json as unknown) ? 2 : this.codec === (CODECS.bytes as unknown) ? 0 : 3;
    this.copyMode = this.codecKind === 1 || this.codecKind === 2 ? COPY_STRING : COPY_BYTES;
    this.clock = o.clock ?? Date.now;
    const store = new SharedStore(sab);
    if (o.lockTimeout !== undefined) store.lockTimeout = checkTtl('lockTimeout', o.lockTimeout) || Infinity;
    if (store.join(threadId) < 0) throw new RangeError(`cortado: all ${store.parts} thread slots of this SharedCache are taken (maxThreads); watch() workers so that exited ones give theirs back`);
    this._store = store;
    this.defaultTtl = store.I[H_TTL]!;
    this.freeSlots = new Int32Array(store.handles);
    for (let i = 0; i < store.handles; i++) this.freeSlots[i] = store.handles - 1 - i;
    this.nFree = store.handles;
  }

  /** Use a cache that another thread created (share()'s descriptor, e.g. from workerData). */
  static attach<V = Uint8Array>(descriptor: SharedCacheDescriptor, options: SharedAttachOptions<V> = {}): SharedCache<V> {
    const d = descriptor as unknown as Record<string, unknown> | null;
    if (d === null || typeof d !== 'object' || d.kind !== 'cortado.SharedCache' || !(d.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError(`cortado: SharedCache.attach() takes the descriptor that share() returns, got ${describe(descriptor)}`);
    }
    const sab = d.buffer;
    if (sab.byteLength < 4096) throw new TypeError('cortado: SharedCache.attach(): the descriptor\'s buffer is not a SharedCache');
    const I = new Int32Array(sab, 0, 2);
    if (I[H_MAGIC] !== MAGIC || I[H_FORMAT] !== FORMAT || d.format !== FORMAT) {
      throw new TypeError('cortado: SharedCache.attach(): the descriptor\'s buffer is not a SharedCache of this version');
    }
    if (options === null || typeof options !== 'object') throw new TypeError(`cortado: attach() options must be an object, got ${describe(options)}`);
    return new SharedCache<V>(new AttachArgs(sab, options as SharedAttachOptions<unknown>) as unknown as SharedCacheOptions<V>);
  }

  /** A structured-clonable descriptor for attach() in another thread. */
  share(): SharedCacheDescriptor {
    return { kind: 'cortado.SharedCache', format: FORMAT, buffer: this._store.sab };
  }

  /**
   * Release what `worker` holds (its unfinished write, its lock, its handles' pins, its
   * thread slot) when it exits, however it exits. Call in the thread that started it.
   */
  watch(worker: Worker): void {
    const tid = worker.threadId;
    if (typeof tid !== 'number' || tid < 0) throw new TypeError('cortado: watch() takes a running Worker');
    worker.once('exit', () => {
      const st = this._store;
      for (let p = 0; p < st.parts; p++) if (st.partThread(p) === tid) this.dead.add(p);
      this.recoverDead();
    });
  }

  /** Participants whose thread exited and whose recovery is not done yet. */
  private readonly dead = new Set<number>();
  private retry: ReturnType<typeof setTimeout> | undefined;

  /** Recover every dead participant; retry in RECOVER_RETRY_MS while a live thread holds the lock. */
  private recoverDead(): void {
    this.retry = undefined;
    for (const p of this.dead) if (this._store.tryRecover(p, this.dead)) this.dead.delete(p);
    if (this.dead.size > 0 && this.retry === undefined) this.retry = setTimeout(() => this.recoverDead(), RECOVER_RETRY_MS);
  }

  get size(): number {
    return this._store.I[H_COUNT]!;
  }

  get maxBytes(): number {
    return this._store.sab.byteLength;
  }

  get maxEntries(): number {
    return this._store.maxEntries;
  }

  get policy(): SharedPolicyName {
    return this._store.policy === POLICY_S3FIFO ? 's3fifo' : 'sieve';
  }

  // ---- keys ------------------------------------------------------------------------

  /** Encode key into this.kb / this.kh; returns its byte length. */
  private key(key: unknown): number {
    let b: Uint8Array;
    let n: number;
    if (typeof key === 'string') {
      const len = key.length;
      if (len * 3 > this.scratch.length) this.scratch = new Uint8Array(Math.min(Math.max(len * 3, 2 * this.scratch.length), 3 * MAX_KEY + 3));
      b = this.scratch;
      if (len > MAX_KEY) throw new RangeError(`cortado: key must be at most ${MAX_KEY} bytes, got a string of ${len} characters`);
      n = 0;
      // ASCII: encode and hash in one pass (the hash is the store's hashBytes()).
      let h = this._store.seed;
      let i = 0;
      for (; i < len; i++) {
        const c = key.charCodeAt(i);
        if (c >= 0x80) break;
        b[n++] = c;
        h = Math.imul(h ^ c, 0x5bd1e995);
        h ^= h >>> 15;
      }
      if (i === len) {
        this.kb = b;
        this.kh = mix32(h ^ n);
        return n;
      }
      for (; i < len; i++) {
        let c = key.charCodeAt(i);
        if (c < 0x80) b[n++] = c;
        else if (c < 0x800) {
          b[n++] = 0xc0 | (c >> 6);
          b[n++] = 0x80 | (c & 63);
        } else {
          if (c >= 0xd800 && c <= 0xdfff) {
            const c2 = i + 1 < len ? key.charCodeAt(i + 1) : 0;
            if (c <= 0xdbff && c2 >= 0xdc00 && c2 <= 0xdfff) {
              const cp = 0x10000 + ((c - 0xd800) << 10) + (c2 - 0xdc00);
              b[n++] = 0xf0 | (cp >> 18);
              b[n++] = 0x80 | ((cp >> 12) & 63);
              b[n++] = 0x80 | ((cp >> 6) & 63);
              b[n++] = 0x80 | (cp & 63);
              i++;
              continue;
            }
            c = 0xfffd; // a lone surrogate, as TextEncoder writes it
          }
          b[n++] = 0xe0 | (c >> 12);
          b[n++] = 0x80 | ((c >> 6) & 63);
          b[n++] = 0x80 | (c & 63);
        }
      }
      if (n > MAX_KEY) throw new RangeError(`cortado: key must be at most ${MAX_KEY} bytes, got ${n} bytes of UTF-8`);
    } else if (key instanceof Uint8Array) {
      b = key;
      n = key.length;
      if (n > MAX_KEY) throw new RangeError(`cortado: key must be at most ${MAX_KEY} bytes, got ${n}`);
    } else {
      throw new TypeError(`cortado: a SharedCache key must be a string or a Uint8Array, got ${describe(key)}`);
    }
    this.kb = b;
    this.kh = this._store.hashBytes(b, n);
    return n;
  }

  private nowRel(): number {
    return this.clock() - this._store.epoch;
  }

  /** Expiry (ms since the epoch, 0 = none) for a ttl. */
  private expiry(ttl: number, nowRel: number): number {
    if (ttl <= 0) return 0;
    const e = Math.ceil(nowRel + ttl);
    return e < 1 ? 1 : e > MAX_EXP ? MAX_EXP : e;
  }

  private ttlOf(options: SharedSetOptions | undefined): number {
    if (options === undefined) return this.defaultTtl;
    if (options === null || typeof options !== 'object') throw new TypeError(`cortado: set() options must be an object, got ${describe(options)}`);
    if (options.ttl === undefined) return this.defaultTtl;
    return checkTtl('ttl', options.ttl);
  }

  private checkFits(klen: number, vlen: number, what: string): void {
    const st = this._store;
    if (blockSize(klen, vlen) > st.heapEnd - 8 - st.heapStart) {
      throw new RangeError(`cortado: ${what} of ${vlen} bytes (key ${klen} bytes) is larger than this SharedCache can ever hold (heap ${st.heapEnd - 8 - st.heapStart} bytes of maxBytes ${st.sab.byteLength})`);
    }
  }

  // ---- reads -----------------------------------------------------------------------

  /** The value for key, or undefined; a hit marks the entry for the policy (one atomic store). */
  get(key: string | Uint8Array): V | undefined {
    const klen = this.key(key);
    const st = this._store;
    const d = st.find(this.kb, klen, this.kh, this.copyMode);
    if (d >= 0 && !this.expired(d)) {
      st.markHit(d);
      st.count(S_HITS);
      return this.decoded();
    }
    st.count(S_MISSES);
    return undefined;
  }

  /** The value for key without marking it or counting stats. */
  peek(key: string | Uint8Array): V | undefined {
    const klen = this.key(key);
    const st = this._store;
    const d = st.find(this.kb, klen, this.kh, this.copyMode);
    return d >= 0 && !this.expired(d) ? this.decoded() : undefined;
  }

  has(key: string | Uint8Array): boolean {
    const klen = this.key(key);
    const st = this._store;
    const d = st.find(this.kb, klen, this.kh, COPY_NONE);
    return d >= 0 && !this.expired(d);
  }

  /** The value find() copied out, decoded. */
  private decoded(): V {
    const st = this._store;
    switch (this.codecKind) {
      case 0:
        return st.out as V;
      case 1:
        return st.outString as V;
      case 2:
        return JSON.parse(st.outString) as V;
      default:
        return this.codec.decode(st.out);
    }
  }

  private expired(d: number): boolean {
    const exp = this._store.foundExp;
    return exp !== 0 && this.nowRel() >= exp;
  }

  // ---- writes ----------------------------------------------------------------------

  /** Store value under key; false when it could not be stored (everything evictable is pinned). */
  set(key: string | Uint8Array, value: V, options?: SharedSetOptions): boolean {
    const klen = this.key(key);
    const ttl = this.ttlOf(options);
    const vb = this.codec.encode(value);
    if (!(vb instanceof Uint8Array)) throw new TypeError(`cortado: codec '${this.codec.name}' returned ${describe(vb)}, not a Uint8Array`);
    this.checkFits(klen, vb.length, 'value');
    const st = this._store;
    const kb = this.kb;
    const h = this.kh;
    const nowRel = this.nowRel();
    const exp = this.expiry(ttl, nowRel);
    st.lock();
    try {
      const d = st.build(kb, klen, h, vb, vb.length, 0, exp, nowRel);
      return d === NIL ? this.reject() : this.publish(d, kb, klen, h, klen + vb.length, nowRel);
    } catch (e) {
      st.rollback();
      throw e;
    } finally {
      st.unlock();
    }
  }

  private reject(): false {
    const st = this._store;
    st.commit();
    st.count(S_REJECTIONS);
    return false;
  }

  /**
   * Link built item d under its key (lock held): it replaces a live entry in place (an
   * update), or enters as a new entry after the entry bound made room. Mirrors Cache's
   * insert/update decisions (recordMiss before the evictions, onInsert / onUpdate).
   */
  private publish(d: number, kb: Uint8Array, klen: number, h: number, live: number, nowRel: number): boolean {
    const st = this._store;
    let od = st.lookupLocked(kb, klen, h);
    if (od !== NIL) {
      const exp = st.expiryOf(st.descWord(od));
      if (exp !== 0 && nowRel >= exp) {
        st.unlink(od, h);
        st.count(S_EXPIRATIONS);
        st.commit();
        st.freeIfUnpinned(od);
        st.commit();
        od = NIL;
      }
    }
    if (od !== NIL) {
      st.linkReplace(od, d, h, live);
      st.commit();
      st.freeIfUnpinned(od);
      st.commit();
      st.count(S_UPDATES);
      return true;
    }
    const ghostHit = st.recordMiss(h);
    if (!st.makeRoomForEntry(nowRel)) {
      // Nothing evictable: give the built item back.
      st.wa(st.descWord(d) + D_KEYW, st.I[st.descWord(d) + D_KEYW]! & ~F_ALLOC);
      st.freeIfUnpinned(d);
      return this.reject();
    }
    st.linkNew(d, h, ghostHit, live);
    st.commit();
    st.count(S_INSERTS);
    return true;
  }

  /** Remove key; true when a live entry was removed. */
  delete(key: string | Uint8Array): boolean {
    const klen = this.key(key);
    const st = this._store;
    const kb = this.kb;
    const h = this.kh;
    const nowRel = this.nowRel();
    return st.locked(() => {
      const od = st.lookupLocked(kb, klen, h);
      if (od === NIL) return false;
      const exp = st.expiryOf(st.descWord(od));
      const live = !(exp !== 0 && nowRel >= exp);
      st.unlink(od, h);
      st.count(live ? S_DELETES : S_EXPIRATIONS);
      st.commit();
      st.freeIfUnpinned(od);
      st.commit();
      return live;
    });
  }

  /** Remove every entry (pinned ones are hidden at once and freed on their last release). */
  clear(): void {
    const st = this._store;
    st.locked(() => {
      st.clearAll();
    });
  }

  stats(): SharedCacheStats {
    const st = this._store;
    const hits = st.stat(S_HITS);
    const misses = st.stat(S_MISSES);
    return {
      hits,
      misses,
      hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
      inserts: st.stat(S_INSERTS),
      updates: st.stat(S_UPDATES),
      evictions: st.stat(S_EVICTIONS),
      rejections: st.stat(S_REJECTIONS),
      expirations: st.stat(S_EXPIRATIONS),
      deletions: st.stat(S_DELETES),
      size: st.I[H_COUNT]!,
      liveBytes: st.I[H_LIVE_BYTES]! >>> 0,
      usedBytes: st.I[H_USED_BYTES]! >>> 0,
      maxBytes: st.sab.byteLength,
      recoveredThreads: st.I[H_RECOVERED]!,
      rolledBackSteps: st.I[H_ROLLED_BACK]!,
    };
  }

  // ---- handles ---------------------------------------------------------------------

  private takeSlot(): number {
    if (this.nFree === 0) {
      throw new RangeError(`cortado: this thread already holds ${this._store.handles} handles on this SharedCache (maxHandles); release some first`);
    }
    return this.freeSlots[--this.nFree]!;
  }

  /** @internal Drop pin `slot` on descriptor d; frees the item if it was the last pin on an unlinked item. */
  _unpin(slot: number, d: number, entry: number): void {
    const st = this._store;
    const I = st.I;
    const r = st.regBase + slot;
    const w = st.descWord(d);
    // Registry says "releasing" before the count drops, so a recoverer never drops it twice.
    // Plain stores: the atomic subtraction between them orders them, and the registry is read
    // only by a recoverer after this thread is gone (or under the lock, for claims).
    I[r] = entry | R_RELEASING;
    const old = Atomics.sub(st.U16, (w << 1) + 2, 1);
    I[r] = 0;
    this.freeSlots[this.nFree++] = slot;
    if (old === 1 && (I[w + D_KEYW]! & F_LINKED) === 0) {
      st.locked(() => {
        st.freeIfUnpinned(d);
        st.commit();
      });
    }
  }

  /**
   * Pin the live entry for key: a ReadHandle whose `bytes` view the stored value without a
   * copy until release(). undefined on a miss. Counts as a get (hit or miss).
   */
  acquire(key: string | Uint8Array): ReadHandle | undefined {
    const d = this.pin(key, R_READ);
    if (d < 0) return undefined;
    return new ReadHandle(this, d, this.pinSlot, this.pinEntry, this.view(d));
  }

  /**
   * CacheLib's findToWrite: pin the live entry for key and return a WriteHandle over its
   * stored bytes for in-place updates (its length cannot change). Readers see a miss for
   * the key while the handle is held; the caller synchronises its own writers.
   */
  acquireForWrite(key: string | Uint8Array): WriteHandle | undefined {
    const d = this.pin(key, R_WRITE);
    if (d < 0) return undefined;
    const st = this._store;
    const w = st.descWord(d);
    Atomics.or(st.U8, (w << 2) + 6, M_WRITING);
    Atomics.add(st.I, w + D_VER, 2); // readers that read before the flag retry
    return new WriteHandle(this, d, this.pinSlot, this.pinEntry, this.view(d), 'inplace', 0);
  }

  private pinSlot = 0;
  private pinEntry = 0;

  private pin(key: string | Uint8Array, kind: number): number {
    const klen = this.key(key);
    const st = this._store;
    const I = st.I;
    for (let attempt = 0; attempt < 4; attempt++) {
      const d = st.find(this.kb, klen, this.kh, COPY_NONE);
      if (d < 0 || this.expired(d)) break;
      const ver = st.foundVersion;
      const slot = this.takeSlot();
      const r = st.regBase + slot;
      const w = st.descWord(d);
      const entry = (d + 1) | kind;
      // The pin, then the registry says held (a plain store the atomic add orders): a worker
      // that dies between the two leaves at worst one pin too many, never one too few. Then
      // validate: the item may have been replaced or freed since find() saw it.
      Atomics.add(st.U16, (w << 1) + 2, 1);
      I[r] = entry;
      if (Atomics.load(I, w + D_VER) === ver && (I[w + D_KEYW]! & F_LINKED) !== 0 && (kind !== R_WRITE || (st.U8[(w << 2) + 6]! & M_WRITING) === 0)) {
        st.markHit(d);
        st.count(S_HITS);
        this.pinSlot = slot;
        this.pinEntry = entry;
        return d;
      }
      this._unpin(slot, d, entry);
    }
    st.count(S_MISSES);
    return -1;
  }

  private view(d: number): Uint8Array {
    const st = this._store;
    const I = st.I;
    const w = st.descWord(d);
    const data = I[w + D_DATA]! >>> 0;
    const klen = I[w + D_KEYW]! & 0xffff;
    const vlen = I[(data >>> 2) + 2]! >>> 0;
    return new Uint8Array(st.sab, data + BLOCK_HEADER + klen, vlen);
  }

  /**
   * Reserve room for a value of byteLength bytes under key: fill `w.bytes` (zeroed), then
   * `w.insert()` publishes it, replacing any older value; release() without insert discards
   * it. undefined when it cannot fit (everything evictable is pinned), counted as a rejection.
   */
  allocate(key: string | Uint8Array, byteLength: number, options?: SharedSetOptions): WriteHandle | undefined {
    const klen = this.key(key);
    if (typeof byteLength !== 'number' || !Number.isInteger(byteLength) || byteLength < 0) {
      throw new RangeError(`cortado: allocate() byteLength must be an integer >= 0, got ${describe(byteLength)}`);
    }
    const ttl = this.ttlOf(options);
    this.checkFits(klen, byteLength, 'allocate() byteLength');
    const slot = this.takeSlot();
    const st = this._store;
    const I = st.I;
    const kb = this.kb;
    const h = this.kh;
    const nowRel = this.nowRel();
    const r = st.regBase + slot;
    let d = NIL;
    try {
      d = st.locked(() => {
        // A new key needs room under the entry bound too: make it now, so that an
        // allocation that could never be inserted is refused at once.
        if (st.lookupLocked(kb, klen, h) === NIL && !st.makeRoomForEntry(nowRel)) {
          this.reject();
          return NIL;
        }
        const nd = st.build(kb, klen, h, null, byteLength, F_ALLOC, 0, nowRel);
        if (nd === NIL) {
          this.reject();
          return NIL;
        }
        st.w(r, (nd + 1) | R_ALLOC | R_INTENT);
        st.commit();
        return nd;
      });
    } finally {
      if (d === NIL) this.freeSlots[this.nFree++] = slot;
    }
    if (d === NIL) return undefined;
    const w = st.descWord(d);
    const entry = (d + 1) | R_ALLOC;
    Atomics.add(st.U16, (w << 1) + 2, 1);
    Atomics.store(I, r, entry);
    const v = this.view(d);
    v.fill(0);
    return new WriteHandle(this, d, slot, entry, v, 'alloc', ttl);
  }

  /** @internal WriteHandle.insert(). */
  _insert(d: number, ttl: number): boolean {
    const st = this._store;
    const I = st.I;
    const w = st.descWord(d);
    const nowRel = this.nowRel();
    const exp = this.expiry(ttl, nowRel);
    const kb = st.keyBytes(d);
    const klen = kb.length;
    const h = st.hashBytes(kb, klen);
    return st.locked(() => {
      st.w(w + D_EXPLO, exp >>> 0);
      st.wa(w + D_KEYW, (I[w + D_KEYW]! & 0xffffff) | (Math.floor(exp / 4294967296) << 24));
      return this.publish(d, kb, klen, h, st.liveOf(d), nowRel);
    });
  }

  /** @internal WriteHandle released without insert: let the last unpin free it. */
  _discard(d: number): void {
    const st = this._store;
    const w = st.descWord(d);
    st.locked(() => {
      if ((st.I[w + D_KEYW]! & F_ALLOC) !== 0) st.wa(w + D_KEYW, st.I[w + D_KEYW]! & ~F_ALLOC);
      st.commit();
    });
  }

  /** For tests: walk every shared structure and throw on a broken invariant (tests). */
  _validate(): { entries: number; pinned: number; orphans: number; threads: number } {
    const st = this._store;
    return st.locked(() => st.validate());
  }

  get [Symbol.toStringTag](): string {
    return 'SharedCache';
  }
}


/** A pinned entry's stored value bytes (CacheLib's ReadHandle). */
export class ReadHandle {
  private view: Uint8Array | null;
  constructor(
    private readonly cache: SharedCache<unknown>,
    private readonly d: number,
    private readonly slot: number,
    private readonly entry: number,
    view: Uint8Array,
  ) {
    this.view = view;
  }

  /** The stored bytes (do not write them); throws ReleasedHandleError after release(). */
  get bytes(): Uint8Array {
    if (this.view === null) throw new ReleasedHandleError('cortado: this ReadHandle was released; its bytes may already hold another entry');
    return this.view;
  }

  get released(): boolean {
    return this.view === null;
  }

  /** Unpin (idempotent). */
  release(): void {
    if (this.view === null) return;
    this.view = null;
    this.cache._unpin(this.slot, this.d, this.entry);
  }

  /** `using h = ...` releases the handle at the end of the block. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/** Bytes to fill and insert (allocate()), or a pinned entry's bytes to update in place (acquireForWrite()). */
export class WriteHandle {
  private view: Uint8Array | null;
  constructor(
    private readonly cache: SharedCache<unknown>,
    private readonly d: number,
    private readonly slot: number,
    private readonly entry: number,
    view: Uint8Array,
    private readonly mode: 'alloc' | 'inplace',
    private readonly ttl: number,
  ) {
    this.view = view;
  }

  /** The bytes to write; throws ReleasedHandleError after release() or insert(). */
  get bytes(): Uint8Array {
    if (this.view === null) throw new ReleasedHandleError('cortado: this WriteHandle was released or inserted; its bytes may already hold another entry');
    return this.view;
  }

  get released(): boolean {
    return this.view === null;
  }

  /**
   * Publish the allocated value under its key (replacing any older value) and release the
   * handle. false when it could not be stored (counted as a rejection). Throws for a handle
   * from acquireForWrite() (its entry is already published) or one already released.
   */
  insert(): boolean {
    if (this.view === null) throw new ReleasedHandleError('cortado: insert() on a WriteHandle that was released or already inserted');
    if (this.mode !== 'alloc') throw new TypeError('cortado: insert() is for handles from allocate(); an acquireForWrite() handle writes in place: release() it');
    let ok = false;
    try {
      ok = this.cache._insert(this.d, this.ttl);
    } finally {
      this.view = null;
      this.cache._unpin(this.slot, this.d, this.entry);
    }
    return ok;
  }

  /** Release the handle: discards an allocated value that was not inserted; ends an in-place write (idempotent). */
  release(): void {
    if (this.view === null) return;
    this.view = null;
    const st = this.cache._store;
    if (this.mode === 'alloc') this.cache._discard(this.d);
    else {
      const w = st.descWord(this.d);
      Atomics.add(st.I, w + D_VER, 2);
      Atomics.and(st.U8, (w << 2) + 6, ~M_WRITING);
    }
    this.cache._unpin(this.slot, this.d, this.entry);
  }

  /** `using h = ...` releases the handle at the end of the block. */
  [Symbol.dispose](): void {
    this.release();
  }
}



