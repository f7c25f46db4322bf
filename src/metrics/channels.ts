/**
 * Named `diagnostics_channel`s on which every Cache publishes what it does, for tracing and
 * metrics tools (OpenTelemetry, Prometheus, APM agents) to subscribe to.
 *
 * Why diagnostics_channel: it is Node's own publish/subscribe for instrumentation (undici,
 * http and lru-cache publish on it), it needs no dependency, and a channel nobody subscribes
 * to costs one property read: the cache checks `hasSubscribers` before it builds a message,
 * so an unobserved cache allocates nothing.
 *
 * Messages (all carry the publishing `cache`, so one subscriber can watch many caches):
 * - `cortado:hit`    `{ cache, key }`: get() or fetch() found a live value.
 * - `cortado:miss`   `{ cache, key }`: get() or fetch() found nothing live.
 * - `cortado:set`    `{ cache, key, value, stored }`: a set() took effect (stored) or was refused.
 * - `cortado:remove` `{ cache, key, value, cause }`: an entry left (or a value was refused), the
 *   same events as onRemove, delivered when the cache is consistent.
 * - `cortado:load`   a TracingChannel (start, end, asyncStart, asyncEnd, error) around each load
 *   that fetch()/fetchAll() starts, with context `{ cache, key }` (fetchAll batches: `{ cache, keys }`).
 */
import dc from 'node:diagnostics_channel';

export const hitChannel = dc.channel('cortado:hit');
export const missChannel = dc.channel('cortado:miss');
export const setChannel = dc.channel('cortado:set');
export const removeChannel = dc.channel('cortado:remove');
export const loadChannel = dc.tracingChannel('cortado:load');

/** The names, for subscribers that prefer strings. */
export const CHANNELS = {
  hit: 'cortado:hit',
  miss: 'cortado:miss',
  set: 'cortado:set',
  remove: 'cortado:remove',
  load: 'cortado:load',
} as const;
