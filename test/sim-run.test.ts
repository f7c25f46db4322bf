/** The replay engine: one pass vs two, next uses from the trace vs computed, counting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource, inspectTrace, prng, resolveSizes, simulate, type TraceResult } from '#sim';

const dir = mkdtempSync(join(tmpdir(), 'cortado-sim-run-'));

/** The same random sequence as an oracleGeneral file (with next uses) and as a key,size text file. */
function twin(n: number) {
  const rand = prng(11);
  const ids = Array.from({ length: n }, () => Math.floor(Math.pow(rand(), 2) * 300));
  const size = (id: number) => 1 + (id % 7) * 100;
  const next = new Array<number>(n).fill(-1);
  const last = new Map<number, number>();
  for (let i = n - 1; i >= 0; i--) {
    next[i] = last.get(ids[i]!) ?? -1;
    last.set(ids[i]!, i);
  }
  const bin = Buffer.alloc(n * 24);
  ids.forEach((id, i) => {
    bin.writeUInt32LE(i, i * 24);
    bin.writeBigUInt64LE(BigInt(id), i * 24 + 4);
    bin.writeUInt32LE(size(id), i * 24 + 12);
    bin.writeBigInt64LE(BigInt(next[i]! < 0 ? -1 : next[i]! + 1), i * 24 + 16);
  });
  const oracle = join(dir, 'twin.oracleGeneral.bin');
  const text = join(dir, 'twin.csv');
  writeFileSync(oracle, bin);
  writeFileSync(text, ids.map((id) => `${id},${size(id)}`).join('\n'));
  return { oracle, text, distinct: last.size, uniqueBytes: [...last.keys()].reduce((s, id) => s + size(id), 0) };
}

async function run(path: string, bytes: boolean, sizes: string[], optimum = true): Promise<TraceResult> {
  const info = await inspectTrace(path, null);
  return simulate(fileSource(info, bytes), {
    policies: ['lru', 's3fifo'],
    sizes: sizes.map((s) => (s.endsWith('%') ? { value: Number(s.slice(0, -1)), percent: true, label: s } : { value: Number(s), percent: false, label: s })),
    bytes,
    optimum,
    seed: 5,
  });
}

const strip = (r: TraceResult) => r.rows.map(({ policy, capacity, hits, misses, byteMissRatio }) => ({ policy, capacity, hits, misses, byteMissRatio }));

test('next uses from the trace and from the backward pass give the same optimum', async () => {
  const t = twin(20_000);
  for (const bytes of [false, true]) {
    const sizes = bytes ? ['2000', '20000'] : ['10', '60'];
    const a = await run(t.oracle, bytes, sizes); // one pass: next uses from the records
    const b = await run(t.text, bytes, sizes); // two passes: next uses computed
    assert.deepEqual(strip(a), strip(b), bytes ? 'bytes mode' : 'count mode');
    assert.ok(a.rows.some((r) => r.policy === 'belady' && r.hits > 0));
  }
});

test('distinct keys and bytes: counted in the first pass, from next uses, or with a set', async () => {
  const t = twin(5_000);
  const viaCensus = await run(t.text, true, ['10%']);
  const viaNext = await run(t.oracle, true, ['1000'], false);
  const viaSet = await run(t.text, true, ['1000'], false);
  for (const r of [viaCensus, viaNext, viaSet]) {
    assert.equal(r.uniqueKeys, t.distinct);
    assert.equal(r.uniqueBytes, t.uniqueBytes);
    assert.equal(r.requests, 5_000);
  }
  assert.equal(viaCensus.rows[0]!.capacity, Math.round(t.uniqueBytes / 10));
});

test('resolveSizes: percentages round, never below 1, duplicates dropped, ascending', () => {
  const pct = (v: number) => ({ value: v, percent: true, label: `${v}%` });
  assert.deepEqual(resolveSizes([pct(25), pct(0.1), { value: 12, percent: false, label: '12' }, pct(1)], 1223), [
    { label: '0.1%', capacity: 1 },
    { label: '12', capacity: 12 }, // 1% of 1223 is also 12: the first one given wins
    { label: '25%', capacity: 306 },
  ]);
});
