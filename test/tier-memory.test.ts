/**
 * MemoryTier, the reference tier: the Tier conformance suite (with a hand clock, and again on
 * real time as a tier without a clock option would run it), plus what is its own: the byte
 * bound, the declined over-large value, and option checks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTier, TierClosedError } from 'cortado/tiered';
import { tierConformance } from './tier-conformance.js';

tierConformance('MemoryTier (hand clock)', async ({ clock }) => ({ tier: new MemoryTier({ clock }), cleanup: async () => {} }), {
  clock: true,
  closedCode: 'ERR_CORTADO_TIER_CLOSED',
});

tierConformance('MemoryTier (real time, value limit)', async () => ({ tier: new MemoryTier({ maxValueBytes: 256 * 1024 }), cleanup: async () => {} }), {
  maxValueBytes: 256 * 1024,
});

describe('MemoryTier', () => {
  test('maxBytes evicts the least recently used values first', async () => {
    const tier = new MemoryTier({ maxBytes: 300 });
    await tier.set('a', new Uint8Array(100));
    await tier.set('b', new Uint8Array(100));
    await tier.set('c', new Uint8Array(100));
    assert.ok((await tier.get('a')) !== undefined); // a is now the most recent
    await tier.set('d', new Uint8Array(100));
    assert.equal(await tier.get('b'), undefined, 'b was least recently used');
    assert.ok((await tier.get('a')) !== undefined);
    assert.ok((await tier.get('c')) !== undefined);
    assert.ok((await tier.get('d')) !== undefined);
    const s = tier.stats();
    assert.equal(s.evictions, 1);
    assert.equal(s.bytes, 300);
    assert.equal(s.entries, 3);
  });

  test('a value above maxValueBytes (default maxBytes) is declined, counted, and removes the old value', async () => {
    const tier = new MemoryTier({ maxBytes: 100 });
    await tier.set('k', new Uint8Array(10));
    await tier.set('k', new Uint8Array(101));
    assert.equal(await tier.get('k'), undefined);
    assert.equal(tier.stats().rejected, 1);
    assert.equal(tier.stats().bytes, 0);
  });

  test('after close, calls reject with TierClosedError', async () => {
    const tier = new MemoryTier({ name: 'mine' });
    await tier.close();
    await assert.rejects(tier.get('k'), (e: unknown) => e instanceof TierClosedError && /"mine"/.test(e.message));
  });

  test('bad options name the option', () => {
    assert.throws(() => new MemoryTier({ maxBytes: -1 }), /maxBytes/);
    assert.throws(() => new MemoryTier({ maxValueBytes: 0 }), /maxValueBytes/);
    assert.throws(() => new MemoryTier({ clock: 5 as unknown as () => number }), /clock/);
    assert.throws(() => new MemoryTier({ name: '' }), /name/);
    assert.throws(() => new MemoryTier({ max: 5 } as never), /unknown MemoryTier option "max"/);
    assert.throws(() => new MemoryTier(null as never), TypeError);
  });
});
