/** Text table and JSON document for simulation results. */
import type { Row, TraceResult } from './run.js';

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

/**
 * One table per trace: a row per policy, and for each cache size the hit ratio and miss
 * ratio in percent (plus the byte miss ratio in bytes mode). The best online policy at each
 * size is marked with `*`.
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

  const sub = bytes ? ['hit%', 'miss%', 'bmiss%'] : ['hit%', 'miss%'];
  const cw = 8; // width of one sub-column
  const colW = sub.length * cw;
  const nameW = Math.max(8, ...policies.map((p) => p.length + 2));
  const lines: string[] = [];
  const uniq = bytes && r.uniqueBytes !== undefined && r.uniqueBytes !== null ? `, ${humanSize(r.uniqueBytes, true)} unique bytes` : '';
  const keys = r.uniqueKeys === null ? 'too many unique keys to count' : `${r.uniqueKeys.toLocaleString('en-US')} unique keys`;
  lines.push(`${r.trace}: ${r.description}`);
  lines.push(`  ${r.requests.toLocaleString('en-US')} requests, ${keys}${uniq}; ${bytes ? 'cache sizes in bytes' : 'cache sizes in entries'}`);
  let h1 = pad('', nameW, true);
  let h2 = pad('policy', nameW, true);
  for (const c of cols) {
    const head = c.label === String(c.capacity) ? humanSize(c.capacity, bytes) : `${c.label} ${humanSize(c.capacity, bytes)}`;
    h1 += pad(head, colW);
    h2 += sub.map((s) => pad(s, cw)).join('');
  }
  lines.push(h1, h2);
  for (const p of policies) {
    let line = pad(p, nameW, true);
    for (const c of cols) {
      const row = at.get(`${p}\u0000${c.capacity}`);
      if (row === undefined) {
        line += pad('-', colW);
        continue;
      }
      const mark = !row.offline && row.hits === best.get(c.capacity) ? '*' : ' ';
      line += pad(pct(row.hitRatio) + mark, cw) + pad(pct(row.missRatio) + ' ', cw);
      if (bytes) line += pad(pct(row.byteMissRatio ?? 0) + ' ', cw);
    }
    lines.push(line.trimEnd());
  }
  lines.push(`  * best online policy at that size${r.rows.some((x) => x.offline) ? '; belady = offline optimum (upper bound)' : ''}`);
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
