/**
 * Streaming trace readers for the simulator.
 *
 * A trace can be many gigabytes, so nothing here holds a whole file: bytes flow from the file
 * (through gunzip when the name ends in `.gz`) into a small per-format parser that turns them
 * into batches of requests. Parsers keep only the bytes of one unfinished record or line
 * between chunks, and count where they are so that a malformed trace is reported by file and
 * byte offset (binary formats) or line number (text formats).
 *
 * Formats (see ../shared/traces/README.md):
 *  - `int32`:  flat 32-bit big-endian signed integers, one request each (the LIRS and cache2k
 *              `.trc.bin` traces).
 *  - `lis`:    ARC's text format (Megiddo & Modha, FAST'03): `start nblocks ignore reqno` per
 *              line, standing for requests to start, start+1, ..., start+nblocks-1.
 *  - `oracle`: libCacheSim's oracleGeneral, 24-byte little-endian records
 *              `{u32 timestamp; u64 obj_id; u32 obj_size; i64 next_access_vtime}`. The vtime is
 *              1-based (the request at 0-based index i names its successor as j+1), -1 for
 *              none; we convert it to a 0-based index, and check while reading that every
 *              key's requests name each other in order (a trace whose next-access times do
 *              not match its keys would give an optimum below the online policies).
 *  - `text`:   a user's own log, `key[,size]` per line (comma or tab separated); `#` comments
 *              and blank lines are skipped, and a first line with nothing numeric in it
 *              (`key,size`) is taken for a header; a size that is a malformed number is an
 *              error, on the first line too.
 *
 * Keys are numbers whenever the id is an integer that a double holds exactly (fast Map and
 * hash paths); larger ids (oracleGeneral's u64 above 2^53) and non-numeric text keys are
 * strings, so distinct ids stay distinct.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { StringDecoder } from 'node:string_decoder';
import { basename } from 'node:path';

/** A request key as the simulator sees it. */
export type TraceKey = number | string;

export type TraceFormat = 'int32' | 'lis' | 'oracle' | 'text';
export const TRACE_FORMATS: readonly TraceFormat[] = ['int32', 'lis', 'oracle', 'text'];

/** A run of consecutive requests. */
export interface TraceBatch {
  /** Number of requests in this batch. */
  count: number;
  keys: TraceKey[];
  /** Object size of each request (bytes), when the format carries sizes. */
  sizes: number[] | null;
  /** 0-based index (in the whole trace) of the next request for the same key, -1 for none. */
  next: number[] | null;
  /**
   * Progress units this batch accounts for (decompressed bytes of the file for traces,
   * requests for the built-in workloads); the batches of one pass add up to its total.
   */
  units?: number;
}

/** A malformed or unreadable trace; the message names the file and where. */
export class TraceError extends Error {
  readonly code = 'ERR_CORTADO_TRACE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TraceError';
  }
}

/** Requests per batch handed to the simulator. */
const BATCH = 1 << 16;
/** Read size: large reads keep the per-chunk overhead negligible. */
const READ_CHUNK = 1 << 20;

/** Most requests one ARC line may stand for: lines are expanded in memory, so a wild value must not be. */
const MAX_LIS_BLOCKS = 1 << 24;

/** Collects parsed requests and hands out full batches. */
export class BatchBuilder {
  keys: TraceKey[] = [];
  sizes: number[] | null;
  next: number[] | null;
  private readonly full: TraceBatch[] = [];

  constructor(readonly hasSizes: boolean, readonly hasNext: boolean) {
    this.sizes = hasSizes ? [] : null;
    this.next = hasNext ? [] : null;
  }

  get length(): number {
    return this.keys.length;
  }

  /** Move the collected requests into a batch once there are enough (or `force`). */
  cut(force: boolean): void {
    if (this.keys.length === 0 || (!force && this.keys.length < BATCH)) return;
    this.full.push({ count: this.keys.length, keys: this.keys, sizes: this.sizes, next: this.next });
    this.keys = [];
    this.sizes = this.hasSizes ? [] : null;
    this.next = this.hasNext ? [] : null;
  }

  drain(): TraceBatch[] {
    const out = this.full.splice(0, this.full.length);
    return out;
  }
}

/** A format parser: sees the decompressed bytes in order, chunk by chunk. */
export interface Parser {
  readonly hasSizes: boolean;
  readonly hasNext: boolean;
  feed(chunk: Buffer, out: BatchBuilder): void;
  /** The data ended; throw if it ended inside a record. */
  end(out: BatchBuilder): void;
}

/** Canonical non-negative decimal integer that a double holds exactly -> number; else null. */
function safeInt(s: string): number | null {
  if (s.length === 0 || s.length > 16) return null;
  const c0 = s.charCodeAt(0);
  if (c0 === 45 /* - */) {
    if (s.length === 1 || s === '-0') return null;
    const v = safeInt(s.slice(1));
    return v === null ? null : -v;
  }
  if (s.length > 1 && c0 === 48 /* 0 */) return null; // leading zeros: keep as text
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return null;
    v = v * 10 + c;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : null;
}

/**
 * Cuts a byte stream into whole fixed-size records, carrying a partial record over to the
 * next chunk; a partial record left at the end of the stream is a truncated trace.
 */
class RecordSplitter {
  /** Stream offset of the first record in the buffer the last take() returned. */
  start = 0;
  private next = 0; // stream offset just past the whole records returned so far
  private carry = Buffer.alloc(0);
  constructor(
    private readonly file: string,
    private readonly unzipped: boolean,
    private readonly format: string,
    private readonly size: number,
  ) {}

  /** The whole records this chunk completes, as one buffer; the rest waits for the next chunk. */
  take(chunk: Buffer): Buffer {
    let buf = chunk;
    if (this.carry.length > 0) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = Buffer.alloc(0);
    }
    const whole = buf.length - (buf.length % this.size);
    if (whole < buf.length) this.carry = Buffer.from(buf.subarray(whole));
    this.start = this.next;
    this.next += whole;
    return buf.subarray(0, whole);
  }

  /** At the end of the stream: throw if a partial record is left. */
  finish(): void {
    if (this.carry.length > 0) {
      throw new TraceError(
        `${this.file}: truncated ${this.format} record at ${at(this.next, this.unzipped)}: ${this.carry.length} trailing byte(s), expected ${this.size} per request`,
      );
    }
  }
}

/** int32 big-endian records. */
export class Int32Parser implements Parser {
  readonly hasSizes = false;
  readonly hasNext = false;
  private readonly records: RecordSplitter;
  /** `unzipped`: offsets count decompressed bytes, and messages say so. */
  constructor(file: string, unzipped = false) {
    this.records = new RecordSplitter(file, unzipped, 'int32', 4);
  }

  feed(chunk: Buffer, out: BatchBuilder): void {
    const buf = this.records.take(chunk);
    const keys = out.keys;
    for (let o = 0; o < buf.length; o += 4) keys.push(buf.readInt32BE(o));
    out.cut(false);
  }

  end(): void {
    this.records.finish();
  }
}

/** libCacheSim oracleGeneral: 24-byte little-endian records. */
export class OracleParser implements Parser {
  static readonly RECORD = 24;
  readonly hasSizes = true;
  readonly hasNext = true;
  private index = 0;
  private readonly records: RecordSplitter;
  /**
   * For each key seen, the 0-based index its latest request named as its next (-1: none).
   * The next request of that key must come exactly there; a key that promised an index and
   * never came back is caught at the end. Dropped (and the check with it) past
   * MAX_CHECKED_KEYS distinct keys, the most a Map holds.
   */
  private promised: Map<TraceKey, number> | null = new Map();
  constructor(private readonly file: string, private readonly unzipped = false) {
    this.records = new RecordSplitter(file, unzipped, 'oracleGeneral', OracleParser.RECORD);
  }

  private inconsistent(offset: number, what: string): TraceError {
    return new TraceError(
      `${this.file}: record at ${at(offset, this.unzipped)} (request ${this.index + 1}): ${what}. ` +
        'The next_access_vtime fields do not match the keys, so the offline optimum (and the unique-key count) would be wrong; ' +
        'regenerate the trace with libCacheSim (traceConv), or convert it to a key,size text trace, which the simulator indexes itself',
    );
  }

  feed(chunk: Buffer, out: BatchBuilder): void {
    const R = OracleParser.RECORD;
    const buf = this.records.take(chunk);
    const whole = buf.length;
    const base = this.records.start;
    const keys = out.keys;
    const sizes = out.sizes!;
    const next = out.next!;
    for (let o = 0; o < whole; o += R) {
      const lo = buf.readUInt32LE(o + 4);
      const hi = buf.readUInt32LE(o + 8);
      // Ids below 2^53 are exact doubles; above, the decimal string keeps them distinct.
      const key = hi < 0x200000 ? hi * 0x100000000 + lo : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
      const size = buf.readUInt32LE(o + 12);
      const nlo = buf.readUInt32LE(o + 16);
      const nhi = buf.readInt32LE(o + 20);
      let nx: number;
      if (nhi < 0) {
        if (nhi !== -1 || nlo !== 0xffffffff) {
          throw new TraceError(`${this.file}: record at ${at(base + o, this.unzipped)}: negative next_access_vtime other than -1`);
        }
        nx = -1;
      } else {
        nx = nhi * 0x100000000 + nlo - 1; // 1-based vtime -> 0-based index
        if (nx <= this.index) {
          throw new TraceError(
            `${this.file}: record at ${at(base + o, this.unzipped)}: next_access_vtime ${nx + 1} does not come after request ${this.index + 1}`,
          );
        }
      }
      const promised = this.promised;
      if (promised !== null) {
        const expected = promised.get(key);
        if (expected !== undefined && expected !== this.index) {
          throw this.inconsistent(
            base + o,
            expected < 0
              ? `object ${key} is requested again after a request that said it would not be`
              : `object ${key} is requested here, but its previous request named request ${expected + 1} as its next`,
          );
        }
        if (expected === undefined && promised.size >= MAX_CHECKED_KEYS) this.promised = null;
        else promised.set(key, nx);
      }
      keys.push(key);
      sizes.push(size);
      next.push(nx);
      this.index++;
    }
    out.cut(false);
  }

  end(): void {
    this.records.finish();
    if (this.promised === null) return;
    for (const [key, nx] of this.promised) {
      if (nx >= 0) {
        const why = nx < this.index ? `request ${nx + 1} is another object's` : `the trace ends after request ${this.index}`;
        throw new TraceError(
          `${this.file}: object ${key}'s last request names request ${nx + 1} as its next access, but ${why}. ` +
            'The next_access_vtime fields do not match the keys, so the offline optimum (and the unique-key count) would be wrong; ' +
            'regenerate the trace with libCacheSim (traceConv), or convert it to a key,size text trace, which the simulator indexes itself',
        );
      }
    }
    this.promised = null;
  }
}

/** Distinct keys the oracleGeneral consistency check tracks (a V8 Map holds at most 2^24). */
const MAX_CHECKED_KEYS = 16_000_000;

/** Base for line formats: splits decoded text into lines, counting them (1-based). */
abstract class LineParser implements Parser {
  abstract readonly hasSizes: boolean;
  readonly hasNext = false;
  protected line = 0;
  private rest = '';
  private readonly decoder = new StringDecoder('utf8');
  constructor(protected readonly file: string) {}

  protected abstract parseLine(text: string, out: BatchBuilder): void;

  feed(chunk: Buffer, out: BatchBuilder): void {
    const text = this.rest + this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.line++;
      let endAt = nl;
      if (endAt > start && text.charCodeAt(endAt - 1) === 13) endAt--; // CRLF
      this.parseLine(text.slice(start, endAt), out);
      start = nl + 1;
      if (out.length >= BATCH) out.cut(false);
    }
    this.rest = text.slice(start);
    if (this.rest.length > 1 << 20) throw this.fail('line longer than 1 MiB (is this a binary file? try --format)', this.line + 1);
    out.cut(false);
  }

  end(out: BatchBuilder): void {
    const last = this.rest + this.decoder.end();
    this.rest = '';
    if (last.length > 0) {
      this.line++;
      this.parseLine(last.endsWith('\r') ? last.slice(0, -1) : last, out);
    }
  }

  protected fail(what: string, line = this.line): TraceError {
    return new TraceError(`${this.file}: line ${line}: ${what}`);
  }
}

/** ARC `.lis`: `start nblocks ignore reqno`. */
export class LisParser extends LineParser {
  readonly hasSizes = false;

  protected parseLine(text: string, out: BatchBuilder): void {
    const t = text.trim();
    if (t.length === 0) return;
    const f = t.split(/\s+/);
    if (f.length < 2) throw this.fail(`expected "start_block nblocks ignore request_no", got ${JSON.stringify(clip(t))}`);
    const start = safeInt(f[0]!);
    const n = safeInt(f[1]!);
    if (start === null || start < 0) throw this.fail(`start_block ${JSON.stringify(clip(f[0]!))} is not a non-negative integer`);
    if (n === null || n < 1) throw this.fail(`nblocks ${JSON.stringify(clip(f[1]!))} is not a positive integer`);
    if (start + n - 1 > Number.MAX_SAFE_INTEGER) throw this.fail('block numbers above 2^53');
    if (n > MAX_LIS_BLOCKS) throw this.fail(`nblocks ${n} is more than ${MAX_LIS_BLOCKS} (a malformed line? one line is expanded in memory)`);
    let keys = out.keys;
    for (let i = 0; i < n; i++) {
      keys.push(start + i);
      if (keys.length >= BATCH) {
        out.cut(false);
        keys = out.keys; // the full array went into a batch
      }
    }
  }
}

/** Plain text / CSV: `key[,size]`. */
export class TextParser extends LineParser {
  private mode: 'unknown' | 'sized' | 'unsized' = 'unknown';
  private sizes: boolean;
  constructor(file: string, sized: boolean) {
    super(file);
    this.sizes = sized;
  }
  get hasSizes(): boolean {
    return this.sizes;
  }

  protected parseLine(text: string, out: BatchBuilder): void {
    if (text.length === 0 || text.charCodeAt(0) === 35 /* # */) return;
    let sep = text.indexOf(',');
    if (sep < 0) sep = text.indexOf('\t');
    let key = (sep < 0 ? text : text.slice(0, sep)).trim();
    if (key.length >= 2 && key.charCodeAt(0) === 34 && key.charCodeAt(key.length - 1) === 34) key = key.slice(1, -1);
    if (key.length === 0) {
      if (text.trim().length === 0) return;
      throw this.fail('empty key');
    }
    let size = 1;
    if (sep >= 0) {
      const field = text.slice(sep + 1).split(/[,\t]/, 1)[0]!.trim();
      const v = field.length === 0 ? NaN : Number(field);
      if (!Number.isFinite(v) || v < 0) {
        // A header such as "key,size": the first line, with nothing numeric in it. A first
        // line like "17,12x" is a request with a malformed size, and says so.
        if (this.line === 1 && this.mode === 'unknown' && !NUMERIC.test(key) && !NUMERIC.test(field)) return;
        throw this.fail(`size ${JSON.stringify(clip(field))} is not a finite number >= 0`);
      }
      size = v;
      this.mode = 'sized';
    } else {
      this.mode = this.mode === 'sized' ? 'sized' : 'unsized';
    }
    const n = safeInt(key);
    out.keys.push(n === null ? key : n);
    if (out.sizes !== null) out.sizes.push(size);
  }
}

/** A field that starts like a number (a sign, digits, a decimal point): not a header's column name. */
const NUMERIC = /^[+-]?(\d|\.\d|Infinity|NaN)/;

function at(offset: number, unzipped: boolean): string {
  return unzipped ? `byte offset ${offset} of the decompressed data` : `byte offset ${offset}`;
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '...' : s;
}

/** What we could tell about a trace file before reading it. */
export interface TraceInfo {
  path: string;
  name: string;
  format: TraceFormat;
  gzip: boolean;
  /** Bytes on disk (compressed when gzip). */
  fileBytes: number;
  /**
   * Bytes of trace data (decompressed), for progress: the file's size, or for gzip the size
   * its trailer records (modulo 2^32 there: taken as the smallest such size not below the
   * compressed size, an estimate for files that decompress to more than 4 GiB).
   */
  dataBytes?: number;
}

/** The format a file name implies, or null. */
export function formatFromName(path: string): TraceFormat | null {
  const n = basename(path).toLowerCase().replace(/\.gz$/, '');
  if (n.includes('oraclegeneral')) return 'oracle';
  if (n.endsWith('.trc.bin') || n.endsWith('.trc')) return 'int32';
  if (n.endsWith('.lis')) return 'lis';
  if (/\.(csv|tsv|txt|log|keys)$/.test(n)) return 'text';
  return null;
}

/** Guess from the first decompressed bytes: text that looks like ARC lines, other text, or unknown. */
export function formatFromContent(head: Buffer): TraceFormat | null {
  if (head.length === 0) return 'text';
  let printable = 0;
  for (const b of head) if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128) printable++;
  if (head.includes(0) || printable < head.length * 0.98) return null; // binary: int32 or oracle, cannot tell
  const lines = head.toString('utf8').split('\n').slice(0, -1).filter((l) => l.trim().length > 0);
  if (lines.length > 0 && lines.every((l) => /^\s*\d+\s+\d+\s+\S+\s+\S+\s*$/.test(l))) return 'lis';
  return 'text';
}

/** Name that a file goes by in reports: its base name without format and gzip suffixes. */
export function traceName(path: string): string {
  return basename(path).replace(/\.gz$/i, '').replace(/\.(trc\.bin|trc|lis|oracleGeneral\.bin|oracleGeneral|bin|csv|tsv|txt|log)$/i, '');
}

/** Stat the file and settle its format (by `format`, the name, or the first bytes). */
export async function inspectTrace(path: string, format: TraceFormat | null): Promise<TraceInfo> {
  let fileBytes: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new TraceError(`${path}: not a regular file`);
    fileBytes = st.size;
  } catch (e) {
    if (e instanceof TraceError) throw e;
    throw new TraceError(`${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  const gzip = /\.gz$/i.test(path);
  let f = format ?? formatFromName(path);
  if (f === null) {
    const head = await readHead(path, gzip, 4096);
    f = formatFromContent(head);
    if (f === null) {
      throw new TraceError(`${path}: cannot tell the trace format from the name or content; pass --format ${TRACE_FORMATS.join('|')}`);
    }
  }
  return { path, name: traceName(path), format: f, gzip, fileBytes, dataBytes: gzip ? gzipDataBytes(path, fileBytes) : fileBytes };
}

/** The decompressed size a gzip file's trailer records (ISIZE), lifted above the compressed size. */
function gzipDataBytes(path: string, fileBytes: number): number {
  if (fileBytes < 18) return fileBytes;
  const tail = Buffer.alloc(4);
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    if (readSync(fd, tail, 0, 4, fileBytes - 4) !== 4) return fileBytes;
  } catch {
    return fileBytes;
  } finally {
    if (fd !== null) closeSync(fd);
  }
  let n = tail.readUInt32LE(0);
  while (n < fileBytes) n += 2 ** 32;
  return n;
}

async function readHead(path: string, gzip: boolean, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of openStream(path, gzip, () => {})) {
      parts.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= n) break;
    }
  } catch (e) {
    throw new TraceError(`${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  return Buffer.concat(parts).subarray(0, n);
}

function openStream(path: string, gzip: boolean, onRaw: (n: number) => void): AsyncIterable<Buffer> {
  const raw = createReadStream(path, { highWaterMark: READ_CHUNK });
  raw.on('data', (c) => onRaw((c as Buffer).length));
  if (!gzip) return raw;
  const gz = createGunzip({ chunkSize: READ_CHUNK });
  raw.on('error', (e) => gz.destroy(e));
  return raw.pipe(gz);
}

export function makeParser(info: TraceInfo, sized: boolean): Parser {
  const label = info.path;
  switch (info.format) {
    case 'int32':
      return new Int32Parser(label, info.gzip);
    case 'oracle':
      return new OracleParser(label, info.gzip);
    case 'lis':
      return new LisParser(label);
    case 'text':
      return new TextParser(label, sized);
  }
}

/**
 * Read the trace as batches. `onRaw` hears how many file bytes were read (for progress).
 * `sized`: for text traces, whether to keep the size column.
 */
export async function* readTrace(info: TraceInfo, sized: boolean, onRaw: (n: number) => void = () => {}): AsyncGenerator<TraceBatch> {
  const parser = makeParser(info, sized);
  const out = new BatchBuilder(parser.hasSizes, parser.hasNext);
  let decompressed = 0;
  // Decompressed bytes not yet attributed to a batch: each batch handed out takes an even
  // share of what was read since the last one, so progress follows the batches replayed.
  let unattributed = 0;
  const handOut = (batches: TraceBatch[]): TraceBatch[] => {
    if (batches.length === 0) return batches;
    const share = Math.floor(unattributed / batches.length);
    for (const b of batches) b.units = share;
    batches[batches.length - 1]!.units = unattributed - share * (batches.length - 1);
    unattributed = 0;
    return batches;
  };
  try {
    for await (const chunk of openStream(info.path, info.gzip, onRaw)) {
      parser.feed(chunk, out);
      decompressed += chunk.length;
      unattributed += chunk.length;
      yield* handOut(out.drain());
    }
    parser.end(out);
  } catch (e) {
    if (e instanceof TraceError) throw e;
    const where = info.gzip ? ` after ${decompressed} decompressed bytes` : ` at byte offset ${decompressed}`;
    throw new TraceError(`${info.path}: cannot read${where}: ${(e as Error).message}`, { cause: e });
  }
  out.cut(true);
  const last = out.drain();
  if (last.length === 0 && unattributed > 0) last.push({ count: 0, keys: [], sizes: out.sizes, next: out.next });
  yield* handOut(last);
}

/** Parse a whole in-memory buffer (tests and small inputs). */
export function parseBuffer(format: TraceFormat, data: Buffer, label = '<buffer>', sized = true): TraceBatch[] {
  const info: TraceInfo = { path: label, name: label, format, gzip: false, fileBytes: data.length };
  const parser = makeParser(info, sized);
  const out = new BatchBuilder(parser.hasSizes, parser.hasNext);
  parser.feed(data, out);
  parser.end(out);
  out.cut(true);
  return out.drain();
}
