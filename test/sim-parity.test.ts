/**
 * Parity with libCacheSim on the smallest shared traces (sprite, P3 and cloudPhysicsIO in count
 * mode run in `npm run hit-ratio -- --check`):
 * LRU, SIEVE and the admit-every-miss Belady must match its miss counts exactly, S3-FIFO
 * within 1 point of miss ratio. Skips when ../shared is absent (an installed package).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { fileSource, inspectTrace, parity, parseReference, referenceSizes, simulate, REFERENCE_TRACE_FILES } from '#sim';

const shared = fileURLToPath(new URL('../../../shared/', import.meta.url));
const traces = join(shared, 'traces');
const csv = join(shared, 'reference', 'miss_ratios.csv');
const present = existsSync(traces) && existsSync(csv);
const skip = present ? false : `no shared traces at ${traces} (and reference at ${csv}); parity not checked`;

const SMALL: [string, 'count' | 'bytes'][] = [
  ['cpp', 'count'],
  ['glimpse', 'count'],
  ['multi2', 'count'],
  ['mt-20121220', 'count'],
  ['cloudPhysicsIO', 'bytes'],
];

for (const [trace, mode] of SMALL) {
  test(`parity with libCacheSim: ${trace} (${mode})`, { skip }, async () => {
    const ref = parseReference(readFileSync(csv, 'utf8'));
    const sizes = referenceSizes(ref, trace, mode);
    assert.ok(sizes.length >= 3, 'the reference has sizes for this trace');
    const info = await inspectTrace(join(traces, REFERENCE_TRACE_FILES[trace]!), null);
    const result = await simulate(fileSource(info, mode === 'bytes'), {
      policies: ['lru', 'sieve', 's3fifo'],
      sizes: sizes.map((s) => ({ value: s.capacity, percent: false, label: s.basis })),
      bytes: mode === 'bytes',
      optimum: false,
      admitAllOptimum: true,
      seed: 1,
    });
    const expectRequests = ref.find((r) => r.trace === trace)!.requests;
    assert.equal(result.requests, expectRequests, 'same number of requests as libCacheSim');
    const checks = parity(ref, trace, mode, result.rows);
    for (const p of ['lru', 'sieve', 'belady-admit-all']) {
      assert.equal(checks.filter((c) => c.policy === p).length, sizes.length, `${p} checked at every size`);
    }
    const bad = checks.filter((c) => !c.ok).map((c) => `${c.policy}@${c.capacity}: ours ${c.ours}, libCacheSim ${c.theirs}`);
    assert.deepEqual(bad, []);
  });
}
