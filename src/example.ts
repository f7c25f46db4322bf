/** `npm start` until the simulator lands: a short demonstration of the cache at work. */
import { Cache } from './index.js';

const log: string[] = [];
const cache = new Cache<string, string>({
  maxEntries: 3,
  policy: 's3fifo',
  onRemove: (key, _value, cause) => log.push(`${key}:${cause}`),
});
for (const k of ['a', 'b', 'c', 'a', 'a', 'd', 'e', 'a']) {
  if (cache.get(k) === undefined) cache.set(k, k.toUpperCase());
}
console.log('entries:', [...cache.keys()].join(','));
console.log('removed:', log.join(' '));
console.log('stats:', cache.stats());
