/**
 * `cortado sim`: argument handling and output for the simulator (the `bin` calls `main`).
 *
 * Output discipline: results are buffered until every trace has been replayed and the chart
 * written, so a run that fails half-way prints nothing on stdout that could pass for a
 * result; errors go to stderr and set a non-zero exit code (1: a trace or file problem,
 * 2: a usage error).
 */
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { simulate, fileSource, syntheticSources, knownPolicies, type SizeSpec, type Source, type TraceResult } from './run.js';
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
      --no-progress       no progress bar (it shows only when stderr is a terminal)
      --seed <n>          seed of the built-in workloads and of every cache's hashing (default ${DEFAULT_SEED})
  -h, --help              this text

Memory: the trace is streamed; the online policies need only their caches. Counting the
distinct keys (for the report, and in a first pass for percentage sizes) keeps each distinct
key once, up to 16 million. The optimum needs each request's next use: oracleGeneral traces
carry it; for other formats a first pass records the key sequence as typed arrays, 8 bytes
per request (up to 12 while it is built; e.g. about 1 GB for 100 million requests); pass
--no-optimum to avoid it.

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
    if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`--sizes: ${p} must be at least 1`);
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
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
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
    help: values.help === true,
  };
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

interface Bar {
  start(total: number, value: number, payload: object): void;
  update(value: number, payload?: object): void;
  setTotal(total: number): void;
  stop(): void;
}

/** A cli-progress bar on stderr, or null when it is not wanted or not installed. */
async function progressBar(io: Io, want: boolean): Promise<Bar | null> {
  if (!want || !io.errIsTTY) return null;
  try {
    const name = 'cli-progress';
    const mod = (await import(name)) as { default?: unknown };
    const cp = (mod.default ?? mod) as { SingleBar: new (o: object, preset: object) => Bar; Presets: { shades_classic: object } };
    return new cp.SingleBar(
      { format: '{trace} [{bar}] {percentage}% | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: true, fps: 5 },
      cp.Presets.shades_classic,
    );
  } catch {
    return null; // optional: without cli-progress the run is simply silent
  }
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
  try {
    const sources: Source[] = [];
    if (args.traces.length === 0) sources.push(...syntheticSources(args.seed));
    else for (const t of args.traces) sources.push(fileSource(await inspectTrace(t, args.format), args.bytes));
    if (args.chart !== null) await checkChartDeps(); // fail now, not after the run, if vega is absent

    const bar = await progressBar(io, args.progress);
    const results: TraceResult[] = [];
    try {
      for (const src of sources) {
        bar?.start(1, 0, { trace: src.name });
        results.push(
          await simulate(src, {
            policies: args.policies,
            sizes: args.sizes,
            bytes: args.bytes,
            optimum: args.optimum,
            seed: args.seed,
            onProgress: bar === null ? undefined : (done, total) => {
              bar.setTotal(total);
              bar.update(done, { trace: src.name });
            },
          }),
        );
      }
    } finally {
      bar?.stop();
    }

    const version = packageVersion();
    if (args.chart !== null) {
      const html = await renderHtml(
        results,
        args.traces.length === 0 ? 'cortado sim: built-in workloads' : 'cortado sim: hit ratio by cache size',
        `cortado ${version}, cortado sim ${argv.join(' ')}; Node ${process.version}; ${new Date().toISOString()}`,
      );
      mkdirSync(dirname(args.chart), { recursive: true });
      writeFileSync(args.chart, html);
    }
    if (args.json) io.out(toJson(results, version, args.bytes) + '\n');
    else io.out(results.map(formatTable).join('\n\n') + '\n');
    if (args.chart !== null) io.err(`chart written to ${args.chart}\n`);
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
