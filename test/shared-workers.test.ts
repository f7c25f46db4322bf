/**
 * SharedCache with real worker_threads: a stress run (4 workers, hundreds of thousands of
 * random operations on self-verifying values) and a termination run (workers terminated at
 * random instants, dozens of times, while others keep working). Each worker checks every
 * value it reads (its key, deadline and checksum are inside it) and throws on a wrong one;
 * at the end the main thread runs the structural validator and checks that no pin, orphan
 * or thread slot is left. Every test has a timeout: a deadlock fails it rather than hangs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Cache } from 'cortado';
import { SharedCache, type SharedPolicyName } from 'cortado/shared';
import { inspectTrace, readTrace } from 'cortado/sim';

/** The shared traces next to the repository (as the simulator's parity test finds them); the trace tests skip without them. */
const TRACE = [fileURLToPath(new URL('../../../shared/traces/cpp.trc.bin.gz', import.meta.url)), '/work/shared/traces/cpp.trc.bin.gz'].find((p) => existsSync(p));
const noTrace = TRACE === undefined ? 'no shared traces (../shared/traces); trace parity not checked' : false;

const WORKER = new URL('../../test/fixtures/shared-worker.mjs', import.meta.url);
const TRACE_WORKER = new URL('../../test/fixtures/shared-trace-worker.mjs', import.meta.url);

function run(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let last: unknown;
    worker.on('message', (m) => (last = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve(last) : reject(new Error(`worker exited with ${code}`))));
  });
}

describe('SharedCache under 4 workers', () => {
  for (const policy of ['s3fifo', 'sieve'] as SharedPolicyName[]) {
    test(`${policy}: 4 x 60k random operations, values verified, validator at the end`, { timeout: 120_000 }, async () => {
      const cache = new SharedCache({ maxBytes: 3 << 20, maxEntries: 1500, policy, maxThreads: 8, maxHandles: 16 });
      const workers = [0, 1, 2, 3].map((i) => {
        const w = new Worker(WORKER, { workerData: { cache: cache.share(), seed: 1000 + i, seedBase: 1000, seedRange: 4, ops: 60_000, keys: 4000, holdMax: 8, mode: 'stress' } });
        cache.watch(w);
        return w;
      });
      const results = await Promise.all(workers.map(run));
      for (const r of results) assert.deepEqual((r as { done: boolean }).done, true);
      const st = cache.stats();
      assert.ok(st.hits > 1000 && st.misses > 1000, `hits ${st.hits} misses ${st.misses}`);
      assert.ok(st.evictions > 100, `evictions ${st.evictions}`);
      assert.ok(st.inserts + st.updates > 10_000);
      const v = cache._validate();
      assert.equal(v.pinned, 0, 'pins left');
      assert.equal(v.orphans, 0, 'orphans left');
      assert.equal(v.threads, 1, 'thread slots left');
      assert.ok(v.entries <= 1500);
    });
  }
});

describe('SharedCache with workers terminated at random instants', () => {
  test('30 terminations while 4 workers run: no deadlock, no wrong value, pins released, validator passes', { timeout: 180_000 }, async (t) => {
    const cache = new SharedCache({ maxBytes: 3 << 20, maxEntries: 1500, policy: 's3fifo', maxThreads: 16, maxHandles: 16 });
    const TERMINATIONS = 30;
    let terminated = 0;
    let spawned = 0;
    let seed = 7;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const failures: unknown[] = [];
    const finished: Promise<void>[] = [];
    const live = new Set<Worker>();
    let stopping = false;
    const stopAll = (): void => {
      stopping = true;
      for (const w of live) w.postMessage('stop');
    };
    const spawn = (): void => {
      const w = new Worker(WORKER, { workerData: { cache: cache.share(), seed: 50 + spawned, seedBase: 50, seedRange: spawned + 4, keys: 3000, holdMax: 8, mode: 'forever', batch: 200 } });
      spawned++;
      cache.watch(w);
      live.add(w);
      let killed = false;
      finished.push(
        new Promise<void>((resolve) => {
          w.on('error', (e) => failures.push(e));
          w.on('exit', (code) => {
            live.delete(w);
            if (!killed && code !== 0) failures.push(new Error(`worker exited with ${code}`));
            resolve();
          });
        }),
      );
      w.on('message', (m: { progress?: number }) => {
        if (m.progress === undefined || killed || stopping) return;
        // Terminate at a random instant: terminate() lands while the worker runs its next batch.
        if (rand() < 0.2) {
          killed = true;
          terminated++;
          void w.terminate();
          if (terminated < TERMINATIONS) spawn();
          else stopAll();
        }
      });
    };
    for (let i = 0; i < 4; i++) spawn();
    // Wait for every worker, the replacements included (the list grows while we wait).
    for (let i = 0; i < finished.length; i++) await finished[i];
    assert.deepEqual(failures, []);
    assert.equal(terminated, TERMINATIONS);
    const st = cache.stats();
    assert.equal(st.recoveredThreads, spawned, 'every exited worker recovered');
    // How many terminations landed inside a write (random; reported, not asserted).
    t.diagnostic(`${TERMINATIONS} terminations, ${st.rolledBackSteps} inside a write step`);
    // The cache still works for everyone.
    const v = cache._validate();
    // Each worker held up to 8 handles when it was terminated; recovery drops their pins. A
    // worker killed between the two adjacent statements that change a pin count and its
    // registry entry (acquire, or a release) leaves that one entry pinned rather than risk
    // unpinning it twice (docs/shared.md): at most one per termination, and rare.
    t.diagnostic(`${v.pinned} pins left by terminations between a pin count and its registry entry`);
    assert.ok(v.pinned <= TERMINATIONS, `${v.pinned} pins of terminated workers left: recovery did not drop their handles' pins`);
    assert.equal(v.orphans, 0, 'orphans left');
    assert.equal(v.threads, 1, 'thread slots of terminated workers left');
    assert.ok(cache.set('after', new Uint8Array([1])));
    assert.deepEqual([...cache.get('after')!], [1]);
  });
});

describe('SharedCache hit ratio with several workers', () => {
  test('2 workers replaying the cpp trace (reordered within blocks of 16) stay within 0.5 point of Cache', { timeout: 120_000, skip: noTrace }, async (t) => {
    const info = await inspectTrace(TRACE!, null);
    const keys: string[] = [];
    for await (const b of readTrace(info, false)) for (let i = 0; i < b.count; i++) keys.push(String(b.keys[i]));
    for (const policy of ['s3fifo', 'sieve'] as SharedPolicyName[]) {
      for (const n of [200, 400]) {
        const cache = new Cache<string, number>({ maxEntries: n, policy });
        let h1 = 0;
        for (const k of keys) {
          if (cache.get(k) !== undefined) h1++;
          else cache.set(k, 1);
        }
        const shared = new SharedCache({ maxBytes: 1 << 21, maxEntries: n, policy, maxThreads: 4 });
        const barrier = new SharedArrayBuffer(4);
        const results = await Promise.all(
          [0, 1].map((index) => {
            const w = new Worker(TRACE_WORKER, { workerData: { cache: shared.share(), keys, index, workers: 2, block: 16, barrier } });
            shared.watch(w);
            return new Promise<number>((resolve, reject) => {
              let hits = -1;
              w.on('message', (m: { hits: number }) => (hits = m.hits));
              w.once('error', reject);
              w.once('exit', () => resolve(hits));
            });
          }),
        );
        const h2 = results[0]! + results[1]!;
        const r1 = (100 * h1) / keys.length;
        const r2 = (100 * h2) / keys.length;
        t.diagnostic(`${policy} ${n}: Cache ${r1.toFixed(3)}%, SharedCache from 2 workers ${r2.toFixed(3)}%`);
        assert.ok(Math.abs(r1 - r2) <= 0.5, `${policy} ${n}: Cache ${r1.toFixed(2)}%, SharedCache from 2 workers ${r2.toFixed(2)}%`);
        shared._validate();
      }
    }
  });
});
