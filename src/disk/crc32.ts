/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial) over byte ranges, for the disk tier's item,
 * bucket and index checksums.
 *
 * Why two paths: `zlib.crc32` (Node 20.15+, 22.2+) is native and runs at several GB/s, which
 * matters because every get of a large item checksums the whole value. Older Node 20 releases
 * lack it, so a table-driven fallback (one 256-entry table, a byte at a time) computes the
 * same function; both are checked against each other in the tests.
 */
import * as zlib from 'node:zlib';

type NativeCrc = (data: Uint8Array, value?: number) => number;
const native: NativeCrc | undefined = typeof (zlib as { crc32?: unknown }).crc32 === 'function'
  ? (zlib as unknown as { crc32: NativeCrc }).crc32
  : undefined;

let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** The table-driven CRC-32 of bytes[start, end), continuing from `value` (0 to start). */
export function crc32Table(bytes: Uint8Array, start = 0, end = bytes.length, value = 0): number {
  const t = (table ??= makeTable());
  let c = ~value;
  for (let i = start; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of bytes[start, end), continuing from `value`; native when Node has it. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length, value = 0): number {
  if (native !== undefined) {
    return native(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), value) >>> 0;
  }
  return crc32Table(bytes, start, end, value);
}

/** Whether the native zlib.crc32 is in use (for stats and the docs). */
export const nativeCrc32 = native !== undefined;
