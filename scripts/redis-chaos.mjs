// Long chaos run for RedisTier (the short versions are in test/redis.test.ts):
//   npm run build && node scripts/redis-chaos.mjs [seconds=60]
//
// Starts a redis-server on a free 127.0.0.1 port, runs 32 concurrent workers doing gets and
// sets of 50 keys through one RedisTier (timeout 50 ms, breaker 3 failures / 100 ms), and
// meanwhile, at random, SIGKILLs and restarts the server or SIGSTOPs it for 10-400 ms.
// Checks, and exits 1 on the first violation:
// - no call stays unsettled longer than timeout + 1 s (a hang);
// - a get returns nothing, or a value of that key whose version is at least the last set of
//   the key that had resolved when the get started, and at most the last set attempted
//   (a timed-out set is "maybe written"); never another key's bytes;
// - no unhandled rejection;
// - at the end, with the server healthy, the breaker closes and a set + get succeed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisTier } from 'cortado/redis';

const SECONDS = Number(process.argv[2] ?? 60);
const TIMEOUT = 50;
const KEYS = 50;
const WORKERS = 32;

let violations = 0;
function fail(msg) {
  violations++;
  console.error(`VIOLATION: ${msg}`);
  process.exitCode = 1;
}
process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${e}`));

async function freePort() {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'cortado-chaos-'));
let server;
async function start() {
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
  let log = '';
  await new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => {
      log += d;
      if (log.includes('Ready to accept connections')) resolve();
    });
    server.once('exit', () => reject(new Error('redis-server exited')));
  });
  server.stdout.resume();
  server.removeAllListeners('exit');
}
async function kill() {
  const s = server;
  s.kill('SIGKILL');
  if (s.exitCode === null && s.signalCode === null) await once(s, 'exit');
}
process.on('exit', () => server?.kill('SIGKILL'));
await start();

const tier = await RedisTier.connect({ url: `redis://127.0.0.1:${port}`, prefix: 'chaos:', timeout: TIMEOUT, breaker: { failures: 3, coolDown: 100 } });
const lastResolved = new Int32Array(KEYS).fill(-1);
const lastAttempted = new Int32Array(KEYS).fill(-1);
const inflight = new Map();
let callId = 0;
const counts = { gets: 0, hits: 0, sets: 0, setOk: 0, rejected: 0, kills: 0, pauses: 0 };

function track(p) {
  const id = ++callId;
  inflight.set(id, performance.now());
  return p.finally(() => inflight.delete(id));
}

const decode = (bytes) => {
  const s = Buffer.from(bytes).toString();
  const [k, v] = s.split(':');
  return { k: Number(k), v: Number(v) };
};

const end = performance.now() + SECONDS * 1000;
let running = true;

async function worker(w) {
  let x = w * 7919 + 1;
  while (running) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const k = x % KEYS;
    if ((x >>> 8) % 3 === 0) {
      const v = ++lastAttempted[k];
      counts.sets++;
      try {
        await track(tier.set(`k${k}`, Buffer.from(`${k}:${v}`)));
        counts.setOk++;
        if (v > lastResolved[k]) lastResolved[k] = v;
      } catch (e) {
        counts.rejected++;
        if (!String(e.code).startsWith('ERR_CORTADO_REDIS_')) fail(`set rejected with ${e.code}: ${e.message}`);
      }
    } else {
      const floor = lastResolved[k];
      counts.gets++;
      try {
        const got = await track(tier.get(`k${k}`));
        if (got !== undefined) {
          counts.hits++;
          const { k: gk, v } = decode(got.bytes);
          if (gk !== k) fail(`get k${k} returned key ${gk}'s bytes`);
          else if (v < floor) fail(`get k${k} returned version ${v}, older than resolved ${floor}`);
          else if (v > lastAttempted[k]) fail(`get k${k} returned version ${v}, never attempted`);
        }
      } catch (e) {
        counts.rejected++;
        if (!String(e.code).startsWith('ERR_CORTADO_REDIS_')) fail(`get rejected with ${e.code}: ${e.message}`);
      }
    }
    // Yield to timers and I/O even when calls are skipped at once.
    if ((x & 15) === 0) await new Promise((r) => setImmediate(r));
  }
}

async function chaos() {
  let x = 12345;
  while (performance.now() < end) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    await new Promise((r) => setTimeout(r, 100 + (x % 900)));
    if (performance.now() >= end) break;
    if (x % 2 === 0) {
      counts.kills++;
      await kill();
      await new Promise((r) => setTimeout(r, (x >>> 4) % 500));
      await start();
    } else {
      counts.pauses++;
      server.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 10 + ((x >>> 4) % 390)));
      server.kill('SIGCONT');
    }
  }
}

const watchdog = setInterval(() => {
  const t = performance.now();
  for (const [id, started] of inflight) if (t - started > TIMEOUT + 1_000) fail(`call ${id} unsettled for ${Math.round(t - started)} ms`);
}, 200);

const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
await chaos();
running = false;
await Promise.all(workers);
clearInterval(watchdog);

// Healthy again: the tier must resume by itself.
let resumed = false;
for (let i = 0; i < 200 && !resumed; i++) {
  try {
    await tier.set('final', Buffer.from('ok'));
    resumed = Buffer.from((await tier.get('final')).bytes).toString() === 'ok';
  } catch {
    await new Promise((r) => setTimeout(r, 25));
  }
}
if (!resumed) fail('the tier did not resume after the chaos ended');
const s = tier.stats();
await tier.close();
await kill();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ seconds: SECONDS, ...counts, stats: s, violations }));
process.exit(violations === 0 ? 0 : 1);
