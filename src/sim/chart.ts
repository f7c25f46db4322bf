/**
 * The hit-ratio chart: one panel per trace, hit ratio against cache size, one line per policy
 * (the offline optimum dashed), as inline SVG in a self-contained HTML file.
 *
 * Rendering uses vega-lite (spec -> vega) and vega's headless SVG renderer. They are optional
 * peer dependencies of the CLI, loaded only when a chart is asked for, so the cache library
 * itself never depends on them; without them the CLI says how to install them or to pass
 * --no-chart.
 */
import type { TraceResult } from './run.js';
import { humanSize, policyLabel } from './report.js';

interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void };
}
interface VegaLiteModule {
  compile(spec: unknown): { spec: unknown };
}

/** The chart cannot be drawn because vega / vega-lite are not installed. */
export class ChartUnavailableError extends Error {
  readonly code = 'ERR_CORTADO_CHART';
  constructor(cause: unknown) {
    super('writing the chart needs the optional packages vega and vega-lite: run `npm install vega vega-lite`, or pass --no-chart', { cause });
    this.name = 'ChartUnavailableError';
  }
}

async function load(): Promise<{ vega: VegaModule; vl: VegaLiteModule }> {
  // Specifiers in variables: the compiler does not tie the build to these optional packages.
  const vegaName = 'vega';
  const vlName = 'vega-lite';
  try {
    const vega = (await import(vegaName)) as VegaModule;
    const vl = (await import(vlName)) as VegaLiteModule;
    return { vega, vl };
  } catch (e) {
    throw new ChartUnavailableError(e);
  }
}

/** Throw ChartUnavailableError now if vega / vega-lite cannot be loaded. */
export async function checkChartDeps(): Promise<void> {
  await load();
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A fixed colour per policy, so a policy looks the same in every panel and every run, and
 * related policies are told apart at a glance (W-TinyLFU red, TinyLFU purple; the Tableau-10
 * hues, far apart in hue and lightness). Policies without one take the remaining hues in
 * turn; the offline rows are black and greys (and dashed).
 */
export const POLICY_COLOURS: Readonly<Record<string, string>> = {
  wtinylfu: '#d62728',
  tinylfu: '#9467bd',
  lru: '#1f77b4',
  sieve: '#2ca02c',
  s3fifo: '#ff7f0e',
  lhd: '#8c564b',
  belady: '#000000',
  'belady-size': '#6f6f6f',
  'belady-admit-all': '#a8a8a8',
};
const SPARE_COLOURS = ['#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#637939'];
const SPARE_OFFLINE = ['#444444', '#8f8f8f', '#c4c4c4'];

/** The colours of `policies` in order, given which of them are offline. */
export function policyColours(policies: readonly string[], offline: ReadonlySet<string>): string[] {
  let on = 0;
  let off = 0;
  return policies.map((p) => POLICY_COLOURS[p] ?? (offline.has(p) ? SPARE_OFFLINE[off++ % SPARE_OFFLINE.length]! : SPARE_COLOURS[on++ % SPARE_COLOURS.length]!));
}

/**
 * A vega expression that formats a capacity as the tables do (humanSize): binary units with
 * a B suffix in bytes mode (1.9MiB), decimal k/M/G in count mode (1.2k).
 */
function sizeLabelExpr(bytes: boolean): string {
  const base = bytes ? 1024 : 1000;
  const units = bytes ? ['B', 'KiB', 'MiB', 'GiB', 'TiB'] : ['', 'k', 'M', 'G', 'T'];
  const scaled = (k: number): string => {
    const d = `(datum.value / ${base ** k})`;
    return `(${d} >= 100 ? format(${d}, '.0f') : format(${d}, '.1f')) + '${units[k]}'`;
  };
  // From the largest unit down: the first that the value reaches.
  const tests: string[] = [];
  for (let k = units.length - 1; k >= 1; k--) tests.push(`datum.value >= ${base ** k} ? ${scaled(k)} : `);
  return tests.join('') + `format(datum.value, '.0f') + '${units[0]}'`;
}

/** The vega-lite spec of one trace's panel. */
export function panelSpec(r: TraceResult): Record<string, unknown> {
  const bytes = r.mode === 'bytes';
  const policies: string[] = [];
  for (const row of r.rows) if (!policies.includes(row.policy)) policies.push(row.policy);
  const offline = new Set(r.rows.filter((x) => x.offline).map((x) => x.policy));
  const labels = policies.map(policyLabel);
  const capacities = [...new Set(r.rows.map((x) => x.capacity))].sort((a, b) => a - b);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: r.trace,
      subtitle: [
        `${r.description} (${r.requests.toLocaleString('en-US')} requests, ${r.mode} mode)`,
        bytes ? 'dashed black/grey: offline references (with sizes, no optimum is known)' : 'dashed black: the offline optimum (upper bound)',
      ],
      anchor: 'start',
    },
    width: 640,
    height: 360,
    background: 'white',
    data: {
      values: r.rows.map((row) => ({
        policy: policyLabel(row.policy),
        size: humanSize(row.capacity, bytes),
        kind: row.offline ? 'offline optimum' : 'online policy',
        capacity: row.capacity,
        hit: Math.round(row.hitRatio * 1e6) / 1e4,
      })),
    },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'capacity',
        type: 'quantitative',
        scale: { type: 'log', nice: false, padding: 12 },
        title: bytes ? 'cache size (bytes, log scale)' : 'cache size (entries, log scale)',
        // Ticks at the simulated sizes, labelled as the table heads them.
        axis: { values: capacities, labelExpr: sizeLabelExpr(bytes), labelOverlap: 'greedy' },
      },
      y: { field: 'hit', type: 'quantitative', title: 'hit ratio (%)', scale: { zero: true } },
      color: { field: 'policy', type: 'nominal', sort: labels, title: 'policy', scale: { domain: labels, range: policyColours(policies, offline) } },
      strokeDash: {
        field: 'kind',
        type: 'nominal',
        legend: null,
        scale: { domain: ['online policy', 'offline optimum'], range: [[1, 0], [6, 4]] },
      },
      tooltip: [
        { field: 'policy', type: 'nominal' },
        { field: 'size', type: 'nominal', title: bytes ? 'cache size (bytes)' : 'cache size (entries)' },
        { field: 'hit', type: 'quantitative', title: 'hit ratio (%)' },
      ],
    },
    config: { font: 'sans-serif', legend: { orient: 'right' } },
  };
}

/** Render one panel to an SVG string. */
export async function renderSvg(r: TraceResult): Promise<string> {
  const { vega, vl } = await load();
  const compiled = vl.compile(panelSpec(r)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function dataTable(r: TraceResult): string {
  const bytes = r.mode === 'bytes';
  const caps = [...new Set(r.rows.map((x) => x.capacity))].sort((a, b) => a - b);
  const policies: string[] = [];
  for (const row of r.rows) if (!policies.includes(row.policy)) policies.push(row.policy);
  const head = caps.map((c) => `<th>${escapeHtml(humanSize(c, bytes))}</th>`).join('');
  const body = policies
    .map((p) => {
      const cells = caps
        .map((c) => {
          const row = r.rows.find((x) => x.policy === p && x.capacity === c);
          return `<td>${row === undefined ? '-' : (row.hitRatio * 100).toFixed(2)}</td>`;
        })
        .join('');
      return `<tr><th>${escapeHtml(policyLabel(p))}</th>${cells}</tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th>hit ratio %</th>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** The whole HTML page: a panel and a data table per trace. */
export async function renderHtml(results: readonly TraceResult[], title: string, footer: string): Promise<string> {
  const panels: string[] = [];
  for (const r of results) {
    const svg = await renderSvg(r);
    panels.push(`<section>\n${svg}\n${dataTable(r)}\n</section>`);
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
section { margin-bottom: 3em; }
table { border-collapse: collapse; font-size: 13px; margin-top: 0.5em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
tbody th { text-align: left; }
footer { color: #666; font-size: 12px; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${panels.join('\n')}
<footer>${escapeHtml(footer)}</footer>
</body>
</html>
`;
}
