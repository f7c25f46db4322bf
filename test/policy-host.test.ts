/**
 * Policies over host-provided memory (src/policies/policy.ts, src/internal/typed-arrays.ts):
 * the allocators' protocol, every policy's arrays coming from (and regrown by) the host, each
 * policy's declared hit cost against what its onAccess actually writes, and the
 * fixed-capacity mode over a SharedArrayBuffer, decision for decision equal to the cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache, type Policy, type PolicyHost } from 'cortado';
import { hashKey, prng, POLICY_FACTORIES, POLICY_NAMES, validate } from 'cortado/internal';

import { GrowableArrays, FixedArrays } from 'cortado/internal';
import { REGISTRY } from 'cortado/internal';

type Typed = Uint8Array | Int8Array | Uint16Array | Int32Array | Float64Array;
type Allocator = InstanceType<typeof GrowableArrays>;
interface Internals {
  policy: Policy & { host: Allocator; sketch?: { resets: number } };
  store: { slots: number; find(key: unknown): number };
}
const internals = (c: Cache<any, any>) => c as unknown as Internals;

// ---- the allocators --------------------------------------------------------------------

test('GrowableArrays: first request allocates and fills, same length returns the same array, longer regrows keeping contents', () => {
  const a = new GrowableArrays();
  const x = a.i32('q.link', 4, -1);
  assert.deepEqual([...x], [-1, -1, -1, -1]);
  x[1] = 7;
  assert.equal(a.i32('q.link', 4, -1), x, 'same length: the same array');
  const y = a.i32('q.link', 8, -1);
  assert.notEqual(y, x);
  assert.deepEqual([...y], [-1, 7, -1, -1, -1, -1, -1, -1], 'old contents first, the fill after them');
  assert.equal(a.array('q.link'), y);
  const z = a.u8('p.bits', 3);
  assert.deepEqual([...z], [0, 0, 0]);
  assert.deepEqual(a.names(), ['q.link', 'p.bits']);
  assert.equal(a.byteLength, 8 * 4 + 3);
});

test('GrowableArrays: a shorter request or another element type is refused, naming the array', () => {
  const a = new GrowableArrays();
  a.f64('lhd.stamp', 16);
  assert.throws(() => a.f64('lhd.stamp', 8), (e: Error) => e instanceof RangeError && /lhd\.stamp/.test(e.message));
  assert.throws(() => a.u8('lhd.stamp', 16), (e: Error) => e instanceof TypeError && /lhd\.stamp/.test(e.message));
  assert.equal(a.f64('lhd.stamp', 16).length, 16, 'the array is still there, unchanged');
});

test('FixedArrays: carves 8-byte aligned views of one buffer, once each; a regrow or an overflow is a RangeError', () => {
  const sab = new SharedArrayBuffer(256);
  const f = new FixedArrays(sab);
  const a = f.u8('a', 3, 9);
  const b = f.f64('b', 2);
  const c = f.i8('c', 5, -1);
  assert.equal(a.buffer, sab);
  assert.equal(b.buffer, sab);
  assert.deepEqual([a.byteOffset, b.byteOffset, c.byteOffset], [0, 8, 24]);
  assert.deepEqual([...a], [9, 9, 9]);
  assert.deepEqual([...c], [-1, -1, -1, -1, -1]);
  assert.equal(f.u8('a', 3), a, 'same length: the same view');
  assert.throws(() => f.u8('a', 6), (e: Error) => e instanceof RangeError && /'a'.*fixed/.test(e.message));
  assert.throws(() => f.i32('big', 100), (e: Error) => e instanceof RangeError && /'big'/.test(e.message));
  assert.equal(f.byteLength, 29);
});

// ---- every policy's arrays come from the host ------------------------------------------

/** Every typed array reachable from `o` through its fields, two levels deep (the policy and its parts). */
function reachableArrays(o: object, depth = 2, out = new Set<Typed>()): Set<Typed> {
  for (const v of Object.values(o)) {
    if (ArrayBuffer.isView(v)) out.add(v as Typed);
    else if (v !== null && typeof v === 'object' && depth > 0 && !(v instanceof Cache)) reachableArrays(v, depth - 1, out);
  }
  return out;
}

for (const policy of POLICY_NAMES) {
  test(`${policy}: its per-slot arrays are the host's, regrown as the cache grows`, () => {
    const c = new Cache<number, number>({ maxEntries: 1000, policy, seed: 3 });
    const { policy: p } = internals(c);
    const host = p.host;
    const before = host.names();
    assert.ok(before.length > 0, 'the policy asked the host for its arrays');
    assert.ok(before.every((n) => n.startsWith(`${policy}.`)), `names carry the policy's prefix: ${before.join(', ')}`);
    for (let k = 0; k < 1000; k++) c.set(k, k); // 64 slots doubled four times, capped at 1000
    const slots = internals(c).store.slots;
    assert.equal(slots, 1000);
    assert.deepEqual(host.names(), before, 'growing asked for the same names again');
    const fields = reachableArrays(p);
    for (const name of host.names()) {
      const a = host.array(name)!;
      if (a.length >= slots) assert.equal(a.length % slots, 0, `${name}: ${a.length} elements for ${slots} slots`);
      assert.ok(fields.has(a), `${name}: the policy holds the host's current array, not a stale one`);
    }
    validate(c as Cache<unknown, unknown>);
  });
}

// ---- declared hit cost against what onAccess writes -------------------------------------

const ORDER = ['none', 'bit', 'fields', 'reorder'] as const;
type Cost = (typeof ORDER)[number];

/** What one access changed in the host's arrays, classified as in policy.ts (HitCost). */
function classify(host: Allocator, before: Map<string, Typed>, slot: number, slots: number): Cost {
  let arrays = 0;
  let elements = 0;
  for (const name of host.names()) {
    const now = host.array(name)!;
    const was = before.get(name)!;
    let changedHere = false;
    for (let i = 0; i < now.length; i++) {
      if (Object.is(now[i], was[i])) continue;
      const perSlot = now.length / slots;
      // A header array (queue ends, totals), or another slot's elements: a reorder.
      if (!Number.isInteger(perSlot) || Math.floor(i / perSlot) !== slot) return 'reorder';
      elements++;
      changedHere = true;
    }
    if (changedHere) arrays++;
  }
  if (elements === 0) return 'none';
  return arrays === 1 && elements === 1 ? 'bit' : 'fields';
}

for (const policy of POLICY_NAMES) {
  test(`${policy}: the declared hit cost is what onAccess writes, no more and no less`, () => {
    const c = new Cache<number, number>({ maxEntries: 1000, policy, seed: 9 });
    const { policy: p } = internals(c);
    const descriptor = REGISTRY.find((d) => d.name === policy)!;
    assert.equal(p.hitCost, descriptor.hitCost, 'the policy agrees with its registry entry');
    const rand = prng(17);
    const key = () => Math.floor(rand() ** 3 * 3000); // skewed: hot keys reach every segment
    for (let i = 0; i < 20_000; i++) if (c.get(key()) === undefined) c.set(key(), i);
    const host = p.host;
    const slots = internals(c).store.slots;
    let worst: Cost = 'none';
    let measured = 0;
    for (let i = 0; i < 3000 && measured < 1500; i++) {
      const k = key();
      const slot = internals(c).store.find(k);
      if (slot < 0) {
        c.set(k, i);
        continue;
      }
      const snapshot = new Map(host.names().map((n) => [n, host.array(n)!.slice()] as [string, Typed]));
      const resets = p.sketch?.resets;
      assert.notEqual(c.get(k), undefined);
      if (p.sketch !== undefined && p.sketch.resets !== resets) continue; // aging is amortised maintenance, not the hit
      const cost = classify(host, snapshot, slot, slots);
      if (ORDER.indexOf(cost) > ORDER.indexOf(worst)) worst = cost;
      measured++;
    }
    assert.ok(measured >= 500, `only ${measured} hits measured`);
    assert.equal(worst, p.hitCost, `${policy} declares '${p.hitCost}', its hits wrote up to '${worst}'`);
    validate(c as Cache<unknown, unknown>);
  });
}

// ---- fixed-capacity mode over a SharedArrayBuffer --------------------------------------

const CAPACITY = 64; // the cache's first slot allocation: a cache this size never grows either
const SEED = 5;

/** A minimal store for a policy: 64 fixed slots, its arrays carved from a SharedArrayBuffer. */
class FixedStore extends FixedArrays implements PolicyHost {
  readonly capacity = CAPACITY;
  readonly seed = SEED;
  readonly keyAt: number[] = [];
  hits = 0;
  costOf(_slot: number): number {
    return 1;
  }
  hashOf(slot: number): number {
    return hashKey(this.keyAt[slot], SEED);
  }
}

/** get-or-set over the fixed store, with the cache's call protocol; returns hit/miss per request. */
function replayFixed(policy: string, keys: number[]): { hits: boolean[]; store: FixedStore; p: Policy; index: Map<number, number> } {
  const store = new FixedStore(new SharedArrayBuffer(1 << 20));
  const p = POLICY_FACTORIES[policy]!(store, CAPACITY);
  const index = new Map<number, number>();
  const hits: boolean[] = [];
  let fresh = 0;
  for (const k of keys) {
    const found = index.get(k);
    if (found !== undefined) {
      p.onAccess(found);
      store.hits++;
      hits.push(true);
      continue;
    }
    hits.push(false);
    const hash = p.needsHash ? hashKey(k, SEED) : 0;
    p.recordMiss(hash);
    let slot: number;
    if (index.size < CAPACITY) slot = fresh++;
    else {
      slot = p.evictFor(hash, 1);
      assert.ok(slot >= -1, `${policy}: no victim in a full store`);
      if (slot < 0) continue; // refused by admission
      index.delete(store.keyAt[slot]!);
    }
    store.keyAt[slot] = k;
    index.set(k, slot);
    p.onInsert(slot);
  }
  return { hits, store, p, index };
}

for (const policy of POLICY_NAMES) {
  test(`${policy}: runs unchanged in fixed-capacity mode, its slot arrays in a SharedArrayBuffer, deciding as the cache does`, () => {
    const rand = prng(23);
    const keys = Array.from({ length: 20_000 }, () => Math.floor(rand() ** 2 * 400));
    const { hits, store, p, index } = replayFixed(policy, keys);
    const c = new Cache<number, number>({ maxEntries: CAPACITY, policy, seed: SEED });
    const cached = keys.map((k) => (c.get(k) === undefined ? (c.set(k, k), false) : true));
    assert.equal(internals(c).store.slots, CAPACITY, 'the cache never grew either');
    const nHits = hits.filter(Boolean).length;
    assert.ok(nHits > 1000 && nHits < 19_000, `${nHits} hits: the workload exercises both paths`);
    assert.deepEqual(hits, cached, 'the same hit or miss on every request');
    assert.deepEqual([...index.keys()].sort((a, b) => a - b), [...c.keys()].sort((a, b) => a - b));
    for (const name of store.names()) assert.equal(store.array(name)!.buffer, store.buffer, `${name} lives in the shared buffer`);
    p.validate((s) => store.keyAt[s] !== undefined && index.get(store.keyAt[s]!) === s, index.size);
    assert.throws(() => p.grow(2 * CAPACITY), RangeError, 'a fixed store cannot grow');
  });
}
