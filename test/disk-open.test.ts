/**
 * Opening a directory: the lock between processes and within one, stale locks left by
 * SIGKILL, and paths that cannot work (a file, under a file, unwritable, too small a
 * maxBytes, more than the device has). Every failure is a named error with a stable code.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { DiskTier, DiskLockedError, DiskPathError, DiskSpaceError, DiskRecoveryError } from 'cortado/disk';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, '..', '..', 'test', 'fixtures', 'disk-open-child.mjs');
const MiB = 2 ** 20;
const OPTIONS = { maxBytes: 2 * MiB, regionSize: 64 * 1024 };

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'cortado-disk-open-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
let dirs = 0;
const fresh = (): string => join(root, `d${dirs++}`);

interface Report {
  open?: boolean;
  pid?: number;
  recovery?: string;
  code?: string;
  name?: string;
}

/** Starts the child on `dir`; resolves its first report and the process. */
async function child(dir: string): Promise<{ report: Report; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [CHILD, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  proc.stdout!.setEncoding('utf8');
  let text = '';
  for await (const chunk of proc.stdout!) {
    text += chunk as string;
    if (text.includes('\n')) break;
  }
  return { report: JSON.parse(text.slice(0, text.indexOf('\n'))) as Report, proc };
}

describe('DiskTier.open: the directory lock', () => {
  test('a second open in the same process gets DiskLockedError; after close it opens', async () => {
    const path = fresh();
    const a = await DiskTier.open({ path, ...OPTIONS });
    await assert.rejects(DiskTier.open({ path, ...OPTIONS }), (e: Error) => e instanceof DiskLockedError && (e as DiskLockedError).code === 'ERR_CORTADO_DISK_LOCKED');
    await a.close();
    const b = await DiskTier.open({ path, ...OPTIONS });
    await b.close();
  });

  test('a second process gets ERR_CORTADO_DISK_LOCKED, both ways', { timeout: 30_000 }, async () => {
    const path = fresh();
    const mine = await DiskTier.open({ path, ...OPTIONS });
    const { report } = await child(path);
    assert.equal(report.code, 'ERR_CORTADO_DISK_LOCKED');
    assert.equal(report.name, 'DiskLockedError');
    await mine.close();

    const { report: opened, proc } = await child(path);
    assert.equal(opened.open, true);
    await assert.rejects(DiskTier.open({ path, ...OPTIONS }), (e: Error) => e instanceof DiskLockedError && (e as DiskLockedError).pid === opened.pid);
    proc.stdin!.end();
    await once(proc, 'exit');
    const again = await DiskTier.open({ path, ...OPTIONS });
    assert.equal(again.stats().recovery, 'warm', 'the child closed cleanly');
    await again.close();
  });

  test('a lock left by a SIGKILLed holder is stale: the next open takes it', { timeout: 30_000 }, async () => {
    const path = fresh();
    const { report, proc } = await child(path);
    assert.equal(report.open, true);
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    const tier = await DiskTier.open({ path, ...OPTIONS });
    assert.notEqual(tier.stats().recovery, 'warm', 'killed: no saved index');
    await tier.close();
  });

  test('a lock file naming a dead process, or garbage, is stale', async () => {
    const path = fresh();
    await mkdir(path);
    // A pid that existed and exited: our own short-lived child.
    const gone = spawn(process.execPath, ['-e', '0']);
    await once(gone, 'exit');
    await writeFile(join(path, 'lock'), `${gone.pid} 1\n`);
    const a = await DiskTier.open({ path, ...OPTIONS });
    await a.close();
    await writeFile(join(path, 'lock'), 'not a pid');
    const b = await DiskTier.open({ path, ...OPTIONS });
    await b.close();
  });
});

describe('DiskTier.open: paths and space', () => {
  test('a path that is a file, or under a file: DiskPathError', async () => {
    const file = join(root, `file${dirs++}`);
    await writeFile(file, 'x');
    await assert.rejects(DiskTier.open({ path: file, ...OPTIONS }), (e: Error) => e instanceof DiskPathError && (e as DiskPathError).code === 'ERR_CORTADO_DISK_PATH' && /not a directory|exists/.test(e.message));
    await assert.rejects(DiskTier.open({ path: join(file, 'sub'), ...OPTIONS }), (e: Error) => e instanceof DiskPathError && /file/.test(e.message));
  });

  test('an unwritable directory: DiskPathError (skipped as root: root ignores permission bits)', async (t) => {
    if (process.getuid?.() === 0) {
      t.skip('running as root: permission bits do not stop root; the path-under-a-file case covers the error path');
      return;
    }
    const path = fresh();
    await mkdir(path);
    await chmod(path, 0o500);
    try {
      await assert.rejects(DiskTier.open({ path, ...OPTIONS }), (e: Error) => e instanceof DiskPathError);
    } finally {
      await chmod(path, 0o700);
    }
  });

  test('maxBytes too small for two regions: DiskSpaceError naming maxBytes', async () => {
    await assert.rejects(DiskTier.open({ path: fresh(), maxBytes: 100 * 1024, regionSize: 64 * 1024 }), (e: Error) => e instanceof DiskSpaceError && (e as DiskSpaceError).code === 'ERR_CORTADO_DISK_SPACE' && /maxBytes/.test(e.message));
    await assert.rejects(DiskTier.open({ path: fresh(), maxBytes: 20_000 }), DiskSpaceError);
    // The automatic region size shrinks to fit a small maxBytes.
    const tier = await DiskTier.open({ path: fresh(), maxBytes: MiB });
    assert.ok(tier.stats().regionCount >= 2);
    await tier.close();
  });

  test('maxBytes beyond the free space of the device: DiskSpaceError', async () => {
    const fs = await statfs(root);
    const beyond = fs.bavail * fs.bsize + 16 * 2 ** 30;
    await assert.rejects(DiskTier.open({ path: fresh(), maxBytes: beyond }), (e: Error) => e instanceof DiskSpaceError && /free/.test(e.message));
  });

  test("recovery 'strict' refuses a directory that was not closed cleanly", { timeout: 30_000 }, async () => {
    const path = fresh();
    const { proc } = await child(path);
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    await assert.rejects(DiskTier.open({ path, ...OPTIONS, recovery: 'strict' }), (e: Error) => e instanceof DiskRecoveryError && (e as DiskRecoveryError).code === 'ERR_CORTADO_DISK_UNCLEAN');
    // The failed open released the lock.
    const tier = await DiskTier.open({ path, ...OPTIONS });
    assert.equal(tier.stats().recovery, 'scanned');
    await tier.close();
  });
});
