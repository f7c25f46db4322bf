/**
 * The directory lock: one DiskTier per directory, across processes and within one.
 *
 * A lock file made by link() of a fully written private file (link fails with EEXIST
 * atomically, like O_EXCL, and the lock is never seen half-written) holds "pid start-time".
 * SIGKILL cannot run cleanup, so a lock whose holder is gone must be
 * recognised as stale: the holder is alive when `kill(pid, 0)` succeeds AND (on Linux) its
 * start time in /proc/<pid>/stat matches the one recorded, so a recycled pid does not keep
 * a dead tier's lock forever. A stale lock is renamed away (rename is atomic: of two
 * processes breaking the same stale lock one wins) and the link is tried again.
 * Within one process, paths currently open are kept in a set, so a second open() of the same
 * directory is refused even though the pid in the file is our own.
 */
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiskLockedError, DiskPathError } from './errors.js';

const heldHere = new Set<string>();

/** Start time of a process in clock ticks since boot (Linux), or '' when unknown. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 22; the command name (field 2) may hold spaces and parentheses, so count from ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
}

function alive(pid: number, start: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: a process with that pid exists but belongs to another user.
  }
  if (start === '') return true;
  const now = startTime(pid);
  return now === '' || now === start;
}

export class DirLock {
  private constructor(readonly dir: string, readonly file: string) {}

  static async acquire(dir: string): Promise<DirLock> {
    const file = join(dir, 'lock');
    if (heldHere.has(dir)) {
      throw new DiskLockedError(`cortado: the disk tier directory ${JSON.stringify(dir)} is already open in this process (close() the other DiskTier first)`, dir, process.pid);
    }
    const me = `${process.pid} ${startTime(process.pid)}\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      // The content is written to a private file first and then hard-linked into place
      // (link fails with EEXIST atomically), so the lock file is never seen empty.
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        const fh = await open(tmp, 'w', 0o644);
        try {
          await fh.writeFile(me);
        } finally {
          await fh.close();
        }
        try {
          await link(tmp, file);
        } finally {
          await unlink(tmp).catch(() => {});
        }
        heldHere.add(dir);
        return new DirLock(dir, file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          throw new DiskPathError(`cortado: cannot create the lock file in ${JSON.stringify(dir)} (${code ?? (e as Error).message}): the disk tier needs a writable directory`, dir, e);
        }
      }
      let text = '';
      try {
        text = await readFile(file, 'latin1');
      } catch {
        continue; // removed meanwhile: try again
      }
      const [pidText = '', start = ''] = text.trim().split(' ');
      const pid = Number(pidText);
      // A lock with our pid but not in heldHere was left by this process's earlier life
      // (impossible unless a pid was recycled across a crash): stale, like a dead one.
      if (pid !== process.pid && alive(pid, start)) {
        throw new DiskLockedError(`cortado: the disk tier directory ${JSON.stringify(dir)} is locked by process ${pid}; two processes cannot share one directory`, dir, pid);
      }
      const aside = `${file}.stale.${process.pid}`;
      try {
        await rename(file, aside);
        await unlink(aside).catch(() => {});
      } catch {
        // Another process broke it first; loop and compete for the link.
      }
    }
    throw new DiskLockedError(`cortado: could not take the lock of ${JSON.stringify(dir)} (other processes keep taking it)`, dir, 0);
  }

  async release(): Promise<void> {
    heldHere.delete(this.dir);
    await unlink(this.file).catch(() => {});
  }
}
