/** `cortado sim` polish (issue #16, item 7): progress, --version, tables, chart colours and axes, where the output went. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main, panelSpec, formatTable, type TraceResult } from '#sim';

const dir = mkdtempSync(join(tmpdir(), 'cortado-sim-polish-'));
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** Run the bin in a child (stdout and stderr are pipes, not terminals); resolves on exit. */
function bin(args: string[], cwd = dir): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => void (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => void (err += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** A key,size trace: a loop of 40 keys (sizes 100..3,900 bytes) with a hot key between each. */
function sizedTrace(): string {
  const lines: string[] = [];
  for (let r = 0; r < 30; r++) for (let k = 0; k < 40; k++) lines.push(`${k},${100 * (1 + (k % 39))}`, 'hot,500');
  const p = join(dir, 'sized.csv');
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

const QUICK = ['--policies', 'lru,wtinylfu', '--sizes', '1%,5%', '--no-optimum', '--no-chart'];

describe('--version', () => {
  for (const args of [['--version'], ['-V'], ['sim', '--version'], ['sim', '-V']]) {
    test(`cortado ${args.join(' ')}`, { timeout: 30_000 }, async () => {
      const r = await bin(args);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, `cortado ${pkg.version}\n`);
    });
  }
  test('the help lists it', { timeout: 30_000 }, async () => {
    assert.match((await bin(['sim', '--help'])).out, /-V, --version/);
    assert.match((await bin(['--help'])).out, /--version/);
  });
});

describe('progress', () => {
  test('stderr not a terminal: a status line per tenth of the work, in order, ending at 100%', { timeout: 60_000 }, async () => {
    const r = await bin(['sim', ...QUICK]);
    assert.equal(r.code, 0, r.err);
    const pcts = [...r.err.matchAll(/^cortado sim: (\d+)% \(([^)]*)\)$/gm)].map((m) => Number(m[1]));
    assert.ok(pcts.length >= 8, `status lines: ${JSON.stringify(r.err)}`);
    for (let i = 1; i < pcts.length; i++) assert.ok(pcts[i]! > pcts[i - 1]!, `increasing: ${pcts.join(',')}`);
    assert.ok(pcts.every((p) => p % 10 === 0));
    assert.equal(pcts.at(-1), 100);
    assert.match(r.err, /cortado sim: \d+% \(zipf, 1 of 4/);
    assert.match(r.err, /cortado sim: \d+% \(shift, 4 of 4/);
    assert.doesNotMatch(r.out, /cortado sim: \d+%/, 'progress stays off stdout');
    const quiet = await bin(['sim', ...QUICK, '--no-progress']);
    assert.doesNotMatch(quiet.err, /%/);
    assert.equal(quiet.out, r.out);
  });

  test('the bar follows the replay: many small steps over the whole run, ending at its total', { timeout: 60_000 }, async () => {
    const values: number[] = [];
    let total = 0;
    let stopped = false;
    const bar = {
      start: (t: number, v: number) => {
        total = t;
        values.push(v);
      },
      update: (v: number) => void values.push(v),
      stop: () => void (stopped = true),
    };
    const code = await main(['--policies', 'lru,sieve', '--sizes', '1%,5%', '--no-chart'], {
      out: () => {},
      err: () => {},
      errIsTTY: true,
      progressBar: async () => bar,
    });
    assert.equal(code, 0);
    assert.ok(total > 0);
    assert.ok(stopped);
    // The four workloads are 150,000 to 200,000 requests each, in batches of 65,536: at least
    // three updates per pass, two passes each (the optimum needs next uses).
    assert.ok(values.length >= 20, `${values.length} updates`);
    for (let i = 1; i < values.length; i++) assert.ok(values[i]! >= values[i - 1]!, 'never goes back');
    assert.equal(values.at(-1), total);
    const steps = values.slice(1).map((v, i) => v - values[i]!);
    assert.ok(Math.max(...steps) <= 0.2 * total, `largest step ${Math.max(...steps)} of ${total}`);
  });

  test('a terminal without cli-progress: one status line, redrawn in place and cleared at the end', { timeout: 60_000 }, async () => {
    let err = '';
    const code = await main(['--policies', 'lru', '--sizes', '1%', '--no-optimum', '--no-chart'], {
      out: () => {},
      err: (s) => void (err += s),
      errIsTTY: true,
      progressBar: async () => null,
    });
    assert.equal(code, 0);
    const draws = err.split('\r').filter((s) => s.startsWith('cortado sim: '));
    assert.ok(draws.length >= 20, `${draws.length} redraws`);
    assert.ok(!err.includes('\n'), 'no new lines: the status line is redrawn in place');
    assert.match(err, /cortado sim: 100%/);
    assert.match(err, /\r *\r$/, 'cleared at the end');
  });
});

describe('tables', () => {
  test('fit 100 columns, hit% only, a legend that explains every column and mark', { timeout: 60_000 }, async () => {
    const count = await bin(['sim', '--no-chart', '--no-progress', '--sizes', '1%,2%,5%,10%,20%,40%']);
    assert.equal(count.code, 0, count.err);
    const bytes = await bin(['sim', '--no-chart', '--no-progress', '--bytes', '--sizes', '1%,5%,10%,25%,50%', sizedTrace()]);
    assert.equal(bytes.code, 0, bytes.err);
    for (const [name, out, limit] of [['count', count.out, 80], ['bytes', bytes.out, 100]] as const) {
      for (const line of out.split('\n')) {
        // The first line of a table repeats the workload's description, which is not a column.
        if (/^\S+: /.test(line)) continue;
        assert.ok(line.length <= limit, `${name}: ${line.length} columns: ${line}`);
      }
      assert.doesNotMatch(out, /(^|\s)miss%/m, `${name}: no separate miss% column`);
      assert.match(out, /^ {2}hit%: requests that hit/m);
      assert.match(out, /^ {2}\*: the best online policy/m);
      assert.match(out, /^wtinylfu \(default\) /m, `${name}: the default policy is marked`);
    }
    assert.match(count.out, /^ {2}belady: the offline optimum/m);
    assert.match(bytes.out, /^\s+hit%\s+bmiss%/m);
    assert.match(bytes.out, /^ {2}bmiss%: byte miss ratio/m);
    assert.match(bytes.out, /^ {2}belady-size: evicts/m);
    assert.match(bytes.out, /^ {2}belady: .*ignoring sizes/m);
  });
});

/** sRGB distance between two #rrggbb colours. */
function distance(a: string, b: string): number {
  const rgb = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const [x, y] = [rgb(a), rgb(b)];
  return Math.hypot(x[0]! - y[0]!, x[1]! - y[1]!, x[2]! - y[2]!);
}

describe('chart', () => {
  const result = (mode: 'count' | 'bytes'): TraceResult => {
    const policies = ['lru', 'sieve', 's3fifo', 'wtinylfu', 'tinylfu', 'lhd'];
    const rows = [];
    for (const [i, p] of [...policies, 'belady'].entries()) {
      for (const capacity of mode === 'bytes' ? [2_000_000, 20_000_000] : [1_234, 12_340]) {
        rows.push({ policy: p, offline: p === 'belady', size: String(capacity), capacity, hits: i, misses: 100 - i, hitRatio: i / 100, missRatio: 1 - i / 100 });
      }
    }
    return { trace: 't', description: 'd', format: 'text', mode, requests: 100, uniqueKeys: 10, rows };
  };
  test('a distinct colour per policy (W-TinyLFU and TinyLFU far apart), the default policy marked', () => {
    const spec = panelSpec(result('count')) as { encoding: { color: { scale: { domain: string[]; range: string[] } } } };
    const { domain, range } = spec.encoding.color.scale;
    assert.deepEqual(domain, ['lru', 'sieve', 's3fifo', 'wtinylfu (default)', 'tinylfu', 'lhd', 'belady']);
    const colour = (label: string) => range[domain.indexOf(label)]!;
    assert.ok(distance(colour('wtinylfu (default)'), colour('tinylfu')) > 150, `${colour('wtinylfu (default)')} vs ${colour('tinylfu')}`);
    for (let i = 0; i < domain.length; i++) {
      for (let j = i + 1; j < domain.length; j++) assert.ok(distance(range[i]!, range[j]!) > 90, `${domain[i]} ${range[i]} vs ${domain[j]} ${range[j]}`);
    }
    // The same policy keeps its colour whatever else is in the panel.
    const alone = panelSpec({ ...result('count'), rows: result('count').rows.filter((r) => r.policy === 'tinylfu') }) as typeof spec;
    assert.equal(alone.encoding.color.scale.range[0], colour('tinylfu'));
  });

  test('byte axes are labelled as the tables head their columns (MiB, not "2M"), the path printed', { timeout: 60_000 }, async () => {
    const trace = sizedTrace();
    mkdirSync(join(dir, 'run'), { recursive: true });
    const r = await bin(['sim', '--bytes', '--no-progress', '--policies', 'lru,wtinylfu,tinylfu', '--sizes', '10%,50%', '--chart', 'out/chart.html', trace], join(dir, 'run'));
    assert.equal(r.code, 0, r.err);
    const path = join(dir, 'run', 'out', 'chart.html');
    assert.ok(r.err.includes(`chart written to ${path}\n`), r.err);
    const html = readFileSync(path, 'utf8');
    const texts = [...html.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    // The column heads of the table, e.g. "12.4KiB".
    const heads = r.out.split('\n').find((l) => l.startsWith('bytes '))!.trim().split(/\s+/).slice(1);
    assert.equal(heads.length, 2);
    for (const h of heads) {
      assert.match(h, /^[\d.]+(B|KiB|MiB)$/);
      assert.ok(texts.includes(h), `axis label ${h} in ${JSON.stringify(texts)}`);
    }
    assert.ok(!texts.some((t) => /^[\d.]+[kMG]$/.test(t!)), 'no SI-style byte labels');
    assert.ok(texts.includes('wtinylfu (default)'));
    // In count mode the labels are the table's too.
    const table = formatTable(result('count'));
    assert.match(table, /^entries\s+1\.2k\s+12\.3k$/m);
  });
});
