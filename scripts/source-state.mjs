// The commit a measurement's code came from: shared by the scripts that write figures into
// docs (scripts/hit-ratio.mjs, bench/app-cost.mjs), so a rerun says what it measured.
import { execFileSync } from 'node:child_process';

/** `commit <short>`, plus the files under src/ that differ from it; null outside a git checkout. */
export function sourceState(root) {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).map((l) => l.slice(3));
    return dirty.length === 0 ? `commit ${head}` : `commit ${head} plus uncommitted changes to ${dirty.join(', ')}`;
  } catch {
    return null;
  }
}
