/**
 * Crash: a child process writes and deletes through a DiskTier (test/fixtures/disk-crash-child.mjs)
 * and is killed with SIGKILL at random instants; after each kill this process opens the same
 * directory and checks the promise of docs/disk.md, exactly:
 *
 *   after SIGKILL, get never returns bytes that fail verification or belong to another key,
 *   and a delete or overwrite that resolved before the crash is never undone.
 *
 * The child records each operation before it starts ("B n key S|D") and after it resolved
 * ("E n") in a log file with writeSync (a line written before the kill is in the file; stdout
 * is only its progress signal, since Node buffers pipe writes that SIGKILL then loses).
 * Operations on one key never overlap, so for each key the values a get may return are: the
 * value of the last resolved operation if it was a set, and the values of sets that started
 * and never resolved after it (killed in flight). Every value carries its key, its operation
 * number and a crc32, so the check needs no copy of the data.
 *
 * The kill instant is random in operations, not in time: the parent kills after a random
 * number of resolved operations (0 to 1,500), which lands anywhere in open, recovery, writing or flushing.
 * Once cortado/tiered is built, odd rounds write through a TieredCache ('through') instead.
 * scripts/disk-chaos.mjs runs the same loop for as long as asked (`--rounds`, `--mode tiered`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { DiskTier } from 'cortado/disk';
import { prng } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, '..', '..', 'test', 'fixtures', 'disk-crash-child.mjs');
const KEYS = 150;
const ROUNDS = Number(process.env.CORTADO_DISK_CRASH_ROUNDS ?? 24);
/**
 * A small geometry: 9 regions of 256 KiB, so that regions fill, flush and are reused many
 * times per round, and a region stays the one being filled long enough (about 25 large items)
 * for kills to land while evicted keys are deleted (what the region invalidation is for).
 */
const OPTIONS = { maxBytes: 2.5 * 2 ** 20, regionSize: 256 * 1024, smallShare: 0.1 };

interface KeyState {
  /** Operation number of the last resolved set, or null (none, or the last resolved op was a delete). */
  resolved: number | null;
  /** Sets that started after it and never resolved (their child was killed). */
  pending: number[];
}

/** The key and operation number a value carries, or null when it does not verify. */
function decode(bytes: Uint8Array): { key: string; n: number } | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 4 + 2 + 8 + 4 + 4 || b.readUInt32LE(0) !== 0x56414c31) return null;
  const keyLen = b.readUInt16LE(4);
  const at = 6 + keyLen;
  if (at + 12 + 4 > b.length) return null;
  const payload = b.readUInt32LE(at + 8);
  const end = at + 12 + payload;
  if (end + 4 !== b.length) return null;
  if ((crc32(b.subarray(0, end)) >>> 0) !== b.readUInt32LE(end)) return null;
  return { key: b.toString('utf8', 6, at), n: b.readDoubleLE(at) };
}

/** Folds a child's log (complete lines only) into `state`; returns the resolved operations. */
function fold(text: string, state: Map<string, KeyState>, ops: Map<number, { key: string; set: boolean }>): number {
  let resolved = 0;
  const lines = text.split('\n');
  lines.pop(); // an unterminated last line was being written at the kill
  for (const line of lines) {
    const [tag, nText, key, kind] = line.split(' ');
    const n = Number(nText);
    if (tag === 'B') {
      const isSet = kind === 'S';
      ops.set(n, { key: key!, set: isSet });
      if (isSet) state.get(key!)!.pending.push(n);
    } else if (tag === 'E') {
      const op = ops.get(n)!;
      ops.delete(n);
      const s = state.get(op.key)!;
      s.resolved = op.set ? n : null;
      s.pending = [];
      resolved++;
    }
  }
  return resolved;
}

/** Runs one child until it reported `killAfter` resolved operations on stdout, then kills it. */
function round(dir: string, log: string, start: number, seed: number, killAfter: number, mode: 'disk' | 'tiered'): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(start), String(KEYS), String(seed), mode, JSON.stringify(OPTIONS), log], { stdio: ['ignore', 'pipe', 'pipe'] });
    let progress = 0;
    let stderr = '';
    let killed = false;
    const kill = (): void => {
      if (!killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    if (killAfter === 0) kill();
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      for (let i = 0; i < chunk.length; i++) if (chunk.charCodeAt(i) === 0x45 /* E */) progress++;
      if (progress >= killAfter) kill();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/**
 * Whether cortado/tiered is built: then odd rounds write through a TieredCache ('through')
 * over the DiskTier, as the issue asks; until it is merged, every round drives DiskTier.
 */
async function tieredAvailable(): Promise<boolean> {
  const spec = 'cortado/tiered';
  try {
    const mod = (await import(spec)) as { TieredCache?: unknown };
    return typeof mod.TieredCache === 'function';
  } catch {
    return false;
  }
}

test(`SIGKILL at ${ROUNDS} random instants: no wrong value, nothing deleted or overwritten comes back`, { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cortado-disk-crash-'));
  const rand = prng(0x5eed);
  const state = new Map<string, KeyState>();
  for (let i = 0; i < KEYS; i++) state.set(`k${i}`, { resolved: null, pending: [] });
  const ops = new Map<number, { key: string; set: boolean }>();
  const recoveries = new Map<string, number>();
  const withTiered = process.env.CORTADO_DISK_CRASH_MODE === 'disk' ? false : await tieredAvailable();
  let returned = 0;
  let totalReports = 0;
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const killAfter = r === 0 ? 400 : Math.floor(rand() * 1500);
      const log = join(dir, `log${r}`);
      const mode = withTiered && r % 2 === 1 ? 'tiered' : 'disk';
      const result = await round(dir, log, (r + 1) * 1e7, 1 + Math.floor(rand() * 2 ** 31), killAfter, mode);
      assert.equal(result.signal, 'SIGKILL', `round ${r}: the child died of SIGKILL, not of its own error: ${result.stderr}`);
      totalReports += fold(await readFile(log, 'latin1').catch(() => ''), state, ops);
      await rm(log, { force: true });

      const tier = await DiskTier.open({ path: dir, ...OPTIONS });
      try {
        const st = tier.stats();
        recoveries.set(st.recovery, (recoveries.get(st.recovery) ?? 0) + 1);
        for (const [key, s] of state) {
          const got = await tier.get(key);
          if (got === undefined) continue;
          returned++;
          const v = decode(got.bytes);
          assert.ok(v !== null, `round ${r}: ${key} returned ${got.bytes.byteLength} bytes that do not verify`);
          assert.equal(v.key, key, `round ${r}: ${key} returned the value of ${v.key}`);
          const allowed = s.resolved === null ? s.pending : [s.resolved, ...s.pending];
          assert.ok(
            allowed.includes(v.n),
            `round ${r}: ${key} returned the value of operation ${v.n}; allowed: ${allowed.join(', ') || 'nothing (deleted)'}`,
          );
        }
        assert.equal(tier.stats().errors, 0);
      } finally {
        await tier.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The test checked something: values came back, and recovery scanned after kills.
  assert.ok(returned > ROUNDS * 10, `values returned across rounds: ${returned}`);
  assert.ok((recoveries.get('scanned') ?? 0) >= ROUNDS / 2, `recoveries: ${JSON.stringify([...recoveries])}`);
  assert.ok(totalReports > ROUNDS * 100);
});
