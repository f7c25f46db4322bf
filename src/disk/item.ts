/**
 * The on-disk item: one format for region items and bucket items.
 *
 *   0  u32 magic     ITEM_MAGIC while live; zeroed in place to delete ("punch") the item
 *   4  u32 crc32     over bytes [8, end): header fields, key and value
 *   8  u32 epoch     the directory's epoch when written; clear() moves the epoch on
 *  12  u32 region    the region's write sequence (0 in buckets): a stale item left in a
 *                    region's tail by an interrupted rewrite has an older one and is ignored
 *  16  f64 seq       the tier's write sequence: the newest copy of a key wins at recovery
 *  24  f64 expires   absolute expiry in clock ms, 0 for none
 *  32  u16 keyLen
 *  34  u16 flags     0 (reserved)
 *  36  u32 valueLen
 *  40  key bytes, value bytes
 *
 * Why the magic is outside the checksum: deleting an item on disk is then one 4-byte write
 * that leaves the rest verifiable, so recovery can tell a deleted item (magic 0, checksum
 * good: skip it and go on) from a torn or flipped one (checksum bad: stop). Why a sequence
 * number and an epoch per item rather than per region: buckets rewrite items one at a time,
 * and recovery must order copies of one key found in different places.
 */
export const ITEM_MAGIC = 0x31494443; // 'CDI1' little-endian
export const ITEM_HEADER = 40;

/** What parseItem found. */
export const enum ItemStatus {
  Live = 0,
  /** Punched (deleted): skip it; its length fields are good. */
  Dead = 1,
  /** Not an item of ours (torn, flipped, stale garbage): stop parsing here. */
  Bad = 2,
}

/** Fields of the last parsed item (one reusable object, nothing allocated per parse). */
export interface ParsedItem {
  epoch: number;
  region: number;
  seq: number;
  expires: number;
  keyLen: number;
  valueLen: number;
  /** Offset of the key in the buffer; the value follows it. */
  keyAt: number;
  /** Total bytes of the item (header + key + value). */
  size: number;
}

export function newParsed(): ParsedItem {
  return { epoch: 0, region: 0, seq: 0, expires: 0, keyLen: 0, valueLen: 0, keyAt: 0, size: 0 };
}

/** Bytes an item takes before alignment. */
export function itemSize(keyLen: number, valueLen: number): number {
  return ITEM_HEADER + keyLen + valueLen;
}

import { crc32 } from './crc32.js';

/** Writes an item at `at` in `buf`; returns its size. The caller checked that it fits. */
export function writeItem(
  buf: Buffer, at: number, epoch: number, region: number, seq: number, expires: number,
  key: Uint8Array, value: Uint8Array,
): number {
  buf.writeUInt32LE(epoch >>> 0, at + 8);
  buf.writeUInt32LE(region >>> 0, at + 12);
  buf.writeDoubleLE(seq, at + 16);
  buf.writeDoubleLE(expires, at + 24);
  buf.writeUInt16LE(key.length, at + 32);
  buf.writeUInt16LE(0, at + 34);
  buf.writeUInt32LE(value.length, at + 36);
  buf.set(key, at + ITEM_HEADER);
  buf.set(value, at + ITEM_HEADER + key.length);
  const end = at + ITEM_HEADER + key.length + value.length;
  buf.writeUInt32LE(crc32(buf, at + 8, end), at + 4);
  buf.writeUInt32LE(ITEM_MAGIC, at);
  return end - at;
}

/** Parses the item at `at`, not reading past `limit`; fills `out`. */
export function parseItem(buf: Buffer, at: number, limit: number, out: ParsedItem): ItemStatus {
  if (at + ITEM_HEADER > limit) return ItemStatus.Bad;
  const magic = buf.readUInt32LE(at);
  if (magic !== ITEM_MAGIC && magic !== 0) return ItemStatus.Bad;
  const keyLen = buf.readUInt16LE(at + 32);
  const valueLen = buf.readUInt32LE(at + 36);
  const end = at + ITEM_HEADER + keyLen + valueLen;
  if (end > limit || end < at) return ItemStatus.Bad;
  if (crc32(buf, at + 8, end) !== buf.readUInt32LE(at + 4)) return ItemStatus.Bad;
  out.epoch = buf.readUInt32LE(at + 8);
  out.region = buf.readUInt32LE(at + 12);
  out.seq = buf.readDoubleLE(at + 16);
  out.expires = buf.readDoubleLE(at + 24);
  out.keyLen = keyLen;
  out.valueLen = valueLen;
  out.keyAt = at + ITEM_HEADER;
  out.size = end - at;
  return magic === 0 ? ItemStatus.Dead : ItemStatus.Live;
}

/** Whether the key stored at out.keyAt equals `key`. */
export function sameKey(buf: Buffer, out: ParsedItem, key: Uint8Array): boolean {
  if (out.keyLen !== key.length) return false;
  const at = out.keyAt;
  for (let i = 0; i < key.length; i++) if (buf[at + i] !== key[i]) return false;
  return true;
}
