/** `cortado sim`: argument errors, exit codes, JSON shape, bytes mode, chart, and the bin itself. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main, knownPolicies } from '#sim';

const dir = mkdtempSync(join(tmpdir(), 'cortado-sim-cli-'));
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s), errIsTTY: false });
  return { code, out, err };
}

/** A small text trace: a loop of 30 keys with a hot key between each, sizes 1..4. */
function smallTrace(): string {
  const lines: string[] = [];
  for (let r = 0; r < 20; r++) for (let k = 0; k < 30; k++) lines.push(`${k},${1 + (k % 4)}`, `hot,2`);
  const p = join(dir, 'small.csv');
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

describe('usage errors: exit 2, the flag named, nothing on stdout', () => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /--bogus/],
    [['--sizes', '10,abc'], /--sizes: "abc"/],
    [['--sizes', '0%'], /--sizes: 0%/],
    [['--sizes', '10,,20'], /--sizes: empty entry/],
    [['--sizes', '5MiB', 'x.csv'], /--sizes: "5MiB" has a unit.*--bytes/],
    [['--policies', 'lru,nope'], /--policies: unknown policy "nope"/],
    [['--format', 'xml', 'x.csv'], /--format: unknown format "xml"/],
    [['--seed', '1.5'], /--seed/],
    [['--chart', 'a.html', '--no-chart'], /--chart and --no-chart/],
    [['--bytes'], /--bytes needs a trace with object sizes/],
  ];
  for (const [argv, re] of cases) {
    test(argv.join(' '), async () => {
      const r = await run(...argv);
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.match(r.err, re);
    });
  }
});

describe('trace errors: exit 1, file and place named, nothing on stdout', () => {
  test('missing file', async () => {
    const r = await run('--no-chart', join(dir, 'absent.csv'));
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /absent\.csv: cannot read/);
  });
  test('malformed line after good ones', async () => {
    const p = join(dir, 'bad.csv');
    writeFileSync(p, 'a,1\nb,2\nc,oops\n');
    const r = await run('--no-chart', '--bytes', p);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /bad\.csv: line 3/);
  });
  test('the second trace is bad: the first one is not printed either', async () => {
    const good = smallTrace();
    const bad = join(dir, 'bad2.trc.bin');
    writeFileSync(bad, Buffer.from([0, 0, 0, 1, 0, 0]));
    const r = await run('--no-chart', good, bad);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /bad2\.trc\.bin: truncated int32 record at byte offset 4/);
  });
  test('an empty trace', async () => {
    const p = join(dir, 'empty.csv');
    writeFileSync(p, 'key,size\n# nothing here\n');
    const r = await run('--no-chart', p);
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /empty\.csv: no requests/);
  });
  test('--bytes on a format without sizes', async () => {
    const p = join(dir, 'k.trc.bin');
    writeFileSync(p, Buffer.alloc(8));
    const r = await run('--no-chart', '--bytes', p);
    assert.equal(r.code, 1);
    assert.match(r.err, /--bytes needs object sizes/);
  });
});

test('--json: one document with a row per policy x size and the optimum', async () => {
  const p = smallTrace();
  const r = await run('--no-chart', '--json', '--sizes', '10%,50%,10', p);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.tool, 'cortado sim');
  assert.equal(doc.mode, 'count');
  assert.equal(doc.traces.length, 1);
  const t = doc.traces[0];
  assert.equal(t.trace, 'small');
  assert.equal(t.format, 'text');
  assert.equal(t.requests, 1200);
  assert.equal(t.uniqueKeys, 31);
  const policies = [...knownPolicies(), 'belady'];
  // 10% of 31 keys = 3, 50% = 16 (rounded), and 10 given directly.
  assert.deepEqual([...new Set(t.rows.map((x: { capacity: number }) => x.capacity))].sort((a, b) => (a as number) - (b as number)), [3, 10, 16]);
  assert.equal(t.rows.length, policies.length * 3);
  for (const row of t.rows) {
    assert.ok(policies.includes(row.policy), row.policy);
    assert.equal(row.hits + row.misses, 1200);
    assert.equal(row.hitRatio, row.hits / 1200);
    assert.equal(row.missRatio, row.misses / 1200);
    assert.equal(typeof row.size, 'string');
    assert.equal(row.offline, row.policy === 'belady');
    assert.equal(row.byteMissRatio, undefined);
  }
  for (const cap of [3, 10, 16]) {
    const at = t.rows.filter((x: { capacity: number }) => x.capacity === cap);
    const opt = at.find((x: { policy: string }) => x.policy === 'belady');
    for (const row of at) assert.ok(opt.hits >= row.hits, `belady >= ${row.policy} at ${cap}`);
  }
  // The loop of 30 keys defeats LRU at 16 entries: only the hot key hits.
  const lru = t.rows.find((x: { policy: string; capacity: number }) => x.policy === 'lru' && x.capacity === 16);
  assert.equal(lru.hits, 599);
});

test('--bytes: byte miss ratio and the size-aware optimum', async () => {
  const p = smallTrace();
  const r = await run('--no-chart', '--json', '--bytes', '--policies', 'lru', '--sizes', '20,25%', p);
  assert.equal(r.code, 0, r.err);
  const t = JSON.parse(r.out).traces[0];
  assert.equal(t.mode, 'bytes');
  // Keys 0..29 weigh 1 + k % 4 (8x1 + 8x2 + 7x3 + 7x4 = 73), plus 2 for the hot key.
  assert.equal(t.uniqueBytes, 75);
  assert.deepEqual([...new Set(t.rows.map((x: { policy: string }) => x.policy))], ['lru', 'belady', 'belady-size']);
  for (const row of t.rows) {
    assert.ok(row.byteMissRatio > 0 && row.byteMissRatio <= 1);
    assert.ok(row.capacity === 20 || row.capacity === 19); // 25% of 75 unique bytes rounds to 19
  }
});

test('table output names policies and sizes; --policies subset', async () => {
  const r = await run('--no-chart', '--policies', 'lru,sieve', '--sizes', '5,10', '--no-optimum', smallTrace());
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /small: /);
  assert.match(r.out, /^lru\s/m);
  assert.match(r.out, /^sieve\s/m);
  assert.doesNotMatch(r.out, /^belady/m);
  assert.match(r.out, /hit%\s+miss%/);
});

test('no trace: the built-in workloads (a quick subset)', async () => {
  const r = await run('--no-chart', '--json', '--policies', 'lru', '--sizes', '1%', '--no-optimum');
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.deepEqual(doc.traces.map((t: { trace: string }) => t.trace), ['zipf', 'loop', 'scan+hot', 'shift']);
  const again = JSON.parse((await run('--no-chart', '--json', '--policies', 'lru', '--sizes', '1%', '--no-optimum')).out);
  assert.deepEqual(again, doc, 'seeded: the same numbers every run');
});

test('--chart writes a self-contained HTML page with an SVG per trace', async () => {
  const out = join(dir, 'sub', 'chart.html');
  const r = await run('--chart', out, '--policies', 'lru,s3fifo', '--sizes', '5,10,20', smallTrace());
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(out));
  const html = readFileSync(out, 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.equal(html.match(/<svg/g)?.length, 1);
  assert.match(html, /belady/);
  assert.doesNotMatch(html, /<script/);
  assert.match(r.err, /chart written to/);
});

test('the bin: --help, exit codes', () => {
  const help = spawnSync(process.execPath, [cli, 'sim', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: cortado sim/);
  assert.match(help.stdout, /8 bytes\s+per request/);
  const bad = spawnSync(process.execPath, [cli, 'sim', '--sizes', 'x'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /--sizes/);
  const none = spawnSync(process.execPath, [cli], { encoding: 'utf8' });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /Usage: cortado <command>/);
});
