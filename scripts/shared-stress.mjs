// Long stress and termination run for cortado/shared (the short versions are in
// test/shared-workers.test.ts). Workers run random operations on self-verifying values
// (test/fixtures/shared-worker.mjs checks every value it reads and throws on a wrong one);
// workers are terminated at random instants and replaced; at the end the structural
// validator runs and no pin, orphan or thread slot may be left.
//
//   node scripts/shared-stress.mjs [--workers 4] [--seconds 60] [--terminations 200]
//                                  [--policy s3fifo|sieve] [--maxBytes 8388608] [--seed 1]
//                                  [--keys 20000] [--maxEntries maxBytes/1500]
//                                  [--load 0] [--keep-going]
//
// --load N starts N busy-looping processes (at nice 10) for the run, so that the workers are
// preempted in the middle of their operations, as on a loaded machine (a torn read needs a
// thread descheduled inside a few instructions' window). --keep-going counts a worker that
// found a wrong value, replaces it and goes on, so that one run measures a failure rate
// (wrong values per million operations) instead of stopping at the first.
// Exit code 0 when everything held; 1 otherwise (the first failures are printed).
import { spawn as spawnProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { SharedCache } from 'cortado/shared';

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  return typeof def === 'number' ? Number(v) : v;
}
const WORKERS = arg('workers', 4);
const SECONDS = arg('seconds', 60);
const TERMINATIONS = arg('terminations', 200);
const POLICY = arg('policy', 's3fifo');
const MAX_BYTES = arg('maxBytes', 8 << 20);
const MAX_ENTRIES = arg('maxEntries', Math.floor(MAX_BYTES / 1500));
const KEYS = arg('keys', 20_000);
const LOAD = arg('load', 0);
const KEEP_GOING = process.argv.includes('--keep-going');
let seed = arg('seed', 1) >>> 0;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
};

const hogs = [];
for (let i = 0; i < LOAD; i++) {
  hogs.push(spawnProcess('nice', ['-n', '10', process.execPath, '-e', 'for(;;){}'], { stdio: 'ignore' }));
}
const killHogs = () => {
  for (const h of hogs) h.kill('SIGKILL');
};
process.on('exit', killHogs);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killHogs();
    process.exit(1);
  });
}

const cache = new SharedCache({ maxBytes: MAX_BYTES, maxEntries: MAX_ENTRIES, policy: POLICY, maxThreads: 4 * WORKERS + 4, maxHandles: 16 });
const url = new URL('../test/fixtures/shared-worker.mjs', import.meta.url);
const failures = [];
const finished = [];
const live = new Set();
let spawned = 0;
let terminated = 0;
let ops = 0;
let stopping = false;
const end = Date.now() + SECONDS * 1000;
// Terminate with a probability that spreads the remaining terminations over the progress
// messages expected in the remaining time (at the rate seen so far).
let messages = 0;
const pKill = () => {
  const elapsed = Math.max(1, Date.now() - t0);
  const expected = (messages / elapsed) * Math.max(1, end - Date.now());
  return Math.min(0.5, (TERMINATIONS - terminated) / Math.max(1, expected));
};

function stopAll() {
  stopping = true;
  for (const w of live) w.postMessage('stop');
}

function spawn() {
  const w = new Worker(url, { workerData: { cache: cache.share(), seed: 1000 + spawned, seedBase: 1000, seedRange: spawned + WORKERS, keys: KEYS, holdMax: 8, mode: 'forever', batch: 200 } });
  spawned++;
  cache.watch(w);
  live.add(w);
  let killed = false;
  let failed = false;
  let wrongValue = false;
  let last = 0;
  finished.push(new Promise((resolve) => {
    w.on('error', (e) => {
      failed = true;
      wrongValue = /checksum mismatch|holds the value of|expired at|changed while pinned|: \d+ bytes$/.test(String(e?.message));
      if (!wrongValue) stopAll();
      failures.push(e);
      if (failures.length <= 5) console.error(`failure ${failures.length} at ${ops} ops:`, e?.stack ?? e);
    });
    w.on('exit', (code) => {
      live.delete(w);
      if (!killed && !failed && code !== 0) failures.push(new Error(`worker exited with ${code}`));
      // A worker that found a wrong value: with --keep-going, replace it and go on.
      // (Only for a wrong value: any other error, e.g. no thread slot left, stops the run.)
      if (failed && KEEP_GOING && wrongValue && !stopping && Date.now() < end) spawn();
      resolve();
    });
  }));
  w.on('message', (m) => {
    if (m.progress !== undefined) {
      messages++;
      ops += m.progress - last;
      last = m.progress;
    }
    if (m.progress === undefined || killed || stopping) return;
    if (Date.now() > end || (failures.length > 0 && !KEEP_GOING)) return stopAll();
    if (terminated < TERMINATIONS && rand() < pKill()) {
      killed = true;
      terminated++;
      void w.terminate();
      spawn();
    }
  });
}

const t0 = Date.now();
for (let i = 0; i < WORKERS; i++) spawn();
const timer = setInterval(() => {
  const s = cache.stats();
  console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s: ${ops} ops, ${terminated} terminations (${s.rolledBackSteps} inside a write), ${s.size} entries, hit ratio ${(100 * s.hitRatio).toFixed(1)}%, ${failures.length} failures`);
}, 5000);
for (let i = 0; i < finished.length; i++) await finished[i];
clearInterval(timer);
killHogs();
let ok = failures.length === 0;
for (const f of failures.slice(0, 5)) console.error('FAILURE:', f);
try {
  const v = cache._validate();
  const s = cache.stats();
  console.log(`validator: ${v.entries} entries, ${v.pinned} pinned, ${v.orphans} orphans, ${v.threads} thread slots in use`);
  if (v.pinned > 0) {
    // Which entries are left pinned (diagnostics from the internal store).
    const st = cache._store;
    const I = st.I;
    for (let d = 0; d < st.ndesc; d++) {
      const w = st.descWord(d);
      const pins = st.U16[(w << 1) + 2];
      if (pins === 0 || (I[w + 7] & (1 << 16)) === 0) continue;
      const key = new TextDecoder().decode(st.keyBytes(d));
      console.log(`pinned: descriptor ${d} key ${key} pins ${pins} flags 0x${((I[w + 7] >>> 16) & 0xff).toString(16)} version ${I[w]} policy byte 0x${st.U8[(w << 2) + 6].toString(16)}`);
    }
  }
  console.log(`${ops} operations by ${spawned} workers in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${terminated} terminated, ${s.rolledBackSteps} of them inside a write step; ${s.recoveredThreads} recovered`);
  console.log(`wrong values: ${failures.length} (${((failures.length * 1e6) / Math.max(1, ops)).toFixed(3)} per million operations)`);
  if (v.pinned !== 0 || v.orphans !== 0 || v.threads !== 1 || s.recoveredThreads !== spawned) ok = false;
} catch (e) {
  console.error('VALIDATOR:', e);
  ok = false;
}
console.log(ok ? 'OK' : 'FAILED');
process.exit(ok ? 0 : 1);
