/**
 * The policy registry (src/policies/index.ts): one descriptor per policy, and every list the
 * package keeps of policies derived from it: POLICY_NAMES and POLICY_FACTORIES, the `policy`
 * option's check and message, and the per-entry overhead that `maxBytes` charges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache } from 'cortado';
import { POLICY_FACTORIES, POLICY_NAMES } from 'cortado/internal';

import { REGISTRY, policyDescriptor } from 'cortado/internal';

const HIT_COSTS = ['none', 'bit', 'fields', 'reorder'];

test('registry: POLICY_NAMES and POLICY_FACTORIES are the descriptors, in order', () => {
  const names = REGISTRY.map((d) => d.name);
  assert.deepEqual([...POLICY_NAMES], names);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  assert.deepEqual(Object.keys(POLICY_FACTORIES), names);
  for (const d of REGISTRY) {
    assert.equal(POLICY_FACTORIES[d.name], d.create);
    assert.equal(policyDescriptor(d.name), d);
  }
  assert.equal(policyDescriptor('arc'), undefined);
});

test('registry: every descriptor is complete', () => {
  for (const d of REGISTRY) {
    assert.match(d.name, /^[a-z0-9]+$/);
    assert.ok(d.summary.length > 10 && !d.summary.includes('\n'), `${d.name}: a one-line summary`);
    assert.ok(Number.isInteger(d.entryOverhead) && d.entryOverhead > 0, `${d.name}: overhead ${d.entryOverhead}`);
    assert.ok(HIT_COSTS.includes(d.hitCost), `${d.name}: hit cost ${d.hitCost}`);
  }
});

test('registry: the policy option selects each descriptor\'s policy, which agrees with its descriptor', () => {
  for (const d of REGISTRY) {
    const c = new Cache<number, number>({ maxEntries: 10, policy: d.name });
    assert.equal(c.policyName, d.name);
    const p = (c as unknown as { policy: { name: string; hitCost: string } }).policy;
    assert.equal(p.name, d.name);
    assert.equal(p.hitCost, d.hitCost);
  }
});

test('registry: an unknown policy is a TypeError naming the option and every registered policy', () => {
  assert.throws(
    () => new Cache({ maxEntries: 10, policy: 'arc' as never }),
    (e: Error) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /policy/);
      for (const d of REGISTRY) assert.ok(e.message.includes(`'${d.name}'`), `${d.name} missing from: ${e.message}`);
      return true;
    },
  );
});

test('registry: maxBytes charges each entry its policy\'s entryOverhead', () => {
  for (const d of REGISTRY) {
    const c = new Cache<string, string>({ maxBytes: 1_000_000, policy: d.name, weigher: () => 100 });
    c.set('a', 'x');
    c.set('b', 'y');
    assert.equal(c.weight, 2 * (100 + d.entryOverhead), d.name);
  }
});
