/**
 * Argument checks every tier needs (key, bytes, ttl), written once so that the memory, disk and
 * Redis tiers reject the same bad input with the same error classes and messages.
 *
 * Why here and not in each tier: the conformance suite (test/tier-conformance.ts) holds every
 * tier to "a TypeError/RangeError naming the argument, nothing changed"; sharing the checks
 * makes that a property of one function rather than of three copies.
 */
import { describe } from '../options.js';
import type { TierKey, TierSetOptions } from './tier.js';

const utf8 = new TextEncoder();

/** Throws a TypeError unless `key` is a string or a Uint8Array. `where` names the call ('get', ...). */
export function checkTierKey(where: string, key: unknown): asserts key is TierKey {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw new TypeError(`cortado: ${where}() key must be a string or a Uint8Array, got ${describe(key)}`);
  }
}

/** Throws a TypeError unless `bytes` is a Uint8Array (a Buffer is one). */
export function checkTierBytes(where: string, bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`cortado: ${where}() bytes must be a Uint8Array or Buffer, got ${describe(bytes)}`);
  }
}

/**
 * The ttl in ms of a tier set's options: 0 for none (absent, undefined, 0). A ttl that is not
 * a number is a TypeError; a negative, NaN or infinite one a RangeError (callers pass 0 for
 * "no expiry", never Infinity, so every backend can store the number as it is).
 */
export function readTierTtl(where: string, options: TierSetOptions | undefined): number {
  if (options === undefined) return 0;
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`cortado: ${where}() options must be an object, got ${describe(options)}`);
  }
  const ttl: unknown = options.ttl;
  if (ttl === undefined) return 0;
  if (typeof ttl !== 'number') throw new TypeError(`cortado: ${where}() ttl must be a number of milliseconds, got ${describe(ttl)}`);
  if (!Number.isFinite(ttl) || ttl < 0) {
    throw new RangeError(`cortado: ${where}() ttl must be a finite number of milliseconds >= 0 (0: no expiry), got ${describe(ttl)}`);
  }
  return ttl;
}

/**
 * A key's identity as a string: the key's bytes (a string's UTF-8 bytes) one char per byte.
 * 'abc' and Uint8Array [0x61, 0x62, 0x63] are the same key; [0xff] and [0xfe] are not.
 */
export function tierKeyId(key: TierKey): string {
  if (typeof key === 'string') {
    // ASCII strings are their own byte string; others go through UTF-8.
    let ascii = true;
    for (let i = 0; i < key.length; i++) {
      if (key.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return key;
    return latin1(utf8.encode(key));
  }
  return latin1(key);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
