/**
 * Model-based random test of the loading layer: random interleavings of fetch / fetchAll /
 * set / delete / clear / clock advances / caller aborts / load resolutions and failures,
 * over random loading configurations (timeouts included, on mocked timers), every policy,
 * and caches small enough to evict.
 *
 * Every value carries a version from one global counter: set() takes the next version, and a
 * load takes one when it *starts* (it reads the source then, so it cannot be newer than
 * that). delete() and clear() also take a version. The properties:
 *  - no fetch resolves with a value older than the last write (set or delete) of its key
 *    at the moment it resolves, and peek() never shows one either: loads never overwrite
 *    newer values nor resurrect deleted keys;
 *  - fetchAll is a snapshot: each value is at least as new as the last write before the call
 *    (keys served from the cache are read when it is called);
 *  - right after a set() that stores, the cache holds exactly that value;
 *  - every caller settles once all loads are answered, with a value or an expected error,
 *    and no load is left in flight;
 *  - the store's invariants hold after every step (validate()).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AbortError, Cache, TimeoutError } from 'cortado';
import { POLICY_NAMES, validate } from 'cortado/internal';

interface Val {
  k: string;
  v: number;
}

interface Pending {
  keys: string[];
  version: number;
  resolve(v: Val | Map<string, Val>): void;
  reject(e: unknown): void;
  batch: boolean;
}

const KEYS = ['a', 'b', 'c'];
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

const key = fc.constantFrom(...KEYS);
const op = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('fetch' as const), k: key, force: fc.boolean(), abortable: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('fetchAll' as const), ks: fc.subarray(KEYS, { minLength: 1 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('set' as const), k: key }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('delete' as const), k: key }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('clear' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 80 }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('settle' as const), i: fc.nat(), ok: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abort' as const), i: fc.nat() }) },
);
const config = fc.record({
  ttl: fc.constantFrom(0, 50),
  staleWhileRevalidate: fc.constantFrom(0, 30),
  staleIfError: fc.constantFrom(0, 40),
  refreshAfter: fc.constantFrom(0, 20),
  loadTimeout: fc.constantFrom(0, 30),
  batch: fc.boolean(),
  policy: fc.constantFrom(...POLICY_NAMES),
  maxEntries: fc.constantFrom(2, 100),
});

test('loads never serve or store a value older than the last write of its key', async (t) => {
  // loadTimeout runs on setTimeout: mock it, and move it with the cache clock.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let runs = 0;
  let supersededChecks = 0;
  let timeouts = 0;
  await fc.assert(
    fc.asyncProperty(config, fc.array(op, { maxLength: 40 }), async (cfg, ops) => {
      runs++;
      let seq = 0;
      let now = 0;
      const lastWrite = new Map<string, number>();
      const pending: Pending[] = [];
      const controllers: AbortController[] = [];
      const problems: string[] = [];
      let outstanding = 0;

      const floor = (k: string) => lastWrite.get(k) ?? 0;
      const checkVal = (k: string, val: Val | undefined, where: string) => {
        if (val === undefined || val.k !== k) problems.push(`${where}: wrong value ${JSON.stringify(val)} for ${k}`);
        else if (val.v < floor(k)) problems.push(`${where}: ${k} v${val.v} older than last write v${floor(k)}`);
      };
      const expectError = (e: unknown, where: string) => {
        if (e instanceof TimeoutError) timeouts++;
        if (!(e instanceof AbortError) && !(e instanceof TimeoutError) && !(e instanceof Error && e.message === 'load failed')) {
          problems.push(`${where}: unexpected error ${String(e)}`);
        }
      };

      const cache = new Cache<string, Val>({
        maxEntries: cfg.maxEntries,
        policy: cfg.policy as 'lru',
        clock: () => now,
        ...(cfg.ttl > 0 ? { ttl: cfg.ttl } : {}),
        ...(cfg.staleWhileRevalidate > 0 ? { staleWhileRevalidate: cfg.staleWhileRevalidate } : {}),
        ...(cfg.staleIfError > 0 ? { staleIfError: cfg.staleIfError } : {}),
        ...(cfg.refreshAfter > 0 ? { refreshAfter: cfg.refreshAfter } : {}),
        ...(cfg.loadTimeout > 0 ? { loadTimeout: cfg.loadTimeout } : {}),
        loader: (k) =>
          new Promise<Val>((resolve, reject) => {
            pending.push({ keys: [k], version: ++seq, resolve: resolve as (v: unknown) => void, reject, batch: false });
          }),
        ...(cfg.batch
          ? {
              loadAll: (ks: string[]) =>
                new Promise<Map<string, Val>>((resolve, reject) => {
                  pending.push({ keys: [...ks], version: ++seq, resolve: resolve as (v: unknown) => void, reject, batch: true });
                }),
            }
          : {}),
      });

      const answer = (p: Pending, ok: boolean) => {
        if (!ok) return p.reject(new Error('load failed'));
        if (!p.batch) return p.resolve({ k: p.keys[0]!, v: p.version });
        p.resolve(new Map(p.keys.map((k) => [k, { k, v: p.version }])));
      };

      for (const o of ops) {
        switch (o.t) {
          case 'fetch': {
            const ac = o.abortable ? new AbortController() : undefined;
            if (ac) controllers.push(ac);
            outstanding++;
            cache.fetch(o.k, { forceRefresh: o.force, ...(ac ? { signal: ac.signal } : {}) }).then(
              (val) => {
                outstanding--;
                checkVal(o.k, val, 'fetch');
              },
              (e: unknown) => {
                outstanding--;
                expectError(e, 'fetch');
              },
            );
            break;
          }
          case 'fetchAll': {
            // Keys answered from the cache are read at the call; loaded keys when they load.
            // So each value must be at least as new as the last write before the call.
            const floors = new Map(o.ks.map((k) => [k, floor(k)]));
            outstanding++;
            cache.fetchAll(o.ks).then(
              (m) => {
                outstanding--;
                for (const k of o.ks) {
                  const val = m.get(k);
                  if (val === undefined || val.k !== k) problems.push(`fetchAll: wrong value ${JSON.stringify(val)} for ${k}`);
                  else if (val.v < floors.get(k)!) problems.push(`fetchAll: ${k} v${val.v} older than the write before the call`);
                }
              },
              (e: unknown) => {
                outstanding--;
                expectError(e, 'fetchAll');
              },
            );
            break;
          }
          case 'set': {
            const val = { k: o.k, v: ++seq };
            if (cache.inflight > 0) supersededChecks++;
            // A set() that stores nothing (refused by admission) is not a write.
            if (cache.set(o.k, val)) {
              lastWrite.set(o.k, val.v);
              assert.equal(cache.peek(o.k), val, 'set() value is what the cache holds');
            }
            break;
          }
          case 'delete':
            lastWrite.set(o.k, ++seq);
            cache.delete(o.k);
            assert.equal(cache.peek(o.k), undefined);
            break;
          case 'clear': {
            const v = ++seq;
            for (const k of KEYS) lastWrite.set(k, v);
            cache.clear();
            break;
          }
          case 'tick':
            now += o.ms;
            t.mock.timers.tick(o.ms);
            break;
          case 'settle':
            if (pending.length > 0) answer(pending.splice(o.i % pending.length, 1)[0]!, o.ok);
            break;
          case 'abort':
            if (controllers.length > 0) controllers[o.i % controllers.length]!.abort();
            break;
        }
        await flush();
        for (const k of KEYS) {
          const val = cache.peek(k);
          if (val !== undefined) checkVal(k, val, 'peek');
        }
        validate(cache as Cache<unknown, unknown>);
        assert.ok(cache.inflight <= KEYS.length);
        assert.deepEqual(problems, []);
      }

      // Answer everything (a delete may have started new loads), then everyone must be settled.
      for (let round = 0; pending.length > 0 && round < 100; round++) {
        answer(pending.shift()!, true);
        await flush();
      }
      assert.equal(pending.length, 0);
      assert.equal(cache.inflight, 0, 'no load left in flight');
      assert.equal(outstanding, 0, 'every caller settled');
      assert.deepEqual(problems, []);
      validate(cache as Cache<unknown, unknown>);
    }),
    { numRuns: 300 },
  );
  assert.equal(runs, 300);
  assert.ok(supersededChecks > 15, `writes raced loads only ${supersededChecks} times: the generator is too tame`);
  assert.ok(timeouts > 5, `only ${timeouts} fetches timed out: the generator is too tame`);
});
