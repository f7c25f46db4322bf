/**
 * set() has a fast path for caches with no optional feature (no weights, expiry, listener,
 * shouldUpdate or loading). It must decide exactly as the general path does: same results,
 * same victims, same statistics, same order. A cache with a no-op onRemove listener takes the
 * general path for every call, so random operation sequences replayed on both (same seed)
 * must agree step by step, for every policy.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cache } from 'cortado';
import { POLICY_NAMES, check } from './helpers.js';

type Op =
  | { t: 'set'; k: number; v: number; opts: boolean }
  | { t: 'get'; k: number }
  | { t: 'setIfPresent'; k: number; v: number }
  | { t: 'delete'; k: number }
  | { t: 'unset'; k: number }
  | { t: 'resize'; n: number }
  | { t: 'clear' };

const KEYS = 60;
const key = fc.integer({ min: 0, max: KEYS - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 40, arbitrary: fc.record({ t: fc.constant('set' as const), k: key, v: fc.integer({ min: 0, max: 3 }), opts: fc.boolean() }) },
  { weight: 40, arbitrary: fc.record({ t: fc.constant('get' as const), k: key }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('setIfPresent' as const), k: key, v: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('delete' as const), k: key }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('unset' as const), k: key }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('resize' as const), n: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('clear' as const) }) },
);

function apply(c: Cache<number, string>, op: Op): unknown {
  switch (op.t) {
    case 'set':
      // With an options object even the plain cache takes the general path for this call.
      return op.opts ? c.set(op.k, `v${op.v}`, {}) : c.set(op.k, `v${op.v}`);
    case 'get':
      return c.get(op.k);
    case 'setIfPresent':
      return c.setIfPresent(op.k, `v${op.v}`);
    case 'delete':
      return c.delete(op.k);
    case 'unset':
      return c.set(op.k, undefined as unknown as string);
    case 'resize':
      c.resize({ maxEntries: op.n });
      return c.size;
    case 'clear':
      c.clear();
      return c.size;
  }
}

for (const policy of POLICY_NAMES) {
  describe(`fast path: ${policy}`, () => {
    test('a plain cache decides exactly as the general path', () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 300, size: 'max' }), (ops) => {
          const plain = new Cache<number, string>({ maxEntries: 20, policy, seed: 11 });
          let removed = 0;
          const general = new Cache<number, string>({ maxEntries: 20, policy, seed: 11, onRemove: () => void removed++ });
          for (const [i, op] of ops.entries()) {
            const a = apply(plain, op);
            const b = apply(general, op);
            assert.equal(a, b, `step ${i} ${JSON.stringify(op)}`);
            assert.deepEqual(plain.stats(), general.stats(), `stats after step ${i} ${JSON.stringify(op)}`);
          }
          assert.deepEqual([...plain.entries()], [...general.entries()]);
          check(plain);
          check(general);
          const s = general.stats();
          // The listener saw every removal the statistics count (no event was lost on its side).
          assert.ok(removed >= s.evictions + s.deletions + s.rejections);
        }),
        { numRuns: 40, seed: 424242 },
      );
    });
  });
}

describe('fast path: switching off', () => {
  test('a per-call ttl on a plain cache turns expiry on for later plain calls', () => {
    let now = 0;
    const c = new Cache<string, number>({ maxEntries: 10, policy: 'lru', clock: () => now });
    c.set('a', 1, { ttl: 5 });
    c.set('b', 2); // no options: must still schedule nothing, but run with expiry on
    now = 6;
    assert.equal(c.get('a'), undefined);
    assert.equal(c.get('b'), 2);
    assert.equal(c.stats().misses, 1);
    check(c);
  });

  test('after fetch(), a plain set() settles a load waiting on that key', async () => {
    const c = new Cache<string, number>({ maxEntries: 10, policy: 'sieve' });
    let release!: (v: number) => void;
    const p = c.fetch('k', { loader: () => new Promise<number>((r) => (release = r)) });
    c.set('k', 7); // a write during a load wins
    release(99);
    assert.equal(await p, 7);
    assert.equal(c.get('k'), 7);
  });
});
