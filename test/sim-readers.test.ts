/** Trace readers: every format, gzip, chunk boundaries, big ids, and malformed input. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  BatchBuilder,
  Int32Parser,
  LisParser,
  OracleParser,
  TextParser,
  TraceError,
  formatFromContent,
  formatFromName,
  inspectTrace,
  parseBuffer,
  readTrace,
  type TraceBatch,
  type TraceKey,
} from '#sim';

const dir = mkdtempSync(join(tmpdir(), 'cortado-sim-readers-'));

function file(name: string, data: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

function flat(batches: TraceBatch[]) {
  const keys: TraceKey[] = [];
  const sizes: number[] = [];
  const next: number[] = [];
  for (const b of batches) {
    assert.equal(b.keys.length, b.count, 'batch count matches its keys');
    keys.push(...b.keys);
    if (b.sizes) sizes.push(...b.sizes);
    if (b.next) next.push(...b.next);
  }
  return { keys, sizes, next };
}

async function readAll(path: string, sized = true) {
  const info = await inspectTrace(path, null);
  const batches: TraceBatch[] = [];
  for await (const b of readTrace(info, sized)) batches.push(b);
  return { info, ...flat(batches) };
}

/** Feed `data` to a parser in pieces of `step` bytes (exercises records split across chunks). */
function feedInPieces(parser: { feed(c: Buffer, o: BatchBuilder): void; end(o: BatchBuilder): void; hasSizes: boolean; hasNext: boolean }, data: Buffer, step: number) {
  const out = new BatchBuilder(parser.hasSizes, parser.hasNext);
  for (let i = 0; i < data.length; i += step) parser.feed(data.subarray(i, i + step), out);
  parser.end(out);
  out.cut(true);
  return flat(out.drain());
}

function int32s(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeInt32BE(v, i * 4));
  return b;
}

/** oracleGeneral records; `id` as bigint, `next` as the 1-based vtime or -1. */
function oracle(records: { ts?: number; id: bigint; size: number; next: number }[]): Buffer {
  const b = Buffer.alloc(records.length * 24);
  records.forEach((r, i) => {
    const o = i * 24;
    b.writeUInt32LE(r.ts ?? i, o);
    b.writeBigUInt64LE(r.id, o + 4);
    b.writeUInt32LE(r.size, o + 12);
    b.writeBigInt64LE(BigInt(r.next), o + 16);
  });
  return b;
}

describe('int32 (.trc.bin)', () => {
  const values = [1, 2, -3, 2147483647, -2147483648, 1, 0];
  test('reads big-endian signed integers, plain and gzip', async () => {
    const plain = await readAll(file('a.trc.bin', int32s(values)));
    assert.equal(plain.info.format, 'int32');
    assert.deepEqual(plain.keys, values);
    const gz = await readAll(file('a.trc.bin.gz', gzipSync(int32s(values))));
    assert.equal(gz.info.gzip, true);
    assert.deepEqual(gz.keys, values);
  });
  test('records split across chunks', () => {
    for (const step of [1, 3, 5, 7]) assert.deepEqual(feedInPieces(new Int32Parser('x'), int32s(values), step).keys, values);
  });
  test('a truncated record is an error naming the file and byte offset', async () => {
    const data = Buffer.concat([int32s([5, 6]), Buffer.from([1, 2, 3])]);
    await assert.rejects(readAll(file('bad.trc.bin', data)), (e: Error) => {
      assert.ok(e instanceof TraceError);
      assert.match(e.message, /bad\.trc\.bin/);
      assert.match(e.message, /byte offset 8\b/);
      return true;
    });
    await assert.rejects(readAll(file('bad.trc.bin.gz', gzipSync(data))), /bad\.trc\.bin\.gz.*byte offset 8 of the decompressed data/);
  });
  test('corrupt gzip is an error naming the file', async () => {
    const gz = gzipSync(int32s(values));
    gz[gz.length - 6] = gz[gz.length - 6]! ^ 0xff; // damage the CRC
    await assert.rejects(readAll(file('crc.trc.bin.gz', gz)), (e: Error) => e instanceof TraceError && /crc\.trc\.bin\.gz/.test(e.message));
  });
  test('a missing file is an error naming it', async () => {
    await assert.rejects(inspectTrace(join(dir, 'nope.trc.bin'), null), /nope\.trc\.bin: cannot read/);
  });
});

describe('oracleGeneral', () => {
  const big = 2n ** 53n + 1n; // not exactly representable as a double
  const records = [
    { id: 7n, size: 512, next: 3 }, // vtime 3 = request index 2
    { id: big, size: 100, next: -1 },
    { id: 7n, size: 512, next: 5 },
    { id: 2n ** 64n - 1n, size: 0, next: -1 },
    { id: 7n, size: 512, next: -1 },
    { id: big - 2n, size: 1, next: -1 }, // 2^53 - 1: the largest exact id
  ];
  test('reads ids, sizes and next-use (1-based vtime -> 0-based index)', async () => {
    const r = await readAll(file('t.oracleGeneral.bin', oracle(records)));
    assert.equal(r.info.format, 'oracle');
    assert.deepEqual(r.keys, [7, '9007199254740993', 7, '18446744073709551615', 7, 2 ** 53 - 1]);
    assert.deepEqual(r.sizes, [512, 100, 512, 0, 512, 1]);
    assert.deepEqual(r.next, [2, -1, 4, -1, -1, -1]);
  });
  test('ids above 2^53 that differ only in the low bits stay distinct', () => {
    const r = parseBuffer('oracle', oracle([{ id: 2n ** 60n, size: 1, next: -1 }, { id: 2n ** 60n + 1n, size: 1, next: -1 }]));
    const keys = flat(r).keys;
    assert.notEqual(keys[0], keys[1]);
    assert.deepEqual(keys, [(2n ** 60n).toString(), (2n ** 60n + 1n).toString()]);
  });
  test('records split across chunks, and gzip', async () => {
    for (const step of [1, 5, 23, 25]) assert.deepEqual(feedInPieces(new OracleParser('x'), oracle(records), step).next, [2, -1, 4, -1, -1, -1]);
    const gz = await readAll(file('t.oracleGeneral.bin.gz', gzipSync(oracle(records))));
    assert.equal(gz.keys.length, records.length);
  });
  test('truncated record: error with the byte offset', () => {
    const data = oracle(records).subarray(0, 24 * 2 + 10);
    assert.throws(() => parseBuffer('oracle', data, 'o.bin'), /o\.bin: truncated oracleGeneral record at byte offset 48/);
  });
  test('a next-access time that does not come later is malformed', () => {
    const data = oracle([{ id: 1n, size: 1, next: -1 }, { id: 1n, size: 1, next: 2 }]);
    assert.throws(() => parseBuffer('oracle', data, 'o.bin'), /o\.bin: record at byte offset 24: next_access_vtime 2/);
  });
});

describe('ARC .lis', () => {
  const text = '10 3 0 0\n5 1 0 1\r\n\n11 2 0 2';
  test('each line expands to nblocks consecutive keys; CRLF and blank lines are fine', async () => {
    const r = await readAll(file('p.lis', text));
    assert.equal(r.info.format, 'lis');
    assert.deepEqual(r.keys, [10, 11, 12, 5, 11, 12]);
  });
  test('lines split across chunks and gzip', async () => {
    for (const step of [1, 2, 7]) assert.deepEqual(feedInPieces(new LisParser('x'), Buffer.from(text), step).keys, [10, 11, 12, 5, 11, 12]);
    assert.deepEqual((await readAll(file('p.lis.gz', gzipSync(text)))).keys, [10, 11, 12, 5, 11, 12]);
  });
  test('a line expanding past a batch boundary loses nothing', () => {
    const r = flat(parseBuffer('lis', Buffer.from('0 70000 0 0\n1000000 70000 0 1\n')));
    assert.equal(r.keys.length, 140_000);
    assert.equal(r.keys[69_999], 69_999);
    assert.equal(r.keys[70_000], 1_000_000);
    assert.equal(r.keys[139_999], 1_069_999);
  });
  test('malformed lines: error with the line number', () => {
    assert.throws(() => parseBuffer('lis', Buffer.from('1 2 0 0\n3 x 0 1\n'), 'p.lis'), /p\.lis: line 2: nblocks "x"/);
    assert.throws(() => parseBuffer('lis', Buffer.from('1 2 0 0\n\n-4 1 0 1\n'), 'p.lis'), /p\.lis: line 3: start_block "-4"/);
    assert.throws(() => parseBuffer('lis', Buffer.from('7\n'), 'p.lis'), /p\.lis: line 1: expected/);
    assert.throws(() => parseBuffer('lis', Buffer.from('1 99999999999 0 0\n'), 'p.lis'), /p\.lis: line 1: nblocks 99999999999 is more than/);
  });
});

describe('text / CSV', () => {
  test('key[,size], header, comments, numeric and string keys', async () => {
    const r = await readAll(file('log.csv', 'key,size\n# a comment\n42,10\nuser:7,3\n007,1\n42,10\n\n"q",2\n12345678901234567890,5\n'));
    assert.equal(r.info.format, 'text');
    assert.deepEqual(r.keys, [42, 'user:7', '007', 42, 'q', '12345678901234567890']);
    assert.deepEqual(r.sizes, [10, 3, 1, 10, 2, 5]);
  });
  test('keys only; tab separator; sizes dropped when not asked for', async () => {
    assert.deepEqual((await readAll(file('keys.txt', 'a\nb\n-3\n'))).keys, ['a', 'b', -3]);
    const t = await readAll(file('t.log', 'a\t4\nb\t5\n'), false);
    assert.deepEqual(t.keys, ['a', 'b']);
    assert.deepEqual(t.sizes, []);
  });
  test('multi-byte characters split across chunks', () => {
    const data = Buffer.from('caf\u00e9,1\n\u65e5\u672c,2\n');
    for (const step of [1, 2, 3]) assert.deepEqual(feedInPieces(new TextParser('x', true), data, step).keys, ['caf\u00e9', '\u65e5\u672c']);
  });
  test('a bad size is an error with the line number', () => {
    assert.throws(() => parseBuffer('text', Buffer.from('a,1\nb,2\nc,lots\n'), 'u.csv'), /u\.csv: line 3: size "lots"/);
    assert.throws(() => parseBuffer('text', Buffer.from('a,1\nb,-2\n'), 'u.csv'), /u\.csv: line 2: size "-2"/);
  });
});

describe('format detection', () => {
  test('by name', () => {
    assert.equal(formatFromName('/x/cpp.trc.bin.gz'), 'int32');
    assert.equal(formatFromName('P3.lis'), 'lis');
    assert.equal(formatFromName('cloudPhysicsIO.oracleGeneral.bin.gz'), 'oracle');
    assert.equal(formatFromName('access.log.gz'), 'text');
    assert.equal(formatFromName('mystery.bin'), null);
  });
  test('by content', async () => {
    assert.equal(formatFromContent(Buffer.from('1 8 0 0\n9 8 0 1\n')), 'lis');
    assert.equal(formatFromContent(Buffer.from('GET /a\nGET /b\n')), 'text');
    assert.equal(formatFromContent(int32s([1, 2, 3])), null);
    assert.equal((await inspectTrace(file('noext', '1 8 0 0\n2 8 0 1\n'), null)).format, 'lis');
    await assert.rejects(inspectTrace(file('noext.bin', int32s([1, 2, 3])), null), /cannot tell the trace format.*--format/);
    assert.equal((await inspectTrace(join(dir, 'noext.bin'), 'int32')).format, 'int32');
  });
});
