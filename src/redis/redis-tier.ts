/**
 * RedisTier: a `Tier` (src/tiered/tier.ts) on a Redis server, the shared level that many
 * processes and machines read and write below their own memory tiers.
 *
 * Shape:
 * - Keys are `prefix` + the key's bytes (a string key is its UTF-8 bytes); values are the
 *   bytes a `Codec` made, stored as Redis strings. Replies come back as Buffers (node-redis's
 *   RESP type mapping), so nothing is decoded as text on the way.
 * - TTL is in ms end to end: `SET key value PX ttl`. `get` is one Lua script that returns the
 *   value and its `PTTL` together: atomic (a MULTI/EXEC would be too, at four commands a read
 *   instead of one; a pipelined GET + PTTL is not, and could pair a value with the ttl of the
 *   value that replaced it, which is how a promoted copy would outlive the truth). Run by
 *   `EVALSHA`, falling back to `EVAL` once after a server restart emptied the script cache.
 * - Every call races its own timer (`timeout`, see connection.ts for why node-redis's option
 *   is not enough), and a circuit breaker (breaker.ts) skips Redis after `failures` failures
 *   in a row. While skipping, `get` resolves `undefined` (a cache may forget anything) and
 *   `set`, `delete` and `clear` reject with RedisUnavailableError: a write that silently did
 *   nothing would let an older value come back once Redis returns.
 * - `set` copies the bytes before they are queued: a call that timed out may still sit in the
 *   socket's buffer, and the caller may already be reusing its buffer.
 * - `clear` walks the prefix with `SCAN MATCH prefix* COUNT 1000` and `UNLINK`s each batch,
 *   never `KEYS` (which blocks the server for the whole keyspace); UNLINK frees large values
 *   off the main thread.
 *
 * After a crash of this process nothing is lost that `set` had resolved (Redis holds it);
 * after a crash of Redis itself what survives is what the server's own persistence keeps.
 */
import { createHash } from 'node:crypto';
import { describe } from '../options.js';
import { checkTierBytes, checkTierKey, readTierTtl } from '../tiered/args.js';
import { TierClosedError } from '../tiered/errors.js';
import type { Tier, TierEntry, TierKey, TierSetOptions, TierStats } from '../tiered/tier.js';
import { CircuitBreaker } from './breaker.js';
import {
  checkKnownOptions,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_TIMEOUT,
  type RedisClientLike,
  checkClient,
  checkInt,
  checkMs,
  checkUrl,
  classify,
  createOwnedClient,
  deadline,
  loadRedis,
  timeoutError,
  waitReady,
} from './connection.js';
import { RedisReplyError, RedisTimeoutError, RedisUnavailableError } from './errors.js';

export interface RedisBreakerOptions {
  /** Failed calls in a row that open the breaker (default 5). */
  failures?: number | undefined;
  /** ms the breaker stays open before it probes Redis again (default 1000). */
  coolDown?: number | undefined;
}

export interface RedisTierOptions {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://...`; or give `client`. */
  url?: string | undefined;
  /** A node-redis client to use instead of `url` (TLS, Sentinel, auth...); it stays the caller's to close. */
  client?: RedisClientLike | undefined;
  /** Prepended to every key, so that many caches share one server (default 'cortado:'). */
  prefix?: string | undefined;
  /** ms one Redis call may take (default 100). */
  timeout?: number | undefined;
  /** ms `connect()` waits for the first connection (default 2000). */
  connectTimeout?: number | undefined;
  /** When to stop calling Redis for a while. */
  breaker?: RedisBreakerOptions | undefined;
  /** Hears the breaker open ('open': calls skip Redis) and close ('closed': Redis answered again). */
  onBreaker?: ((state: 'open' | 'closed') => void) | undefined;
}

export interface RedisTierStats extends TierStats {
  /** Calls answered without Redis because the breaker was open (gets as misses, writes rejected). */
  skipped: number;
  /** Calls that ran past `timeout` (counted in `errors` too). */
  timeouts: number;
  /** Times the breaker opened. */
  breakerOpens: number;
  /** Whether calls skip Redis now. */
  breakerOpen: boolean;
}

/** Failures in a row that open the breaker: enough that one slow call does not, few enough that a dead server costs little. */
const DEFAULT_FAILURES = 5;
/** ms before the first probe; a reconnect probes at once anyway. */
const DEFAULT_COOL_DOWN = 1_000;
/** Keys asked per SCAN step: big enough to be few round trips, small enough that one step is short for the server. */
const SCAN_COUNT = '1000';
/** A returned value whose backing buffer is this much larger than itself is copied, so it does not pin a socket chunk. */
const PIN_SLACK = 8 * 1024;
/** Longest PX sent (ms, ~35,000 years): larger finite ttls are stored as this. */
const MAX_PX = 2 ** 50;

/** GET and PTTL in one atomic step. */
const GET_SCRIPT = "local v = redis.call('GET', KEYS[1]) if not v then return nil end return {v, redis.call('PTTL', KEYS[1])}";
const GET_SHA = createHash('sha1').update(GET_SCRIPT).digest('hex');

const KNOWN = new Set(['url', 'client', 'prefix', 'timeout', 'connectTimeout', 'breaker', 'onBreaker']);

/** `prefix` with glob metacharacters escaped, then `*`: SCAN MATCH for every key of the prefix. */
function matchAll(prefix: string): string {
  return prefix.replace(/[\\*?[\]]/g, '\\$&') + '*';
}

export class RedisTier implements Tier {
  readonly name = 'redis';
  /** The prefix of every key this tier writes. */
  readonly prefix: string;
  /** ms one call may take. */
  readonly timeout: number;
  readonly #prefixBytes: Buffer;
  readonly #url: string | undefined;
  readonly #connectTimeout: number;
  readonly #breaker: CircuitBreaker;
  #client: RedisClientLike | undefined;
  #owned: boolean;
  #commandOptions: object = {};
  #ErrorReply: (new (...args: any[]) => Error) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #inflight = 0;
  #drained: (() => void) | undefined;
  readonly #onError = (): void => {
    this.#connectionErrors++;
    if (this.#client !== undefined && !this.#client.isReady) this.#breaker.trip();
  };
  readonly #onReady = (): void => this.#breaker.nudge();

  #hits = 0;
  #misses = 0;
  #writes = 0;
  #bytesWritten = 0;
  #errors = 0;
  #skipped = 0;
  #timeouts = 0;
  #connectionErrors = 0;

  private constructor(options: RedisTierOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`cortado: RedisTier options must be an object, got ${describe(options)}`);
    }
    checkKnownOptions('RedisTier', options, KNOWN);
    if (options.client !== undefined) {
      this.#client = checkClient("RedisTier option 'client'", options.client);
      if (options.url !== undefined) throw new TypeError("cortado: RedisTier takes 'url' or 'client', not both");
    } else {
      this.#url = checkUrl("RedisTier option 'url'", options.url);
    }
    this.#owned = options.client === undefined;
    const prefix = options.prefix === undefined ? 'cortado:' : options.prefix;
    if (typeof prefix !== 'string') throw new TypeError(`cortado: RedisTier option 'prefix' must be a string, got ${describe(prefix)}`);
    this.prefix = prefix;
    this.#prefixBytes = Buffer.from(prefix, 'utf8');
    this.timeout = options.timeout === undefined ? DEFAULT_TIMEOUT : checkMs("RedisTier option 'timeout'", options.timeout);
    this.#connectTimeout =
      options.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT : checkMs("RedisTier option 'connectTimeout'", options.connectTimeout);
    const b = options.breaker ?? {};
    if (b === null || typeof b !== 'object') throw new TypeError(`cortado: RedisTier option 'breaker' must be an object, got ${describe(b)}`);
    for (const k of Object.keys(b)) {
      if (k !== 'failures' && k !== 'coolDown') throw new TypeError(`cortado: unknown RedisTier option 'breaker.${k}'`);
    }
    const failures = b.failures === undefined ? DEFAULT_FAILURES : checkInt("RedisTier option 'breaker.failures'", b.failures);
    const coolDown = b.coolDown === undefined ? DEFAULT_COOL_DOWN : checkMs("RedisTier option 'breaker.coolDown'", b.coolDown);
    const onBreaker = options.onBreaker;
    if (onBreaker !== undefined && typeof onBreaker !== 'function') {
      throw new TypeError(`cortado: RedisTier option 'onBreaker' must be a function, got ${describe(onBreaker)}`);
    }
    this.#breaker = new CircuitBreaker(failures, coolDown, () => this.#ping(), onBreaker && ((open) => onBreaker(open ? 'open' : 'closed')));
  }

  /**
   * A tier connected to Redis. Rejects (TypeError/RangeError) on bad options before anything
   * is loaded or connected, and with RedisUnavailableError when the first connection does not
   * come within `connectTimeout`.
   */
  static async connect(options: RedisTierOptions): Promise<RedisTier> {
    const tier = new RedisTier(options);
    await tier.#start();
    return tier;
  }

  async #start(): Promise<void> {
    const redis = await loadRedis();
    this.#ErrorReply = redis.ErrorReply;
    this.#commandOptions = { typeMapping: { [redis.RESP_TYPES.BLOB_STRING]: Buffer } };
    let client = this.#client;
    if (client === undefined) {
      client = await createOwnedClient(this.#url!, this.#connectTimeout, this.#onError);
      this.#client = client;
    } else {
      client.on('error', this.#onError);
    }
    client.on('ready', this.#onReady);
    if (client.isReady) return;
    const connecting = client.isOpen ? waitReady(client) : client.connect();
    // The connect promise may settle after we gave up on it; it must not be unhandled then.
    connecting.catch(() => {});
    try {
      const up = async (): Promise<void> => {
        await connecting;
        // A TCP connection is not an answer (a paused server accepts one): ask.
        await client.sendCommand(['PING']);
      };
      await deadline(up(), this.#connectTimeout, () => new RedisUnavailableError(`cortado: no connection to Redis within ${this.#connectTimeout} ms`));
      // Refused attempts before the first connection opened the breaker; Redis answered now.
      this.#breaker.success();
    } catch (e) {
      await this.close();
      throw e instanceof RedisUnavailableError ? e : new RedisUnavailableError(`cortado: cannot connect to Redis: ${(e as Error).message}`, { cause: e });
    }
  }

  /** @internal The Redis key of `key`: prefix + the key's bytes. */
  _key(key: TierKey): string | Buffer {
    if (typeof key === 'string') return this.prefix + key;
    const out = Buffer.allocUnsafe(this.#prefixBytes.byteLength + key.byteLength);
    this.#prefixBytes.copy(out, 0);
    out.set(key, this.#prefixBytes.byteLength);
    return out;
  }

  /**
   * @internal Runs `fn` (Redis commands) under the timeout and the breaker, counting what
   * happened. Resolves `skip` at once when the breaker is open and `skip` is not undefined;
   * rejects with RedisUnavailableError then otherwise.
   */
  async _run<T>(what: string, fn: (client: RedisClientLike, options: object) => Promise<T>): Promise<T> {
    if (this.#closed) throw new TierClosedError(`cortado: RedisTier.${what}() after close()`);
    const client = this.#client!;
    if (this.#breaker.isOpen) {
      this.#skipped++;
      throw new RedisUnavailableError(`cortado: Redis ${what} skipped: the circuit breaker is open after repeated failures`);
    }
    this.#inflight++;
    try {
      const v = await deadline(fn(client, this.#commandOptions), this.timeout, () => timeoutError(what, this.timeout));
      this.#breaker.success();
      return v;
    } catch (e) {
      const err = classify(e, this.#ErrorReply, what);
      this.#errors++;
      if (err instanceof RedisReplyError) {
        // The server answered: it is up. Not a reason to open the breaker.
        this.#breaker.success();
      } else {
        if (err instanceof RedisTimeoutError) this.#timeouts++;
        this.#breaker.failure();
      }
      throw err;
    } finally {
      if (--this.#inflight === 0 && this.#drained !== undefined) this.#drained();
    }
  }

  async get(key: TierKey): Promise<TierEntry | undefined> {
    checkTierKey('get', key);
    if (this.#closed) throw new TierClosedError('cortado: RedisTier.get() after close()');
    if (this.#breaker.isOpen) {
      this.#skipped++;
      this.#misses++;
      return undefined;
    }
    const k = this._key(key);
    const reply = (await this._run('get', (client, options) => evalGet(client, options, k))) as [Buffer, number] | null;
    if (reply === null || reply === undefined) {
      this.#misses++;
      return undefined;
    }
    const pttl = reply[1];
    // -1: no expiry. 0 would read as "no expiry" to a caller that passes it on: a miss.
    if (pttl !== -1 && !(pttl > 0)) {
      this.#misses++;
      return undefined;
    }
    let bytes = reply[0];
    if (bytes.buffer.byteLength - bytes.byteLength > PIN_SLACK) bytes = Buffer.from(bytes);
    this.#hits++;
    return { bytes, ttl: pttl === -1 ? Infinity : pttl };
  }

  async set(key: TierKey, bytes: Uint8Array, options?: TierSetOptions): Promise<void> {
    checkTierKey('set', key);
    checkTierBytes('set', bytes);
    const ttl = readTierTtl('set', options);
    if (this.#closed) throw new TierClosedError('cortado: RedisTier.set() after close()');
    const k = this._key(key);
    // A copy: the caller owns `bytes` again as soon as this call settles, even by a timeout.
    const value = Buffer.from(bytes);
    const size = value.byteLength;
    const args = ttl === 0 ? ['SET', k, value] : ['SET', k, value, 'PX', String(Math.min(Math.ceil(ttl), MAX_PX))];
    await this._run('set', (client, o) => client.sendCommand(args, o));
    this.#writes++;
    this.#bytesWritten += size;
  }

  async delete(key: TierKey): Promise<boolean> {
    checkTierKey('delete', key);
    if (this.#closed) throw new TierClosedError('cortado: RedisTier.delete() after close()');
    const k = this._key(key);
    const n = await this._run('delete', (client, o) => client.sendCommand(['UNLINK', k], o));
    return n === 1;
  }

  async clear(): Promise<void> {
    if (this.#closed) throw new TierClosedError('cortado: RedisTier.clear() after close()');
    const match = matchAll(this.prefix);
    let cursor = '0';
    do {
      const reply = (await this._run('clear', (client, o) => client.sendCommand(['SCAN', cursor, 'MATCH', match, 'COUNT', SCAN_COUNT], o))) as [
        Buffer | string,
        Buffer[],
      ];
      cursor = reply[0].toString();
      const keys = reply[1];
      if (keys.length > 0) await this._run('clear', (client, o) => client.sendCommand(['UNLINK', ...keys], o));
    } while (cursor !== '0');
  }

  /** Stops using Redis; calls in flight settle first (each within `timeout`). Closes the client only if the tier made it. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      this.#breaker.dispose();
      const client = this.#client;
      if (client === undefined) return;
      client.off('ready', this.#onReady);
      if (this.#owned) {
        try {
          client.destroy();
        } catch {
          // Already closed.
        }
        // Late 'error' events of the dying socket stay absorbed by our listener.
      } else {
        client.off('error', this.#onError);
      }
    })();
    return this.#closing;
  }

  stats(): RedisTierStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      writes: this.#writes,
      bytesWritten: this.#bytesWritten,
      rejected: 0,
      errors: this.#errors,
      corruptions: 0,
      skipped: this.#skipped,
      timeouts: this.#timeouts,
      breakerOpens: this.#breaker.opens,
      breakerOpen: this.#breaker.isOpen,
    };
  }

  /** Connection errors the client reported (each reconnect attempt while the server is away is one). */
  get connectionErrors(): number {
    return this.#connectionErrors;
  }

  #ping(): Promise<unknown> {
    const client = this.#client;
    if (client === undefined || this.#closed) return Promise.reject(new Error('closed'));
    return deadline(client.sendCommand(['PING']), this.timeout, () => timeoutError('ping', this.timeout));
  }
}

/** The GET + PTTL script by its SHA, or by its text when the server does not know it (yet). */
async function evalGet(client: RedisClientLike, options: object, key: string | Buffer): Promise<unknown> {
  try {
    return await client.sendCommand(['EVALSHA', GET_SHA, '1', key], options);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('NOSCRIPT')) return client.sendCommand(['EVAL', GET_SCRIPT, '1', key], options);
    throw e;
  }
}
