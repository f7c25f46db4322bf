/**
 * `cortado sim`: argument handling and output for the simulator (the `bin` calls `main`).
 *
 * Output discipline: everything that can be checked before the replay is checked first (the
 * arguments, every trace's format, the chart's packages and whether its path can be written),
 * so a long run is not thrown away at the end for a typo. Results are buffered until every
 * trace has been replayed, so a run that fails half-way prints nothing on stdout that could
 * pass for a result; if only the chart cannot be written after all, the results are still
 * printed and the exit code says it. Errors go to stderr with a non-zero exit code (1: a
 * trace or file problem, 2: a usage error). Progress goes to stderr (see progress.ts).
 */
import { parseArgs } from 'node:util';
import { accessSync, constants as fsConstants, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { simulate, simulationWork, fileSource, syntheticSources, knownPolicies, type SimOptions, type SizeSpec, type Source, type TraceResult } from './run.js';
import { barProgress, lineProgress, loadCliProgressBar, type Bar, type Progress } from './progress.js';
import { inspectTrace, TraceError, TRACE_FORMATS, type TraceFormat } from './trace.js';
import { formatTable, toJson } from './report.js';
import { renderHtml, checkChartDeps, ChartUnavailableError } from './chart.js';
import { DEFAULT_SEED } from './synthetic.js';

/** Sizes used when none are given: the reference's percentages of unique keys. */
export const DEFAULT_TRACE_SIZES = '0.1%,1%,5%,10%,25%';
/** Sizes for the built-in workloads (their working sets are a few thousand keys). */
export const DEFAULT_SYNTHETIC_SIZES = '1%,2%,5%,10%,20%,40%';
export const DEFAULT_CHART = 'sim-out/hit-ratio.html';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (the progress bar shows only then). */
  errIsTTY: boolean;
  /**
   * Makes the progress bar on a terminal (default: cli-progress on process.stderr); null:
   * not available, and a status line is drawn instead.
   */
  progressBar?: (() => Promise<Bar | null>) | undefined;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function helpText(): string {
  const policies = knownPolicies().join(', ');
  return `Usage: cortado sim [options] [trace ...]

Replays access traces through cortado's eviction policies and prints the hit ratio of each
policy at each cache size, next to the offline optimum (Belady). With no trace, runs the
built-in synthetic workloads (Zipf, loop, scan + hot set, shifting hot set).

Traces (read as streams; gzip when the name ends in .gz):
  int32   *.trc.bin         32-bit big-endian integers, one request each
  lis     *.lis             ARC format: "start nblocks ignore reqno" per line
  oracle  *oracleGeneral*   libCacheSim oracleGeneral (24-byte records with object sizes)
  text    *.csv .txt .log   "key[,size]" per line ('#' comments; numeric keys read as numbers)
A name that says nothing is sniffed: text that looks like ARC lines is lis, other text is
text; binary data needs --format (int32 and oracle cannot be told apart reliably).

Options:
  -f, --format <name>     ${TRACE_FORMATS.join(' | ')} | auto (default auto: by name, else content)
  -p, --policies <list>   comma-separated policies, or "all" (default all: ${policies})
  -s, --sizes <list>      cache sizes, comma-separated: entries (1000), bytes with --bytes
                          (1000, 64KiB, 10MiB, 1GiB), or a percentage of the trace's unique
                          keys (unique bytes with --bytes), e.g. 1%
                          (default ${DEFAULT_TRACE_SIZES} for traces, ${DEFAULT_SYNTHETIC_SIZES} built-in)
  -b, --bytes             bound caches by bytes and weigh objects by their size (oracle and
                          key,size traces); also runs belady-size, a size-aware approximation
      --no-optimum        skip the offline optimum (Belady)
      --json              print results as JSON instead of tables
  -c, --chart <file>      write the chart (self-contained HTML with inline SVG) here
                          (default ${DEFAULT_CHART}; needs the optional packages vega, vega-lite)
      --no-chart          do not write a chart
      --no-progress       no progress on stderr
      --seed <n>          seed of the built-in workloads and of every cache's hashing (default ${DEFAULT_SEED})
  -V, --version           print the version
  -h, --help              this text

Progress goes to stderr: a bar on a terminal (with the optional package cli-progress;
without it, a status line), a line per tenth of the work otherwise; --no-progress for none.

oracleGeneral traces are checked while they are read: every object's requests must name
each other as next accesses (else the optimum would be wrong, and the run stops).

Memory: the trace is streamed; the online policies need only their caches. Counting the
distinct keys (for the report, and in a first pass for percentage sizes) keeps each distinct
key once, up to 16 million (so does the check of an oracleGeneral trace's next-access
times). The optimum needs each request's next use: oracleGeneral traces carry it; for
other formats a first pass records the key sequence as typed arrays, 8 bytes per request
(up to 12 while it is built; e.g. about 1 GB for 100 million requests); pass --no-optimum
to avoid it.

Replay: for each request, get(key); on a miss, set(key) (with the size as weight in bytes
mode). Every request counts, cold misses included, as in libCacheSim.

Exit status: 0 on success, 1 when a trace cannot be read or is malformed, 2 on a usage error.
`;
}

interface Parsed {
  traces: string[];
  format: TraceFormat | null;
  policies: string[];
  sizes: SizeSpec[];
  bytes: boolean;
  optimum: boolean;
  json: boolean;
  chart: string | null;
  progress: boolean;
  seed: number;
  help: boolean;
  version: boolean;
}

const UNITS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** Parse `--sizes`. */
export function parseSizes(text: string, bytes: boolean): SizeSpec[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p.length === 0)) throw new UsageError(`--sizes: empty entry in ${JSON.stringify(text)}`);
  return parts.map((p) => {
    const pm = /^(\d+(?:\.\d+)?)%$/.exec(p);
    if (pm !== null) {
      const v = Number(pm[1]);
      if (!(v > 0 && v <= 100)) throw new UsageError(`--sizes: ${p} is not a percentage in (0, 100]`);
      return { value: v, percent: true, label: p };
    }
    const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(p);
    if (m === null) throw new UsageError(`--sizes: ${JSON.stringify(p)} is neither a count (1000) nor a percentage (1%)`);
    const unit = m[2]!.toLowerCase();
    let mult = 1;
    if (unit !== '') {
      if (!bytes) throw new UsageError(`--sizes: ${JSON.stringify(p)} has a unit, which only makes sense with --bytes`);
      const u = UNITS[unit];
      if (u === undefined) throw new UsageError(`--sizes: unknown unit in ${JSON.stringify(p)} (use B, KiB, MiB, GiB, TiB)`);
      mult = u;
    }
    const v = Number(m[1]) * mult;
    if (!Number.isSafeInteger(v)) throw new UsageError(`--sizes: ${p} is too large (more than 2^53 - 1${unit === '' ? '' : ' bytes'})`);
    if (v < 1) throw new UsageError(`--sizes: ${p} must be at least 1`);
    if (!bytes && v > 2 ** 31 - 1) throw new UsageError(`--sizes: ${p} entries is more than a cache can hold (2^31 - 1)`);
    return { value: v, percent: false, label: p };
  });
}

/** Parse `--policies` against the registry as it is at run time. */
export function parsePolicies(text: string): string[] {
  const known = knownPolicies();
  if (text.trim() === 'all') return [...known];
  const list = text.split(',').map((s) => s.trim());
  for (const p of list) {
    if (!known.includes(p)) {
      throw new UsageError(`--policies: unknown policy ${JSON.stringify(p)}; known: ${known.join(', ')} (or "all")`);
    }
  }
  return [...new Set(list)];
}

export function parse(argv: readonly string[]): Parsed {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        format: { type: 'string', short: 'f' },
        policies: { type: 'string', short: 'p' },
        sizes: { type: 'string', short: 's' },
        bytes: { type: 'boolean', short: 'b' },
        'no-optimum': { type: 'boolean' },
        json: { type: 'boolean' },
        chart: { type: 'string', short: 'c' },
        'no-chart': { type: 'boolean' },
        'no-progress': { type: 'boolean' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help === true || values.version === true) {
    // Nothing else is looked at: `cortado sim --sizes x --help` still prints the help.
    return { ...HELP_ONLY, help: values.help === true, version: values.version === true && values.help !== true };
  }
  const bytes = values.bytes === true;
  let format: TraceFormat | null = null;
  if (values.format !== undefined && values.format !== 'auto') {
    if (!(TRACE_FORMATS as readonly string[]).includes(values.format)) {
      throw new UsageError(`--format: unknown format ${JSON.stringify(values.format)}; use ${TRACE_FORMATS.join(', ')} or auto`);
    }
    format = values.format as TraceFormat;
  }
  if (values.chart !== undefined && values['no-chart'] === true) throw new UsageError('--chart and --no-chart contradict each other');
  if (values.chart !== undefined && values.chart.trim() === '') throw new UsageError('--chart: give a file name');
  let seed = DEFAULT_SEED;
  if (values.seed !== undefined) {
    if (!/^-?\d+$/.test(values.seed) || !Number.isSafeInteger(Number(values.seed))) throw new UsageError(`--seed: ${JSON.stringify(values.seed)} is not an integer`);
    seed = Number(values.seed);
  }
  const synthetic = positionals.length === 0;
  if (synthetic && bytes) throw new UsageError('--bytes needs a trace with object sizes; the built-in workloads have none');
  if (synthetic && format !== null) throw new UsageError('--format applies to trace files; none was given');
  return {
    traces: positionals,
    format,
    policies: parsePolicies(values.policies ?? 'all'),
    sizes: parseSizes(values.sizes ?? (synthetic ? DEFAULT_SYNTHETIC_SIZES : DEFAULT_TRACE_SIZES), bytes),
    bytes,
    optimum: values['no-optimum'] !== true,
    json: values.json === true,
    chart: values['no-chart'] === true ? null : (values.chart ?? DEFAULT_CHART),
    progress: values['no-progress'] !== true,
    seed,
    help: false,
    version: false,
  };
}

const HELP_ONLY: Parsed = {
  traces: [],
  format: null,
  policies: [],
  sizes: [],
  bytes: false,
  optimum: false,
  json: false,
  chart: null,
  progress: false,
  seed: DEFAULT_SEED,
  help: true,
  version: false,
};

/**
 * Throw a UsageError now if the chart could not be written at `file` after the run: the
 * file, if it exists, must be a writable regular file; else its nearest existing ancestor
 * must be a writable directory (missing directories are made when the chart is written).
 */
export function checkChartPath(file: string): void {
  const abs = resolve(file);
  const fail = (why: string): UsageError => new UsageError(`--chart: cannot write ${file}: ${why}`);
  const stat = (p: string) => {
    try {
      return statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw fail((e as Error).message);
    }
  };
  const st = stat(abs);
  if (st !== null) {
    if (!st.isFile()) throw fail(st.isDirectory() ? 'it is a directory' : 'it is not a regular file');
    try {
      accessSync(abs, fsConstants.W_OK);
    } catch {
      throw fail('it is not writable');
    }
    return;
  }
  let dir = dirname(abs);
  for (;;) {
    const d = stat(dir);
    if (d !== null) {
      if (!d.isDirectory()) throw fail(`${dir} is not a directory`);
      try {
        accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
      } catch {
        throw fail(`the directory ${dir} is not writable`);
      }
      return;
    }
    const up = dirname(dir);
    if (up === dir) throw fail('no existing directory above it');
    dir = up;
  }
}

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The progress display for this run, or null when it is not wanted. */
async function makeProgress(io: Io, want: boolean, total: number): Promise<Progress | null> {
  if (!want) return null;
  if (io.errIsTTY) {
    const bar = await (io.progressBar ?? (() => loadCliProgressBar(process.stderr)))();
    if (bar !== null) return barProgress(bar, total);
  }
  return lineProgress(io.err, total, io.errIsTTY);
}

/** Run `cortado sim` with `argv` (the arguments after "sim"); returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let args: Parsed;
  try {
    args = parse(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`cortado sim: ${e.message}\nRun "cortado sim --help" for usage.\n`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    io.out(helpText());
    return 0;
  }
  if (args.version) {
    io.out(`cortado ${packageVersion()}\n`);
    return 0;
  }
  try {
    const sources: Source[] = [];
    if (args.traces.length === 0) sources.push(...syntheticSources(args.seed));
    else for (const t of args.traces) sources.push(fileSource(await inspectTrace(t, args.format), args.bytes));
    if (args.chart !== null) {
      // Fail now, not after the run, if vega is absent or the file cannot be written.
      await checkChartDeps();
      try {
        checkChartPath(args.chart);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        io.err(`cortado sim: ${e.message}\nPass another --chart, or --no-chart.\n`);
        return 2;
      }
    }

    const simOpts = (onProgress: SimOptions['onProgress']): SimOptions => ({
      policies: args.policies,
      sizes: args.sizes,
      bytes: args.bytes,
      optimum: args.optimum,
      seed: args.seed,
      onProgress,
    });
    const works = sources.map((src) => simulationWork(src, simOpts(undefined)).total);
    const progress = await makeProgress(io, args.progress, works.reduce((a, b) => a + b, 0));
    const results: TraceResult[] = [];
    try {
      let before = 0;
      for (let i = 0; i < sources.length; i++) {
        const src = sources[i]!;
        const label = sources.length === 1 ? src.name : `${src.name}, ${i + 1} of ${sources.length}`;
        const offset = before;
        // Each source reports against its own total; scale it onto the run's share of it.
        results.push(await simulate(src, simOpts((done, total) => progress?.update(offset + (total > 0 ? (done / total) * works[i]! : 0), label))));
        before += works[i]!;
      }
    } finally {
      progress?.stop(); // after a failure, the plain form says where it stopped
    }

    const version = packageVersion();
    let chartError: Error | null = null;
    let chartPath: string | null = null;
    if (args.chart !== null) {
      try {
        const html = await renderHtml(
          results,
          args.traces.length === 0 ? 'cortado sim: built-in workloads' : 'cortado sim: hit ratio by cache size',
          `cortado ${version}, cortado sim ${argv.join(' ')}; Node ${process.version}; ${new Date().toISOString()}`,
        );
        mkdirSync(dirname(args.chart), { recursive: true });
        writeFileSync(args.chart, html);
        chartPath = resolve(args.chart);
      } catch (e) {
        if (e instanceof ChartUnavailableError || !(e instanceof Error) || typeof (e as NodeJS.ErrnoException).syscall !== 'string') throw e;
        chartError = e;
      }
    }
    if (args.json) io.out(toJson(results, version, args.bytes) + '\n');
    else io.out(results.map(formatTable).join('\n\n') + '\n');
    if (chartError !== null) {
      io.err(`cortado sim: the results are above, but the chart could not be written: ${chartError.message}\n`);
      return 1;
    }
    if (chartPath !== null) io.err(`cortado sim: chart written to ${chartPath}\n`);
    return 0;
  } catch (e) {
    if (e instanceof TraceError || e instanceof ChartUnavailableError) {
      io.err(`cortado sim: ${e.message}\n`);
      return 1;
    }
    if (e instanceof Error && 'code' in e && typeof (e as NodeJS.ErrnoException).syscall === 'string') {
      io.err(`cortado sim: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
