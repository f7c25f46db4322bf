/**
 * RedisBus: the `InvalidationBus` (src/tiered/bus.ts) on Redis pub/sub, so that a write in one
 * process drops the stale copies in every other process's memory tier.
 *
 * Shape:
 * - Two connections: one publishes, one is a dedicated subscriber (a subscribed RESP2
 *   connection can run nothing else, and a slow publisher must not delay deliveries).
 * - A message is JSON `[origin, type, keys?]`. `origin` is random per bus instance, so a
 *   process skips its own messages (and two caches in one process still hear each other).
 *   A message that does not parse is treated as a gap: we cannot tell what it invalidated.
 * - Pub/sub delivers at most once and forgets what a disconnected subscriber missed. So when
 *   the subscriber comes back (node-redis reconnects and re-subscribes by itself), the bus
 *   sends a PING on the subscriber connection and calls `onGap` when the PONG arrives: the
 *   server answers in order, so by then SUBSCRIBE is in force and every later message will
 *   arrive; whatever happened before may have been missed. `onGap` also fires once after the
 *   first subscription, since messages published before it were not heard either. It does
 *   not fire when the connection drops: memory keeps serving through an outage (its copies
 *   are at most as stale as the outage is long, and bounded by their ttl).
 * - `publish` races a timer (`timeout`) and rejects on failure or timeout; with the offline
 *   queue off it fails at once while disconnected rather than piling up messages. What failed
 *   is kept and sent again (after 50 ms, doubling to 2 s, and at once when the publisher
 *   reconnects), merged into one message: invalidations are idempotent, so a copy that did
 *   arrive after all costs one extra drop. Past 1,000 keys the backlog becomes one 'clear'
 *   (over-invalidating is safe), so it stays bounded. This matters when the subscribers did
 *   not disconnect (a paused server, a dropped publisher connection): without it they would
 *   keep a stale copy until its ttl.
 *
 * Redis's RESP3 client-side caching (CLIENT TRACKING) would let the server send these
 * invalidations itself; it is not built here (see docs/redis.md).
 */
import { randomBytes } from 'node:crypto';
import type { Invalidation, InvalidationBus } from '../tiered/bus.js';
import { describe } from '../options.js';
import {
  checkKnownOptions,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_TIMEOUT,
  type RedisClientLike,
  checkClient,
  checkMs,
  checkUrl,
  classify,
  createOwnedClient,
  deadline,
  loadRedis,
  timeoutError,
  waitReady,
} from './connection.js';
import { RedisUnavailableError } from './errors.js';

export interface RedisBusOptions {
  /** The server, as for RedisTier; or give `client`. */
  url?: string | undefined;
  /** A node-redis client to publish with; the subscriber is its `duplicate()`. It stays the caller's to close. */
  client?: RedisClientLike | undefined;
  /** The pub/sub channel every process of one cache shares (required), e.g. 'myapp:invalidate'. */
  channel: string;
  /** ms a publish may take (default 100). */
  timeout?: number | undefined;
  /** ms `subscribe()` waits for the first subscription before it rejects; it keeps trying after (default 2000). */
  connectTimeout?: number | undefined;
}

export interface RedisBusStats {
  published: number;
  publishFailures: number;
  /** Messages from other instances handed to `onMessage`. */
  received: number;
  /** Own messages heard back and skipped. */
  ownSkipped: number;
  /** Times `onGap` was called. */
  gaps: number;
  /** Messages that did not parse (each also a gap). */
  malformed: number;
  /** Backlogs of failed publishes sent later. */
  retried: number;
  /** Keys waiting to be sent again (-1: a 'clear' is waiting). */
  pendingRetry: number;
}

/** First retry of a failed publish after 50 ms... */
const RETRY_FIRST_MS = 50;
/** ...doubling up to 2 s. */
const RETRY_MAX_MS = 2_000;
/** A backlog of more keys than this is sent as one 'clear' instead. */
const RETRY_MAX_KEYS = 1_000;

const KNOWN = new Set(['url', 'client', 'channel', 'timeout', 'connectTimeout']);

export class RedisBus implements InvalidationBus {
  readonly channel: string;
  /** This instance's origin id, carried by every message it publishes. */
  readonly origin: string;
  readonly timeout: number;
  readonly #url: string | undefined;
  readonly #userClient: RedisClientLike | undefined;
  readonly #connectTimeout: number;
  #publisher: RedisClientLike | undefined;
  #subscriber: RedisClientLike | undefined;
  #ErrorReply: (new (...args: any[]) => Error) | undefined;
  #starting: Promise<void> | undefined;
  /** Resolves once the publisher first connected (a publish waits for it, within its timeout). */
  #publisherUp: Promise<unknown> = Promise.resolve();
  #subscribed: Promise<void> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #onMessage: ((message: Invalidation) => void) | undefined;
  #onGap: (() => void) | undefined;
  /** Subscriber connections seen ready; every one after the first is a reconnect. */
  #readyCount = 0;
  #published = 0;
  #publishFailures = 0;
  #received = 0;
  #ownSkipped = 0;
  #gaps = 0;
  #malformed = 0;
  #retryKeys = new Set<string>();
  #retryClear = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryDelay = RETRY_FIRST_MS;
  #retrying = false;
  #retried = 0;
  /** Errors the clients reported (reconnect attempts while the server is away). */
  connectionErrors = 0;
  readonly #countError = (): void => {
    this.connectionErrors++;
  };

  constructor(options: RedisBusOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`cortado: RedisBus options must be an object, got ${describe(options)}`);
    checkKnownOptions('RedisBus', options, KNOWN);
    if (options.client !== undefined) {
      this.#userClient = checkClient("RedisBus option 'client'", options.client);
      if (options.url !== undefined) throw new TypeError("cortado: RedisBus takes 'url' or 'client', not both");
    } else {
      this.#url = checkUrl("RedisBus option 'url'", options.url);
    }
    if (typeof options.channel !== 'string' || options.channel === '') {
      throw new TypeError(`cortado: RedisBus option 'channel' must be a non-empty string, got ${describe(options.channel)}`);
    }
    this.channel = options.channel;
    this.timeout = options.timeout === undefined ? DEFAULT_TIMEOUT : checkMs("RedisBus option 'timeout'", options.timeout);
    this.#connectTimeout =
      options.connectTimeout === undefined ? DEFAULT_CONNECT_TIMEOUT : checkMs("RedisBus option 'connectTimeout'", options.connectTimeout);
    this.origin = randomBytes(12).toString('base64url');
  }

  /** Creates the clients once (nothing is loaded or connected before the first call). */
  #start(): Promise<void> {
    this.#starting ??= (async () => {
      const redis = await loadRedis();
      this.#ErrorReply = redis.ErrorReply;
      if (this.#userClient !== undefined) {
        this.#publisher = this.#userClient;
        this.#publisher.on('error', this.#countError);
        this.#subscriber = this.#userClient.duplicate({ disableOfflineQueue: true });
        this.#subscriber.on('error', this.#countError);
        if (!this.#publisher.isOpen) this.#publisherUp = this.#publisher.connect();
        else if (!this.#publisher.isReady) this.#publisherUp = waitReady(this.#publisher);
      } else {
        this.#publisher = await createOwnedClient(this.#url!, this.#connectTimeout, this.#countError);
        this.#subscriber = await createOwnedClient(this.#url!, this.#connectTimeout, this.#countError);
        // Keeps reconnecting in the background. The first publish waits for the first connection
        // (within its timeout); once connected, a publish while disconnected fails at once.
        this.#publisherUp = this.#publisher.connect();
      }
      // Settles late or never (a close() during the first connect rejects it): never unhandled.
      this.#publisherUp.catch(() => {});
      // A reconnected publisher sends the backlog at once rather than at the next retry tick.
      this.#publisher.on('ready', () => {
        this.#retryDelay = RETRY_FIRST_MS;
        void this.#flushRetry();
      });
    })();
    return this.#starting;
  }

  subscribe(onMessage: (message: Invalidation) => void, onGap: () => void): Promise<void> {
    if (this.#closed) return Promise.reject(new RedisUnavailableError('cortado: RedisBus.subscribe() after close()'));
    if (typeof onMessage !== 'function') return Promise.reject(new TypeError(`cortado: RedisBus.subscribe() onMessage must be a function, got ${describe(onMessage)}`));
    if (typeof onGap !== 'function') return Promise.reject(new TypeError(`cortado: RedisBus.subscribe() onGap must be a function, got ${describe(onGap)}`));
    if (this.#subscribed !== undefined) return Promise.reject(new Error('cortado: RedisBus.subscribe() was called already'));
    this.#onMessage = onMessage;
    this.#onGap = onGap;
    const first = new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        this.#readyCount++;
        // The first 'ready' is confirmed by subscribe() resolving below; later ones are reconnects.
        if (this.#readyCount > 1) this.#confirmGap();
      };
      void this.#start().then(async () => {
        const sub = this.#subscriber!;
        sub.on('ready', onReady);
        if (!sub.isOpen) sub.connect().catch(() => {});
        // node-redis keeps a subscription across reconnects; issuing SUBSCRIBE while
        // disconnected fails, so wait for the connection, then subscribe.
        for (;;) {
          if (this.#closed) return;
          if (!sub.isReady) await waitReady(sub);
          if (this.#closed) return;
          try {
            await sub.subscribe(this.channel, this.#listener);
            break;
          } catch {
            // Dropped between ready and SUBSCRIBE: wait for the next ready.
          }
        }
        if (this.#readyCount === 0) this.#readyCount = 1;
        this.#fireGap();
        resolve();
      }).catch(reject);
    });
    // The deadline below may have given up on `first` already; its rejection is handled there.
    first.catch(() => {});
    this.#subscribed = first;
    return deadline(first, this.#connectTimeout, () => new RedisUnavailableError(`cortado: RedisBus could not subscribe within ${this.#connectTimeout} ms (it keeps trying; onGap fires when it does)`));
  }

  readonly #listener = (message: string): void => {
    if (this.#closed) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') {
      this.#malformed++;
      this.#fireGap();
      return;
    }
    if (parsed[0] === this.origin) {
      this.#ownSkipped++;
      return;
    }
    let msg: Invalidation;
    if (parsed[1] === 'c') msg = { type: 'clear' };
    else if (parsed[1] === 'd' && Array.isArray(parsed[2]) && parsed[2].every((k: unknown) => typeof k === 'string')) msg = { type: 'delete', keys: parsed[2] as string[] };
    else {
      this.#malformed++;
      this.#fireGap();
      return;
    }
    this.#received++;
    this.#onMessage!(msg);
  };

  /** After a reconnect: PING on the subscriber, then the gap (SUBSCRIBE is in force by the PONG). */
  #confirmGap(): void {
    const sub = this.#subscriber;
    if (sub === undefined || this.#closed) return;
    sub.sendCommand(['PING']).then(
      () => this.#fireGap(),
      // The connection dropped again: the next 'ready' confirms.
      () => {},
    );
  }

  #fireGap(): void {
    if (this.#closed) return;
    this.#gaps++;
    this.#onGap!();
  }

  async publish(message: Invalidation): Promise<void> {
    if (this.#closed) throw new RedisUnavailableError('cortado: RedisBus.publish() after close()');
    let payload: string;
    if (message !== null && typeof message === 'object' && message.type === 'clear') payload = JSON.stringify([this.origin, 'c']);
    else if (message !== null && typeof message === 'object' && message.type === 'delete' && Array.isArray(message.keys)) {
      for (const k of message.keys) if (typeof k !== 'string') throw new TypeError(`cortado: RedisBus.publish() keys must be strings, got ${describe(k)}`);
      payload = JSON.stringify([this.origin, 'd', message.keys]);
    } else throw new TypeError(`cortado: RedisBus.publish() message must be { type: 'delete', keys } or { type: 'clear' }, got ${describe(message)}`);
    try {
      await this.#send(payload);
      this.#published++;
    } catch (e) {
      this.#publishFailures++;
      this.#keepForRetry(message);
      throw classify(e, this.#ErrorReply, 'publish');
    }
  }

  /** PUBLISH within the timeout (waiting for the first connection counts against it). */
  #send(payload: string): Promise<unknown> {
    const send = async (): Promise<unknown> => {
      await this.#start();
      await this.#publisherUp;
      return this.#publisher!.sendCommand(['PUBLISH', this.channel, payload]);
    };
    return deadline(send(), this.timeout, () => timeoutError('publish', this.timeout));
  }

  /**
   * A message that could not be sent is sent again later, merged with others (invalidations
   * are idempotent, so a copy that did arrive after all costs one extra drop). Past
   * RETRY_MAX_KEYS keys the backlog becomes one 'clear': over-invalidating is safe, and the
   * backlog stays bounded.
   */
  #keepForRetry(message: Invalidation): void {
    if (this.#closed) return;
    if (message.type === 'clear') this.#retryClear = true;
    else if (!this.#retryClear) {
      for (const k of message.keys) this.#retryKeys.add(k);
      if (this.#retryKeys.size > RETRY_MAX_KEYS) this.#retryClear = true;
    }
    if (this.#retryClear) this.#retryKeys.clear();
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#flushRetry();
    }, this.#retryDelay);
    this.#retryTimer.unref();
    this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
  }

  async #flushRetry(): Promise<void> {
    if (this.#closed || this.#retrying || (!this.#retryClear && this.#retryKeys.size === 0)) return;
    this.#retrying = true;
    const clear = this.#retryClear;
    const keys = [...this.#retryKeys];
    this.#retryClear = false;
    this.#retryKeys.clear();
    try {
      await this.#send(clear ? JSON.stringify([this.origin, 'c']) : JSON.stringify([this.origin, 'd', keys]));
      this.#retried++;
      this.#retryDelay = RETRY_FIRST_MS;
    } catch {
      // Put it back (merged with whatever failed meanwhile) and try later.
      if (clear) this.#retryClear = true;
      else if (!this.#retryClear) for (const k of keys) this.#retryKeys.add(k);
      if (this.#retryKeys.size > RETRY_MAX_KEYS) {
        this.#retryClear = true;
        this.#retryKeys.clear();
      }
      this.#retrying = false;
      this.#scheduleRetry();
      return;
    }
    this.#retrying = false;
    // Failures that happened while this one was in flight.
    if (this.#retryClear || this.#retryKeys.size > 0) this.#scheduleRetry();
  }

  stats(): RedisBusStats {
    return {
      published: this.#published,
      publishFailures: this.#publishFailures,
      received: this.#received,
      ownSkipped: this.#ownSkipped,
      gaps: this.#gaps,
      malformed: this.#malformed,
      retried: this.#retried,
      pendingRetry: this.#retryClear ? -1 : this.#retryKeys.size,
    };
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#closing = (async () => {
      if (this.#starting !== undefined) await this.#starting.catch(() => {});
      const sub = this.#subscriber;
      if (sub !== undefined) {
        try {
          sub.destroy();
        } catch {
          // never connected
        }
      }
      const pub = this.#publisher;
      if (pub !== undefined) {
        if (this.#userClient === undefined) {
          try {
            pub.destroy();
          } catch {
            // never connected
          }
        } else pub.off('error', this.#countError);
      }
    })();
    return this.#closing;
  }
}
