/**
 * RedisLock: a short lock with expiry on the Redis of a RedisTier, to make concurrent misses
 * of one key single-flight across processes (the stampede a cold key causes when every pod
 * misses it at once).
 *
 * The lock is `SET <lock key> <token> NX PX <ttl>` with a random token; release is a Lua
 * compare-and-delete, so a holder whose lock expired cannot delete the lock a newer holder
 * took (the single-instance lock of the Redis documentation; not Redlock, which needs several
 * independent servers and buys nothing for a cache, where a duplicate load is merely waste).
 * The lock's `ttl` bounds how long a holder that died blocks the others.
 *
 * `singleFlight(key, load, reread)` is the whole dance, in the order that keeps it correct:
 * 1. Calls for the same key in this process share one flight (no Redis traffic for them).
 * 2. Try the lock. The winner runs `load` (which is expected to write the shared tier) and
 *    releases the lock.
 * 3. A loser waits until the lock is gone (released or expired; polled with `PTTL`, first
 *    after 1 ms, doubling up to 50 ms, never past the lock's expiry), then `reread`s the
 *    shared tier. A value there is the answer; none (the holder failed or died) means it
 *    tries the lock again, up to `attempts` times, then loads by itself.
 * 4. When Redis cannot be asked (down, breaker open, timeout), it loads by itself: a lock is
 *    an optimisation, never a reason to fail a read.
 * So the loader runs once per cold key across all processes when loads finish within the
 * lock ttl, and at most once per process otherwise.
 */
import { randomBytes } from 'node:crypto';
import { type Codec, type CodecName, resolveCodec } from '../codec.js';
import { describe } from '../options.js';
import { checkTierKey } from '../tiered/args.js';
import type { TierKey } from '../tiered/tier.js';
import { checkInt, checkKnownOptions, checkMs } from './connection.js';
import type { RedisTier } from './redis-tier.js';

export interface RedisLockOptions {
  /** ms a lock lives unless released: the longest a dead holder blocks others; longer than a load (default 5000). */
  ttl?: number | undefined;
  /** Inserted between the tier's prefix and the key (default 'lock:'); lock keys are `prefix + lockPrefix + key`. */
  lockPrefix?: string | undefined;
  /** Times a caller waits for another holder before it loads by itself (default 3). */
  attempts?: number | undefined;
}

/** A lock this process holds. */
export interface RedisLockHandle {
  readonly key: TierKey;
  readonly token: string;
  /** Deletes the lock if this handle still holds it; resolves whether it did. */
  release(): Promise<boolean>;
}

/** How `wrap` turns a TieredCache loader into a cross-process single-flight one. */
export interface RedisLockWrapOptions<K, V> {
  /** The codec of the TieredCache (default 'v8', as TieredCache's). */
  codec?: Codec<V> | CodecName | undefined;
  /** The ttl in ms the loaded value is written to Redis with (0 or absent: none); use the TieredCache's `ttl`. */
  ttl?: number | undefined;
  /** The TieredCache's `key` option, if it has one (default: strings and Uint8Arrays as they are, others String(key)). */
  key?: ((key: K) => TierKey) | undefined;
}

/** A TieredCache loader, structurally (cortado/tiered's TieredLoader). */
export type LockedLoader<K, V> = (key: K, ctx: { signal: AbortSignal }) => Promise<V | undefined> | V | undefined;

export interface RedisLockStats {
  /** Locks taken. */
  acquired: number;
  /** Tries that found the lock held elsewhere. */
  contended: number;
  /** Waits that ended with the value found in the shared tier. */
  servedByOthers: number;
  /** Loads run without the lock because Redis could not be asked. */
  unlockedLoads: number;
}

const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
/** First poll of a held lock after 1 ms (a load from a nearby database takes about that), doubling... */
const FIRST_POLL_MS = 1;
/** ...up to 50 ms, so a waiter is at most that late. */
const MAX_POLL_MS = 50;

const KNOWN = new Set(['ttl', 'lockPrefix', 'attempts']);

export class RedisLock {
  readonly tier: RedisTier;
  readonly ttl: number;
  readonly lockPrefix: string;
  readonly attempts: number;
  readonly #flights = new Map<string, Promise<unknown>>();
  #acquired = 0;
  #contended = 0;
  #servedByOthers = 0;
  #unlockedLoads = 0;

  constructor(tier: RedisTier, options: RedisLockOptions = {}) {
    if (tier === null || typeof tier !== 'object' || typeof (tier as { _run?: unknown })._run !== 'function') {
      throw new TypeError(`cortado: RedisLock needs a RedisTier, got ${describe(tier)}`);
    }
    if (options === null || typeof options !== 'object') throw new TypeError(`cortado: RedisLock options must be an object, got ${describe(options)}`);
    checkKnownOptions('RedisLock', options, KNOWN);
    this.tier = tier;
    this.ttl = options.ttl === undefined ? 5_000 : Math.ceil(checkMs("RedisLock option 'ttl'", options.ttl));
    const lp = options.lockPrefix ?? 'lock:';
    if (typeof lp !== 'string') throw new TypeError(`cortado: RedisLock option 'lockPrefix' must be a string, got ${describe(lp)}`);
    this.lockPrefix = lp;
    this.attempts = options.attempts === undefined ? 3 : checkInt("RedisLock option 'attempts'", options.attempts);
  }

  #lockKey(key: TierKey): string | Buffer {
    if (typeof key === 'string') return this.tier._key(this.lockPrefix + key);
    const lp = Buffer.from(this.lockPrefix, 'utf8');
    const out = Buffer.allocUnsafe(lp.byteLength + key.byteLength);
    lp.copy(out, 0);
    out.set(key, lp.byteLength);
    return this.tier._key(out);
  }

  /** Takes the lock of `key` for `ttl` ms; resolves undefined when another holder has it. Rejects when Redis cannot be asked. */
  async acquire(key: TierKey): Promise<RedisLockHandle | undefined> {
    checkTierKey('acquire', key);
    const lk = this.#lockKey(key);
    const token = randomBytes(16).toString('base64url');
    const reply = await this.tier._run('lock', (client, o) => client.sendCommand(['SET', lk, token, 'NX', 'PX', String(this.ttl)], o));
    if (reply === null) {
      this.#contended++;
      return undefined;
    }
    this.#acquired++;
    const tier = this.tier;
    return {
      key,
      token,
      release: async () => {
        const n = await tier._run('unlock', (client, o) => client.sendCommand(['EVAL', RELEASE_SCRIPT, '1', lk, token], o));
        return n === 1;
      },
    };
  }

  /** Resolves once the lock of `key` is free (released or expired); rejects when Redis cannot be asked. */
  async released(key: TierKey): Promise<void> {
    checkTierKey('released', key);
    const lk = this.#lockKey(key);
    let wait = FIRST_POLL_MS;
    for (;;) {
      const pttl = (await this.tier._run('lock wait', (client, o) => client.sendCommand(['PTTL', lk], o))) as number;
      // -2: no lock. -1 cannot happen for our locks (always PX); treat as free so nobody waits forever.
      if (pttl < 0) return;
      await sleep(Math.min(wait, pttl + 1));
      wait = Math.min(wait * 2, MAX_POLL_MS);
    }
  }

  /**
   * The value of `key`, loaded at most once across processes while loads fit in the lock ttl.
   * `load` computes the value and writes it to the shared tier; `reread` reads the shared tier
   * (resolving undefined on a miss). Errors of `load` reach every caller of this process that
   * shared the flight; errors of Redis never do (the caller loads by itself).
   */
  singleFlight<T>(key: TierKey, load: () => Promise<T>, reread: () => Promise<T | undefined>): Promise<T> {
    checkTierKey('singleFlight', key);
    const id = typeof key === 'string' ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    const existing = this.#flights.get(id);
    if (existing !== undefined) return existing as Promise<T>;
    const flight = this.#fly(key, load, reread).finally(() => this.#flights.delete(id));
    this.#flights.set(id, flight);
    return flight;
  }

  async #fly<T>(key: TierKey, load: () => Promise<T>, reread: () => Promise<T | undefined>): Promise<T> {
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      let handle: RedisLockHandle | undefined;
      try {
        handle = await this.acquire(key);
      } catch {
        this.#unlockedLoads++;
        return load();
      }
      if (handle !== undefined) {
        try {
          return await load();
        } finally {
          // A failed release only means others wait for the expiry.
          handle.release().catch(() => {});
        }
      }
      try {
        await this.released(key);
        const found = await reread();
        if (found !== undefined) {
          this.#servedByOthers++;
          return found;
        }
      } catch {
        this.#unlockedLoads++;
        return load();
      }
    }
    this.#unlockedLoads++;
    return load();
  }

  /**
   * `loader` made single-flight across processes, for TieredCache's `loader` option: the lock
   * holder loads and writes the value to this lock's RedisTier before it releases the lock,
   * and a waiter reads it from there (so TieredCache's own write of the value after the load
   * writes the same bytes again, which is harmless).
   */
  wrap<K, V>(loader: LockedLoader<K, V>, options: RedisLockWrapOptions<K, V> = {}): LockedLoader<K, V> {
    if (typeof loader !== 'function') throw new TypeError(`cortado: RedisLock.wrap() loader must be a function, got ${describe(loader)}`);
    const codec = resolveCodec<V>("RedisLock.wrap() option 'codec'", options.codec, 'v8');
    const ttl = options.ttl ?? 0;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) {
      throw new RangeError(`cortado: RedisLock.wrap() option 'ttl' must be a finite number of milliseconds >= 0, got ${describe(ttl)}`);
    }
    const keyOf = options.key ?? ((k: K): TierKey => (typeof k === 'string' || k instanceof Uint8Array ? k : String(k)));
    const tier = this.tier;
    return (key, ctx) => {
      const tk = keyOf(key);
      return this.singleFlight<V | undefined>(
        tk,
        async () => {
          const v = await loader(key, ctx);
          if (v !== undefined) {
            try {
              await tier.set(tk, codec.encode(v), { ttl });
            } catch {
              // Waiters then find nothing and load by themselves: slower, not wrong.
            }
          }
          return v;
        },
        async () => {
          const e = await tier.get(tk);
          return e === undefined ? undefined : codec.decode(e.bytes);
        },
      );
    };
  }

  stats(): RedisLockStats {
    return { acquired: this.#acquired, contended: this.#contended, servedByOthers: this.#servedByOthers, unlockedLoads: this.#unlockedLoads };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
