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
import { humanSize } from './report.js';

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

/** Tableau-10 colours for online policies; black and grey for the offline rows. */
const ONLINE_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const OFFLINE_COLOURS = ['#000000', '#777777', '#aaaaaa'];

function colours(r: TraceResult): string[] {
  const out: string[] = [];
  let on = 0;
  let off = 0;
  const seen = new Set<string>();
  for (const row of r.rows) {
    if (seen.has(row.policy)) continue;
    seen.add(row.policy);
    out.push(row.offline ? OFFLINE_COLOURS[off++ % OFFLINE_COLOURS.length]! : ONLINE_COLOURS[on++ % ONLINE_COLOURS.length]!);
  }
  return out;
}

/** The vega-lite spec of one trace's panel. */
export function panelSpec(r: TraceResult): Record<string, unknown> {
  const bytes = r.mode === 'bytes';
  const policies: string[] = [];
  for (const row of r.rows) if (!policies.includes(row.policy)) policies.push(row.policy);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: r.trace,
      subtitle: [
        `${r.description} (${r.requests.toLocaleString('en-US')} requests, ${r.mode} mode)`,
        'dashed black/grey: offline optimum (upper bound)',
      ],
      anchor: 'start',
    },
    width: 640,
    height: 360,
    background: 'white',
    data: {
      values: r.rows.map((row) => ({
        policy: row.policy,
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
        axis: { format: '~s' },
      },
      y: { field: 'hit', type: 'quantitative', title: 'hit ratio (%)', scale: { zero: true } },
      color: { field: 'policy', type: 'nominal', sort: policies, title: 'policy', scale: { domain: policies, range: colours(r) } },
      strokeDash: {
        field: 'kind',
        type: 'nominal',
        legend: null,
        scale: { domain: ['online policy', 'offline optimum'], range: [[1, 0], [6, 4]] },
      },
      tooltip: [
        { field: 'policy', type: 'nominal' },
        { field: 'capacity', type: 'quantitative' },
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
      return `<tr><th>${escapeHtml(p)}</th>${cells}</tr>`;
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
