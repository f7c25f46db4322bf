// Long crash runs for DiskTier (the short version is test/disk-crash.test.ts):
//
//   node scripts/disk-chaos.mjs [--rounds 500] [--keys 2000] [--seed 1] [--mode disk|tiered]
//                               [--max-kill 5000] [--dir /path] [--options '{json}'] [--debug]
//
// Each round starts test/fixtures/disk-crash-child.mjs on one directory, kills it with
// SIGKILL after a random number (0..max-kill) of completed operations, reads the child's
// operation log (written with writeSync, so complete up to the kill), reopens the directory
// here and checks every key: the value verifies (crc32), carries its own key, and is either
// the last resolved write of that key or a write that was in flight at the kill; a key whose
// last resolved operation was a delete may only hold an in-flight write. `--mode tiered`
// writes through TieredCache ('through', so the disk sees every set) once cortado/tiered exists.
// Exits 1 on the first violation, printing it; prints a summary line per 10 rounds.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { DiskTier } from 'cortado/disk';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROUNDS = Number(arg('rounds', 500));
const KEYS = Number(arg('keys', 2000));
const MODE = arg('mode', 'disk');
const MAX_KILL = Number(arg('max-kill', 5000));
const DEBUG = args.includes('--debug');
let log = [];
let seed = Number(arg('seed', 1)) >>> 0 || 1;
const random = () => {
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
};
const CHILD = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'disk-crash-child.mjs');
const OPTIONS = JSON.parse(arg('options', JSON.stringify({ maxBytes: 16 * 2 ** 20, regionSize: 256 * 1024, smallShare: 0.2 })));

function decode(b) {
  if (b.length < 22 || b.readUInt32LE(0) !== 0x56414c31) return null;
  const keyLen = b.readUInt16LE(4);
  const at = 6 + keyLen;
  if (at + 16 > b.length) return null;
  const end = at + 12 + b.readUInt32LE(at + 8);
  if (end + 4 !== b.length || (crc32(b.subarray(0, end)) >>> 0) !== b.readUInt32LE(end)) return null;
  return { key: b.toString('utf8', 6, at), n: b.readDoubleLE(at) };
}

const state = new Map();
for (let i = 0; i < KEYS; i++) state.set(`k${i}`, { resolved: null, pending: [] });
const ops = new Map();

function fold(text) {
  const lines = text.split('\n');
  lines.pop(); // unterminated: being written at the kill
  for (const line of lines) {
    if (DEBUG) log.push(line);
    const [tag, nText, key, kind] = line.split(' ');
    const n = Number(nText);
    if (tag === 'B') {
      ops.set(n, { key, set: kind === 'S' });
      if (kind === 'S') state.get(key).pending.push(n);
    } else if (tag === 'E') {
      const op = ops.get(n);
      ops.delete(n);
      const s = state.get(op.key);
      s.resolved = op.set ? n : null;
      s.pending = [];
    }
  }
}

function round(dir, logFile, start, killAfter) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(start), String(KEYS), String(1 + Math.floor(random() * 2 ** 31)), MODE, JSON.stringify(OPTIONS), logFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let progress = 0;
    let stderr = '';
    let killed = false;
    const kill = () => {
      if (!killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    if (killAfter === 0) kill();
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk) => {
      for (let i = 0; i < chunk.length; i++) if (chunk.charCodeAt(i) === 0x45) progress++;
      if (progress >= killAfter) kill();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

const dir = await mkdtemp(join(arg('dir', tmpdir()), 'cortado-disk-chaos-'));
const recoveries = {};
let returned = 0;
let corruptions = 0;
let failed = false;
const t0 = Date.now();
try {
  for (let r = 0; r < ROUNDS && !failed; r++) {
    log = [];
    const logFile = join(dir, `log${r}`);
    const result = await round(dir, logFile, (r + 1) * 1e8, Math.floor(random() * MAX_KILL));
    fold(await readFile(logFile, 'latin1').catch(() => ''));
    await rm(logFile, { force: true });
    if (result.signal !== 'SIGKILL') {
      console.error(`round ${r}: child exited ${result.code} ${result.signal}: ${result.stderr}`);
      failed = true;
      break;
    }
    const tier = await DiskTier.open({ path: dir, ...OPTIONS });
    const st = tier.stats();
    recoveries[st.recovery] = (recoveries[st.recovery] ?? 0) + 1;
    corruptions += st.corruptions;
    for (const [key, s] of state) {
      const got = await tier.get(key);
      if (got === undefined) continue;
      returned++;
      const v = decode(Buffer.from(got.bytes));
      const allowed = s.resolved === null ? s.pending : [s.resolved, ...s.pending];
      if (v === null || v.key !== key || !allowed.includes(v.n)) {
        if (DEBUG) {
          const ids = new Set(log.filter((l) => l.split(' ')[2] === key).map((l) => l.split(' ')[1]));
          console.error(log.filter((l) => ids.has(l.split(' ')[1])).join('\n'));
        }
        console.error(`round ${r}: ${key} returned ${v === null ? 'bytes that do not verify' : `operation ${v.n} of ${v.key}`}; allowed ${allowed.join(', ') || 'nothing'}`);
        failed = true;
        break;
      }
    }
    await tier.close();
    if ((r + 1) % 10 === 0) console.log(`round ${r + 1}/${ROUNDS}: ${returned} values checked, recoveries ${JSON.stringify(recoveries)}, corruptions counted ${corruptions}, ${Math.round((Date.now() - t0) / 1000)} s`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
if (failed) process.exit(1);
console.log(`ok: ${ROUNDS} kills, ${returned} values checked, recoveries ${JSON.stringify(recoveries)}`);
