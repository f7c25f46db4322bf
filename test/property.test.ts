/**
 * Model-based property tests: random operation sequences run against the cache and a simple
 * model, for every policy and configuration.
 *
 * The model cannot know which entry a policy will evict, so it learns evictions from the
 * removal events, and checks that each one is legitimate:
 *  - every event names an entry the model holds, with its current value (so each entry is
 *    reported exactly once), and its cause fits the operation ('deleted' only from delete,
 *    'expired' only past the deadline, 'evicted' only when the cache could not otherwise
 *    hold the newcomer or meet a bound, ...);
 *  - a set() that returns false is always reported as 'rejected' (no value is lost silently);
 *  - after that, the cache and the model agree exactly: get/peek/has results, size, weight;
 *  - bounds hold and the structural validator passes after every step;
 *  - peek/has/ttlOf change nothing: a twin cache (same seed) that never sees them makes
 *    exactly the same decisions (checked by a second property).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cache, type CacheOptions, type CacheSettings, type RemovalCause, type PolicyName } from 'cortado';
import { POLICY_NAMES, check } from './helpers.js';

interface Entry {
  value: object;
  w: number;
  write: number; // write deadline
  deadline: number; // effective deadline
}

type Op =
  | { t: 'set'; k: number; w: number; ttl: number | undefined }
  | { t: 'setIfPresent'; k: number; w: number }
  | { t: 'get'; k: number }
  | { t: 'peek'; k: number }
  | { t: 'has'; k: number }
  | { t: 'ttlOf'; k: number }
  | { t: 'delete'; k: number }
  | { t: 'advance'; ms: number }
  | { t: 'purge' }
  | { t: 'clear' }
  | { t: 'resize'; n: number };

interface PConfig {
  name: string;
  maxEntries?: number;
  maxWeight?: number;
  ttl?: number;
  idle?: number;
}

const CONFIGS: PConfig[] = [
  { name: 'count', maxEntries: 8 },
  { name: 'weight', maxWeight: 20 },
  { name: 'count+weight', maxEntries: 6, maxWeight: 20 },
  { name: 'count+ttl', maxEntries: 8, ttl: 500 },
  { name: 'weight+ttl+idle', maxWeight: 20, ttl: 900, idle: 300 },
];

const KEYS = 16;

function opArb(cfg: PConfig): fc.Arbitrary<Op> {
  const k = fc.integer({ min: 0, max: KEYS - 1 });
  // Mostly small weights, sometimes one heavier than the whole cache.
  const w = cfg.maxWeight === undefined ? fc.constant(1) : fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 8 }) }, { weight: 1, arbitrary: fc.constant(cfg.maxWeight + 1) });
  const ttl = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 1500 }) });
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ t: fc.constant('set' as const), k, w, ttl }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('setIfPresent' as const), k, w }) },
    { weight: 10, arbitrary: fc.record({ t: fc.constant('get' as const), k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('peek' as const), k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('has' as const), k }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('ttlOf' as const), k }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('delete' as const), k }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1200 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('purge' as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('clear' as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('resize' as const), n: fc.integer({ min: 1, max: 12 }) }) },
  );
}

type Ev = { k: number; v: object; cause: RemovalCause };

function makeCache(policy: PolicyName, cfg: PConfig, clock: () => number, events: Ev[]): Cache<number, object> {
  const options: CacheSettings<number, object> = {
    policy,
    clock,
    seed: 42,
    onRemove: (k, v, cause) => events.push({ k, v, cause }),
  };
  if (cfg.maxEntries !== undefined) options.maxEntries = cfg.maxEntries;
  if (cfg.maxWeight !== undefined) options.maxWeight = cfg.maxWeight;
  if (cfg.ttl !== undefined) options.ttl = cfg.ttl;
  if (cfg.idle !== undefined) options.expireAfterAccess = cfg.idle;
  return new Cache<number, object>(options as CacheOptions<number, object>);
}

function run(policy: PolicyName, cfg: PConfig, ops: Op[]): void {
  let now = 0;
  const clock = () => now;
  const events: Ev[] = [];
  const cache = makeCache(policy, cfg, clock, events);
  const model = new Map<number, Entry>();
  let maxE = cfg.maxEntries ?? Infinity;
  let maxW = cfg.maxWeight ?? Infinity;
  const weighted = cfg.maxWeight !== undefined;
  let hits = 0;
  let misses = 0;
  const live = (e: Entry | undefined) => e !== undefined && e.deadline > now;
  const modelWeight = () => {
    let s = 0;
    for (const e of model.values()) s += e.w;
    return s;
  };
  const newEntry = (value: object, w: number, ttl: number | undefined): Entry => {
    const t = ttl ?? cfg.ttl ?? 0;
    const write = t > 0 ? now + t : Infinity;
    const deadline = cfg.idle !== undefined ? Math.min(write, now + cfg.idle) : write;
    return { value, w, write, deadline };
  };

  for (let step = 0; step < ops.length; step++) {
    const op = ops[step]!;
    const where = `step ${step} ${JSON.stringify(op)}`;
    events.length = 0;
    const before = op.t === 'advance' || op.t === 'purge' || op.t === 'clear' || op.t === 'resize' ? undefined : model.get(op.k);
    const wasLive = live(before);
    let result: unknown;
    let value: object | undefined;
    const opts = (o: { w: number; ttl?: number | undefined }) => {
      const r: { weight?: number; ttl?: number } = {};
      if (weighted) r.weight = o.w;
      if (o.ttl !== undefined) r.ttl = o.ttl;
      return r;
    };

    // ---- run the operation ----
    switch (op.t) {
      case 'set':
        value = { step };
        result = cache.set(op.k, value, opts(op));
        break;
      case 'setIfPresent':
        value = { step };
        result = cache.setIfPresent(op.k, value, opts(op));
        break;
      case 'get':
        result = cache.get(op.k);
        break;
      case 'peek':
        result = cache.peek(op.k);
        break;
      case 'has':
        result = cache.has(op.k);
        break;
      case 'ttlOf':
        result = cache.ttlOf(op.k);
        break;
      case 'delete':
        result = cache.delete(op.k);
        break;
      case 'advance':
        now += op.ms;
        break;
      case 'purge':
        result = cache.purgeExpired();
        break;
      case 'clear':
        cache.clear();
        break;
      case 'resize':
        if (cfg.maxEntries !== undefined) {
          maxE = op.n;
          cache.resize({ maxEntries: op.n });
        } else {
          maxW = op.n * 2;
          cache.resize({ maxWeight: maxW });
        }
        break;
    }

    // ---- replay the events into the model, checking each is legitimate ----
    let rejected = false;
    let replacedSeen = false;
    const opW = op.t === 'set' || op.t === 'setIfPresent' ? (weighted ? op.w : 1) : 0;
    for (const e of events) {
      const m = model.get(e.k);
      if (e.cause === 'rejected') {
        assert.ok(op.t === 'set' || op.t === 'setIfPresent', `${where}: rejected outside set`);
        assert.equal(e.k, (op as { k: number }).k, `${where}: rejected another key`);
        assert.equal(e.v, value, `${where}: rejected another value`);
        assert.ok(!rejected, `${where}: rejected twice`);
        rejected = true;
        continue;
      }
      assert.ok(m !== undefined && m.value === e.v, `${where}: ${e.cause} event for key ${e.k} that the model does not hold with that value`);
      switch (e.cause) {
        case 'expired':
          assert.ok(m.deadline <= now, `${where}: key ${e.k} expired before its deadline ${m.deadline} (now ${now})`);
          model.delete(e.k);
          break;
        case 'deleted':
          assert.ok(op.t === 'delete' && op.k === e.k, `${where}: deleted outside delete(${e.k})`);
          model.delete(e.k);
          break;
        case 'cleared':
          assert.equal(op.t, 'clear', `${where}: cleared outside clear`);
          model.delete(e.k);
          break;
        case 'replaced': {
          assert.ok((op.t === 'set' || op.t === 'setIfPresent') && op.k === e.k, `${where}: replaced outside set(${e.k})`);
          replacedSeen = true;
          if (opW > maxW) model.delete(e.k); // too heavy: the old value goes, the new one is refused
          else model.set(e.k, newEntry(value!, opW, op.t === 'set' ? op.ttl : undefined));
          break;
        }
        case 'evicted': {
          const w = modelWeight();
          if (op.t === 'set' || op.t === 'setIfPresent') {
            const k = op.k;
            const updating = model.has(k) && model.get(k)!.value === value;
            const needed = updating ? model.size > maxE || w > maxW : model.size + 1 > maxE || w + opW > maxW;
            assert.ok(needed, `${where}: evicted key ${e.k} although the cache had room (size ${model.size}/${maxE}, weight ${w}/${maxW})`);
          } else {
            assert.equal(op.t, 'resize', `${where}: evicted outside set/resize`);
            assert.ok(model.size > maxE || w > maxW, `${where}: resize evicted more than needed`);
          }
          model.delete(e.k);
          break;
        }
      }
    }

    // ---- apply the operation's own effect and compare results ----
    switch (op.t) {
      case 'set':
      case 'setIfPresent': {
        const applies = op.t === 'set' || wasLive;
        if (result === false) {
          if (applies) assert.ok(rejected || !model.has(op.k), `${where}: set returned false without reporting a rejection`);
        } else {
          assert.ok(applies, `${where}: setIfPresent stored an absent key`);
          assert.ok(!rejected, `${where}: set returned true but reported a rejection`);
          // Values are fresh objects, so replacing a live entry must report the old value.
          if (wasLive) assert.ok(replacedSeen, `${where}: the old value was not reported as replaced`);
          if (!replacedSeen) model.set(op.k, newEntry(value!, opW, op.t === 'set' ? op.ttl : undefined));
          assert.equal(cache.peek(op.k), value, `${where}: value not stored`);
        }
        if (rejected) assert.equal(result, false, `${where}: rejected but returned true`);
        break;
      }
      case 'get': {
        const expected = wasLive ? before!.value : undefined;
        assert.equal(result, expected, `${where}: get`);
        if (wasLive) {
          hits++;
          if (cfg.idle !== undefined) before!.deadline = Math.min(before!.write, now + cfg.idle);
        } else misses++;
        break;
      }
      case 'peek':
        assert.equal(result, wasLive ? before!.value : undefined, `${where}: peek`);
        assert.equal(events.length, 0, `${where}: peek fired events`);
        break;
      case 'has':
        assert.equal(result, wasLive, `${where}: has`);
        assert.equal(events.length, 0, `${where}: has fired events`);
        break;
      case 'ttlOf':
        if (!wasLive) assert.equal(result, undefined, `${where}: ttlOf of a dead key`);
        else assert.equal(result, before!.deadline === Infinity ? Infinity : before!.deadline - now, `${where}: ttlOf`);
        break;
      case 'delete':
        assert.equal(result, wasLive, `${where}: delete result`);
        assert.ok(!model.has(op.k), `${where}: deleted key still in the model`);
        break;
      case 'purge':
        assert.equal(result, events.filter((e) => e.cause === 'expired').length, `${where}: purge count`);
        for (const [k, e] of model) assert.ok(e.deadline > now, `${where}: purge left expired key ${k}`);
        break;
      case 'clear':
        assert.equal(model.size, 0, `${where}: clear left entries`);
        break;
      default:
        break;
    }

    // ---- the cache and the model agree ----
    assert.equal(cache.size, model.size, `${where}: size`);
    if (weighted) assert.equal(cache.weight, modelWeight(), `${where}: weight`);
    assert.ok(cache.size <= maxE, `${where}: size bound`);
    assert.ok(cache.weight <= maxW, `${where}: weight bound`);
    for (const [k, e] of model) {
      assert.equal(cache.peek(k), live(e) ? e.value : undefined, `${where}: peek(${k}) disagrees with the model`);
    }
    check(cache);
  }
  const s = cache.stats();
  assert.equal(s.hits, hits, 'hits');
  assert.equal(s.misses, misses, 'misses');
}

/** Run `ops` on two caches with the same seed, probing only the first with peek/has/ttlOf. */
function histories(policy: PolicyName, cfg: PConfig, ops: [Op, number][]): [string[], string[]] {
  let now = 0;
  const clock = () => now;
  const a: Ev[] = [];
  const b: Ev[] = [];
  const ca = makeCache(policy, cfg, clock, a);
  const cb = makeCache(policy, cfg, clock, b);
  for (const [i, [op, probe]] of ops.entries()) {
    const value = { i };
    for (const c of [ca, cb]) {
      switch (op.t) {
        case 'set':
          c.set(op.k, value, cfg.maxWeight !== undefined ? { weight: op.w } : {});
          break;
        case 'setIfPresent':
          c.setIfPresent(op.k, value, cfg.maxWeight !== undefined ? { weight: op.w } : {});
          break;
        case 'get':
          c.get(op.k);
          break;
        case 'delete':
          c.delete(op.k);
          break;
        case 'advance':
          if (c === ca) now += op.ms;
          break;
        case 'purge':
          c.purgeExpired();
          break;
        default:
          break; // clear/resize left out: they would mask differences
      }
    }
    // Only cache a is probed, at a random key.
    ca.peek(probe);
    ca.has(probe);
    ca.ttlOf(probe);
  }
  return [a.map((e) => `${e.k}:${e.cause}`), b.map((e) => `${e.k}:${e.cause}`)];
}

for (const policy of POLICY_NAMES) {
  describe(`property: ${policy}`, () => {
    for (const cfg of CONFIGS) {
      test(`${cfg.name}: random operations agree with the model`, () => {
        fc.assert(
          fc.property(fc.array(opArb(cfg), { minLength: 1, maxLength: 100, size: 'max' }), (ops) => run(policy, cfg, ops)),
          { numRuns: 60, seed: 20261123 },
        );
      });
    }
    for (const cfg of [CONFIGS[0]!, CONFIGS[1]!, CONFIGS[3]!]) {
      test(`${cfg.name}: peek, has and ttlOf change nothing the policy decides`, () => {
        const probed = fc.tuple(opArb(cfg), fc.integer({ min: 0, max: KEYS - 1 }));
        fc.assert(
          fc.property(fc.array(probed, { minLength: 20, maxLength: 150, size: 'max' }), (ops) => {
            const [a, b] = histories(policy, cfg, ops);
            assert.deepEqual(a, b);
          }),
          { numRuns: 40, seed: 7 },
        );
      });
    }
  });
}
