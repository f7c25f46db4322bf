/**
 * The diagnostics channels: what a subscriber sees for hits, misses, sets, removals and
 * loads, for the plain path and the general one; nothing is published to nobody.
 */
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { test } from 'node:test';
import { Cache } from 'cortado';
import { POLICY_NAMES, FakeClock } from './helpers.js';

interface Seen {
  channel: string;
  key: unknown;
  cause?: string;
  stored?: boolean;
}

function watch(cache: unknown): { seen: Seen[]; stop(): void } {
  const seen: Seen[] = [];
  const handlers: [string, (m: unknown) => void][] = [];
  for (const name of ['cortado:hit', 'cortado:miss', 'cortado:set', 'cortado:remove']) {
    const h = (m: unknown): void => {
      const msg = m as { cache: unknown; key: unknown; cause?: string; stored?: boolean };
      if (msg.cache !== cache) return;
      const s: Seen = { channel: name.slice(8), key: msg.key };
      if (msg.cause !== undefined) s.cause = msg.cause;
      if (msg.stored !== undefined) s.stored = msg.stored;
      seen.push(s);
    };
    dc.subscribe(name, h);
    handlers.push([name, h]);
  }
  return { seen, stop: () => handlers.forEach(([n, h]) => dc.unsubscribe(n, h)) };
}

for (const policy of POLICY_NAMES) {
  for (const general of [false, true]) {
    test(`hit, miss, set and removal messages (${policy}, ${general ? 'general' : 'plain'} path)`, () => {
      const clock = new FakeClock();
      const c = new Cache<string, number>({ maxEntries: 2, policy, seed: 1, ...(general ? { ttl: 1_000, clock: clock.fn } : {}) });
      const w = watch(c);
      try {
        c.set('a', 1);
        c.get('a');
        c.get('zz');
        c.set('a', 2);
        c.set('b', 1);
        c.get('b');
        c.delete('b');
        c.set('c', 3);
        c.set('d', 4); // full: evicts one (or is refused by admission)
        c.clear();
      } finally {
        w.stop();
      }
      const by = (ch: string): Seen[] => w.seen.filter((s) => s.channel === ch);
      assert.deepEqual(by('hit').map((s) => s.key), ['a', 'b']);
      assert.deepEqual(by('miss').map((s) => s.key), ['zz']);
      assert.deepEqual(by('set').slice(0, 4).map((s) => [s.key, s.stored]), [['a', true], ['a', true], ['b', true], ['c', true]]);
      const removals = by('remove').map((s) => `${String(s.key)}:${s.cause}`);
      assert.deepEqual(removals.slice(0, 2), ['a:replaced', 'b:deleted']);
      const dStored = by('set')[4]!.stored;
      // d either evicted someone or was refused; then clear reports what was left.
      if (dStored) assert.equal(removals.filter((r) => r.endsWith(':evicted')).length, 1);
      else assert.deepEqual(removals.filter((r) => r.endsWith(':rejected')), ['d:rejected']);
      assert.equal(removals.filter((r) => r.endsWith(':cleared')).length, 2);
      assert.equal(removals.length, 5);
    });
  }
}

test('nothing is published once the subscriber leaves', () => {
  const c = new Cache<string, number>({ maxEntries: 2 });
  const w = watch(c);
  c.set('a', 1);
  w.stop();
  c.get('a');
  c.set('b', 2);
  c.set('c', 3);
  assert.equal(w.seen.length, 1);
});

test('loads are traced: start, end, asyncStart, asyncEnd, with the result or the error', async () => {
  const c = new Cache<string, string>({ maxEntries: 4, loader: async (k) => { if (k === 'bad') throw new Error('nope'); return `v-${k}`; } });
  const events: string[] = [];
  const ch = dc.tracingChannel('cortado:load');
  const mine = (m: unknown): boolean => (m as { cache: unknown }).cache === c;
  const handlers = {
    start: (m: unknown) => mine(m) && events.push(`start ${(m as { key: string }).key}`),
    end: (m: unknown) => mine(m) && events.push('end'),
    asyncStart: (m: unknown) => mine(m) && events.push(`asyncStart ${String((m as { result?: unknown }).result ?? '')}`),
    asyncEnd: (m: unknown) => mine(m) && events.push('asyncEnd'),
    error: (m: unknown) => mine(m) && events.push(`error ${((m as { error: Error }).error).message}`),
  };
  ch.subscribe(handlers);
  try {
    assert.equal(await c.fetch('k'), 'v-k');
    await assert.rejects(c.fetch('bad'), /nope/);
  } finally {
    ch.unsubscribe(handlers);
  }
  assert.deepEqual(events, ['start k', 'end', 'asyncStart v-k', 'asyncEnd', 'start bad', 'end', 'error nope', 'asyncStart ', 'asyncEnd']);
});
