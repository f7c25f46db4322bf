import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cache } from 'cortado';
import { validate } from 'cortado/internal';

test('smoke: set/get through the built package', () => {
  const c = new Cache<string, number>({ maxEntries: 2, policy: 'lru' });
  c.set('a', 1);
  c.set('b', 2);
  c.get('a');
  c.set('c', 3);
  assert.deepEqual([...c.keys()].sort(), ['a', 'c']);
  validate(c as Cache<unknown, unknown>);
});
