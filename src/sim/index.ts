/** The simulator's programmatic surface (used by the `cortado` bin and the repo's scripts). */
export { simulate, fileSource, workloadSource, syntheticSources, resolveSizes, knownPolicies } from './run.js';
export type { SimOptions, SizeSpec, Source, Row, TraceResult } from './run.js';
export { inspectTrace, readTrace, parseBuffer, BatchBuilder, Int32Parser, OracleParser, LisParser, TextParser, formatFromName, formatFromContent, TraceError, TRACE_FORMATS } from './trace.js';
export type { TraceBatch, TraceFormat, TraceInfo, TraceKey } from './trace.js';
export { Belady, BeladySize, nextUses } from './belady.js';
export { WORKLOADS, DEFAULT_SEED, prng, zipf } from './synthetic.js';
export { formatTable, toJson, humanSize } from './report.js';
export { renderHtml, renderSvg, panelSpec, ChartUnavailableError } from './chart.js';
export { parity, parseReference, referenceSizes, bestOnline, REFERENCE_TRACE_FILES, REFERENCE_NAMES } from './reference.js';
export type { RefRow, ParityCheck } from './reference.js';
export { main, parse, parseSizes, parsePolicies, helpText, UsageError } from './main.js';
