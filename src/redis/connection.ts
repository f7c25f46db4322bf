/**
 * What RedisTier, RedisBus and RedisLock share: loading the Redis client (node-redis, the
 * `redis` package, an optional peer) on first use, the options they have in common, and a
 * command sent with a hard deadline.
 *
 * Why node-redis: it is the client Redis itself maintains (ioredis's README now calls its own
 * maintenance best-effort), it speaks RESP3, and its type mapping returns bulk strings as
 * Buffers, so values and keys stay bytes end to end.
 *
 * Why a deadline of our own: node-redis's per-command `timeout` option only covers the time a
 * command waits to be written; once written, a command waits for its reply for as long as the
 * socket stays open, and a server stopped with SIGSTOP keeps it open. So every command here
 * races a timer. A command that loses the race stays in the client's reply queue (replies
 * must still be matched in order) and is simply ignored when its reply comes; the circuit
 * breaker keeps that queue short while the server is hung.
 *
 * Why `disableOfflineQueue`: while the connection is down, node-redis would otherwise queue
 * every command without bound and send them all on reconnect (a burst of stale writes);
 * with it, a command fails at once and the breaker opens.
 *
 * The client is imported with a dynamic import(), so `cortado` and its other subpaths never
 * load it.
 */
import { describe } from '../options.js';
import { RedisReplyError, RedisTimeoutError, RedisUnavailableError } from './errors.js';

/** The part of a node-redis (v5) client that cortado uses; a `RedisClientType` is one. */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  destroy(): void;
  sendCommand(args: ReadonlyArray<string | Buffer>, options?: any): Promise<unknown>;
  duplicate(overrides?: any): RedisClientLike;
  subscribe(channels: string, listener: (message: any, channel: any) => unknown, bufferMode?: boolean): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

interface RedisModule {
  createClient(options?: object): RedisClientLike;
  RESP_TYPES: { BLOB_STRING: number };
  ErrorReply: new (...args: any[]) => Error;
}

let loaded: Promise<RedisModule> | undefined;

/** The `redis` package, imported once; a clear error when it is not installed. */
export function loadRedis(): Promise<RedisModule> {
  loaded ??= import('redis').then(
    (m) => m as unknown as RedisModule,
    (e: unknown) => {
      loaded = undefined;
      throw new Error("cortado/redis needs the 'redis' package (node-redis v5 or later): npm install redis", { cause: e });
    },
  );
  return loaded;
}

/** Default ms a single Redis call may take. */
export const DEFAULT_TIMEOUT = 100;
/** Default ms the first connection may take in `connect()` / `subscribe()`. */
export const DEFAULT_CONNECT_TIMEOUT = 2_000;

/** A `redis://` or `rediss://` URL with a host, as a string; a TypeError naming `name` otherwise. */
/** Refuse an option `what` does not know (a misspelt option would otherwise be silently ignored). */
export function checkKnownOptions(what: string, options: object, known: ReadonlySet<string>): void {
  for (const k of Object.keys(options)) {
    if (!known.has(k)) throw new TypeError(`cortado: unknown ${what} option ${JSON.stringify(k)}`);
  }
}

export function checkUrl(name: string, url: unknown): string {
  if (typeof url !== 'string') throw new TypeError(`cortado: ${name} must be a redis:// or rediss:// URL string, got ${describe(url)}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`cortado: ${name} must be a redis:// or rediss:// URL, got ${describe(url)} (not a URL)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`cortado: ${name} must be a redis:// or rediss:// URL, got ${describe(url)} (protocol ${parsed.protocol})`);
  }
  if (parsed.hostname === '') throw new TypeError(`cortado: ${name} must name a host, got ${describe(url)}`);
  return url;
}

/** A positive finite number of ms; a RangeError naming `name` otherwise. */
export function checkMs(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`cortado: ${name} must be a positive finite number of milliseconds, got ${describe(v)}`);
  }
  return v;
}

/** A positive integer; a RangeError naming `name` otherwise. */
export function checkInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`cortado: ${name} must be a positive integer, got ${describe(v)}`);
  }
  return v;
}

/** A node-redis client given as an option: it must look like one. */
export function checkClient(name: string, client: unknown): RedisClientLike {
  const c = client as Record<string, unknown> | null;
  if (c === null || typeof c !== 'object' || typeof c.sendCommand !== 'function' || typeof c.connect !== 'function' || typeof c.duplicate !== 'function') {
    throw new TypeError(`cortado: ${name} must be a node-redis client (createClient() of the 'redis' package), got ${describe(client)}`);
  }
  return client as RedisClientLike;
}

/** Reconnect after 50, 100, 200, ... ms, at most 1 s apart: a restarted server is found within a second. */
function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 5), 1_000);
}

/** A node-redis client of our own: offline queue off, quick reconnects, errors absorbed by `onError`. */
export async function createOwnedClient(url: string, connectTimeout: number, onError: (e: unknown) => void): Promise<RedisClientLike> {
  const redis = await loadRedis();
  const client = redis.createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout, reconnectStrategy: reconnectDelay },
  });
  // An EventEmitter 'error' without a listener would throw: every error is counted instead.
  client.on('error', onError);
  return client;
}

export { deadline } from '../internal/deadline.js';

/** What kind of failure `e` is, as a cortado error. */
export function classify(e: unknown, ErrorReply: (new (...args: any[]) => Error) | undefined, what: string): Error {
  if (e instanceof RedisTimeoutError || e instanceof RedisUnavailableError || e instanceof RedisReplyError) return e;
  if (ErrorReply !== undefined && e instanceof ErrorReply) {
    return new RedisReplyError(`cortado: Redis refused ${what}: ${e.message}`, { cause: e });
  }
  return new RedisUnavailableError(`cortado: Redis ${what} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** Rejects with a RedisTimeoutError. */
export function timeoutError(what: string, ms: number): RedisTimeoutError {
  return new RedisTimeoutError(`cortado: Redis ${what} took longer than ${ms} ms`, ms);
}

/** Resolves on the client's next 'ready'. */
export function waitReady(client: RedisClientLike): Promise<void> {
  return new Promise((resolve) => {
    const on = (): void => {
      client.off('ready', on);
      resolve();
    };
    client.on('ready', on);
  });
}
