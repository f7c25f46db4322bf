/**
 * Progress of a `cortado sim` run, on stderr, in one of three forms:
 *  - a cli-progress bar when stderr is a terminal and the optional package is installed;
 *  - one status line rewritten in place (`\r`) when stderr is a terminal without it;
 *  - plain status lines, one per tenth of the work, when stderr is not a terminal (a log, a
 *    CI job), so that a long run shows it is alive without flooding the log.
 * All three are fed the same numbers: the work done over the total work of the whole run
 * (every trace's passes, weighted by the caches each pass replays; see simulationWork), so
 * they move with the replay and the ETA is the remaining work at the rate so far.
 */

/** What main feeds: the whole run's work total, then done-so-far with the trace at hand. */
export interface Progress {
  update(done: number, trace: string): void;
  stop(): void;
}

/** The part of a cli-progress SingleBar used here. */
export interface Bar {
  start(total: number, value: number, payload: object): void;
  update(value: number, payload?: object): void;
  stop(): void;
}

/** Load cli-progress (an optional peer) and make a bar on `stream`; null when it is not installed. */
export async function loadCliProgressBar(stream: NodeJS.WritableStream): Promise<Bar | null> {
  try {
    const name = 'cli-progress'; // in a variable: the build does not tie itself to the optional package
    const mod = (await import(name)) as { default?: unknown };
    const cp = (mod.default ?? mod) as { SingleBar: new (o: object, preset: object) => Bar; Presets: { shades_classic: object } };
    return new cp.SingleBar(
      { format: 'cortado sim [{bar}] {percentage}% | {trace} | ETA {eta_formatted}', stream, hideCursor: true, clearOnComplete: true, fps: 5, etaBuffer: 50 },
      cp.Presets.shades_classic,
    );
  } catch {
    return null;
  }
}

export function barProgress(bar: Bar, total: number): Progress {
  bar.start(Math.max(1, Math.round(total)), 0, { trace: '' });
  return {
    update: (done, trace) => bar.update(Math.round(done), { trace }),
    stop: () => bar.stop(),
  };
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
}

/**
 * Status lines on `write`. On a terminal (`inPlace`): one line, redrawn at each whole
 * percent; elsewhere a line at each tenth. `now` is the clock in ms (injected for tests).
 */
export function lineProgress(write: (s: string) => void, total: number, inPlace: boolean, now: () => number = Date.now): Progress {
  const started = now();
  const step = inPlace ? 1 : 10;
  let shown = -1;
  let lastLength = 0;
  const line = (pct: number, trace: string, done: number): string => {
    const elapsed = (now() - started) / 1000;
    const eta = done > 0 && pct < 100 ? `, about ${formatSeconds((elapsed * (total - done)) / done)} left` : '';
    return `cortado sim: ${pct}% (${trace}${eta})`;
  };
  return {
    update(done, trace) {
      const pct = total <= 0 ? 100 : Math.min(100, Math.floor((100 * done) / total));
      const bucket = pct - (pct % step);
      if (bucket <= shown) return;
      shown = bucket;
      const text = line(bucket, trace, done);
      if (inPlace) {
        write('\r' + text.padEnd(lastLength));
        lastLength = text.length;
      } else {
        write(text + '\n');
      }
    },
    stop() {
      if (inPlace && lastLength > 0) write('\r' + ' '.repeat(lastLength) + '\r');
      else if (!inPlace && shown >= 0 && shown < 100) write(`cortado sim: stopped at ${shown}%\n`);
    },
  };
}
