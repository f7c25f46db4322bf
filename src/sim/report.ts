/** Text table (with its legend) and JSON document for simulation results. */
import type { Row, TraceResult } from './run.js';
import { DEFAULT_POLICY } from '../cache.js';

/** Format `x` (a ratio) as a percentage with two decimals. */
function pct(x: number): string {
  return (x * 100).toFixed(2);
}

/** Human capacity: 1234567 -> "1.2M" (bytes get a B suffix). */
export function humanSize(n: number, bytes: boolean): string {
  const units = bytes ? ['B', 'KiB', 'MiB', 'GiB', 'TiB'] : ['', 'k', 'M', 'G', 'T'];
  const base = bytes ? 1024 : 1000;
  let v = n;
  let u = 0;
  while (v >= base && u < units.length - 1) {
    v /= base;
    u++;
  }
  const s = u === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v.toFixed(1);
  return s + units[u]!;
}

function pad(s: string, w: number, left = false): string {
  return left ? s.padEnd(w) : s.padStart(w);
}

/** Distinct capacities of a result in ascending order, with their labels. */
function columns(r: TraceResult): { capacity: number; label: string }[] {
  const seen = new Map<number, string>();
  for (const row of r.rows) if (!seen.has(row.capacity)) seen.set(row.capacity, row.size);
  return [...seen].sort((a, b) => a[0] - b[0]).map(([capacity, label]) => ({ capacity, label }));
}

/** The name a policy goes by in tables and charts: the default policy says so. */
export function policyLabel(policy: string): string {
  return policy === DEFAULT_POLICY ? `${policy} (default)` : policy;
}

/** Wrap `text` to lines of at most `width` columns, each starting with `indent`. */
function wrap(text: string, width: number, indent: string, hanging = indent): string[] {
  const out: string[] = [];
  let line = indent;
  for (const word of text.split(' ')) {
    if (line.trim().length > 0 && line.length + 1 + word.length > width) {
      out.push(line);
      line = hanging + word;
    } else {
      line += (line.trim().length > 0 ? ' ' : '') + word;
    }
  }
  if (line.trim().length > 0) out.push(line);
  return out;
}

/** Columns the legend lines are wrapped to. */
const LEGEND_WIDTH = 80;

/**
 * One table per trace: a row per policy, a column per cache size (as given, then as a
 * capacity in entries or bytes) holding the hit ratio in percent, and in bytes mode the byte
 * miss ratio next to it. The best online policy at each size is marked with `*`; a legend
 * under the table says what every column and mark means. About 60 columns wide in count mode
 * and 100 in bytes mode for five sizes.
 */
export function formatTable(r: TraceResult): string {
  const bytes = r.mode === 'bytes';
  const cols = columns(r);
  const policies: string[] = [];
  for (const row of r.rows) if (!policies.includes(row.policy)) policies.push(row.policy);
  const at = new Map<string, Row>();
  for (const row of r.rows) at.set(`${row.policy}\u0000${row.capacity}`, row);
  const best = new Map<number, number>();
  for (const row of r.rows) if (!row.offline && row.hits > (best.get(row.capacity) ?? -1)) best.set(row.capacity, row.hits);

  const cw = 8; // one number: "100.00" and the best mark, with a space before it
  const colW = bytes ? 2 * cw : cw;
  const nameW = Math.max(12, ...policies.map((p) => policyLabel(p).length + 1));
  const lines: string[] = [];
  const uniq = bytes && r.uniqueBytes !== undefined && r.uniqueBytes !== null ? `, ${humanSize(r.uniqueBytes, true)} unique bytes` : '';
  const keys = r.uniqueKeys === null ? 'too many unique keys to count' : `${r.uniqueKeys.toLocaleString('en-US')} unique keys`;
  lines.push(`${r.trace}: ${r.description}`);
  lines.push(`  ${r.requests.toLocaleString('en-US')} requests, ${keys}${uniq}`);
  let h1 = pad('cache size', nameW, true);
  let h2 = pad(bytes ? 'bytes' : 'entries', nameW, true);
  let h3 = pad('', nameW, true);
  for (const c of cols) {
    h1 += pad(c.label, colW);
    h2 += pad(humanSize(c.capacity, bytes), colW);
    if (bytes) h3 += pad('hit%', cw) + pad('bmiss%', cw);
  }
  lines.push(h1, h2);
  if (bytes) lines.push(h3);
  for (const p of policies) {
    let line = pad(policyLabel(p), nameW, true);
    for (const c of cols) {
      const row = at.get(`${p}\u0000${c.capacity}`);
      if (row === undefined) {
        line += pad('-', colW);
        continue;
      }
      const mark = !row.offline && row.hits === best.get(c.capacity) ? '*' : ' ';
      line += pad(pct(row.hitRatio) + mark, cw);
      if (bytes) line += pad(pct(row.byteMissRatio ?? 0) + ' ', cw);
    }
    lines.push(line.trimEnd());
  }
  const legend: string[] = [];
  legend.push(`hit%: requests that hit, in percent of all requests (the miss ratio is 100 - hit%); every request counts, the first of each key too.`);
  if (bytes) {
    legend.push('bmiss%: byte miss ratio: the bytes of the requests that missed, in percent of the bytes of all requests (what the misses cost in traffic to the origin).');
  }
  legend.push('*: the best online policy at that size.');
  const offline = new Set(r.rows.filter((x) => x.offline).map((x) => x.policy));
  if (offline.has('belady')) {
    legend.push(
      bytes
        ? 'belady: evicts the object used farthest in the future, ignoring sizes; with sizes no optimum is known, so it is a reference, not a bound.'
        : "belady: the offline optimum (Belady's MIN, which knows the future): an upper bound for every online policy.",
    );
  }
  if (offline.has('belady-size')) {
    legend.push("belady-size: evicts, among 64 sampled objects, the one with the largest size x time to its next use (libCacheSim's BeladySize); also a reference.");
  }
  if (offline.has('belady-admit-all')) legend.push("belady-admit-all: Belady that caches every miss, as libCacheSim's does (for the parity check).");
  for (const l of legend) lines.push(...wrap(l, LEGEND_WIDTH, '  ', '    '));
  return lines.join('\n');
}

export interface SimDocument {
  tool: 'cortado sim';
  version: string;
  mode: 'count' | 'bytes';
  traces: TraceResult[];
}

export function toJson(results: TraceResult[], version: string, bytes: boolean): string {
  const doc: SimDocument = { tool: 'cortado sim', version, mode: bytes ? 'bytes' : 'count', traces: results };
  return JSON.stringify(doc, null, 2);
}
