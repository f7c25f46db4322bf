/**
 * The callback rule, cell by cell: every user callback (weigher, shouldUpdate, clock, loader,
 * loadAll, onRemove) calling each cache operation (get, set, delete, clear, resize, fetch) on
 * its own key and on another key, for every policy. A cell passes when the call either works
 * or is refused with ReentrancyError, the cache passes its invariant walk afterwards, and it
 * keeps working (fills past its bound without "found no victim").
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cache, ReentrancyError, type CacheOptions, type PolicyName } from 'cortado';
import { POLICY_NAMES, FakeClock, check } from './helpers.js';

type Op = 'get' | 'set' | 'delete' | 'clear' | 'resize' | 'fetch';
const OPS: Op[] = ['get', 'set', 'delete', 'clear', 'resize', 'fetch'];
type Callback = 'weigher' | 'shouldUpdate' | 'clock' | 'loader' | 'loadAll' | 'onRemove';
const CALLBACKS: Callback[] = ['weigher', 'shouldUpdate', 'clock', 'loader', 'loadAll', 'onRemove'];
/** Callbacks that run in the middle of an operation: inside them the cache is read-only. */
const MID_OPERATION = new Set<Callback>(['weigher', 'shouldUpdate', 'clock']);

interface Cell {
  /** What the re-entrant call did: 'ok', 'refused' (ReentrancyError), or another error. */
  outcomes: string[];
  /** Promises the re-entrant calls returned (fetch), to be settled before the cell ends. */
  pending: Promise<unknown>[];
}

function reenter(c: Cache<string, number>, op: Op, key: string, cell: Cell): void {
  try {
    switch (op) {
      case 'get':
        c.get(key);
        break;
      case 'set':
        c.set(key, 99, c.maxWeight !== undefined ? { weight: 1 } : undefined);
        break;
      case 'delete':
        c.delete(key);
        break;
      case 'clear':
        c.clear();
        break;
      case 'resize':
        c.resize({ maxEntries: 2 });
        break;
      case 'fetch': {
        const p = c.fetch(key, { loader: () => 7, ...(c.maxWeight !== undefined ? { weight: 1 } : {}) });
        cell.pending.push(
          p.then(
            () => cell.outcomes.push('ok'),
            (e: unknown) => cell.outcomes.push(e instanceof ReentrancyError ? 'refused' : `error: ${(e as Error).message}`),
          ),
        );
        return;
      }
    }
    cell.outcomes.push('ok');
  } catch (e) {
    cell.outcomes.push(e instanceof ReentrancyError ? 'refused' : `error: ${(e as Error).message}`);
    throw e;
  }
}

/** Build a cache where `cb` re-enters with `op` on `target` ('own' key or another), and trigger it. */
async function runCell(policy: PolicyName, cb: Callback, op: Op, target: 'own' | 'other'): Promise<{ cache: Cache<string, number>; cell: Cell; threw: unknown }> {
  const cell: Cell = { outcomes: [], pending: [] };
  const clock = new FakeClock();
  let armed = false;
  let c!: Cache<string, number>;
  const trigger = 'x';
  const keyFor = (own: string): string => (target === 'own' ? own : 'a');
  // Each callback re-enters once (armed), so a call that itself runs the callback cannot loop.
  const once = (own: string): void => {
    if (!armed) return;
    armed = false;
    reenter(c, op, keyFor(own), cell);
  };
  const options: CacheOptions<string, number> = { maxEntries: 3, policy, seed: 7, clock: clock.fn };
  switch (cb) {
    case 'weigher':
      options.maxWeight = 10;
      options.weigher = (_v, k) => {
        once(k);
        return 1;
      };
      break;
    case 'shouldUpdate':
      options.shouldUpdate = (_o, _n, k) => {
        once(k);
        return true;
      };
      break;
    case 'clock':
      options.ttl = 1_000;
      options.clock = () => {
        once(trigger);
        return clock.now;
      };
      break;
    case 'loader':
      options.loader = (k) => {
        once(k);
        return 5;
      };
      break;
    case 'loadAll':
      options.loadAll = (ks) => {
        once(ks[0]!);
        return new Map(ks.map((k) => [k, 5]));
      };
      break;
    case 'onRemove':
      options.onRemove = (k) => {
        once(k);
      };
      break;
  }
  c = new Cache<string, number>(options);
  for (const k of ['a', 'b', 'c']) c.set(k, 1);
  if (cb === 'shouldUpdate') c.set(trigger, 1);
  let threw: unknown;
  armed = true;
  try {
    switch (cb) {
      case 'weigher':
      case 'clock':
        c.set(trigger, 2);
        break;
      case 'shouldUpdate':
        c.set(trigger, 3);
        break;
      case 'onRemove':
        c.set('d', 4); // full: evicts, and the listener hears it
        c.set('e', 4);
        break;
      case 'loader':
        await c.fetch(trigger).catch((e: unknown) => {
          threw = e;
        });
        break;
      case 'loadAll':
        await c.fetchAll([trigger, 'y']).catch((e: unknown) => {
          threw = e;
        });
        break;
    }
  } catch (e) {
    threw = e;
  }
  await Promise.all(cell.pending);
  return { cache: c, cell, threw };
}

for (const policy of POLICY_NAMES) {
  describe(`re-entrant callbacks (${policy})`, () => {
    for (const cb of CALLBACKS) {
      test(`${cb} x ${OPS.join('/')}: refused or safe, and the store stays whole`, async () => {
        for (const op of OPS) {
          for (const target of ['own', 'other'] as const) {
            const where = `${cb} -> ${op}(${target} key)`;
            const { cache, cell, threw } = await runCell(policy, cb, op, target);
            assert.equal(cell.outcomes.length, 1, `${where}: the callback re-entered exactly once`);
            const outcome = cell.outcomes[0]!;
            assert.ok(outcome === 'ok' || outcome === 'refused', `${where}: ${outcome}`);
            if (MID_OPERATION.has(cb)) {
              // Inside a mid-operation callback every write, get and fetch is refused...
              assert.equal(outcome, 'refused', `${where} must be refused`);
              // ...and the refusal surfaces from the outer operation, except fetch's, which rejects its own promise.
              if (op !== 'fetch') {
                assert.ok(threw instanceof ReentrancyError, `${where}: outer call throws ReentrancyError`);
                assert.equal((threw as ReentrancyError).code, 'ERR_CORTADO_REENTRANT');
              }
            } else if ((cb === 'loader' || cb === 'loadAll') && op === 'fetch' && target === 'own') {
              // A loader that fetches its own key would wait on itself forever.
              assert.equal(outcome, 'refused', `${where} must be refused`);
            } else {
              assert.equal(outcome, 'ok', `${where}: allowed outside mid-operation callbacks`);
            }
            check(cache);
            // Still a working cache: fill well past the bound.
            for (let i = 0; i < 12; i++) {
              cache.set(`k${i}`, i, cache.maxWeight !== undefined ? { weight: 1 } : undefined);
              check(cache);
            }
            assert.ok(cache.size <= (cache.maxEntries ?? Infinity), `${where}: bound holds`);
          }
        }
      });
    }
  });
}

describe('re-entrant callbacks leave nothing half-changed', () => {
  for (const policy of POLICY_NAMES) {
    test(`shouldUpdate that clears, then a full cache keeps evicting (${policy})`, () => {
      let c!: Cache<string, number>;
      c = new Cache<string, number>({
        maxEntries: 3,
        policy,
        shouldUpdate: () => {
          c.clear();
          return true;
        },
      });
      c.set('a', 1);
      c.set('b', 2);
      c.set('c', 3);
      assert.throws(() => c.set('a', 10), { code: 'ERR_CORTADO_REENTRANT', name: 'ReentrancyError' });
      // The refused write changed nothing.
      assert.deepEqual([...c.keys()].sort(), ['a', 'b', 'c']);
      assert.equal(c.peek('a'), 1);
      check(c);
      // TinyLFU's admission may refuse a newcomer whose hashes collide with a resident's in the
      // 3-entry sketch (about 1 seed in 700); every other policy stores each one.
      for (let i = 0; i < 10; i++) {
        const stored = c.set(`n${i}`, i);
        if (policy !== 'tinylfu') assert.equal(stored, true);
        assert.equal(c.has(`n${i}`), stored);
      }
      assert.equal(c.size, 3);
      check(c);
    });

    test(`shouldUpdate that deletes (${policy})`, () => {
      let c!: Cache<string, number>;
      c = new Cache<string, number>({
        maxEntries: 3,
        policy,
        shouldUpdate: (_o, _n, k) => {
          c.delete(k);
          return true;
        },
      });
      for (const k of ['a', 'b', 'c']) c.set(k, 1);
      assert.throws(() => c.set('b', 10), ReentrancyError);
      assert.equal(c.peek('b'), 1);
      check(c);
      for (let i = 0; i < 10; i++) c.set(`n${i}`, i);
      check(c);
    });

    test(`weigher that writes keeps the weight exact (${policy})`, () => {
      let c!: Cache<string, number>;
      let calls = 0;
      c = new Cache<string, number>({
        maxWeight: 10,
        policy,
        weigher: (_v, k) => {
          calls++;
          if (k === 'x') c.set('side', 1);
          return 1;
        },
      });
      c.set('a', 1);
      assert.throws(() => c.set('x', 1), ReentrancyError);
      assert.equal(c.has('side'), false);
      assert.equal(c.has('x'), false);
      assert.equal(c.size, 1);
      assert.equal(c.weight, 1);
      assert.equal(calls, 2);
      check(c);
    });
  }
});
