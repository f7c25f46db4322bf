/**
 * Type-level checks, enforced by the test build itself: each `@ts-expect-error` line must be
 * a type error, or `tsc -p test` fails with "Unused '@ts-expect-error' directive". The
 * run-time test only makes sure the file is part of the suite.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cache } from 'cortado';

function typeChecks(): void {
  // @ts-expect-error a cache without any bound does not type-check
  new Cache<string, number>({});
  // @ts-expect-error nor with only other options
  new Cache<string, number>({ ttl: 1000, policy: 'lru' });
  new Cache<string, number>({ maxEntries: 10 });
  new Cache<string, number>({ maxWeight: 10, weigher: () => 1 });
  new Cache<string, number>({ maxBytes: 1024 });
  new Cache<string, number>({ maxEntries: 10, maxBytes: 1024, ttl: 5 });
  // @ts-expect-error unknown policy names are type errors too
  new Cache<string, number>({ maxEntries: 10, policy: 'mru' });
}

test('type-level checks are compiled with the suite', () => {
  assert.equal(typeof typeChecks, 'function');
  assert.throws(() => new Cache({} as never), TypeError);
});
