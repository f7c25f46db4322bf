/**
 * SharedCache's lock-free reads against its writers, driven step by step on one thread, so
 * that the interleavings that once returned torn values happen every run instead of once in
 * a few loaded runs (test/shared-workers.test.ts runs the same with real workers, by chance).
 *
 * - The seqlock checker: after every store a writer makes (each logged write, each atomic
 *   store of a rollback), every descriptor whose version is even is read as a lock-free
 *   reader would read it; once a version has been seen on a linked item that a lookup can
 *   reach (its bucket's chain leads to it), what a reader copies
 *   under that version (block, key length, expiry, value length, key and value bytes) must
 *   never change. Random operations run with a writer "terminated" (an exception) at a
 *   random logged write or just before a commit, which rolls its step back.
 * - A writer dying at chosen points, recovered by another participant's tryRecover() (what
 *   watch() runs): after an exact-fit build, after a publication, in an in-place write.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedCache, type SharedPolicyName } from 'cortado/shared';
import { prng } from './helpers.js';

/** The memory map (dist/shared/layout.js is not a public export; this test reads the built one). */
interface Layout {
  D_VER: number;
  D_REF: number;
  D_EXPLO: number;
  D_DATA: number;
  D_KEYW: number;
  D_HNEXT: number;
  H_LOG_LEN: number;
  F_LINKED: number;
  M_WRITING: number;
  H_DESC_HIGH: number;
  H_FORMAT: number;
  H_LOCK: number;
  BLOCK_HEADER: number;
  FORMAT: number;
}
const L = (await import(new URL('../../dist/shared/layout.js', import.meta.url).href)) as Layout;

/** The parts of SharedStore (internal) that these tests drive. */
interface Store {
  I: Int32Array;
  U8: Uint8Array;
  me: number;
  regBase: number;
  handles: number;
  heapStart: number;
  heapEnd: number;
  bucket0: number;
  bmask: number;
  ndesc: number;
  descWord(d: number): number;
  hashBytes(b: Uint8Array, len: number): number;
  nowRel(now: number): number;
  lock(): void;
  build(kb: Uint8Array, klen: number, h: number, vb: Uint8Array | null, vlen: number, flags: number, exp: number, nowRel: number): number;
  linkNew(d: number, h: number, ghostHit: boolean, liveBytes: number): void;
  lookupLocked(kb: Uint8Array, klen: number, h: number): number;
  tryRecover(p: number, dead: ReadonlySet<number>): boolean;
  commit(): void;
  [name: string]: unknown;
}
const storeOf = (c: SharedCache<unknown>): Store => (c as unknown as { _store: Store })._store;
const enc = new TextEncoder();

function fnv(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** A self-verifying value: the key, filler, and an FNV checksum of the rest in its last 4 bytes (where a free block's footer lands). */
function valueFor(key: string, len: number, salt: number): Uint8Array {
  const kb = enc.encode(key);
  const n = Math.max(len, kb.length + 4);
  const b = new Uint8Array(n);
  b.set(kb, 0);
  for (let i = kb.length; i < n - 4; i++) b[i] = (i * 31 + salt * 17) & 255;
  new DataView(b.buffer).setUint32(n - 4, fnv(b, 0, n - 4), true);
  return b;
}
function checkValue(key: string, v: Uint8Array, what: string): void {
  const kb = enc.encode(key);
  assert.ok(v.length >= kb.length + 4, `${what} ${key}: ${v.length} bytes`);
  assert.equal(new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(v.length - 4, true), fnv(v, 0, v.length - 4), `${what} ${key}: checksum mismatch (torn or reused bytes)`);
  assert.deepEqual([...v.subarray(0, kb.length)], [...kb], `${what} ${key}: holds another key's value`);
}

/**
 * Watches every descriptor of a store: see the file comment. `check()` after each store a
 * writer makes; violations are collected, not thrown (a throw inside a write step would be
 * taken for the injected termination).
 */
class SeqlockChecker {
  private readonly frozen = new Map<string, string>();
  readonly violations: string[] = [];
  checks = 0;
  constructor(private readonly st: Store) {}

  check(where: string): void {
    const st = this.st;
    const I = st.I;
    const U8 = st.U8;
    this.checks++;
    // What a lookup can reach now: its bucket's chain.
    const reachable = new Set<number>();
    for (let b = 0; b <= st.bmask; b++) {
      let steps = 0;
      for (let d = I[st.bucket0 + b]!; d >= 0 && d < st.ndesc && steps++ < st.ndesc; d = I[st.descWord(d) + L.D_HNEXT]!) reachable.add(d);
    }
    const hi = I[L.H_DESC_HIGH]!;
    for (let d = 0; d < hi; d++) {
      const w = st.descWord(d);
      const v = I[w + L.D_VER]!;
      if ((v & 1) !== 0) continue; // readers retry on an odd version
      if ((U8[((w + L.D_REF) << 2) + 2]! & L.M_WRITING) !== 0) continue; // readers report a miss
      const kw = I[w + L.D_KEYW]!;
      const data = I[w + L.D_DATA]! >>> 0;
      const klen = kw & 0xffff;
      let sig: string;
      if (data < st.heapStart || data + L.BLOCK_HEADER + klen > st.heapEnd) sig = `block ${data} out of the heap`;
      else {
        const vlen = I[(data >>> 2) + 2]! >>> 0;
        const end = data + L.BLOCK_HEADER + klen + vlen;
        sig = end > st.heapEnd ? `value length ${vlen} out of the heap` : `block ${data} key ${klen} exp ${kw >>> 24}/${I[w + L.D_EXPLO]} tag ${U8[((w + L.D_REF) << 2) + 3]} value ${vlen} bytes ${fnv(U8, data + L.BLOCK_HEADER, end)}`;
      }
      const id = `${d}@${v}`;
      const f = this.frozen.get(id);
      if (f === undefined) {
        // From the first instant a lookup can find it under this version, it is what a
        // reader may copy under this version (until the version changes).
        if ((kw & L.F_LINKED) !== 0 && reachable.has(d)) this.frozen.set(id, sig);
      } else if (f !== sig && this.violations.length < 20) {
        this.violations.push(`${where}: descriptor ${d} at version ${v}: a reader could copy "${f}" and then "${sig}"`);
      }
    }
  }
}

/** Run fn with the checker called after every store of the store's writers, and a termination injected at the `killAt`-th write or commit (-1: none). */
function instrumented<T>(st: Store, checker: SeqlockChecker, killAt: number, fn: () => T): { result?: T; killed: boolean } {
  const names = ['w', 'wa', 'wv', 'wp', 'commit'].filter((n) => typeof st[n] === 'function');
  const saved = new Map<string, unknown>();
  let count = 0;
  for (const n of names) {
    const orig = st[n] as (...a: unknown[]) => unknown;
    saved.set(n, Object.prototype.hasOwnProperty.call(st, n) ? orig : undefined);
    st[n] = function (this: Store, ...a: unknown[]): unknown {
      if (count++ === killAt && (n !== 'commit' || st.I[L.H_LOG_LEN]! > 0)) throw new Error('injected termination');
      const r = orig.apply(this, a);
      checker.check(n);
      return r;
    };
  }
  const origStore = Atomics.store;
  const origOr = Atomics.or;
  (Atomics as { store: unknown }).store = (ta: Int32Array, i: number, v: number): number => {
    const r = origStore(ta, i, v);
    if (ta === st.I) checker.check('Atomics.store');
    return r;
  };
  (Atomics as { or: unknown }).or = (ta: Int32Array, i: number, v: number): number => {
    const r = origOr(ta, i, v);
    if (ta === st.I) checker.check('Atomics.or');
    return r;
  };
  try {
    return { result: fn(), killed: false };
  } catch (e) {
    if ((e as Error).message !== 'injected termination') throw e;
    return { killed: true };
  } finally {
    (Atomics as { store: unknown }).store = origStore;
    (Atomics as { or: unknown }).or = origOr;
    for (const n of names) {
      if (saved.get(n) === undefined) delete st[n];
      else st[n] = saved.get(n);
    }
  }
}

describe('SharedCache seqlock: what a lock-free reader may copy under one version never changes', () => {
  test('delete, replace and eviction: the version changes before the freed block does', () => {
    for (const policy of ['sieve', 's3fifo'] as SharedPolicyName[]) {
      const cache = new SharedCache({ maxBytes: 1 << 16, maxEntries: 8, policy });
      const st = storeOf(cache);
      const checker = new SeqlockChecker(st);
      // Value lengths that put the last value bytes in the block's last word (where free()
      // writes its footer): 12-byte header + 2-byte key + v, a multiple of 8.
      instrumented(st, checker, -1, () => {
        for (let i = 0; i < 8; i++) cache.set(`k${i}`, valueFor(`k${i}`, 42 + 8 * i, i));
        cache.delete('k3'); // delete
        cache.set('k5', valueFor('k5', 90, 9)); // replace: the old block is freed
        for (let i = 8; i < 16; i++) cache.set(`k${i}`, valueFor(`k${i}`, 50, i)); // evictions
      });
      assert.ok(checker.checks > 100, `${checker.checks} checks`);
      assert.deepEqual(checker.violations, [], policy);
      cache._validate();
    }
  });

  test('random operations with writers terminated at random writes: no torn read possible, values whole, validator passes', () => {
    let killed = 0;
    let checks = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const policy: SharedPolicyName = seed % 2 === 0 ? 'sieve' : 's3fifo';
      const rand = prng(seed);
      const cache = new SharedCache({ maxBytes: 1 << 16, maxEntries: 24, policy, maxHandles: 8 });
      const st = storeOf(cache);
      const checker = new SeqlockChecker(st);
      const held: { key: string; h: { bytes: Uint8Array; release(): void }; copy: number[] }[] = [];
      for (let op = 0; op < 250; op++) {
        const key = `k${Math.floor(rand() * rand() * 40)}`;
        const r = rand();
        // Lengths from a few bytes to several KiB: the heap (about 40 KiB) fills, blocks are
        // split, taken whole and coalesced, and neighbours are evicted to widen holes.
        const len = rand() < 0.8 ? 4 + Math.floor(rand() * 300) : 1000 + Math.floor(rand() * 3000);
        const killAt = rand() < 0.3 ? Math.floor(rand() * 80) : -1;
        if (r < 0.45) {
          const res = instrumented(st, checker, killAt, () => cache.set(key, valueFor(key, len, op)));
          if (res.killed) killed++;
        } else if (r < 0.6) {
          const res = instrumented(st, checker, killAt, () => cache.delete(key));
          if (res.killed) killed++;
        } else if (r < 0.7) {
          const w = cache.allocate(key, len);
          if (w !== undefined) {
            w.bytes.set(valueFor(key, w.bytes.length, op).subarray(0, w.bytes.length));
            if (w.bytes.length < enc.encode(key).length + 4) w.release();
            else {
              const res = instrumented(st, checker, killAt, () => w.insert());
              if (res.killed) killed++;
            }
          }
        } else if (r < 0.78) {
          if (held.length < 6) {
            const h = cache.acquire(key);
            if (h !== undefined) {
              checkValue(key, h.bytes, 'acquire');
              held.push({ key, h, copy: [...h.bytes] });
            }
          }
        } else if (r < 0.86) {
          const x = held.splice(Math.floor(rand() * held.length), 1)[0];
          if (x !== undefined) {
            assert.deepEqual([...x.h.bytes], x.copy, `held ${x.key}: bytes changed while pinned`);
            x.h.release();
          }
        } else if (r < 0.9) {
          // In place (not a key a handle of this test reads: the caller orders its writers and readers of one entry).
          if (held.some((x) => x.key === key)) continue;
          const h = cache.acquireForWrite(key);
          if (h !== undefined) {
            h.bytes.set(valueFor(key, h.bytes.length, op + 1000).subarray(0, h.bytes.length));
            h.release();
          }
        } else {
          const v = cache.get(key);
          if (v !== undefined) checkValue(key, v, 'get');
        }
        checker.check('after an operation');
      }
      for (const x of held) {
        assert.deepEqual([...x.h.bytes], x.copy, `held ${x.key}: bytes changed while pinned`);
        x.h.release();
      }
      for (let k = 0; k < 40; k++) {
        const v = cache.get(`k${k}`);
        if (v !== undefined) checkValue(`k${k}`, v, 'get at the end');
      }
      assert.deepEqual(checker.violations, [], `seed ${seed} (${policy})`);
      const val = cache._validate();
      assert.equal(val.pinned, 0, `seed ${seed}: pins left`);
      checks += checker.checks;
    }
    assert.ok(killed > 50, `only ${killed} terminations injected`);
    assert.ok(checks > 10_000, `only ${checks} checks`);
  });
});

describe('SharedCache: a writer that dies mid-step, recovered by another participant', () => {
  /** Two participants on one buffer (this thread plays both): `a` dies, `b` recovers it as watch() would. */
  function pair(options: { maxBytes: number; maxEntries: number; policy?: SharedPolicyName }): { a: SharedCache; b: SharedCache; sa: Store; sb: Store } {
    const a = new SharedCache({ ...options, maxThreads: 4 });
    const b = SharedCache.attach(a.share());
    return { a, b, sa: storeOf(a), sb: storeOf(b) };
  }
  function buildUnder(st: Store, key: string, value: Uint8Array): { d: number; h: number; kb: Uint8Array } {
    const kb = enc.encode(key);
    const h = st.hashBytes(kb, kb.length);
    const d = st.build(kb, kb.length, h, value, value.length, 0, 0, st.nowRel(Date.now()));
    assert.ok(d >= 0);
    return { d, h, kb };
  }

  test('a build into a free block taken whole, rolled back: the block comes back whole (its footer, which the value overwrote)', () => {
    for (const policy of ['sieve', 's3fifo'] as SharedPolicyName[]) {
      const { a, b, sa, sb } = pair({ maxBytes: 1 << 16, maxEntries: 16, policy });
      // Blocks A | B | C, then B deleted: a free block of B's size between two used ones.
      // 12 + 1 + 107 = 120 bytes: the value's last 4 bytes are the block's last word.
      b.set('A', valueFor('A', 107, 1));
      b.set('B', valueFor('B', 107, 2));
      b.set('C', valueFor('C', 107, 3));
      b.delete('B');
      // `a` builds D of the same size (it takes B's hole whole: an exact bin) and dies
      // before it links D. The value's last word holds a size no heap could have.
      const v = valueFor('D', 107, 4);
      new DataView(v.buffer).setUint32(103, 0xfffffff0, true);
      sa.lock();
      buildUnder(sa, 'D', v);
      assert.ok(sb.tryRecover(sa.me, new Set([sa.me])), 'recovered');
      // C is freed next to the hole: its free() coalesces backwards through the footer.
      b.delete('C');
      b._validate();
      assert.equal(sb.I[L.H_FORMAT], L.FORMAT, 'the header is intact');
      assert.equal(sb.I[L.H_LOCK], 0, 'the lock is free');
      checkValue('A', b.get('A')!, 'get');
      assert.ok(b.set('E', valueFor('E', 3000, 5)));
      checkValue('E', b.get('E')!, 'get');
      assert.doesNotThrow(() => SharedCache.attach(b.share()));
      b._validate();
    }
  });

  test('a writer dead after its publication: its entry stays, and a handle taken on it in that instant keeps its bytes', () => {
    const { a, b, sa, sb } = pair({ maxBytes: 1 << 16, maxEntries: 16 });
    const v = valueFor('P', 300, 7);
    sa.lock();
    const { d, h } = buildUnder(sa, 'P', v);
    sa.linkNew(d, h, false, 1 + v.length);
    // `a` dies here, between its publication and its commit. `b` finds the entry and pins it.
    const handle = b.acquire('P');
    assert.ok(handle !== undefined, 'published: found');
    const copy = [...handle.bytes];
    assert.ok(sb.tryRecover(sa.me, new Set([sa.me])), 'recovered');
    // The step was complete: kept. Its memory is not reused while pinned.
    for (let i = 0; i < 40; i++) b.set(`x${i}`, valueFor(`x${i}`, 300 + i, i));
    assert.deepEqual([...handle.bytes], copy, 'the pinned bytes did not change');
    checkValue('P', handle.bytes, 'handle');
    handle.release();
    const val = b._validate();
    assert.equal(val.pinned, 0);
    assert.equal(val.orphans, 0);
    assert.equal(b.stats().rolledBackSteps, 0, 'nothing rolled back');
  });

  test('a worker dead between allocate()\'s pin and its registry update: the item is freed, no pin left', () => {
    const { a, b, sa, sb } = pair({ maxBytes: 1 << 16, maxEntries: 16 });
    const h = a.allocate('Q', 100);
    assert.ok(h !== undefined);
    // Put the registry entry back in the state it has between the pin and its update (the
    // R_INTENT bit, store.ts): the worker dies there.
    let slot = -1;
    for (let i = 0; i < sa.handles; i++) if (sa.I[sa.regBase + i] !== 0) slot = i;
    assert.ok(slot >= 0);
    sa.I[sa.regBase + slot] |= 1 << 29;
    assert.ok(sb.tryRecover(sa.me, new Set([sa.me])), 'recovered');
    const val = b._validate();
    assert.equal(val.pinned, 0, 'pins left');
    assert.equal(val.orphans, 0, 'orphans left');
    assert.equal(b.stats().usedBytes, 0, 'its block was freed');
  });

  test('a writer dead in the middle of an in-place write: the entry is removed, never seen half-written', () => {
    const { a, b, sb } = pair({ maxBytes: 1 << 16, maxEntries: 16 });
    b.set('W', valueFor('W', 200, 1));
    const h = a.acquireForWrite('W');
    assert.ok(h !== undefined);
    // Half of a new value written, then `a` dies holding the handle.
    h.bytes.set(valueFor('W', 200, 2).subarray(0, 100));
    assert.equal(b.get('W'), undefined, 'a miss while it is written');
    assert.ok(sb.tryRecover(storeOf(a).me, new Set([storeOf(a).me])), 'recovered');
    assert.equal(b.get('W'), undefined, 'removed, not published half-written');
    assert.equal(b.acquire('W'), undefined);
    assert.ok(b.set('W', valueFor('W', 200, 3)));
    checkValue('W', b.get('W')!, 'get');
    const val = b._validate();
    assert.equal(val.pinned, 0);
    assert.equal(val.orphans, 0);
  });
});
