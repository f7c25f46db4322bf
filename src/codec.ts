/**
 * Codecs: how a value becomes bytes and back, for every part of cortado that stores bytes
 * (the worker-shared cache, the disk tier, the Redis tier).
 *
 * Why a named interface rather than a pair of functions: serialization often costs more than
 * the cache itself (v8.serialize of a small object is a few microseconds, a Map lookup tens
 * of nanoseconds), so the choice must be visible and swappable per cache. The `bytes` codec
 * stores a Uint8Array as it is, which is what lets a user skip serialization entirely.
 *
 * Contract: `decode(encode(v))` gives back a value equal to `v` in the codec's own sense
 * (same bytes, same string, same JSON, same structured clone). `encode` throws a TypeError
 * that names the codec for a value it cannot represent, before anything is stored.
 * `decode` may be given bytes that were corrupted; it throws rather than return garbage when
 * it can tell (json, v8), and callers treat a throw as a miss.
 */
import { deserialize, serialize } from 'node:v8';
import { describe } from './options.js';

export interface Codec<V> {
  /** A short name for messages and stats ('bytes', 'utf8', 'json', 'v8', or the user's). */
  readonly name: string;
  /** The bytes of `value`; throws a TypeError naming the codec when it cannot encode it. */
  encode(value: V): Uint8Array;
  /** The value that `bytes` encode. */
  decode(bytes: Uint8Array): V;
}

/** Names of the built-in codecs, accepted wherever a `codec` option is. */
export type CodecName = 'bytes' | 'utf8' | 'json' | 'v8';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Uint8Array (Buffer included) stored as it is; decode returns a view of the bytes given. */
export const bytesCodec: Codec<Uint8Array> = {
  name: 'bytes',
  encode(value: Uint8Array): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`cortado: the 'bytes' codec takes a Uint8Array or Buffer, got ${describe(value)}`);
    }
    return value;
  },
  decode(bytes: Uint8Array): Uint8Array {
    return bytes;
  },
};

/** Strings as UTF-8. */
export const utf8Codec: Codec<string> = {
  name: 'utf8',
  encode(value: string): Uint8Array {
    if (typeof value !== 'string') {
      throw new TypeError(`cortado: the 'utf8' codec takes a string, got ${describe(value)}`);
    }
    return encoder.encode(value);
  },
  decode(bytes: Uint8Array): string {
    return decoder.decode(bytes);
  },
};

/** JSON text as UTF-8: plain data only (no undefined at the top, functions, symbols, bigints or cycles). */
export const jsonCodec: Codec<unknown> = {
  name: 'json',
  encode(value: unknown): Uint8Array {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new TypeError(`cortado: the 'json' codec cannot encode this value: ${(e as Error).message}`, { cause: e });
    }
    if (text === undefined) {
      throw new TypeError(`cortado: the 'json' codec cannot encode ${describe(value)}`);
    }
    return encoder.encode(text);
  },
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(decoder.decode(bytes));
  },
};

/**
 * The structured-clone format of `node:v8`: Date, Map, Set, BigInt, RegExp, typed arrays and
 * Buffers come back as they went in (a Buffer comes back as a Buffer). Functions and symbols
 * cannot be encoded.
 */
export const v8Codec: Codec<unknown> = {
  name: 'v8',
  encode(value: unknown): Uint8Array {
    try {
      return serialize(value);
    } catch (e) {
      throw new TypeError(`cortado: the 'v8' codec cannot encode this value: ${(e as Error).message}`, { cause: e });
    }
  },
  decode(bytes: Uint8Array): unknown {
    return deserialize(bytes);
  },
};

/** The one registry of built-in codecs. */
export const CODECS: Readonly<Record<CodecName, Codec<unknown>>> = {
  bytes: bytesCodec as Codec<unknown>,
  utf8: utf8Codec as Codec<unknown>,
  json: jsonCodec,
  v8: v8Codec,
};

/**
 * The codec an option names or gives; `option` names the option in errors. A user codec must
 * have `encode` and `decode` functions.
 */
export function resolveCodec<V>(option: string, codec: Codec<V> | CodecName | undefined, fallback: CodecName): Codec<V> {
  if (codec === undefined) return CODECS[fallback] as Codec<V>;
  if (typeof codec === 'string') {
    const found = (CODECS as Record<string, Codec<unknown>>)[codec];
    if (found === undefined) {
      throw new TypeError(`cortado: ${option} must be one of ${Object.keys(CODECS).map((n) => `'${n}'`).join(', ')} or a { encode, decode } object, got ${describe(codec)}`);
    }
    return found as Codec<V>;
  }
  if (codec === null || typeof codec !== 'object' || typeof codec.encode !== 'function' || typeof codec.decode !== 'function') {
    throw new TypeError(`cortado: ${option} must be a codec name or an object with encode() and decode(), got ${describe(codec)}`);
  }
  return codec;
}
